//! [`TaskInput`]: the records a task has fetched but not processed, per input partition,
//! handed out oldest first across partitions (Kafka Streams' `PartitionGroup`).
//!
//! A task reading several partitions (a stream-table join's two topics, a merge) picks the
//! partition whose head record has the smallest timestamp, so that a table's rows are in
//! place before the stream records that come after them and windows see both sides in time
//! order. That choice is only sound when every partition has a head: a partition with
//! nothing buffered may still have older records on the broker. As Kafka Streams does with
//! its default `max.task.idle.ms=0` (KIP-695), the task then waits until that partition's
//! records are fetched, unless the partition is known to be caught up (its lag is 0); a
//! partition whose lag is not known yet is waited for too. A wait lasts at most `max_wait`
//! (a lag that never reaches 0, as when the log ends in records a consumer never returns);
//! then the task processes what it has, Kafka Streams' "enforced processing".

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crate::record::SourceRecord;

/// A task's buffered input.
#[derive(Debug, Default)]
pub(super) struct TaskInput {
    /// Buffered records per (topic, partition), in offset order.
    partitions: BTreeMap<(String, i32), VecDeque<SourceRecord>>,
    /// The partitions the task is waiting for, and since when (a wait starts over when
    /// the set changes, so a partition that runs dry later gets its own full wait).
    waiting: Option<(Vec<usize>, Instant)>,
}

impl TaskInput {
    /// Adds the partition to those the task reads (with nothing buffered yet).
    pub(super) fn add_partition(&mut self, topic: &str, partition: i32) {
        self.partitions
            .entry((topic.to_string(), partition))
            .or_default();
    }

    /// Buffers fetched records of one partition.
    pub(super) fn push(&mut self, topic: &str, partition: i32, records: Vec<SourceRecord>) {
        self.partitions
            .entry((topic.to_string(), partition))
            .or_default()
            .extend(records);
    }

    /// Records buffered in one partition.
    pub(super) fn buffered(&self, topic: &str, partition: i32) -> usize {
        self.partitions
            .get(&(topic.to_string(), partition))
            .map_or(0, VecDeque::len)
    }

