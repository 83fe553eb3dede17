//! LLM providers against fake upstreams speaking each vendor's wire format: OpenAI-compatible,
//! Anthropic and Gemini, failover across deployments, users' own provider keys, and the
//! OpenAI-compatible door (`/v1`) driven by a real OpenAI client library.
//!
//! One test binary per area: each links the whole stack, so files are modules here rather
//! than binaries of their own (disk and link time); every test still starts its own stack.

mod failover;
mod formats;
mod openai;
mod openai_compatible;
mod own_key_secrecy;
mod own_keys;
