//! A local GitHub and Google: the authorization endpoint (redirects straight back, as if the
//! user clicked "Authorize"), the token endpoint (checks the client secret, the redirect URI
//! and the PKCE verifier against the challenge, like the real ones) and the profile
//! endpoints. Tests choose who signs in and can make the user refuse or the exchange fail.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Form, Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use sluice_shared::Config;

pub const CLIENT_ID: &str = "fake-client";
pub const CLIENT_SECRET: &str = "fake-client-secret";

/// The account the fake provider signs in as.
#[derive(Debug, Clone)]
pub struct FakeUser {
    /// The provider's stable user id (GitHub's numeric `id`, Google's `sub`).
    pub id: String,
    pub login: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
}

impl FakeUser {
    pub fn new(id: &str, email: &str) -> Self {
        Self {
            id: id.into(),
            login: format!("user{id}"),
            name: format!("User {id}"),
            email: email.into(),
            email_verified: true,
        }
    }
}

#[derive(Default)]
struct Inner {
    user: Option<FakeUser>,
    /// The next authorization is refused by the "user".
    deny_next: bool,
    /// The next token exchange fails (the provider's `invalid_grant`).
    fail_next_exchange: bool,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, FakeUser>,
}

struct Grant {
    challenge: String,
    redirect_uri: String,
    user: FakeUser,
}

#[derive(Clone)]
pub struct FakeOAuth {
    pub base_url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeOAuth {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/login/oauth/authorize", get(authorize))
            .route("/login/oauth/access_token", post(token))
            .route("/user", get(github_user))
            .route("/user/emails", get(github_emails))
            .route("/o/oauth2/v2/auth", get(authorize))
            .route("/token", post(token))
            .route("/v1/userinfo", get(google_userinfo))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake oauth");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base_url, inner }
    }

    /// Points the config's GitHub and Google at this fake.
    pub fn configure(&self, config: &mut Config) {
        let b = &self.base_url;
        for (p, auth, token, info) in [
            (
                &mut config.github,
                "/login/oauth/authorize",
                "/login/oauth/access_token",
                "/user",
            ),
            (
                &mut config.google,
                "/o/oauth2/v2/auth",
                "/token",
                "/v1/userinfo",
            ),
        ] {
            p.client_id = Some(CLIENT_ID.into());
            p.client_secret = Some(CLIENT_SECRET.into());
            p.authorize_url = format!("{b}{auth}");
            p.token_url = format!("{b}{token}");
            p.userinfo_url = format!("{b}{info}");
        }
        config.github.emails_url = Some(format!("{b}/user/emails"));
    }

    pub fn sign_in_as(&self, user: FakeUser) {
        self.inner.lock().unwrap().user = Some(user);
    }

    pub fn deny_next(&self) {
        self.inner.lock().unwrap().deny_next = true;
    }

    pub fn fail_next_exchange(&self) {
        self.inner.lock().unwrap().fail_next_exchange = true;
    }

    /// Access tokens the fake has issued (a test checks none of them reached a log).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.inner.lock().unwrap().tokens.keys().cloned().collect()
    }
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    response_type: String,
    client_id: String,
    redirect_uri: String,
    state: String,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

async fn authorize(
    State(inner): State<Arc<Mutex<Inner>>>,
    Query(q): Query<AuthorizeQuery>,
) -> Response {
    if q.response_type != "code" || q.client_id != CLIENT_ID {
        return (StatusCode::BAD_REQUEST, "bad authorization request").into_response();
    }
    let mut inner = inner.lock().unwrap();
    let sep = if q.redirect_uri.contains('?') {
        '&'
    } else {
        '?'
    };
    if std::mem::take(&mut inner.deny_next) {
        let to = format!(
            "{}{sep}error=access_denied&state={}",
            q.redirect_uri, q.state
        );
        return Redirect::to(&to).into_response();
    }
    let (Some(challenge), Some("S256")) = (q.code_challenge, q.code_challenge_method.as_deref())
    else {
        return (StatusCode::BAD_REQUEST, "PKCE S256 is required").into_response();
    };
    let Some(user) = inner.user.clone() else {
        return (StatusCode::BAD_REQUEST, "no fake user set").into_response();
    };
    let code = format!("code-{}", uuid::Uuid::new_v4().simple());
    inner.codes.insert(
        code.clone(),
        Grant {
            challenge,
            redirect_uri: q.redirect_uri.clone(),
            user,
        },
    );
    let state = crate::urlencode(&q.state);
    Redirect::to(&format!("{}{sep}code={code}&state={state}", q.redirect_uri)).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    code: String,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn token(State(inner): State<Arc<Mutex<Inner>>>, Form(f): Form<TokenForm>) -> Response {
    let refuse = |error: &str, description: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": error, "error_description": description })),
        )
            .into_response()
    };
    let mut inner = inner.lock().unwrap();
    if f.client_id.as_deref() != Some(CLIENT_ID)
        || f.client_secret.as_deref() != Some(CLIENT_SECRET)
    {
        return refuse("invalid_client", "bad client credentials");
    }
    if f.grant_type != "authorization_code" {
        return refuse("unsupported_grant_type", "");
    }
    let Some(grant) = inner.codes.remove(&f.code) else {
        return refuse("invalid_grant", "unknown or used code");
    };
    if std::mem::take(&mut inner.fail_next_exchange) {
        return refuse("invalid_grant", "the code expired");
    }
    if f.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        return refuse("invalid_grant", "redirect_uri mismatch");
    }
    let Some(verifier) = f.code_verifier else {
        return refuse("invalid_grant", "code_verifier is required");
    };
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    if computed != grant.challenge {
        return refuse(
            "invalid_grant",
            "code_verifier does not match the challenge",
        );
    }
    let access = format!("gho_{}", uuid::Uuid::new_v4().simple());
    inner.tokens.insert(access.clone(), grant.user);
    Json(json!({ "access_token": access, "token_type": "bearer", "scope": "read:user,user:email" }))
        .into_response()
}

fn bearer_user(inner: &Mutex<Inner>, headers: &HeaderMap) -> Option<FakeUser> {
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    inner.lock().unwrap().tokens.get(token).cloned()
}

async fn github_user(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap) -> Response {
    if headers.get(header::USER_AGENT).is_none() {
        return (StatusCode::FORBIDDEN, "User-Agent required").into_response();
    }
    let Some(u) = bearer_user(&inner, &headers) else {
        return (StatusCode::UNAUTHORIZED, "Bad credentials").into_response();
    };
    let id: u64 = u.id.parse().expect("GitHub ids are numbers");
    // GitHub's public email is often null: the address comes from /user/emails.
    Json(json!({ "id": id, "login": u.login, "name": u.name, "email": null })).into_response()
}

async fn github_emails(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap) -> Response {
    let Some(u) = bearer_user(&inner, &headers) else {
        return (StatusCode::UNAUTHORIZED, "Bad credentials").into_response();
    };
    Json(json!([
        { "email": "noreply@users.example", "primary": false, "verified": true },
        { "email": u.email, "primary": true, "verified": u.email_verified },
    ]))
    .into_response()
}

async fn google_userinfo(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap) -> Response {
    let Some(u) = bearer_user(&inner, &headers) else {
        return (StatusCode::UNAUTHORIZED, "invalid token").into_response();
    };
    Json(json!({
        "sub": u.id, "name": u.name, "email": u.email, "email_verified": u.email_verified,
    }))
    .into_response()
}
