//! Evaluating a stage's filter and projections on Arrow batches ([`ExprProgram`]), the
//! [`ErrorSink`] where per-row failures are collected for the processing log, and ksqlDB's
//! CAST semantics on values ([`cast_value`]).

use std::sync::{Arc, Mutex};

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions};
use arrow::compute::{concat, filter_record_batch};
use arrow::datatypes::SchemaRef;
use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveTime, Timelike};
use datafusion_physical_expr::PhysicalExpr;

use crate::arrow_conv::null_array;
use crate::error::{Result, SqlError};
use crate::types::SqlType;
use crate::value::{Value, format_decimal, format_double};

/// Errors of rows that became NULL, collected while a batch is evaluated and drained into
/// the processing log after it.
#[derive(Debug, Clone, Default)]
pub struct ErrorSink(Arc<Mutex<Vec<String>>>);

/// At most this many messages are kept between drains (the rest are counted).
const MAX_KEPT: usize = 1000;

impl ErrorSink {
    /// Records an error.
    pub fn push(&self, message: String) {
        let mut errors = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if errors.len() < MAX_KEPT {
            errors.push(message);
        }
    }

    /// Takes the errors recorded so far.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A compiled stage: an optional filter, then projections, over batches of one schema.
#[derive(Debug, Clone)]
pub struct ExprProgram {
    /// The filter (rows where it is not TRUE are dropped).
    pub filter: Option<Arc<dyn PhysicalExpr>>,
    /// The projections, with their output types.
    pub outputs: Vec<(Arc<dyn PhysicalExpr>, SqlType)>,
    /// The schema of the result.
    pub output_schema: SchemaRef,
    /// Where per-row errors go.
    pub errors: ErrorSink,
}

impl ExprProgram {
    /// The rows of `batch` that pass the filter (all of them without one).
    pub fn filter_mask(&self, batch: &RecordBatch) -> Result<Option<BooleanArray>> {
        let Some(f) = &self.filter else {
            return Ok(None);
        };
        let column = self.evaluate_one(f, &SqlType::Boolean, batch)?;
        let mask = column
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| SqlError::eval("filter did not evaluate to BOOLEAN"))?;
        // NULL counts as not passing.
        let mask: BooleanArray = mask.iter().map(|v| Some(v.unwrap_or(false))).collect();
        Ok(Some(mask))
    }

    /// Filters and projects a batch.
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let filtered = match self.filter_mask(batch)? {
            Some(mask) => filter_record_batch(batch, &mask)?,
            None => batch.clone(),
        };
        self.project(&filtered)
    }

    /// Projects a batch (no filter).
    pub fn project(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let columns = self
            .outputs
            .iter()
            .map(|(e, ty)| self.evaluate_one(e, ty, batch))
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new_with_options(
            self.output_schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
        )?)
    }

    /// Evaluates one expression; if the batch fails as a whole (a DataFusion kernel such as
    /// an overflowing cast), each row is evaluated alone and failing rows become NULL.
    fn evaluate_one(
        &self,
        expr: &Arc<dyn PhysicalExpr>,
        ty: &SqlType,
        batch: &RecordBatch,
    ) -> Result<ArrayRef> {
        let n = batch.num_rows();
        match expr.evaluate(batch).and_then(|c| c.into_array(n)) {
            Ok(array) => Ok(array),
            Err(_) if n > 1 => {
                let mut parts = Vec::with_capacity(n);
                for i in 0..n {
                    let row = batch.slice(i, 1);
                    parts.push(match expr.evaluate(&row).and_then(|c| c.into_array(1)) {
                        Ok(a) => a,
                        Err(e) => {
                            self.errors
                                .push(format!("Error computing expression {expr}: {e}"));
                            null_array(ty, 1)
                        }
                    });
                }
                let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
                Ok(concat(&refs)?)
            }
            Err(e) => {
                self.errors
                    .push(format!("Error computing expression {expr}: {e}"));
                Ok(null_array(ty, n))
            }
        }
    }
}

fn cast_error(v: &Value, to: &SqlType) -> SqlError {
    SqlError::eval(format!("Cannot cast {} to {to}", v.display(None)))
}

/// A timestamp as ksqlDB prints it: `yyyy-MM-dd'T'HH:mm:ss.SSS`, UTC.
pub fn format_timestamp(ms: i64) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(dt) => dt.format("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
        None => ms.to_string(),
    }
}

