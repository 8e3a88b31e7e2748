//! The data definition statements: CREATE (streams, tables, types, and their AS SELECT
//! forms), INSERT, DROP and ALTER, with their table elements and WITH properties.

use datafusion_sql::sqlparser::tokenizer::Token;

use crate::error::{Result, SqlError};
use crate::parser::ast::*;
use crate::parser::pos_of;
use crate::parser::types::parse_type;

use super::StatementParser;

impl StatementParser<'_> {
    pub(super) fn create(&mut self) -> Result<Statement> {
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

    pub(super) fn with_properties(&mut self) -> Result<Properties> {
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

    pub(super) fn insert(&mut self) -> Result<Statement> {
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

    pub(super) fn drop(&mut self) -> Result<Statement> {
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

    pub(super) fn alter(&mut self) -> Result<Statement> {
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
}
