//! The query grammar: SELECT items, FROM with its joins (WITHIN), WHERE, WINDOW, GROUP BY,
//! PARTITION BY, HAVING, EMIT and LIMIT.

use std::time::Duration;

use datafusion_sql::sqlparser::tokenizer::Token;

use crate::error::{Result, SqlError};
use crate::parser::ast::*;
use crate::parser::expr::convert_expr;
use crate::parser::pos_of;

use super::{RESERVED, StatementParser, describe, word_of};

impl StatementParser<'_> {
    pub(super) fn query(&mut self) -> Result<Query> {
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
        // A clause word where an item should be (`SELECT FROM s`) is a syntax error at that
        // word, as in ksqlDB's grammar, rather than a column named FROM.
        if let Token::Word(w) = &token.token
            && w.quote_style.is_none()
            && !w.value.eq_ignore_ascii_case("NOT")
            && RESERVED.contains(&w.value.to_ascii_uppercase().as_str())
        {
            return Err(self.unexpected(&token, "an expression"));
        }
        let expr = self.expr()?;
        if let ExprKind::Function { name, args, .. } = &expr.kind
            && name == crate::parser::expr::STRUCT_STAR
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
