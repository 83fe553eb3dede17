//! What is counted and limited, as users and operators see it: usage, limits and budgets,
//! `/metrics`, and traces.
//!
//! One test binary per area: each links the whole stack, so files are modules here rather
//! than binaries of their own (disk and link time); every test still starts its own stack.

mod limits;
mod metrics;
mod traces;
mod usage;
