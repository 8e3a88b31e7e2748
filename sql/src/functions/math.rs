//! Mathematical functions, as ksqlDB's `udf.math` classes define them.
//!
//! The transcendental functions (SIN, EXP, LN, ...) are DataFusion's built-ins: they
//! compute what Java's `Math` does (IEEE doubles through the platform's libm) and return
//! DOUBLE; their INT and BIGINT overloads cast to DOUBLE first, as the Java ones do. SQRT
//! and POWER are not: DataFusion's SQRT fails a whole batch on a negative number (Java
//! gives NaN) and `powf` differs from `Math.pow` on NaN and infinite exponents; nor are
//! DEGREES and RADIANS, computed as the JDK 8 `Math` ksqlDB's expected results come from.

use std::str::FromStr;
use std::sync::Arc;

use bigdecimal::{BigDecimal, RoundingMode};
use datafusion_expr::ScalarUDF;

use super::df::double_args;
use super::{Binding, FunctionRegistry, Param, Returns, ScalarFunction, args, java};
use crate::error::{Result, SqlError};
use crate::types::SqlType;
use crate::value::{Value, format_double};

fn int() -> Param {
    SqlType::Int.into()
}

fn bigint() -> Param {
    SqlType::BigInt.into()
}

fn double() -> Param {
    SqlType::Double.into()
}

/// A DECIMAL value as a `BigDecimal` and its scale.
fn decimal(v: &Value) -> Result<(BigDecimal, u8)> {
    match v {
        Value::Decimal(_, scale) => Ok((
            v.as_big_decimal()
                .ok_or_else(|| SqlError::eval("bad DECIMAL"))?,
            *scale,
        )),
        other => Err(SqlError::eval(format!(
            "expected a DECIMAL, got {}",
            other.display(None)
        ))),
    }
}

/// A `BigDecimal` as a DECIMAL value of `scale` (which must hold it exactly).
fn to_decimal(d: &BigDecimal, scale: u8) -> Result<Value> {
    let (digits, _) = d.with_scale(scale as i64).as_bigint_and_exponent();
    let unscaled: i128 = digits
        .try_into()
        .map_err(|_| SqlError::eval(format!("DECIMAL value {d} out of range")))?;
    Ok(Value::Decimal(unscaled, scale))
}

/// `BigDecimal.valueOf(double)`: the decimal Java's `Double.toString` prints.
fn double_as_decimal(d: f64) -> Result<BigDecimal> {
    if !d.is_finite() {
        return Err(SqlError::eval(format!(
            "Character {} is neither a decimal digit number, decimal point, nor \"e\" notation \
             exponential mark.",
            if d.is_nan() { 'N' } else { 'I' }
        )));
    }
    BigDecimal::from_str(&format_double(d))
        .map_err(|e| SqlError::eval(format!("{d} as a decimal: {e}")))
}

/// `BigDecimal.doubleValue()`.
fn decimal_as_double(d: &BigDecimal) -> f64 {
    d.to_string().parse().unwrap_or(f64::NAN)
}

/// `Math.round(double)`: the nearest long, ties towards positive infinity; NaN is 0 and
/// out-of-range values saturate.
fn java_round(x: f64) -> i64 {
    if x.is_nan() {
        return 0;
    }
    let floor = x.floor();
    let rounded = if x - floor >= 0.5 { floor + 1.0 } else { floor };
    rounded as i64
}

/// ksqlDB's ROUND of a decimal: half up for positive values, half down otherwise (so
/// that ties go towards positive infinity, as `Math.round` does).
fn round_decimal(d: &BigDecimal, places: i64) -> BigDecimal {
    let mode = if d > &BigDecimal::from(0) {
        RoundingMode::HalfUp
    } else {
        RoundingMode::HalfDown
    };
    d.with_scale_round(places, mode)
}

/// `Math.pow`, which differs from C's `pow` on NaN and infinite exponents.
fn java_pow(x: f64, y: f64) -> f64 {
    if y == 0.0 {
        1.0
    } else if y.is_nan() || (x.abs() == 1.0 && y.is_infinite()) {
        f64::NAN
    } else {
        x.powf(y)
    }
}

/// `Math.toRadians` as the JDK ksqlDB's expected results come from computes it
/// (`angdeg / 180.0 * PI`; later JDKs multiply by a constant, which can differ in the last
/// bit).
pub(super) fn java_to_radians(degrees: f64) -> f64 {
    degrees / 180.0 * std::f64::consts::PI
}

