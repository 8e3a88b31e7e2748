//! Window definitions: time windows (tumbling and hopping), sliding windows, session
//! windows, join windows, and when windowed results are emitted.
//!
//! Semantics follow Kafka Streams:
//! - a time window is `[start, start + size)`; windows start at multiples of `advance`
//!   (tumbling: `advance == size`), so a record falls in `size / advance` windows;
//! - a record is *late* for a window once the aggregation's stream time (the largest record
//!   time it has seen) has passed `window end + grace`; late records are dropped and counted
//!   in the task's `late_dropped` metric;
//! - a session of a key grows while records arrive within `gap` of it, and merges sessions
//!   a record bridges; a session closes at `end + gap + grace` of stream time;
//! - a sliding window `[start, start + difference]` includes both ends; windows exist only
//!   where they hold records: each record's `[t - difference, t]`, and `[t + 1, t + 1 +
//!   difference]` when later records fall in it; it closes once stream time passes
//!   `end + grace`;
//! - stores keep windows for `size + grace` (sessions: `gap + grace`) behind stream time,
//!   or longer with `with_retention` (Kafka Streams' `Materialized.withRetention`), for
//!   interactive queries of older windows. As in Kafka Streams, reads skip what is past
//!   retention, and on-close emission reads the store: when stream time jumps ahead by more
//!   than the retention allows, some closed time windows are never emitted.

use std::time::Duration;

use crate::error::{Error, Result};

/// A duration in milliseconds, at most the largest record time (so that window arithmetic
/// on record times, sizes and graces cannot overflow).
fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis())
        .unwrap_or(i64::MAX)
        .min(crate::ops::source::MAX_TIMESTAMP)
}

/// Tumbling or hopping time windows (Kafka Streams' `TimeWindows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindows {
    /// Window size, milliseconds.
    pub size_ms: i64,
    /// Distance between window starts, milliseconds (`== size` for tumbling windows).
    pub advance_ms: i64,
    /// How long after its end a window still accepts records.
    pub grace_ms: i64,
    /// How long the store keeps windows, if set with [`with_retention`](Self::with_retention)
    /// (default: `size + grace`).
    pub retention_override_ms: Option<i64>,
}

impl TimeWindows {
    /// Tumbling windows of `size` that accept no late records.
    ///
    /// ```
    /// use std::time::Duration;
    /// use eddy_streams::TimeWindows;
    /// let w = TimeWindows::of_size_with_no_grace(Duration::from_secs(60));
    /// assert_eq!(w.windows_for(125_000).collect::<Vec<_>>(), vec![(120_000, 180_000)]);
    /// let hopping = w.advance_by(Duration::from_secs(30)).unwrap();
    /// assert_eq!(
    ///     hopping.windows_for(125_000).collect::<Vec<_>>(),
    ///     vec![(90_000, 150_000), (120_000, 180_000)]
    /// );
    /// ```
    pub fn of_size_with_no_grace(size: Duration) -> Self {
        Self::of_size_and_grace(size, Duration::ZERO)
    }

    /// Tumbling windows of `size` that accept records up to `grace` after they end.
    pub fn of_size_and_grace(size: Duration, grace: Duration) -> Self {
        let size_ms = ms(size).max(1);
        Self {
            size_ms,
            advance_ms: size_ms,
            grace_ms: ms(grace),
            retention_override_ms: None,
        }
    }

    /// Keeps windows in the aggregation's store for `retention` behind stream time instead
    /// of `size + grace` (Kafka Streams' `Materialized.withRetention`), so that interactive
    /// queries see older windows. It must be at least `size + grace`, since windows still
    /// open must be kept; a shorter one is an [`Error::Config`](crate::Error::Config), as in
    /// Kafka Streams.
    ///
    /// ```
    /// use std::time::Duration;
    /// use eddy_streams::TimeWindows;
    /// let w = TimeWindows::of_size_and_grace(Duration::from_secs(60), Duration::from_secs(10));
    /// assert_eq!(w.retention_ms(), 70_000);
    /// let kept = w.with_retention(Duration::from_secs(3600)).unwrap();
    /// assert_eq!(kept.retention_ms(), 3_600_000);
    /// assert!(w.with_retention(Duration::from_secs(69)).is_err());
    /// ```
    pub fn with_retention(self, retention: Duration) -> Result<Self> {
        let retention_ms = ms(retention);
        check_retention(
            retention_ms,
            self.size_ms.saturating_add(self.grace_ms),
            "window size plus the grace period",
        )?;
        Ok(Self {
            retention_override_ms: Some(retention_ms),
            ..self
        })
    }

    /// Hopping windows: a new window every `advance`, which must be in `(0, size]`.
    pub fn advance_by(self, advance: Duration) -> Result<Self> {
        let advance_ms = ms(advance);
        if advance_ms <= 0 || advance_ms > self.size_ms {
            return Err(Error::Config(format!(
                "window advance must be in (0, size = {} ms], got {advance_ms} ms",
                self.size_ms
            )));
        }
        Ok(Self { advance_ms, ..self })
    }

