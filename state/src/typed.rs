//! Typed wrappers over the byte-level stores: a [`Serde`] codec per key and value type, and
//! [`TypedKeyValueStore`], [`TypedWindowStore`] and [`TypedSessionStore`] that encode on the
//! way in and decode on the way out.
//!
//! Stores order entries by the *encoded* key bytes, so a key codec decides what a range scan
//! means:
//! - [`StringSerde`] and [`BytesSerde`] order like the strings' UTF-8 bytes, and a prefix of
//!   a key encodes to a prefix of its encoding, so prefix scans work;
//! - [`I64Serde`] and [`I32Serde`] are Kafka's big-endian two's-complement encodings
//!   (compatible with Kafka's `LongSerializer`/`IntegerSerializer`), which sort negative
//!   numbers *after* positive ones: fine for point lookups, wrong for range scans over
//!   signed keys;
//! - [`OrderedI64Serde`] flips the sign bit (the encoding of [`crate::keys::encode_time`]), so
//!   byte order is numeric order: use it for integer keys that are range-scanned;
//! - [`JsonSerde`] (serde_json) is convenient for values; as a key codec its byte order is
//!   that of the JSON text.
//!
//! Window and session stores keep their own key-then-time layout (see [`crate::keys`]), so
//! any key codec works there; entries for different keys are ordered by encoded key bytes.
//!
//! Codec failures are [`Error::Encode`] / [`Error::Decode`]; the typed stores say whether the
//! key or the value failed and in which store.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::keys::{decode_time, encode_time};
use crate::kv::{EntryIter, KeyValueStore};
use crate::session::{SessionStore, SessionWindow};
use crate::window::WindowStore;

/// Converts values of `T` to bytes and back.
///
/// Implementations report failures as [`Error::Encode`] and [`Error::Decode`], with `what`
/// naming the encoding (for example `"UTF-8 string"`).
pub trait Serde<T>: Send + Sync {
    /// The bytes of `value`.
    ///
    /// ```
    /// use eddy_state::typed::{I32Serde, Serde};
    /// assert_eq!(I32Serde.serialize(&258).unwrap(), vec![0, 0, 1, 2]);
    /// ```
    fn serialize(&self, value: &T) -> Result<Vec<u8>>;

    /// The value encoded in `bytes`.
    ///
    /// ```
    /// use eddy_state::typed::{I32Serde, Serde};
    /// assert_eq!(I32Serde.deserialize(&[0, 0, 1, 2]).unwrap(), 258);
    /// assert!(I32Serde.deserialize(&[1, 2]).is_err());
    /// ```
    fn deserialize(&self, bytes: &[u8]) -> Result<T>;
}

/// Any type with serde's `Serialize` and `DeserializeOwned`, as JSON text (serde_json).
///
/// ```
/// use eddy_state::typed::{JsonSerde, Serde};
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct Count { n: u64 }
/// let serde = JsonSerde::<Count>::new();
/// let bytes = serde.serialize(&Count { n: 3 }).unwrap();
/// assert_eq!(bytes, br#"{"n":3}"#);
/// assert_eq!(serde.deserialize(&bytes).unwrap(), Count { n: 3 });
/// ```
pub struct JsonSerde<T> {
    _type: PhantomData<fn() -> T>,
}

impl<T> JsonSerde<T> {
    /// The JSON codec for `T`.
    ///
    /// ```
    /// use eddy_state::typed::{JsonSerde, Serde};
    /// let serde = JsonSerde::<Vec<i32>>::new();
    /// assert_eq!(serde.serialize(&vec![1, 2]).unwrap(), b"[1,2]");
    /// ```
    pub fn new() -> Self {
        Self { _type: PhantomData }
    }
}

impl<T> Default for JsonSerde<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for JsonSerde<T> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for JsonSerde<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonSerde<{}>", std::any::type_name::<T>())
    }
}

