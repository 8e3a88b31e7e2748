//! Tests of the datetime functions.

use super::*;
