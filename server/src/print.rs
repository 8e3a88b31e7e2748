//! `PRINT topic [FROM BEGINNING] [INTERVAL n] [LIMIT n]`: a topic's records as text, the way
//! ksqlDB prints them (`rowtime: 2022/12/02 17:22:02.556 UTC, key: 18, value: {...},
//! partition: 0`), after lines naming the key and value formats seen. Formats are guessed
//! from the bytes in ksqlDB's order: JSON, then the KAFKA integer types by length, then
//! KAFKA_STRING. Unlike ksqlDB, 4 or 8 bytes of printable text read as a string, not as an
//! integer; bytes that are none of these are shown as bytes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use eddy_sql::engine::Cluster;
use eddy_sql::engine::snapshot::Positions;
use eddy_streams::runtime::backend::Consumer;

use crate::rest::error::RestError;

/// What to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintSpec {
    /// The topic (case kept).
    pub topic: String,
    /// From the start, or only new records.
    pub from_beginning: bool,
    /// Every n-th record.
    pub interval: u64,
    /// At most this many records.
    pub limit: Option<u64>,
}

/// A running `PRINT`.
pub struct Printer {
    id: String,
    spec: PrintSpec,
    reader: Box<dyn Consumer>,
    /// Where each partition ended when the print started (records before are skipped
    /// without `FROM BEGINNING`).
    start: Positions,
    seen: u64,
    printed: u64,
    formats_shown: bool,
}

impl std::fmt::Debug for Printer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printer")
            .field("spec", &self.spec)
            .field("printed", &self.printed)
            .finish_non_exhaustive()
    }
}

/// The format a key or value reads as, and its text in it.
fn guess(bytes: Option<&[u8]>) -> (&'static str, String) {
    let Some(bytes) = bytes else {
        return ("<null>", "<null>".into());
    };
    if let Ok(text) = std::str::from_utf8(bytes)
        && let Ok(json) = serde_json::from_str::<serde_json::Value>(text)
        && (json.is_object() || json.is_array())
    {
        return ("JSON", text.to_string());
    }
    let text = std::str::from_utf8(bytes)
        .ok()
        .filter(|t| !t.chars().any(char::is_control));
    match bytes.len() {
        4 if text.is_none() => {
            let v = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            return ("KAFKA_INT", v.to_string());
        }
        8 if text.is_none() => {
            let mut b = [0; 8];
            b.copy_from_slice(bytes);
            return ("KAFKA_BIGINT", i64::from_be_bytes(b).to_string());
        }
        _ => {}
    }
    match text {
        Some(text) => ("KAFKA_STRING", text.to_string()),
        None => ("UNRECOGNIZED_BYTES", format!("{bytes:?}")),
    }
}

/// `yyyy/MM/dd HH:mm:ss.SSS UTC`.
fn rowtime(ms: i64) -> String {
    let text = eddy_sql::functions::iso_timestamp(ms);
    format!("{} UTC", text.replace('-', "/").replacen('T', " ", 1))
}

impl Printer {
    /// Starts printing `spec.topic` on `cluster`.
    pub fn open(
        id: String,
        cluster: &Arc<dyn Cluster>,
        spec: PrintSpec,
    ) -> Result<Self, RestError> {
        let partitions = cluster
            .partitions(&spec.topic)
            .map_err(|e| RestError::server(e.to_string()))?
            .ok_or_else(|| {
                RestError::bad_request(format!(
                    "Could not find topic '{}'. Topic names are case-sensitive.",
                    spec.topic
                ))
            })?;
        let mut start = BTreeMap::new();
        if !spec.from_beginning {
            for p in 0..partitions {
                let end = cluster
                    .end_offset(&spec.topic, p)
                    .map_err(|e| RestError::server(e.to_string()))?;
                start.insert(p, end.unwrap_or(0));
            }
        }
        let reader = cluster
            .reader(&spec.topic)
            .map_err(|e| RestError::server(e.to_string()))?;
        Ok(Self {
            id,
            spec,
            reader,
            start,
            seen: 0,
            printed: 0,
            formats_shown: false,
        })
    }

    /// Its id (for `/close-query`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether its `LIMIT` was reached.
    pub fn is_complete(&self) -> bool {
        self.spec.limit.is_some_and(|l| self.printed >= l)
    }

    /// The lines of the records that came within `timeout`.
    pub fn next_lines(&mut self, timeout: Duration) -> eddy_sql::Result<Vec<String>> {
        let mut lines = Vec::new();
        for batch in self.reader.poll(timeout)? {
            for record in batch.records {
                if self.is_complete() {
                    return Ok(lines);
                }
                if record.offset < self.start.get(&batch.partition).copied().unwrap_or(0) {
                    continue;
                }
                self.seen += 1;
                if !(self.seen - 1).is_multiple_of(self.spec.interval.max(1)) {
                    continue;
                }
                let (key_format, key) = guess(record.key.as_deref());
                let (value_format, value) = guess(record.value.as_deref());
                if !self.formats_shown {
                    lines.push(format!("Key format: {key_format}"));
                    lines.push(format!("Value format: {value_format}"));
                    self.formats_shown = true;
                }
                lines.push(format!(
                    "rowtime: {}, key: {key}, value: {value}, partition: {}",
                    rowtime(record.timestamp),
                    batch.partition
                ));
                self.printed += 1;
            }
        }
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_guessed_as_ksqldb_orders_them() {
        assert_eq!(
            guess(Some(br#"{"a":1}"#)),
            ("JSON", r#"{"a":1}"#.to_string())
        );
        assert_eq!(guess(Some(b"u1")), ("KAFKA_STRING", "u1".to_string()));
        assert_eq!(guess(Some(b"abcd")), ("KAFKA_STRING", "abcd".to_string()));
        assert_eq!(
            guess(Some(&7i32.to_be_bytes())),
            ("KAFKA_INT", "7".to_string())
        );
        assert_eq!(
            guess(Some(&(-3i64).to_be_bytes())),
            ("KAFKA_BIGINT", "-3".to_string())
        );
        assert_eq!(guess(None), ("<null>", "<null>".to_string()));
        assert_eq!(rowtime(1_669_998_122_556), "2022/12/02 16:22:02.556 UTC");
    }
}
