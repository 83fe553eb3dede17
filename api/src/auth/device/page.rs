//! `GET /device`: where a person approves a device (RFC 8628 §3.3), without JavaScript.
//! Signed out, it offers password, GitHub, Google or guest sign-in first; signed in, it asks
//! for the code (or takes `?user_code=` from `verification_uri_complete`), shows which client
//! asks, when and from where (§5.4), and approves or denies. Every form carries the CSRF token.

use std::net::IpAddr;

use askama::Template;
use axum::{
    Form,
    extract::{Query, State, rejection::FormRejection},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use chrono::Utc;
use serde::Deserialize;
use sluice_shared::dto::TokensOut;

use super::{
    approve::decide,
    guesses,
    store::{Lookup, Pending},
    user_code,
};
use crate::client_ip::ClientIp;
use crate::{
    auth::{
        AuthUser, cookies,
        extractor::{Credential, from_cookie},
        guest::sign_in_guest,
        oauth::provider::Provider,
        password::{LoginIn, RegisterIn, login_user, register_user},
        sessions::{browser_cookies, rotate},
    },
    error::ApiError,
    html::{Page, assets_version, query_value},
    state::AppState,
};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeviceQuery {
    /// Filled in from `verification_uri_complete`.
    user_code: Option<String>,
}

/// The page where a person approves a device (RFC 8628 §3.3's verification URI).
#[utoipa::path(get, path = "/device", tag = "auth", security(()), params(DeviceQuery),
    responses((status = 200, content_type = "text/html", description = "The approval page")))]
pub async fn show(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    Query(query): Query<DeviceQuery>,
) -> Page {
    let typed = query.user_code.unwrap_or_default();
    let (user, session_cookies) = browser_user(&state, &headers, client).await;
    // Signed in: the session's own token; signed out: a double-submit one for the sign-in form.
    let (csrf, csrf_cookie) = match user.as_ref().and_then(AuthUser::session_id) {
        Some(session) => (cookies::csrf_for(&state.config, session), None),
        None => cookies::ensure_csrf(&state.config, &headers),
    };
    let page = match user {
        None => sign_in_form(&state, &csrf, &typed, None),
        Some(_) if typed.trim().is_empty() => code_form(&typed, None),
        Some(_) => match guesses::lookup(&state, client, &typed).await {
            Ok((Some(code), Lookup::Pending(pending))) => confirm(&state, &csrf, &code, &pending),
            Ok((_, Lookup::Decided)) => code_form(&typed, Some("That code was already used.")),
            Ok(_) => code_form(
                &typed,
                Some("That code is not valid or has expired. Check your device."),
            )
            .with_status(StatusCode::NOT_FOUND),
            Err(e) => Page::from(e),
        },
    };
    page.with_cookies(csrf_cookie).with_cookies(session_cookies)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DecisionForm {
    csrf_token: Option<String>,
    user_code: Option<String>,
    decision: Option<String>,
}

/// The approval page's Approve or Deny button (session cookie and CSRF token).
#[utoipa::path(post, path = "/device", tag = "auth", security(("session_cookie" = [])),
    request_body(content = DecisionForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, content_type = "text/html", description = "What was decided"),
        (status = 400, content_type = "text/html", description = "A wrong or expired code"),
        (status = 401, content_type = "text/html", description = "Signed out"),
        (status = 403, content_type = "text/html", description = "A missing or wrong CSRF token")))]
pub async fn decide_form(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    form: Result<Form<DecisionForm>, FormRejection>,
) -> Page {
    let Ok(Form(form)) = form else {
        return bad_form();
    };
    let Some(user) = from_cookie(&state, &headers).await else {
        return Page::message(
            StatusCode::UNAUTHORIZED,
            "Signed out",
            "Your session ended. Open the link from your device again.",
        );
    };
    let session = user.session_id().expect("cookies carry sessions");
    if !cookies::csrf_valid(&state.config, session, form.csrf_token.as_deref()) {
        return csrf_failed();
    }
    let typed = form.user_code.unwrap_or_default();
    let (approve_for, done) = match form.decision.as_deref() {
        Some("approve") => (Some(user.user_id), "Device approved"),
        Some("deny") => (None, "Device denied"),
        _ => return bad_form(),
    };
    match decide(&state, client, &typed, approve_for).await {
        Ok(()) if approve_for.is_some() => Page::message(
            StatusCode::OK,
            done,
            "You can close this page and return to your device: it is signing in.",
        ),
        Ok(()) => Page::message(
            StatusCode::OK,
            done,
            "The device was not signed in. If you did not start this, nothing else is needed.",
        ),
        Err(e) => Page::from(e),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SignInForm {
    csrf_token: Option<String>,
    user_code: Option<String>,
    action: Option<String>,
    email: Option<String>,
    password: Option<String>,
}

/// The approval page's sign-in forms: sign in, register or continue as a guest, then back to
/// the code.
#[utoipa::path(post, path = "/device/login", tag = "auth", security(()),
    request_body(content = SignInForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Signed in: back to `/device`"),
        (status = 400, content_type = "text/html", description = "The form, with what was wrong"),
        (status = 401, content_type = "text/html", description = "Invalid email or password"),
        (status = 403, content_type = "text/html", description = "A missing or wrong CSRF token")))]
