//! Conversations and what people do with them: cancel, edit, regenerate, titles, folders,
//! search, attachments and files, export and import.
//!
//! One test binary per area: each links the whole stack, so files are modules here rather
//! than binaries of their own (disk and link time); every test still starts its own stack.

mod attachments;
mod cancel;
mod edit;
mod export;
mod files;
mod folders;
mod import;
mod import_chatgpt;
mod regenerate;
mod search;
mod titles;