impl<T: Serialize + DeserializeOwned> Serde<T> for JsonSerde<T> {
    fn serialize(&self, value: &T) -> Result<Vec<u8>> {
        serde_json::to_vec(value).map_err(|e| Error::Encode {
            what: "JSON value",
            reason: e.to_string(),
        })
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<T> {
        serde_json::from_slice(bytes).map_err(|e| Error::Decode {
            what: "JSON value",
            reason: e.to_string(),
        })
    }
}

/// `String` as its UTF-8 bytes (Kafka's `StringSerializer`); decoding rejects invalid UTF-8.
///
/// ```
/// use eddy_state::typed::{Serde, StringSerde};
/// assert_eq!(StringSerde.serialize(&"héllo".to_string()).unwrap(), "héllo".as_bytes());
/// assert!(StringSerde.deserialize(&[0xff]).is_err());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct StringSerde;

impl Serde<String> for StringSerde {
    fn serialize(&self, value: &String) -> Result<Vec<u8>> {
        Ok(value.as_bytes().to_vec())
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<String> {
        String::from_utf8(bytes.to_vec()).map_err(|e| Error::Decode {
            what: "UTF-8 string",
            reason: e.to_string(),
        })
    }
}

/// Bytes as themselves.
///
/// ```
/// use eddy_state::typed::{BytesSerde, Serde};
/// assert_eq!(BytesSerde.serialize(&vec![0, 255]).unwrap(), vec![0, 255]);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesSerde;

impl Serde<Vec<u8>> for BytesSerde {
    fn serialize(&self, value: &Vec<u8>) -> Result<Vec<u8>> {
        Ok(value.clone())
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        Ok(bytes.to_vec())
    }
}

fn exact<const N: usize>(bytes: &[u8], what: &'static str) -> Result<[u8; N]> {
    bytes.try_into().map_err(|_| Error::Decode {
        what,
        reason: format!("{} bytes, need exactly {N}", bytes.len()),
    })
}

/// `i64` as 8 big-endian two's-complement bytes (Kafka's `LongSerializer`).
///
/// As a key, byte order is *not* numeric order: negative numbers sort after positive ones
/// (`-1` is `ff ff ff ff ff ff ff ff`). Use [`OrderedI64Serde`] for range-scanned keys.
///
/// ```
/// use eddy_state::typed::{I64Serde, Serde};
/// assert_eq!(I64Serde.serialize(&-1).unwrap(), vec![0xff; 8]);
/// assert_eq!(I64Serde.deserialize(&[0, 0, 0, 0, 0, 0, 1, 0]).unwrap(), 256);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct I64Serde;

impl Serde<i64> for I64Serde {
    fn serialize(&self, value: &i64) -> Result<Vec<u8>> {
        Ok(value.to_be_bytes().to_vec())
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<i64> {
        Ok(i64::from_be_bytes(exact(bytes, "big-endian i64")?))
    }
}

/// `i32` as 4 big-endian two's-complement bytes (Kafka's `IntegerSerializer`).
///
/// As with [`I64Serde`], negative keys sort after positive ones.
///
/// ```
/// use eddy_state::typed::{I32Serde, Serde};
/// assert_eq!(I32Serde.serialize(&-2).unwrap(), vec![0xff, 0xff, 0xff, 0xfe]);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct I32Serde;

impl Serde<i32> for I32Serde {
    fn serialize(&self, value: &i32) -> Result<Vec<u8>> {
        Ok(value.to_be_bytes().to_vec())
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<i32> {
        Ok(i32::from_be_bytes(exact(bytes, "big-endian i32")?))
    }
}

/// `i64` as 8 big-endian bytes with the sign bit flipped ([`crate::keys::encode_time`]): byte
/// order is numeric order, negatives first, so range scans over integer keys work. Not
/// compatible with Kafka's `LongSerializer` (see [`I64Serde`]).
///
/// ```
/// use eddy_state::typed::{OrderedI64Serde, Serde};
/// let minus_one = OrderedI64Serde.serialize(&-1).unwrap();
/// let one = OrderedI64Serde.serialize(&1).unwrap();
/// assert!(minus_one < one);
/// assert_eq!(OrderedI64Serde.deserialize(&minus_one).unwrap(), -1);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct OrderedI64Serde;

impl Serde<i64> for OrderedI64Serde {
    fn serialize(&self, value: &i64) -> Result<Vec<u8>> {
        Ok(encode_time(*value).to_vec())
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<i64> {
        let raw: [u8; 8] = exact(bytes, "order-preserving i64")?;
        decode_time(&raw)
    }
}

/// Shared codec plumbing: encodes and decodes keys and values, naming the failing part and
/// the store in errors.
struct Codecs<K, V> {
    store: String,
    key: Arc<dyn Serde<K>>,
    value: Arc<dyn Serde<V>>,
}

impl<K, V> Clone for Codecs<K, V> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            key: Arc::clone(&self.key),
            value: Arc::clone(&self.value),
        }
    }
}

fn in_context(error: Error, part: &'static str, store: &str) -> Error {
    match error {
        Error::Encode { what, reason } => Error::Encode {
            what: part,
            reason: format!("store {store}: {what}: {reason}"),
        },
        Error::Decode { what, reason } => Error::Decode {
            what: part,
            reason: format!("store {store}: {what}: {reason}"),
        },
        other => other,
    }
}

impl<K, V> Codecs<K, V> {
    fn enc_key(&self, key: &K) -> Result<Vec<u8>> {
        self.key
            .serialize(key)
            .map_err(|e| in_context(e, "key", &self.store))
    }

    fn enc_value(&self, value: &V) -> Result<Vec<u8>> {
        self.value
            .serialize(value)
            .map_err(|e| in_context(e, "value", &self.store))
    }

    fn dec_key(&self, bytes: &[u8]) -> Result<K> {
        self.key
            .deserialize(bytes)
            .map_err(|e| in_context(e, "key", &self.store))
    }

    fn dec_value(&self, bytes: &[u8]) -> Result<V> {
        self.value
            .deserialize(bytes)
            .map_err(|e| in_context(e, "value", &self.store))
    }
}

/// A key-value store of `K` to `V`, over a byte-level [`KeyValueStore`].
///
/// ```
/// use std::sync::Arc;
/// use eddy_state::memory::MemoryKeyValueStore;
/// use eddy_state::typed::{I64Serde, StringSerde, TypedKeyValueStore};
///
/// let counts = TypedKeyValueStore::new(
///     Arc::new(MemoryKeyValueStore::new("counts")),
///     StringSerde,
///     I64Serde,
/// );
/// counts.put(&"apples".to_string(), &3).unwrap();
/// assert_eq!(counts.get(&"apples".to_string()).unwrap(), Some(3));
/// ```
pub struct TypedKeyValueStore<K, V> {
    store: Arc<dyn KeyValueStore>,
    codecs: Codecs<K, V>,
}

impl<K, V> Clone for TypedKeyValueStore<K, V> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            codecs: self.codecs.clone(),
        }
    }
}

/// Decoded entries of a [`TypedKeyValueStore`], in encoded-key order; errors (engine or
/// decode) surface per item.
pub struct TypedIter<'a, K, V> {
    inner: EntryIter<'a>,
    codecs: &'a Codecs<K, V>,
}

impl<K, V> Iterator for TypedIter<'_, K, V> {
    type Item = Result<(K, V)>;

    fn next(&mut self) -> Option<Self::Item> {
        let entry = self.inner.next()?;
        Some(entry.and_then(|(k, v)| Ok((self.codecs.dec_key(&k)?, self.codecs.dec_value(&v)?))))
    }
}

impl<K, V> TypedKeyValueStore<K, V> {
    /// Wraps `store` with a key and a value codec.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemoryKeyValueStore;
    /// use eddy_state::typed::{JsonSerde, StringSerde, TypedKeyValueStore};
    ///
    /// let store: TypedKeyValueStore<String, Vec<String>> = TypedKeyValueStore::new(
    ///     Arc::new(MemoryKeyValueStore::new("tags")),
    ///     StringSerde,
    ///     JsonSerde::new(),
    /// );
    /// assert_eq!(store.name(), "tags");
    /// ```
    pub fn new(
        store: Arc<dyn KeyValueStore>,
        key_serde: impl Serde<K> + 'static,
        value_serde: impl Serde<V> + 'static,
    ) -> Self {
        Self {
            codecs: Codecs {
                store: store.name().to_string(),
                key: Arc::new(key_serde),
                value: Arc::new(value_serde),
            },
            store,
        }
    }

    /// The underlying store's name.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemoryKeyValueStore;
    /// use eddy_state::typed::{BytesSerde, TypedKeyValueStore};
    ///
    /// let store = TypedKeyValueStore::new(
    ///     Arc::new(MemoryKeyValueStore::new("raw")),
    ///     BytesSerde,
    ///     BytesSerde,
    /// );
    /// assert_eq!(store.name(), "raw");
    /// ```
    pub fn name(&self) -> &str {
        &self.codecs.store
    }

