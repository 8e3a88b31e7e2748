//! The statement grammar (ksqlDB's `SqlBase.g4`, `statement` and `query` rules), by
//! recursive descent over sqlparser's token cursor; expressions are handed to sqlparser.

use std::time::Duration;

use datafusion_sql::sqlparser::parser::{Parser, ParserError};
use datafusion_sql::sqlparser::tokenizer::{Token, TokenWithSpan};

use super::ast::*;
use super::dialect::KsqlDialect;
use super::expr::convert_expr;
use super::types::parse_type;
use super::{from_parser_error, ident_name, pos_of};
use crate::error::{Pos, Result, SqlError};

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

    fn create(&mut self) -> Result<Statement> {
        self.expect("CREATE")?;
        let or_replace = self.eat_all(&["OR", "REPLACE"]);
        if self.eat("TYPE") {
            let if_not_exists = self.eat_all(&["IF", "NOT", "EXISTS"]);
            let name = self.name()?;
            self.expect("AS")?;
            let ty = parse_type(&mut self.parser).map_err(|e| self.pe(e))?;
            return Ok(Statement::CreateType {
                name,
                if_not_exists,
                ty,
            });
        }
        let is_source = self.eat("SOURCE");
        let kind = self.source_kind()?;
        let if_not_exists = self.eat_all(&["IF", "NOT", "EXISTS"]);
        let name = self.name()?;
        let elements = if self.parser.peek_token().token == Token::LParen {
            self.table_elements()?
        } else {
            Vec::new()
        };
        let properties = self.with_properties()?;
        if self.eat("AS") {
            if is_source {
                return Err(SqlError::parse(
                    name.pos,
                    "CREATE SOURCE STREAM|TABLE does not take AS SELECT",
                ));
            }
            if !elements.is_empty() {
                return Err(SqlError::parse(
                    name.pos,
                    "CREATE ... AS SELECT does not take a column list: the query's projection \
                     defines the columns",
                ));
            }
            let query = self.query()?;
            return Ok(Statement::CreateAsSelect(CreateAsSelect {
                kind,
                name,
                or_replace,
                if_not_exists,
                properties,
                query: Box::new(query),
            }));
        }
        Ok(Statement::CreateSource(CreateSource {
            kind,
            name,
            or_replace,
            if_not_exists,
            is_source,
            elements,
            properties,
        }))
    }

    fn table_elements(&mut self) -> Result<Vec<TableElement>> {
        self.expect_token(Token::LParen)?;
        let mut elements = Vec::new();
        loop {
            let name = self.name()?;
            let ty = parse_type(&mut self.parser).map_err(|e| self.pe(e))?;
            let constraint = if self.eat_all(&["PRIMARY", "KEY"]) {
                ColumnConstraint::PrimaryKey
            } else if self.eat("KEY") {
                ColumnConstraint::Key
            } else if self.eat("HEADERS") {
                ColumnConstraint::Headers
            } else if self.eat("HEADER") {
                self.expect_token(Token::LParen)?;
                let key = self.string()?;
                self.expect_token(Token::RParen)?;
                ColumnConstraint::Header(key)
            } else {
                ColumnConstraint::None
            };
            elements.push(TableElement {
                name,
                ty,
                constraint,
            });
            if self.parser.consume_token(&Token::RParen) {
                break;
            }
            if !self.parser.consume_token(&Token::Comma) {
                return Err(self.unexpected(&self.peek(), "',' or ')'"));
            }
        }
        Ok(elements)
    }

    fn with_properties(&mut self) -> Result<Properties> {
        let mut properties = Properties::default();
        if !self.eat("WITH") {
            return Ok(properties);
        }
        self.expect_token(Token::LParen)?;
        loop {
            let token = self.parser.next_token();
            let pos = pos_of(&token);
            let name = match &token.token {
                Token::Word(w) => w.value.to_ascii_uppercase(),
                Token::SingleQuotedString(s) => s.to_ascii_uppercase(),
                _ => return Err(self.unexpected(&token, "a property name")),
            };
            self.expect_token(Token::Eq)?;
            let value = self.property_value()?;
            properties.values.insert(name, (value, pos));
            if self.parser.consume_token(&Token::RParen) {
                break;
            }
            if !self.parser.consume_token(&Token::Comma) {
                return Err(self.unexpected(&self.peek(), "',' or ')'"));
            }
        }
        Ok(properties)
    }

    fn property_value(&mut self) -> Result<PropertyValue> {
        let negative = self.parser.consume_token(&Token::Minus);
        let token = self.parser.next_token();
        Ok(match &token.token {
            Token::SingleQuotedString(s) if !negative => PropertyValue::String(s.clone()),
            Token::Number(n, _) => {
                PropertyValue::Number(if negative { format!("-{n}") } else { n.clone() })
            }
            Token::Word(w) if w.value.eq_ignore_ascii_case("true") && !negative => {
                PropertyValue::Boolean(true)
            }
            Token::Word(w) if w.value.eq_ignore_ascii_case("false") && !negative => {
                PropertyValue::Boolean(false)
            }
            _ => return Err(self.unexpected(&token, "a string, number or boolean")),
        })
    }

    fn insert(&mut self) -> Result<Statement> {
        self.expect("INSERT")?;
        self.expect("INTO")?;
        let target = self.name()?;
        let columns = if self.parser.peek_token().token == Token::LParen {
            self.parser.next_token();
            let mut columns = Vec::new();
            loop {
                columns.push(self.name()?);
                if self.parser.consume_token(&Token::RParen) {
                    break;
                }
                self.expect_token(Token::Comma)?;
            }
            Some(columns)
        } else {
            None
        };
        if self.eat("VALUES") {
            self.expect_token(Token::LParen)?;
            let mut values = Vec::new();
            if !self.parser.consume_token(&Token::RParen) {
                loop {
                    values.push(self.expr()?);
                    if self.parser.consume_token(&Token::RParen) {
                        break;
                    }
                    self.expect_token(Token::Comma)?;
                }
            }
            return Ok(Statement::InsertValues {
                target,
                columns,
                values,
            });
        }
        if columns.is_some() {
            return Err(self.unexpected(&self.peek(), "VALUES"));
        }
        let properties = self.with_properties()?;
        let query = self.query()?;
        Ok(Statement::InsertInto {
            target,
            properties,
            query: Box::new(query),
        })
    }

    fn drop(&mut self) -> Result<Statement> {
        self.expect("DROP")?;
        if self.eat("TYPE") {
            let if_exists = self.eat_all(&["IF", "EXISTS"]);
            let name = self.name()?;
            return Ok(Statement::DropType { name, if_exists });
        }
        let kind = self.source_kind()?;
        let if_exists = self.eat_all(&["IF", "EXISTS"]);
        let name = self.name()?;
        let delete_topic = self.eat_all(&["DELETE", "TOPIC"]);
        Ok(Statement::DropSource {
            kind,
            name,
            if_exists,
            delete_topic,
        })
    }

    fn alter(&mut self) -> Result<Statement> {
        self.expect("ALTER")?;
        if self.eat("SYSTEM") {
            let name = self.string()?;
            self.expect_token(Token::Eq)?;
            let value = self.string()?;
            return Ok(Statement::AlterSystem { name, value });
        }
        let kind = self.source_kind()?;
        let name = self.name()?;
        let mut columns = Vec::new();
        loop {
            self.expect("ADD")?;
            self.eat("COLUMN");
            let column = self.name()?;
            let ty = parse_type(&mut self.parser).map_err(|e| self.pe(e))?;
            columns.push(TableElement {
                name: column,
                ty,
                constraint: ColumnConstraint::None,
            });
            if !self.parser.consume_token(&Token::Comma) {
                break;
            }
        }
        Ok(Statement::AlterSource {
            kind,
            name,
            columns,
        })
    }

    fn show(&mut self) -> Result<Statement> {
        self.parser.next_token();
        let all = self.eat("ALL");
        let token = self.peek();
        let what = word_of(&token).unwrap_or_default();
        self.parser.next_token();
        let show = match what.as_str() {
            "STREAMS" => Show::Streams {
                extended: self.eat("EXTENDED"),
            },
            "TABLES" => Show::Tables {
                extended: self.eat("EXTENDED"),
            },
            "QUERIES" => Show::Queries {
                extended: self.eat("EXTENDED"),
            },
            "TOPICS" => Show::Topics {
                all,
                extended: self.eat("EXTENDED"),
            },
            "PROPERTIES" => Show::Properties,
            "FUNCTIONS" => Show::Functions,
            "TYPES" => Show::Types,
            "VARIABLES" => Show::Variables,
            _ => {
                return Err(self.unexpected(
                    &token,
                    "STREAMS, TABLES, QUERIES, TOPICS, PROPERTIES, FUNCTIONS, TYPES or VARIABLES",
                ));
            }
        };
        Ok(Statement::Show(show))
    }

    fn describe(&mut self) -> Result<Statement> {
        self.expect("DESCRIBE")?;
        if self.eat("FUNCTION") {
            return Ok(Statement::DescribeFunction(
                self.name()?.value.to_ascii_uppercase(),
            ));
        }
        let target = if self.peek_word().as_deref() == Some("STREAMS") {
            self.parser.next_token();
            DescribeTarget::Streams
        } else if self.peek_word().as_deref() == Some("TABLES") {
            self.parser.next_token();
            DescribeTarget::Tables
        } else {
            DescribeTarget::Source(self.name()?)
        };
        let extended = self.eat("EXTENDED");
        Ok(Statement::Describe { target, extended })
    }

    fn print(&mut self) -> Result<Statement> {
        self.expect("PRINT")?;
        let token = self.parser.next_token();
        let topic = match &token.token {
            Token::Word(w) => w.value.clone(),
            Token::SingleQuotedString(s) => s.clone(),
            _ => return Err(self.unexpected(&token, "a topic name")),
        };
        let from_beginning = self.eat_all(&["FROM", "BEGINNING"]);
        let interval = if self.eat("INTERVAL") || self.eat("SAMPLE") {
            Some(self.unsigned()?)
        } else {
            None
        };
        let limit = if self.eat("LIMIT") {
            Some(self.unsigned()?)
        } else {
            None
        };
        Ok(Statement::Print {
            topic,
            from_beginning,
            interval,
            limit,
        })
    }

    fn assert(&mut self) -> Result<Statement> {
        self.expect("ASSERT")?;
        let not_exists = self.eat_all(&["NOT", "EXISTS"]);
        if !self.eat("TOPIC") {
            let at = pos_of(&self.peek());
            return Err(SqlError::parse(
                at,
                format!(
                    "Syntax error at or near '{}' at {at}\nASSERT checks a topic: ASSERT [NOT EXISTS] TOPIC name [WITH (...)] [TIMEOUT duration].",
                    self.peek_word()
                        .unwrap_or_else(|| self.peek().token.to_string())
                ),
            ));
        }
        let token = self.parser.next_token();
        let topic = match &token.token {
            Token::Word(w) => w.value.clone(),
            Token::SingleQuotedString(s) => s.clone(),
            _ => return Err(self.unexpected(&token, "a topic name")),
        };
        let properties = self.with_properties()?;
        let timeout = if self.eat("TIMEOUT") {
            Some(self.duration()?)
        } else {
            None
        };
        Ok(Statement::AssertTopic {
            topic,
            not_exists,
            properties,
            timeout,
        })
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

    fn query(&mut self) -> Result<Query> {
        let pos = self.pos();
        self.expect("SELECT")?;
        let mut select = Vec::new();
        loop {
            select.push(self.select_item()?);
            if !self.parser.consume_token(&Token::Comma) {
                break;
            }
        }
        self.expect("FROM")?;
        let from = self.relation()?;
        let window = if self.peek_word().as_deref() == Some("WINDOW") {
            self.parser.next_token();
            Some(self.window()?)
        } else {
            None
        };
        let where_clause = if self.eat("WHERE") {
            Some(self.expr()?)
        } else {
            None
        };
        let group_by = if self.eat_all(&["GROUP", "BY"]) {
            self.expr_list("GROUP BY")?
        } else {
            Vec::new()
        };
        let partition_by = if self.eat_all(&["PARTITION", "BY"]) {
            self.expr_list("PARTITION BY")?
        } else {
            Vec::new()
        };
        let having = if self.eat("HAVING") {
            Some(self.expr()?)
        } else {
            None
        };
        let refinement = if self.eat("EMIT") {
            if self.eat("CHANGES") {
                Some(Refinement::Changes)
            } else if self.eat("FINAL") {
                Some(Refinement::Final)
            } else {
                return Err(self.unexpected(&self.peek(), "CHANGES or FINAL"));
            }
        } else {
            None
        };
        let limit = if self.eat("LIMIT") {
            Some(self.unsigned()?)
        } else {
            None
        };
        Ok(Query {
            select,
            from,
            window,
            where_clause,
            group_by,
            partition_by,
            having,
            refinement,
            limit,
            pos,
        })
    }

    /// `e, e, ...` or `(e, e, ...)` (GROUP BY and PARTITION BY): ksqlDB's grammar takes
    /// value expressions there, so a bare predicate (`a AND b`, `a = b`) is a syntax error.
    fn expr_list(&mut self, clause: &str) -> Result<Vec<Expr>> {
        let start = self.pos();
        if self.parser.peek_token().token == Token::LParen
            && self.parser.peek_nth_token(1).token == Token::RParen
        {
            return Err(SqlError::semantic(format!(
                "{clause} requires at least one expression"
            )));
        }
        let first = self.value_expr()?;
        let mut exprs = match first {
            datafusion_sql::sqlparser::ast::Expr::Tuple(items) => items
                .into_iter()
                .map(|e| convert_expr(e, self.dialect))
                .collect::<Result<Vec<_>>>()?,
            other => vec![convert_expr(other, self.dialect)?],
        };
        while self.parser.consume_token(&Token::Comma) {
            let next = self.value_expr()?;
            exprs.push(convert_expr(next, self.dialect)?);
        }
        if exprs.is_empty() {
            return Err(SqlError::parse(start, "Expecting an expression"));
        }
        Ok(exprs)
    }

    /// A sqlparser expression that is not a bare predicate.
    fn value_expr(&mut self) -> Result<datafusion_sql::sqlparser::ast::Expr> {
        use datafusion_sql::sqlparser::ast::{BinaryOperator as B, Expr as E, UnaryOperator};
        let start = self.pos();
        let e = self.parser.parse_expr().map_err(|e| self.pe(e))?;
        let predicate = match &e {
            E::BinaryOp { op, .. } => matches!(
                op,
                B::And | B::Or | B::Eq | B::NotEq | B::Lt | B::LtEq | B::Gt | B::GtEq
            ),
            E::UnaryOp { op, .. } => *op == UnaryOperator::Not,
            E::InList { .. }
            | E::Between { .. }
            | E::Like { .. }
            | E::IsNull(_)
            | E::IsNotNull(_)
            | E::IsTrue(_)
            | E::IsFalse(_)
            | E::IsDistinctFrom(..)
            | E::IsNotDistinctFrom(..) => true,
            _ => false,
        };
        if predicate {
            return Err(SqlError::parse(
                start,
                format!("Expecting a value expression, found the predicate {e}"),
            ));
        }
        Ok(e)
    }

    fn select_item(&mut self) -> Result<SelectItem> {
        let token = self.peek();
        if token.token == Token::Mul {
            self.parser.next_token();
            return Ok(SelectItem::Wildcard(pos_of(&token)));
        }
        if matches!(token.token, Token::Word(_))
            && self.parser.peek_nth_token(1).token == Token::Period
            && self.parser.peek_nth_token(2).token == Token::Mul
        {
            let name = self.name()?;
            self.parser.next_token();
            self.parser.next_token();
            return Ok(SelectItem::QualifiedWildcard(name));
        }
        let expr = self.expr()?;
        if let ExprKind::Function { name, args, .. } = &expr.kind
            && name == super::expr::STRUCT_STAR
        {
            return Ok(SelectItem::StructWildcard(args[0].clone()));
        }
        let alias = if self.eat("AS") {
            Some(self.name()?)
        } else {
            match &self.peek().token {
                Token::Word(w)
                    if w.quote_style.is_some()
                        || !RESERVED.contains(&w.value.to_ascii_uppercase().as_str()) =>
                {
                    Some(self.name()?)
                }
                _ => None,
            }
        };
        Ok(SelectItem::Expr { expr, alias })
    }

    fn aliased_source(&mut self) -> Result<AliasedSource> {
        let token = self.peek();
        if self.parser.peek_nth_token(1).token == Token::LParen {
            return Err(SqlError::parse(
                pos_of(&token),
                format!(
                    "Expecting a stream or table name, found {}: table functions \
                     belong in the SELECT clause",
                    describe(&token)
                ),
            ));
        }
        let name = self.name()?;
        let alias = if self.eat("AS") {
            Some(self.name()?)
        } else {
            match &self.peek().token {
                Token::Word(w)
                    if w.quote_style.is_some()
                        || !RESERVED.contains(&w.value.to_ascii_uppercase().as_str()) =>
                {
                    Some(self.name()?)
                }
                _ => None,
            }
        };
        Ok(AliasedSource { name, alias })
    }

    fn relation(&mut self) -> Result<Relation> {
        let source = self.aliased_source()?;
        let mut joins = Vec::new();
        loop {
            let pos = self.pos();
            let kind = if self.eat("JOIN") || self.eat_all(&["INNER", "JOIN"]) {
                JoinKind::Inner
            } else if self.peek_word().as_deref() == Some("LEFT") {
                self.parser.next_token();
                self.eat("OUTER");
                self.expect("JOIN")?;
                JoinKind::Left
            } else if self.peek_word().as_deref() == Some("RIGHT") {
                self.parser.next_token();
                self.eat("OUTER");
                self.expect("JOIN")?;
                JoinKind::Right
            } else if self.peek_word().as_deref() == Some("FULL") {
                self.parser.next_token();
                self.eat("OUTER");
                self.expect("JOIN")?;
                JoinKind::Full
            } else {
                break;
            };
            let source = self.aliased_source()?;
            let within = if self.eat("WITHIN") {
                Some(self.within()?)
            } else {
                None
            };
            self.expect("ON")?;
            let on = self.expr()?;
            joins.push(Join {
                kind,
                source,
                within,
                on,
                pos,
            });
        }
        Ok(Relation { source, joins })
    }

    fn within(&mut self) -> Result<WithinExpr> {
        let (before, after) = if self.parser.consume_token(&Token::LParen) {
            let before = self.duration()?;
            self.expect_token(Token::Comma)?;
            let after = self.duration()?;
            self.expect_token(Token::RParen)?;
            (before, after)
        } else {
            let d = self.duration()?;
            (d, d)
        };
        let grace = self.grace()?;
        Ok(WithinExpr {
            before,
            after,
            grace,
        })
    }

    fn grace(&mut self) -> Result<Option<Duration>> {
        if self.eat_all(&["GRACE", "PERIOD"]) {
            Ok(Some(self.duration()?))
        } else {
            Ok(None)
        }
    }

    fn window(&mut self) -> Result<WindowExpr> {
        // An optional window name (`WINDOW w TUMBLING (...)`) is accepted and ignored.
        if !matches!(
            self.peek_word().as_deref(),
            Some("TUMBLING" | "HOPPING" | "SESSION")
        ) && matches!(
            self.peek_nth_word(1).as_deref(),
            Some("TUMBLING" | "HOPPING" | "SESSION")
        ) {
            self.parser.next_token();
        }
        let token = self.parser.next_token();
        let kind = word_of(&token).unwrap_or_default();
        self.expect_token(Token::LParen)?;
        let window = match kind.as_str() {
            "TUMBLING" => {
                self.expect("SIZE")?;
                let size = self.duration()?;
                let (retention, grace) = self.window_options()?;
                WindowExpr::Tumbling {
                    size,
                    retention,
                    grace,
                }
            }
            "HOPPING" => {
                self.expect("SIZE")?;
                let size = self.duration()?;
                self.expect_token(Token::Comma)?;
                self.expect("ADVANCE")?;
                self.expect("BY")?;
                let advance = self.duration()?;
                let (retention, grace) = self.window_options()?;
                WindowExpr::Hopping {
                    size,
                    advance,
                    retention,
                    grace,
                }
            }
            "SESSION" => {
                let gap = self.duration()?;
                let (retention, grace) = self.window_options()?;
                WindowExpr::Session {
                    gap,
                    retention,
                    grace,
                }
            }
            _ => return Err(self.unexpected(&token, "TUMBLING, HOPPING or SESSION")),
        };
        self.expect_token(Token::RParen)?;
        Ok(window)
    }

    /// `[, RETENTION n unit] [, GRACE PERIOD n unit]`.
    fn window_options(&mut self) -> Result<(Option<Duration>, Option<Duration>)> {
        let mut retention = None;
        let mut grace = None;
        while self.parser.consume_token(&Token::Comma) {
            if self.eat("RETENTION") {
                retention = Some(self.duration()?);
            } else if let Some(g) = self.grace()? {
                grace = Some(g);
            } else {
                return Err(self.unexpected(&self.peek(), "RETENTION or GRACE PERIOD"));
            }
        }
        Ok((retention, grace))
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
