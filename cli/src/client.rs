//! The API client: the server URL, the saved sign-in, and requests that refresh the access
//! token on their own when it has expired (or is about to), saving the rotated tokens.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sluice_shared::dto::TokensOut;

use crate::{
    config::Settings,
    credentials::{Credentials, Store},
    error::{CliError, CliResult},
};

pub struct Api {
    pub server: String,
    pub http: reqwest::Client,
    pub store: Store,
    creds: Option<Credentials>,
}

impl Api {
    pub async fn connect(settings: &Settings) -> CliResult<Self> {
        let store = Store::open(settings).await?;
        let creds = store.load(&settings.server).await?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("sluice-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()?;
        Ok(Self {
            server: settings.server.clone(),
            http,
            store,
            creds,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server)
    }

    pub fn credentials(&self) -> Option<&Credentials> {
        self.creds.as_ref()
    }

    /// Keeps a new sign-in (login, refresh).
    pub async fn save(&mut self, tokens: TokensOut) -> CliResult<()> {
        let creds = Credentials::from(tokens);
        self.store.save(&self.server, &creds).await?;
        self.creds = Some(creds);
        Ok(())
    }

    /// Forgets the sign-in here (the server side is `logout`'s job).
    pub async fn forget(&mut self) -> CliResult<()> {
        self.creds = None;
        self.store.remove(&self.server).await
    }

    /// An authenticated request; refreshes first when the token is (nearly) expired, and once
    /// more if the server still says 401.
    pub async fn send(
        &mut self,
        build: impl Fn(&reqwest::Client, &str) -> RequestBuilder,
    ) -> CliResult<Response> {
        let creds = self
            .creds
            .as_ref()
            .ok_or_else(|| not_signed_in(&self.server))?;
        if expires_within(&creds.access_token, 30) {
            self.refresh().await?;
        }
        let response = build(&self.http, &self.access_token()?).send().await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        self.refresh().await?;
        Ok(build(&self.http, &self.access_token()?).send().await?)
    }

    /// `method path` with an optional JSON body; a non-2xx answer becomes its error message.
    pub async fn call<T: DeserializeOwned>(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> CliResult<T> {
        let url = self.url(path);
        let response = self
            .send(|http, token| {
                let req = http.request(method.clone(), &url).bearer_auth(token);
                match &body {
                    Some(b) => req.json(b),
                    None => req,
                }
            })
            .await?;
        decode(response).await
    }

    /// `POST path` with the file at `file` as the body, streamed from the disk; the type is
    /// told by its first bytes and the name goes in `Content-Disposition`.
    pub async fn upload<T: DeserializeOwned>(
        &mut self,
        path: &str,
        file: &std::path::Path,
    ) -> CliResult<T> {
        let cannot =
            |e: std::io::Error| CliError::new(format!("cannot read {}: {e}", file.display()));
        let mut head = [0u8; 8];
        let read = std::io::Read::read(&mut std::fs::File::open(file).map_err(cannot)?, &mut head)
            .map_err(cannot)?;
        let content_type = crate::upload::content_type(&head[..read]);
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let disposition = sluice_shared::files::attachment_disposition(&name);
        let url = self.url(path);
        let response = self
            .send(|http, token| {
                // Opened for each try: a refused token means sending the file again.
                let body = match std::fs::File::open(file) {
                    Ok(f) => reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(
                        tokio::fs::File::from_std(f),
                    )),
                    Err(_) => reqwest::Body::from(Vec::new()),
                };
                http.post(&url)
                    .bearer_auth(token)
                    .header(reqwest::header::CONTENT_TYPE, content_type)
                    .header(reqwest::header::CONTENT_DISPOSITION, &disposition)
                    .body(body)
            })
            .await?;
        decode(response).await
    }

    /// `GET path` as it comes (an export, to copy out as it arrives), or the API's error.
    pub async fn download(&mut self, path: &str) -> CliResult<Response> {
        let url = self.url(path);
        let response = self
            .send(|http, token| http.get(&url).bearer_auth(token))
            .await?;
        if response.status().is_success() {
            return Ok(response);
        }
        match decode::<Value>(response).await {
            Err(e) => Err(e),
            Ok(_) => Err(CliError::new("the server answered an error without one")),
        }
    }

    fn access_token(&self) -> CliResult<String> {
        self.creds
            .as_ref()
            .map(|c| c.access_token.clone())
            .ok_or_else(|| not_signed_in(&self.server))
    }

    async fn refresh(&mut self) -> CliResult<()> {
        let creds = self
            .creds
            .as_ref()
            .ok_or_else(|| not_signed_in(&self.server))?;
        let response = self
            .http
            .post(self.url("/api/auth/refresh"))
            .json(&json!({ "refresh_token": creds.refresh_token }))
            .send()
            .await?;
        if matches!(
            response.status(),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) {
            self.forget().await?;
            return Err(CliError::new(
                "your session has ended (signed out, revoked or expired): run `sluice login`",
            ));
        }
        let tokens: TokensOut = decode(response).await?;
        self.save(tokens).await
    }
}

/// The body of a 2xx answer, or the API's error message as a `CliError`.
pub async fn decode<T: DeserializeOwned>(response: Response) -> CliResult<T> {
    let status = response.status();
    let url = response.url().clone();
    let bytes = response.bytes().await?;
    if status.is_success() {
        let bytes = if bytes.is_empty() {
            &b"null"[..]
        } else {
            &bytes[..]
        };
        return serde_json::from_slice(bytes).map_err(|_| not_sluice(&url));
    }
    let body: Value = serde_json::from_slice(&bytes).map_err(|_| {
        if status == StatusCode::NOT_FOUND {
            not_sluice(&url)
        } else {
            CliError::new(format!("the server answered {status}"))
        }
    })?;
    Err(api_error(status, &body))
}

/// `{"error": {"code", "message"}}` (the API) or `{"error", "error_description"}` (OAuth).
pub fn api_error(status: StatusCode, body: &Value) -> CliError {
    let message = body["error"]["message"]
        .as_str()
        .or_else(|| body["error_description"].as_str())
        .or_else(|| body["error"].as_str())
        .unwrap_or("no details");
    match status {
        StatusCode::TOO_MANY_REQUESTS => CliError::new(format!("slow down: {message}")),
        s if s.is_server_error() => CliError::new(format!("the server failed ({s}): {message}")),
        _ => CliError::new(message.to_string()),
    }
}

fn not_sluice(url: &reqwest::Url) -> CliError {
    CliError::new(format!(
        "{}://{} does not look like a Sluice server: check --server / SLUICE_SERVER",
        url.scheme(),
        url.authority()
    ))
}

pub fn not_signed_in(server: &str) -> CliError {
    CliError::new(format!("not signed in to {server}: run `sluice login`"))
}

/// Whether a JWT's `exp` is less than `seconds` away (unreadable tokens count as expired).
fn expires_within(jwt: &str, seconds: u64) -> bool {
    let exp = jwt
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v["exp"].as_u64());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    exp.is_none_or(|exp| exp <= now + seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(exp: u64) -> String {
        let payload =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{{\"exp\":{exp}}}"));
        format!("h.{payload}.s")
    }

    #[test]
    fn tokens_near_expiry_are_refreshed_first() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(expires_within(&jwt(now + 10), 30));
        assert!(!expires_within(&jwt(now + 600), 30));
        assert!(expires_within("garbage", 30));
    }
}
