//! Files sent to the API in the tests: the multipart form a browser sends, a file as the
//! whole body, a question sent with files, a PNG's first bytes, and the files a stack's local
//! store holds.

use reqwest::Response;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::TestApp;

/// A PNG's first bytes (its signature and header): enough to be told apart, all a fake needs.
pub const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

/// A multipart form as a browser sends one: a field the server ignores, then `bytes` as field
/// `file` named `name`; (its content type, its body).
pub fn multipart(name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "sluice-test-boundary-7d1f";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A zip of `files` (name, content), as an export is.
pub async fn zip_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use async_zip::{Compression, ZipEntryBuilder, base::write::ZipFileWriter};
    let mut zip = ZipFileWriter::new(Vec::new());
    for (name, bytes) in files {
        let entry = ZipEntryBuilder::new((*name).to_string().into(), Compression::Deflate);
        zip.write_entry_whole(entry, bytes).await.unwrap();
    }
    zip.close().await.unwrap()
}

/// Files under `dir`, however deep (what a stack's local store holds).
pub fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| match e.path().is_dir() {
                true => files_under(&e.path()),
                false => 1,
            })
            .sum()
    })
}

impl TestApp {
    /// `POST path` as `token` with `body` as `content_type`.
    pub async fn post_body(
        &self,
        token: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// `POST path` as `token` with `bytes` as a browser's form sends a file.
    pub async fn post_form(&self, token: &str, path: &str, name: &str, bytes: &[u8]) -> Response {
        let (content_type, body) = multipart(name, bytes);
        self.post_body(token, path, &content_type, body).await
    }

    /// `POST /api/files` as a form; the stored file, expecting 201.
    pub async fn uploaded(&self, token: &str, name: &str, bytes: &[u8]) -> Value {
        let r = self.post_form(token, "/api/files", name, bytes).await;
        assert_eq!(r.status(), 201, "upload {name}");
        r.json().await.unwrap()
    }

    /// Sends `content` to `conversation` with `files` (as `POST /api/files` answered them).
    pub async fn send_with_files(
        &self,
        token: &str,
        conversation: Uuid,
        content: &str,
        files: &[&Value],
    ) -> Response {
        let ids: Vec<&Value> = files.iter().map(|f| &f["id"]).collect();
        let body = json!({ "content": content, "attachments": ids });
        let path = format!("/api/conversations/{conversation}/messages");
        self.call(token, reqwest::Method::POST, &path, Some(body))
            .await
    }
}
