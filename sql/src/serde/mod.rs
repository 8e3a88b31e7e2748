//! Formats of keys and values ([`format`](mod@format)), their codecs ([`codec`], [`json`],
//! [`delimited`]), Eddy's internal row encoding ([`binary`]), a JSON reader that keeps
//! numbers exact ([`json_text`], [`json_object`] for records read field by field) and the
//! cells decoded columns are handed over in ([`cell`]).

pub mod binary;
pub mod cell;
pub mod codec;
pub mod delimited;
pub mod format;
pub mod json;
pub mod json_cells;
pub mod json_object;
pub mod json_text;

pub use codec::{CodecRef, RowCodec, codec_for};
pub use format::{Format, FormatInfo};
