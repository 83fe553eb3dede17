//! Request-wide layers that make every answer follow the API's rules, whichever route (or no
//! route) handled the request: bodies are bounded and free of NUL characters, every error is
//! JSON in the API's shape, and no response can be sniffed into another content type.

pub mod body;
pub mod cors;
pub mod error_shape;

/// The OAuth endpoints (RFC 8628 device grant), whose errors use RFC 6749's shape.
pub fn is_oauth_endpoint(path: &str) -> bool {
    matches!(path, "/api/auth/device/code" | "/api/auth/device/token")
}
