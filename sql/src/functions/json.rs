//! JSON functions, as ksqlDB's `udf.json` classes define them over Jackson (see
//! [`super::jackson`]).

use super::jackson::{self, Node, Reader};
use super::java::{self, JavaHashMap};
use super::typed::typed_udf;
use super::{FunctionRegistry, Nulls, Param, ScalarFunction, args};
use crate::error::{Result, SqlError};
use crate::types::SqlType;
use crate::value::{Value, format_double};

fn s() -> Param {
    SqlType::String.into()
}

/// `JsonPathTokenizer`: `$.a.b`, `$['a']`, `$[0]`, `$.a[1].b`.
fn json_path(path: &str) -> Result<Vec<String>> {
    let bad = || SqlError::eval(format!("Invalid JSON path: '{path}'"));
    let chars: Vec<char> = path.chars().collect();
    if chars.first() != Some(&'$') {
        return Err(bad());
    }
    let unquoted = |c: char| c == '_' || c.is_alphanumeric();
    let mut tokens = Vec::new();
    let mut i = 1;
    while i < chars.len() {
        match chars[i] {
            '.' => {
                i += 1;
                let start = i;
                while i < chars.len() && (unquoted(chars[i]) || chars[i] == ':' || chars[i] == '@')
                {
                    i += 1;
                }
                if i == start {
                    return Err(bad());
                }
                tokens.push(chars[start..i].iter().collect());
            }
            '[' => {
                i += 1;
                let token: String = if chars.get(i) == Some(&'"') {
                    i += 1;
                    let mut token = String::new();
                    loop {
                        match chars.get(i) {
                            None => return Err(bad()),
                            Some('"') => break,
                            Some('\\') => match chars.get(i + 1) {
                                Some(c @ ('"' | '\\')) => {
                                    token.push(*c);
                                    i += 2;
                                }
                                _ => return Err(bad()),
                            },
                            Some(c) => {
                                token.push(*c);
                                i += 1;
                            }
                        }
                    }
                    i += 1;
                    token
                } else {
                    let start = i;
                    while i < chars.len() && unquoted(chars[i]) {
                        i += 1;
                    }
                    if i == start {
                        return Err(bad());
                    }
                    chars[start..i].iter().collect()
                };
                if chars.get(i) != Some(&']') {
                    return Err(bad());
                }
                i += 1;
                tokens.push(token);
            }
            _ => return Err(bad()),
        }
    }
    Ok(tokens)
}

fn extract_json_field(a: &[Value]) -> Result<Value> {
    let input = args::string(&a[0])?;
    let tokens = json_path(args::string(&a[1])?)?;
    let root = jackson::parse(input)?;
    let Some(mut current) = root.as_ref() else {
        // A MissingNode has no fields; with no path it prints as "".
        return Ok(if tokens.is_empty() {
            Value::String(String::new())
        } else {
            Value::Null
        });
    };
    for token in &tokens {
        let next = match current {
            Node::Array(items) => match token.parse::<i32>() {
                Ok(i) if i >= 0 => items.get(i as usize),
                Ok(_) => None,
                Err(_) => return Ok(Value::Null),
            },
            other => other.field(token),
        };
        match next {
            Some(n) => current = n,
            None => return Ok(Value::Null),
        }
    }
    Ok(Value::String(match current {
        Node::Text(t) => t.clone(),
        other => other.to_node_string(),
    }))
}

/// Java's `Integer` / `Long` / `Double` / `String` / `Boolean` / null against a JSON array's
/// elements, as `JsonArrayContains` streams them: elements are compared as they are read,
/// and a read error ends the search with false.
fn json_array_contains(json: &str, value: &Value) -> bool {
    let mut reader = Reader::new(json);
    if !reader.eat('[') {
        return false;
    }
    if reader.eat(']') {
        return false;
    }
    loop {
        let Ok(element) = reader.value() else {
            return false;
        };
        let matched = match (&element, value) {
            (Node::Null, Value::Null) => true,
            (Node::Int(i), Value::Int(v)) => match i32::try_from(i) {
                Ok(i) => i == *v,
                // readValueAs(Integer) of a number out of range throws: the search ends.
                Err(_) => return false,
            },
            (Node::Int(i), Value::BigInt(v)) => match i64::try_from(i) {
                Ok(i) => i == *v,
                Err(_) => return false,
            },
            (Node::Decimal(d), Value::Double(v)) => {
                let parsed: f64 = d.to_string().parse().unwrap_or(f64::NAN);
                java::equals(&Value::Double(parsed), &Value::Double(*v))
            }
            (Node::Text(t), Value::String(v)) => t == v,
            (Node::Bool(b), Value::Boolean(v)) => b == v,
            _ => false,
        };
        if matched {
            return true;
        }
        if reader.eat(',') {
            continue;
        }
        return false;
    }
}