    /// The byte-level store underneath (for raw access, flushing, or sharing).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemoryKeyValueStore;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedKeyValueStore};
    ///
    /// let store = TypedKeyValueStore::new(
    ///     Arc::new(MemoryKeyValueStore::new("counts")),
    ///     StringSerde,
    ///     I64Serde,
    /// );
    /// store.put(&"a".to_string(), &1).unwrap();
    /// assert_eq!(store.inner().get(b"a").unwrap(), Some(1i64.to_be_bytes().to_vec()));
    /// ```
    pub fn inner(&self) -> &Arc<dyn KeyValueStore> {
        &self.store
    }

    /// The value of `key`, if present.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemoryKeyValueStore;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedKeyValueStore};
    ///
    /// let store = TypedKeyValueStore::new(
    ///     Arc::new(MemoryKeyValueStore::new("counts")),
    ///     StringSerde,
    ///     I64Serde,
    /// );
    /// assert_eq!(store.get(&"missing".to_string()).unwrap(), None);
    /// ```
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        match self.store.get(&self.codecs.enc_key(key)?)? {
            Some(bytes) => Ok(Some(self.codecs.dec_value(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Sets `key` to `value`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemoryKeyValueStore;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedKeyValueStore};
    ///
    /// let store = TypedKeyValueStore::new(
    ///     Arc::new(MemoryKeyValueStore::new("counts")),
    ///     StringSerde,
    ///     I64Serde,
    /// );
    /// store.put(&"a".to_string(), &1).unwrap();
    /// store.put(&"a".to_string(), &2).unwrap();
    /// assert_eq!(store.get(&"a".to_string()).unwrap(), Some(2));
    /// ```
    pub fn put(&self, key: &K, value: &V) -> Result<()> {
        self.store
            .put(&self.codecs.enc_key(key)?, &self.codecs.enc_value(value)?)
    }

    /// Sets every key to its value, in one batch (atomically where the engine can).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemoryKeyValueStore;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedKeyValueStore};
    ///
    /// let store = TypedKeyValueStore::new(
    ///     Arc::new(MemoryKeyValueStore::new("counts")),
    ///     StringSerde,
    ///     I64Serde,
    /// );
    /// store.put_all(&[("a".to_string(), 1), ("b".to_string(), 2)]).unwrap();
    /// assert_eq!(store.get(&"b".to_string()).unwrap(), Some(2));
    /// ```
    pub fn put_all(&self, entries: &[(K, V)]) -> Result<()> {
        let batch = entries
            .iter()
            .map(|(k, v)| Ok((self.codecs.enc_key(k)?, Some(self.codecs.enc_value(v)?))))
            .collect::<Result<Vec<_>>>()?;
        self.store.write_batch(&batch)
    }

    /// Removes `key` (absent keys are fine).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemoryKeyValueStore;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedKeyValueStore};
    ///
    /// let store = TypedKeyValueStore::new(
    ///     Arc::new(MemoryKeyValueStore::new("counts")),
    ///     StringSerde,
    ///     I64Serde,
    /// );
    /// store.put(&"a".to_string(), &1).unwrap();
    /// store.delete(&"a".to_string()).unwrap();
    /// assert_eq!(store.get(&"a".to_string()).unwrap(), None);
    /// ```
    pub fn delete(&self, key: &K) -> Result<()> {
        self.store.delete(&self.codecs.enc_key(key)?)
    }

    /// Entries whose *encoded* keys fall in `range`, in encoded-key order. With
    /// [`I64Serde`] keys, a range spanning zero is inverted in byte order and comes back
    /// empty: use [`OrderedI64Serde`] for range-scanned integer keys.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemoryKeyValueStore;
    /// use eddy_state::typed::{OrderedI64Serde, StringSerde, TypedKeyValueStore};
    ///
    /// let store = TypedKeyValueStore::new(
    ///     Arc::new(MemoryKeyValueStore::new("by-time")),
    ///     OrderedI64Serde,
    ///     StringSerde,
    /// );
    /// for t in [-2i64, -1, 0, 1, 2] {
    ///     store.put(&t, &format!("at {t}")).unwrap();
    /// }
    /// let keys: Vec<i64> = store
    ///     .range(-1..=1)
    ///     .unwrap()
    ///     .map(|e| e.map(|(k, _)| k))
    ///     .collect::<Result<_, _>>()
    ///     .unwrap();
    /// assert_eq!(keys, vec![-1, 0, 1]);
    /// ```
    pub fn range<'a>(&'a self, range: impl RangeBounds<K>) -> Result<TypedIter<'a, K, V>> {
        let encode = |bound: Bound<&K>| -> Result<Bound<Vec<u8>>> {
            Ok(match bound {
                Bound::Included(k) => Bound::Included(self.codecs.enc_key(k)?),
                Bound::Excluded(k) => Bound::Excluded(self.codecs.enc_key(k)?),
                Bound::Unbounded => Bound::Unbounded,
            })
        };
        let from = encode(range.start_bound())?;
        let to = encode(range.end_bound())?;
        let inner = self.store.range(as_ref(&from), as_ref(&to))?;
        Ok(self.iter(inner))
    }

    /// Entries whose encoded key starts with the encoding of `prefix`. Meaningful for codecs
    /// where a prefix encodes to a prefix ([`StringSerde`], [`BytesSerde`]); for raw byte
    /// prefixes use [`KeyValueStore::prefix_scan`] on [`Self::inner`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemoryKeyValueStore;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedKeyValueStore};
    ///
    /// let store = TypedKeyValueStore::new(
    ///     Arc::new(MemoryKeyValueStore::new("counts")),
    ///     StringSerde,
    ///     I64Serde,
    /// );
    /// for (k, v) in [("user-1", 1), ("user-2", 2), ("admin-1", 3)] {
    ///     store.put(&k.to_string(), &v).unwrap();
    /// }
    /// let users: Vec<(String, i64)> = store
    ///     .prefix_scan(&"user-".to_string())
    ///     .unwrap()
    ///     .collect::<Result<_, _>>()
    ///     .unwrap();
    /// assert_eq!(users, vec![("user-1".to_string(), 1), ("user-2".to_string(), 2)]);
    /// ```
    pub fn prefix_scan<'a>(&'a self, prefix: &K) -> Result<TypedIter<'a, K, V>> {
        let inner = self.store.prefix_scan(&self.codecs.enc_key(prefix)?)?;
        Ok(self.iter(inner))
    }

    /// Every entry, in encoded-key order.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemoryKeyValueStore;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedKeyValueStore};
    ///
    /// let store = TypedKeyValueStore::new(
    ///     Arc::new(MemoryKeyValueStore::new("counts")),
    ///     StringSerde,
    ///     I64Serde,
    /// );
    /// store.put(&"b".to_string(), &2).unwrap();
    /// store.put(&"a".to_string(), &1).unwrap();
    /// let all: Vec<(String, i64)> = store.all().unwrap().collect::<Result<_, _>>().unwrap();
    /// assert_eq!(all, vec![("a".to_string(), 1), ("b".to_string(), 2)]);
    /// ```
    pub fn all<'a>(&'a self) -> Result<TypedIter<'a, K, V>> {
        let inner = self.store.all()?;
        Ok(self.iter(inner))
    }

    /// An estimate of the number of entries (exact in memory).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemoryKeyValueStore;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedKeyValueStore};
    ///
    /// let store = TypedKeyValueStore::new(
    ///     Arc::new(MemoryKeyValueStore::new("counts")),
    ///     StringSerde,
    ///     I64Serde,
    /// );
    /// store.put(&"a".to_string(), &1).unwrap();
    /// assert_eq!(store.approximate_len().unwrap(), 1);
    /// ```
    pub fn approximate_len(&self) -> Result<u64> {
        self.store.approximate_len()
    }

    /// Makes every write so far durable on disk (no-op in memory).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemoryKeyValueStore;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedKeyValueStore};
    ///
    /// let store = TypedKeyValueStore::new(
    ///     Arc::new(MemoryKeyValueStore::new("counts")),
    ///     StringSerde,
    ///     I64Serde,
    /// );
    /// store.put(&"a".to_string(), &1).unwrap();
    /// store.flush().unwrap();
    /// ```
    pub fn flush(&self) -> Result<()> {
        self.store.flush()
    }

    fn iter<'a>(&'a self, inner: EntryIter<'a>) -> TypedIter<'a, K, V> {
        TypedIter {
            inner,
            codecs: &self.codecs,
        }
    }
}

