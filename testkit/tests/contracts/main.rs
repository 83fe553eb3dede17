//! Contracts the rest relies on: bad input gets a clear error and changes nothing, nobody gets
//! into what is not theirs, and our statements on apalis's tables hold against apalis-postgres.
//!
//! One test binary per area: each links the whole stack, so files are modules here rather
//! than binaries of their own (disk and link time); every test still starts its own stack.

mod authorization_matrix;
mod bad_input;
mod bad_input_edges;
mod queue;