/// A value prepared as ksqlDB's `ToJsonString` prepares it, then written by Jackson.
fn write_value(v: &Value, ty: Option<&SqlType>, out: &mut String) {
    match (v, ty) {
        (Value::Null, _) => out.push_str("null"),
        (Value::Boolean(b), _) => out.push_str(if *b { "true" } else { "false" }),
        (Value::Int(i), _) => out.push_str(&i.to_string()),
        (Value::BigInt(i), _) => out.push_str(&i.to_string()),
        (Value::Double(d), _) => {
            if d.is_finite() {
                out.push_str(&format_double(*d));
            } else {
                jackson::write_string(&format_double(*d), out);
            }
        }
        (Value::Decimal(..), _) => match v.as_big_decimal() {
            Some(d) => out.push_str(&java::big_decimal_to_plain_string(&d)),
            None => out.push_str("null"),
        },
        (Value::String(s), _) => jackson::write_string(s, out),
        (Value::Bytes(b), _) => jackson::write_string(&super::encoding::base64_encode(b), out),
        (Value::Time(ms), _) => jackson::write_string(&super::datetime::iso_time_seconds(*ms), out),
        (Value::Date(days), _) => jackson::write_string(&super::datetime::iso_date(*days), out),
        (Value::Timestamp(ms), _) => {
            jackson::write_string(&super::datetime::iso_timestamp(*ms), out)
        }
        (Value::Array(items), ty) => {
            let element = match ty {
                Some(SqlType::Array(e)) => Some(&**e),
                _ => None,
            };
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, element, out);
            }
            out.push(']');
        }
        (Value::Map(entries), ty) => {
            let value_ty = match ty {
                Some(SqlType::Map(_, v)) => Some(&**v),
                _ => None,
            };
            // A TreeMap of the keys' toString().
            let mut sorted: Vec<(String, &Value)> = Vec::new();
            for (k, v) in entries {
                let key = java::to_string(k).unwrap_or_else(|| k.to_string());
                match sorted.iter_mut().find(|(existing, _)| *existing == key) {
                    Some(entry) => entry.1 = v,
                    None => sorted.push((key, v)),
                }
            }
            sorted.sort_by(|(a, _), (b, _)| java::compare_str(a, b));
            write_object(sorted.into_iter().map(|(k, v)| (k, v, value_ty)), out);
        }
        (Value::Struct(values), Some(SqlType::Struct(fields))) => {
            let mut sorted: Vec<(String, &Value, Option<&SqlType>)> = fields
                .iter()
                .zip(values)
                .map(|(f, v)| (f.name.clone(), v, Some(&f.ty)))
                .collect();
            sorted.sort_by(|(a, ..), (b, ..)| java::compare_str(a, b));
            write_object(sorted.into_iter(), out);
        }
        (Value::Struct(values), _) => {
            // Without the type, positions stand in for field names.
            let fields = values
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v, None));
            write_object(fields, out);
        }
    }
}

fn write_object<'a>(
    fields: impl Iterator<Item = (String, &'a Value, Option<&'a SqlType>)>,
    out: &mut String,
) {
    out.push('{');
    for (i, (k, v, ty)) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        jackson::write_string(&k, out);
        out.push(':');
        write_value(v, ty, out);
    }
    out.push('}');
}

/// TO_JSON_STRING of a value of a type.
pub fn to_json_string(v: &Value, ty: Option<&SqlType>) -> String {
    let mut out = String::new();
    write_value(v, ty, &mut out);
    out
}

