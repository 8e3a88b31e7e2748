//! Aggregate functions, one module per family.

mod count;
mod sum;

use super::FunctionRegistry;

pub(super) fn register(registry: &mut FunctionRegistry) {
    count::register(registry);
    sum::register(registry);
}
