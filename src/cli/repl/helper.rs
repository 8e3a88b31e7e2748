//! The line editor's helper: statements continue over lines until a `;` outside quotes
//! (or a REPL command), tab completion of keywords, statements, streams, tables, columns,
//! functions, topics and properties (what the session reports, refreshed after each
//! change), and syntax highlighting of keywords, strings, numbers and comments.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

/// ksqlDB's keywords, for completion and highlighting.
pub const KEYWORDS: &[&str] = &[
    "ADD",
    "ADVANCE",
    "ALL",
    "ALTER",
    "AND",
    "ARRAY",
    "AS",
    "ASSERT",
    "BEGINNING",
    "BETWEEN",
    "BIGINT",
    "BOOLEAN",
    "BY",
    "BYTES",
    "CASE",
    "CAST",
    "CHANGES",
    "COLUMN",
    "CREATE",
    "DATE",
    "DECIMAL",
    "DEFINE",
    "DELETE",
    "DESCRIBE",
    "DISTINCT",
    "DOUBLE",
    "DROP",
    "ELSE",
    "EMIT",
    "END",
    "ESCAPE",
    "EXISTS",
    "EXPLAIN",
    "EXTENDED",
    "FALSE",
    "FINAL",
    "FROM",
    "FULL",
    "FUNCTION",
    "FUNCTIONS",
    "GRACE",
    "GROUP",
    "HAVING",
    "HEADER",
    "HEADERS",
    "HOPPING",
    "IF",
    "IN",
    "INNER",
    "INSERT",
    "INT",
    "INTEGER",
    "INTERVAL",
    "INTO",
    "IS",
    "JOIN",
    "KEY",
    "LEFT",
    "LIKE",
    "LIMIT",
    "LIST",
    "MAP",
    "NOT",
    "NULL",
    "ON",
    "OR",
    "OUTER",
    "PARTITION",
    "PAUSE",
    "PERIOD",
    "PRIMARY",
    "PRINT",
    "PROPERTIES",
    "QUERIES",
    "REPLACE",
    "RESUME",
    "RETENTION",
    "RIGHT",
    "ROWOFFSET",
    "ROWPARTITION",
    "ROWTIME",
    "RUN",
    "SCRIPT",
    "SELECT",
    "SESSION",
    "SET",
    "SHOW",
    "SIZE",
    "SOURCE",
    "STREAM",
    "STREAMS",
    "STRING",
    "STRUCT",
    "TABLE",
    "TABLES",
    "TERMINATE",
    "THEN",
    "TIME",
    "TIMESTAMP",
    "TOPIC",
    "TOPICS",
    "TRUE",
    "TUMBLING",
    "TYPE",
    "TYPES",
    "UNDEFINE",
    "UNSET",
    "VALUES",
    "VARCHAR",
    "VARIABLES",
    "WHEN",
    "WHERE",
    "WINDOW",
    "WINDOWEND",
    "WINDOWSTART",
    "WITH",
    "WITHIN",
];

/// Commands of the REPL itself (no `;` needed).
pub const COMMANDS: &[&str] = &["help", "exit", "quit", "clear", "output"];

/// What the session has, for completion.
#[derive(Debug, Default, Clone)]
pub struct Names {
    /// Streams and tables.
    pub sources: BTreeSet<String>,
    /// Their columns.
    pub columns: BTreeSet<String>,
    /// Functions.
    pub functions: BTreeSet<String>,
    /// Topics.
    pub topics: BTreeSet<String>,
    /// Properties.
    pub properties: BTreeSet<String>,
}

/// The helper; `names` is shared with the REPL, which refreshes it.
pub struct SqlHelper {
    pub names: Rc<RefCell<Names>>,
    /// Whether to color (a terminal).
    pub color: bool,
}

/// Whether `input` ends inside a quote, or after its last `;` nothing but blanks and
/// comments follow (a statement is complete).
pub fn is_complete(input: &str) -> bool {
    let trimmed = input.trim();
    let command = trimmed.to_ascii_lowercase();
    let command = command.trim_end_matches(';');
    let is_command = COMMANDS.contains(&command)
        || matches!(
            command.split_whitespace().collect::<Vec<_>>()[..],
            ["output", _]
        );
    if trimmed.is_empty() || is_command {
        return true;
    }
    let mut quote: Option<char> = None;
    let mut last_meaningful = None;
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '`' | '"' => {
                    quote = Some(c);
                    last_meaningful = Some(c);
                }
                '-' if chars.peek() == Some(&'-') => {
                    for c in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                c if c.is_whitespace() => {}
                c => last_meaningful = Some(c),
            },
        }
    }
    quote.is_none() && last_meaningful == Some(';')
}

