//! URL functions (`java.net.URI`, `URLDecoder`, Guava's form-parameter escaper), bytes
//! conversions (INT/BIGINT/DOUBLE_FROM_BYTES) and GEO_DISTANCE, as ksqlDB's `udf.url`,
//! `udf.conversions` and `udf.geo` classes define them.

use super::{FunctionRegistry, Param, ScalarFunction, args};
use crate::error::{Result, SqlError};
use crate::types::SqlType;
use crate::value::Value;

fn s() -> Param {
    SqlType::String.into()
}

/// The parts of a `java.net.URI` the URL functions read (raw, undecoded).
#[derive(Debug, Default, PartialEq)]
struct Uri {
    scheme: Option<String>,
    host: Option<String>,
    port: Option<i32>,
    path: Option<String>,
    query: Option<String>,
    fragment: Option<String>,
}

const MARK: &str = "-_.!~*'()";
const RESERVED: &str = ";/?:@&=+$,[]";

fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || MARK.contains(c)
}

/// A character Java's URI parser lets through unescaped: the class's ASCII characters,
/// or any visible non-ASCII character.
fn allowed(c: char, class: &str, base_unreserved: bool) -> bool {
    (c.is_ascii() && ((base_unreserved && is_unreserved(c)) || class.contains(c)))
        || (!c.is_ascii() && !c.is_whitespace() && !c.is_control())
}

struct UriParser<'a> {
    chars: Vec<char>,
    input: &'a str,
}