/// `Math.toDegrees`, likewise (`angrad * 180.0 / PI`).
pub(super) fn java_to_degrees(radians: f64) -> f64 {
    radians * 180.0 / std::f64::consts::PI
}

/// A function whose INT, BIGINT and DOUBLE overloads are a DataFusion built-in on DOUBLE.
fn unary_double(name: &str, description: &str, udf: Arc<ScalarUDF>) -> ScalarFunction {
    ScalarFunction::new(name, description)
        .with_datafusion(vec![int()], SqlType::Double, double_args(udf.clone()))
        .with_datafusion(vec![bigint()], SqlType::Double, double_args(udf.clone()))
        .with_datafusion(vec![double()], SqlType::Double, udf)
}

/// A function whose INT, BIGINT and DOUBLE overloads compute `f` on the DOUBLE value.
fn unary_row(name: &str, description: &str, f: fn(f64) -> f64) -> ScalarFunction {
    let g = move |a: &[Value]| -> Result<Value> {
        let x = a[0]
            .as_f64()
            .ok_or_else(|| SqlError::eval("expected a number"))?;
        Ok(Value::Double(f(x)))
    };
    ScalarFunction::new(name, description)
        .with(vec![int()], SqlType::Double, g)
        .with(vec![bigint()], SqlType::Double, g)
        .with(vec![double()], SqlType::Double, g)
}

/// GREATEST and LEAST: ksqlDB's overloads, one per comparable type (`T val, T... vals`),
/// so that mixed argument types resolve (or are ambiguous) as in ksqlDB. The DECIMAL one
/// returns the widest of the arguments' decimal types.
fn extremum(name: &'static str, description: &str, greatest: bool) -> ScalarFunction {
    let pick = move |a: &[Value]| -> crate::error::Result<Value> {
        let mut best: Option<&Value> = None;
        for v in a.iter().filter(|v| !v.is_null()) {
            best = Some(match best {
                None => v,
                Some(b) => {
                    let ord = java::compare_or_err(v, b, name)?;
                    let better = if greatest {
                        ord == std::cmp::Ordering::Greater
                    } else {
                        ord == std::cmp::Ordering::Less
                    };
                    if better { v } else { b }
                }
            });
        }
        Ok(best.cloned().unwrap_or(Value::Null))
    };
    let mut f = ScalarFunction::new(name, description);
    for ty in [
        SqlType::Int,
        SqlType::BigInt,
        SqlType::Double,
        SqlType::String,
        SqlType::Bytes,
        SqlType::Date,
        SqlType::Time,
        SqlType::Timestamp,
    ] {
        f = f
            .with_nulls(
                vec![Param::Type(ty.clone()), Param::Type(ty.clone())],
                ty,
                pick,
            )
            .variadic();
    }
    let widest = Returns::Custom(Arc::new(|b: &Binding| {
        let mut out: Option<SqlType> = None;
        for t in b.arg_types.iter().flatten() {
            out = Some(match out {
                None => t.clone(),
                Some(o) => crate::functions::signature::common_type(&o, t).unwrap_or(o),
            });
        }
        out.ok_or_else(|| {
            SqlError::semantic(
                "Can't infer a type of null. Please explicitly cast it to a required type, \
                 e.g. CAST(null AS VARCHAR).",
            )
        })
    }));
    f.with_nulls(vec![Param::AnyDecimal, Param::AnyDecimal], widest, pick)
        .variadic()
}

/// ROUND and TRUNC: the shared overloads, with `mode` for doubles and decimals.
fn rounding(
    name: &str,
    description: &str,
    whole: fn(f64) -> i64,
    decimal_mode: fn(&BigDecimal, i64) -> BigDecimal,
) -> ScalarFunction {
    let decimal_zero_scale = Returns::Custom(Arc::new(|b: &Binding| {
        match b.arg_types.first().cloned().flatten() {
            Some(SqlType::Decimal { precision, scale }) => {
                SqlType::decimal((precision - scale) as u32, 0)
            }
            _ => Err(SqlError::semantic(
                "The schema provider method for round expects a BigDecimal parameter type as a \
                 parameter.",
            )),
        }
    }));
    ScalarFunction::new(name, description)
        .with(vec![bigint()], SqlType::BigInt, |a| {
            Ok(Value::BigInt(args::bigint(&a[0])?))
        })
        .with(vec![int()], SqlType::BigInt, |a| {
            Ok(Value::BigInt(args::int(&a[0])? as i64))
        })
        .with(vec![double()], SqlType::BigInt, move |a| {
            Ok(Value::BigInt(whole(args::double(&a[0])?)))
        })
        .with(vec![double(), int()], SqlType::Double, move |a| {
            let d = double_as_decimal(args::double(&a[0])?)?;
            // A double's decimal has at most ~330 fraction digits and 309 integer ones:
            // beyond that more places change nothing (and cost unbounded memory).
            let places = (args::int(&a[1])? as i64).clamp(-400, 400);
            Ok(Value::Double(decimal_as_double(&decimal_mode(&d, places))))
        })
        .with(vec![Param::AnyDecimal], decimal_zero_scale, move |a| {
            let (d, _) = decimal(&a[0])?;
            to_decimal(&decimal_mode(&d, 0), 0)
        })
        .with(vec![Param::AnyDecimal, int()], Returns::Arg(0), move |a| {
            let (d, scale) = decimal(&a[0])?;
            // DECIMALs have at most 38 digits; more places change nothing.
            let places = (args::int(&a[1])? as i64).clamp(-50, 50);
            to_decimal(&decimal_mode(&d, places), scale)
        })
}

