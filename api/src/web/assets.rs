//! The web app's files, embedded in the binary (no Node, no build step: plain ES modules and
//! CSS from `api/web/`). They are served under `/assets/{version}/`, where `version` is a hash
//! of every file, so a browser may cache them for a year and a new build is a new URL; modules
//! import each other by relative path, which stays inside the same version. Each file is
//! gzipped once, at first use.

use std::{io::Write, sync::OnceLock};

use flate2::{Compression, write::GzEncoder};
use sha2::{Digest, Sha256};

/// (name, content type, bytes) of every file the app loads.
const FILES: &[(&str, &str, &[u8])] = &[
    ("app.js", JS, include_bytes!("../../web/app.js")),
    ("api.js", JS, include_bytes!("../../web/api.js")),
    ("signin.js", JS, include_bytes!("../../web/signin.js")),
    ("sidebar.js", JS, include_bytes!("../../web/sidebar.js")),
    ("folders.js", JS, include_bytes!("../../web/folders.js")),
    ("search.js", JS, include_bytes!("../../web/search.js")),
    ("data.js", JS, include_bytes!("../../web/data.js")),
    ("attach.js", JS, include_bytes!("../../web/attach.js")),
    ("chat.js", JS, include_bytes!("../../web/chat.js")),
    ("settings.js", JS, include_bytes!("../../web/settings.js")),
    ("stream.js", JS, include_bytes!("../../web/stream.js")),
    ("render.js", JS, include_bytes!("../../web/render.js")),
    ("dom.js", JS, include_bytes!("../../web/dom.js")),
    ("users.js", JS, include_bytes!("../../web/users.js")),
    ("limits.js", JS, include_bytes!("../../web/limits.js")),
    ("usage.js", JS, include_bytes!("../../web/usage.js")),
    ("keys.js", JS, include_bytes!("../../web/keys.js")),
    (
        "provider_keys.js",
        JS,
        include_bytes!("../../web/provider_keys.js"),
    ),
    ("devices.js", JS, include_bytes!("../../web/devices.js")),
    ("drawer.js", JS, include_bytes!("../../web/drawer.js")),
    ("feed.js", JS, include_bytes!("../../web/feed.js")),
    (
        "conversation_menu.js",
        JS,
        include_bytes!("../../web/conversation_menu.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/style.css"),
    ),
];
const JS: &str = "text/javascript; charset=utf-8";

/// The page every app URL answers with; `{{version}}` is replaced by the assets' version.
const INDEX: &str = include_str!("../../web/index.html");

pub struct Asset {
    pub content_type: &'static str,
    pub plain: &'static [u8],
    pub gzip: Vec<u8>,
}

pub struct Assets {
    pub version: String,
    pub index_html: String,
    files: Vec<(&'static str, Asset)>,
}

impl Assets {
    pub fn get(&self, name: &str) -> Option<&Asset> {
        self.files.iter().find(|(n, _)| *n == name).map(|(_, a)| a)
    }

    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    /// Bytes of JS + CSS a browser downloads for the app, compressed.
    pub fn gzip_total(&self) -> usize {
        self.files.iter().map(|(_, a)| a.gzip.len()).sum()
    }
}

pub fn assets() -> &'static Assets {
    static ASSETS: OnceLock<Assets> = OnceLock::new();
    ASSETS.get_or_init(|| {
        let mut hash = Sha256::new();
        for (name, _, bytes) in FILES {
            hash.update(name.as_bytes());
            hash.update(bytes);
        }
        let version = hex::encode(&hash.finalize()[..6]);
        let files = FILES
            .iter()
            .map(|(name, content_type, plain)| {
                let asset = Asset {
                    content_type,
                    plain,
                    gzip: gzip(plain),
                };
                (*name, asset)
            })
            .collect();
        Assets {
            index_html: INDEX.replace("{{version}}", &version),
            version,
            files,
        }
    })
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}
