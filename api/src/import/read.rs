//! Reading an uploaded export: a zip (Sluice's account export, or ChatGPT's) or one JSON file
//! (a Sluice conversation, or ChatGPT's `conversations.json`). Each JSON file is read from
//! disk as it is parsed (a zip's entries are unpacked to temporary files first), and an array
//! one record at a time, so memory holds the converted conversations and one record, not the
//! file.

use std::{collections::HashMap, io::BufRead};

use async_zip::tokio::read::seek::ZipFileReader;
use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer as _, SeqAccess, Visitor};
use serde_json::Value;
use tokio::{
    fs::File,
    io::{AsyncReadExt, AsyncSeekExt, BufReader},
};
use tokio_util::compat::FuturesAsyncReadCompatExt;
use uuid::Uuid;

use super::{chatgpt, sluice};
use crate::{
    error::{ApiError, ApiResult},
    export::document::ConversationDoc,
};

/// Everything an upload holds.
#[derive(Default)]
pub struct Batch {
    pub conversations: Vec<ConversationDoc>,
    /// Folders a Sluice account export lists (empty ones too), with when they were made.
    pub folders: Vec<(String, Option<DateTime<Utc>>)>,
    /// The files a Sluice account export carries (`files/{id}`), unpacked, by the id the
    /// documents' `attachments` name.
    pub files: HashMap<Uuid, File>,
}

/// What one file of the upload is.
enum Parsed {
    Conversations(Vec<ConversationDoc>),
    /// A Sluice account export's manifest: its folders.
    Manifest(Vec<(String, Option<DateTime<Utc>>)>),
    /// Something else an export holds (ChatGPT's `user.json`, …).
    Other,
}

/// Reads the spooled upload (`name`: what the sender called it). `unpacked_limit` bounds what
/// a zip may unpack to; `model` is the model conversations from another app are given.
pub async fn read(
    mut file: File,
    name: Option<String>,
    unpacked_limit: u64,
    model: &str,
) -> ApiResult<Batch> {
    // Read from the start: the spooling left the file at its end.
    file.rewind().await.map_err(spool_error)?;
    let mut magic = [0u8; 4];
    let is_zip = file.read_exact(&mut magic).await.is_ok() && magic == *b"PK\x03\x04";
    file.rewind().await.map_err(spool_error)?;
    if is_zip {
        return zip(file, unpacked_limit, model).await;
    }
    let name = name.unwrap_or_else(|| "the file".into());
    match parse_file(name, file, model, true).await? {
        Parsed::Conversations(conversations) => Ok(Batch {
            conversations,
            ..Batch::default()
        }),
        Parsed::Manifest(_) | Parsed::Other => Err(not_an_export()),
    }
}

async fn zip(file: File, unpacked_limit: u64, model: &str) -> ApiResult<Batch> {
    let mut reader = ZipFileReader::with_tokio(BufReader::new(file))
        .await
        .map_err(|e| unreadable(format!("the zip cannot be read: {e}")))?;
    let names: Vec<Option<String>> = reader
        .file()
        .entries()
        .iter()
        .map(|e| {
            let name = e.filename().as_str().ok()?;
            let json = name.to_ascii_lowercase().ends_with(".json");
            let wanted = json || carried_file(name).is_some();
            (wanted && !e.dir().unwrap_or(true)).then(|| name.to_string())
        })
        .collect();
    let mut batch = Batch::default();
    let mut recognized = false;
    let mut left = unpacked_limit;
    for (index, name) in names.into_iter().enumerate() {
        let Some(name) = name else { continue };
        let entry = reader
            .reader_with_entry(index)
            .await
            .map_err(|e| unreadable(format!("{name}: cannot be read from the zip: {e}")))?;
        // Unpacked to a temporary file of its own, and read from there a record at a time.
        let mut unpacked = File::from_std(tempfile::tempfile().map_err(spool_error)?);
        let copied = tokio::io::copy(&mut entry.compat().take(left + 1), &mut unpacked)
            .await
            .map_err(|e| unreadable(format!("{name}: cannot be unpacked: {e}")))?;
        if copied > left {
            return Err(ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "file_too_large",
                format!("the zip unpacks to more than {unpacked_limit} bytes, the most taken here"),
            ));
        }
        left -= copied;
        unpacked.rewind().await.map_err(spool_error)?;
        if let Some(id) = carried_file(&name) {
            batch.files.insert(id, unpacked);
            continue;
        }
        match parse_file(name, unpacked, model, false).await? {
            Parsed::Conversations(c) => {
                recognized = true;
                batch.conversations.extend(c);
            }
            Parsed::Manifest(folders) => {
                recognized = true;
                batch.folders.extend(folders);
            }
            Parsed::Other => {}
        }
    }
    if !recognized {
        return Err(not_an_export());
    }
    Ok(batch)
}

/// Parses one JSON file on a blocking thread, reading it as it goes.
async fn parse_file(name: String, file: File, model: &str, expected: bool) -> ApiResult<Parsed> {
    let file = file.into_std().await;
    let model = model.to_string();
    tokio::task::spawn_blocking(move || {
        parse(&name, std::io::BufReader::new(file), &model, expected)
    })
    .await
    .map_err(|e| ApiError::from(anyhow::Error::from(e)))?
}

