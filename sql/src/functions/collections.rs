//! Array and map functions, as ksqlDB's `udf.array`, `udf.list` and `udf.map` classes
//! define them: element equality is Java's `equals`, ordering its `compareTo`, and the
//! maps ksqlDB builds in a `HashMap` come out in that map's iteration order.

use std::cmp::Ordering;

use super::java::{self, JavaHashMap};
use super::{FunctionRegistry, Param, Returns, ScalarFunction, args};
use crate::error::{Result, SqlError};
use crate::types::SqlType;
use crate::value::Value;

fn t() -> Param {
    Param::Generic('T')
}

fn array_t() -> Param {
    Param::array(Param::Generic('T'))
}

fn string_map_t() -> Param {
    Param::map(SqlType::String.into(), Param::Generic('T'))
}

fn returns_map_t() -> Returns {
    Returns::Custom(std::sync::Arc::new(|b: &super::Binding| {
        b.generics
            .get(&'T')
            .cloned()
            .map(|v| SqlType::map(SqlType::String, v))
            .ok_or_else(|| {
                SqlError::semantic(
                    "Can't infer a type of null. Please explicitly cast it to a required type, \
                     e.g. CAST(null AS VARCHAR).",
                )
            })
    }))
}

/// Whether Java can order values of this kind (`Comparable`).
fn check_comparable(items: &[Value], function: &str) -> Result<()> {
    match items
        .iter()
        .find(|v| matches!(v, Value::Array(_) | Value::Map(_) | Value::Struct(_)))
    {
        Some(_) => Err(SqlError::eval(format!(
            "{function}: the elements are not comparable"
        ))),
        None => Ok(()),
    }
}

fn compare(a: &Value, b: &Value) -> Ordering {
    java::compare(a, b).unwrap_or(Ordering::Equal)
}

fn array_extremum(a: &[Value], max: bool, function: &str) -> Result<Value> {
    let items = args::array(&a[0])?;
    check_comparable(items, function)?;
    let mut best: Option<&Value> = None;
    for v in items.iter().filter(|v| !v.is_null()) {
        best = match best {
            None => Some(v),
            Some(b) => {
                let ord = compare(v, b);
                if (max && ord == Ordering::Greater) || (!max && ord == Ordering::Less) {
                    Some(v)
                } else {
                    Some(b)
                }
            }
        };
    }
    Ok(best.cloned().unwrap_or(Value::Null))
}

fn array_sort(a: &[Value]) -> Result<Value> {
    let (Value::Array(items), direction) = (&a[0], a.get(1)) else {
        return Ok(Value::Null);
    };
    let descending = match direction {
        None => false,
        Some(Value::Null) => return Ok(Value::Null),
        Some(d) => match args::string(d)?.to_uppercase().as_str() {
            "ASC" | "ASCENDING" => false,
            "DESC" | "DESCENDING" => true,
            _ => return Ok(Value::Null),
        },
    };
    check_comparable(items, "array_sort")?;
    let mut sorted = items.clone();
    // Stable, NULLs last in either direction.
    sorted.sort_by(|x, y| match (x.is_null(), y.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ if descending => compare(y, x),
        _ => compare(x, y),
    });
    Ok(Value::Array(sorted))
}

/// ARRAY_JOIN: the elements' `toString()`, NULL as "null"; only primitive elements.
fn array_join(a: &[Value]) -> Result<Value> {
    let Value::Array(items) = &a[0] else {
        return Ok(Value::Null);
    };
    let delimiter = match a.get(1) {
        None => ",",
        Some(d) => args::opt_string(d)?.unwrap_or(""),
    };
    let mut parts = Vec::with_capacity(items.len());
    for item in items {
        if item.is_null() {
            parts.push("null".to_string());
            continue;
        }
        parts.push(java::to_string(item).ok_or_else(|| {
            SqlError::eval(format!(
                "error: hit element of type {} which is currently not supported",
                java_class(item)
            ))
        })?);
    }
    Ok(Value::String(parts.join(delimiter)))
}

