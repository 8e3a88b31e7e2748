//! JSON as ksqlDB's JSON functions see it through Jackson (`UdfJsonMapper`): a tree whose
//! integers are `IntNode`/`LongNode`/`BigIntegerNode` and whose other numbers are exact
//! `BigDecimal`s (`USE_BIG_DECIMAL_FOR_FLOATS`, `withExactBigDecimals`), read from the first
//! value of the text (trailing content is not looked at), and printed as Jackson prints:
//! `JsonNode.toString()` writes decimals with `BigDecimal.toString()` (`1E+5`), the mapper's
//! `writeValueAsString` with `toPlainString()` (`WRITE_BIGDECIMAL_AS_PLAIN`).

use std::fmt::Write as _;
use std::str::FromStr;

use bigdecimal::BigDecimal;
use bigdecimal::num_bigint::BigInt;

use super::java;
use crate::error::{Result, SqlError};

/// A Jackson `JsonNode`.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `NullNode`.
    Null,
    /// `BooleanNode`.
    Bool(bool),
    /// An integral number (`IntNode`, `LongNode`, `BigIntegerNode`).
    Int(BigInt),
    /// A `DecimalNode`.
    Decimal(BigDecimal),
    /// A `TextNode`.
    Text(String),
    /// An `ArrayNode`.
    Array(Vec<Node>),
    /// An `ObjectNode`: fields in insertion order, names unique.
    Object(Vec<(String, Node)>),
}

impl Node {
    /// `JsonNode.toString()`.
    pub fn to_node_string(&self) -> String {
        let mut out = String::new();
        write_node(self, &mut out, false);
        out
    }

    /// `UdfJsonMapper.writeValueAsJson(node)`: decimals in plain notation, which Jackson
    /// refuses for scales outside [-9999, 9999].
    pub fn to_json_plain(&self) -> Result<String> {
        if let Some(scale) = self.bad_plain_scale() {
            return Err(SqlError::eval(format!(
                "JSON serialization error: Attempt to write plain `java.math.BigDecimal` \
                 (see JsonGenerator.Feature.WRITE_BIGDECIMAL_AS_PLAIN) with illegal scale \
                 ({scale}): needs to be between [-9999, 9999]"
            )));
        }
        let mut out = String::new();
        write_node(self, &mut out, true);
        Ok(out)
    }

    fn bad_plain_scale(&self) -> Option<i64> {
        match self {
            Self::Decimal(d) => {
                let (_, scale) = d.as_bigint_and_exponent();
                (!(-9999..=9999).contains(&scale)).then_some(scale)
            }
            Self::Array(items) => items.iter().find_map(Node::bad_plain_scale),
            Self::Object(fields) => fields.iter().find_map(|(_, v)| v.bad_plain_scale()),
            _ => None,
        }
    }

    /// A field of an object (`JsonNode.get(String)`); `None` for other nodes.
    pub fn field(&self, name: &str) -> Option<&Node> {
        match self {
            Self::Object(fields) => fields.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Jackson's nesting limit (`StreamReadConstraints`).
const MAX_DEPTH: usize = 1000;

/// A JSON reader over UTF-16-agnostic chars.
pub struct Reader<'a> {
    chars: Vec<char>,
    at: usize,
    depth: usize,
    text: &'a str,
}

fn invalid(text: &str) -> SqlError {
    SqlError::eval(format!("Invalid JSON format:{text}"))
}

impl<'a> Reader<'a> {
    /// A reader at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Self {
            chars: text.chars().collect(),
            at: 0,
            depth: 0,
            text,
        }
    }

    fn err<T>(&self) -> Result<T> {
        Err(invalid(self.text))
    }

    fn skip_ws(&mut self) {
        while let Some(&c) = self.chars.get(self.at) {
            if matches!(c, ' ' | '\t' | '\n' | '\r') {
                self.at += 1;
            } else {
                break;
            }
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    /// Whether only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.at >= self.chars.len()
    }

    /// The root value, `None` for empty content (Jackson's `MissingNode`).
    pub fn root(&mut self) -> Result<Option<Node>> {
        if self.at_end() {
            return Ok(None);
        }
        let root_number = matches!(self.peek(), Some('-' | '0'..='9'));
        let node = self.value()?;
        // A root-level number must be followed by whitespace or the end.
        if root_number
            && let Some(c) = self.peek()
            && !matches!(c, ' ' | '\t' | '\n' | '\r')
        {
            return self.err();
        }
        Ok(Some(node))
    }

    /// Consumes `c` (after whitespace) if it is next.
    pub fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// Reads one value.
    pub fn value(&mut self) -> Result<Node> {
        self.skip_ws();
        match self.peek() {
            Some('{') => {
                self.at += 1;
                self.nest()?;
                let mut fields: Vec<(String, Node)> = Vec::new();
                if !self.eat('}') {
                    loop {
                        self.skip_ws();
                        if self.peek() != Some('"') {
                            return self.err();
                        }
                        self.at += 1;
                        let key = self.string_body()?;
                        if !self.eat(':') {
                            return self.err();
                        }
                        let value = self.value()?;
                        match fields.iter_mut().find(|(k, _)| *k == key) {
                            Some(existing) => existing.1 = value,
                            None => fields.push((key, value)),
                        }
                        if self.eat(',') {
                            continue;
                        }
                        if self.eat('}') {
                            break;
                        }
                        return self.err();
                    }
                }
                self.depth -= 1;
                Ok(Node::Object(fields))
            }
            Some('[') => {
                self.at += 1;
                self.nest()?;
                let mut items = Vec::new();
                if !self.eat(']') {
                    loop {
                        items.push(self.value()?);
                        if self.eat(',') {
                            continue;
                        }
                        if self.eat(']') {
                            break;
                        }
                        return self.err();
                    }
                }
                self.depth -= 1;
                Ok(Node::Array(items))
            }
            Some('"') => {
                self.at += 1;
                Ok(Node::Text(self.string_body()?))
            }
            Some('t') => self.literal("true", Node::Bool(true)),
            Some('f') => self.literal("false", Node::Bool(false)),
            Some('n') => self.literal("null", Node::Null),
            Some('-' | '0'..='9') => self.number(),
            _ => self.err(),
        }
    }

    fn nest(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err();
        }
        Ok(())
    }

