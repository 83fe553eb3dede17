//! `[files]`: where attachments are kept and how much a user may upload.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::secrets::redact_opt;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesConfig {
    /// `local` (a directory, `dir`) or `s3` (any S3-compatible store, `s3_*`).
    pub store: FileStoreKind,
    /// The directory files are kept in with `store = "local"` (made if missing).
    pub dir: String,
    pub s3_bucket: String,
    /// The store's URL for anything but AWS itself (MinIO, R2, moto, …); unset: AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_endpoint: Option<String>,
    pub s3_region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_access_key_id: Option<String>,
    #[serde(
        default,
        serialize_with = "redact_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub s3_secret_access_key: Option<SecretString>,
    /// Largest file, in bytes (larger: 413 `file_too_large`).
    pub max_file_bytes: u64,
    /// Most bytes one user's files may hold together (more: 413 `file_quota_exceeded`).
    pub max_user_bytes: u64,
    /// Most files one message may carry.
    pub max_per_message: usize,
    /// Most characters of text kept from one file (a PDF's or a text file's); the prompt
    /// takes what fits the model's context and says when it cut.
    pub max_text_chars: usize,
    /// Files uploaded but never sent with a message are deleted after this long.
    pub unattached_ttl_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStoreKind {
    Local,
    S3,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            store: FileStoreKind::Local,
            dir: "data/files".into(),
            s3_bucket: "sluice-files".into(),
            s3_endpoint: None,
            s3_region: "us-east-1".into(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            max_file_bytes: 25 * 1024 * 1024,
            max_user_bytes: 1024 * 1024 * 1024,
            max_per_message: 10,
            max_text_chars: 1_000_000,
            unattached_ttl_secs: 24 * 3600,
        }
    }
}