/// One JSON file. `expected` says it must hold conversations (the upload is this file alone).
fn parse(name: &str, mut reader: impl BufRead, model: &str, expected: bool) -> ApiResult<Parsed> {
    let expected = expected || base_name(name).starts_with("conversations");
    let not_json = |e: std::io::Error| unreadable(format!("{name} cannot be read: {e}"));
    // The first byte that is not whitespace says an array or an object.
    let first = loop {
        let buffer = reader.fill_buf().map_err(not_json)?;
        match buffer.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(at) => break Some(buffer[at]),
            None if buffer.is_empty() => break None,
            None => {
                let all = buffer.len();
                reader.consume(all);
            }
        }
    };
    match first {
        Some(b'[') => records(name, reader, model, expected),
        Some(b'{') => {
            let record: Value = serde_json::from_reader(reader)
                .map_err(|e| unreadable(format!("{name}: not valid JSON: {e}")))?;
            if record.get("format").and_then(Value::as_str) == Some("sluice.account") {
                return Ok(Parsed::Manifest(manifest_folders(&record)));
            }
            match conversation(name, 1, record, model, expected)? {
                Some(doc) => Ok(Parsed::Conversations(vec![doc])),
                None => Ok(Parsed::Other),
            }
        }
        _ if expected => Err(unreadable(format!(
            "{name} is neither JSON nor a zip: not an export Sluice reads"
        ))),
        _ => Ok(Parsed::Other),
    }
}

/// A top-level array, one record at a time.
fn records(name: &str, reader: impl BufRead, model: &str, expected: bool) -> ApiResult<Parsed> {
    let mut docs = Vec::new();
    let mut failed = None;
    let mut other = false;
    let mut each = |number: usize, record: Value| -> bool {
        match conversation(name, number, record, model, expected || number > 1) {
            Ok(Some(doc)) => {
                docs.push(doc);
                true
            }
            // The first record is no conversation: a file of something else.
            Ok(None) => {
                other = true;
                false
            }
            Err(e) => {
                failed = Some(e);
                false
            }
        }
    };
    let result = serde_json::Deserializer::from_reader(reader)
        .deserialize_seq(EachRecord { each: &mut each });
    if let Some(e) = failed {
        return Err(e);
    }
    if other {
        return Ok(Parsed::Other);
    }
    result.map_err(|e| unreadable(format!("{name}: not valid JSON: {e}")))?;
    Ok(Parsed::Conversations(docs))
}

/// Record `number` of `name` as a checked document; `None` if it is no conversation and none
/// was `expected`.
fn conversation(
    name: &str,
    number: usize,
    record: Value,
    model: &str,
    expected: bool,
) -> ApiResult<Option<ConversationDoc>> {
    let title = record
        .get("title")
        .or_else(|| record.pointer("/conversation/title"))
        .and_then(Value::as_str)
        .map(|t| format!(" ({t:?})"))
        .unwrap_or_default();
    let which = format!("{name}, conversation {number}{title}");
    let doc = if chatgpt::is_chatgpt(&record) {
        chatgpt::convert(&record, model)
    } else if sluice::is_sluice(&record) {
        sluice::read(record)
    } else if expected {
        Err("neither a Sluice conversation (`format`) nor a ChatGPT one (`mapping`)".into())
    } else {
        return Ok(None);
    };
    doc.and_then(|d| sluice::check(&d).map(|()| d))
        .map(Some)
        .map_err(|e| ApiError::unfit("invalid_import", format!("{which}: {e}")))
}

fn manifest_folders(manifest: &Value) -> Vec<(String, Option<DateTime<Utc>>)> {
    let made = |f: &Value| {
        let at = f.get("created_at").and_then(Value::as_str)?;
        DateTime::parse_from_rfc3339(at).ok().map(|t| t.to_utc())
    };
    manifest
        .get("folders")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| Some((f.get("name")?.as_str()?.to_string(), made(f))))
        .collect()
}

/// `files/{id}`: a file a Sluice account export carries.
fn carried_file(name: &str) -> Option<Uuid> {
    name.strip_prefix("files/")?.parse().ok()
}

fn base_name(name: &str) -> String {
    name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase()
}

/// Hands each item of a JSON array to `each` as it is parsed; `each` returns false to stop.
struct EachRecord<'f, F> {
    each: &'f mut F,
}

impl<'de, F: FnMut(usize, Value) -> bool> Visitor<'de> for EachRecord<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of conversations")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut number = 0;
        while let Some(record) = seq.next_element::<Value>()? {
            number += 1;
            if !(self.each)(number, record) {
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

fn not_an_export() -> ApiError {
    ApiError::unfit(
        "invalid_import",
        "this is not an export Sluice reads: send Sluice's export (a conversation's JSON or the \
         account zip) or ChatGPT's (its zip, or conversations.json)",
    )
}

/// Damaged or not JSON: still 422, as a well-formed request whose file does not fit.
fn unreadable(message: String) -> ApiError {
    ApiError::unfit("invalid_import", message)
}

fn spool_error(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "an import's spooled file could not be read");
    ApiError::unavailable("the import could not be read back just now: try again in a moment")
}