    /// The windows `[start, end)` that hold a record at `timestamp` (>= 0), oldest first.
    pub fn windows_for(&self, timestamp: i64) -> impl Iterator<Item = (i64, i64)> + use<> {
        let (size, advance) = (self.size_ms, self.advance_ms);
        let first = ((timestamp - size + advance).max(0) / advance) * advance;
        (0..)
            .map(move |i| first + i * advance)
            .take_while(move |start| *start <= timestamp)
            .map(move |start| (start, start + size))
    }

    /// How long the store keeps windows: the retention set with
    /// [`with_retention`](Self::with_retention), else `size + grace`, behind the newest
    /// window start. Reads skip older windows, as Kafka Streams' do; since on-close
    /// emission reads the closed windows back after writing a record's windows, a record
    /// more than the retention ahead of a closed window's start hides it for good.
    pub fn retention_ms(&self) -> i64 {
        self.retention_override_ms
            .unwrap_or_else(|| self.size_ms.saturating_add(self.grace_ms))
    }

    /// Checks the retention (the fields are public, so it may have been set directly).
    pub(crate) fn validate(&self) -> Result<()> {
        match self.retention_override_ms {
            Some(retention) => check_retention(
                retention,
                self.size_ms.saturating_add(self.grace_ms),
                "window size plus the grace period",
            ),
            None => Ok(()),
        }
    }
}

/// A retention override of at least `minimum`, or a configuration error.
fn check_retention(retention_ms: i64, minimum: i64, what: &str) -> Result<()> {
    if retention_ms < minimum {
        return Err(Error::Config(format!(
            "the retention of a window or session store must be at least the {what} ({minimum} ms), \
             got {retention_ms} ms"
        )));
    }
    Ok(())
}

/// Sliding windows (Kafka Streams' `SlidingWindows`): one window per distinct set of records
/// lying at most `time_difference` apart, both ends included.
///
/// ```
/// use std::time::Duration;
/// use eddy_streams::SlidingWindows;
/// let w = SlidingWindows::of_time_difference_and_grace(
///     Duration::from_secs(10),
///     Duration::from_secs(1),
/// );
/// assert_eq!((w.time_difference_ms, w.grace_ms), (10_000, 1_000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindows {
    /// The most two records of a window may be apart (`end - start`), milliseconds.
    pub time_difference_ms: i64,
    /// How long after its end a window still accepts records.
    pub grace_ms: i64,
}

impl SlidingWindows {
    /// Windows of records at most `difference` apart, accepting no late records.
    pub fn of_time_difference_with_no_grace(difference: Duration) -> Self {
        Self::of_time_difference_and_grace(difference, Duration::ZERO)
    }

    /// Windows of records at most `difference` apart, accepting records `grace` late.
    pub fn of_time_difference_and_grace(difference: Duration, grace: Duration) -> Self {
        Self {
            time_difference_ms: ms(difference),
            grace_ms: ms(grace),
        }
    }

    /// How long the store must keep windows, behind the newest window start: a record that
    /// is not late (`t + 1 + difference > stream time - grace`) reads windows starting from
    /// `t - 2 * difference`, and the newest start may be `stream time + 1`. (Kafka Streams
    /// keeps `2 * difference + grace`; Eddy's reads never return windows past retention, so it
    /// keeps the extra `difference + 2` those reads need.)
    pub fn retention_ms(&self) -> i64 {
        self.time_difference_ms
            .saturating_mul(3)
            .saturating_add(self.grace_ms)
            .saturating_add(2)
    }
}

/// Session windows (Kafka Streams' `SessionWindows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionWindows {
    /// Inactivity gap that ends a session, milliseconds.
    pub gap_ms: i64,
    /// How long after a session could close it still accepts records.
    pub grace_ms: i64,
    /// How long the store keeps sessions, if set with
    /// [`with_retention`](Self::with_retention) (default: `gap + grace`).
    pub retention_override_ms: Option<i64>,
}

impl SessionWindows {
    /// Sessions that end after `gap` without records, with no grace.
    pub fn with_inactivity_gap_and_no_grace(gap: Duration) -> Self {
        Self::with_inactivity_gap_and_grace(gap, Duration::ZERO)
    }

    /// Sessions that end after `gap` without records, accepting records `grace` late.
    pub fn with_inactivity_gap_and_grace(gap: Duration, grace: Duration) -> Self {
        Self {
            gap_ms: ms(gap).max(1),
            grace_ms: ms(grace),
            retention_override_ms: None,
        }
    }

    /// Keeps sessions in the aggregation's store for `retention` behind stream time instead
    /// of `gap + grace` (Kafka Streams' `Materialized.withRetention`). It must be at least
    /// `gap + grace`, as in Kafka Streams (a shorter one is an
    /// [`Error::Config`](crate::Error::Config)). Records find the sessions they merge with
    /// only within the retention, so a longer one also lets a record merge with a session
    /// that has already closed, as in Kafka Streams.
    ///
    /// ```
    /// use std::time::Duration;
    /// use eddy_streams::SessionWindows;
    /// let s = SessionWindows::with_inactivity_gap_and_grace(Duration::from_secs(5), Duration::from_secs(1));
    /// assert_eq!(s.retention_ms(), 6_000);
    /// assert_eq!(s.with_retention(Duration::from_secs(60)).unwrap().retention_ms(), 60_000);
    /// assert!(s.with_retention(Duration::from_millis(5_999)).is_err());
    /// ```
    pub fn with_retention(self, retention: Duration) -> Result<Self> {
        let retention_ms = ms(retention);
        check_retention(
            retention_ms,
            self.gap_ms.saturating_add(self.grace_ms),
            "inactivity gap plus the grace period",
        )?;
        Ok(Self {
            retention_override_ms: Some(retention_ms),
            ..self
        })
    }