/// A date as ISO `yyyy-MM-dd`.
pub fn format_date(days: i32) -> String {
    match DateTime::from_timestamp(days as i64 * 86_400, 0) {
        Some(dt) => dt.format("%Y-%m-%d").to_string(),
        None => days.to_string(),
    }
}

/// A time as Java's `LocalTime.toString` prints it (`HH:mm`, `HH:mm:ss`, `HH:mm:ss.SSS`).
pub fn format_time(ms: i32) -> String {
    let Some(t) = NaiveTime::from_num_seconds_from_midnight_opt(
        (ms / 1000) as u32,
        ((ms % 1000) * 1_000_000) as u32,
    ) else {
        return ms.to_string();
    };
    if t.nanosecond() != 0 {
        t.format("%H:%M:%S%.3f").to_string()
    } else if t.second() != 0 {
        t.format("%H:%M:%S").to_string()
    } else {
        t.format("%H:%M").to_string()
    }
}

/// A value as ksqlDB's CAST(x AS STRING) writes it.
pub fn value_to_string(v: &Value, ty: &SqlType) -> String {
    match (v, ty) {
        (Value::Double(d), _) => format_double(*d),
        (Value::Decimal(u, s), _) => format_decimal(*u, *s),
        (Value::Timestamp(ms), _) => format_timestamp(*ms),
        (Value::Date(d), _) => format_date(*d),
        (Value::Time(t), _) => format_time(*t),
        (Value::Array(items), SqlType::Array(e)) => format!(
            "[{}]",
            items
                .iter()
                .map(|i| if i.is_null() {
                    "null".into()
                } else {
                    value_to_string(i, e)
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (Value::Map(entries), SqlType::Map(k, vt)) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(a, b)| format!(
                    "{}={}",
                    value_to_string(a, k),
                    if b.is_null() {
                        "null".into()
                    } else {
                        value_to_string(b, vt)
                    }
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (Value::Struct(values), SqlType::Struct(fields)) => format!(
            "Struct{{{}}}",
            fields
                .iter()
                .zip(values)
                .filter(|(_, v)| !v.is_null())
                .map(|(f, v)| format!("{}={}", f.name, value_to_string(v, &f.ty)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        (v, _) => v.to_string(),
    }
}

fn decimal_target(
    d: &BigDecimal,
    precision: u8,
    scale: u8,
    v: &Value,
    to: &SqlType,
) -> Result<Value> {
    Value::decimal_from(d, precision, scale).ok_or_else(|| cast_error(v, to))
}

/// ksqlDB's CAST of a value of `from` to `to`.
pub fn cast_value(v: &Value, from: &SqlType, to: &SqlType) -> Result<Value> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    if from == to {
        return Ok(v.clone());
    }
    Ok(match (to, v) {
        (SqlType::String, v) => Value::String(value_to_string(v, from)),
        (SqlType::Boolean, Value::String(s)) => {
            Value::Boolean(s.trim().eq_ignore_ascii_case("true"))
        }
        (SqlType::Int, Value::String(s)) => {
            Value::Int(s.trim().parse().map_err(|_| cast_error(v, to))?)
        }
        (SqlType::BigInt, Value::String(s)) => {
            Value::BigInt(s.trim().parse().map_err(|_| cast_error(v, to))?)
        }
        (SqlType::Double, Value::String(s)) => {
            Value::Double(s.trim().parse().map_err(|_| cast_error(v, to))?)
        }
        (SqlType::Decimal { precision, scale }, Value::String(s)) => {
            let d: BigDecimal = s.trim().parse().map_err(|_| cast_error(v, to))?;
            decimal_target(&d, *precision, *scale, v, to)?
        }
        (SqlType::Timestamp, Value::String(s)) => Value::Timestamp(
            crate::functions::time_parse::parse_timestamp_literal(s)
                .ok_or_else(|| cast_error(v, to))?,
        ),
        (SqlType::Date, Value::String(s)) => Value::Date(
            crate::functions::time_parse::parse_date_literal(s).ok_or_else(|| cast_error(v, to))?,
        ),
        (SqlType::Time, Value::String(s)) => Value::Time(
            crate::functions::time_parse::parse_time_literal(s).ok_or_else(|| cast_error(v, to))?,
        ),
        (SqlType::Int, Value::BigInt(x)) => Value::Int(*x as i32),
        (SqlType::Int, Value::Double(x)) => Value::Int(*x as i32),
        (SqlType::BigInt, Value::Int(x)) => Value::BigInt(*x as i64),
        (SqlType::BigInt, Value::Double(x)) => Value::BigInt(*x as i64),
        (SqlType::Double, Value::Int(x)) => Value::Double(*x as f64),
        (SqlType::Double, Value::BigInt(x)) => Value::Double(*x as f64),
        (SqlType::Double, Value::Decimal(..)) => Value::Double(v.as_f64().unwrap_or(f64::NAN)),
        (SqlType::Int | SqlType::BigInt, Value::Decimal(..)) => {
            let d = v.as_big_decimal().unwrap_or_default();
            let truncated = d.with_scale_round(0, bigdecimal::RoundingMode::Down);
            let (digits, _) = truncated.as_bigint_and_exponent();
            let n: i64 = i64::try_from(&digits).unwrap_or(0);
            if *to == SqlType::Int {
                Value::Int(n as i32)
            } else {
                Value::BigInt(n)
            }
        }
        (
            SqlType::Decimal { precision, scale },
            Value::Int(_) | Value::BigInt(_) | Value::Decimal(..),
        ) => {
            let d = v.as_big_decimal().unwrap_or_default();
            decimal_target(&d, *precision, *scale, v, to)?
        }
        (SqlType::Decimal { precision, scale }, Value::Double(x)) => {
            if !x.is_finite() {
                return Err(cast_error(v, to));
            }
            let d: BigDecimal = format!("{x}").parse().map_err(|_| cast_error(v, to))?;
            decimal_target(&d, *precision, *scale, v, to)?
        }
        (SqlType::Date, Value::Timestamp(ms)) => Value::Date(ms.div_euclid(86_400_000) as i32),
        (SqlType::Time, Value::Timestamp(ms)) => Value::Time(ms.rem_euclid(86_400_000) as i32),
        (SqlType::Timestamp, Value::Date(d)) => Value::Timestamp(*d as i64 * 86_400_000),
        (SqlType::Array(te), Value::Array(items)) => {
            let SqlType::Array(fe) = from else {
                return Err(cast_error(v, to));
            };
            Value::Array(
                items
                    .iter()
                    .map(|i| cast_value(i, fe, te))
                    .collect::<Result<_>>()?,
            )
        }
        (SqlType::Map(tk, tv), Value::Map(entries)) => {
            let SqlType::Map(fk, fv) = from else {
                return Err(cast_error(v, to));
            };
            Value::Map(
                entries
                    .iter()
                    .map(|(k, val)| Ok((cast_value(k, fk, tk)?, cast_value(val, fv, tv)?)))
                    .collect::<Result<_>>()?,
            )
        }
        (SqlType::Struct(to_fields), Value::Struct(values)) => {
            let SqlType::Struct(from_fields) = from else {
                return Err(cast_error(v, to));
            };
            Value::Struct(
                to_fields
                    .iter()
                    .map(
                        |tf| match from_fields.iter().position(|ff| ff.name == tf.name) {
                            Some(i) => cast_value(&values[i], &from_fields[i].ty, &tf.ty),
                            None => Ok(Value::Null),
                        },
                    )
                    .collect::<Result<_>>()?,
            )
        }
        _ => return Err(cast_error(v, to)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_follow_ksqldb() {
        let s = |v: Value, from: SqlType| cast_value(&v, &from, &SqlType::String).unwrap();
        assert_eq!(
            s(Value::Double(1.0), SqlType::Double),
            Value::String("1.0".into())
        );
        assert_eq!(
            s(Value::Timestamp(1500), SqlType::Timestamp),
            Value::String("1970-01-01T00:00:01.500".into())
        );
        assert_eq!(
            cast_value(
                &Value::String("yes".into()),
                &SqlType::String,
                &SqlType::Boolean
            )
            .unwrap(),
            Value::Boolean(false)
        );
        assert_eq!(
            cast_value(&Value::Double(1.7), &SqlType::Double, &SqlType::Int).unwrap(),
            Value::Int(1)
        );
        assert_eq!(
            cast_value(
                &Value::Double(1.25),
                &SqlType::Double,
                &SqlType::decimal(3, 1).unwrap()
            )
            .unwrap(),
            Value::Decimal(13, 1)
        );
        assert!(cast_value(&Value::String("x".into()), &SqlType::String, &SqlType::Int).is_err());
        assert_eq!(format_time(3_600_000), "01:00");
    }
}