    fn literal(&mut self, word: &str, node: Node) -> Result<Node> {
        for expected in word.chars() {
            if self.peek() != Some(expected) {
                return self.err();
            }
            self.at += 1;
        }
        // `truex` is one unrecognized token.
        if self
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
        {
            return self.err();
        }
        Ok(node)
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Result<Node> {
        let start = self.at;
        if self.peek() == Some('-') {
            self.at += 1;
        }
        let int_start = self.at;
        let n = self.digits();
        if n == 0 || (n > 1 && self.chars[int_start] == '0') {
            return self.err();
        }
        let mut float = false;
        if self.peek() == Some('.') {
            self.at += 1;
            if self.digits() == 0 {
                return self.err();
            }
            float = true;
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            self.at += 1;
            if matches!(self.peek(), Some('+' | '-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return self.err();
            }
            float = true;
        }
        // Jackson's StreamReadConstraints: at most 1000 characters in a number.
        if self.at - start > 1000 {
            return self.err();
        }
        let text: String = self.chars[start..self.at].iter().collect();
        if float {
            BigDecimal::from_str(&text)
                .map(Node::Decimal)
                .or_else(|_| self.err())
        } else {
            BigInt::from_str(&text)
                .map(Node::Int)
                .or_else(|_| self.err())
        }
    }

    fn hex4(&mut self) -> Result<u16> {
        let mut v: u16 = 0;
        for _ in 0..4 {
            let d = self
                .peek()
                .and_then(|c| c.to_digit(16))
                .ok_or_else(|| invalid(self.text))?;
            v = v * 16 + d as u16;
            self.at += 1;
        }
        Ok(v)
    }

    /// A string's contents after its opening quote, through the closing one.
    fn string_body(&mut self) -> Result<String> {
        let mut units: Vec<u16> = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return self.err();
            };
            self.at += 1;
            match c {
                '"' => break,
                '\\' => {
                    let Some(e) = self.peek() else {
                        return self.err();
                    };
                    self.at += 1;
                    let unit = match e {
                        '"' => '"' as u16,
                        '\\' => '\\' as u16,
                        '/' => '/' as u16,
                        'b' => 8,
                        'f' => 12,
                        'n' => '\n' as u16,
                        'r' => '\r' as u16,
                        't' => '\t' as u16,
                        'u' => self.hex4()?,
                        _ => return self.err(),
                    };
                    units.push(unit);
                }
                c if (c as u32) < 0x20 => return self.err(),
                c => {
                    let mut buf = [0u16; 2];
                    units.extend_from_slice(c.encode_utf16(&mut buf));
                }
            }
        }
        Ok(java::from_utf16(&units))
    }
}

/// `UdfJsonMapper.parseJson`: the first value of the text (`None`: empty content, Jackson's
/// `MissingNode`); invalid JSON is ksqlDB's "Invalid JSON format" error.
pub fn parse(text: &str) -> Result<Option<Node>> {
    Reader::new(text).root()
}

/// Appends a JSON string literal as Jackson writes it.
pub fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_node(node: &Node, out: &mut String, plain: bool) {
    match node {
        Node::Null => out.push_str("null"),
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Int(i) => out.push_str(&i.to_string()),
        Node::Decimal(d) => out.push_str(&if plain {
            java::big_decimal_to_plain_string(d)
        } else {
            java::big_decimal_to_string(d)
        }),
        Node::Text(s) => write_string(s, out),
        Node::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_node(item, out, plain);
            }
            out.push(']');
        }
        Node::Object(fields) => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_node(v, out, plain);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_like_jackson() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("  ").unwrap(), None);
        assert!(parse("[1] trailing").unwrap().is_some());
        assert!(parse("12 x").unwrap().is_some());
        assert!(parse("12x").is_err());
        assert!(parse("truex").is_err());
        assert!(parse("01").is_err());
        assert!(parse("1.").is_err());
        assert!(parse("{'a': 1}").is_err());
        assert!(parse("[1,]").is_err());
        assert!(parse("\"a\u{1}\"").is_err());
        let obj = parse(r#"{"a": 1, "b": 2, "a": 3}"#).unwrap().unwrap();
        assert_eq!(obj.to_node_string(), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn prints_like_jackson() {
        let n = parse(r#"[1e5, 1.50, -0, 0.0000001, "\u0001\n/é"]"#)
            .unwrap()
            .unwrap();
        assert_eq!(n.to_node_string(), "[1E+5,1.50,0,1E-7,\"\\u0001\\n/é\"]");
        assert_eq!(
            n.to_json_plain().unwrap(),
            "[100000,1.50,0,0.0000001,\"\\u0001\\n/é\"]"
        );
    }
}
