//! Formats of keys and values ([`format`]), their codecs ([`codec`], [`json`],
//! [`delimited`]), Eddy's internal row encoding ([`binary`]) and a JSON reader that keeps
//! numbers exact ([`json_text`]).

pub mod binary;
pub mod codec;
pub mod delimited;
pub mod format;
pub mod json;
pub mod json_text;

pub use codec::{CodecRef, RowCodec, codec_for};
pub use format::{Format, FormatInfo};
