//! Function signatures and overload resolution, as ksqlDB's `UdfIndex` resolves them:
//! parameters are ksqlDB types, generic types (`T`, bound by the first argument that fixes
//! it; the others must be exactly that type), or "any decimal"; an untyped NULL matches any
//! parameter. Overloads are first matched exactly; only when none matches are implicit
//! casts allowed (INT -> BIGINT -> DECIMAL -> DOUBLE, STRING -> a time type or BYTES). Of
//! the overloads that match, ksqlDB's [`preference`] picks one; a tie is ambiguous.

use std::collections::BTreeMap;
use std::fmt;

use crate::types::SqlType;

/// A parameter type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// Exactly this type (or one that widens to it).
    Type(SqlType),
    /// Any DECIMAL (INT and BIGINT widen to DECIMAL(10, 0) and DECIMAL(19, 0)).
    AnyDecimal,
    /// An ARRAY of elements matching the parameter.
    Array(Box<Param>),
    /// A MAP of keys and values matching the parameters.
    Map(Box<Param>, Box<Param>),
    /// Any STRUCT.
    AnyStruct,
    /// A generic type variable.
    Generic(char),
    /// Anything, unbound.
    Any,
}

impl Param {
    /// `ARRAY<p>`.
    pub fn array(p: Param) -> Self {
        Self::Array(Box::new(p))
    }

    /// `MAP<k, v>`.
    pub fn map(k: Param, v: Param) -> Self {
        Self::Map(Box::new(k), Box::new(v))
    }
}

impl From<SqlType> for Param {
    fn from(t: SqlType) -> Self {
        Self::Type(t)
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Type(t) => write!(f, "{t}"),
            Self::AnyDecimal => f.write_str("DECIMAL"),
            Self::Array(p) => write!(f, "ARRAY<{p}>"),
            Self::Map(k, v) => write!(f, "MAP<{k}, {v}>"),
            Self::AnyStruct => f.write_str("STRUCT"),
            Self::Generic(c) => write!(f, "{c}"),
            Self::Any => f.write_str("ANY"),
        }
    }
}

/// The numeric widening order: how many steps from `from` to `to`, if `from` widens to
/// `to` at all.
pub fn widening_cost(from: &SqlType, to: &SqlType) -> Option<u32> {
    if from == to {
        return Some(0);
    }
    let rank = |t: &SqlType| match t {
        SqlType::Int => Some(0),
        SqlType::BigInt => Some(1),
        SqlType::Decimal { .. } => Some(2),
        SqlType::Double => Some(3),
        _ => None,
    };
    match (from, to) {
        (SqlType::Decimal { .. }, SqlType::Decimal { .. }) => Some(1),
        (SqlType::Array(a), SqlType::Array(b)) => widening_cost(a, b),
        (SqlType::Map(ak, av), SqlType::Map(bk, bv)) => {
            Some(widening_cost(ak, bk)? + widening_cost(av, bv)?)
        }
        _ => {
            let (a, b) = (rank(from)?, rank(to)?);
            (a < b).then(|| b - a)
        }
    }
}

/// The type both `a` and `b` widen to, if any (ksqlDB's common supertype).
pub fn common_type(a: &SqlType, b: &SqlType) -> Option<SqlType> {
    if a == b {
        return Some(a.clone());
    }
    match (a, b) {
        (SqlType::Decimal { .. }, _) | (_, SqlType::Decimal { .. })
            if a.as_decimal().is_some() && b.as_decimal().is_some() =>
        {
            let (p1, s1) = a.as_decimal()?;
            let (p2, s2) = b.as_decimal()?;
            let scale = s1.max(s2);
            let int = (p1 - s1).max(p2 - s2);
            Some(SqlType::Decimal {
                precision: (int + scale).min(38),
                scale,
            })
        }
        (SqlType::Array(x), SqlType::Array(y)) => Some(SqlType::array(common_type(x, y)?)),
        (SqlType::Map(xk, xv), SqlType::Map(yk, yv)) => {
            Some(SqlType::map(common_type(xk, yk)?, common_type(xv, yv)?))
        }
        _ => {
            if widening_cost(a, b).is_some() {
                Some(b.clone())
            } else if widening_cost(b, a).is_some() {
                Some(a.clone())
            } else {
                None
            }
        }
    }
}

/// What a resolved call looks like: the types to cast the arguments to, and the generic
/// bindings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Binding {
    /// Per argument, the type it is cast to (`None` for untyped NULLs whose parameter
    /// has no type either).
    pub arg_types: Vec<Option<SqlType>>,
    /// Generic variables and their types.
    pub generics: BTreeMap<char, SqlType>,
    /// How many arguments needed an implicit cast.
    pub cost: u32,
}

