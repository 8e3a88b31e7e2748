//! String functions, as ksqlDB's `udf.string` classes define them. Positions and lengths
//! count UTF-16 code units, as Java's `String` does; regular expressions are Java's
//! (see [`super::jregex`]).

mod convert;
mod digest;
mod mask;
mod pad;
mod positions;
mod split;

use super::encoding::{self, Encoding};
use super::java;
use super::{FunctionRegistry, Param, ScalarFunction, args, jregex, rng, typed};
use crate::error::{Result, SqlError};
use crate::types::SqlType;
use crate::value::Value;
use convert::{chr_fn, encode_fn};
use digest::md5;
use mask::{MaskKind, mask_fn};
use pad::pad_fn;
use positions::{instr_fn, substring_fn};
use split::{regexp_extract, regexp_extract_all, regexp_split, split_fn, split_to_map};

fn s() -> Param {
    SqlType::String.into()
}

fn b() -> Param {
    SqlType::Bytes.into()
}

fn i() -> Param {
    SqlType::Int.into()
}

fn string(v: String) -> Result<Value> {
    Ok(Value::String(v))
}

/// INITCAP: words are runs of non-whitespace (Java's `\s`); leading whitespace is
/// dropped, as ksqlDB's matcher loop drops it.
fn initcap(text: &str) -> String {
    let lower = text.to_lowercase();
    let is_ws = |c: char| matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r');
    let mut out = String::with_capacity(lower.len());
    let mut at_word_start = true;
    let mut started = false;
    for c in lower.chars() {
        if is_ws(c) {
            if started {
                out.push(c);
            }
            at_word_start = true;
        } else {
            if at_word_start {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            at_word_start = false;
            started = true;
        }
    }
    out
}

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_scalar(
        ScalarFunction::new(
            "ucase",
            "Returns an upper-case version of the input string.",
        )
        .with(vec![s()], SqlType::String, |a| {
            string(args::string(&a[0])?.to_uppercase())
        }),
    );
    r.add_scalar(
        ScalarFunction::new("lcase", "Returns a lower-case version of the input string.").with(
            vec![s()],
            SqlType::String,
            |a| string(args::string(&a[0])?.to_lowercase()),
        ),
    );
    r.add_scalar(
        ScalarFunction::new(
            "len",
            "Returns the length of the input string or byte array.",
        )
        .with(vec![s()], SqlType::Int, |a| {
            Ok(Value::Int(java::len(args::string(&a[0])?) as i32))
        })
        .with(vec![b()], SqlType::Int, |a| {
            Ok(Value::Int(args::bytes(&a[0])?.len() as i32))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "trim",
            "Remove whitespace from the beginning and end of a string.",
        )
        .with(vec![s()], SqlType::String, |a| {
            string(java::trim(args::string(&a[0])?).to_string())
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "concat",
            "Concatenate an arbitrary number of string or bytes fields together",
        )
        .with_nulls(vec![s()], SqlType::String, |a| {
            let mut out = String::new();
            for v in a {
                if let Some(text) = args::opt_string(v)? {
                    out.push_str(text);
                }
            }
            string(out)
        })
        .variadic()
        .with_nulls(vec![b()], SqlType::Bytes, |a| {
            let mut out = Vec::new();
            for v in a {
                if let Value::Bytes(bytes) = v {
                    out.extend_from_slice(bytes);
                }
            }
            Ok(Value::Bytes(out))
        })
        .variadic(),
    );
    r.add_scalar(
        ScalarFunction::new(
            "concat_ws",
            "Concatenate several strings or bytes, inserting a separator passed as the first \
             argument between each one.",
        )
        .with_nulls(vec![s()], SqlType::String, |a| {
            if a.len() < 2 {
                return Err(SqlError::eval(
                    "Function Concat_WS expects at least two input arguments.",
                ));
            }
            let Some(separator) = args::opt_string(&a[0])? else {
                return Ok(Value::Null);
            };
            let mut parts = Vec::new();
            for v in &a[1..] {
                if let Some(text) = args::opt_string(v)? {
                    parts.push(text);
                }
            }
            string(parts.join(separator))
        })
        .variadic()
        .with_nulls(vec![b()], SqlType::Bytes, |a| {
            if a.len() < 2 {
                return Err(SqlError::eval(
                    "Function Concat_WS expects at least two input arguments.",
                ));
            }
            let Value::Bytes(separator) = &a[0] else {
                return Ok(Value::Null);
            };
            let parts: Vec<&[u8]> = a[1..]
                .iter()
                .filter_map(|v| match v {
                    Value::Bytes(b) => Some(b.as_slice()),
                    _ => None,
                })
                .collect();
            Ok(Value::Bytes(parts.join(separator.as_slice())))
        })
        .variadic(),
    );
    r.add_scalar(
        ScalarFunction::new(
            "substring",
            "Returns the portion of the string or bytes passed in value.",
        )
        .with(vec![s(), i()], SqlType::String, substring_fn)
        .with(vec![s(), i(), i()], SqlType::String, substring_fn)
        .with(vec![b(), i()], SqlType::Bytes, substring_fn)
        .with(vec![b(), i(), i()], SqlType::Bytes, substring_fn),
    );
    r.add_scalar(
        ScalarFunction::new(
            "instr",
            "Returns the position of substring in the provided string",
        )
        .with_nulls(vec![s(), s()], SqlType::Int, instr_fn)
        .with_nulls(vec![s(), s(), i()], SqlType::Int, instr_fn)
        .with_nulls(vec![s(), s(), i(), i()], SqlType::Int, instr_fn),
    );
    r.add_scalar(
        ScalarFunction::new(
            "LPad",
            "Pads the input string or bytes, starting from the beginning, with the specified \
             padding string until the target length is reached.",
        )
        .with_nulls(vec![s(), i(), s()], SqlType::String, |a| pad_fn(a, true))
        .with_nulls(vec![b(), i(), b()], SqlType::Bytes, |a| pad_fn(a, true)),
    );
    r.add_scalar(
        ScalarFunction::new(
            "RPad",
            "Pads the input string or bytes, starting from the end, with the specified padding \
             string until the target length is reached.",
        )
        .with_nulls(vec![s(), i(), s()], SqlType::String, |a| pad_fn(a, false))
        .with_nulls(vec![b(), i(), b()], SqlType::Bytes, |a| pad_fn(a, false)),
    );
    r.add_scalar(
        ScalarFunction::new(
            "replace",
            "Replaces all occurances of a substring in a string with a new substring.",
        )
        .with(vec![s(), s(), s()], SqlType::String, |a| {
            let (text, old, new) = (
                args::string(&a[0])?,
                args::string(&a[1])?,
                args::string(&a[2])?,
            );
            string(text.replace(old, new))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "regexp_extract",
            "extract the first subtring matched by a regex pattern",
        )
        .with(vec![s(), s()], SqlType::String, regexp_extract)
        .with(vec![s(), s(), i()], SqlType::String, regexp_extract),
    );
    r.add_scalar(
        ScalarFunction::new(
            "regexp_extract_all",
            "Extracts the all subtrings matched by a regex pattern",
        )
        .with(
            vec![s(), s()],
            SqlType::array(SqlType::String),
            regexp_extract_all,
        )
        .with(
            vec![s(), s(), i()],
            SqlType::array(SqlType::String),
            regexp_extract_all,
        ),
    );
    r.add_scalar(
        ScalarFunction::new(
            "regexp_replace",
            "Replaces all matches of a regexp in a string with a new substring.",
        )
        .with(vec![s(), s(), s()], SqlType::String, |a| {
            let re = jregex::compile(args::string(&a[1])?)?;
            string(jregex::replace_all(
                &re,
                args::string(&a[0])?,
                args::string(&a[2])?,
            )?)
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "regexp_split_to_array",
            "Splits a string into an array of substrings based on a regexp.",
        )
        .with(vec![s(), s()], SqlType::array(SqlType::String), |a| {
            regexp_split(args::string(&a[0])?, args::string(&a[1])?)
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "split",
            "Splits a string or bytes into an array of substrings or bytes based on a delimiter.",
        )
        .with(vec![s(), s()], SqlType::array(SqlType::String), split_fn)
        .with(vec![b(), b()], SqlType::array(SqlType::Bytes), split_fn),
    );
    r.add_scalar(
        ScalarFunction::new(
            "split_to_map",
            "Splits a string into key-value pairs and creates a map from them.",
        )
        .with(
            vec![s(), s(), s()],
            SqlType::map(SqlType::String, SqlType::String),
            split_to_map,
        ),
    );
    r.add_scalar(
        ScalarFunction::new(
            "initcap",
            "Capitalizes the first letter of each word in a string and the rest lowercased. \
             Words are delimited by whitespace.",
        )
        .with(vec![s()], SqlType::String, |a| {
            string(initcap(args::string(&a[0])?))
        }),
    );
    let mask_default = |kind: MaskKind| move |a: &[Value]| mask_fn(kind, a);
    r.add_scalar(
        ScalarFunction::new(
            "mask",
            "Returns a version of the input string with every character replaced by a mask.",
        )
        .with(vec![s()], SqlType::String, mask_default(MaskKind::All))
        .with_nulls(
            vec![s(), s(), s(), s(), s()],
            SqlType::String,
            mask_default(MaskKind::All),
        ),
    );
    for (kind, description) in [
        (
            MaskKind::KeepLeft,
            "Returns a version of the input string with all but the specified number of \
             left-most characters masked out.",
        ),
        (
            MaskKind::KeepRight,
            "Returns a version of the input string with all but the specified number of \
             right-most characters masked out.",
        ),
        (
            MaskKind::Left,
            "Returns a version of the input string with the specified number of characters, \
             starting from the beginning of the string, masked out.",
        ),
        (
            MaskKind::Right,
            "Returns a version of the input string with the specified number of characters, \
             counting back from the end of the string, masked out.",
        ),
    ] {
        r.add_scalar(
            ScalarFunction::new(kind.name(), description)
                .with_nulls(vec![s(), i()], SqlType::String, mask_default(kind))
                .with_nulls(
                    vec![s(), i(), s(), s(), s(), s()],
                    SqlType::String,
                    mask_default(kind),
                ),
        );
    }
    r.add_scalar(
        ScalarFunction::new(
            "Chr",
            "Returns a single-character string corresponding to the input character code.",
        )
        .with(vec![i()], SqlType::String, chr_fn)
        .with(vec![s()], SqlType::String, chr_fn),
    );
    r.add_scalar(
        ScalarFunction::new(
            "elt",
            "ELT() returns the Nth element of the list of strings. Returns NULL if N is less \
             than 1 or greater than the number of arguments.",
        )
        .with_nulls(vec![i(), s()], SqlType::String, |a| {
            let n = args::primitive_int(&a[0])?;
            let values = &a[1..];
            if n < 1 || n as usize > values.len() {
                return Ok(Value::Null);
            }
            Ok(values[n as usize - 1].clone())
        })
        .variadic(),
    );
    r.add_scalar(
        ScalarFunction::new(
            "field",
            "Returns the position (1-indexed) of str in args, or 0 if not found.",
        )
        .with_nulls(vec![s(), s()], SqlType::Int, |a| {
            let Some(needle) = args::opt_string(&a[0])? else {
                return Ok(Value::Int(0));
            };
            for (i, v) in a[1..].iter().enumerate() {
                if args::opt_string(v)? == Some(needle) {
                    return Ok(Value::Int(i as i32 + 1));
                }
            }
            Ok(Value::Int(0))
        })
        .variadic(),
    );
    r.add_scalar(
        ScalarFunction::new(
            "encode",
            "Takes an input string s, which is encoded as input_encoding, and encodes it as \
             output_encoding.",
        )
        .with(vec![s(), s(), s()], SqlType::String, encode_fn),
    );
    r.add_scalar(
        ScalarFunction::new(
            "to_bytes",
            "Converts a STRING value in the specified encoding to BYTES.",
        )
        .with(vec![s(), s()], SqlType::Bytes, |a| {
            let encoding = Encoding::from_name(args::string(&a[1])?)?;
            Ok(Value::Bytes(encoding::decode(
                args::string(&a[0])?,
                encoding,
            )?))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "from_bytes",
            "Converts a BYTES value to STRING in the specified encoding.",
        )
        .with(vec![b(), s()], SqlType::String, |a| {
            let encoding = Encoding::from_name(args::string(&a[1])?)?;
            string(encoding::encode(args::bytes(&a[0])?, encoding))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "md5",
            "Computes the hex-encoded md5 hash of the given string",
        )
        .with(vec![s()], SqlType::String, |a| {
            string(encoding::hex_lower(&md5(args::string(&a[0])?.as_bytes())))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "UUID",
            "Create a Universally Unique Identifier (UUID) generated according to RFC 4122.",
        )
        .with_datafusion(
            vec![],
            SqlType::String,
            typed::nullary_udf("uuid", SqlType::String, || {
                let (hi, lo) = rng::uuid_v4();
                string(rng::uuid_string(hi, lo))
            }),
        )
        .with(vec![b()], SqlType::String, |a| {
            let bytes = args::bytes(&a[0])?;
            if bytes.len() != 16 {
                return Ok(Value::Null);
            }
            let mut hi = [0u8; 8];
            let mut lo = [0u8; 8];
            hi.copy_from_slice(&bytes[..8]);
            lo.copy_from_slice(&bytes[8..]);
            string(rng::uuid_string(
                u64::from_be_bytes(hi),
                u64::from_be_bytes(lo),
            ))
        }),
    );
}
