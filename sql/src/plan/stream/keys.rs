//! The result's key: a persistent query's projection split into key and value columns
//! (each key expression selected once), with ksqlDB's messages for missing or repeated keys.

use crate::error::{Result, SqlError};
use crate::parser::ast::{Expr, ExprKind};
use crate::plan::Target;
use crate::plan::select::{SelectColumn, same_expr};

/// The select's expressions that are the key, and the rest.
pub struct SplitSelect {
    /// Per key column: the output name.
    pub key_names: Vec<String>,
    /// The value columns: name and expression.
    pub values: Vec<SelectColumn>,
}

/// The sink's TIMESTAMP property must name a result column (checked before the key, as
/// ksqlDB does).
pub fn check_timestamp_column(target: &Target, select: &[SelectColumn]) -> Result<()> {
    let Target::Create { properties, .. } = target else {
        return Ok(());
    };
    let Some(column) = properties.get("TIMESTAMP") else {
        return Ok(());
    };
    let column = column.trim().to_ascii_uppercase();
    if select.iter().any(|s| s.alias == column) {
        return Ok(());
    }
    Err(SqlError::semantic(format!(
        "The TIMESTAMP column set in the WITH clause does not exist in the schema: '{column}'"
    )))
}

/// What a persistent query's key is made of, for [`split_keys`].
pub struct KeySpec {
    /// Per key column, the select expression that is it.
    pub exprs: Vec<Expr>,
    /// The key expressions as errors name them.
    pub display: Vec<String>,
    /// What errors call them ("key column", "grouping expression", ...).
    pub kind: &'static str,
}

impl KeySpec {
    /// A key of existing columns.
    pub fn columns(exprs: Vec<Expr>) -> Self {
        Self {
            display: exprs
                .iter()
                .map(|e| match &e.kind {
                    ExprKind::Column { name, .. } => name.clone(),
                    _ => e.to_string(),
                })
                .collect(),
            exprs,
            kind: "key column",
        }
    }
}

/// Splits a persistent query's projection into key columns (a select item that is the
/// key expression `key.exprs[i]`, at most once each) and values, with ksqlDB's errors.
pub fn split_keys(
    select: &[SelectColumn],
    key: &KeySpec,
    sink_name: &str,
    single_source: bool,
) -> Result<SplitSelect> {
    let mut aliases: Vec<Vec<String>> = vec![Vec::new(); key.exprs.len()];
    let mut values = Vec::new();
    for item in select {
        match key
            .exprs
            .iter()
            .position(|k| same_expr(&item.expr, k, single_source))
        {
            Some(i) => aliases[i].push(item.alias.clone()),
            None => values.push(item.clone()),
        }
    }
    for (i, names) in aliases.iter().enumerate() {
        if names.len() > 1 {
            let mut names = names.clone();
            names.sort();
            let column = match &key.exprs[i].kind {
                ExprKind::Column { name, .. } => format!("`{name}`"),
                _ => key.display[i].clone(),
            };
            return Err(SqlError::semantic(format!(
                "The projection contains a key column ({column}) more than once, aliased as: {}.\nEach key column must only be in the projection once. If you intended to copy the key into the value, then consider using the AS_VALUE function to indicate which key reference should be copied.",
                join_and(&names)
            )));
        }
    }
    if aliases.iter().any(Vec::is_empty) {
        return Err(keys_not_included(
            sink_name,
            key.kind,
            &key.display,
            true,
            false,
        ));
    }
    Ok(SplitSelect {
        key_names: aliases.into_iter().map(|mut a| a.remove(0)).collect(),
        values,
    })
}

/// ksqlDB's error for a persistent query whose projection lacks its key: `required` are
/// the key expressions (all of them needed, or any one when not `require_all`),
/// `synthetic` when the key is a join's synthetic column.
pub fn keys_not_included(
    sink_name: &str,
    kind: &str,
    required: &[String],
    require_all: bool,
    synthetic: bool,
) -> SqlError {
    let key_plural = if require_all && required.len() > 1 {
        "s"
    } else {
        ""
    };
    let kinds = if required.len() == 1 {
        kind.to_string()
    } else {
        format!("{kind}s")
    };
    let joined = if require_all {
        join_and(required)
    } else {
        join_grammatical(required, "or")
    };
    let example = if require_all {
        required.join(", ")
    } else {
        required.first().cloned().unwrap_or_default()
    };
    let see = if synthetic {
        "See https://cnfl.io/2LV7ouS."
    } else {
        ""
    };
    let why = if synthetic {
        format!(
            "\n{} was added as a synthetic key column because the join criteria did not match \
             any source column. This expression must be included in the projection and may be \
             aliased. ",
            required.first().cloned().unwrap_or_default()
        )
    } else {
        String::new()
    };
    SqlError::semantic(format!(
        "Key{key_plural} missing from projection (ie, SELECT). {see}\nThe query used to build \
         `{sink_name}` must include the {kinds} {joined} in its projection (eg, SELECT \
         {example}...).{why}"
    ))
}

/// `A`, `A or B`, `A, B or C` (Guava-style grammatical joining with `word`).
pub fn join_grammatical(items: &[String], word: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {word} {last}", init.join(", ")),
    }
}

/// `A`, `A and B`, `A, B and C`.
pub fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
