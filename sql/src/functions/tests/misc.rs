//! Tests of the misc functions.

use super::*;
