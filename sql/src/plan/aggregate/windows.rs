//! WINDOW clauses as eddy-streams' windows (TUMBLING, HOPPING, SESSION), with ksqlDB's
//! default grace periods.

use std::time::Duration;

use eddy_streams::{SessionWindows, TimeWindows};

use crate::catalog::{WindowInfo, WindowType};
use crate::error::{Result, SqlError};
use crate::parser::ast::WindowExpr;

/// The window's eddy-streams form and the sink's window info.
/// Without a GRACE PERIOD, windows get ksqlDB's default: what remains of 24 hours after the
/// window, or none with EMIT FINAL (ksqlDB's `RewrittenAnalysis`).
pub(super) fn windows(window: &WindowExpr, emit_final: bool) -> Result<(WindowInfo, WindowSetup)> {
    let day = 86_400_000u64;
    let ms = |d: &Duration| d.as_millis() as u64;
    let default_grace = |size: u64| {
        if emit_final {
            Duration::ZERO
        } else {
            Duration::from_millis(day.saturating_sub(size))
        }
    };
    Ok(match window {
        WindowExpr::Tumbling {
            size,
            retention,
            grace,
        } => {
            let grace = grace.unwrap_or_else(|| default_grace(ms(size)));
            let mut w = TimeWindows::of_size_and_grace(*size, grace);
            if let Some(r) = retention {
                w = w
                    .with_retention(*r)
                    .map_err(|e| SqlError::semantic(e.to_string()))?;
            }
            (
                WindowInfo {
                    kind: WindowType::Tumbling,
                    size_ms: Some(ms(size) as i64),
                },
                WindowSetup::Time(w),
            )
        }
        WindowExpr::Hopping {
            size,
            advance,
            retention,
            grace,
        } => {
            if advance > size {
                return Err(SqlError::semantic(format!(
                    "Window advance must be less than or equal to the window size. Got advance: {} ms, size: {} ms",
                    ms(advance),
                    ms(size)
                )));
            }
            let grace = grace.unwrap_or_else(|| default_grace(ms(size)));
            let mut w = TimeWindows::of_size_and_grace(*size, grace)
                .advance_by(*advance)
                .map_err(|e| SqlError::semantic(e.to_string()))?;
            if let Some(r) = retention {
                w = w
                    .with_retention(*r)
                    .map_err(|e| SqlError::semantic(e.to_string()))?;
            }
            (
                WindowInfo {
                    kind: WindowType::Hopping,
                    size_ms: Some(ms(size) as i64),
                },
                WindowSetup::Time(w),
            )
        }
        WindowExpr::Session {
            gap,
            retention,
            grace,
        } => {
            let grace = grace.unwrap_or_else(|| default_grace(ms(gap)));
            let mut w = SessionWindows::with_inactivity_gap_and_grace(*gap, grace);
            if let Some(r) = retention {
                w = w
                    .with_retention(*r)
                    .map_err(|e| SqlError::semantic(e.to_string()))?;
            }
            (
                WindowInfo {
                    kind: WindowType::Session,
                    size_ms: None,
                },
                WindowSetup::Session(w),
            )
        }
    })
}

pub(super) enum WindowSetup {
    Time(TimeWindows),
    Session(SessionWindows),
}
