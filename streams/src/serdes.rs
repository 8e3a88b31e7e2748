//! Serdes: how keys and values become bytes in topics and stores.
//!
//! The trait is eddy-state's [`Serde`]; implement it for your own encodings. [`Serdes`] has
//! constructors for the built-in ones (JSON via serde, UTF-8 strings, raw bytes, Kafka's
//! big-endian integers), and [`WindowedSerde`] writes windowed keys the way Kafka Streams'
//! windowed serdes do, so Java consumers of Eddy's output topics can read them.

use std::sync::Arc;

pub use eddy_state::typed::{
    BytesSerde, I32Serde, I64Serde, JsonSerde, OrderedI64Serde, Serde, StringSerde,
};

use crate::record::Windowed;

/// A shared serde, as the DSL passes them around.
pub type SerdeRef<T> = Arc<dyn Serde<T>>;

/// Constructors for the built-in serdes.
///
/// ```
/// use eddy_streams::serdes::Serdes;
/// let s = Serdes::string();
/// assert_eq!(s.serialize(&"hi".to_string()).unwrap(), b"hi");
/// assert_eq!(Serdes::i64().serialize(&1).unwrap(), [0, 0, 0, 0, 0, 0, 0, 1]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Serdes;

impl Serdes {
    /// UTF-8 strings (Kafka's `StringSerde`).
    pub fn string() -> SerdeRef<String> {
        Arc::new(StringSerde)
    }

    /// Bytes as they are.
    pub fn bytes() -> SerdeRef<Vec<u8>> {
        Arc::new(BytesSerde)
    }

    /// `i64` as 8 big-endian bytes (Kafka's `LongSerde`).
    pub fn i64() -> SerdeRef<i64> {
        Arc::new(I64Serde)
    }

    /// `i32` as 4 big-endian bytes (Kafka's `IntegerSerde`).
    pub fn i32() -> SerdeRef<i32> {
        Arc::new(I32Serde)
    }

    /// Any serde-serialisable type as JSON.
    pub fn json<T>() -> SerdeRef<T>
    where
        T: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
    {
        Arc::new(JsonSerde::<T>::new())
    }

    /// Windowed keys of time windows of `size_ms` (see [`WindowedSerde`]).
    pub fn time_windowed<K: 'static>(inner: SerdeRef<K>, size_ms: i64) -> SerdeRef<Windowed<K>> {
        Arc::new(WindowedSerde::time(inner, size_ms))
    }

    /// Windowed keys of session windows (see [`WindowedSerde`]).
    pub fn session_windowed<K: 'static>(inner: SerdeRef<K>) -> SerdeRef<Windowed<K>> {
        Arc::new(WindowedSerde::session(inner))
    }
}

/// A serde that forwards to a shared one, for APIs that take `impl Serde<T>`.
pub(crate) struct Shared<T>(pub SerdeRef<T>);

impl<T> Serde<T> for Shared<T> {
    fn serialize(&self, value: &T) -> eddy_state::Result<Vec<u8>> {
        self.0.serialize(value)
    }
    fn deserialize(&self, bytes: &[u8]) -> eddy_state::Result<T> {
        self.0.deserialize(bytes)
    }
}

/// A value serde for a store whose values follow an 8-byte big-endian record time (see
/// `StoreSpec::timestamped`): reads skip the time; writes (a test putting into a store by
/// hand) put `i64::MIN`, "no record time", in front.
pub(crate) struct Timestamped<T>(SerdeRef<T>);

impl<T> Serde<T> for Timestamped<T> {
    fn serialize(&self, value: &T) -> eddy_state::Result<Vec<u8>> {
        let mut bytes = i64::MIN.to_be_bytes().to_vec();
        bytes.extend(self.0.serialize(value)?);
        Ok(bytes)
    }
    fn deserialize(&self, bytes: &[u8]) -> eddy_state::Result<T> {
        match bytes.split_first_chunk::<8>() {
            Some((_, value)) => self.0.deserialize(value),
            None => Err(eddy_state::Error::Decode {
                what: "timestamped store value",
                reason: format!("{} bytes, shorter than its 8-byte time", bytes.len()),
            }),
        }
    }
}

/// The value serde for typed reads of a store: `serde` itself, or, for a timestamped store
/// (`StoreSpec::timestamped`), one that skips the record time.
pub(crate) fn store_value_serde<T: 'static>(timestamped: bool, serde: SerdeRef<T>) -> SerdeRef<T> {
    if timestamped {
        Arc::new(Timestamped(serde))
    } else {
        serde
    }
}

/// Windowed keys in Kafka Streams' layouts:
/// - time windows (`TimeWindowedSerializer`): the key's bytes, then the window start as 8
///   big-endian bytes; the end is start + the window size, which the serde is told;
/// - session windows (`SessionKeySchema`): the key's bytes, then the end, then the start.
pub struct WindowedSerde<K> {
    inner: SerdeRef<K>,
    /// Window size for time windows; `None` for sessions.
    size_ms: Option<i64>,
}

impl<K> WindowedSerde<K> {
    /// For time windows of `size_ms`.
    pub fn time(inner: SerdeRef<K>, size_ms: i64) -> Self {
        Self {
            inner,
            size_ms: Some(size_ms),
        }
    }

