//! The OAuth 2.0 Device Authorization Grant (RFC 8628), how the CLI signs in:
//! the device asks for codes and polls (`grant`), the person approves on the web page
//! (`page`) or through the API (`approve`); wrong codes are budgeted (`guesses`).

pub mod approve;
pub mod grant;
mod guesses;
pub mod page;
mod store;
mod user_code;
