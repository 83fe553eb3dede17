//! Limits on free text a client sends, so no field can store megabytes or reach Postgres with
//! a character it rejects. (NUL characters are refused for every field by `middleware::body`.)

use crate::error::ApiError;

/// A display name, as long as a title.
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;
/// A conversation's system prompt.
pub const MAX_SYSTEM_PROMPT_CHARS: usize = 20_000;

pub use sluice_shared::title::is_unsafe_in_name;

/// 400 `invalid_name`, naming the field, when `value` holds a character a name may not.
pub fn name(field: &str, value: Option<&str>) -> Result<(), ApiError> {
    if value.is_some_and(|v| v.chars().any(is_unsafe_in_name)) {
        return Err(ApiError::bad_request(
            "invalid_name",
            format!(
                "{field} may not hold control characters, invisible spaces or marks that \
                 reorder text"
            ),
        ));
    }
    Ok(())
}

/// 400 `too_long`, naming the field, when `value` has more than `max` characters.
pub fn max_chars(field: &str, value: Option<&str>, max: usize) -> Result<(), ApiError> {
    match value {
        Some(v) if v.chars().count() > max => Err(ApiError::bad_request(
            "too_long",
            format!("{field} is limited to {max} characters"),
        )),
        _ => Ok(()),
    }
}