    /// For session windows.
    pub fn session(inner: SerdeRef<K>) -> Self {
        Self {
            inner,
            size_ms: None,
        }
    }
}

fn read_i64(bytes: &[u8]) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[..8]);
    i64::from_be_bytes(b)
}

impl<K> Serde<Windowed<K>> for WindowedSerde<K> {
    fn serialize(&self, value: &Windowed<K>) -> eddy_state::Result<Vec<u8>> {
        let mut bytes = self.inner.serialize(&value.key)?;
        match self.size_ms {
            Some(_) => bytes.extend_from_slice(&value.window.start.to_be_bytes()),
            None => {
                bytes.extend_from_slice(&value.window.end.to_be_bytes());
                bytes.extend_from_slice(&value.window.start.to_be_bytes());
            }
        }
        Ok(bytes)
    }

    fn deserialize(&self, bytes: &[u8]) -> eddy_state::Result<Windowed<K>> {
        let suffix = if self.size_ms.is_some() { 8 } else { 16 };
        if bytes.len() < suffix {
            return Err(eddy_state::Error::Decode {
                what: "windowed key",
                reason: format!("{} bytes, need at least {suffix}", bytes.len()),
            });
        }
        let (key, times) = bytes.split_at(bytes.len() - suffix);
        let key = self.inner.deserialize(key)?;
        Ok(match self.size_ms {
            Some(size) => {
                let start = read_i64(times);
                Windowed::new(key, start, start.saturating_add(size))
            }
            None => Windowed::new(key, read_i64(&times[8..]), read_i64(times)),
        })
    }
}

/// A table change on a repartition topic (grouped tables): a flag byte (bit 0: has a new
/// value, bit 1: has an old one), then each present value as a 4-byte big-endian length and
/// its bytes, new first.
pub(crate) struct ChangeSerde<V>(pub SerdeRef<V>);

impl<V> Serde<crate::record::Change<V>> for ChangeSerde<V> {
    fn serialize(&self, change: &crate::record::Change<V>) -> eddy_state::Result<Vec<u8>> {
        let mut out = vec![u8::from(change.new.is_some()) | (u8::from(change.old.is_some()) << 1)];
        for value in [&change.new, &change.old].into_iter().flatten() {
            let bytes = self.0.serialize(value)?;
            out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            out.extend_from_slice(&bytes);
        }
        Ok(out)
    }

    fn deserialize(&self, bytes: &[u8]) -> eddy_state::Result<crate::record::Change<V>> {
        let bad = |reason: &str| eddy_state::Error::Decode {
            what: "table change",
            reason: reason.to_string(),
        };
        let (&flags, mut rest) = bytes.split_first().ok_or_else(|| bad("empty"))?;
        let mut take = |present: bool| -> eddy_state::Result<Option<V>> {
            if !present {
                return Ok(None);
            }
            if rest.len() < 4 {
                return Err(bad("truncated length"));
            }
            let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            if rest.len() < 4 + len {
                return Err(bad("truncated value"));
            }
            let value = self.0.deserialize(&rest[4..4 + len])?;
            rest = &rest[4 + len..];
            Ok(Some(value))
        };
        let new = take(flags & 1 != 0)?;
        let old = take(flags & 2 != 0)?;
        Ok(crate::record::Change::new(new, old))
    }
}

/// Stands in for a serde the user did not give; the topology fails to build before it
/// could be used.
pub(crate) struct MissingSerde;

impl<T> Serde<T> for MissingSerde {
    fn serialize(&self, _: &T) -> eddy_state::Result<Vec<u8>> {
        Err(eddy_state::Error::Encode {
            what: "value without a serde",
            reason: "no serde was given".into(),
        })
    }
    fn deserialize(&self, _: &[u8]) -> eddy_state::Result<T> {
        Err(eddy_state::Error::Decode {
            what: "value without a serde",
            reason: "no serde was given".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windowed_keys_round_trip_in_kafka_layouts() {
        let time = WindowedSerde::time(Serdes::string(), 60_000);
        let key = Windowed::new("eu".to_string(), 120_000, 180_000);
        let bytes = time.serialize(&key).unwrap();
        assert_eq!(&bytes[..2], b"eu");
        assert_eq!(&bytes[2..], &120_000i64.to_be_bytes());
        assert_eq!(time.deserialize(&bytes).unwrap(), key);

        let session = WindowedSerde::session(Serdes::string());
        let key = Windowed::new("u".to_string(), 5, 9);
        let bytes = session.serialize(&key).unwrap();
        assert_eq!(&bytes[1..9], &9i64.to_be_bytes());
        assert_eq!(session.deserialize(&bytes).unwrap(), key);
        assert!(session.deserialize(b"short").is_err());
    }

    #[test]
    fn changes_round_trip() {
        use crate::record::Change;
        let serde = ChangeSerde(Serdes::string());
        for change in [
            Change::new(Some("a".to_string()), Some("bc".to_string())),
            Change::new(None, Some("x".to_string())),
            Change::new(Some(String::new()), None),
        ] {
            let bytes = serde.serialize(&change).unwrap();
            assert_eq!(serde.deserialize(&bytes).unwrap(), change);
            assert!(serde.deserialize(&bytes[..bytes.len() - 1]).is_err() || bytes.len() == 5);
        }
    }
}
