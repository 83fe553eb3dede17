//! What the API and the worker both need: configuration, the job and event types that cross
//! the process boundary, NATS subject names, the API's request/response bodies, and the
//! database and NATS connections with their one-time setup.
#![forbid(unsafe_code)]

pub mod account_events;
pub mod batch;
pub mod config;
pub mod db;
pub mod dto;
pub mod envelope;
pub mod estimate;
pub mod events;
pub mod files;
pub mod handoff;
pub mod job;
pub mod message_status;
pub mod metrics;
pub mod nats;
pub mod process;
pub mod provider_keys;
pub mod queue;
pub mod saturation;
pub mod subjects;
pub mod telemetry;
pub mod title;

pub use config::Config;