fn as_ref(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(b) => Bound::Included(b),
        Bound::Excluded(b) => Bound::Excluded(b),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// A window store of `K` to `V` per window start, over a byte-level [`WindowStore`].
///
/// ```
/// use std::sync::Arc;
/// use eddy_state::memory::MemorySegments;
/// use eddy_state::typed::{I64Serde, StringSerde, TypedWindowStore};
/// use eddy_state::{Retention, SegmentedWindowStore};
///
/// let windows = SegmentedWindowStore::open(
///     Arc::new(MemorySegments::new("clicks")),
///     Retention::new(3_600_000).unwrap(),
/// )
/// .unwrap();
/// let clicks = TypedWindowStore::new("clicks", Arc::new(windows), StringSerde, I64Serde);
/// clicks.put(&"alice".to_string(), 60_000, &4).unwrap();
/// assert_eq!(clicks.fetch_one(&"alice".to_string(), 60_000).unwrap(), Some(4));
/// ```
pub struct TypedWindowStore<K, V> {
    store: Arc<dyn WindowStore>,
    codecs: Codecs<K, V>,
}

impl<K, V> Clone for TypedWindowStore<K, V> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            codecs: self.codecs.clone(),
        }
    }
}

impl<K, V> TypedWindowStore<K, V> {
    /// Wraps `store` with a key and a value codec; `name` is used in codec errors.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemorySegments;
    /// use eddy_state::typed::{JsonSerde, StringSerde, TypedWindowStore};
    /// use eddy_state::{Retention, SegmentedWindowStore};
    ///
    /// let windows = SegmentedWindowStore::open(
    ///     Arc::new(MemorySegments::new("sums")),
    ///     Retention::new(600_000).unwrap(),
    /// )
    /// .unwrap();
    /// let sums: TypedWindowStore<String, Vec<f64>> =
    ///     TypedWindowStore::new("sums", Arc::new(windows), StringSerde, JsonSerde::new());
    /// assert_eq!(sums.name(), "sums");
    /// ```
    pub fn new(
        name: impl Into<String>,
        store: Arc<dyn WindowStore>,
        key_serde: impl Serde<K> + 'static,
        value_serde: impl Serde<V> + 'static,
    ) -> Self {
        Self {
            store,
            codecs: Codecs {
                store: name.into(),
                key: Arc::new(key_serde),
                value: Arc::new(value_serde),
            },
        }
    }

    /// The name given at construction.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemorySegments;
    /// use eddy_state::typed::{BytesSerde, TypedWindowStore};
    /// use eddy_state::{Retention, SegmentedWindowStore};
    ///
    /// let windows = SegmentedWindowStore::open(
    ///     Arc::new(MemorySegments::new("w")),
    ///     Retention::new(600_000).unwrap(),
    /// )
    /// .unwrap();
    /// let store = TypedWindowStore::new("w", Arc::new(windows), BytesSerde, BytesSerde);
    /// assert_eq!(store.name(), "w");
    /// ```
    pub fn name(&self) -> &str {
        &self.codecs.store
    }

    /// The byte-level store underneath.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemorySegments;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedWindowStore};
    /// use eddy_state::{Retention, SegmentedWindowStore};
    ///
    /// let windows = SegmentedWindowStore::open(
    ///     Arc::new(MemorySegments::new("w")),
    ///     Retention::new(600_000).unwrap(),
    /// )
    /// .unwrap();
    /// let store = TypedWindowStore::new("w", Arc::new(windows), StringSerde, I64Serde);
    /// store.put(&"k".to_string(), 5, &1).unwrap();
    /// assert_eq!(store.inner().observed_time(), 5);
    /// ```
    pub fn inner(&self) -> &Arc<dyn WindowStore> {
        &self.store
    }

