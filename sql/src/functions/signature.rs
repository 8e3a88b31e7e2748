//! Function signatures and overload resolution, as ksqlDB's `UdfIndex` resolves them:
//! parameters are ksqlDB types, generic types (`T`, bound by the first argument that
//! fixes them and widened to the common type of all), or "any decimal"; arguments may widen
//! INT -> BIGINT -> DECIMAL -> DOUBLE to reach a parameter; an untyped NULL matches any
//! parameter. Of the overloads that match, the one needing the fewest widenings wins.

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
    /// How many widenings the match needed.
    pub cost: u32,
}

/// Matches argument types (`None`: untyped NULL) against parameters; the last parameter
/// repeats when `variadic`.
pub fn bind(params: &[Param], variadic: bool, args: &[Option<SqlType>]) -> Option<Binding> {
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
    // First pass: bind generics to the common type of their arguments.
    for (i, arg) in args.iter().enumerate() {
        if let Some(ty) = arg {
            collect_generics(param_of(i), ty, &mut generics)?;
        }
    }
    let mut cost = 0;
    let mut arg_types = Vec::with_capacity(args.len());
    for (i, arg) in args.iter().enumerate() {
        let target = target_of(param_of(i), arg.as_ref(), &generics);
        if let Some(ty) = arg {
            // A typed argument must reach its parameter's type.
            cost += widening_cost(ty, target.as_ref()?)?;
        }
        arg_types.push(target);
    }
    Some(Binding {
        arg_types,
        generics,
        cost,
    })
}

fn collect_generics(
    param: &Param,
    ty: &SqlType,
    generics: &mut BTreeMap<char, SqlType>,
) -> Option<()> {
    match (param, ty) {
        (Param::Generic(c), ty) => {
            let merged = match generics.get(c) {
                Some(existing) => common_type(existing, ty)?,
                None => ty.clone(),
            };
            generics.insert(*c, merged);
            Some(())
        }
        (Param::Array(p), SqlType::Array(e)) => collect_generics(p, e, generics),
        (Param::Map(pk, pv), SqlType::Map(k, v)) => {
            collect_generics(pk, k, generics)?;
            collect_generics(pv, v, generics)
        }
        (Param::Array(_) | Param::Map(..), _) => None,
        _ => Some(()),
    }
}

/// The type an argument of type `arg` (`None`: untyped NULL) is cast to for `param`;
/// `None` for a typed argument means it does not match.
fn target_of(
    param: &Param,
    arg: Option<&SqlType>,
    generics: &BTreeMap<char, SqlType>,
) -> Option<SqlType> {
    match (param, arg) {
        (Param::Type(t), _) => Some(t.clone()),
        (Param::AnyDecimal, Some(t)) => t
            .as_decimal()
            .map(|(precision, scale)| SqlType::Decimal { precision, scale }),
        (Param::AnyDecimal, None) => None,
        (Param::Generic(c), _) => generics.get(c).cloned(),
        (Param::Array(p), Some(SqlType::Array(e))) => {
            Some(SqlType::array(target_of(p, Some(e), generics)?))
        }
        (Param::Array(p), None) => target_of(p, None, generics).map(SqlType::array),
        (Param::Map(pk, pv), Some(SqlType::Map(k, v))) => Some(SqlType::map(
            target_of(pk, Some(k), generics)?,
            target_of(pv, Some(v), generics)?,
        )),
        (Param::Map(pk, pv), None) => Some(SqlType::map(
            target_of(pk, None, generics)?,
            target_of(pv, None, generics)?,
        )),
        (Param::Array(_) | Param::Map(..), Some(_)) => None,
        (Param::AnyStruct, Some(t @ SqlType::Struct(_))) => Some(t.clone()),
        (Param::AnyStruct, _) => None,
        (Param::Any, arg) => arg.cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_and_generics() {
        let b = bind(
            &[Param::Generic('T'), Param::Generic('T')],
            true,
            &[Some(SqlType::Int), Some(SqlType::BigInt), None],
        )
        .unwrap();
        assert_eq!(b.generics[&'T'], SqlType::BigInt);
        assert_eq!(b.arg_types[0], Some(SqlType::BigInt));
        assert_eq!(b.cost, 1);
        assert!(bind(&[SqlType::Int.into()], false, &[Some(SqlType::BigInt)]).is_none());
        assert!(bind(&[SqlType::String.into()], false, &[Some(SqlType::Int)]).is_none());
        let b = bind(
            &[Param::array(Param::Generic('T'))],
            false,
            &[Some(SqlType::array(SqlType::String))],
        )
        .unwrap();
        assert_eq!(b.generics[&'T'], SqlType::String);
        assert!(bind(&[Param::array(Param::Any)], false, &[Some(SqlType::Int)]).is_none());
        let b = bind(&[Param::AnyDecimal], false, &[Some(SqlType::Int)]).unwrap();
        assert_eq!(b.arg_types[0], Some(SqlType::decimal(10, 0).unwrap()));
    }
}