pub async fn sign_in(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let form = match checked(&headers, form, |f| f.csrf_token.as_deref()) {
        Ok(form) => form,
        Err(page) => return page.into_response(),
    };
    let device = crate::auth::device(&headers, client);
    let email = form.email.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    let signed_in = match form.action.as_deref() {
        Some("guest") => sign_in_guest(&state, &device).await,
        Some("register") => {
            let input = RegisterIn {
                email,
                password,
                display_name: None,
            };
            register_user(&state, input, &device).await
        }
        _ => login_user(&state, LoginIn { email, password }, &device).await,
    };
    let typed = form.user_code.unwrap_or_default();
    match signed_in {
        Ok(tokens) => {
            let back = format!("/device?user_code={}", query_value(&typed));
            let mut response = Redirect::to(&back).into_response();
            cookies::attach(&mut response, browser_cookies(&state, &tokens));
            response
        }
        Err(ApiError::Internal(e)) => Page::from(ApiError::Internal(e)).into_response(),
        Err(e) => {
            let (csrf, _) = cookies::ensure_csrf(&state.config, &headers);
            let problem = Page::from(e);
            sign_in_form(&state, &csrf, &typed, Some(&problem.message))
                .with_status(problem.status)
                .into_response()
        }
    }
}

/// The browser's user: from its access cookie, or — when that has expired — by spending its
/// refresh cookie (returning the new cookies to set).
async fn browser_user(
    state: &AppState,
    headers: &HeaderMap,
    client: IpAddr,
) -> (Option<AuthUser>, Vec<HeaderValue>) {
    if let Some(user) = from_cookie(state, headers).await {
        return (Some(user), Vec::new());
    }
    let Some(refresh) = cookies::get(headers, cookies::REFRESH) else {
        return (None, Vec::new());
    };
    match rotate(state, refresh, &crate::auth::device(headers, client)).await {
        Ok(tokens) => {
            let user = signed_in_user(state, &tokens);
            (user, browser_cookies(state, &tokens))
        }
        Err(_) => (None, cookies::sign_out(&state.config)),
    }
}

fn signed_in_user(state: &AppState, tokens: &TokensOut) -> Option<AuthUser> {
    let claims = state.jwt.verify(&tokens.access_token)?;
    Some(AuthUser {
        user_id: claims.sub,
        credential: Credential::Session(claims.sid),
        // Not looked up: this page only approves devices, which needs no permission.
        may_chat: false,
    })
}

#[derive(Template)]
#[template(path = "device_sign_in.html")]
struct SignInPage<'a> {
    title: &'a str,
    version: &'a str,
    csrf: &'a str,
    typed: &'a str,
    /// Where a provider sign-in returns: this page, with the code (query-encoded).
    next: String,
    problem: Option<&'a str>,
    providers: Vec<Provider>,
}

fn sign_in_form(state: &AppState, csrf: &str, typed: &str, problem: Option<&str>) -> Page {
    Page::render(&SignInPage {
        title: "Sign in to connect a device",
        version: assets_version(),
        csrf,
        typed,
        next: query_value(&format!("/device?user_code={}", query_value(typed))),
        problem,
        providers: Provider::configured(&state.config).collect(),
    })
}

#[derive(Template)]
#[template(path = "device_code.html")]
struct CodePage<'a> {
    title: &'a str,
    version: &'a str,
    typed: &'a str,
    problem: Option<&'a str>,
}

fn code_form(typed: &str, problem: Option<&str>) -> Page {
    Page::render(&CodePage {
        title: "Connect a device",
        version: assets_version(),
        typed,
        problem,
    })
}

#[derive(Template)]
#[template(path = "device_confirm.html")]
struct ConfirmPage<'a> {
    title: &'a str,
    version: &'a str,
    client: &'a str,
    shown: String,
    requested: String,
    from: String,
    minutes_left: i64,
    csrf: &'a str,
    code: &'a str,
}

fn confirm(state: &AppState, csrf: &str, code: &str, pending: &Pending) -> Page {
    let client = state
        .config
        .device
        .clients
        .get(&pending.client_id)
        .map_or(pending.client_id.as_str(), |c| c.name.as_str());
    let from = match (&pending.requester_ip, &pending.requester_agent) {
        (Some(ip), Some(agent)) => format!("{ip} ({agent})"),
        (Some(ip), None) => ip.clone(),
        _ => "unknown".into(),
    };
    Page::render(&ConfirmPage {
        title: &format!("Sign in {client}?"),
        version: assets_version(),
        client,
        shown: user_code::display(code),
        requested: pending.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        from,
        minutes_left: (pending.expires_at - Utc::now()).num_minutes().max(0),
        csrf,
        code,
    })
}

/// A signed-out form, if it was complete and carries this browser's CSRF token.
fn checked<T>(
    headers: &HeaderMap,
    form: Result<Form<T>, FormRejection>,
    csrf_token: impl Fn(&T) -> Option<&str>,
) -> Result<T, Page> {
    let Ok(Form(form)) = form else {
        return Err(bad_form());
    };
    if !cookies::csrf_matches(headers, csrf_token(&form)) {
        return Err(csrf_failed());
    }
    Ok(form)
}

fn bad_form() -> Page {
    Page::message(
        StatusCode::BAD_REQUEST,
        "Something is not right",
        "The form was incomplete. Go back and try again.",
    )
}

fn csrf_failed() -> Page {
    Page::message(
        StatusCode::FORBIDDEN,
        "Form expired",
        "This form did not come from this browser's Sluice page. Reload the page and try again.",
    )
}