    /// Sets `key`'s value in the window starting at `window_start`; `false` if that window
    /// is already past retention (the write is dropped).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemorySegments;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedWindowStore};
    /// use eddy_state::{Retention, SegmentedWindowStore};
    ///
    /// let windows = SegmentedWindowStore::open(
    ///     Arc::new(MemorySegments::new("w")),
    ///     Retention::with_segment_ms(1_000, 500).unwrap(),
    /// )
    /// .unwrap();
    /// let store = TypedWindowStore::new("w", Arc::new(windows), StringSerde, I64Serde);
    /// assert!(store.put(&"k".to_string(), 10_000, &1).unwrap());
    /// assert!(!store.put(&"k".to_string(), 0, &1).unwrap()); // expired
    /// ```
    pub fn put(&self, key: &K, window_start: i64, value: &V) -> Result<bool> {
        self.store.put(
            &self.codecs.enc_key(key)?,
            window_start,
            &self.codecs.enc_value(value)?,
        )
    }

    /// Removes one window's value.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemorySegments;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedWindowStore};
    /// use eddy_state::{Retention, SegmentedWindowStore};
    ///
    /// let windows = SegmentedWindowStore::open(
    ///     Arc::new(MemorySegments::new("w")),
    ///     Retention::new(600_000).unwrap(),
    /// )
    /// .unwrap();
    /// let store = TypedWindowStore::new("w", Arc::new(windows), StringSerde, I64Serde);
    /// store.put(&"k".to_string(), 0, &1).unwrap();
    /// store.delete(&"k".to_string(), 0).unwrap();
    /// assert_eq!(store.fetch_one(&"k".to_string(), 0).unwrap(), None);
    /// ```
    pub fn delete(&self, key: &K, window_start: i64) -> Result<()> {
        self.store.delete(&self.codecs.enc_key(key)?, window_start)
    }

    /// One window's value.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemorySegments;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedWindowStore};
    /// use eddy_state::{Retention, SegmentedWindowStore};
    ///
    /// let windows = SegmentedWindowStore::open(
    ///     Arc::new(MemorySegments::new("w")),
    ///     Retention::new(600_000).unwrap(),
    /// )
    /// .unwrap();
    /// let store = TypedWindowStore::new("w", Arc::new(windows), StringSerde, I64Serde);
    /// store.put(&"k".to_string(), 1_000, &7).unwrap();
    /// assert_eq!(store.fetch_one(&"k".to_string(), 1_000).unwrap(), Some(7));
    /// assert_eq!(store.fetch_one(&"k".to_string(), 2_000).unwrap(), None);
    /// ```
    pub fn fetch_one(&self, key: &K, window_start: i64) -> Result<Option<V>> {
        match self
            .store
            .fetch_one(&self.codecs.enc_key(key)?, window_start)?
        {
            Some(bytes) => Ok(Some(self.codecs.dec_value(&bytes)?)),
            None => Ok(None),
        }
    }

    /// `key`'s windows starting in `[time_from, time_to]`, oldest first.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemorySegments;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedWindowStore};
    /// use eddy_state::{Retention, SegmentedWindowStore};
    ///
    /// let windows = SegmentedWindowStore::open(
    ///     Arc::new(MemorySegments::new("w")),
    ///     Retention::new(600_000).unwrap(),
    /// )
    /// .unwrap();
    /// let store = TypedWindowStore::new("w", Arc::new(windows), StringSerde, I64Serde);
    /// let k = "k".to_string();
    /// store.put(&k, 2_000, &2).unwrap();
    /// store.put(&k, 1_000, &1).unwrap();
    /// store.put(&k, 9_000, &9).unwrap();
    /// assert_eq!(store.fetch(&k, 0, 5_000).unwrap(), vec![(1_000, 1), (2_000, 2)]);
    /// ```
    pub fn fetch(&self, key: &K, time_from: i64, time_to: i64) -> Result<Vec<(i64, V)>> {
        self.store
            .fetch(&self.codecs.enc_key(key)?, time_from, time_to)?
            .into_iter()
            .map(|(start, v)| Ok((start, self.codecs.dec_value(&v)?)))
            .collect()
    }

    /// Every key's windows starting in `[time_from, time_to]` as `(key, window start,
    /// value)`, by encoded key, then window start.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemorySegments;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedWindowStore};
    /// use eddy_state::{Retention, SegmentedWindowStore};
    ///
    /// let windows = SegmentedWindowStore::open(
    ///     Arc::new(MemorySegments::new("w")),
    ///     Retention::new(600_000).unwrap(),
    /// )
    /// .unwrap();
    /// let store = TypedWindowStore::new("w", Arc::new(windows), StringSerde, I64Serde);
    /// store.put(&"b".to_string(), 0, &1).unwrap();
    /// store.put(&"a".to_string(), 1_000, &2).unwrap();
    /// assert_eq!(
    ///     store.fetch_all(0, 1_000).unwrap(),
    ///     vec![("a".to_string(), 1_000, 2), ("b".to_string(), 0, 1)]
    /// );
    /// ```
    pub fn fetch_all(&self, time_from: i64, time_to: i64) -> Result<Vec<(K, i64, V)>> {
        self.store
            .fetch_all(time_from, time_to)?
            .into_iter()
            .map(|e| {
                Ok((
                    self.codecs.dec_key(&e.key)?,
                    e.window_start,
                    self.codecs.dec_value(&e.value)?,
                ))
            })
            .collect()
    }

    /// The newest window start written so far.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemorySegments;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedWindowStore};
    /// use eddy_state::{Retention, SegmentedWindowStore};
    ///
    /// let windows = SegmentedWindowStore::open(
    ///     Arc::new(MemorySegments::new("w")),
    ///     Retention::new(600_000).unwrap(),
    /// )
    /// .unwrap();
    /// let store = TypedWindowStore::new("w", Arc::new(windows), StringSerde, I64Serde);
    /// store.put(&"k".to_string(), 3_000, &1).unwrap();
    /// store.put(&"k".to_string(), 1_000, &1).unwrap();
    /// assert_eq!(store.observed_time(), 3_000);
    /// ```
    pub fn observed_time(&self) -> i64 {
        self.store.observed_time()
    }

    /// Makes every write so far durable on disk (no-op in memory).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemorySegments;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedWindowStore};
    /// use eddy_state::{Retention, SegmentedWindowStore};
    ///
    /// let windows = SegmentedWindowStore::open(
    ///     Arc::new(MemorySegments::new("w")),
    ///     Retention::new(600_000).unwrap(),
    /// )
    /// .unwrap();
    /// let store = TypedWindowStore::new("w", Arc::new(windows), StringSerde, I64Serde);
    /// store.flush().unwrap();
    /// ```
    pub fn flush(&self) -> Result<()> {
        self.store.flush()
    }
}

