//! The nodes SQL queries run as, on eddy-streams' runtime: decoding sources into Arrow
//! batches, built column by column ([`columns`]), or into typed rows ([`source`]);
//! vectorised stateless stages ([`stage`]); conversions between batches and the rows the
//! DSL's stateful operators work on ([`convert`]); sinks ([`sink`]) and push-query
//! outputs ([`transient`]); serdes of rows ([`serdes`]); the processing log
//! ([`processing_log`]).

pub mod aggregate;
pub mod batch;
pub mod columns;
pub mod convert;
pub mod flatmap;
pub mod processing_log;
pub mod serdes;
pub mod sink;
pub mod source;
pub mod stage;
pub mod transient;