impl UriParser<'_> {
    fn fail(&self, what: &str, at: usize) -> SqlError {
        SqlError::eval(format!(
            "URL input has invalid syntax: {}: {what} at index {at}: {}",
            self.input, self.input
        ))
    }

    fn text(&self, from: usize, to: usize) -> String {
        self.chars[from..to].iter().collect()
    }

    /// The first position at or after `from` holding one of `stop`, or `end`.
    fn scan_to(&self, from: usize, end: usize, stop: &str) -> usize {
        (from..end)
            .find(|&i| stop.contains(self.chars[i]))
            .unwrap_or(end)
    }

    /// Checks `[from, to)` against a class (`%XX` escapes allowed).
    fn check(&self, from: usize, to: usize, class: &str, what: &str) -> Result<()> {
        let mut i = from;
        while i < to {
            let c = self.chars[i];
            if c == '%' {
                let hex = |k: usize| self.chars.get(k).is_some_and(|c| c.is_ascii_hexdigit());
                if hex(i + 1) && hex(i + 2) && i + 2 < to {
                    i += 3;
                    continue;
                }
                return Err(self.fail(&format!("Malformed escape pair in {what}"), i));
            }
            if !allowed(c, class, true) {
                return Err(self.fail(&format!("Illegal character in {what}"), i));
            }
            i += 1;
        }
        Ok(())
    }

    fn parse(&self) -> Result<Uri> {
        let n = self.chars.len();
        let mut uri = Uri::default();
        let colon = (0..n)
            .take_while(|&i| !"/?#".contains(self.chars[i]))
            .find(|&i| self.chars[i] == ':');
        let mut p;
        match colon {
            Some(c) => {
                if c == 0 {
                    return Err(self.fail("Expected scheme name", 0));
                }
                if !self.chars[0].is_ascii_alphabetic() {
                    return Err(self.fail("Illegal character in scheme name", 0));
                }
                if let Some(bad) = (1..c).find(|&i| {
                    let ch = self.chars[i];
                    !(ch.is_ascii_alphanumeric() || "+-.".contains(ch))
                }) {
                    return Err(self.fail("Illegal character in scheme name", bad));
                }
                uri.scheme = Some(self.text(0, c));
                p = c + 1;
                if self.chars.get(p) == Some(&'/') {
                    p = self.hierarchical(p, &mut uri)?;
                } else {
                    let q = self.scan_to(p, n, "#");
                    if q <= p {
                        return Err(self.fail("Expected scheme-specific part", p));
                    }
                    self.check(p, q, RESERVED, "opaque part")?;
                    p = q;
                }
            }
            None => p = self.hierarchical(0, &mut uri)?,
        }
        if self.chars.get(p) == Some(&'#') {
            self.check(p + 1, n, RESERVED, "fragment")?;
            uri.fragment = Some(self.text(p + 1, n));
            p = n;
        }
        if p < n {
            return Err(self.fail("Expected end of URI", p));
        }
        Ok(uri)
    }

    fn hierarchical(&self, start: usize, uri: &mut Uri) -> Result<usize> {
        let n = self.chars.len();
        let mut p = start;
        if self.chars.get(p) == Some(&'/') && self.chars.get(p + 1) == Some(&'/') {
            p += 2;
            let q = self.scan_to(p, n, "/?#");
            if q > p {
                self.authority(p, q, uri)?;
                p = q;
            } else if q >= n {
                return Err(self.fail("Expected authority", p));
            }
        }
        let q = self.scan_to(p, n, "?#");
        self.check(p, q, ":@&=+$,;/", "path")?;
        uri.path = Some(self.text(p, q));
        p = q;
        if self.chars.get(p) == Some(&'?') {
            p += 1;
            let q = self.scan_to(p, n, "#");
            self.check(p, q, RESERVED, "query")?;
            uri.query = Some(self.text(p, q));
            p = q;
        }
        Ok(p)
    }

    /// A server-based authority (`[user@]host[:port]`), or else a registry-based one
    /// (which has no host).
    fn authority(&self, start: usize, end: usize, uri: &mut Uri) -> Result<()> {
        let server_class = ";:&=+$,.@[]";
        let server = (start..end)
            .all(|i| allowed(self.chars[i], server_class, true) || self.chars[i] == '%');
        let registry =
            (start..end).all(|i| allowed(self.chars[i], "$,;:@&=+", true) || self.chars[i] == '%');
        if server {
            let mut attempt = Uri::default();
            match self.server(start, end, &mut attempt) {
                Ok(()) => {
                    uri.host = attempt.host;
                    uri.port = attempt.port;
                    return Ok(());
                }
                Err(e) if !registry => return Err(e),
                Err(_) => {}
            }
        }
        if registry {
            return Ok(());
        }
        let bad = (start..end)
            .find(|&i| !allowed(self.chars[i], server_class, true))
            .unwrap_or(start);
        Err(self.fail("Illegal character in authority", bad))
    }

    fn server(&self, start: usize, end: usize, uri: &mut Uri) -> Result<()> {
        let mut p = start;
        if let Some(at) = (p..end).find(|&i| self.chars[i] == '@') {
            self.check(p, at, ";:&=+$,", "user info")?;
            p = at + 1;
        }
        if self.chars.get(p) == Some(&'[') {
            let close = (p..end)
                .find(|&i| self.chars[i] == ']')
                .ok_or_else(|| self.fail("Expected closing bracket for IPv6 address", end))?;
            uri.host = Some(self.text(p, close + 1));
            p = close + 1;
        } else {
            p = self.host(p, end, uri)?;
        }
        if self.chars.get(p) == Some(&':') && p < end {
            p += 1;
            let q = self.scan_to(p, end, "/");
            if q > p {
                if let Some(bad) = (p..q).find(|&i| !self.chars[i].is_ascii_digit()) {
                    return Err(self.fail("Illegal character in port number", bad));
                }
                uri.port = Some(
                    self.text(p, q)
                        .parse()
                        .map_err(|_| self.fail("Malformed port number", p))?,
                );
                p = q;
            }
        }
        if p < end {
            return Err(self.fail("Expected port number", p));
        }
        Ok(())
    }

    fn host(&self, start: usize, end: usize, uri: &mut Uri) -> Result<usize> {
        // A dotted-quad IPv4 address, followed by nothing or a port.
        let ipv4_end = {
            let mut p = start;
            let mut ok = true;
            for k in 0..4 {
                let q = (p..end.min(p + 3))
                    .take_while(|&i| self.chars[i].is_ascii_digit())
                    .last()
                    .map(|i| i + 1)
                    .unwrap_or(p);
                if q == p || self.text(p, q).parse::<u32>().map_or(true, |v| v > 255) {
                    ok = false;
                    break;
                }
                p = q;
                if k < 3 {
                    if self.chars.get(p) != Some(&'.') {
                        ok = false;
                        break;
                    }
                    p += 1;
                }
            }
            (ok && (p == end || self.chars.get(p) == Some(&':'))).then_some(p)
        };
        if let Some(p) = ipv4_end {
            uri.host = Some(self.text(start, p));
            return Ok(p);
        }
        let mut p = start;
        let mut last_label: Option<usize> = None;
        while p < end {
            let label_start = p;
            while p < end && self.chars[p].is_ascii_alphanumeric() {
                p += 1;
            }
            if p == label_start {
                break;
            }
            last_label = Some(label_start);
            while p < end && (self.chars[p].is_ascii_alphanumeric() || self.chars[p] == '-') {
                p += 1;
            }
            if self.chars[p - 1] == '-' {
                return Err(self.fail("Illegal character in hostname", p - 1));
            }
            if p < end && self.chars[p] == '.' {
                p += 1;
            } else {
                break;
            }
        }
        if p < end && self.chars[p] != ':' {
            return Err(self.fail("Illegal character in hostname", p));
        }
        let Some(l) = last_label else {
            return Err(self.fail("Expected hostname", start));
        };
        if l > start && !self.chars[l].is_ascii_alphabetic() {
            return Err(self.fail("Illegal character in hostname", l));
        }
        uri.host = Some(self.text(start, p));
        Ok(p)
    }
}

