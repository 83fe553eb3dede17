//! The web app in a real browser (headless Chromium over WebDriver) against the real stack:
//! one binary for every page's tests, so the stack is linked once (each test starts its own
//! browser and stack).
//!
//! One test binary per area: each links the whole stack, so files are modules here rather
//! than binaries of their own (disk and link time); every test still starts its own stack.

mod account;
mod attach;
mod chat;
mod conversation_menu;
mod edges;
mod edit;
mod elsewhere;
mod folders;
mod import;
mod limits;
mod markdown;
mod phone;
mod provider_keys;
mod search;
mod sidebar;
mod titles;
mod usage;
