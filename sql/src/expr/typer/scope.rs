//! [`Scope`]: the columns an expression may name, and how a (qualified) name resolves.

use crate::error::{Pos, Result, SqlError};
use crate::types::SqlType;

/// A column that expressions may name.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeColumn {
    /// The source alias that qualifies it (`L` in `L.ID`), if any.
    pub qualifier: Option<String>,
    /// Its name.
    pub name: String,
    /// The name of the batch column holding it.
    pub internal: String,
    /// Its type.
    pub ty: SqlType,
}

/// The columns in scope.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The columns.
    pub columns: Vec<ScopeColumn>,
    /// The aliases of the sources in scope (for "not a valid stream/table name" errors).
    pub qualifiers: Vec<String>,
}

impl Scope {
    /// A scope over unqualified columns whose internal names are their names.
    pub fn of(columns: impl IntoIterator<Item = (String, SqlType)>) -> Self {
        Self {
            columns: columns
                .into_iter()
                .map(|(name, ty)| ScopeColumn {
                    qualifier: None,
                    internal: name.clone(),
                    name,
                    ty,
                })
                .collect(),
            qualifiers: Vec::new(),
        }
    }

    /// Resolves `[qualifier.]name`.
    pub fn resolve(&self, qualifier: Option<&str>, name: &str, pos: Pos) -> Result<&ScopeColumn> {
        if let Some(q) = qualifier
            && !self.qualifiers.iter().any(|s| s == q)
            && !self
                .columns
                .iter()
                .any(|c| c.qualifier.as_deref() == Some(q))
        {
            return Err(SqlError::at(
                pos,
                format!("'{q}' is not a valid stream/table name or alias."),
            ));
        }
        let matches: Vec<&ScopeColumn> = self
            .columns
            .iter()
            .filter(|c| {
                c.name == name && (qualifier.is_none() || c.qualifier.as_deref() == qualifier)
            })
            .collect();
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(SqlError::at(
                pos,
                match qualifier {
                    Some(q) => format!("Column '{q}.{name}' cannot be resolved."),
                    None => format!("Column '{name}' cannot be resolved."),
                },
            )),
            many => {
                // The same underlying column seen through two names is not ambiguous.
                if many.iter().all(|c| c.internal == many[0].internal) {
                    return Ok(many[0]);
                }
                // An unqualified column (a join's ROWTIME, its synthetic key) wins over the
                // sources' columns of the same name when none is qualified.
                if qualifier.is_none() {
                    let unqualified: Vec<&&ScopeColumn> =
                        many.iter().filter(|c| c.qualifier.is_none()).collect();
                    if let [one] = unqualified.as_slice() {
                        return Ok(one);
                    }
                }
                let options: Vec<String> = many
                    .iter()
                    .map(|c| match &c.qualifier {
                        Some(q) => format!("{q}.{}", c.name),
                        None => c.name.clone(),
                    })
                    .collect();
                Err(SqlError::at(
                    pos,
                    format!(
                        "Column '{name}' is ambiguous. Could be {}.",
                        options.join(" or ")
                    ),
                ))
            }
        }
    }
}
