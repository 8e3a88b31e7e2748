//! What the Nexmark benchmarks share: the model and its encodings, the seeded generator, the
//! queries in the eddy-streams DSL, the hand-written baselines, and running an app on the
//! embedded backend (pre-loading topics, timing, reading outputs back).
//!
//! Included by `streams/benches/nexmark.rs` (the DSL against the baselines) and by
//! `sql/benches/nexmark_sql.rs` (the DSL against the same queries in SQL) with
//! `#[path = ".../nexmark_common/mod.rs"] mod nexmark_common;`, so both read the same events.
// Each bench uses part of it.
#![allow(dead_code)]

pub mod baseline;
pub mod generator;
pub mod model;
pub mod queries;
pub mod run;
