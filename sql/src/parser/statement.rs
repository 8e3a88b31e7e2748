//! The statement grammar (ksqlDB's `SqlBase.g4`, `statement` and `query` rules), by
//! recursive descent over sqlparser's token cursor; expressions are handed to sqlparser.
//!
//! Here: the cursor's helpers and the dispatch on a statement's first word; the rules are
//! in `ddl` (CREATE, INSERT, DROP, ALTER), `commands` (SHOW, DESCRIBE, PRINT, ASSERT) and
//! `query` (SELECT).

use std::time::Duration;

use datafusion_sql::sqlparser::parser::{Parser, ParserError};
use datafusion_sql::sqlparser::tokenizer::{Token, TokenWithSpan};

use super::ast::*;
use super::dialect::KsqlDialect;
use super::expr::convert_expr;
use super::{from_parser_error, ident_name, pos_of};
use crate::error::{Pos, Result, SqlError};

mod commands;
mod ddl;
mod query;

/// Words that end an expression or a clause, so they are never taken as aliases.
const RESERVED: &[&str] = &[
    "FROM",
    "WHERE",
    "GROUP",
    "PARTITION",
    "HAVING",
    "EMIT",
    "LIMIT",
    "WINDOW",
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "FULL",
    "OUTER",
    "ON",
    "WITHIN",
    "AS",
    "SELECT",
    "AND",
    "OR",
    "NOT",
    "BY",
];

/// Parses one statement from its tokens (no `;`).
pub(crate) fn parse_statement(
    dialect: &KsqlDialect,
    tokens: Vec<TokenWithSpan>,
) -> Result<Statement> {
    let first = tokens
        .iter()
        .find(|t| !matches!(t.token, Token::Whitespace(_)))
        .map(pos_of)
        .unwrap_or_default();
    // The EOF token has no position: errors at the end point just after the last token.
    let end = tokens
        .iter()
        .rev()
        .find(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF))
        .map(|t| Pos::new(t.span.end.line, t.span.end.column))
        .unwrap_or(first);
    let mut p = StatementParser {
        parser: Parser::new(dialect).with_tokens_with_locations(tokens),
        dialect,

        end,
    };
    let statement = p.statement()?;
    let next = p.parser.peek_token();
    if next.token != Token::EOF {
        return Err(p.unexpected(&next, "end of statement"));
    }
    Ok(statement)
}

struct StatementParser<'a> {
    parser: Parser<'a>,
    dialect: &'a KsqlDialect,

    end: Pos,
}

/// The upper-cased text of an unquoted word token.
fn word_of(token: &TokenWithSpan) -> Option<String> {
    match &token.token {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
        _ => None,
    }
}

fn describe(token: &TokenWithSpan) -> String {
    match &token.token {
        Token::EOF => "end of statement".to_string(),
        other => format!("'{other}'"),
    }
}

