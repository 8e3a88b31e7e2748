//! Registers every built-in function, one module per family.

use super::FunctionRegistry;

pub(super) fn register(registry: &mut FunctionRegistry) {
    super::nulls::register(registry);
    super::string::register(registry);
    super::math::register(registry);
    super::aggregate::register(registry);
    super::table::register(registry);
}
