//! Reading a record that is one JSON object field by field, without building the object:
//! the fields a caller wants are read (as a [`Json`] tree, or as a borrowed [`Scalar`]),
//! the others are checked and passed over without allocating.

use std::borrow::Cow;

use super::json_text::{Json, JsonError, Reader, special_byte};

/// A field's value as read from the text: scalars borrow it where they can (numbers
/// always, strings without escapes); arrays and objects are parsed into a tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as written.
    Number(&'a str),
    /// A string.
    String(Cow<'a, str>),
    /// An array or an object.
    Tree(Json),
}

impl Scalar<'_> {
    /// The value as a JSON tree.
    pub fn into_json(self) -> Json {
        match self {
            Self::Null => Json::Null,
            Self::Bool(b) => Json::Bool(b),
            Self::Number(n) => Json::Number(n.to_string()),
            Self::String(s) => Json::String(s.into_owned()),
            Self::Tree(json) => json,
        }
    }
}

/// A field name. Most names have no escapes: those are their bytes in the text, not yet
/// checked to be UTF-8 (a name equal to a column's is; others are checked when skipped).
enum Name<'a> {
    Plain(&'a [u8], usize),
    Decoded(Cow<'a, str>),
}

impl<'a> Name<'a> {
    #[inline]
    fn read(r: &mut Reader<'a>) -> Result<Self, JsonError> {
        let start = r.at + 1;
        if let Some(n) = special_byte(&r.bytes[start..])
            && r.bytes[start + n] == b'"'
        {
            r.at = start + n + 1;
            return Ok(Self::Plain(&r.bytes[start..start + n], start));
        }
        r.string_cow().map(Self::Decoded)
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Self::Plain(bytes, _) => bytes,
            Self::Decoded(name) => name.as_bytes(),
        }
    }

    /// The name as text: an error if it is not UTF-8.
    fn text(self) -> Result<Cow<'a, str>, JsonError> {
        match self {
            Self::Plain(bytes, at) => {
                std::str::from_utf8(bytes)
                    .map(Cow::Borrowed)
                    .map_err(|_| JsonError {
                        message: "invalid UTF-8 in string".to_string(),
                        offset: at,
                    })
            }
            Self::Decoded(name) => Ok(name),
        }
    }
}

/// Reads a document that is one JSON object, calling `on_field(reader, name)` with the
/// reader at each field's value (which it must read or skip). Returns `Ok(false)`, having
/// read nothing, when the document is not an object.
fn read_object<'a>(
    text: &'a [u8],
    mut on_field: impl FnMut(&mut Reader<'a>, Name<'a>) -> Result<(), JsonError>,
) -> Result<bool, JsonError> {
    let mut r = Reader::new(text, false);
    r.skip_ws()?;
    if r.bytes.get(r.at) != Some(&b'{') {
        return Ok(false);
    }
    r.at += 1;
    r.skip_ws()?;
    if r.bytes.get(r.at) == Some(&b'}') {
        r.at += 1;
    } else {
        loop {
            r.skip_ws()?;
            if r.bytes.get(r.at) != Some(&b'"') {
                return r.err("expected a field name");
            }
            let name = Name::read(&mut r)?;
            r.skip_ws()?;
            if r.bytes.get(r.at) != Some(&b':') {
                return r.err("expected ':'");
            }
            r.at += 1;
            r.skip_ws()?;
            on_field(&mut r, name)?;
            r.skip_ws()?;
            match r.bytes.get(r.at) {
                Some(b',') => r.at += 1,
                Some(b'}') => {
                    r.at += 1;
                    break;
                }
                _ => return r.err("expected ',' or '}'"),
            }
        }
    }
    r.skip_ws()?;
    if r.at != r.bytes.len() {
        return r.err("unexpected text after the JSON value");
    }
    Ok(true)
}

/// Reads a document that is one JSON object field by field: `wanted(name)` picks the
/// fields to read (by an index of the caller's), whose values are parsed and passed to
/// `field(index, name, value)`; the others are skipped without allocating. Returns
/// `Ok(false)`, having read nothing, when the document is not an object (the caller parses
/// it whole to say what it is).
pub fn read_object_fields(
    text: &[u8],
    mut wanted: impl FnMut(&str) -> Option<usize>,
    mut field: impl FnMut(usize, String, Json),
) -> Result<bool, JsonError> {
    read_object(text, |r, name| {
        let name = name.text()?;
        match wanted(&name) {
            Some(index) => {
                let value = r.value()?;
                field(index, name.into_owned(), value);
            }
            None => r.skip_value()?,
        }
        Ok(())
    })
}

/// [`read_object_fields`] with values read as [`Scalar`]s borrowing from `text`, and
/// names given as their bytes: `wanted` must pick only names that are UTF-8 (equal to a
/// string of the caller's, say); the others are checked here.
pub fn read_object_scalars<'a>(
    text: &'a [u8],
    mut wanted: impl FnMut(&[u8]) -> Option<usize>,
    mut field: impl FnMut(usize, Scalar<'a>),
) -> Result<bool, JsonError> {
    read_object(text, |r, name| {
        match wanted(name.bytes()) {
            Some(index) => {
                let value = scalar(r)?;
                field(index, value);
            }
            None => {
                name.text()?;
                r.skip_value()?;
            }
        }
        Ok(())
    })
}

#[inline]
fn scalar<'a>(r: &mut Reader<'a>) -> Result<Scalar<'a>, JsonError> {
    Ok(match r.bytes.get(r.at) {
        Some(b'"') => Scalar::String(r.string_cow()?),
        Some(b'-' | b'0'..=b'9') => Scalar::Number(r.number_text()?),
        _ => match r.value()? {
            Json::Null => Scalar::Null,
            Json::Bool(b) => Scalar::Bool(b),
            tree => Scalar::Tree(tree),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_borrow_and_trees_are_parsed() {
        let text = br#"{"a": 12.50, "b": "plain", "c": "esc\"aped", "d": [1, {"x": null}],
            "skipped": {"deep": [true]}, "e": null, "f": false}"#;
        let mut got = Vec::new();
        let names = ["a", "b", "c", "d", "e", "f"];
        let is_object = read_object_scalars(
            text,
            |name| names.iter().position(|n| n.as_bytes() == name),
            |i, value| got.push((i, names[i], value)),
        )
        .unwrap();
        assert!(is_object);
        let read: Vec<&str> = got.iter().map(|(_, n, _)| *n).collect();
        assert_eq!(read, names);
        assert_eq!(got[0].2, Scalar::Number("12.50"));
        assert!(matches!(&got[1].2, Scalar::String(Cow::Borrowed("plain"))));
        assert!(matches!(&got[2].2, Scalar::String(Cow::Owned(s)) if s == "esc\"aped"));
        assert_eq!(got[3].2.clone().into_json().to_text(), r#"[1,{"x":null}]"#);
        assert_eq!(got[4].2, Scalar::Null);
        assert_eq!(got[5].2, Scalar::Bool(false));
    }

    #[test]
    fn bad_documents_are_errors_and_non_objects_are_refused() {
        for bad in [
            &br#"{"a": 1,}"#[..],
            br#"{"a" 1}"#,
            br#"{"a": 1} x"#,
            b"{\"a\": \"\xff\"}",
        ] {
            assert!(read_object_scalars(bad, |_| Some(0), |_, _| {}).is_err());
        }
        // A name nobody wants is still checked.
        assert!(read_object_scalars(b"{\"\xff\": 1}", |_| None, |_, _| {}).is_err());
        assert!(!read_object_scalars(b"[1]", |_| Some(0), |_, _| {}).unwrap());
    }
}
