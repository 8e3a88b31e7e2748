//! Text encodings of bytes, as ksqlDB's `BytesUtils` (TO_BYTES, FROM_BYTES) and `Encode`
//! (ENCODE, on Apache Commons Codec) do them. The two differ: `BytesUtils` prints hex in
//! upper case and decodes base64 strictly (`java.util.Base64`); Commons Codec prints hex
//! in lower case and decodes base64 leniently, skipping characters outside the alphabet.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::error::{Result, SqlError};

/// An encoding TO_BYTES / FROM_BYTES accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Hexadecimal digits.
    Hex,
    /// UTF-8.
    Utf8,
    /// US-ASCII.
    Ascii,
    /// Base64.
    Base64,
}

impl Encoding {
    /// `BytesUtils.Encoding.from`: the name, case-insensitively.
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "hex" => Self::Hex,
            "utf8" => Self::Utf8,
            "ascii" => Self::Ascii,
            "base64" => Self::Base64,
            _ => {
                return Err(SqlError::eval(format!(
                    "Unknown encoding type '{name}'. Supported formats are 'hex', 'utf8', \
                     'ascii', and 'base64'."
                )));
            }
        })
    }
}

/// `java.util.Base64.getDecoder()`: padding optional, trailing bits ignored.
fn java_base64() -> GeneralPurpose {
    GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    )
}

/// Bytes as text (`BytesUtils.encode`).
pub fn encode(bytes: &[u8], encoding: Encoding) -> String {
    match encoding {
        Encoding::Hex => hex_upper(bytes),
        Encoding::Utf8 => utf8_string(bytes),
        Encoding::Ascii => ascii_string(bytes),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
    }
}

/// Text as bytes (`BytesUtils.decode`).
pub fn decode(text: &str, encoding: Encoding) -> Result<Vec<u8>> {
    match encoding {
        Encoding::Hex => parse_hex_binary(text),
        Encoding::Utf8 => Ok(text.as_bytes().to_vec()),
        Encoding::Ascii => Ok(ascii_bytes(text)),
        Encoding::Base64 => java_base64()
            .decode(text)
            .map_err(|e| SqlError::eval(format!("Illegal base64 input '{text}': {e}"))),
    }
}

/// Upper-case hex (`DatatypeConverter.printHexBinary`).
pub fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Lower-case hex (Commons Codec `Hex.encodeHex`).
pub fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `DatatypeConverter.parseHexBinary`.
fn parse_hex_binary(text: &str) -> Result<Vec<u8>> {
    let chars: Vec<char> = text.chars().collect();
    if !chars.len().is_multiple_of(2) {
        return Err(SqlError::eval(format!(
            "hexBinary needs to be even-length: {text}"
        )));
    }
    chars
        .chunks(2)
        .map(|pair| match (pair[0].to_digit(16), pair[1].to_digit(16)) {
            (Some(h), Some(l)) => Ok((h * 16 + l) as u8),
            _ => Err(SqlError::eval(format!(
                "contains illegal character for hexBinary: {text}"
            ))),
        })
        .collect()
}

/// Commons Codec `Hex.decodeHex`.
pub fn decode_hex_commons(text: &str) -> Result<Vec<u8>> {
    let chars: Vec<char> = text.chars().collect();
    if !chars.len().is_multiple_of(2) {
        return Err(SqlError::eval("Odd number of characters."));
    }
    let digit = |c: char, i: usize| {
        c.to_digit(16).ok_or_else(|| {
            SqlError::eval(format!("Illegal hexadecimal character {c} at index {i}"))
        })
    };
    (0..chars.len() / 2)
        .map(|k| Ok((digit(chars[2 * k], 2 * k)? * 16 + digit(chars[2 * k + 1], 2 * k + 1)?) as u8))
        .collect()
}

/// Commons Codec `Base64.encodeBase64` (standard alphabet, padded, one line).
pub fn base64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Commons Codec `Base64.decodeBase64`: both alphabets, anything else skipped, decoding
/// stops at padding, an incomplete last quantum is dropped.
pub fn base64_decode_lenient(text: &str) -> Vec<u8> {
    let mut sextets = Vec::with_capacity(text.len());
    for c in text.chars() {
        let v = match c {
            'A'..='Z' => c as u32 - 'A' as u32,
            'a'..='z' => c as u32 - 'a' as u32 + 26,
            '0'..='9' => c as u32 - '0' as u32 + 52,
            '+' | '-' => 62,
            '/' | '_' => 63,
            '=' => break,
            _ => continue,
        };
        sextets.push(v);
    }
    let mut out = Vec::with_capacity(sextets.len() * 3 / 4);
    for chunk in sextets.chunks(4) {
        let mut acc = 0u32;
        for (i, s) in chunk.iter().enumerate() {
            acc |= s << (18 - 6 * i);
        }
        let bytes = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        let n = match chunk.len() {
            4 => 3,
            3 => 2,
            2 => 1,
            _ => 0,
        };
        out.extend_from_slice(&bytes[..n]);
    }
    out
}

/// `new String(bytes, UTF_8)`: malformed input becomes U+FFFD.
pub fn utf8_string(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `new String(bytes, US_ASCII)`: bytes past 0x7F become U+FFFD.
pub fn ascii_string(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| if b < 0x80 { b as char } else { '\u{fffd}' })
        .collect()
}

/// `s.getBytes(US_ASCII)`: characters past 0x7F become '?'.
pub fn ascii_bytes(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| if (c as u32) < 0x80 { c as u8 } else { b'?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_utils_encodings() {
        assert_eq!(encode(&[0xab, 1], Encoding::Hex), "AB01");
        assert_eq!(decode("ab01", Encoding::Hex).unwrap(), vec![0xab, 1]);
        assert!(decode("abc", Encoding::Hex).is_err());
        assert_eq!(decode("IQ", Encoding::Base64).unwrap(), b"!");
        assert!(decode("I Q==", Encoding::Base64).is_err());
        assert_eq!(encode(&[0xff], Encoding::Ascii), "\u{fffd}");
        assert_eq!(decode("é", Encoding::Ascii).unwrap(), b"?");
        assert!(Encoding::from_name("UTF8").is_ok());
        assert!(Encoding::from_name("utf16").is_err());
    }

    #[test]
    fn commons_codec_encodings() {
        assert_eq!(base64_decode_lenient("I Q=="), b"!");
        assert_eq!(base64_decode_lenient("aGVsbG8"), b"hello");
        assert_eq!(decode_hex_commons("4B").unwrap(), b"K");
        assert!(decode_hex_commons("4").is_err());
    }
}
