//! Fuzzes the broker's request decoding: any bytes a client can send as a frame must decode
//! to a request or an error, never panic, hang or allocate what a length field claims.
//!
//! Run: `bash scripts/fuzz.sh [seconds]` (stable toolchain, no cargo-fuzz needed), or
//! `cargo +nightly fuzz run decode_request` with cargo-fuzz, from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = eddy_broker::server::decode_request(bytes::Bytes::copy_from_slice(data));
});
