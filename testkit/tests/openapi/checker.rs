//! Checks real responses against the document: status listed, body (or each SSE event, and
//! the JSON its `data` holds) matching the schema the document gives.

use std::collections::BTreeSet;

use serde_json::Value;
use sluice_testkit::TestApp;

use crate::operations;

pub(crate) const EVENT_STREAM: &str = "text/event-stream";

/// The events of an SSE body, each as the object the document's event schema describes: its
/// `event`, `id` and `data` fields as strings (several `data` lines joined by newlines), only
/// those present. Comments are skipped, and so are blocks without `data` (such as the `retry:`
/// hint that opens Sluice's streams), which SSE does not dispatch as events.
pub(crate) fn sse_events(text: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut fields = serde_json::Map::new();
    for line in text.lines().chain([""]) {
        if line.is_empty() {
            let block = std::mem::take(&mut fields);
            if block.contains_key("data") {
                events.push(Value::Object(block));
            }
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match (name, fields.get_mut(name)) {
            ("data", Some(Value::String(data))) => {
                data.push('\n');
                data.push_str(value);
            }
            ("data" | "event" | "id", _) => {
                fields.insert(name.to_string(), value.into());
            }
            _ => {}
        }
    }
    events
}

/// Asserts that `body` matches `schema`, compiled as `validator`; `what` names the response.
pub(crate) fn assert_valid(
    validator: &jsonschema::Validator,
    what: &str,
    schema: &Value,
    body: &Value,
) {
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match its schema:\n{}\nbody: {body}\nschema: {schema}",
        errors.join("\n")
    );
}

/// Checks real responses against the document and remembers which operations it saw.
pub(crate) struct Checker {
    doc: Value,
    seen: BTreeSet<(String, String)>,
}

impl Checker {
    pub(crate) fn new(doc: Value) -> Self {
        Self {
            doc,
            seen: BTreeSet::new(),
        }
    }

    /// Reads `r` (a response to `method path`) and checks it against its documented schema;
    /// returns the status and the JSON body (event streams: the `data` of each event).
    pub(crate) async fn check(
        &mut self,
        method: &str,
        path: &str,
        r: reqwest::Response,
    ) -> (u16, Value) {
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
            .unwrap_or_default();
        let text = r.text().await.unwrap();
        let response = &self.doc["paths"][path][method]["responses"][status.to_string()];
        assert!(
            response.is_object(),
            "{method} {path} answered {status}, which the document does not list: {text}"
        );
        if text.is_empty() {
            return (status, Value::Null);
        }
        let schema = &response["content"][&content_type]["schema"];
        assert!(
            schema.is_object(),
            "{method} {path} {status} answered {content_type}, undocumented: {response}"
        );
        let what = format!("{method} {path} {status}");
        let body = if content_type == EVENT_STREAM {
            self.check_events(&what, schema, &text)
        } else {
            let body = serde_json::from_str(&text).expect("a JSON body");
            assert_valid(&self.validator(&what, schema), &what, schema, &body);
            body
        };
        if content_type == "application/json" {
            self.seen.insert((method.to_string(), path.to_string()));
        }
        (status, body)
    }

    /// Checks each event of the stream `text` against the event schema `schema`, and the JSON
    /// in its `data` against the payload schema the event names; returns the payloads in order
    /// (without `/v1`'s closing `[DONE]`).
    pub(crate) fn check_events(&self, what: &str, schema: &Value, text: &str) -> Value {
        let payload_schema = &schema["properties"]["data"]["anyOf"][0]["contentSchema"];
        assert!(
            payload_schema.is_object(),
            "{what}: the event's data names its payload's schema: {schema}"
        );
        let event_validator = self.validator(what, schema);
        let payload_validator = self.validator(what, payload_schema);
        let mut payloads = Vec::new();
        for event in sse_events(text) {
            assert_valid(&event_validator, what, schema, &event);
            let data = event["data"].as_str().unwrap().trim();
            if data == "[DONE]" {
                continue;
            }
            let payload = serde_json::from_str(data).expect("event data is JSON");
            assert_valid(&payload_validator, what, payload_schema, &payload);
            payloads.push(payload);
        }
        Value::Array(payloads)
    }

    /// `schema` compiled with the document's components, which its `$ref`s name.
    pub(crate) fn validator(&self, what: &str, schema: &Value) -> jsonschema::Validator {
        let mut root = schema.clone();
        root["components"] = self.doc["components"].clone();
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("{what}: a usable schema: {e}"))
    }

    /// Operations whose success answer is JSON with a schema that no check has seen yet.
    pub(crate) fn unchecked_json_operations(&self) -> Vec<(String, String)> {
        self.json_operations()
            .difference(&self.seen)
            .cloned()
            .collect()
    }

    /// Operations whose success answer is JSON with a schema.
    fn json_operations(&self) -> BTreeSet<(String, String)> {
        let mut found = BTreeSet::new();
        for (method, path) in operations(&self.doc) {
            let responses = &self.doc["paths"][&path][&method]["responses"];
            let json_success = responses.as_object().unwrap().iter().any(|(status, r)| {
                status.starts_with('2') && r["content"]["application/json"]["schema"].is_object()
            });
            if json_success {
                found.insert((method, path));
            }
        }
        found
    }
}

/// `GET path` with `token` as the bearer.
pub(crate) async fn get(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.http
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}
