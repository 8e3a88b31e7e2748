//! Reading JSON objects and arrays member by member, without building them (the reader's
//! own trees are built through [`members`] and [`items`] too): the fields a
//! caller wants are read as it chooses (a [`Scalar`] borrowing the text, a nested object,
//! a [`Json`] tree), the others are checked and passed over without allocating.

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
/// checked to be UTF-8 (a name equal to a column's is; others must be checked with
/// [`Name::text`] when passed over).
pub(super) enum Name<'a> {
    /// The bytes between the quotes, and where they start.
    Plain(&'a [u8], usize),
    /// A name with escapes, decoded.
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

    /// The name's bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Self::Plain(bytes, _) => bytes,
            Self::Decoded(name) => name.as_bytes(),
        }
    }

    /// The name as text: an error if it is not UTF-8.
    pub fn text(self) -> Result<Cow<'a, str>, JsonError> {
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
/// reader at each field's value, which it must read or skip. Returns `Ok(false)`, having
/// read nothing, when the document is not an object.
pub(super) fn read_object<'a>(
    text: &'a [u8],
    on_field: impl FnMut(&mut Reader<'a>, Name<'a>) -> Result<(), JsonError>,
) -> Result<bool, JsonError> {
    let mut r = Reader::new(text, false);
    r.skip_ws()?;
    if r.bytes.get(r.at) != Some(&b'{') {
        return Ok(false);
    }
    members(&mut r, on_field)?;
    r.skip_ws()?;
    if r.at != r.bytes.len() {
        return r.err("unexpected text after the JSON value");
    }
    Ok(true)
}

/// Reads the object at the reader (its `{` next), calling `on_field` at each member's
/// value as [`read_object`] does.
pub(super) fn members<'a>(
    r: &mut Reader<'a>,
    mut on_field: impl FnMut(&mut Reader<'a>, Name<'a>) -> Result<(), JsonError>,
) -> Result<(), JsonError> {
    r.enter()?;
    r.at += 1;
    r.skip_ws()?;
    if r.bytes.get(r.at) == Some(&b'}') {
        r.at += 1;
        r.depth -= 1;
        return Ok(());
    }
    loop {
        r.skip_ws()?;
        if r.bytes.get(r.at) != Some(&b'"') {
            return r.err("expected a field name");
        }
        let name = Name::read(r)?;
        r.skip_ws()?;
        if r.bytes.get(r.at) != Some(&b':') {
            return r.err("expected ':'");
        }
        r.at += 1;
        r.skip_ws()?;
        on_field(r, name)?;
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
    r.depth -= 1;
    Ok(())
}

/// Reads the array at the reader (its `[` next), calling `on_item` at each item, which it
/// must read.
pub(super) fn items<'a>(
    r: &mut Reader<'a>,
    mut on_item: impl FnMut(&mut Reader<'a>) -> Result<(), JsonError>,
) -> Result<(), JsonError> {
    r.enter()?;
    r.at += 1;
    r.skip_ws()?;
    if r.bytes.get(r.at) == Some(&b']') {
        r.at += 1;
        r.depth -= 1;
        return Ok(());
    }
    loop {
        r.skip_ws()?;
        on_item(r)?;
        r.skip_ws()?;
        match r.bytes.get(r.at) {
            Some(b',') => r.at += 1,
            Some(b']') => {
                r.at += 1;
                break;
            }
            _ => return r.err("expected ',' or ']'"),
        }
    }
    r.depth -= 1;
    Ok(())
}

/// Passes over a field nobody wants, checking it (its name included).
pub(super) fn skip_field(r: &mut Reader<'_>, name: Name<'_>) -> Result<(), JsonError> {
    name.text()?;
    r.skip_value()
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

/// Reads the value at the reader as a [`Scalar`].
#[inline]
pub(super) fn scalar<'a>(r: &mut Reader<'a>) -> Result<Scalar<'a>, JsonError> {
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

    /// The wanted fields' scalars, by name.
    fn scalars<'a>(
        text: &'a [u8],
        names: &[&'static str],
    ) -> Result<Option<Vec<(&'static str, Scalar<'a>)>>, JsonError> {
        let mut got = Vec::new();
        let is_object = read_object(text, |r, name| {
            match names.iter().find(|n| n.as_bytes() == name.bytes()) {
                Some(n) => got.push((*n, scalar(r)?)),
                None => skip_field(r, name)?,
            }
            Ok(())
        })?;
        Ok(is_object.then_some(got))
    }

    #[test]
    fn scalars_borrow_and_trees_are_parsed() {
        let text = br#"{"a": 12.50, "b": "plain", "c": "esc\"aped", "d": [1, {"x": null}],
            "skipped": {"deep": [true]}, "e": null, "f": false}"#;
        let names = ["a", "b", "c", "d", "e", "f"];
        let got = scalars(text, &names).unwrap().unwrap();
        let read: Vec<&str> = got.iter().map(|(n, _)| *n).collect();
        assert_eq!(read, names);
        assert_eq!(got[0].1, Scalar::Number("12.50"));
        assert!(matches!(&got[1].1, Scalar::String(Cow::Borrowed("plain"))));
        assert!(matches!(&got[2].1, Scalar::String(Cow::Owned(s)) if s == "esc\"aped"));
        assert_eq!(got[3].1.clone().into_json().to_text(), r#"[1,{"x":null}]"#);
        assert_eq!(got[4].1, Scalar::Null);
        assert_eq!(got[5].1, Scalar::Bool(false));
    }

    #[test]
    fn nested_members_and_items() {
        let text = br#"{"s": {"x": [1, 2], "y": "z"}, "t": []}"#;
        let mut seen = Vec::new();
        read_object(text, |r, name| {
            let outer = String::from_utf8_lossy(name.bytes()).to_string();
            if r.bytes.get(r.at) == Some(&b'[') {
                return items(r, |r| {
                    seen.push(format!("{outer}[]"));
                    r.skip_value()
                });
            }
            members(r, |r, name| {
                let inner = String::from_utf8_lossy(name.bytes()).to_string();
                if r.bytes.get(r.at) == Some(&b'[') {
                    items(r, |r| {
                        seen.push(format!("{outer}.{inner}[{:?}]", scalar(r)?));
                        Ok(())
                    })
                } else {
                    seen.push(format!("{outer}.{inner}={:?}", scalar(r)?));
                    Ok(())
                }
            })
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                "s.x[Number(\"1\")]",
                "s.x[Number(\"2\")]",
                "s.y=String(\"z\")"
            ]
        );
    }

    #[test]
    fn bad_documents_are_errors_and_non_objects_are_refused() {
        for bad in [
            &br#"{"a": 1,}"#[..],
            br#"{"a" 1}"#,
            br#"{"a": 1} x"#,
            b"{\"a\": \"\xff\"}",
            // A name nobody wants is still checked.
            b"{\"\xff\": 1}",
        ] {
            assert!(scalars(bad, &["a"]).is_err(), "{bad:?}");
        }
        assert_eq!(scalars(b"[1]", &["a"]).unwrap(), None);
        // Deep nesting is refused, not a stack overflow.
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(300), "]".repeat(300));
        assert!(scalars(deep.as_bytes(), &["a"]).is_err());
    }
}