fn json_concat(a: &[Value]) -> Result<Value> {
    let mut nodes = Vec::with_capacity(a.len());
    for v in a {
        let Some(text) = args::opt_string(v)? else {
            return Ok(Value::Null);
        };
        match jackson::parse(text)? {
            Some(node) => nodes.push(node),
            None => return Ok(Value::Null),
        }
    }
    let mut nodes = nodes.into_iter();
    let Some(first) = nodes.next() else {
        return Err(SqlError::eval("Index 0 out of bounds for length 0"));
    };
    let rest: Vec<Node> = nodes.collect();
    let all_objects =
        matches!(first, Node::Object(_)) && rest.iter().all(|n| matches!(n, Node::Object(_)));
    let result = if all_objects {
        let Node::Object(mut fields) = first else {
            return Err(SqlError::eval("JSON_CONCAT: expected an object"));
        };
        for node in rest {
            if let Node::Object(more) = node {
                for (k, v) in more {
                    match fields.iter_mut().find(|(existing, _)| *existing == k) {
                        Some(entry) => entry.1 = v,
                        None => fields.push((k, v)),
                    }
                }
            }
        }
        Node::Object(fields)
    } else if rest.is_empty() {
        first
    } else {
        let as_items = |n: Node| match n {
            Node::Array(items) => items,
            other => vec![other],
        };
        let mut items = as_items(first);
        for node in rest {
            items.extend(as_items(node));
        }
        Node::Array(items)
    };
    Ok(Value::String(result.to_json_plain()?))
}

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_scalar(
        ScalarFunction::new(
            "extractjsonfield",
            "Given a STRING that contains JSON data, extract the value at the specified  \
             JSONPath or NULL if the specified path does not exist.",
        )
        .with(vec![s(), s()], SqlType::String, extract_json_field),
    );
    r.add_scalar(
        ScalarFunction::new(
            "IS_JSON_STRING",
            "Given a string, returns true if it can be parsed as a valid JSON value, false \
             otherwise.",
        )
        .with_nulls(vec![s()], SqlType::Boolean, |a| {
            Ok(Value::Boolean(match args::opt_string(&a[0])? {
                Some(text) => matches!(jackson::parse(text), Ok(Some(_))),
                None => false,
            }))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "JSON_ARRAY_CONTAINS",
            "Parses a JSON array and determines whether or not the supplied value is contained \
             within the array.",
        )
        .with_nulls(vec![s(), Param::Generic('T')], SqlType::Boolean, |a| {
            let Some(json) = args::opt_string(&a[0])? else {
                return Err(SqlError::eval("JSON_ARRAY_CONTAINS of a NULL array"));
            };
            Ok(Value::Boolean(json_array_contains(json, &a[1])))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "JSON_ARRAY_LENGTH",
            "Given a string, parses it as a JSON value and returns the length of the top-level \
             array.",
        )
        .with(vec![s()], SqlType::Int, |a| {
            Ok(match jackson::parse(args::string(&a[0])?)? {
                Some(Node::Array(items)) => Value::Int(items.len() as i32),
                _ => Value::Null,
            })
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "JSON_CONCAT",
            "Given N strings, parse them as JSON values and return a string representing their \
             concatenation.",
        )
        .with_nulls(vec![s()], SqlType::String, json_concat)
        .variadic(),
    );
    r.add_scalar(
        ScalarFunction::new(
            "JSON_KEYS",
            "Given a string, parses it as a JSON object and returns a ksqlDB array of strings \
             representing the top-level keys.",
        )
        .with(vec![s()], SqlType::array(SqlType::String), |a| {
            Ok(match jackson::parse(args::string(&a[0])?)? {
                Some(Node::Object(fields)) => {
                    Value::Array(fields.into_iter().map(|(k, _)| Value::String(k)).collect())
                }
                _ => Value::Null,
            })
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "JSON_RECORDS",
            "Given a string, parses it as a JSON object and returns a map representing the \
             top-level keys and values.",
        )
        .with(
            vec![s()],
            SqlType::map(SqlType::String, SqlType::String),
            |a| {
                Ok(match jackson::parse(args::string(&a[0])?)? {
                    Some(Node::Object(fields)) => {
                        let mut map = JavaHashMap::with_capacity(fields.len());
                        for (k, v) in fields {
                            let text = match v {
                                Node::Text(t) => t,
                                other => other.to_node_string(),
                            };
                            map.put(Value::String(k), Value::String(text));
                        }
                        Value::Map(map.into_entries())
                    }
                    _ => Value::Null,
                })
            },
        ),
    );
    r.add_scalar(
        ScalarFunction::new(
            "JSON_ITEMS",
            "Given a string with JSON array, converts it to a ksqlDB array of JSON strings.",
        )
        .with(vec![s()], SqlType::array(SqlType::String), |a| {
            let text = args::string(&a[0])?;
            match jackson::parse(text)? {
                Some(Node::Array(items)) => Ok(Value::Array(
                    items
                        .iter()
                        .map(|n| Value::String(n.to_node_string()))
                        .collect(),
                )),
                // readValue(List<JsonNode>) of anything else fails.
                _ => Err(SqlError::eval(format!("Invalid JSON format:{text}"))),
            }
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "TO_JSON_STRING",
            "Given any ksqlDB type returns the equivalent JSON string.",
        )
        .with_datafusion(
            vec![Param::Generic('T')],
            SqlType::String,
            typed_udf(
                "to_json_string",
                SqlType::String,
                Nulls::Pass,
                |a, types| {
                    Ok(Value::String(to_json_string(
                        &a[0],
                        types.first().and_then(Option::as_ref),
                    )))
                },
            ),
        ),
    );
}
