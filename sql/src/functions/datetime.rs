//! Date, time and timestamp functions, as ksqlDB's `udf.datetime` classes define them:
//! patterns are Java's `DateTimeFormatter` (see [`super::java_time`]) except PARSE_DATE's,
//! which are `SimpleDateFormat`'s (see [`super::simple_date`]); zones are `ZoneId`s; the
//! JVM's default zone, which the deprecated functions use, is UTC here.

use std::time::{SystemTime, UNIX_EPOCH};

use super::java_time::{self, JavaPattern, Zone};
use super::simple_date::SimplePattern;
use super::typed::nullary_udf;
use super::{FunctionRegistry, Param, ScalarFunction, args};
use crate::error::{Result, SqlError};
use crate::types::SqlType;
use crate::value::Value;

const MS_PER_DAY: i64 = 86_400_000;

fn s() -> Param {
    SqlType::String.into()
}

fn i() -> Param {
    SqlType::Int.into()
}

/// The milliseconds of one unit of a `TimeUnit` argument (`DAY`, `HOURS`, ...): ksqlDB's
/// `WindowExpression.getWindowUnit` (a missing trailing `S` is added).
fn unit_millis(unit: &str) -> Result<i64> {
    let upper = unit.to_ascii_uppercase();
    let plural = if upper.ends_with('S') {
        upper
    } else {
        format!("{upper}S")
    };
    Ok(match plural.as_str() {
        "NANOSECONDS" | "MICROSECONDS" => 0,
        "MILLISECONDS" => 1,
        "SECONDS" => 1000,
        "MINUTES" => 60_000,
        "HOURS" => 3_600_000,
        "DAYS" => MS_PER_DAY,
        _ => return Err(SqlError::eval(format!("Unknown time unit: {unit}"))),
    })
}

/// `TimeUnit.toNanos(interval)`, saturating as Java's does.
fn unit_nanos(unit: &str, interval: i64) -> Result<i64> {
    let upper = unit.to_ascii_uppercase();
    let nanos_per: i64 = match upper.trim_end_matches('S') {
        "NANOSECOND" => 1,
        "MICROSECOND" => 1000,
        _ => unit_millis(unit)? * 1_000_000,
    };
    Ok(interval.saturating_mul(nanos_per))
}

/// `java.sql.Timestamp.toString()` in UTC (for error messages).
fn timestamp_text(ms: i64) -> String {
    JavaPattern::compile("yyyy-MM-dd HH:mm:ss.S")
        .and_then(|p| p.format_timestamp(ms, &Zone::utc()))
        .unwrap_or_else(|_| ms.to_string())
}

/// `LocalDate.toString()` of days since the epoch.
pub fn iso_date(days: i32) -> String {
    java_time::iso_date(days)
}

/// `LocalTime.ofSecondOfDay(ms / 1000).toString()`: `HH:mm` or `HH:mm:ss`.
pub fn iso_time_seconds(ms: i32) -> String {
    java_time::iso_time(ms / 1000 * 1000)
}

/// ksqlDB's `yyyy-MM-dd'T'HH:mm:ss.SSS` in UTC.
pub fn iso_timestamp(ms: i64) -> String {
    JavaPattern::compile("yyyy-MM-dd'T'HH:mm:ss.SSS")
        .and_then(|p| p.format_timestamp(ms, &Zone::utc()))
        .unwrap_or_else(|_| ms.to_string())
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn zone_arg(v: &Value) -> Result<Zone> {
    Zone::parse(args::string(v)?)
}

fn format_timestamp(a: &[Value]) -> Result<Value> {
    let ms = args::timestamp(&a[0])?;
    let pattern = args::string(&a[1])?;
    let zone_name = match a.get(2) {
        Some(z) => args::string(z)?,
        None => "GMT",
    };
    let fail = |e: String| {
        SqlError::eval(format!(
            "Failed to format timestamp {} at timeZone '{zone_name}' with formatter \
             '{pattern}': {e}",
            timestamp_text(ms)
        ))
    };
    let zone = Zone::parse(zone_name).map_err(|e| fail(e.to_string()))?;
    let p = JavaPattern::compile(pattern).map_err(|e| fail(e.to_string()))?;
    Ok(Value::String(
        p.try_format_timestamp(ms, &zone).map_err(fail)?,
    ))
}

fn parse_timestamp(text: &str, pattern: &str, zone_name: Option<&str>) -> Result<i64> {
    let fail = |e: String| {
        SqlError::eval(match zone_name {
            Some(z) => format!(
                "Failed to parse timestamp '{text}' at timezone '{z}' with formatter \
                 '{pattern}': {e}"
            ),
            None => format!("Failed to parse timestamp '{text}' with formatter '{pattern}': {e}"),
        })
    };
    let zone = match zone_name {
        Some(z) => Zone::parse(z).map_err(|e| fail(e.to_string()))?,
        None => Zone::utc(),
    };
    let p = JavaPattern::compile(pattern).map_err(|e| fail(e.to_string()))?;
    p.try_parse_timestamp(text, &zone).map_err(fail)
}

/// TIMESTAMPTOSTRING / DATETOSTRING take Java primitives: NULL cannot be unboxed.
fn primitive<'a>(v: &'a Value, ty: &str) -> Result<&'a Value> {
    if v.is_null() {
        return Err(SqlError::eval(format!(
            "NULL passed for a parameter of primitive type {ty}"
        )));
    }
    Ok(v)
}