/// ksqlDB's implicit casts of function arguments (`SqlBaseType.canImplicitlyCast`): a
/// number to a wider number (INT -> BIGINT -> DECIMAL -> DOUBLE), a STRING to a time type
/// or to BYTES.
pub fn implicit_cast(from: &SqlType, to: &SqlType) -> bool {
    use SqlType::*;
    let rank = |t: &SqlType| match t {
        Int => Some(0),
        BigInt => Some(1),
        Decimal { .. } => Some(2),
        Double => Some(3),
        _ => None,
    };
    match (rank(from), rank(to)) {
        (Some(a), Some(b)) => a <= b,
        _ => matches!((from, to), (String, Timestamp | Date | Time | Bytes)),
    }
}

/// Matches argument types (`None`: untyped NULL) against parameters as ksqlDB's
/// `UdfIndex` does: exactly, or with `allow_casts` through [`implicit_cast`]; a generic
/// binds to the first typed argument's type and every other must be exactly that; an
/// untyped NULL matches anything. The last parameter repeats when `variadic` (zero or
/// more times).
pub fn bind(
    params: &[Param],
    variadic: bool,
    args: &[Option<SqlType>],
    allow_casts: bool,
) -> Option<Binding> {
    if variadic {
        if args.len() + 1 < params.len() {
            return None;
        }
    } else if args.len() != params.len() {
        return None;
    }
    let param_of = |i: usize| -> &Param {
        if i < params.len() {
            &params[i]
        } else {
            params.last().unwrap_or(&Param::Any)
        }
    };
    let mut generics: BTreeMap<char, SqlType> = BTreeMap::new();
    for (i, arg) in args.iter().enumerate() {
        if let Some(ty) = arg {
            reserve_generics(param_of(i), ty, &mut generics)?;
        }
    }
    let mut cost = 0;
    let mut arg_types = Vec::with_capacity(args.len());
    for (i, arg) in args.iter().enumerate() {
        let param = param_of(i);
        let target = match arg {
            None => target_of(param, None, &generics),
            Some(ty) => {
                let (target, cast) = accepts(param, ty, &generics, allow_casts)?;
                cost += u32::from(cast);
                Some(target)
            }
        };
        arg_types.push(target);
    }
    Some(Binding {
        arg_types,
        generics,
        cost,
    })
}

/// Binds the generics of `param` to the parts of `ty`; fails when a generic is already
/// bound to another type, or the shapes differ.
fn reserve_generics(
    param: &Param,
    ty: &SqlType,
    generics: &mut BTreeMap<char, SqlType>,
) -> Option<()> {
    match (param, ty) {
        (Param::Generic(c), ty) => match generics.get(c) {
            Some(existing) if existing != ty => None,
            Some(_) => Some(()),
            None => {
                generics.insert(*c, ty.clone());
                Some(())
            }
        },
        (Param::Array(p), SqlType::Array(e)) if has_generics(p) => reserve_generics(p, e, generics),
        (Param::Map(pk, pv), SqlType::Map(k, v)) if has_generics(pk) || has_generics(pv) => {
            reserve_generics(pk, k, generics)?;
            reserve_generics(pv, v, generics)
        }
        (p, _) if has_generics(p) => None,
        _ => Some(()),
    }
}

/// Whether a parameter mentions a generic type variable.
pub fn has_generics(param: &Param) -> bool {
    match param {
        Param::Generic(_) => true,
        Param::Array(p) => has_generics(p),
        Param::Map(k, v) => has_generics(k) || has_generics(v),
        _ => false,
    }
}

/// Whether a typed argument fits `param`: the type it is passed as, and whether that
/// took an implicit cast.
fn accepts(
    param: &Param,
    ty: &SqlType,
    generics: &BTreeMap<char, SqlType>,
    allow_casts: bool,
) -> Option<(SqlType, bool)> {
    match (param, ty) {
        (Param::Any, _) => Some((ty.clone(), false)),
        (Param::Generic(c), _) => generics
            .get(c)
            .filter(|g| *g == ty)
            .map(|g| (g.clone(), false)),
        (Param::Type(t), _) if t == ty => Some((t.clone(), false)),
        (Param::Type(SqlType::Decimal { .. }), SqlType::Decimal { .. }) => {
            Some((ty.clone(), false))
        }
        (Param::Type(t), _) if allow_casts && implicit_cast(ty, t) => Some((t.clone(), true)),
        (Param::AnyDecimal, SqlType::Decimal { .. }) => Some((ty.clone(), false)),
        (Param::AnyDecimal, SqlType::Int | SqlType::BigInt) if allow_casts => ty
            .as_decimal()
            .map(|(precision, scale)| (SqlType::Decimal { precision, scale }, true)),
        (Param::Array(p), SqlType::Array(e)) => {
            let (inner, cast) = accepts(p, e, generics, allow_casts)?;
            Some((SqlType::array(inner), cast))
        }
        (Param::Map(pk, pv), SqlType::Map(k, v)) => {
            let (key, kc) = accepts(pk, k, generics, allow_casts)?;
            let (value, vc) = accepts(pv, v, generics, allow_casts)?;
            Some((SqlType::map(key, value), kc || vc))
        }
        (Param::AnyStruct, SqlType::Struct(_)) => Some((ty.clone(), false)),
        _ => None,
    }
}

