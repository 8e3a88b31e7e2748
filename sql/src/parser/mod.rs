//! The ksqlDB statement parser: Eddy's own recursive-descent grammar for statements
//! (`statement`) over sqlparser's tokenizer, with sqlparser's expression parser under a
//! small [`KsqlDialect`] for expressions (`expr` turns its AST into Eddy's).
//!
//! [`parse`] splits a script into statements (at top-level `;`, outside quotes and
//! comments) and parses each; [`substitute_variables`] replaces `${name}` before that, as
//! ksqlDB's `DEFINE` does. Errors name the line and column.

pub mod ast;
mod dialect;
mod display;
mod expr;
mod statement;
mod types;

use std::collections::BTreeMap;

use datafusion_sql::sqlparser::ast::Ident;
use datafusion_sql::sqlparser::parser::ParserError;
use datafusion_sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

pub use ast::ParsedStatement;
pub use dialect::KsqlDialect;
pub use display::{display_expr, display_type};

use crate::error::{Pos, Result, SqlError};

/// Parses a script of `;`-separated statements.
///
/// ```
/// use eddy_sql::parser::{parse, ast::Statement};
/// let statements = parse(
///     "CREATE STREAM pageviews (id INT KEY, page STRING) \
///      WITH (kafka_topic='pv', value_format='JSON');\n\
///      SELECT page, COUNT(*) FROM pageviews GROUP BY page EMIT CHANGES;",
/// )
/// .unwrap();
/// assert_eq!(statements.len(), 2);
/// assert!(matches!(statements[1].statement, Statement::Query(_)));
/// let err = parse("SELECT FROM x;").unwrap_err();
/// assert!(err.to_string().starts_with("line 1:8: Syntax Error"));
/// ```
pub fn parse(sql: &str) -> Result<Vec<ParsedStatement>> {
    let dialect = KsqlDialect::default();
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| SqlError::parse(Pos::new(e.location.line, e.location.column), e.message))?;
    let index = LineIndex::new(sql);
    let mut statements = Vec::new();
    for chunk in tokens.split(|t| t.token == Token::SemiColon) {
        let meaningful: Vec<&TokenWithSpan> = chunk
            .iter()
            .filter(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF))
            .collect();
        let (Some(first), Some(last)) = (meaningful.first(), meaningful.last()) else {
            continue;
        };
        let text = index
            .slice(sql, first.span.start, last.span.end)
            .to_string();
        let pos = pos_of(first);
        let statement = statement::parse_statement(&dialect, chunk.to_vec())?;
        statements.push(ParsedStatement {
            text,
            pos,
            statement,
        });
    }
    Ok(statements)
}

/// The statements of a script as text, with where each starts, unparsed (so that
/// variables can be substituted in each just before it runs).
pub fn split_statements(sql: &str) -> Result<Vec<(String, Pos)>> {
    let dialect = KsqlDialect::default();
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| SqlError::parse(Pos::new(e.location.line, e.location.column), e.message))?;
    let index = LineIndex::new(sql);
    let mut out = Vec::new();
    for chunk in tokens.split(|t| t.token == Token::SemiColon) {
        let meaningful: Vec<&TokenWithSpan> = chunk
            .iter()
            .filter(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF))
            .collect();
        if let (Some(first), Some(last)) = (meaningful.first(), meaningful.last()) {
            let text = index.slice(sql, first.span.start, last.span.end);
            out.push((format!("{text};"), pos_of(first)));
        }
    }
    Ok(out)
}

/// Parses exactly one statement (a trailing `;` is optional).
pub fn parse_one(sql: &str) -> Result<ParsedStatement> {
    let mut statements = parse(sql)?;
    match statements.len() {
        1 => Ok(statements.remove(0)),
        0 => Err(SqlError::parse(
            Pos::new(1, 1),
            "Expecting a statement, found nothing",
        )),
        n => Err(SqlError::semantic(format!(
            "Expected exactly one statement, found {n}"
        ))),
    }
}

/// Replaces `${name}` with the value of variable `name` (names are case-insensitive, as in
/// ksqlDB). Text inside single-quoted strings is substituted too, as ksqlDB does; an
/// undefined variable is an error.
pub fn substitute_variables(sql: &str, variables: &BTreeMap<String, String>) -> Result<String> {
    if !sql.contains("${") {
        return Ok(sql.to_string());
    }
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let name = after[..end].trim().to_ascii_uppercase();
        match variables.get(&name) {
            Some(value) => out.push_str(value),
            None => {
                return Err(SqlError::semantic(format!(
                    "Can't find a value for the variable '{name}'; define it with \
                     DEFINE {name} = '...';"
                )));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The position a token starts at.
pub(crate) fn pos_of(token: &TokenWithSpan) -> Pos {
    Pos::new(token.span.start.line, token.span.start.column)
}

/// An identifier as ksqlDB names it: unquoted ones upper-cased, quoted ones as written.
pub(crate) fn ident_name(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_ascii_uppercase()
    }
}

/// Turns a sqlparser error into a syntax error with its position: sqlparser ends its
/// messages with " at Line: L, Column: C".
pub(crate) fn from_parser_error(error: ParserError, fallback: Pos) -> SqlError {
    let message = match error {
        ParserError::ParserError(m) | ParserError::TokenizerError(m) => m,
        ParserError::RecursionLimitExceeded => "the statement is nested too deeply".into(),
    };
    let (message, pos) = match message.rfind(" at Line: ") {
        Some(at) => {
            let tail = &message[at + " at Line: ".len()..];
            let mut parts = tail.split(", Column: ");
            let line = parts.next().and_then(|l| l.trim().parse().ok());
            let column = parts.next().and_then(|c| c.trim().parse().ok());
            match (line, column) {
                (Some(l), Some(c)) if l > 0 => (message[..at].to_string(), Pos::new(l, c)),
                (Some(_), Some(_)) => (message[..at].to_string(), fallback),
                _ => (message, fallback),
            }
        }
        None => (message, fallback),
    };
    let message = message
        .strip_prefix("sql parser error: ")
        .unwrap_or(&message)
        .replace("Expected: ", "Expecting ")
        .replace(", found: ", ", found ")
        .replace("found EOF", "found end of statement");
    SqlError::parse(pos, message)
}

/// Maps token locations (line, character column) back to byte offsets of the text.
struct LineIndex {
    line_starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { line_starts }
    }

    fn offset(
        &self,
        text: &str,
        location: datafusion_sql::sqlparser::tokenizer::Location,
    ) -> usize {
        let Some(&start) = self
            .line_starts
            .get((location.line as usize).saturating_sub(1))
        else {
            return text.len();
        };
        let column = (location.column as usize).saturating_sub(1);
        text[start..]
            .char_indices()
            .nth(column)
            .map_or(text.len(), |(i, _)| start + i)
    }

    fn slice<'t>(
        &self,
        text: &'t str,
        start: datafusion_sql::sqlparser::tokenizer::Location,
        end: datafusion_sql::sqlparser::tokenizer::Location,
    ) -> &'t str {
        let (a, b) = (self.offset(text, start), self.offset(text, end));
        if a <= b { &text[a..b] } else { &text[a..] }
    }
}

#[cfg(test)]
mod tests;
