//! The commands: SHOW / LIST, DESCRIBE, PRINT and ASSERT.

use datafusion_sql::sqlparser::tokenizer::Token;

use crate::error::{Result, SqlError};
use crate::parser::ast::*;
use crate::parser::pos_of;

use super::{StatementParser, word_of};

impl StatementParser<'_> {
    pub(super) fn show(&mut self) -> Result<Statement> {
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

    pub(super) fn describe(&mut self) -> Result<Statement> {
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

    pub(super) fn print(&mut self) -> Result<Statement> {
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

    pub(super) fn assert(&mut self) -> Result<Statement> {
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
}