/// The type an untyped NULL argument is passed as for `param`, if it has one.
fn target_of(
    param: &Param,
    arg: Option<&SqlType>,
    generics: &BTreeMap<char, SqlType>,
) -> Option<SqlType> {
    match (param, arg) {
        (Param::Type(t), _) => Some(t.clone()),
        (Param::AnyDecimal, _) => None,
        (Param::Generic(c), _) => generics.get(c).cloned(),
        (Param::Array(p), _) => target_of(p, None, generics).map(SqlType::array),
        (Param::Map(pk, pv), _) => Some(SqlType::map(
            target_of(pk, None, generics)?,
            target_of(pv, None, generics)?,
        )),
        (Param::AnyStruct, _) | (Param::Any, _) => None,
    }
}

/// ksqlDB's preference among overloads that all match (`UdfIndex.Node.compareFunctions`):
/// not variadic, then more parameters, then fewer generic ones, then not `ANY...`; equal
/// ranks are ambiguous.
pub fn preference(params: &[Param], variadic: bool) -> (u8, usize, i64, u8) {
    let generics = params.iter().filter(|p| has_generics(p)).count() as i64;
    let any_variadic = variadic && matches!(params.last(), Some(Param::Any));
    (
        u8::from(!variadic),
        params.len(),
        -generics,
        u8::from(!any_variadic),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generics_bind_exactly_and_casts_come_second() {
        let b = bind(
            &[Param::Generic('T'), Param::Generic('T')],
            true,
            &[Some(SqlType::Int), Some(SqlType::Int), None],
            false,
        )
        .unwrap();
        assert_eq!(b.generics[&'T'], SqlType::Int);
        assert_eq!(
            b.arg_types,
            [Some(SqlType::Int), Some(SqlType::Int), Some(SqlType::Int)]
        );
        // A generic is bound to one type: INT and BIGINT do not both fit `T`, casts or not.
        let mixed = [Some(SqlType::Int), Some(SqlType::BigInt)];
        let generic = [Param::Generic('T'), Param::Generic('T')];
        assert!(bind(&generic, true, &mixed, true).is_none());
        // A concrete parameter takes a narrower number only when casts are allowed.
        assert!(
            bind(
                &[SqlType::BigInt.into()],
                false,
                &[Some(SqlType::Int)],
                false
            )
            .is_none()
        );
        let b = bind(
            &[SqlType::BigInt.into()],
            false,
            &[Some(SqlType::Int)],
            true,
        )
        .unwrap();
        assert_eq!((b.arg_types[0].clone(), b.cost), (Some(SqlType::BigInt), 1));
        assert!(
            bind(
                &[SqlType::Int.into()],
                false,
                &[Some(SqlType::BigInt)],
                true
            )
            .is_none()
        );
        assert!(
            bind(
                &[SqlType::String.into()],
                false,
                &[Some(SqlType::Int)],
                true
            )
            .is_none()
        );
        // STRING casts to the time types and BYTES.
        assert!(
            bind(
                &[SqlType::Date.into()],
                false,
                &[Some(SqlType::String)],
                true
            )
            .is_some()
        );
        let b = bind(
            &[Param::array(Param::Generic('T'))],
            false,
            &[Some(SqlType::array(SqlType::String))],
            false,
        )
        .unwrap();
        assert_eq!(b.generics[&'T'], SqlType::String);
        assert!(
            bind(
                &[Param::array(Param::Any)],
                false,
                &[Some(SqlType::Int)],
                true
            )
            .is_none()
        );
        assert!(bind(&[Param::AnyDecimal], false, &[Some(SqlType::Int)], false).is_none());
        let b = bind(&[Param::AnyDecimal], false, &[Some(SqlType::Int)], true).unwrap();
        assert_eq!(b.arg_types[0], Some(SqlType::decimal(10, 0).unwrap()));
    }

    #[test]
    fn preference_orders_as_ksqldb() {
        let int = || Param::Type(SqlType::Int);
        // Not variadic beats variadic; more parameters beat fewer; fewer generics win.
        assert!(preference(&[int(), int()], false) > preference(&[int(), int()], true));
        assert!(preference(&[int(), int()], false) > preference(&[int()], false));
        assert!(preference(&[int()], false) > preference(&[Param::Generic('T')], false));
        assert_eq!(
            preference(&[int(), int()], true),
            preference(
                &[Param::Type(SqlType::BigInt), Param::Type(SqlType::BigInt)],
                true
            )
        );
    }
}