fn add_to_timestamp(a: &[Value], sign: i64) -> Result<Value> {
    let millis = unit_millis(args::string(&a[0])?)?;
    let interval = args::int(&a[1])? as i64;
    let ts = args::timestamp(&a[2])?;
    Ok(Value::Timestamp(ts.wrapping_add(
        sign.wrapping_mul(interval.saturating_mul(millis)),
    )))
}

fn add_to_date(a: &[Value], sign: i64) -> Result<Value> {
    let millis = unit_millis(args::string(&a[0])?)?;
    let interval = args::int(&a[1])? as i64;
    let days = args::date(&a[2])? as i64;
    // TimeUnit.MILLISECONDS.toDays truncates towards zero.
    let total = (days * MS_PER_DAY).wrapping_add(sign * interval.saturating_mul(millis));
    Ok(Value::Date((total / MS_PER_DAY) as i32))
}

fn add_to_time(a: &[Value], sign: i64) -> Result<Value> {
    let nanos = unit_nanos(args::string(&a[0])?, args::int(&a[1])? as i64)?;
    let time = args::time(&a[2])? as i64 * 1_000_000;
    let day = 86_400_000_000_000i64;
    let delta = if sign < 0 {
        nanos.checked_neg().unwrap_or(i64::MAX)
    } else {
        nanos
    };
    let result = ((delta % day) + time + day) % day;
    Ok(Value::Time((result / 1_000_000) as i32))
}

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_scalar(
        ScalarFunction::new(
            "unix_timestamp",
            "Returns the current number of milliseconds for the system since 1970-01-01 \
             00:00:00 UTC/GMT.",
        )
        .with_datafusion(
            vec![],
            SqlType::BigInt,
            nullary_udf("unix_timestamp", SqlType::BigInt, || {
                Ok(Value::BigInt(now_millis()))
            }),
        )
        .with(vec![SqlType::Timestamp.into()], SqlType::BigInt, |a| {
            Ok(Value::BigInt(args::timestamp(&a[0])?))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "unix_date",
            "Returns the current number of days for the system since 1970-01-01 00:00:00 \
             UTC/GMT.",
        )
        .with_datafusion(
            vec![],
            SqlType::Int,
            nullary_udf("unix_date", SqlType::Int, || {
                Ok(Value::Int(now_millis().div_euclid(MS_PER_DAY) as i32))
            }),
        )
        .with(vec![SqlType::Date.into()], SqlType::Int, |a| {
            Ok(Value::Int(args::date(&a[0])?))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "from_unixtime",
            "Converts the number of milliseconds since 1970-01-01 00:00:00 UTC/GMT into a \
             TIMESTAMP value.",
        )
        .with(vec![SqlType::BigInt.into()], SqlType::Timestamp, |a| {
            Ok(Value::Timestamp(args::bigint(&a[0])?))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "from_days",
            "Converts a number of days since epoch to a DATE value.",
        )
        .with_nulls(vec![i()], SqlType::Date, |a| {
            Ok(Value::Date(args::primitive_int(&a[0])?))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "format_timestamp",
            "Converts a TIMESTAMP value into the string representation of the timestamp in the \
             given format.",
        )
        .with(
            vec![SqlType::Timestamp.into(), s()],
            SqlType::String,
            format_timestamp,
        )
        .with(
            vec![SqlType::Timestamp.into(), s(), s()],
            SqlType::String,
            format_timestamp,
        ),
    );
    let parse_ts = |a: &[Value]| -> Result<Value> {
        let zone = match a.get(2) {
            Some(z) => args::string(z)?,
            None => "GMT",
        };
        Ok(Value::Timestamp(parse_timestamp(
            args::string(&a[0])?,
            args::string(&a[1])?,
            Some(zone),
        )?))
    };
    r.add_scalar(
        ScalarFunction::new(
            "parse_timestamp",
            "Converts a string representation of a date in the given format into a TIMESTAMP \
             value.",
        )
        .with(vec![s(), s()], SqlType::Timestamp, parse_ts)
        .with(vec![s(), s(), s()], SqlType::Timestamp, parse_ts),
    );
    r.add_scalar(
        ScalarFunction::new(
            "format_date",
            "Converts a DATE value to a string using the given format pattern.",
        )
        .with(vec![SqlType::Date.into(), s()], SqlType::String, |a| {
            let days = args::date(&a[0])?;
            let pattern = args::string(&a[1])?;
            let fail = |e: String| {
                SqlError::eval(format!(
                    "Failed to format date {} with formatter '{pattern}': {e}",
                    iso_date(days)
                ))
            };
            let p = JavaPattern::compile(pattern).map_err(|e| fail(e.to_string()))?;
            Ok(Value::String(p.try_format_date(days).map_err(fail)?))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "format_time",
            "Converts a TIME value into the string representation of the time in the given \
             format.",
        )
        .with(vec![SqlType::Time.into(), s()], SqlType::String, |a| {
            let ms = args::time(&a[0])?;
            let pattern = args::string(&a[1])?;
            let fail = |e: String| {
                SqlError::eval(format!(
                    "Failed to format time {} with formatter '{pattern}': {e}",
                    java_time::iso_time(ms)
                ))
            };
            let p = JavaPattern::compile(pattern).map_err(|e| fail(e.to_string()))?;
            Ok(Value::String(p.try_format_time(ms).map_err(fail)?))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "parse_date",
            "Converts a string representation of a date in the given format into a DATE value.",
        )
        .with(vec![s(), s()], SqlType::Date, |a| {
            let text = args::string(&a[0])?;
            let pattern = args::string(&a[1])?;
            let fail = |e: String| {
                SqlError::eval(format!(
                    "Failed to parse date '{text}' with formatter '{pattern}': {e}"
                ))
            };
            let ms = SimplePattern::compile(pattern)
                .and_then(|p| p.parse_millis(text))
                .map_err(|e| fail(e.to_string()))?;
            if ms % MS_PER_DAY != 0 {
                return Err(fail("Date format contains time field.".into()));
            }
            Ok(Value::Date((ms / MS_PER_DAY) as i32))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "parse_time",
            "Converts a string representation of a time in the given format into a TIME value.",
        )
        .with(vec![s(), s()], SqlType::Time, |a| {
            let text = args::string(&a[0])?;
            let pattern = args::string(&a[1])?;
            let fail = |e: String| {
                SqlError::eval(format!(
                    "Failed to parse time '{text}' with formatter '{pattern}': {e}"
                ))
            };
            let p = JavaPattern::compile(pattern).map_err(|e| fail(e.to_string()))?;
            Ok(Value::Time(p.try_parse_time(text).map_err(fail)?))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "convert_tz",
            "Converts a TIMESTAMP value from one timezone to another.",
        )
        .with(
            vec![SqlType::Timestamp.into(), s(), s()],
            SqlType::Timestamp,
            |a| {
                let ts = args::timestamp(&a[0])?;
                let invalid = |e: SqlError| SqlError::eval(format!("Invalid time zone: {e}"));
                let from = zone_arg(&a[1]).map_err(invalid)?;
                let to = zone_arg(&a[2]).map_err(invalid)?;
                let offset = (to.offset_at(ts)? as i64 - from.offset_at(ts)? as i64) * 1000;
                Ok(Value::Timestamp(ts.wrapping_add(offset)))
            },
        ),
    );
    for (name, description, sign) in [
        ("timestampadd", "Adds a duration to a TIMESTAMP value.", 1),
        (
            "timestampsub",
            "Subtracts a duration from a TIMESTAMP value.",
            -1,
        ),
    ] {
        r.add_scalar(ScalarFunction::new(name, description).with(
            vec![s(), i(), SqlType::Timestamp.into()],
            SqlType::Timestamp,
            move |a| add_to_timestamp(a, sign),
        ));
    }
    for (name, description, sign) in [
        ("dateadd", "Adds a duration to a DATE value.", 1),
        ("datesub", "Subtracts a duration from a DATE value.", -1),
    ] {
        r.add_scalar(ScalarFunction::new(name, description).with(
            vec![s(), i(), SqlType::Date.into()],
            SqlType::Date,
            move |a| add_to_date(a, sign),
        ));
    }
    for (name, description, sign) in [
        ("timeadd", "Adds a duration to a TIME value.", 1),
        ("timesub", "Subtracts a duration from a TIME value.", -1),
    ] {
        r.add_scalar(ScalarFunction::new(name, description).with(
            vec![s(), i(), SqlType::Time.into()],
            SqlType::Time,
            move |a| add_to_time(a, sign),
        ));
    }
    // The deprecated functions over epoch numbers.
    let timestamp_to_string = |a: &[Value]| -> Result<Value> {
        let ms = args::bigint(primitive(&a[0], "long")?)?;
        let (Some(pattern), zone_name) = (
            args::opt_string(&a[1])?,
            match a.get(2) {
                Some(z) => args::opt_string(z)?.map(Some),
                None => Some(None),
            },
        ) else {
            return Ok(Value::Null);
        };
        let Some(zone_name) = zone_name else {
            return Ok(Value::Null);
        };
        let fail = |e: String| {
            SqlError::eval(match zone_name {
                Some(z) => format!(
                    "Failed to format timestamp {ms} at timeZone '{z}' with formatter \
                     '{pattern}': {e}"
                ),
                None => format!("Failed to format timestamp {ms} with formatter '{pattern}': {e}"),
            })
        };
        let zone = match zone_name {
            Some(z) => Zone::parse(z).map_err(|e| fail(e.to_string()))?,
            None => Zone::utc(),
        };
        let p = JavaPattern::compile(pattern).map_err(|e| fail(e.to_string()))?;
        Ok(Value::String(
            p.try_format_timestamp(ms, &zone).map_err(fail)?,
        ))
    };
    r.add_scalar(
        ScalarFunction::new(
            "timestamptostring",
            "Converts a number of milliseconds since 1970-01-01 00:00:00 UTC/GMT into the string \
             representation of the timestamp in the given format.",
        )
        .with_nulls(
            vec![SqlType::BigInt.into(), s()],
            SqlType::String,
            timestamp_to_string,
        )
        .with_nulls(
            vec![SqlType::BigInt.into(), s(), s()],
            SqlType::String,
            timestamp_to_string,
        ),
    );
    let string_to_timestamp = |a: &[Value]| -> Result<Value> {
        // No NULL check: ksqlDB fails on a NULL ("there is no sentinel value").
        let missing = || SqlError::eval("Failed to parse timestamp: NULL argument");
        let text = args::opt_string(&a[0])?.ok_or_else(missing)?;
        let pattern = args::opt_string(&a[1])?.ok_or_else(missing)?;
        let zone = match a.get(2) {
            Some(z) => Some(args::opt_string(z)?.ok_or_else(missing)?),
            None => None,
        };
        Ok(Value::BigInt(parse_timestamp(text, pattern, zone)?))
    };
    r.add_scalar(
        ScalarFunction::new(
            "stringtotimestamp",
            "Converts a string representation of a date in the given format into the number of \
             milliseconds since 1970-01-01 00:00:00 UTC/GMT.",
        )
        .with_nulls(vec![s(), s()], SqlType::BigInt, string_to_timestamp)
        .with_nulls(vec![s(), s(), s()], SqlType::BigInt, string_to_timestamp),
    );
    r.add_scalar(
        ScalarFunction::new(
            "stringtodate",
            "Converts a string representation of a date in the given format into the number of \
             days since 1970-01-01 00:00:00 UTC/GMT.",
        )
        .with_nulls(vec![s(), s()], SqlType::Int, |a| {
            let missing = || SqlError::eval("Failed to parse date: NULL argument");
            let text = args::opt_string(&a[0])?.ok_or_else(missing)?;
            let pattern = args::opt_string(&a[1])?.ok_or_else(missing)?;
            let fail = |e: String| {
                SqlError::eval(format!(
                    "Failed to parse date '{text}' with formatter '{pattern}': {e}"
                ))
            };
            let p = JavaPattern::compile(pattern).map_err(|e| fail(e.to_string()))?;
            Ok(Value::Int(p.try_parse_date(text).map_err(fail)?))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "datetostring",
            "Converts the number of days since 1970-01-01 00:00:00 UTC/GMT to a date string \
             using the given format pattern.",
        )
        .with_nulls(vec![i(), s()], SqlType::String, |a| {
            let days = args::int(primitive(&a[0], "int")?)?;
            let Some(pattern) = args::opt_string(&a[1])? else {
                return Ok(Value::Null);
            };
            let fail = |e: String| {
                SqlError::eval(format!(
                    "Failed to format date {days} with formatter '{pattern}': {e}"
                ))
            };
            let p = JavaPattern::compile(pattern).map_err(|e| fail(e.to_string()))?;
            Ok(Value::String(p.try_format_date(days).map_err(fail)?))
        }),
    );
}
