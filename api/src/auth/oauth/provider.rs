//! GitHub and Google as OAuth 2.0 providers: the oauth2 crate's client for each (authorization
//! code + PKCE), and the profile call that names the account. Identity is the provider's
//! stable user id; an email is kept only when the provider says it is verified.

use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
    basic::BasicClient,
};
use secrecy::ExposeSecret;
use serde::Deserialize;
use sluice_shared::{Config, config::OAuthProviderConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    GitHub,
    Google,
}

/// Who signed in, as the provider tells it.
#[derive(Debug)]
pub struct Profile {
    pub provider_user_id: String,
    pub login: Option<String>,
    pub name: Option<String>,
    /// Only a verified address.
    pub email: Option<String>,
}

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

impl Provider {
    pub const ALL: [Provider; 2] = [Self::GitHub, Self::Google];

    /// The providers this server has credentials for (their sign-in buttons work).
    pub fn configured(config: &Config) -> impl Iterator<Item = Provider> + '_ {
        Self::ALL.into_iter().filter(|p| p.config(config).enabled())
    }

    pub fn from_path(name: &str) -> Option<Self> {
        match name {
            "github" => Some(Self::GitHub),
            "google" => Some(Self::Google),
            _ => None,
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Self::GitHub => "github",
            Self::Google => "google",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::GitHub => "GitHub",
            Self::Google => "Google",
        }
    }

    pub fn config(self, config: &Config) -> &OAuthProviderConfig {
        match self {
            Self::GitHub => &config.github,
            Self::Google => &config.google,
        }
    }

    fn scopes(self) -> &'static [&'static str] {
        match self {
            Self::GitHub => &["read:user", "user:email"],
            Self::Google => &["openid", "email", "profile"],
        }
    }

    /// The configured client; `None` when this provider is off (no client id).
    fn client(self, config: &Config) -> anyhow::Result<Option<Client>> {
        let p = self.config(config);
        let (Some(id), Some(secret)) = (&p.client_id, &p.client_secret) else {
            return Ok(None);
        };
        let redirect = format!("{}/api/auth/{}/callback", config.public_url, self.id());
        Ok(Some(
            BasicClient::new(ClientId::new(id.clone()))
                .set_client_secret(ClientSecret::new(secret.expose_secret().to_string()))
                .set_auth_uri(AuthUrl::new(p.authorize_url.clone())?)
                .set_token_uri(TokenUrl::new(p.token_url.clone())?)
                .set_redirect_uri(RedirectUrl::new(redirect)?)
                // GitHub documents the secret as a body parameter; Google takes either.
                .set_auth_type(AuthType::RequestBody),
        ))
    }

    /// Where to send the browser, the `state` naming this attempt, and its PKCE verifier.
    pub fn authorize(self, config: &Config) -> anyhow::Result<Option<(String, String, String)>> {
        let Some(client) = self.client(config)? else {
            return Ok(None);
        };
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(self.scopes().iter().map(|s| Scope::new(s.to_string())))
            .set_pkce_challenge(challenge)
            .url();
        Ok(Some((
            url.to_string(),
            state.secret().clone(),
            verifier.secret().clone(),
        )))
    }

    /// Trades the callback's code (with the PKCE verifier) for the provider's access token,
    /// then asks who it belongs to.
    pub async fn profile(
        self,
        config: &Config,
        http: &reqwest::Client,
        code: String,
        verifier: String,
    ) -> anyhow::Result<Profile> {
        let client = self
            .client(config)?
            .ok_or_else(|| anyhow::anyhow!("{} sign-in is not configured", self.name()))?;
        let token = client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier))
            .request_async(http)
            .await
            .map_err(|e| anyhow::anyhow!("token exchange: {e}"))?;
        let access = token.access_token().secret();
        let p = self.config(config);
        match self {
            Self::GitHub => github_profile(http, p, access).await,
            Self::Google => google_profile(http, p, access).await,
        }
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    access: &str,
) -> anyhow::Result<T> {
    Ok(http
        .get(url)
        .bearer_auth(access)
        // GitHub's API refuses requests without a User-Agent.
        .header(reqwest::header::USER_AGENT, "sluice")
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

async fn github_profile(
    http: &reqwest::Client,
    p: &OAuthProviderConfig,
    access: &str,
) -> anyhow::Result<Profile> {
    #[derive(Deserialize)]
    struct User {
        id: u64,
        login: String,
        name: Option<String>,
    }
    #[derive(Deserialize)]
    struct Email {
        email: String,
        primary: bool,
        verified: bool,
    }
    let user: User = get_json(http, &p.userinfo_url, access).await?;
    let email = match &p.emails_url {
        Some(url) => get_json::<Vec<Email>>(http, url, access)
            .await?
            .into_iter()
            .find(|e| e.primary && e.verified)
            .map(|e| e.email.to_lowercase()),
        None => None,
    };
    Ok(Profile {
        provider_user_id: user.id.to_string(),
        login: Some(user.login),
        name: user.name,
        email,
    })
}

async fn google_profile(
    http: &reqwest::Client,
    p: &OAuthProviderConfig,
    access: &str,
) -> anyhow::Result<Profile> {
    #[derive(Deserialize)]
    struct UserInfo {
        sub: String,
        email: Option<String>,
        #[serde(default)]
        email_verified: bool,
        name: Option<String>,
    }
    let info: UserInfo = get_json(http, &p.userinfo_url, access).await?;
    Ok(Profile {
        provider_user_id: info.sub,
        login: None,
        name: info.name,
        email: info
            .email
            .filter(|_| info.email_verified)
            .map(|e| e.to_lowercase()),
    })
}
