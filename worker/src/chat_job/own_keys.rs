//! A user's own provider keys ("bring your own key"), set in the API's
//! `/api/provider-keys`: an enabled key stands in for the server's key on every deployment of
//! its provider. The plan of calls (`tries`) says which key each call uses. A key the provider
//! refuses fails the answer with `provider_auth`, naming the key by its last 4 characters —
//! unless its owner allowed the server's key to stand in, in which case the same deployment is
//! tried again with the server's key. Never silently: the owner chose it.

use std::sync::Arc;

use secrecy::SecretString;
use sluice_shared::provider_keys::{sealing_context, stored_name};
use uuid::Uuid;

use crate::{WorkerState, providers::ProviderError, providers::routes::Route, store::SealedOwnKey};

/// A user's own key, opened (or why this server could not open it).
pub(super) struct OwnKey {
    provider: String,
    last4: String,
    allow_server_fallback: bool,
    secret: Result<SecretString, String>,
}

/// One call of the plan: a deployment, and the user's key if theirs is used.
#[derive(Clone)]
pub(super) struct Try {
    pub(super) route: Arc<Route>,
    pub(super) own_key: Option<Arc<OwnKey>>,
}

/// The calls to make, in order: each deployment once, with the user's key for its provider if
/// they have one enabled — and again with the server's key right after it, if they allowed
/// that.
pub(super) fn tries(
    state: &WorkerState,
    user_id: Uuid,
    routes: Vec<Arc<Route>>,
    sealed: &[SealedOwnKey],
) -> Vec<Try> {
    let keys: Vec<Arc<OwnKey>> = sealed
        .iter()
        .map(|k| Arc::new(open(state, user_id, k)))
        .collect();
    let mut tries = Vec::with_capacity(routes.len());
    for route in routes {
        let provider = stored_name(route.kind).filter(|_| route.takes_user_keys);
        let own_key = keys.iter().find(|k| Some(k.provider.as_str()) == provider);
        if let Some(key) = own_key {
            tries.push(Try {
                route: route.clone(),
                own_key: Some(key.clone()),
            });
            if !key.allow_server_fallback {
                continue;
            }
        }
        tries.push(Try {
            route,
            own_key: None,
        });
    }
    tries
}

fn open(state: &WorkerState, user_id: Uuid, key: &SealedOwnKey) -> OwnKey {
    let context = sealing_context(user_id, &key.provider);
    let secret = match &state.master_keys {
        Some(master_keys) => (master_keys.open(&key.sealed, &context)).map_err(|e| e.to_string()),
        None => Err("this server has no secrets.master_key".into()),
    };
    OwnKey {
        provider: key.provider.clone(),
        last4: key.last4.clone(),
        allow_server_fallback: key.allow_server_fallback,
        secret,
    }
}

impl OwnKey {
    /// The key to call with, or the answer's error when this server cannot read it.
    pub(super) fn secret(&self) -> Result<&SecretString, ProviderError> {
        self.secret.as_ref().map_err(|why| {
            let message = format!(
                "your own {} key …{} cannot be read: {why}; ask the operator, or disable the key \
                 to use the server's",
                self.provider, self.last4
            );
            ProviderError::new("provider_auth", message, false)
        })
    }

    /// Whether `failure` is the provider refusing this key.
    fn refused_by(&self, failure: &ProviderError) -> bool {
        failure.code == "upstream_auth"
    }

    /// The answer's error when the provider refused this key and the server's may not stand in.
    pub(super) fn refused(&self, failure: &ProviderError) -> ProviderError {
        let message = format!(
            "{} refused your own key …{} ({}); replace it or disable it in Settings → Provider keys",
            self.provider, self.last4, failure.message
        );
        ProviderError::new("provider_auth", message, false)
    }
}

/// What follows a failed call.
pub(super) enum AfterFailure {
    /// The next call of the plan, at this index.
    Next(usize),
    /// The answer ends with this error: the provider refused the user's own key, and the
    /// server's may not stand in.
    End(ProviderError),
    /// The failure is the answer's (not retryable, or nothing left to try).
    Stop,
}

/// What follows call `at` of `tries` failing with `failed`. The server's key stands in on the
/// same deployment only for an own key the provider refused (and only if its owner allowed
/// it): any other failure with an own key — its quota spent, the provider down — moves on to
/// the next deployment, so the server never pays for a user's exhausted key.
pub(super) fn after_failure(tries: &[Try], at: usize, failed: &ProviderError) -> AfterFailure {
    let here = &tries[at];
    let refused = here.own_key.as_ref().filter(|key| key.refused_by(failed));
    if let Some(key) = refused
        && !key.allow_server_fallback
    {
        return AfterFailure::End(key.refused(failed));
    }
    if refused.is_none() && !failed.retryable {
        return AfterFailure::Stop;
    }
    let server_key_here = |t: &Try| Arc::ptr_eq(&t.route, &here.route) && t.own_key.is_none();
    let next = (tries.iter().enumerate().skip(at + 1))
        .find(|(_, t)| refused.is_some() || !server_key_here(t));
    match next {
        Some((next, _)) => AfterFailure::Next(next),
        None => AfterFailure::Stop,
    }
}
