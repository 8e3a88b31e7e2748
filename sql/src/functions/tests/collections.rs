//! Tests of the collections functions.

use super::*;