fn parse_uri(input: &str) -> Result<Uri> {
    UriParser {
        chars: input.chars().collect(),
        input,
    }
    .parse()
}

/// `URI.decode`: `%XX` sequences as UTF-8 (malformed bytes become U+FFFD).
fn uri_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `URLDecoder.decode(s, UTF-8)`.
fn url_decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                if i + 2 >= bytes.len() {
                    return Err(SqlError::eval(
                        "URLDecoder: Incomplete trailing escape (%) pattern",
                    ));
                }
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                let b = u8::from_str_radix(hex, 16).map_err(|_| {
                    SqlError::eval(format!(
                        "URLDecoder: Illegal hex characters in escape (%) pattern - {hex}"
                    ))
                })?;
                out.push(b);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Guava's `UrlEscapers.urlFormParameterEscaper()`.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || "-_.*".contains(c) {
            out.push(c);
        } else if c == ' ' {
            out.push('+');
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

fn url_part(a: &[Value], part: fn(&Uri) -> Option<String>) -> Result<Value> {
    let uri = parse_uri(args::string(&a[0])?)?;
    Ok(part(&uri).map(Value::String).unwrap_or(Value::Null))
}

fn from_bytes(a: &[Value], size: usize) -> Result<Option<(Vec<u8>, bool)>> {
    let little = match a.get(1) {
        None => false,
        Some(order) => match args::opt_string(order)? {
            Some(o) if o.eq_ignore_ascii_case("BIG_ENDIAN") => false,
            Some(o) if o.eq_ignore_ascii_case("LITTLE_ENDIAN") => true,
            other => {
                return Err(SqlError::eval(format!(
                    "Byte order must be BIG_ENDIAN or LITTLE_ENDIAN. Unknown byte order '{}'.",
                    other.unwrap_or("null")
                )));
            }
        },
    };
    let Value::Bytes(bytes) = &a[0] else {
        return Ok(None);
    };
    if bytes.len() != size {
        return Err(SqlError::eval(format!(
            "Number of bytes must be equal to {size}, but found {}",
            bytes.len()
        )));
    }
    Ok(Some((bytes.clone(), little)))
}

fn geo_distance(a: &[Value]) -> Result<Value> {
    let mut coords = [0.0f64; 4];
    for (i, c) in coords.iter_mut().enumerate() {
        *c = match &a[i] {
            Value::Double(d) => *d,
            _ => {
                return Err(SqlError::eval(
                    "NULL passed for a parameter of primitive type double",
                ));
            }
        };
    }
    let [lat1, lon1, lat2, lon2] = coords;
    if !(-90.0..=90.0).contains(&lat1) || !(-90.0..=90.0).contains(&lat2) {
        return Err(SqlError::eval(
            "valid latitude values for GeoDistance function are in the range of -90 to 90 \
             decimal degrees",
        ));
    }
    if !(-180.0..=180.0).contains(&lon1) || !(-180.0..=180.0).contains(&lon2) {
        return Err(SqlError::eval(
            "valid longitude values for GeoDistance function are in the range of -180 to +180 \
             decimal degrees",
        ));
    }
    let radius = match a.get(4).map(args::opt_string).transpose()?.flatten() {
        Some(units) if !units.trim().is_empty() => match units.trim().to_lowercase().as_str() {
            "mi" | "mile" | "miles" => 3959.0,
            "km" | "kilometer" | "kilometers" | "kilometre" | "kilometres" => 6371.0,
            _ => {
                return Err(SqlError::eval(
                    "GeoDistance function units parameter must be one of mi, mile, miles, km, \
                     kilometer, kilometers, kilometre, or kilometres. Values are \
                     case-insensitive.",
                ));
            }
        },
        _ => 6371.0,
    };
    let haversin = |x: f64| {
        let s = (x / 2.0).sin();
        s * s
    };
    let rad = super::math::java_to_radians;
    let d_lat = rad(lat2 - lat1);
    let d_lon = rad(lon2 - lon1);
    let h = haversin(d_lat) + haversin(d_lon) * rad(lat1).cos() * rad(lat2).cos();
    Ok(Value::Double(2.0 * h.sqrt().asin() * radius))
}

pub(super) fn register(r: &mut FunctionRegistry) {
    for (name, description, part) in [
        (
            "url_extract_fragment",
            "Extracts the fragment of an application/x-www-form-urlencoded String input",
            (|u: &Uri| u.fragment.as_deref().map(uri_decode)) as fn(&Uri) -> Option<String>,
        ),
        (
            "url_extract_host",
            "Extracts the Host Name of an application/x-www-form-urlencoded String input",
            |u: &Uri| u.host.clone(),
        ),
        (
            "url_extract_path",
            "Extracts the path of an application/x-www-form-urlencoded encoded String input",
            |u: &Uri| u.path.as_deref().map(uri_decode),
        ),
        (
            "url_extract_protocol",
            "Extracts the Scheme Component (protocol) of an application/x-www-form-urlencoded \
             encoded String input",
            |u: &Uri| u.scheme.clone(),
        ),
        (
            "url_extract_query",
            "Extracts the query parameters of an application/x-www-form-urlencoded encoded \
             String input, if it exists.",
            |u: &Uri| u.query.as_deref().map(uri_decode),
        ),
    ] {
        r.add_scalar(ScalarFunction::new(name, description).with(
            vec![s()],
            SqlType::String,
            move |a| url_part(a, part),
        ));
    }
    r.add_scalar(
        ScalarFunction::new(
            "url_extract_port",
            "Extracts the port from an application/x-www-form-urlencoded encoded String. If \
             there is no port or the string is invalid, this will return null.",
        )
        .with(vec![s()], SqlType::Int, |a| {
            let uri = parse_uri(args::string(&a[0])?)?;
            Ok(uri
                .port
                .filter(|p| *p >= 0)
                .map(Value::Int)
                .unwrap_or(Value::Null))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "url_extract_parameter",
            "Extracts a parameter with a specified name encoded inside an \
             application/x-www-form-urlencoded String.",
        )
        .with(vec![s(), s()], SqlType::String, |a| {
            let uri = parse_uri(args::string(&a[0])?)?;
            let name = args::string(&a[1])?;
            let Some(query) = uri.query.as_deref().map(uri_decode) else {
                return Ok(Value::Null);
            };
            for param in query.split('&') {
                match param.split_once('=') {
                    None if param == name => return Ok(Value::String(String::new())),
                    Some((k, v)) if k == name => return Ok(Value::String(v.to_string())),
                    _ => {}
                }
            }
            Ok(Value::Null)
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "url_encode_param",
            "Returns a version of the input with all URL sensitive characters encoded using the \
             application/x-www-form-urlencoded standard.",
        )
        .with(vec![s()], SqlType::String, |a| {
            Ok(Value::String(url_encode(args::string(&a[0])?)))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "url_decode_param",
            "Decodes a previously encoded application/x-www-form-urlencoded String",
        )
        .with(vec![s()], SqlType::String, |a| {
            Ok(Value::String(url_decode(args::string(&a[0])?)?))
        }),
    );
    let bytes_param = || Param::from(SqlType::Bytes);
    r.add_scalar(
        ScalarFunction::new(
            "int_from_bytes",
            "Converts a BYTES value to an INT value according to the specified byte order. \
             BYTES must be 4 bytes long or a NULL value will be returned.",
        )
        .with(vec![bytes_param()], SqlType::Int, int_from)
        .with_nulls(vec![bytes_param(), s()], SqlType::Int, int_from),
    );
    r.add_scalar(
        ScalarFunction::new(
            "bigint_from_bytes",
            "Converts a BYTES value to an BIGINT value according to the specified byte order. \
             BYTES must be 8 bytes long or a NULL value will be returned.",
        )
        .with(vec![bytes_param()], SqlType::BigInt, |a| {
            long_from(a, false)
        })
        .with_nulls(vec![bytes_param(), s()], SqlType::BigInt, |a| {
            long_from(a, false)
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "double_from_bytes",
            "Converts a BYTES value to an DOUBLE value according to the specified byte order. \
             BYTES must be 8 bytes long or a NULL value will be returned.",
        )
        .with(vec![bytes_param()], SqlType::Double, |a| long_from(a, true))
        .with_nulls(vec![bytes_param(), s()], SqlType::Double, |a| {
            long_from(a, true)
        }),
    );
    let d = || Param::from(SqlType::Double);
    r.add_scalar(
        ScalarFunction::new(
            "geo_distance",
            "Compute the distance between two points on the surface of the earth, according to \
             the Haversine formula for \"great circle distance\".",
        )
        .with_nulls(vec![d(), d(), d(), d(), s()], SqlType::Double, geo_distance)
        .with_nulls(vec![d(), d(), d(), d()], SqlType::Double, geo_distance),
    );
}

fn int_from(a: &[Value]) -> Result<Value> {
    Ok(match from_bytes(a, 4)? {
        Some((b, little)) => {
            let arr = [b[0], b[1], b[2], b[3]];
            Value::Int(if little {
                i32::from_le_bytes(arr)
            } else {
                i32::from_be_bytes(arr)
            })
        }
        None => Value::Null,
    })
}

fn long_from(a: &[Value], double: bool) -> Result<Value> {
    Ok(match from_bytes(a, 8)? {
        Some((b, little)) => {
            let mut arr = [0u8; 8];
            arr.copy_from_slice(&b);
            let bits = if little {
                u64::from_le_bytes(arr)
            } else {
                u64::from_be_bytes(arr)
            };
            if double {
                Value::Double(f64::from_bits(bits))
            } else {
                Value::BigInt(bits as i64)
            }
        }
        None => Value::Null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_uris_as_java() {
        let u = parse_uri("https://user@www.example.com:8080/a%20b/c?x=1&y=%3D#frag").unwrap();
        assert_eq!(u.scheme.as_deref(), Some("https"));
        assert_eq!(u.host.as_deref(), Some("www.example.com"));
        assert_eq!(u.port, Some(8080));
        assert_eq!(u.path.as_deref().map(uri_decode).as_deref(), Some("/a b/c"));
        assert_eq!(
            u.query.as_deref().map(uri_decode).as_deref(),
            Some("x=1&y==")
        );
        assert_eq!(u.fragment.as_deref(), Some("frag"));
        let opaque = parse_uri("mailto:someone@example.com").unwrap();
        assert_eq!(opaque.path, None);
        assert_eq!(opaque.host, None);
        assert!(parse_uri("http://a b").is_err());
        assert!(parse_uri("http://example.com/a|b").is_err());
        // An authority that is not a server is a registry name: no host.
        let reg = parse_uri("http://ex_ample.com/").unwrap();
        assert_eq!(reg.host, None);
        assert_eq!(
            parse_uri("http://127.0.0.1:99").unwrap().host.as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            parse_uri("/relative/path").unwrap().path.as_deref(),
            Some("/relative/path")
        );
    }

    #[test]
    fn form_encoding() {
        assert_eq!(url_encode("a b&c=d/é*"), "a+b%26c%3Dd%2F%C3%A9*");
        assert_eq!(url_decode("a+b%26c%3Dd%2F%C3%A9").unwrap(), "a b&c=d/é");
        assert!(url_decode("abc%2").is_err());
        assert!(url_decode("%zz").is_err());
    }
}
