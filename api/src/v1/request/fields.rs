//! Reading one field of a request as OpenAI does: the type first, then the range, with
//! OpenAI's error codes (`invalid_type`, `integer_below_min_value`, ...) and the field named in
//! `param`, so an SDK shows the same error it would get from OpenAI.

use serde_json::{Map, Value};

use super::super::error::V1Error;

type Body = Map<String, Value>;

/// Longest client text an error quotes: the rest is cut, so an error body stays small whatever
/// was sent (a field or model name is never this long).
const ECHO_CHARS: usize = 100;

/// `text` as an error message may quote it: at most `ECHO_CHARS` characters.
pub fn shortened(text: &str) -> String {
    match text.char_indices().nth(ECHO_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// The JSON type's name, as OpenAI's messages say it.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a decimal",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// 400 `invalid_type`: `field` holds a value of the wrong type.
pub fn wrong_type(field: &str, expected: &str, got: &Value) -> V1Error {
    V1Error::invalid(
        field,
        format!(
            "Invalid type for '{field}': expected {expected}, but got {} instead.",
            type_name(got)
        ),
    )
    .with_code("invalid_type")
}

/// A boolean field; absent or null is `false`.
pub fn flag(body: &Body, field: &str) -> Result<bool, V1Error> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(wrong_type(field, "a boolean", other)),
    }
}

/// A string field, if present.
pub fn string<'a>(body: &'a Body, field: &str) -> Result<Option<&'a str>, V1Error> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(wrong_type(field, "a string", other)),
    }
}

/// A number from `min` to `max`, if present.
pub fn number(body: &Body, field: &str, min: f64, max: f64) -> Result<Option<f32>, V1Error> {
    let Some(value) = body.get(field).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let Some(n) = value.as_f64() else {
        return Err(wrong_type(field, "a decimal", value));
    };
    if n < min {
        return out_of_range(field, "decimal_below_min_value", format!(">= {min}"), value);
    }
    if n > max {
        return out_of_range(field, "decimal_above_max_value", format!("<= {max}"), value);
    }
    Ok(Some(n as f32))
}

/// A whole number from `min` to `max`, if present.
pub fn whole_number(body: &Body, field: &str, min: i64, max: i64) -> Result<Option<i64>, V1Error> {
    let Some(value) = body.get(field).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let Some(n) = value.as_i64() else {
        // A decimal or a number too large for i64 is not a valid count either.
        return match value.as_u64() {
            Some(_) => out_of_range(field, "integer_above_max_value", format!("<= {max}"), value),
            None => Err(wrong_type(field, "an integer", value)),
        };
    };
    if n < min {
        return out_of_range(field, "integer_below_min_value", format!(">= {min}"), value);
    }
    if n > max {
        return out_of_range(field, "integer_above_max_value", format!("<= {max}"), value);
    }
    Ok(Some(n))
}

fn out_of_range<T>(field: &str, code: &str, bound: String, got: &Value) -> Result<T, V1Error> {
    Err(V1Error::invalid(
        field,
        format!(
            "Invalid '{field}': {}. Expected a value {bound}, but got {got} instead.",
            code.replace('_', " ")
        ),
    )
    .with_code(code))
}

/// `max_completion_tokens` and the older `max_tokens`: each, when sent, a whole number from 1
/// to the model's own limit. The newer field wins when both are sent.
pub fn max_tokens(body: &Body, model_limit: u32) -> Result<Option<u32>, V1Error> {
    let limit = i64::from(model_limit);
    let newer = whole_number(body, "max_completion_tokens", 1, limit)?;
    let older = whole_number(body, "max_tokens", 1, limit)?;
    Ok(newer.or(older).map(|n| n as u32))
}

/// `stop`: one string or up to 4.
pub fn stop(stop: Option<&Value>) -> Result<Vec<String>, V1Error> {
    let invalid = || V1Error::invalid("stop", "must be a string or an array of up to 4 strings");
    match stop {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) if !s.is_empty() => Ok(vec![s.clone()]),
        Some(Value::Array(items)) if items.len() <= 4 => items
            .iter()
            .map(|i| {
                i.as_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .ok_or_else(invalid)
            })
            .collect(),
        Some(_) => Err(invalid()),
    }
}

/// OpenAI's rule for `metadata`: up to 16 string values.
pub fn metadata(body: &Body) -> Result<(), V1Error> {
    match body.get("metadata") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(m)) if m.len() <= 16 && m.values().all(Value::is_string) => Ok(()),
        Some(_) => Err(V1Error::invalid(
            "metadata",
            "`metadata` must be an object of at most 16 string values",
        )),
    }
}

/// `stream_options.include_usage`; the options only with `stream`, and only the fields OpenAI
/// defines, each a boolean.
pub fn include_usage(body: &Body, stream: bool) -> Result<bool, V1Error> {
    let options = match body.get("stream_options") {
        None | Some(Value::Null) => return Ok(false),
        Some(Value::Object(o)) => o,
        Some(other) => return Err(wrong_type("stream_options", "an object", other)),
    };
    if !stream {
        return Err(V1Error::invalid(
            "stream_options",
            "`stream_options` is only allowed when `stream` is true",
        ));
    }
    for key in options.keys() {
        if !matches!(key.as_str(), "include_usage" | "include_obfuscation") {
            let key = shortened(key);
            return Err(V1Error::invalid(
                format!("stream_options.{key}"),
                format!("Unrecognized stream option: {key}"),
            ));
        }
    }
    let include = flag(options, "include_usage").map_err(|_| {
        wrong_type(
            "stream_options.include_usage",
            "a boolean",
            &options["include_usage"],
        )
    })?;
    flag(options, "include_obfuscation").map_err(|_| {
        wrong_type(
            "stream_options.include_obfuscation",
            "a boolean",
            &options["include_obfuscation"],
        )
    })?;
    Ok(include)
}