/// The word being typed at `pos`: where it starts and what it is.
fn word_at(line: &str, pos: usize) -> (usize, &str) {
    let start = line[..pos]
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '-'))
        .map_or(0, |i| i + 1);
    (start, &line[start..pos])
}

/// The keyword before the word being typed, upper-cased.
fn previous_word(line: &str, start: usize) -> String {
    line[..start]
        .trim_end_matches('\'')
        .split(|c: char| c.is_whitespace() || c == '(' || c == ',')
        .rfind(|w| !w.is_empty())
        .unwrap_or_default()
        .to_ascii_uppercase()
}

impl SqlHelper {
    /// The candidates for `word` after `previous`.
    pub fn candidates(&self, line: &str, start: usize, word: &str) -> Vec<String> {
        let names = self.names.borrow();
        let previous = previous_word(line, start);
        let in_quote = line[..start].ends_with('\'');
        let upper = word.to_ascii_uppercase();
        let matching = |set: &mut dyn Iterator<Item = &String>| -> Vec<String> {
            set.filter(|n| n.to_ascii_uppercase().starts_with(&upper))
                .cloned()
                .collect()
        };
        if in_quote && (previous == "SET" || previous == "UNSET") {
            return matching(&mut names.properties.iter());
        }
        // Where the grammar allows only a few words, offer only those.
        let only: &[&str] = match previous.as_str() {
            "SHOW" | "LIST" => &[
                "STREAMS",
                "TABLES",
                "QUERIES",
                "TOPICS",
                "PROPERTIES",
                "FUNCTIONS",
                "TYPES",
                "VARIABLES",
            ],
            "CREATE" => &["STREAM", "TABLE", "SOURCE", "TYPE", "OR"],
            "DROP" => &["STREAM", "TABLE", "TYPE"],
            "EMIT" => &["CHANGES", "FINAL"],
            "TERMINATE" => &["ALL"],
            _ => &[],
        };
        if !only.is_empty() {
            let lower = word.chars().any(|c| c.is_ascii_lowercase());
            return only
                .iter()
                .filter(|k| k.starts_with(&upper))
                .map(|k| {
                    if lower {
                        k.to_ascii_lowercase()
                    } else {
                        k.to_string()
                    }
                })
                .collect();
        }
        match previous.as_str() {
            "FROM" | "JOIN" | "INTO" | "DESCRIBE" | "STREAM" | "TABLE" | "EXISTS" => {
                let sources = matching(&mut names.sources.iter());
                if !sources.is_empty() || previous == "FROM" || previous == "JOIN" {
                    return sources;
                }
            }
            "PRINT" | "KAFKA_TOPIC" => return matching(&mut names.topics.iter()),
            "FUNCTION" => return matching(&mut names.functions.iter()),
            _ => {}
        }
        let mut out: Vec<String> = KEYWORDS
            .iter()
            .filter(|k| k.starts_with(&upper))
            .map(|k| {
                if word.chars().any(|c| c.is_ascii_lowercase()) {
                    k.to_ascii_lowercase()
                } else {
                    k.to_string()
                }
            })
            .collect();
        if start == 0 {
            out.extend(
                COMMANDS
                    .iter()
                    .filter(|c| c.starts_with(&word.to_ascii_lowercase()))
                    .map(|c| c.to_string()),
            );
        }
        out.extend(matching(&mut names.sources.iter()));
        out.extend(matching(&mut names.columns.iter()));
        out.extend(matching(&mut names.functions.iter()));
        out.dedup();
        out
    }
}

