//! [`KsqlDialect`]: sqlparser's hooks for the parts of ksqlDB's expression grammar that
//! generic SQL lacks. sqlparser's `Expr` has no room for ksqlDB's own constructs, so the
//! hooks encode them in variants that cannot otherwise appear, and [`super::expr`] decodes
//! them into Eddy's AST:
//!
//! - `CAST(x AS type)` with ksqlDB types (custom type names, `STRUCT<a INT>`, `MAP<K, V>`):
//!   parsed here with Eddy's type parser; the type is kept in a side table and the cast's
//!   data type names its index (`DataType::Custom(__ksql_type_N)`);
//! - `STRUCT(a := 1, ...)` becomes `Expr::Struct` of `Expr::Named`, `MAP(k := v, ...)`
//!   becomes `Expr::Map`;
//! - lambdas `x => e` and `(x, y) => e` become `Expr::Lambda`;
//! - `s->f` (struct dereference) becomes `Expr::CompoundFieldAccess` with a dot access to a
//!   `Nested` identifier (a bare identifier there is sqlparser's `source.column`), and
//!   `s->*` a `Expr::QualifiedWildcard` over it.

use std::cell::RefCell;

use datafusion_sql::sqlparser::ast::{
    AccessExpr, CastKind, DataType, Expr, Ident, LambdaFunction, LambdaFunctionParameter,
    LambdaSyntax, Map, MapEntry, ObjectName, OneOrManyWithParens,
};
use datafusion_sql::sqlparser::dialect::Dialect;
use datafusion_sql::sqlparser::keywords::Keyword;
use datafusion_sql::sqlparser::parser::{Parser, ParserError};
use datafusion_sql::sqlparser::tokenizer::Token;

use super::ast::AstType;
use super::types::parse_type;

/// The prefix of the placeholder type names that stand for ksqlDB types in casts.
pub(crate) const TYPE_PLACEHOLDER: &str = "__ksql_type_";

/// ksqlDB's lexical rules and expression extensions for sqlparser.
#[derive(Debug, Default)]
pub struct KsqlDialect {
    /// Types of the casts parsed so far, by index.
    types: RefCell<Vec<AstType>>,
}

impl KsqlDialect {
    /// The type a cast placeholder stands for.
    pub(crate) fn cast_type(&self, placeholder: &str) -> Option<AstType> {
        let index: usize = placeholder.strip_prefix(TYPE_PLACEHOLDER)?.parse().ok()?;
        self.types.borrow().get(index).cloned()
    }

    fn parse_cast(&self, parser: &mut Parser) -> Result<Expr, ParserError> {
        parser.expect_token(&Token::LParen)?;
        let expr = parser.parse_expr()?;
        parser.expect_keyword(Keyword::AS)?;
        let ty = parse_type(parser)?;
        parser.expect_token(&Token::RParen)?;
        let mut types = self.types.borrow_mut();
        let name = format!("{TYPE_PLACEHOLDER}{}", types.len());
        types.push(ty);
        Ok(Expr::Cast {
            kind: CastKind::Cast,
            expr: Box::new(expr),
            data_type: DataType::Custom(ObjectName::from(vec![Ident::new(name)]), Vec::new()),
            array: false,
            format: None,
        })
    }

    /// `STRUCT(name := value, ...)`.
    fn parse_struct(&self, parser: &mut Parser) -> Result<Expr, ParserError> {
        parser.expect_token(&Token::LParen)?;
        let mut values = Vec::new();
        if !parser.consume_token(&Token::RParen) {
            loop {
                let name = parser.parse_identifier()?;
                parser.expect_token(&Token::Assignment)?;
                let value = parser.parse_expr()?;
                values.push(Expr::Named {
                    expr: Box::new(value),
                    name,
                });
                if parser.consume_token(&Token::RParen) {
                    break;
                }
                parser.expect_token(&Token::Comma)?;
            }
        }
        Ok(Expr::Struct {
            values,
            fields: Vec::new(),
        })
    }

    /// `MAP(key := value, ...)`.
    fn parse_map(&self, parser: &mut Parser) -> Result<Expr, ParserError> {
        parser.expect_token(&Token::LParen)?;
        let mut entries = Vec::new();
        if !parser.consume_token(&Token::RParen) {
            loop {
                let key = parser.parse_expr()?;
                parser.expect_token(&Token::Assignment)?;
                let value = parser.parse_expr()?;
                entries.push(MapEntry {
                    key: Box::new(key),
                    value: Box::new(value),
                });
                if parser.consume_token(&Token::RParen) {
                    break;
                }
                parser.expect_token(&Token::Comma)?;
            }
        }
        Ok(Expr::Map(Map { entries }))
    }

    fn lambda(params: Vec<Ident>, body: Expr) -> Expr {
        let mut params: Vec<LambdaFunctionParameter> = params
            .into_iter()
            .map(|name| LambdaFunctionParameter {
                name,
                data_type: None,
            })
            .collect();
        Expr::Lambda(LambdaFunction {
            params: if params.len() == 1 {
                OneOrManyWithParens::One(params.remove(0))
            } else {
                OneOrManyWithParens::Many(params)
            },
            body: Box::new(body),
            syntax: LambdaSyntax::Arrow,
        })
    }

