//! Tests of the nulls functions.

use super::*;
