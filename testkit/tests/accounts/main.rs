//! Accounts: sign-up and sign-in (passwords, cookies, the device flow, GitHub and Google),
//! sessions, API keys, roles and admin, a person's own account, and the account feed.
//!
//! One test binary per area: each links the whole stack, so files are modules here rather
//! than binaries of their own (disk and link time); every test still starts its own stack.

mod admin;
mod api_keys;
mod cookies;
mod device_flow;
mod feed;
mod oauth;
mod self_service;
mod sessions;
