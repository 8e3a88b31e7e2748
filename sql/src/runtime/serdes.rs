//! Rows as eddy-streams serdes: the key format's codec for keys (what partitioning and
//! Kafka Streams' windowed-key layouts are computed over), Eddy's internal encoding for
//! values of repartition topics and state stores.

use std::sync::Arc;

use eddy_state::Serde;
use eddy_streams::serdes::SerdeRef;

use crate::serde::binary::BinaryCodec;
use crate::serde::codec::CodecRef;
use crate::types::SqlType;
use crate::value::{Row, Value};

/// A serde of rows through a codec. A null (no bytes) reads as a row of NULLs.
#[derive(Debug, Clone)]
pub struct RowSerde {
    codec: CodecRef,
    width: usize,
}

impl RowSerde {
    /// Rows of `width` columns through `codec`.
    pub fn new(codec: CodecRef, width: usize) -> Self {
        Self { codec, width }
    }

    /// A shared serde.
    pub fn shared(codec: CodecRef, width: usize) -> SerdeRef<Row> {
        Arc::new(Self::new(codec, width))
    }

    /// Eddy's internal encoding for rows of `types`.
    pub fn internal(types: Vec<SqlType>) -> SerdeRef<Row> {
        let width = types.len();
        Arc::new(Self::new(Arc::new(BinaryCodec::new(types)), width))
    }
}

impl Serde<Row> for RowSerde {
    fn serialize(&self, value: &Row) -> eddy_state::Result<Vec<u8>> {
        self.codec
            .encode(value)
            .map(Option::unwrap_or_default)
            .map_err(|e| eddy_state::Error::Encode {
                what: "row",
                reason: e.to_string(),
            })
    }

    fn deserialize(&self, bytes: &[u8]) -> eddy_state::Result<Row> {
        if bytes.is_empty() && self.width > 0 {
            return Ok(vec![Value::Null; self.width]);
        }
        match self.codec.decode(bytes) {
            Ok(Some(row)) => Ok(row),
            Ok(None) => Ok(vec![Value::Null; self.width]),
            Err(e) => Err(eddy_state::Error::Decode {
                what: "row",
                reason: e.to_string(),
            }),
        }
    }
}

/// Keys of windowed rows, whose last two values are the window's start and end, in Kafka
/// Streams' layouts: time windows as the inner key then the start (8 bytes, big-endian),
/// sessions as the inner key, the end, then the start.
#[derive(Debug, Clone)]
pub struct WindowedRowSerde {
    inner: CodecRef,
    inner_width: usize,
    /// Window size for time windows; `None` for sessions.
    size_ms: Option<i64>,
}

impl WindowedRowSerde {
    /// Windowed keys whose inner key has `inner_width` columns encoded by `inner`.
    pub fn shared(inner: CodecRef, inner_width: usize, size_ms: Option<i64>) -> SerdeRef<Row> {
        Arc::new(Self {
            inner,
            inner_width,
            size_ms,
        })
    }
}

impl Serde<Row> for WindowedRowSerde {
    fn serialize(&self, value: &Row) -> eddy_state::Result<Vec<u8>> {
        let n = value.len().saturating_sub(2);
        let time = |v: &Value| v.as_i64().unwrap_or(0).to_be_bytes();
        let mut bytes = if self.inner_width == 0 {
            Vec::new()
        } else {
            self.codec_encode(&value[..n])?
        };
        match self.size_ms {
            Some(_) => bytes.extend_from_slice(&time(&value[n])),
            None => {
                bytes.extend_from_slice(&time(&value[n + 1]));
                bytes.extend_from_slice(&time(&value[n]));
            }
        }
        Ok(bytes)
    }

    fn deserialize(&self, bytes: &[u8]) -> eddy_state::Result<Row> {
        let tail = if self.size_ms.is_some() { 8 } else { 16 };
        if bytes.len() < tail {
            return Err(eddy_state::Error::Decode {
                what: "windowed key",
                reason: format!("{} bytes, shorter than the window's {tail}", bytes.len()),
            });
        }
        let n = bytes.len() - tail;
        let time = |b: &[u8]| i64::from_be_bytes(b.try_into().unwrap_or([0; 8]));
        let (start, end) = match self.size_ms {
            Some(size) => {
                let start = time(&bytes[n..]);
                (start, start.saturating_add(size))
            }
            None => (time(&bytes[n + 8..]), time(&bytes[n..n + 8])),
        };
        let mut row = if self.inner_width == 0 {
            Vec::new()
        } else {
            match self.inner.decode(&bytes[..n]) {
                Ok(Some(row)) => row,
                Ok(None) => vec![Value::Null; self.inner_width],
                Err(e) => {
                    return Err(eddy_state::Error::Decode {
                        what: "windowed key",
                        reason: e.to_string(),
                    });
                }
            }
        };
        row.push(Value::BigInt(start));
        row.push(Value::BigInt(end));
        Ok(row)
    }
}

impl WindowedRowSerde {
    fn codec_encode(&self, inner: &[Value]) -> eddy_state::Result<Vec<u8>> {
        self.inner
            .encode(inner)
            .map(Option::unwrap_or_default)
            .map_err(|e| eddy_state::Error::Encode {
                what: "windowed key",
                reason: e.to_string(),
            })
    }
}
