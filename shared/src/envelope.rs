//! Envelope encryption for secrets at rest (users' provider keys). Each secret is sealed with
//! its own random data key (AES-256-GCM), and that data key is wrapped by the master key
//! (AES-256-GCM again) named by its id. Rotating the master key re-wraps the data keys only
//! (`rewrap`): the secrets' own ciphertexts never change and are never decrypted to rotate.
//!
//! Each sealing binds a context (for provider keys: the user and provider), so a sealed value
//! copied onto another row does not open there. A nonce is random per encryption (96 bits;
//! each data key encrypts once, the master key once per wrap, far below GCM's 2^32 limit).

use std::{collections::HashMap, fmt};

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use base64::Engine;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString, zeroize::Zeroizing};

use crate::config::SecretsConfig;

const NONCE_BYTES: usize = 12;
const KEY_BYTES: usize = 32;

/// A sealed secret as stored: nonce + ciphertext + tag of the secret under its data key, and
/// nonce + ciphertext + tag of the data key under master key `master_key_id`.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub ciphertext: Vec<u8>,
    pub wrapped_key: Vec<u8>,
    pub master_key_id: String,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed(under master key {:?})", self.master_key_id)
    }
}

/// Why a sealed secret did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("it was sealed under master key {0:?}, which this server does not have")]
    UnknownMasterKey(String),
    #[error("it does not decrypt: a wrong master key, or the stored value was altered")]
    Corrupt,
}

/// The current master key and any retired ones still able to open what they sealed.
pub struct MasterKeys {
    current_id: String,
    keys: HashMap<String, Aes256Gcm>,
}

impl fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<&String> = self.keys.keys().collect();
        ids.sort();
        write!(f, "MasterKeys(current {:?}, ids {ids:?})", self.current_id)
    }
}

impl MasterKeys {
    /// The keys `[secrets]` configures; `None` when no master key is set. Errors name the
    /// setting at fault, never a key's bytes.
    pub fn from_config(config: &SecretsConfig) -> anyhow::Result<Option<Self>> {
        let current = match (&config.master_key, &config.master_key_file) {
            (Some(_), Some(_)) => anyhow::bail!("set master_key or master_key_file, not both"),
            (Some(key), None) => key.clone(),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    anyhow::anyhow!("master_key_file {} cannot be read: {e}", path.display())
                })?;
                SecretString::from(text.trim().to_owned())
            }
            (None, None) if config.retired_master_keys.is_empty() => return Ok(None),
            (None, None) => anyhow::bail!("retired_master_keys needs a current master_key"),
        };
        let id = config.master_key_id.trim();
        if id.is_empty() || id.contains(':') || id.len() > 64 {
            anyhow::bail!("master_key_id must be 1 to 64 characters without ':'");
        }
        let mut keys = HashMap::from([(id.to_owned(), cipher(&current, "master_key")?)]);
        for (i, retired) in config.retired_master_keys.iter().enumerate() {
            let setting = format!("retired_master_keys[{i}]");
            let Some((old_id, key)) = retired.expose_secret().split_once(':') else {
                anyhow::bail!("{setting} must be \"id:base64\"");
            };
            let cipher = cipher(&SecretString::from(key.to_owned()), &setting)?;
            if keys.insert(old_id.trim().to_owned(), cipher).is_some() {
                anyhow::bail!("{setting} reuses the id {old_id:?}");
            }
        }
        Ok(Some(Self {
            current_id: id.to_owned(),
            keys,
        }))
    }

    /// The id new secrets are sealed under.
    pub fn current_id(&self) -> &str {
        &self.current_id
    }

    /// Seals `secret` for `context` under a fresh data key wrapped by the current master key.
    pub fn seal(&self, secret: &[u8], context: &[u8]) -> Sealed {
        let mut data_key = Zeroizing::new([0u8; KEY_BYTES]);
        rand::rng().fill_bytes(data_key.as_mut());
        let sealer = Aes256Gcm::new_from_slice(data_key.as_ref()).expect("32-byte key");
        Sealed {
            ciphertext: encrypt(&sealer, secret, context),
            wrapped_key: self.wrap(data_key.as_ref()),
            master_key_id: self.current_id.clone(),
        }
    }

    /// The secret `sealed` holds, if it was sealed for `context` under a key this server has.
    pub fn open(&self, sealed: &Sealed, context: &[u8]) -> Result<SecretString, OpenError> {
        let data_key = self.unwrap(sealed)?;
        let opener =
            Aes256Gcm::new_from_slice(data_key.as_ref()).map_err(|_| OpenError::Corrupt)?;
        let secret = Zeroizing::new(decrypt(&opener, &sealed.ciphertext, context)?);
        let text = std::str::from_utf8(&secret).map_err(|_| OpenError::Corrupt)?;
        Ok(SecretString::from(text.to_owned()))
    }

    /// The same secret with its data key wrapped by the current master key instead.
    pub fn rewrap(&self, sealed: &Sealed) -> Result<Sealed, OpenError> {
        let data_key = self.unwrap(sealed)?;
        Ok(Sealed {
            ciphertext: sealed.ciphertext.clone(),
            wrapped_key: self.wrap(&data_key),
            master_key_id: self.current_id.clone(),
        })
    }

    fn wrap(&self, data_key: &[u8]) -> Vec<u8> {
        let master = &self.keys[&self.current_id];
        // The id is bound too: a data key wrapped under one id cannot pass as another's.
        encrypt(master, data_key, self.current_id.as_bytes())
    }

    fn unwrap(&self, sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        let id = &sealed.master_key_id;
        let master = (self.keys.get(id)).ok_or_else(|| OpenError::UnknownMasterKey(id.clone()))?;
        let key = Zeroizing::new(decrypt(master, &sealed.wrapped_key, id.as_bytes())?);
        if key.len() != KEY_BYTES {
            return Err(OpenError::Corrupt);
        }
        Ok(key)
    }
}

