//! Durable streams (`/v1/stream/…`): the protocol against its own conformance suite, what Sluice
//! adds (owners, stream tokens, CORS, nodes, refusals, purges) and Chromium's `EventSource`.
//! (Faults: `durable_streams_faults.rs`, a binary of its own.)
//!
//! One test binary per area: each links the whole stack, so files are modules here rather
//! than binaries of their own (disk and link time); every test still starts its own stack.

mod access;
mod browser;
mod conformance;
mod storage;
