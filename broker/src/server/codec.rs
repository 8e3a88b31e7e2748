//! Request framing: Kafka frames every request and response with a 4-byte big-endian length.
//! tokio-util's length-delimited codec does exactly that, and checks the length against the
//! limit before reserving any memory, so a frame claiming gigabytes costs nothing.

use tokio_util::codec::LengthDelimitedCodec;

/// A codec for Kafka frames of at most `max_frame` bytes.
pub(crate) fn kafka_frames(max_frame: usize) -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .big_endian()
        .length_field_length(4)
        .max_frame_length(max_frame)
        .new_codec()
}
