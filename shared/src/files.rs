//! Where attachments are kept: the `object_store` the configuration names (a local directory
//! or an S3-compatible bucket), and the key each file is kept under. The API writes and
//! deletes files; workers read them (images, for the prompt).

use std::sync::Arc;

use object_store::{ObjectStore, aws::AmazonS3Builder, local::LocalFileSystem, path::Path};
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::config::{FileStoreKind, FilesConfig, ModelConfig, ProviderKind};

/// The store `config` names.
pub fn store(config: &FilesConfig) -> anyhow::Result<Arc<dyn ObjectStore>> {
    Ok(match config.store {
        FileStoreKind::Local => {
            std::fs::create_dir_all(&config.dir)
                .map_err(|e| anyhow::anyhow!("[files] dir {:?} cannot be made: {e}", config.dir))?;
            Arc::new(LocalFileSystem::new_with_prefix(&config.dir)?)
        }
        FileStoreKind::S3 => {
            anyhow::ensure!(
                !config.s3_bucket.is_empty(),
                "[files] store = \"s3\" needs s3_bucket"
            );
            let mut s3 = AmazonS3Builder::new()
                .with_bucket_name(&config.s3_bucket)
                .with_region(&config.s3_region);
            if let Some(endpoint) = &config.s3_endpoint {
                // Other S3-compatible stores are addressed by path, often over plain http
                // inside a network.
                s3 = s3
                    .with_endpoint(endpoint)
                    .with_virtual_hosted_style_request(false)
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            if let Some(id) = &config.s3_access_key_id {
                s3 = s3.with_access_key_id(id);
            }
            if let Some(secret) = &config.s3_secret_access_key {
                s3 = s3.with_secret_access_key(secret.expose_secret());
            }
            Arc::new(s3.build()?)
        }
    })
}

/// Where file `id` of `owner` is kept.
pub fn key(owner: Uuid, id: Uuid) -> Path {
    Path::from(format!("files/{owner}/{id}"))
}

/// The largest image `model` takes in a prompt, in bytes: the least of its deployments'
/// providers (Anthropic takes 5 MB an image; OpenAI and Gemini about 20 MB a request).
pub fn max_image_bytes(model: &ModelConfig) -> i64 {
    let of = |provider: ProviderKind| match provider {
        ProviderKind::Anthropic => 5 * 1024 * 1024,
        ProviderKind::Openai | ProviderKind::Gemini | ProviderKind::Demo => 20 * 1024 * 1024,
    };
    model
        .fallbacks
        .iter()
        .map(|d| of(d.provider))
        .fold(of(model.provider), i64::min)
}

/// `attachment` with `name`: ASCII for any reader (`filename`), UTF-8 (RFC 6266 / 8187,
/// `filename*`) for the name as it is. The API serves downloads with it; the CLI names uploads.
pub fn attachment_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            let plain = c.is_ascii_graphic() && c != '"' && c != '\\';
            if plain || c == ' ' { c } else { '_' }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_given_in_ascii_and_in_utf_8() {
        assert_eq!(
            super::attachment_disposition("résumé \"final\".pdf"),
            "attachment; filename=\"r_sum_ _final_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf"
        );
    }
}