fn java_class(v: &Value) -> &'static str {
    match v {
        Value::Bytes(_) => "java.nio.HeapByteBuffer",
        Value::Timestamp(_) => "java.sql.Timestamp",
        Value::Date(_) => "java.sql.Date",
        Value::Time(_) => "java.sql.Time",
        Value::Array(_) => "java.util.ArrayList",
        Value::Map(_) => "java.util.HashMap",
        Value::Struct(_) => "org.apache.kafka.connect.data.Struct",
        _ => "java.lang.Object",
    }
}

/// The most elements GENERATE_SERIES builds (ksqlDB would try to allocate any number).
const MAX_SERIES: i64 = 10_000_000;

fn generate_series(start: i64, end: i64, step: i64, bigint: bool) -> Result<Value> {
    if step == 0 {
        return Err(SqlError::eval("GENERATE_SERIES step cannot be zero"));
    }
    // Java's int (or long) arithmetic wraps.
    let diff = if bigint {
        end.wrapping_sub(start)
    } else {
        (end as i32).wrapping_sub(start as i32) as i64
    };
    if (diff > 0 && step < 0) || (diff < 0 && step > 0) {
        return Err(SqlError::eval("GENERATE_SERIES step has wrong sign"));
    }
    let size = 1i64.wrapping_add(diff.wrapping_div(step));
    if size > MAX_SERIES {
        return Err(SqlError::eval(format!(
            "GENERATE_SERIES would generate {size} values, more than {MAX_SERIES}"
        )));
    }
    let mut out = Vec::with_capacity(size.max(0) as usize);
    let mut value = start;
    for _ in 0..size {
        out.push(if bigint {
            Value::BigInt(value)
        } else {
            Value::Int(value as i32)
        });
        value = if bigint {
            value.wrapping_add(step)
        } else {
            (value as i32).wrapping_add(step as i32) as i64
        };
    }
    Ok(Value::Array(out))
}

fn series_fn(a: &[Value]) -> Result<Value> {
    let bigint = matches!(a[0], Value::BigInt(_));
    let int = |v: &Value| -> Result<i64> {
        match v {
            Value::Int(i) => Ok(*i as i64),
            Value::BigInt(i) => Ok(*i),
            _ => Err(SqlError::eval(
                "NULL passed for a parameter of a primitive type",
            )),
        }
    };
    let (start, end) = (int(&a[0])?, int(&a[1])?);
    let step = match a.get(2) {
        Some(s) => args::primitive_int(s)? as i64,
        None => {
            let diff = if bigint {
                end.wrapping_sub(start)
            } else {
                (end as i32).wrapping_sub(start as i32) as i64
            };
            if diff > 0 { 1 } else { -1 }
        }
    };
    generate_series(start, end, step, bigint)
}

fn entries(a: &[Value]) -> Result<Value> {
    let sorted = match &a[1] {
        Value::Boolean(b) => *b,
        _ => {
            return Err(SqlError::eval(
                "NULL passed for a parameter of primitive type boolean",
            ));
        }
    };
    let Value::Map(map) = &a[0] else {
        return Ok(Value::Null);
    };
    let mut entries = map.clone();
    if sorted {
        entries.sort_by(|(x, _), (y, _)| compare(x, y));
    }
    Ok(Value::Array(
        entries
            .into_iter()
            .map(|(k, v)| Value::Struct(vec![k, v]))
            .collect(),
    ))
}

