//! Random numbers for UUID(): a SplitMix64 sequence seeded from the process's random
//! hash keys (std's `RandomState`, which the OS seeds) and the clock.
//!
//! Written here because eddy-sql has no random-number dependency; ksqlDB's UUID() uses
//! `SecureRandom`, which this is not (UUIDs are unique, not secret).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

fn state() -> &'static AtomicU64 {
    static STATE: OnceLock<AtomicU64> = OnceLock::new();
    STATE.get_or_init(|| {
        let mut hasher = RandomState::new().build_hasher();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        hasher.write_u64(nanos);
        hasher.write_u32(std::process::id());
        AtomicU64::new(hasher.finish())
    })
}

/// The next 64 random bits.
pub fn next_u64() -> u64 {
    let mut z = state()
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A version 4 (random) UUID's 128 bits, as `UUID.randomUUID()` sets them.
pub fn uuid_v4() -> (u64, u64) {
    let (mut hi, mut lo) = (next_u64(), next_u64());
    hi = (hi & !0xF000) | 0x4000;
    lo = (lo & !(0xC000_0000_0000_0000)) | 0x8000_0000_0000_0000;
    (hi, lo)
}

/// `UUID.toString()` of two longs.
pub fn uuid_string(hi: u64, lo: u64) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}
