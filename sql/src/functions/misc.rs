//! misc functions (see the module list in `functions/builtin.rs`).

use super::FunctionRegistry;

pub(super) fn register(_r: &mut FunctionRegistry) {}