    /// The next run of records to process, all of one partition, or `None` when nothing is
    /// buffered or the task must wait: some partition has nothing buffered and
    /// `lag(topic, partition)` is not `Some(0)`, for less than `max_wait` so far. With a
    /// single partition there is no order to keep, and everything buffered is handed out.
    pub(super) fn next_run(
        &mut self,
        lag: impl Fn(&str, i32) -> Option<i64>,
        now: Instant,
        max_wait: Duration,
    ) -> Option<(String, i32, Vec<SourceRecord>)> {
        if self.partitions.len() == 1 {
            let ((topic, partition), queue) = self.partitions.iter_mut().next()?;
            if queue.is_empty() {
                return None;
            }
            return Some((topic.clone(), *partition, queue.drain(..).collect()));
        }
        let waited_for: Vec<usize> = self
            .partitions
            .iter()
            .enumerate()
            .filter(|(_, ((t, p), q))| q.is_empty() && lag(t, *p) != Some(0))
            .map(|(i, _)| i)
            .collect();
        if waited_for.is_empty() {
            self.waiting = None;
        } else {
            let since = match &self.waiting {
                Some((set, since)) if *set == waited_for => *since,
                _ => {
                    self.waiting = Some((waited_for, now));
                    now
                }
            };
            if now.duration_since(since) < max_wait {
                return None;
            }
        }
        // Heads as (timestamp, index): ties go to the first partition, as a stable merge.
        let heads: Vec<(i64, usize)> = self
            .partitions
            .values()
            .enumerate()
            .filter_map(|(i, q)| q.front().map(|r| (r.timestamp, i)))
            .collect();
        let &(_, chosen) = heads.iter().min()?;
        let others = heads.iter().filter(|(_, i)| *i != chosen).min().copied();
        let ((topic, partition), queue) = self.partitions.iter_mut().nth(chosen)?;
        // The run goes on while this partition's head stays the oldest; if it runs dry, the
        // next call decides again whether to wait for it.
        let mut run = Vec::new();
        while let Some(head) = queue.front() {
            if others.is_some_and(|o| (head.timestamp, chosen) > o) {
                break;
            }
            run.extend(queue.pop_front());
        }
        Some((topic.clone(), *partition, run))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(1);

    fn records(first_offset: i64, timestamps: &[i64]) -> Vec<SourceRecord> {
        timestamps
            .iter()
            .enumerate()
            .map(|(i, &timestamp)| SourceRecord {
                offset: first_offset + i as i64,
                timestamp,
                key: None,
                value: None,
                headers: Vec::new(),
            })
            .collect()
    }

    fn offsets(run: &(String, i32, Vec<SourceRecord>)) -> (String, Vec<i64>) {
        (run.0.clone(), run.2.iter().map(|r| r.offset).collect())
    }

    #[test]
    fn hands_out_runs_oldest_first_across_partitions() {
        let mut input = TaskInput::default();
        input.push("a", 0, records(0, &[1, 2, 5, 9]));
        input.push("b", 0, records(10, &[3, 5, 6]));
        let caught_up = |_: &str, _: i32| Some(0);
        let mut runs = Vec::new();
        while let Some(run) = input.next_run(caught_up, Instant::now(), WAIT) {
            runs.push(offsets(&run));
        }
        let expected: Vec<(String, Vec<i64>)> = vec![
            ("a".into(), vec![0, 1]),
            ("b".into(), vec![10]),
            // A tie goes to the first partition.
            ("a".into(), vec![2]),
            ("b".into(), vec![11, 12]),
            ("a".into(), vec![3]),
        ];
        assert_eq!(runs, expected);
    }

    #[test]
    fn waits_for_an_empty_partition_unless_it_is_caught_up() {
        let now = Instant::now();
        let mut input = TaskInput::default();
        input.add_partition("table", 0);
        input.push("stream", 0, records(0, &[5]));
        // Lag unknown, or records on the broker not fetched yet: wait.
        assert!(input.next_run(|_, _| None, now, WAIT).is_none());
        assert!(input.next_run(|_, _| Some(3), now, WAIT).is_none());
        assert_eq!(input.buffered("stream", 0), 1);
        // The table's older row arrives: it goes first.
        input.push("table", 0, records(0, &[1]));
        let run = input.next_run(|_, _| Some(3), now, WAIT).unwrap();
        assert_eq!(offsets(&run), ("table".into(), vec![0]));
        // The table is drained and caught up: the stream goes on without waiting.
        let table_caught_up = |t: &str, _: i32| Some(if t == "table" { 0 } else { 7 });
        let run = input.next_run(table_caught_up, now, WAIT).unwrap();
        assert_eq!(offsets(&run), ("stream".into(), vec![0]));
        assert!(input.next_run(|_, _| Some(0), now, WAIT).is_none());
    }

    #[test]
    fn a_wait_ends_after_max_wait() {
        let start = Instant::now();
        let mut input = TaskInput::default();
        input.add_partition("table", 0);
        input.push("stream", 0, records(0, &[5]));
        assert!(input.next_run(|_, _| Some(1), start, WAIT).is_none());
        let later = start + WAIT / 2;
        assert!(input.next_run(|_, _| Some(1), later, WAIT).is_none());
        let run = input.next_run(|_, _| Some(1), start + WAIT, WAIT).unwrap();
        assert_eq!(offsets(&run), ("stream".into(), vec![0]));
    }

    #[test]
    fn a_wait_starts_over_when_another_partition_runs_dry() {
        let start = Instant::now();
        let mut input = TaskInput::default();
        input.add_partition("a", 0);
        input.add_partition("b", 0);
        input.push("c", 0, records(0, &[5, 6]));
        // Waiting for a (and b) ...
        assert!(input.next_run(|_, _| None, start, WAIT).is_none());
        // ... a is caught up now; b still empty: a new wait, not the rest of the old one.
        let only_b = |t: &str, _: i32| if t == "a" { Some(0) } else { None };
        let later = start + WAIT * 3 / 4;
        assert!(input.next_run(only_b, later, WAIT).is_none());
        assert!(input.next_run(only_b, start + WAIT, WAIT).is_none());
        assert!(input.next_run(only_b, later + WAIT, WAIT).is_some());
    }

    #[test]
    fn no_wait_at_zero() {
        let mut input = TaskInput::default();
        input.add_partition("table", 0);
        input.push("stream", 0, records(0, &[5]));
        let run = input.next_run(|_, _| None, Instant::now(), Duration::ZERO);
        assert_eq!(offsets(&run.unwrap()), ("stream".into(), vec![0]));
    }

    #[test]
    fn one_partition_never_waits() {
        let mut input = TaskInput::default();
        input.push("a", 3, records(7, &[9, 1]));
        let now = Instant::now();
        let run = input.next_run(|_, _| None, now, WAIT).unwrap();
        assert_eq!(offsets(&run), ("a".into(), vec![7, 8]));
        assert!(input.next_run(|_, _| None, now, WAIT).is_none());
    }
}