fn entries_type(value: SqlType) -> SqlType {
    SqlType::array(SqlType::structure([("K", SqlType::String), ("V", value)]))
}

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_scalar(
        ScalarFunction::new(
            "array_concat",
            "Concatenates two arrays, creating an array that contains all the elements in the \
             first array followed by all the elements in the second array. Returns NULL if both \
             input arrays are NULL.",
        )
        .with_nulls(vec![array_t(), array_t()], Returns::ArrayOf('T'), |a| {
            Ok(match (&a[0], &a[1]) {
                (Value::Null, Value::Null) => Value::Null,
                (Value::Array(x), Value::Null) => Value::Array(x.clone()),
                (Value::Null, Value::Array(y)) => Value::Array(y.clone()),
                (Value::Array(x), Value::Array(y)) => {
                    Value::Array(x.iter().chain(y).cloned().collect())
                }
                _ => return Err(SqlError::eval("ARRAY_CONCAT expects arrays")),
            })
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "ARRAY_CONTAINS",
            "Returns true if the array is non-null and contains the supplied value.",
        )
        .with_nulls(vec![array_t(), t()], SqlType::Boolean, |a| {
            Ok(Value::Boolean(match &a[0] {
                Value::Array(items) => items.iter().any(|v| java::equals(v, &a[1])),
                _ => false,
            }))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "array_distinct",
            "Returns an array of all the distinct values, including NULL if present, from the \
             input array.",
        )
        .with(vec![array_t()], Returns::ArrayOf('T'), |a| {
            Ok(Value::Array(java::distinct(args::array(&a[0])?.to_vec())))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "array_except",
            "Returns an array of all the elements in an array except for those also present in \
             a second array.",
        )
        .with(vec![array_t(), array_t()], Returns::ArrayOf('T'), |a| {
            let right = java::value_set(args::array(&a[1])?);
            let left = java::distinct(args::array(&a[0])?.to_vec());
            Ok(Value::Array(
                left.into_iter()
                    .filter(|v| !right.contains(&java::equality_key(v)))
                    .collect(),
            ))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "array_intersect",
            "Returns an array of all the distinct elements from the intersection of both input \
             arrays, or NULL if either input array is NULL.",
        )
        .with(vec![array_t(), array_t()], Returns::ArrayOf('T'), |a| {
            let right = java::value_set(args::array(&a[1])?);
            let left = java::distinct(args::array(&a[0])?.to_vec());
            Ok(Value::Array(
                left.into_iter()
                    .filter(|v| right.contains(&java::equality_key(v)))
                    .collect(),
            ))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "array_union",
            "Returns an array of all the distinct elements from both input arrays, or NULL if \
             either array is NULL.",
        )
        .with(vec![array_t(), array_t()], Returns::ArrayOf('T'), |a| {
            let all = args::array(&a[0])?
                .iter()
                .chain(args::array(&a[1])?)
                .cloned();
            Ok(Value::Array(java::distinct(all)))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "ARRAY_JOIN",
            "joins the array elements into a flat string representation",
        )
        .with(vec![array_t()], SqlType::String, array_join)
        .with_nulls(
            vec![array_t(), SqlType::String.into()],
            SqlType::String,
            array_join,
        ),
    );
    r.add_scalar(
        ScalarFunction::new("ARRAY_LENGTH", "Returns the length on an array").with(
            vec![array_t()],
            SqlType::Int,
            |a| Ok(Value::Int(args::array(&a[0])?.len() as i32)),
        ),
    );
    r.add_scalar(
        ScalarFunction::new(
            "array_max",
            "Return the maximum value from within an array of primitive values, according to \
             their natural sort order. If the array is NULL, or contains only NULLs, return NULL.",
        )
        .with(vec![array_t()], Returns::Generic('T'), |a| {
            array_extremum(a, true, "array_max")
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "array_min",
            "Return the minimum value from within an array of primitive values, according to \
             their natural sort order. If the array is NULL, or contains only NULLs, return NULL.",
        )
        .with(vec![array_t()], Returns::Generic('T'), |a| {
            array_extremum(a, false, "array_min")
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "array_remove",
            "Removes all the elements equal to a specific value from an array. Returns NULL if \
             the input array is NULL.",
        )
        .with_nulls(vec![array_t(), t()], Returns::ArrayOf('T'), |a| {
            let Value::Array(items) = &a[0] else {
                return Ok(Value::Null);
            };
            Ok(Value::Array(
                items
                    .iter()
                    .filter(|v| !java::equals(v, &a[1]))
                    .cloned()
                    .collect(),
            ))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "array_sort",
            "Sort an array of primitive values, according to their natural sort order. Any NULLs \
             in the array will be placed at the end.",
        )
        .with(vec![array_t()], Returns::ArrayOf('T'), array_sort)
        .with_nulls(
            vec![array_t(), SqlType::String.into()],
            Returns::ArrayOf('T'),
            array_sort,
        ),
    );
    r.add_scalar(
        ScalarFunction::new("slice", "slice of an ARRAY").with_nulls(
            vec![array_t(), SqlType::Int.into(), SqlType::Int.into()],
            Returns::ArrayOf('T'),
            |a| {
                let Value::Array(items) = &a[0] else {
                    return Ok(Value::Null);
                };
                let start = match args::opt_int(&a[1])? {
                    Some(from) => from as i64 - 1,
                    None => 0,
                };
                let end = match args::opt_int(&a[2])? {
                    Some(to) => to as i64,
                    None => items.len() as i64,
                };
                // List.subList's bounds: out of them, ksqlDB returns NULL.
                if start < 0 || end > items.len() as i64 || start > end {
                    return Ok(Value::Null);
                }
                Ok(Value::Array(items[start as usize..end as usize].to_vec()))
            },
        ),
    );
    let series = ScalarFunction::new("GENERATE_SERIES", "Construct an array of a range of values")
        .with_nulls(
            vec![SqlType::Int.into(), SqlType::Int.into()],
            SqlType::array(SqlType::Int),
            series_fn,
        )
        .with_nulls(
            vec![
                SqlType::Int.into(),
                SqlType::Int.into(),
                SqlType::Int.into(),
            ],
            SqlType::array(SqlType::Int),
            series_fn,
        )
        .with_nulls(
            vec![SqlType::BigInt.into(), SqlType::BigInt.into()],
            SqlType::array(SqlType::BigInt),
            series_fn,
        )
        .with_nulls(
            vec![
                SqlType::BigInt.into(),
                SqlType::BigInt.into(),
                SqlType::Int.into(),
            ],
            SqlType::array(SqlType::BigInt),
            series_fn,
        );
    r.add_scalar(series);
    let mut entries_fn = ScalarFunction::new(
        "ENTRIES",
        "Construct an array from the entries in a map.The array can be optionally sorted on \
         the keys.",
    );
    for value in [
        SqlType::Int,
        SqlType::BigInt,
        SqlType::Double,
        SqlType::Boolean,
        SqlType::String,
    ] {
        entries_fn = entries_fn.with_nulls(
            vec![
                Param::map(SqlType::String.into(), value.clone().into()),
                SqlType::Boolean.into(),
            ],
            entries_type(value),
            entries,
        );
    }
    r.add_scalar(entries_fn);
    r.add_scalar(
        ScalarFunction::new("AS_MAP", "Construct a list based on some inputs").with(
            vec![Param::array(SqlType::String.into()), array_t()],
            returns_map_t(),
            |a| {
                let keys = args::array(&a[0])?;
                let values = args::array(&a[1])?;
                let mut map = JavaHashMap::with_capacity(keys.len());
                for (i, key) in keys.iter().enumerate() {
                    map.put(key.clone(), values.get(i).cloned().unwrap_or(Value::Null));
                }
                Ok(Value::Map(map.into_entries()))
            },
        ),
    );
    r.add_scalar(
        ScalarFunction::new(
            "map_keys",
            "Returns an array of all the keys from the specified map, or NULL if the input map \
             is NULL.",
        )
        .with(vec![string_map_t()], SqlType::array(SqlType::String), |a| {
            Ok(Value::Array(
                args::map(&a[0])?.iter().map(|(k, _)| k.clone()).collect(),
            ))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "map_values",
            "Returns an array of all the values from the specified map, or NULL if the input map \
             is NULL.",
        )
        .with(vec![string_map_t()], Returns::ArrayOf('T'), |a| {
            Ok(Value::Array(
                args::map(&a[0])?.iter().map(|(_, v)| v.clone()).collect(),
            ))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "map_union",
            "Returns a new map containing the union of all entries from both input maps. If a \
             key is present in both input maps then the value from map2 is the one which \
             appears in the result. Returns NULL if all of the input maps are NULL.",
        )
        .with_nulls(vec![string_map_t(), string_map_t()], returns_map_t(), |a| {
            if a.iter().all(Value::is_null) {
                return Ok(Value::Null);
            }
            let mut union = JavaHashMap::new();
            for map in a.iter().filter(|m| !m.is_null()) {
                union.put_all(args::map(map)?);
            }
            Ok(Value::Map(union.into_entries()))
        }),
    );
}