    /// `(a, b, ...) =>` at the parser's position: the parameter count, or `None`.
    fn lambda_params_ahead(parser: &Parser) -> Option<usize> {
        if parser.peek_token_ref().token != Token::LParen {
            return None;
        }
        let mut n = 1;
        let mut params = 0;
        loop {
            match &parser.peek_nth_token_ref(n).token {
                Token::Word(_) => params += 1,
                _ => return None,
            }
            n += 1;
            match &parser.peek_nth_token_ref(n).token {
                Token::Comma => n += 1,
                Token::RParen => break,
                _ => return None,
            }
        }
        (parser.peek_nth_token_ref(n + 1).token == Token::RArrow).then_some(params)
    }
}

impl Dialect for KsqlDialect {
    fn is_identifier_start(&self, ch: char) -> bool {
        ch.is_alphabetic() || ch == '_'
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        ch.is_alphanumeric() || ch == '_' || ch == '@' || ch == '$'
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        ch == '"' || ch == '`'
    }

    fn supports_named_fn_args_with_rarrow_operator(&self) -> bool {
        false
    }

    fn supports_lambda_functions(&self) -> bool {
        false
    }

    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        let token = parser.peek_token_ref().token.clone();
        match token {
            Token::Word(w) if w.quote_style.is_none() => {
                let next = parser.peek_nth_token_ref(1).token.clone();
                if next == Token::RArrow {
                    parser.next_token();
                    parser.next_token();
                    let body = match parser.parse_expr() {
                        Ok(body) => body,
                        Err(e) => return Some(Err(e)),
                    };
                    return Some(Ok(Self::lambda(vec![Ident::new(w.value)], body)));
                }
                if next != Token::LParen {
                    return None;
                }
                let upper = w.value.to_ascii_uppercase();
                let parse: fn(&Self, &mut Parser) -> Result<Expr, ParserError> =
                    match upper.as_str() {
                        "CAST" => Self::parse_cast,
                        "STRUCT" => Self::parse_struct,
                        "MAP" => Self::parse_map,
                        _ => return None,
                    };
                parser.next_token();
                Some(parse(self, parser))
            }
            Token::Word(w) => {
                if parser.peek_nth_token_ref(1).token == Token::RArrow {
                    parser.next_token();
                    parser.next_token();
                    let name = Ident::with_quote(w.quote_style.unwrap_or('"'), w.value);
                    return Some(
                        parser
                            .parse_expr()
                            .map(|body| Self::lambda(vec![name], body)),
                    );
                }
                None
            }
            Token::LParen => {
                Self::lambda_params_ahead(parser)?;
                parser.next_token();
                let mut params = Vec::new();
                loop {
                    match parser.parse_identifier() {
                        Ok(p) => params.push(p),
                        Err(e) => return Some(Err(e)),
                    }
                    if parser.consume_token(&Token::RParen) {
                        break;
                    }
                    parser.next_token();
                }
                parser.next_token(); // =>
                Some(parser.parse_expr().map(|body| Self::lambda(params, body)))
            }
            _ => None,
        }
    }

    fn parse_infix(
        &self,
        parser: &mut Parser,
        expr: &Expr,
        _precedence: u8,
    ) -> Option<Result<Expr, ParserError>> {
        if parser.peek_token_ref().token != Token::Arrow {
            return None;
        }
        parser.next_token();
        if parser.consume_token(&Token::Mul) {
            // `s->*`: every field of a struct, in a projection.
            return Some(
                Ok(Expr::QualifiedWildcard(
                    ObjectName::from(vec![Ident::new("__ksql_struct_star")]),
                    datafusion_sql::sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
                ))
                .map(|marker| Expr::CompoundFieldAccess {
                    root: Box::new(expr.clone()),
                    access_chain: vec![AccessExpr::Dot(marker)],
                }),
            );
        }
        let field = match parser.parse_identifier() {
            Ok(field) => field,
            Err(e) => return Some(Err(e)),
        };
        // The field is wrapped in `Nested` so that `s->f` stays apart from sqlparser's own
        // `a.b` (a qualified column in ksqlDB).
        let mut access_chain = vec![AccessExpr::Dot(Expr::Nested(Box::new(Expr::Identifier(
            field,
        ))))];
        // `s->f[i]`: subscripts right after the field (sqlparser only parses them after
        // identifiers it read itself).
        while parser.consume_token(&Token::LBracket) {
            let index = match parser.parse_expr() {
                Ok(index) => index,
                Err(e) => return Some(Err(e)),
            };
            if let Err(e) = parser.expect_token(&Token::RBracket) {
                return Some(Err(e));
            }
            access_chain.push(AccessExpr::Subscript(
                datafusion_sql::sqlparser::ast::Subscript::Index { index },
            ));
        }
        Some(Ok(Expr::CompoundFieldAccess {
            root: Box::new(expr.clone()),
            access_chain,
        }))
    }

    fn get_next_precedence(&self, parser: &Parser) -> Option<Result<u8, ParserError>> {
        match parser.peek_token_ref().token {
            // `->` binds tightest, like `.`.
            Token::Arrow => Some(Ok(100)),
            // `:=` only separates names from values in STRUCT(...) and MAP(...).
            Token::Assignment => Some(Ok(0)),
            _ => None,
        }
    }
}
