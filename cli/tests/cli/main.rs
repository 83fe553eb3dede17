//! The real `sluice` binary against the real stack, as a person or a script uses it: sign-in
//! by the device flow (with a real browser too), chat in a terminal, `ask`, conversations,
//! folders, search, export and import, provider keys and usage.
//!
//! One test binary: each links the whole stack, so files are modules here rather than binaries
//! of their own (disk and link time); every test still starts its own stack.

mod support;

mod ask;
mod chat_repl;
mod device_in_browser;
mod export;
mod folders;
mod login;
mod provider_keys;
mod search;
mod usage;