/// A master key from its base64 text; `setting` names it in errors.
fn cipher(key: &SecretString, setting: &str) -> anyhow::Result<Aes256Gcm> {
    let bytes = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(key.expose_secret().trim())
            .map_err(|_| anyhow::anyhow!("{setting} is not base64"))?,
    );
    if bytes.len() != KEY_BYTES {
        anyhow::bail!(
            "{setting} must be {KEY_BYTES} bytes (base64 of `openssl rand 32`), not {}",
            bytes.len()
        );
    }
    Ok(Aes256Gcm::new_from_slice(&bytes).expect("32-byte key"))
}

/// nonce ‖ ciphertext ‖ tag.
fn encrypt(cipher: &Aes256Gcm, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_BYTES];
    rand::rng().fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("AES-GCM encrypts any input under 64 GiB");
    [nonce.as_slice(), &sealed].concat()
}

fn decrypt(cipher: &Aes256Gcm, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, OpenError> {
    if sealed.len() < NONCE_BYTES {
        return Err(OpenError::Corrupt);
    }
    let (nonce, body) = sealed.split_at(NONCE_BYTES);
    let nonce: [u8; NONCE_BYTES] = nonce.try_into().expect("split at the nonce's length");
    cipher
        .decrypt(&Nonce::from(nonce), Payload { msg: body, aad })
        .map_err(|_| OpenError::Corrupt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        base64::engine::general_purpose::STANDARD.encode([byte; 32])
    }

    fn keys(current: (&str, u8), retired: &[(&str, u8)]) -> MasterKeys {
        let config = SecretsConfig {
            master_key: Some(SecretString::from(key(current.1))),
            master_key_id: current.0.into(),
            retired_master_keys: (retired.iter())
                .map(|(id, b)| SecretString::from(format!("{id}:{}", key(*b))))
                .collect(),
            ..SecretsConfig::default()
        };
        MasterKeys::from_config(&config).unwrap().unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_context() {
        let keys = keys(("k1", 1), &[]);
        let sealed = keys.seal(b"sk-live-123456", b"user-a|openai");
        assert!(!sealed.ciphertext.windows(6).any(|w| w == b"sk-liv"));
        let opened = keys.open(&sealed, b"user-a|openai").unwrap();
        assert_eq!(opened.expose_secret(), "sk-live-123456");
        assert_eq!(
            keys.open(&sealed, b"user-b|openai").unwrap_err(),
            OpenError::Corrupt
        );
    }

    #[test]
    fn the_same_secret_seals_differently_each_time() {
        let keys = keys(("k1", 1), &[]);
        let (a, b) = (keys.seal(b"same", b"c"), keys.seal(b"same", b"c"));
        assert_ne!(a.ciphertext, b.ciphertext);
        assert_ne!(a.wrapped_key, b.wrapped_key);
    }

    #[test]
    fn rotation_rewraps_under_the_new_key_and_the_old_one_can_then_go() {
        let before = keys(("k1", 1), &[]);
        let sealed = before.seal(b"secret", b"ctx");
        let during = keys(("k2", 2), &[("k1", 1)]);
        assert_eq!(
            during.open(&sealed, b"ctx").unwrap().expose_secret(),
            "secret"
        );
        let rewrapped = during.rewrap(&sealed).unwrap();
        assert_eq!(rewrapped.master_key_id, "k2");
        assert_eq!(
            rewrapped.ciphertext, sealed.ciphertext,
            "only the data key moves"
        );
        let after = keys(("k2", 2), &[]);
        assert_eq!(
            after.open(&rewrapped, b"ctx").unwrap().expose_secret(),
            "secret"
        );
        assert_eq!(
            after.open(&sealed, b"ctx").unwrap_err(),
            OpenError::UnknownMasterKey("k1".into())
        );
    }

    #[test]
    fn a_wrong_or_altered_value_does_not_open() {
        let keys1 = keys(("k1", 1), &[]);
        let mut sealed = keys1.seal(b"secret", b"ctx");
        let impostor = keys(("k1", 9), &[]);
        assert_eq!(
            impostor.open(&sealed, b"ctx").unwrap_err(),
            OpenError::Corrupt
        );
        let last = sealed.ciphertext.len() - 1;
        sealed.ciphertext[last] ^= 1;
        assert_eq!(keys1.open(&sealed, b"ctx").unwrap_err(), OpenError::Corrupt);
    }

    #[test]
    fn bad_settings_are_named_without_the_key() {
        let config = |key: &str, id: &str| SecretsConfig {
            master_key: Some(SecretString::from(key.to_owned())),
            master_key_id: id.into(),
            ..SecretsConfig::default()
        };
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
        let e = MasterKeys::from_config(&config(&short, "k"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("32 bytes") && !e.contains(&short), "{e}");
        let e = MasterKeys::from_config(&config("not base64!", "k")).unwrap_err();
        assert!(e.to_string().contains("not base64"));
        let e = MasterKeys::from_config(&config(&key(1), "a:b")).unwrap_err();
        assert!(e.to_string().contains("master_key_id"));
        assert!(
            MasterKeys::from_config(&SecretsConfig::default())
                .unwrap()
                .is_none()
        );
        let keys = keys(("k1", 1), &[("k0", 2)]);
        assert!(!format!("{keys:?}").contains(&key(1)));
    }
}