pub(super) fn register(r: &mut FunctionRegistry) {
    use datafusion_functions::math;
    r.add_scalar(
        ScalarFunction::new(
            "Abs",
            "Returns the absolute value of its argument. If the argument is not negative, the \
             argument is returned. If the argument is negative, the negation of the argument is \
             returned.",
        )
        .with(vec![int()], SqlType::Int, |a| {
            Ok(Value::Int(args::int(&a[0])?.wrapping_abs()))
        })
        .with(vec![bigint()], SqlType::BigInt, |a| {
            Ok(Value::BigInt(args::bigint(&a[0])?.wrapping_abs()))
        })
        .with_datafusion(vec![double()], SqlType::Double, math::abs())
        .with(vec![Param::AnyDecimal], Returns::Arg(0), |a| match a[0] {
            Value::Decimal(u, s) => Ok(Value::Decimal(u.abs(), s)),
            _ => Err(SqlError::eval("ABS expects a DECIMAL")),
        }),
    );
    for (name, description, udf) in [
        (
            "acos",
            "The inverse (arc) cosine of a value. The returned value is in radians.",
            math::acos(),
        ),
        (
            "asin",
            "The inverse (arc) sine of a value. The returned value is in radians.",
            math::asin(),
        ),
        (
            "atan",
            "The inverse (arc) tangent of a value. The returned value is in radians.",
            math::atan(),
        ),
        ("cbrt", "The cube root of a value.", math::cbrt()),
        ("cos", "The cosine of a value.", math::cos()),
        ("cosh", "The hyperbolic cosine of a value.", math::cosh()),
        ("cot", "The cotangent of a value.", math::cot()),
        ("exp", "The exponential of a value.", math::exp()),
        ("ln", "The natural logarithm of a value.", math::ln()),
        ("sin", "The sine of a value.", math::sin()),
        ("sinh", "The hyperbolic sine of a value.", math::sinh()),
        ("tan", "The tangent of a value.", math::tan()),
        ("tanh", "The hyperbolic tangent of a value.", math::tanh()),
    ] {
        r.add_scalar(unary_double(name, description, udf));
    }
    r.add_scalar(unary_row("sqrt", "The square root of a value.", f64::sqrt));
    r.add_scalar(unary_row(
        "degrees",
        "Converts a value in radians to a value in degrees.",
        java_to_degrees,
    ));
    r.add_scalar(unary_row(
        "radians",
        "Converts a value in degrees to a value in radians.",
        java_to_radians,
    ));
    let atan2 = math::atan2();
    r.add_scalar(
        ScalarFunction::new(
            "atan2",
            "The inverse (arc) tangent of y / x. The returned value is in radians.",
        )
        .with_datafusion(
            vec![int(), int()],
            SqlType::Double,
            double_args(atan2.clone()),
        )
        .with_datafusion(
            vec![bigint(), bigint()],
            SqlType::Double,
            double_args(atan2.clone()),
        )
        .with_datafusion(vec![double(), double()], SqlType::Double, atan2),
    );
    // LOG(x) is the natural logarithm, whatever its description says (Java's Math.log).
    let ln = math::ln();
    let log2 = |a: &[Value]| -> Result<Value> {
        let (base, x) = (
            a[0].as_f64()
                .ok_or_else(|| SqlError::eval("expected a number"))?,
            a[1].as_f64()
                .ok_or_else(|| SqlError::eval("expected a number"))?,
        );
        Ok(Value::Double(if base <= 0.0 || base == 1.0 {
            f64::NAN
        } else {
            x.ln() / base.ln()
        }))
    };
    r.add_scalar(
        ScalarFunction::new("log", "The logarithm of a value.")
            .with_datafusion(vec![int()], SqlType::Double, double_args(ln.clone()))
            .with_datafusion(vec![bigint()], SqlType::Double, double_args(ln.clone()))
            .with_datafusion(vec![double()], SqlType::Double, ln)
            .with(vec![int(), int()], SqlType::Double, log2)
            .with(vec![bigint(), bigint()], SqlType::Double, log2)
            .with(vec![double(), double()], SqlType::Double, log2),
    );
    let pow = |a: &[Value]| -> Result<Value> {
        let (x, y) = (
            a[0].as_f64()
                .ok_or_else(|| SqlError::eval("expected a number"))?,
            a[1].as_f64()
                .ok_or_else(|| SqlError::eval("expected a number"))?,
        );
        Ok(Value::Double(java_pow(x, y)))
    };
    r.add_scalar(
        ScalarFunction::new(
            "power",
            "Given a base and an exponent, returns the result of the base raised to the \
             exponent.",
        )
        .with(vec![int(), int()], SqlType::Double, pow)
        .with(vec![bigint(), bigint()], SqlType::Double, pow)
        .with(vec![double(), double()], SqlType::Double, pow),
    );
    r.add_scalar(
        ScalarFunction::new("pi", "Returns an approximate value of pi.").with_datafusion(
            vec![],
            SqlType::Double,
            math::pi(),
        ),
    );
    r.add_scalar(
        ScalarFunction::new(
            "random",
            "Returns a random number greater than or equal to 0.0 and less than 1.0.",
        )
        .with_datafusion(vec![], SqlType::Double, math::random()),
    );
    for (name, description, ceiling) in [
        (
            "Ceil",
            "Returns the smallest integer greater than or equal to the specified numeric \
             expression.",
            true,
        ),
        (
            "Floor",
            "Returns the largest integer less than or equal to the specified numeric expression.",
            false,
        ),
    ] {
        let mode = if ceiling {
            RoundingMode::Ceiling
        } else {
            RoundingMode::Floor
        };
        r.add_scalar(
            ScalarFunction::new(name, description)
                .with(vec![int()], SqlType::Int, |a| Ok(a[0].clone()))
                .with(vec![bigint()], SqlType::BigInt, |a| Ok(a[0].clone()))
                .with_datafusion(
                    vec![double()],
                    SqlType::Double,
                    if ceiling { math::ceil() } else { math::floor() },
                )
                .with(vec![Param::AnyDecimal], Returns::Arg(0), move |a| {
                    let (d, scale) = decimal(&a[0])?;
                    to_decimal(&d.with_scale_round(0, mode), scale)
                }),
        );
    }
    r.add_scalar(rounding(
        "Round",
        "Round a value to the number of decimal places as specified by scale to the right of \
         the decimal point. If scale is negative then value is rounded to the right of the \
         decimal point. Numbers equidistant to the nearest value are rounded up (in the \
         positive direction). If the number of decimal places is not provided it defaults to \
         zero.",
        java_round,
        round_decimal,
    ));
    r.add_scalar(rounding(
        "trunc",
        "Truncates a value to the number of decimal places as specified by scale to the right \
         of the decimal point. If scale is negative then value is truncated to the right of \
         the decimal point.",
        |x| x as i64,
        |d, places| d.with_scale_round(places, RoundingMode::Down),
    ));
    let sign = |a: &[Value]| -> Result<Value> {
        Ok(Value::Int(match &a[0] {
            Value::Int(i) => i.signum(),
            Value::BigInt(i) => i.signum() as i32,
            Value::Double(d) if d.is_nan() || *d == 0.0 => 0,
            Value::Double(d) => d.signum() as i32,
            other => {
                return Err(SqlError::eval(format!("SIGN of {}", other.display(None))));
            }
        }))
    };
    r.add_scalar(
        ScalarFunction::new("sign", "The sign of a value.")
            .with(vec![int()], SqlType::Int, sign)
            .with(vec![bigint()], SqlType::Int, sign)
            .with(vec![double()], SqlType::Int, sign),
    );
    r.add_scalar(extremum(
        "greatest",
        "Returns the highest non-null value among a variable number of comparable columns.",
        true,
    ));
    r.add_scalar(extremum(
        "least",
        "Returns the lowest non-null value among a variable number of comparable columns",
        false,
    ));
}