/// A session store of `K` to `V` per session, over a byte-level [`SessionStore`].
///
/// ```
/// use std::sync::Arc;
/// use eddy_state::memory::MemorySegments;
/// use eddy_state::typed::{I64Serde, StringSerde, TypedSessionStore};
/// use eddy_state::{Retention, SegmentedSessionStore, SessionWindow};
///
/// let sessions = SegmentedSessionStore::open(
///     Arc::new(MemorySegments::new("visits")),
///     Retention::new(3_600_000).unwrap(),
/// )
/// .unwrap();
/// let visits = TypedSessionStore::new("visits", Arc::new(sessions), StringSerde, I64Serde);
/// let w = SessionWindow { start: 0, end: 500 };
/// visits.put(&"alice".to_string(), w, &3).unwrap();
/// assert_eq!(visits.fetch_session(&"alice".to_string(), w).unwrap(), Some(3));
/// ```
pub struct TypedSessionStore<K, V> {
    store: Arc<dyn SessionStore>,
    codecs: Codecs<K, V>,
}

impl<K, V> Clone for TypedSessionStore<K, V> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            codecs: self.codecs.clone(),
        }
    }
}

impl<K, V> TypedSessionStore<K, V> {
    /// Wraps `store` with a key and a value codec; `name` is used in codec errors.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemorySegments;
    /// use eddy_state::typed::{JsonSerde, StringSerde, TypedSessionStore};
    /// use eddy_state::{Retention, SegmentedSessionStore};
    ///
    /// let sessions = SegmentedSessionStore::open(
    ///     Arc::new(MemorySegments::new("carts")),
    ///     Retention::new(600_000).unwrap(),
    /// )
    /// .unwrap();
    /// let carts: TypedSessionStore<String, Vec<String>> =
    ///     TypedSessionStore::new("carts", Arc::new(sessions), StringSerde, JsonSerde::new());
    /// assert_eq!(carts.name(), "carts");
    /// ```
    pub fn new(
        name: impl Into<String>,
        store: Arc<dyn SessionStore>,
        key_serde: impl Serde<K> + 'static,
        value_serde: impl Serde<V> + 'static,
    ) -> Self {
        Self {
            store,
            codecs: Codecs {
                store: name.into(),
                key: Arc::new(key_serde),
                value: Arc::new(value_serde),
            },
        }
    }

    /// The name given at construction.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemorySegments;
    /// use eddy_state::typed::{BytesSerde, TypedSessionStore};
    /// use eddy_state::{Retention, SegmentedSessionStore};
    ///
    /// let sessions = SegmentedSessionStore::open(
    ///     Arc::new(MemorySegments::new("s")),
    ///     Retention::new(600_000).unwrap(),
    /// )
    /// .unwrap();
    /// let store = TypedSessionStore::new("s", Arc::new(sessions), BytesSerde, BytesSerde);
    /// assert_eq!(store.name(), "s");
    /// ```
    pub fn name(&self) -> &str {
        &self.codecs.store
    }

