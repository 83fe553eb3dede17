//! Server-Sent Events as OpenAPI 3.1 describes them: a `text/event-stream` response's schema
//! is one event — its `event`, `id` and `data` fields — and `data` is a string that holds
//! JSON, said with `contentMediaType` and `contentSchema` (what tools such as schemathesis
//! decode and check). Routes describe their stream by its payload type (`body = StreamEvent`);
//! this rewrites each such schema into the event that carries it.

use serde_json::{Value, json};

const EVENT_STREAM: &str = "text/event-stream";

/// Rewrites every event-stream response schema of the document `doc` (as JSON).
pub fn describe(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for operation in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in operation.values_mut() {
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            for response in responses.values_mut() {
                if let Some(media) =
                    response.pointer_mut(&format!("/content/{}", escape(EVENT_STREAM)))
                    && let Some(payload) = media.get("schema").cloned()
                    // A named event type; a plain string (durable streams' events) stays.
                    && payload.get("$ref").is_some()
                {
                    media["schema"] = event_carrying(payload);
                }
            }
        }
    }
}

/// One event whose `data` is `payload` as JSON — or, on `/v1`, OpenAI's closing `[DONE]`.
fn event_carrying(payload: Value) -> Value {
    let json_data = json!({
        "type": "string",
        "contentMediaType": "application/json",
        "contentSchema": payload,
    });
    let done =
        json!({ "const": "[DONE]", "description": "OpenAI's end of the stream (`/v1` only)" });
    json!({
        "type": "object",
        "required": ["data"],
        "properties": {
            "event": {
                "type": "string",
                "description": "The event's type (absent on `/v1`, whose chunks carry none)"
            },
            "id": {
                "type": "string",
                "pattern": "^[0-9]+$",
                "description": "Send it back as `Last-Event-ID` to resume after this event"
            },
            "retry": { "type": "integer", "minimum": 0 },
            "data": { "anyOf": [json_data, done] }
        }
    })
}

/// A JSON pointer segment (`/` is `~1`).
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_stream_schema_becomes_the_event_that_carries_it() {
        let mut doc = json!({ "paths": { "/s": { "get": { "responses": { "200": { "content": {
            "text/event-stream": { "schema": { "$ref": "#/components/schemas/StreamEvent" } },
            "application/json": { "schema": { "type": "string" } }
        } } } } } } });
        describe(&mut doc);
        let content = &doc["paths"]["/s"]["get"]["responses"]["200"]["content"];
        let data = &content[EVENT_STREAM]["schema"]["properties"]["data"]["anyOf"][0];
        assert_eq!(
            data["contentSchema"]["$ref"],
            "#/components/schemas/StreamEvent"
        );
        assert_eq!(content["application/json"]["schema"]["type"], "string");
    }
}
