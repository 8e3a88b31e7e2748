//! Reading what queries wrote: a source's topic decoded with its formats
//! ([`Engine::scan`], for `eddy sql run` and the REPL's `PRINT`-like views), and waiting
//! until every running query has caught up with its input ([`Engine::wait_until_settled`]).

use std::time::{Duration, Instant};

use eddy_streams::record::SourceRecord;

use super::Engine;
use crate::error::{Result, SqlError};
use crate::parser::ast::SourceKind;
use crate::types::SqlType;
use crate::value::Row;

/// One record of a scanned source.
#[derive(Debug, Clone, PartialEq)]
pub struct ScannedRow {
    /// The key columns.
    pub key: Row,
    /// The window of a windowed key: start and end.
    pub window: Option<(i64, i64)>,
    /// The non-key columns; `None` for a tombstone.
    pub value: Option<Row>,
    /// The record time.
    pub timestamp: i64,
}

/// A source's records.
#[derive(Debug, Clone, PartialEq)]
pub struct Scan {
    /// Stream or table.
    pub kind: SourceKind,
    /// The key columns.
    pub key_columns: Vec<(String, SqlType)>,
    /// The non-key columns.
    pub value_columns: Vec<(String, SqlType)>,
    /// The records, partition by partition (tables: only each key's latest, deletes
    /// applied).
    pub rows: Vec<ScannedRow>,
    /// Records that could not be decoded (skipped).
    pub undecodable: usize,
}

impl Scan {
    /// The scan as a table's text: the header (key columns, `WINDOWSTART` and `WINDOWEND`
    /// when a key is windowed, value columns) and one row per record, streams in
    /// event-time order (records of different partitions interleave differently from run
    /// to run), tables in key order, so the same data shows the same every time.
    pub fn display_rows(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut header: Vec<String> = self.key_columns.iter().map(|(n, _)| n.clone()).collect();
        let windowed = self.rows.iter().any(|r| r.window.is_some());
        if windowed {
            header.push("WINDOWSTART".into());
            header.push("WINDOWEND".into());
        }
        header.extend(self.value_columns.iter().map(|(n, _)| n.clone()));
        let mut ordered: Vec<&ScannedRow> = self.rows.iter().collect();
        ordered.sort_by_key(|r| r.timestamp);
        let mut rows: Vec<Vec<String>> = ordered
            .into_iter()
            .map(|r| {
                let mut cells: Vec<String> = r
                    .key
                    .iter()
                    .zip(&self.key_columns)
                    .map(|(v, (_, t))| v.display(Some(t)))
                    .collect();
                if windowed {
                    let (s, e) = r.window.unwrap_or_default();
                    cells.push(s.to_string());
                    cells.push(e.to_string());
                }
                match &r.value {
                    Some(values) => cells.extend(
                        values
                            .iter()
                            .zip(&self.value_columns)
                            .map(|(v, (_, t))| v.display(Some(t))),
                    ),
                    None => cells.extend(self.value_columns.iter().map(|_| "<tombstone>".into())),
                }
                cells
            })
            .collect();
        if self.kind == SourceKind::Table {
            rows.sort();
        }
        (header, rows)
    }
}

impl Engine {
    /// The records of source `name`'s topic, at most `limit` read, decoded with its
    /// formats; for a table, each key's latest row.
    pub fn scan(&self, name: &str, limit: usize) -> Result<Scan> {
        let source = self.metastore.source(name).cloned().ok_or_else(|| {
            SqlError::semantic(format!(
                "{name} does not exist.{}",
                self.metastore.alternatives(name, None)
            ))
        })?;
        let ctx =
            crate::plan::PlanContext::new(&self.metastore, &self.registry, &self.config, "scan");
        let decoder = crate::plan::source::decoder(&ctx, &source)?;
        let mut rows: Vec<ScannedRow> = Vec::new();
        let mut undecodable = 0;
        for (_, offset, raw) in self.cluster.read(&source.topic, limit)? {
            let record = SourceRecord {
                offset,
                timestamp: raw.timestamp,
                key: raw.key,
                value: raw.value,
                headers: raw.headers,
            };
            match decoder.decode(&record) {
                Ok(d) => rows.push(ScannedRow {
                    key: d.key,
                    window: d.window,
                    value: d.value,
                    timestamp: d.timestamp,
                }),
                Err(_) => undecodable += 1,
            }
        }
        if source.kind == SourceKind::Table {
            // The latest row per key, in the order keys were first seen.
            let mut latest: Vec<ScannedRow> = Vec::new();
            for row in rows {
                match latest
                    .iter()
                    .position(|r| r.key == row.key && r.window == row.window)
                {
                    Some(i) => latest[i] = row,
                    None => latest.push(row),
                }
            }
            latest.retain(|r| r.value.is_some());
            rows = latest;
        }
        Ok(Scan {
            kind: source.kind,
            key_columns: source.key_columns(),
            value_columns: source
                .schema
                .non_key_columns()
                .map(|c| (c.name.clone(), c.ty.clone()))
                .collect(),
            rows,
            undecodable,
        })
    }

    /// Waits until every running persistent query has processed all the input it can see
    /// (no lag, at least one commit, nothing more processed over several checks), up to
    /// `timeout`; whether they settled.
    pub fn wait_until_settled(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut last: Option<u64> = None;
        let mut stable = 0;
        while Instant::now() < deadline {
            let mut processed = 0;
            let mut caught_up = true;
            for id in self.queries.keys() {
                match self.runner.app(id) {
                    Some(view) => {
                        processed += view.snapshot.processed;
                        caught_up &= view.snapshot.lag == 0 && view.snapshot.commits > 0;
                    }
                    None => caught_up = false,
                }
            }
            if caught_up && last == Some(processed) {
                stable += 1;
                if stable >= 3 {
                    return true;
                }
            } else {
                stable = 0;
            }
            last = Some(processed);
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}
