//! The type grammar: `BOOLEAN`, `INT`/`INTEGER`, `BIGINT`, `DOUBLE`, `DECIMAL(p, s)`,
//! `STRING`/`VARCHAR`, `BYTES`, `TIMESTAMP`, `DATE`, `TIME`, `ARRAY<T>`, `MAP<K, V>`,
//! `STRUCT<name T, ...>` and names of types made by `CREATE TYPE`.

use datafusion_sql::sqlparser::parser::{Parser, ParserError};
use datafusion_sql::sqlparser::tokenizer::Token;

use super::ast::{AstType, Name};
use super::pos_of;

/// Parses a type at the parser's position.
pub(crate) fn parse_type(parser: &mut Parser) -> Result<AstType, ParserError> {
    let mut p = TypeParser { pending_gt: 0 };
    let ty = p.parse(parser)?;
    if p.pending_gt > 0 {
        let found = parser.peek_token();
        return parser.expected("a type", found);
    }
    Ok(ty)
}

/// Nested generics end in `>>`, which the tokenizer reads as one shift token: the parser
/// counts the second `>` as pending for the enclosing type.
struct TypeParser {
    pending_gt: usize,
}

impl TypeParser {
    fn expect_gt(&mut self, parser: &mut Parser) -> Result<(), ParserError> {
        if self.pending_gt > 0 {
            self.pending_gt -= 1;
            return Ok(());
        }
        let token = parser.next_token();
        match token.token {
            Token::Gt => Ok(()),
            Token::ShiftRight => {
                self.pending_gt += 1;
                Ok(())
            }
            _ => parser.expected("'>'", token),
        }
    }

    fn parse(&mut self, parser: &mut Parser) -> Result<AstType, ParserError> {
        let token = parser.next_token();
        let word = match &token.token {
            Token::Word(w) => w.clone(),
            _ => return parser.expected("a type", token),
        };
        if word.quote_style.is_some() {
            return Ok(AstType::Named(Name::new(word.value, pos_of(&token))));
        }
        let upper = word.value.to_ascii_uppercase();
        let simple = !matches!(
            upper.as_str(),
            "DECIMAL" | "ARRAY" | "MAP" | "STRUCT" | "NULL"
        );
        if simple && parser.peek_token_ref().token == Token::LParen {
            skip_type_parameters(parser)?;
        }
        Ok(match upper.as_str() {
            "BOOLEAN" => AstType::Boolean,
            "INT" | "INTEGER" => AstType::Int,
            "BIGINT" => AstType::BigInt,
            "DOUBLE" => AstType::Double,
            "STRING" => AstType::String,
            "VARCHAR" => AstType::String,
            "BYTES" => AstType::Bytes,
            "TIMESTAMP" => AstType::Timestamp,
            "DATE" => AstType::Date,
            "TIME" => AstType::Time,
            "DECIMAL" => {
                parser.expect_token(&Token::LParen)?;
                let precision = parser.parse_literal_uint()?;
                parser.expect_token(&Token::Comma)?;
                let scale = parser.parse_literal_uint()?;
                parser.expect_token(&Token::RParen)?;
                AstType::Decimal(
                    u32::try_from(precision).unwrap_or(u32::MAX),
                    u32::try_from(scale).unwrap_or(u32::MAX),
                )
            }
            "ARRAY" => {
                parser.expect_token(&Token::Lt)?;
                let element = self.parse(parser)?;
                self.expect_gt(parser)?;
                AstType::Array(Box::new(element))
            }
            "MAP" => {
                parser.expect_token(&Token::Lt)?;
                let key = self.parse(parser)?;
                parser.expect_token(&Token::Comma)?;
                let value = self.parse(parser)?;
                self.expect_gt(parser)?;
                AstType::Map(Box::new(key), Box::new(value))
            }
            "STRUCT" => {
                parser.expect_token(&Token::Lt)?;
                let mut fields = Vec::new();
                if parser.peek_token_ref().token == Token::Gt {
                    parser.next_token();
                } else {
                    loop {
                        let name = parser.parse_identifier()?;
                        let name = super::ident_name(&name);
                        let ty = self.parse(parser)?;
                        fields.push((name, ty));
                        if self.pending_gt > 0 {
                            self.pending_gt -= 1;
                            break;
                        }
                        let next = parser.next_token();
                        match next.token {
                            Token::Comma => continue,
                            Token::Gt => break,
                            Token::ShiftRight => {
                                self.pending_gt += 1;
                                break;
                            }
                            _ => return parser.expected("',' or '>'", next),
                        }
                    }
                }
                AstType::Struct(fields)
            }
            "NULL" => return parser.expected("a type", token),
            _ => AstType::Named(Name::new(upper, pos_of(&token))),
        })
    }
}

/// ksqlDB's grammar lets a base type take parameters, `VARCHAR(10)` or `VARCHAR(STRING)`,
/// which its type factory ignores: so does Eddy.
fn skip_type_parameters(parser: &mut Parser) -> Result<(), ParserError> {
    parser.next_token();
    loop {
        let token = parser.next_token();
        let is_parameter = match &token.token {
            Token::Number(n, _) => n.chars().all(|c| c.is_ascii_digit()),
            Token::Word(w) => w.quote_style.is_none() && w.value.eq_ignore_ascii_case("STRING"),
            _ => false,
        };
        if !is_parameter {
            return parser.expected("{'STRING', INTEGER_VALUE}", token);
        }
        let next = parser.next_token();
        match next.token {
            Token::Comma => continue,
            Token::RParen => return Ok(()),
            _ => return parser.expected("{',', ')'}", next),
        }
    }
}
