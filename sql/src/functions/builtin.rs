//! Registers every built-in function, one module per family:
//!
//! - `nulls`: COALESCE, IFNULL, NULLIF;
//! - `string`: string functions (UCASE, SUBSTRING, INSTR, SPLIT, LPAD, REGEXP_*, ...);
//! - `math`: numeric functions (ABS, ROUND, FLOOR, GREATEST, ...);
//! - `datetime`: dates, times and timestamps (PARSE_TIMESTAMP, TIMESTAMPADD, ...);
//! - `collections`: arrays and maps (ARRAY_CONTAINS, SLICE, MAP_KEYS, ...);
//! - `json`: JSON text (EXTRACTJSONFIELD, TO_JSON_STRING, IS_JSON_STRING, ...);
//! - `misc`: URLs, bytes, geography, UUIDs and the rest;
//! - `aggregate`: aggregate functions;
//! - `table`: table functions.

use super::FunctionRegistry;

pub(super) fn register(registry: &mut FunctionRegistry) {
    super::nulls::register(registry);
    super::string::register(registry);
    super::math::register(registry);
    super::datetime::register(registry);
    super::collections::register(registry);
    super::json::register(registry);
    super::misc::register(registry);
    super::aggregate::register(registry);
    super::table::register(registry);
}
