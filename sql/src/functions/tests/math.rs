//! Tests of the math functions.

use super::*;
