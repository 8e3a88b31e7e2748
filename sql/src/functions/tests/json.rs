//! Tests of the json functions.

use super::*;