    /// The byte-level store underneath.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemorySegments;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedSessionStore};
    /// use eddy_state::{Retention, SegmentedSessionStore, SessionWindow};
    ///
    /// let sessions = SegmentedSessionStore::open(
    ///     Arc::new(MemorySegments::new("s")),
    ///     Retention::new(600_000).unwrap(),
    /// )
    /// .unwrap();
    /// let store = TypedSessionStore::new("s", Arc::new(sessions), StringSerde, I64Serde);
    /// let w = SessionWindow { start: 0, end: 0 };
    /// store.put(&"k".to_string(), w, &1).unwrap();
    /// assert!(store.inner().fetch_session(b"k", w).unwrap().is_some());
    /// ```
    pub fn inner(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    /// `key`'s sessions that end at or after `earliest_end` and start at or before
    /// `latest_start`, ordered by end, then start.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemorySegments;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedSessionStore};
    /// use eddy_state::{Retention, SegmentedSessionStore, SessionWindow};
    ///
    /// let sessions = SegmentedSessionStore::open(
    ///     Arc::new(MemorySegments::new("s")),
    ///     Retention::new(600_000).unwrap(),
    /// )
    /// .unwrap();
    /// let store = TypedSessionStore::new("s", Arc::new(sessions), StringSerde, I64Serde);
    /// let k = "k".to_string();
    /// let early = SessionWindow { start: 0, end: 10 };
    /// let late = SessionWindow { start: 100, end: 120 };
    /// store.put(&k, early, &1).unwrap();
    /// store.put(&k, late, &2).unwrap();
    /// // A record at t = 15 with an inactivity gap of 10 merges with `early` only.
    /// assert_eq!(store.find_sessions(&k, 5, 25).unwrap(), vec![(early, 1)]);
    /// ```
    pub fn find_sessions(
        &self,
        key: &K,
        earliest_end: i64,
        latest_start: i64,
    ) -> Result<Vec<(SessionWindow, V)>> {
        self.store
            .find_sessions(&self.codecs.enc_key(key)?, earliest_end, latest_start)?
            .into_iter()
            .map(|e| Ok((e.window, self.codecs.dec_value(&e.value)?)))
            .collect()
    }

    /// Stores a session's value; `false` if the session is already past retention.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemorySegments;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedSessionStore};
    /// use eddy_state::{Retention, SegmentedSessionStore, SessionWindow};
    ///
    /// let sessions = SegmentedSessionStore::open(
    ///     Arc::new(MemorySegments::new("s")),
    ///     Retention::with_segment_ms(1_000, 500).unwrap(),
    /// )
    /// .unwrap();
    /// let store = TypedSessionStore::new("s", Arc::new(sessions), StringSerde, I64Serde);
    /// let k = "k".to_string();
    /// assert!(store.put(&k, SessionWindow { start: 9_000, end: 10_000 }, &1).unwrap());
    /// assert!(!store.put(&k, SessionWindow { start: 0, end: 10 }, &1).unwrap());
    /// ```
    pub fn put(&self, key: &K, window: SessionWindow, value: &V) -> Result<bool> {
        self.store.put(
            &self.codecs.enc_key(key)?,
            window,
            &self.codecs.enc_value(value)?,
        )
    }

    /// Removes a session (after it was merged into another).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemorySegments;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedSessionStore};
    /// use eddy_state::{Retention, SegmentedSessionStore, SessionWindow};
    ///
    /// let sessions = SegmentedSessionStore::open(
    ///     Arc::new(MemorySegments::new("s")),
    ///     Retention::new(600_000).unwrap(),
    /// )
    /// .unwrap();
    /// let store = TypedSessionStore::new("s", Arc::new(sessions), StringSerde, I64Serde);
    /// let (k, w) = ("k".to_string(), SessionWindow { start: 0, end: 5 });
    /// store.put(&k, w, &1).unwrap();
    /// store.remove(&k, w).unwrap();
    /// assert_eq!(store.fetch_session(&k, w).unwrap(), None);
    /// ```
    pub fn remove(&self, key: &K, window: SessionWindow) -> Result<()> {
        self.store.remove(&self.codecs.enc_key(key)?, window)
    }

    /// One session's value.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemorySegments;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedSessionStore};
    /// use eddy_state::{Retention, SegmentedSessionStore, SessionWindow};
    ///
    /// let sessions = SegmentedSessionStore::open(
    ///     Arc::new(MemorySegments::new("s")),
    ///     Retention::new(600_000).unwrap(),
    /// )
    /// .unwrap();
    /// let store = TypedSessionStore::new("s", Arc::new(sessions), StringSerde, I64Serde);
    /// let (k, w) = ("k".to_string(), SessionWindow { start: 0, end: 5 });
    /// store.put(&k, w, &42).unwrap();
    /// assert_eq!(store.fetch_session(&k, w).unwrap(), Some(42));
    /// ```
    pub fn fetch_session(&self, key: &K, window: SessionWindow) -> Result<Option<V>> {
        match self
            .store
            .fetch_session(&self.codecs.enc_key(key)?, window)?
        {
            Some(bytes) => Ok(Some(self.codecs.dec_value(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Makes every write so far durable on disk (no-op in memory).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_state::memory::MemorySegments;
    /// use eddy_state::typed::{I64Serde, StringSerde, TypedSessionStore};
    /// use eddy_state::{Retention, SegmentedSessionStore};
    ///
    /// let sessions = SegmentedSessionStore::open(
    ///     Arc::new(MemorySegments::new("s")),
    ///     Retention::new(600_000).unwrap(),
    /// )
    /// .unwrap();
    /// let store = TypedSessionStore::new("s", Arc::new(sessions), StringSerde, I64Serde);
    /// store.flush().unwrap();
    /// ```
    pub fn flush(&self) -> Result<()> {
        self.store.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{MemoryKeyValueStore, MemorySegments};
    use crate::session::SegmentedSessionStore;
    use crate::window::{Retention, SegmentedWindowStore};

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Point {
        x: i32,
        label: String,
    }

    fn round_trip<T: PartialEq + fmt::Debug>(serde: &dyn Serde<T>, value: T) {
        let bytes = serde.serialize(&value).unwrap();
        assert_eq!(serde.deserialize(&bytes).unwrap(), value);
    }

    #[test]
    fn codecs_round_trip() {
        for v in [i64::MIN, -1, 0, 1, i64::MAX] {
            round_trip(&I64Serde, v);
            round_trip(&OrderedI64Serde, v);
        }
        for v in [i32::MIN, -1, 0, 1, i32::MAX] {
            round_trip(&I32Serde, v);
        }
        round_trip(&StringSerde, String::new());
        round_trip(&StringSerde, "naïve \u{0} 🦀".to_string());
        round_trip(&BytesSerde, vec![]);
        round_trip(&BytesSerde, vec![0, 0xff, 7]);
        round_trip(
            &JsonSerde::new(),
            Point {
                x: -3,
                label: "p\"q".into(),
            },
        );
        round_trip(&JsonSerde::<Option<u8>>::new(), None);
    }

    #[test]
    fn kafka_integer_encodings() {
        assert_eq!(I64Serde.serialize(&1).unwrap(), [0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(
            I64Serde.serialize(&i64::MIN).unwrap(),
            [0x80, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(I32Serde.serialize(&1).unwrap(), [0, 0, 0, 1]);
        assert_eq!(I32Serde.serialize(&-1).unwrap(), [0xff; 4]);
    }

    #[test]
    fn ordered_i64_sorts_numerically_and_kafka_i64_does_not() {
        let values = [i64::MIN, -1_000, -1, 0, 1, 1_000, i64::MAX];
        let ordered: Vec<Vec<u8>> = values
            .iter()
            .map(|v| OrderedI64Serde.serialize(v).unwrap())
            .collect();
        assert!(ordered.windows(2).all(|w| w[0] < w[1]));
        let kafka: Vec<Vec<u8>> = values
            .iter()
            .map(|v| I64Serde.serialize(v).unwrap())
            .collect();
        assert!(!kafka.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn decode_errors_name_what_failed() {
        let err = I64Serde.deserialize(&[1, 2, 3]).unwrap_err();
        assert!(
            matches!(&err, Error::Decode { what: "big-endian i64", reason } if reason.contains("3 bytes")),
            "{err}"
        );
        assert!(matches!(
            I32Serde.deserialize(&[0; 5]),
            Err(Error::Decode {
                what: "big-endian i32",
                ..
            })
        ));
        assert!(matches!(
            OrderedI64Serde.deserialize(&[0; 9]),
            Err(Error::Decode {
                what: "order-preserving i64",
                ..
            })
        ));
        assert!(matches!(
            StringSerde.deserialize(&[b'a', 0xc3]),
            Err(Error::Decode {
                what: "UTF-8 string",
                ..
            })
        ));
        assert!(matches!(
            JsonSerde::<Point>::new().deserialize(br#"{"x": "nope"}"#),
            Err(Error::Decode {
                what: "JSON value",
                ..
            })
        ));
    }

    #[test]
    fn json_encode_errors_are_encode_errors() {
        // JSON object keys must be strings: a map keyed by a tuple cannot be encoded.
        let mut map = std::collections::BTreeMap::new();
        map.insert((1, 2), 3);
        let err = JsonSerde::new().serialize(&map).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Encode {
                    what: "JSON value",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn typed_kv_reports_key_or_value_and_store() {
        let raw = Arc::new(MemoryKeyValueStore::new("counts"));
        let store = TypedKeyValueStore::new(raw.clone(), StringSerde, I64Serde);
        raw.put(b"bad-value", b"xyz").unwrap();
        raw.put(b"\xff", &5i64.to_be_bytes()).unwrap();

        let err = store.get(&"bad-value".to_string()).unwrap_err();
        match &err {
            Error::Decode { what, reason } => {
                assert_eq!(*what, "value");
                assert!(reason.contains("counts"), "{reason}");
                assert!(reason.contains("big-endian i64"), "{reason}");
            }
            other => panic!("unexpected {other:?}"),
        }

        let results: Vec<_> = store.all().unwrap().collect();
        assert_eq!(results.len(), 2);
        assert!(matches!(
            &results[0],
            Err(Error::Decode { what: "value", .. })
        ));
        assert!(matches!(
            &results[1],
            Err(Error::Decode { what: "key", .. })
        ));
    }

    #[test]
    fn typed_kv_operations() {
        let store = TypedKeyValueStore::new(
            Arc::new(MemoryKeyValueStore::new("points")),
            StringSerde,
            JsonSerde::<Point>::new(),
        );
        let p = |x| Point {
            x,
            label: format!("p{x}"),
        };
        store.put(&"b".into(), &p(2)).unwrap();
        store
            .put_all(&[("a".into(), p(1)), ("c".into(), p(3)), ("ca".into(), p(4))])
            .unwrap();
        assert_eq!(store.get(&"a".into()).unwrap(), Some(p(1)));
        assert_eq!(store.approximate_len().unwrap(), 4);
        store.delete(&"a".into()).unwrap();
        assert_eq!(store.get(&"a".into()).unwrap(), None);

        let keys = |it: TypedIter<'_, String, Point>| -> Vec<String> {
            it.map(|e| e.unwrap().0).collect()
        };
        assert_eq!(keys(store.all().unwrap()), ["b", "c", "ca"]);
        assert_eq!(keys(store.prefix_scan(&"c".into()).unwrap()), ["c", "ca"]);
        assert_eq!(
            keys(store.range("b".to_string().."c".to_string()).unwrap()),
            ["b"]
        );
        assert_eq!(keys(store.range(.."c".to_string()).unwrap()), ["b"]);
        assert_eq!(keys(store.range("c".to_string()..).unwrap()), ["c", "ca"]);
        assert_eq!(
            keys(store.range("c".to_string()..="b".to_string()).unwrap()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn kafka_i64_keys_do_not_range_across_zero_but_ordered_ones_do() {
        let kafka = TypedKeyValueStore::new(
            Arc::new(MemoryKeyValueStore::new("kafka")),
            I64Serde,
            StringSerde,
        );
        let ordered = TypedKeyValueStore::new(
            Arc::new(MemoryKeyValueStore::new("ordered")),
            OrderedI64Serde,
            StringSerde,
        );
        for k in -3..=3 {
            kafka.put(&k, &k.to_string()).unwrap();
            ordered.put(&k, &k.to_string()).unwrap();
        }
        let kafka_keys: Vec<i64> = kafka.range(-1..=1).unwrap().map(|e| e.unwrap().0).collect();
        assert!(kafka_keys.is_empty());
        let all_kafka: Vec<i64> = kafka.all().unwrap().map(|e| e.unwrap().0).collect();
        assert_eq!(all_kafka, [0, 1, 2, 3, -3, -2, -1]);
        let ordered_keys: Vec<i64> = ordered
            .range(-1..=1)
            .unwrap()
            .map(|e| e.unwrap().0)
            .collect();
        assert_eq!(ordered_keys, [-1, 0, 1]);
    }

    #[test]
    fn typed_window_store() {
        let windows = SegmentedWindowStore::open(
            Arc::new(MemorySegments::new("w")),
            Retention::with_segment_ms(1_000, 100).unwrap(),
        )
        .unwrap();
        let store = TypedWindowStore::new("w", Arc::new(windows), I32Serde, StringSerde);
        for (k, t) in [(2, 50), (1, 250), (1, -30), (-1, 0)] {
            assert!(store.put(&k, t, &format!("{k}@{t}")).unwrap());
        }
        assert_eq!(
            store.fetch(&1, -100, 1_000).unwrap(),
            vec![(-30, "1@-30".to_string()), (250, "1@250".to_string())]
        );
        let all: Vec<(i32, i64)> = store
            .fetch_all(-100, 1_000)
            .unwrap()
            .into_iter()
            .map(|(k, t, _)| (k, t))
            .collect();
        // Big-endian two's complement: -1 sorts after the positive keys.
        assert_eq!(all, [(1, -30), (1, 250), (2, 50), (-1, 0)]);
        store.delete(&1, 250).unwrap();
        assert_eq!(store.fetch_one(&1, 250).unwrap(), None);
        assert_eq!(store.observed_time(), 250);

        let raw = store.inner().clone();
        raw.put(b"xy", 10, b"\xff").unwrap();
        assert!(matches!(
            store.fetch_all(10, 10),
            Err(Error::Decode { what: "key", .. })
        ));
    }

    #[test]
    fn typed_session_store() {
        let sessions = SegmentedSessionStore::open(
            Arc::new(MemorySegments::new("s")),
            Retention::new(600_000).unwrap(),
        )
        .unwrap();
        let store = TypedSessionStore::new("s", Arc::new(sessions), StringSerde, I64Serde);
        let k = "k".to_string();
        let a = SessionWindow { start: 0, end: 10 };
        let b = SessionWindow { start: 20, end: 30 };
        store.put(&k, a, &1).unwrap();
        store.put(&k, b, &2).unwrap();
        store.put(&"k2".to_string(), a, &9).unwrap();
        assert_eq!(
            store.find_sessions(&k, 5, 25).unwrap(),
            vec![(a, 1), (b, 2)]
        );
        store.remove(&k, a).unwrap();
        assert_eq!(store.find_sessions(&k, 0, 100).unwrap(), vec![(b, 2)]);
        assert_eq!(store.fetch_session(&k, b).unwrap(), Some(2));

        store.inner().put(b"k", a, b"short").unwrap();
        let err = store.find_sessions(&k, 0, 100).unwrap_err();
        assert!(
            matches!(&err, Error::Decode { what: "value", reason } if reason.contains("store s")),
            "{err}"
        );
    }
}