    /// How long the store keeps sessions: the retention set with
    /// [`with_retention`](Self::with_retention), else `gap + grace`, as in Kafka Streams.
    /// Reads skip sessions ending at or before the newest session end minus the retention,
    /// so by default a record never finds, and never merges with, a session that has closed.
    pub fn retention_ms(&self) -> i64 {
        self.retention_override_ms
            .unwrap_or_else(|| self.gap_ms.saturating_add(self.grace_ms))
    }

    /// Checks the retention (the fields are public, so it may have been set directly).
    pub(crate) fn validate(&self) -> Result<()> {
        match self.retention_override_ms {
            Some(retention) => check_retention(
                retention,
                self.gap_ms.saturating_add(self.grace_ms),
                "inactivity gap plus the grace period",
            ),
            None => Ok(()),
        }
    }
}

/// Which records of two streams join (Kafka Streams' `JoinWindows`): a left record at `t`
/// joins right records in `[t - before, t + after]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinWindows {
    /// How far a right record may precede the left one, milliseconds.
    pub before_ms: i64,
    /// How far a right record may follow the left one, milliseconds.
    pub after_ms: i64,
    /// How long after the window closes records are still accepted.
    pub grace_ms: i64,
    /// Left and outer joins emit a record's unmatched result only once its window has
    /// closed (Kafka Streams' spurious-result fix). Off for [`JoinWindows::of`]'s legacy
    /// windows, which emit it at once when a record finds no match, and still emit the
    /// joined results of matches arriving later.
    pub spurious_result_fix: bool,
}

/// Kafka Streams' legacy default: a join window's records are kept 24 hours.
const LEGACY_MAINTAIN_MS: i64 = 86_400_000;

impl JoinWindows {
    /// Kafka Streams' deprecated `JoinWindows.of`: records at most `difference` apart join,
    /// the grace period is what remains of 24 hours after the window, and unmatched
    /// results are emitted eagerly (see [`JoinWindows::spurious_result_fix`]). ksqlDB runs
    /// joins without a `GRACE PERIOD` this way.
    pub fn of(difference: Duration) -> Self {
        Self {
            before_ms: ms(difference),
            after_ms: ms(difference),
            grace_ms: 0,
            spurious_result_fix: false,
        }
        .with_legacy_grace()
    }

    fn with_legacy_grace(self) -> Self {
        if self.spurious_result_fix {
            return self;
        }
        let size = self.before_ms.saturating_add(self.after_ms);
        Self {
            grace_ms: (LEGACY_MAINTAIN_MS - size).max(0),
            ..self
        }
    }

    /// Records at most `difference` apart join; no grace.
    pub fn of_time_difference_with_no_grace(difference: Duration) -> Self {
        Self::of_time_difference_and_grace(difference, Duration::ZERO)
    }

    /// Records at most `difference` apart join; records up to `grace` late are accepted.
    pub fn of_time_difference_and_grace(difference: Duration, grace: Duration) -> Self {
        Self {
            before_ms: ms(difference),
            after_ms: ms(difference),
            grace_ms: ms(grace),
            spurious_result_fix: true,
        }
    }

    /// Sets how far a right record may precede the left one.
    pub fn before(self, before: Duration) -> Self {
        Self {
            before_ms: ms(before),
            ..self
        }
        .with_legacy_grace()
    }

    /// Sets how far a right record may follow the left one.
    pub fn after(self, after: Duration) -> Self {
        Self {
            after_ms: ms(after),
            ..self
        }
        .with_legacy_grace()
    }

    /// How long each side's buffer keeps records.
    pub fn retention_ms(&self) -> i64 {
        self.before_ms
            .saturating_add(self.after_ms)
            .saturating_add(self.grace_ms)
            .max(1)
    }
}

/// When a windowed aggregation forwards results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmitStrategy {
    /// Every update of a window (the default).
    #[default]
    OnWindowUpdate,
    /// Only the final result, once the window has closed (end + grace passed). The windows
    /// wait in the aggregation's window store, not in memory (Kafka Streams' `emitFinal`,
    /// the successor of `suppress(untilWindowCloses)`).
    OnWindowClose,
}

impl EmitStrategy {
    /// [`EmitStrategy::OnWindowClose`], named as in Kafka Streams.
    pub fn on_window_close() -> Self {
        Self::OnWindowClose
    }

    /// [`EmitStrategy::OnWindowUpdate`], named as in Kafka Streams.
    pub fn on_window_update() -> Self {
        Self::OnWindowUpdate
    }
}
