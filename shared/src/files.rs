//! Where attachments are kept: the `object_store` the configuration names (a local directory
//! or an S3-compatible bucket), and the key each file is kept under. The API writes and
//! deletes files; workers read them (images, for the prompt).

use std::sync::Arc;

use object_store::{ObjectStore, aws::AmazonS3Builder, local::LocalFileSystem, path::Path};
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::config::{FileStoreKind, FilesConfig};

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