impl StatementParser<'_> {
    fn pe(&self, error: ParserError) -> SqlError {
        from_parser_error(error, self.end)
    }

    fn unexpected(&self, token: &TokenWithSpan, expected: &str) -> SqlError {
        let pos = if token.token == Token::EOF {
            self.end_pos()
        } else {
            pos_of(token)
        };
        SqlError::parse(
            pos,
            format!("Expecting {expected}, found {}", describe(token)),
        )
    }

    fn end_pos(&self) -> Pos {
        self.end
    }

    fn peek(&self) -> TokenWithSpan {
        self.parser.peek_token()
    }

    fn peek_word(&self) -> Option<String> {
        word_of(&self.parser.peek_token())
    }

    fn peek_nth_word(&self, n: usize) -> Option<String> {
        word_of(&self.parser.peek_nth_token(n))
    }

    fn pos(&self) -> Pos {
        let t = self.peek();
        if t.token == Token::EOF {
            self.end_pos()
        } else {
            pos_of(&t)
        }
    }

    fn eat(&mut self, word: &str) -> bool {
        if self.peek_word().as_deref() == Some(word) {
            self.parser.next_token();
            true
        } else {
            false
        }
    }

    fn eat_all(&mut self, words: &[&str]) -> bool {
        for (i, w) in words.iter().enumerate() {
            if self.peek_nth_word(i).as_deref() != Some(*w) {
                return false;
            }
        }
        for _ in words {
            self.parser.next_token();
        }
        true
    }

    fn expect(&mut self, word: &str) -> Result<()> {
        if self.eat(word) {
            Ok(())
        } else {
            Err(self.unexpected(&self.peek(), &format!("'{word}'")))
        }
    }

    fn expect_token(&mut self, token: Token) -> Result<()> {
        if self.parser.consume_token(&token) {
            Ok(())
        } else {
            Err(self.unexpected(&self.peek(), &format!("'{token}'")))
        }
    }

    fn name(&mut self) -> Result<Name> {
        let token = self.peek();
        match &token.token {
            Token::Word(w) => {
                if w.quote_style.is_none()
                    && RESERVED.contains(&w.value.to_ascii_uppercase().as_str())
                {
                    return Err(self.unexpected(&token, "an identifier"));
                }
                self.parser.next_token();
                let ident = datafusion_sql::sqlparser::ast::Ident {
                    value: w.value.clone(),
                    quote_style: w.quote_style,
                    span: token.span,
                };
                Ok(Name::new(ident_name(&ident), pos_of(&token)))
            }
            _ => Err(self.unexpected(&token, "an identifier")),
        }
    }

    fn string(&mut self) -> Result<String> {
        let token = self.parser.next_token();
        match token.token {
            Token::SingleQuotedString(s) => Ok(s),
            _ => Err(self.unexpected(&token, "a string")),
        }
    }

    fn unsigned(&mut self) -> Result<u64> {
        let token = self.parser.next_token();
        match &token.token {
            Token::Number(n, _) => n
                .parse()
                .map_err(|_| self.unexpected(&token, "a whole number")),
            _ => Err(self.unexpected(&token, "a whole number")),
        }
    }

    fn expr(&mut self) -> Result<Expr> {
        let e = self.parser.parse_expr().map_err(|e| self.pe(e))?;
        convert_expr(e, self.dialect)
    }

    fn statement(&mut self) -> Result<Statement> {
        let token = self.peek();
        let Some(word) = word_of(&token) else {
            return Err(self.unexpected(&token, "a statement"));
        };
        match word.as_str() {
            "SELECT" => Ok(Statement::Query(Box::new(self.query()?))),
            "CREATE" => self.create(),
            "INSERT" => self.insert(),
            "DROP" => self.drop(),
            "ALTER" => self.alter(),
            "SHOW" | "LIST" => self.show(),
            "DESCRIBE" => self.describe(),
            "EXPLAIN" => {
                self.parser.next_token();
                if matches!(
                    self.peek_word().as_deref(),
                    Some("SELECT" | "CREATE" | "INSERT")
                ) {
                    Ok(Statement::Explain(Explain::Statement(Box::new(
                        self.statement()?,
                    ))))
                } else {
                    Ok(Statement::Explain(Explain::Query(self.query_id()?)))
                }
            }
            "TERMINATE" => {
                self.parser.next_token();
                Ok(Statement::Terminate(self.query_target()?))
            }
            "PAUSE" => {
                self.parser.next_token();
                Ok(Statement::Pause(self.query_target()?))
            }
            "RESUME" => {
                self.parser.next_token();
                Ok(Statement::Resume(self.query_target()?))
            }
            "PRINT" => self.print(),
            "SET" => {
                self.parser.next_token();
                let name = self.string()?;
                self.expect_token(Token::Eq)?;
                let value = self.string()?;
                Ok(Statement::Set { name, value })
            }
            "UNSET" => {
                self.parser.next_token();
                Ok(Statement::Unset(self.string()?))
            }
            "DEFINE" => {
                self.parser.next_token();
                let name = self.name()?.value.to_ascii_uppercase();
                self.expect_token(Token::Eq)?;
                let value = self.string()?;
                Ok(Statement::Define { name, value })
            }
            "UNDEFINE" => {
                self.parser.next_token();
                Ok(Statement::Undefine(self.name()?.value.to_ascii_uppercase()))
            }
            "RUN" => {
                self.parser.next_token();
                self.expect("SCRIPT")?;
                Ok(Statement::RunScript(self.string()?))
            }
            "ASSERT" => self.assert(),
            _ => Err(SqlError::parse(
                pos_of(&token),
                format!("Unknown statement '{}'", token.token),
            )),
        }
    }

    fn query_id(&mut self) -> Result<String> {
        let token = self.parser.next_token();
        match &token.token {
            Token::Word(w) => Ok(if w.quote_style.is_some() {
                w.value.clone()
            } else {
                w.value.to_ascii_uppercase()
            }),
            Token::SingleQuotedString(s) => Ok(s.clone()),
            _ => Err(self.unexpected(&token, "a query id")),
        }
    }

    fn query_target(&mut self) -> Result<QueryTarget> {
        if self.eat("ALL") {
            Ok(QueryTarget::All)
        } else {
            Ok(QueryTarget::Id(self.query_id()?))
        }
    }

    fn source_kind(&mut self) -> Result<SourceKind> {
        if self.eat("STREAM") {
            Ok(SourceKind::Stream)
        } else if self.eat("TABLE") {
            Ok(SourceKind::Table)
        } else {
            Err(self.unexpected(&self.peek(), "STREAM or TABLE"))
        }
    }

    /// `n unit`, for windows, WITHIN and GRACE PERIOD.
    fn duration(&mut self) -> Result<Duration> {
        let amount = self.unsigned()?;
        let token = self.parser.next_token();
        let unit = word_of(&token).unwrap_or_default();
        let ms: u64 = match unit.as_str() {
            "MILLISECOND" | "MILLISECONDS" => 1,
            "SECOND" | "SECONDS" => 1_000,
            "MINUTE" | "MINUTES" => 60_000,
            "HOUR" | "HOURS" => 3_600_000,
            "DAY" | "DAYS" => 86_400_000,
            _ => {
                return Err(self.unexpected(
                    &token,
                    "a time unit (MILLISECONDS, SECONDS, MINUTES, HOURS or DAYS)",
                ));
            }
        };
        Ok(Duration::from_millis(amount.saturating_mul(ms)))
    }
}

/// A literal number token as a ksqlDB literal (used by the expression converter). A number
/// out of range is a parse error, as ksqlDB's AST builder reports it.
pub(crate) fn number_literal(text: &str, negative: bool, pos: Pos) -> Result<Literal> {
    let signed = if negative {
        format!("-{text}")
    } else {
        text.to_string()
    };
    if text.contains(['e', 'E']) {
        let value: f64 = signed
            .parse()
            .map_err(|_| SqlError::parse(pos, format!("Invalid numeric literal: {signed}")))?;
        if value.is_infinite() {
            return Err(SqlError::parse(
                pos,
                format!("Number overflows DOUBLE: {signed}"),
            ));
        }
        return Ok(Literal::Double(value));
    }
    if text.contains('.') {
        return Ok(Literal::Decimal(signed));
    }
    match signed.parse::<i64>() {
        Ok(v) => Ok(match i32::try_from(v) {
            Ok(i) => Literal::Int(i),
            Err(_) => Literal::BigInt(v),
        }),
        Err(_) => Err(SqlError::parse(
            pos,
            format!("Invalid numeric literal: {signed}"),
        )),
    }
}
