//! GROUP BY, windows and HAVING.

use super::{PlanContext, PlannedQuery, Target};
use crate::error::{Result, SqlError};
use crate::parser::ast::Query;

/// Plans an aggregation.
pub fn plan(_ctx: &mut PlanContext<'_>, _query: &Query, _target: &Target) -> Result<PlannedQuery> {
    Err(SqlError::semantic("aggregations are being built"))
}