impl Completer for SqlHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, word) = word_at(line, pos);
        let pairs = self
            .candidates(line, start, word)
            .into_iter()
            .map(|c| Pair {
                display: c.clone(),
                replacement: c,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for SqlHelper {
    type Hint = String;
}

const KEYWORD: &str = "\x1b[1;34m";
const STRING: &str = "\x1b[32m";
const NUMBER: &str = "\x1b[36m";
const COMMENT: &str = "\x1b[90m";
const RESET: &str = "\x1b[0m";

/// `line` with ANSI colors: keywords, strings, numbers, comments.
pub fn highlight(line: &str) -> String {
    let mut out = String::with_capacity(line.len() * 2);
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let end = chars[i + 1..]
                .iter()
                .position(|&d| d == '\'')
                .map_or(chars.len(), |p| i + 2 + p);
            out.push_str(STRING);
            out.extend(&chars[i..end]);
            out.push_str(RESET);
            i = end;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            let end = chars[i..]
                .iter()
                .position(|&d| d == '\n')
                .map_or(chars.len(), |p| i + p);
            out.push_str(COMMENT);
            out.extend(&chars[i..end]);
            out.push_str(RESET);
            i = end;
        } else if c.is_alphabetic() || c == '_' {
            let end = chars[i..]
                .iter()
                .position(|d| !(d.is_alphanumeric() || *d == '_'))
                .map_or(chars.len(), |p| i + p);
            let word: String = chars[i..end].iter().collect();
            if KEYWORDS.contains(&word.to_ascii_uppercase().as_str()) {
                out.push_str(KEYWORD);
                out.push_str(&word);
                out.push_str(RESET);
            } else {
                out.push_str(&word);
            }
            i = end;
        } else if c.is_ascii_digit() {
            let end = chars[i..]
                .iter()
                .position(|d| !(d.is_ascii_digit() || *d == '.'))
                .map_or(chars.len(), |p| i + p);
            out.push_str(NUMBER);
            out.extend(&chars[i..end]);
            out.push_str(RESET);
            i = end;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

impl Highlighter for SqlHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if self.color {
            Cow::Owned(highlight(line))
        } else {
            Cow::Borrowed(line)
        }
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        self.color
    }
}

impl Validator for SqlHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        Ok(if is_complete(ctx.input()) {
            ValidationResult::Valid(None)
        } else {
            ValidationResult::Incomplete
        })
    }
}

impl Helper for SqlHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper() -> SqlHelper {
        let names = Names {
            sources: ["CLICKS", "CLICKS_PER_USER", "ORDERS"]
                .map(String::from)
                .into(),
            columns: ["USER_ID", "PAGE"].map(String::from).into(),
            functions: ["UCASE", "COUNT"].map(String::from).into(),
            topics: ["clicks"].map(String::from).into(),
            properties: ["auto.offset.reset"].map(String::from).into(),
        };
        SqlHelper {
            names: Rc::new(RefCell::new(names)),
            color: false,
        }
    }

    fn complete(line: &str) -> Vec<String> {
        let (start, word) = word_at(line, line.len());
        helper().candidates(line, start, word)
    }

    #[test]
    fn statements_end_at_a_semicolon_outside_quotes() {
        assert!(is_complete("SHOW STREAMS;"));
        assert!(is_complete("SHOW STREAMS; -- done"));
        assert!(is_complete("exit"));
        assert!(is_complete("output json"));
        assert!(!is_complete("output json and more"));
        assert!(!is_complete("SELECT * FROM clicks"));
        assert!(!is_complete("INSERT INTO c VALUES ('a;"));
        assert!(is_complete("INSERT INTO c VALUES ('a;');"));
    }

    #[test]
    fn completion_knows_where_it_is() {
        assert_eq!(complete("SHOW STR"), ["STREAMS"]);
        assert_eq!(complete("sel"), ["select"]);
        assert_eq!(complete("SELECT * FROM CL"), ["CLICKS", "CLICKS_PER_USER"]);
        assert_eq!(complete("SELECT UC"), ["UCASE"]);
        assert_eq!(complete("SELECT us"), ["USER_ID"]);
        assert_eq!(complete("PRINT cl"), ["clicks"]);
        assert_eq!(complete("SET 'auto"), ["auto.offset.reset"]);
        assert_eq!(
            complete("ex"),
            ["EXISTS", "EXPLAIN", "EXTENDED", "exit"].map(|s| {
                if s == "exit" {
                    s.to_string()
                } else {
                    s.to_ascii_lowercase()
                }
            })
        );
    }

    #[test]
    fn keywords_strings_and_numbers_are_colored() {
        assert_eq!(
            highlight("select 'a' from t limit 5"),
            format!(
                "{KEYWORD}select{RESET} {STRING}'a'{RESET} {KEYWORD}from{RESET} t \
                 {KEYWORD}limit{RESET} {NUMBER}5{RESET}"
            )
        );
    }
}
