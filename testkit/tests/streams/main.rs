//! The spine and its transports: a message through the queue, a worker and JetStream to SSE,
//! resumable; `EventSource`-behaving clients, the WebSocket, stream tokens, the hand-off to
//! workers, two APIs, and client addresses behind the shipped nginx.
//!
//! One test binary per area: each links the whole stack, so files are modules here rather
//! than binaries of their own (disk and link time); every test still starts its own stack.

mod client_addresses;
mod contract;
mod early_call;
mod event_source;
mod handoff;
mod streaming;
mod tokens;
mod two_apis;
mod websocket;
