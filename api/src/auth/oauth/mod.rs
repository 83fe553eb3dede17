//! Sign in with GitHub or Google: `GET /api/auth/{provider}` sends the browser to the provider
//! (authorization code + PKCE + `state`), `GET /api/auth/{provider}/callback` comes back, trades
//! the code, signs in (or links the provider to the signed-in user — a guest keeps its
//! conversations) and sets the browser session. The `state` is stored hashed server-side
//! (single use, 10 min) and also held in a cookie, so a callback only completes in the browser
//! that started it. Anything wrong ends on a page that says what, never a 500.

pub mod provider;
mod store;

use std::net::IpAddr;

use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use self::{provider::Provider, store::Outcome};
use crate::client_ip::ClientIp;
use crate::{
    auth::{cookies, extractor::from_cookie, sessions::open_session},
    error::ApiError,
    html::Page,
    state::AppState,
};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StartQuery {
    /// Where in the app to land after signing in (a local path).
    next: Option<String>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ProvidersOut {
    items: Vec<ProviderOut>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ProviderOut {
    /// `github` or `google`: the `{provider}` of the sign-in routes.
    id: &'static str,
    name: &'static str,
}

/// The sign-in providers this server has credentials for, so the sign-in screen shows only
/// buttons that work.
#[utoipa::path(get, path = "/api/auth/providers", tag = "auth", security(()),
    responses((status = 200, body = ProvidersOut)))]
pub async fn configured(State(state): State<AppState>) -> axum::Json<ProvidersOut> {
    let items = Provider::configured(&state.config)
        .map(|p| ProviderOut {
            id: p.id(),
            name: p.name(),
        })
        .collect();
    axum::Json(ProvidersOut { items })
}

/// Starts signing in with GitHub or Google: a redirect to the provider (PKCE and `state`).
#[utoipa::path(get, path = "/api/auth/{provider}", tag = "auth", security(()),
    params(("provider" = String, Path, description = "`github` or `google`"), StartQuery),
    responses(
        (status = 303, description = "To the provider's consent page"),
        (status = 404, description = "No such provider", body = crate::error::ErrorBody),
        (status = 503, content_type = "text/html", description = "The provider is not configured"),
    ))]
pub async fn start(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(query): Query<StartQuery>,
) -> Response {
    let Some(provider) = Provider::from_path(&name) else {
        return ApiError::not_found("route").into_response();
    };
    let (url, oauth_state, verifier) = match provider.authorize(&state.config) {
        Ok(Some(started)) => started,
        Ok(None) => return not_configured(provider).into_response(),
        Err(e) => return Page::from(ApiError::from(e)).into_response(),
    };
    let next = local_path(query.next.as_deref());
    // Signed in already (say, as a guest): this adds the provider to that account.
    let link_to = from_cookie(&state, &headers).await.map(|u| u.user_id);
    if let Err(e) = store::save_attempt(
        &state.pool,
        provider,
        &oauth_state,
        &verifier,
        next,
        link_to,
    )
    .await
    {
        return Page::from(ApiError::from(e)).into_response();
    }
    let mut response = Redirect::to(&url).into_response();
    let cookie = cookies::set(&state.config, cookies::OAUTH_STATE, &oauth_state, 600, true);
    cookies::attach(&mut response, [cookie]);
    response
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// Set instead of `code` when the user said no.
    error: Option<String>,
}

/// Where the provider sends the user back: signs in (or links the provider to the signed-in
/// account) and redirects into the app.
#[utoipa::path(get, path = "/api/auth/{provider}/callback", tag = "auth", security(()),
    params(("provider" = String, Path, description = "`github` or `google`"), CallbackQuery),
    responses(
        (status = 303, description = "Signed in: into the app, with the session cookies"),
        (status = 400, content_type = "text/html", description = "A failed or refused sign-in"),
        (status = 404, description = "No such provider", body = crate::error::ErrorBody),
    ))]
pub async fn callback(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let Some(provider) = Provider::from_path(&name) else {
        return ApiError::not_found("route").into_response();
    };
    let clear_state = cookies::set(&state.config, cookies::OAUTH_STATE, "", 0, true);
    let mut response = match finish(&state, provider, client, &headers, query).await {
        Ok(response) => response,
        Err(page) => page.into_response(),
    };
    cookies::attach(&mut response, [clear_state]);
    response
}

async fn finish(
    state: &AppState,
    provider: Provider,
    client: IpAddr,
    headers: &HeaderMap,
    query: CallbackQuery,
) -> Result<Response, Page> {
    let title = format!("{} sign-in failed", provider.name());
    let refuse = |status, message: &str| Page::message(status, &title, message);
    if let Some(error) = query.error {
        let message = format!(
            "{} did not sign you in ({error}). Nothing was changed.",
            provider.name()
        );
        return Err(refuse(StatusCode::BAD_REQUEST, &message));
    }
    let (Some(code), Some(oauth_state)) = (query.code, query.state) else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "The provider's answer was incomplete.",
        ));
    };
    if cookies::get(headers, cookies::OAUTH_STATE) != Some(oauth_state.as_str()) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "This sign-in was not started in this browser. Start again from Sluice.",
        ));
    }
    let attempt = store::take_attempt(&state.pool, provider, &oauth_state)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| {
            refuse(
                StatusCode::BAD_REQUEST,
                "This sign-in expired or was already used. Start again.",
            )
        })?;
    let profile = provider
        .profile(&state.config, &state.oauth_http, code, attempt.verifier)
        .await
        .map_err(|e| {
            tracing::warn!(provider = provider.id(), error = %e, "OAuth sign-in refused");
            let message = format!(
                "{} did not confirm the sign-in. Start again.",
                provider.name()
            );
            refuse(StatusCode::BAD_GATEWAY, &message)
        })?;
    let mut tx = state.pool.begin().await.map_err(ApiError::from)?;
    let outcome = store::resolve(&mut tx, provider, &profile, attempt.link_user_id)
        .await
        .map_err(ApiError::from)?;
    let user_id = match outcome {
        Outcome::LinkedElsewhere => {
            let message = format!(
                "This {} account is already linked to another Sluice account.",
                provider.name()
            );
            return Err(refuse(StatusCode::CONFLICT, &message));
        }
        Outcome::Linked => {
            tx.commit().await.map_err(ApiError::from)?;
            return Ok(Redirect::to(&attempt.next_path).into_response());
        }
        Outcome::SignIn(user_id) => user_id,
    };
    let device = crate::auth::device(headers, client);
    let tokens = open_session(state, tx, user_id, &device).await?;
    let mut response = Redirect::to(&attempt.next_path).into_response();
    cookies::attach(
        &mut response,
        crate::auth::sessions::browser_cookies(state, &tokens),
    );
    Ok(response)
}

/// `next` if it is a path on this site, else `/` — never a way to send users elsewhere.
fn local_path(next: Option<&str>) -> &str {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p,
        _ => "/",
    }
}

fn not_configured(provider: Provider) -> Page {
    Page::message(
        StatusCode::NOT_FOUND,
        "Not available",
        &format!(
            "{} sign-in is not configured on this server.",
            provider.name()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(
            local_path(Some("/device?user_code=AB")),
            "/device?user_code=AB"
        );
        for outside in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "evil",
        ] {
            assert_eq!(local_path(Some(outside)), "/", "{outside}");
        }
        assert_eq!(local_path(None), "/");
    }
}
