//! Java regular expressions (`java.util.regex`) on the `regex` crate: the pattern is
//! translated where the two syntaxes differ (`\d`, `\w`, `\s` are ASCII in Java, `.` stops
//! at every line terminator, `\Q..\E` quotes, POSIX `\p{Alpha}` classes, possessive
//! quantifiers), matches are found with Java's `Matcher.find` loop, and replacement strings
//! follow `Matcher.appendReplacement` (`$n`, `${name}`, `\x`).
//!
//! What the `regex` crate cannot do (look-around, back references, atomic groups) is an
//! error, which a function turns into NULL for the row: ksqlDB would have matched.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use regex::Regex;

use crate::error::{Result, SqlError};

/// Compiled patterns (or why they do not compile) by Java source.
type Cache = Mutex<HashMap<String, std::result::Result<Arc<Regex>, String>>>;

/// The cache shared by every function.
fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

const CACHE_LIMIT: usize = 1000;

/// A Java pattern compiled (cached by its source).
pub fn compile(pattern: &str) -> Result<Arc<Regex>> {
    let mut cache = cache().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(hit) = cache.get(pattern) {
        return hit.clone().map_err(SqlError::eval);
    }
    let compiled = translate(pattern).and_then(|rust| {
        Regex::new(&rust)
            .map(Arc::new)
            .map_err(|e| format!("Invalid regular expression pattern: {pattern}: {e}"))
    });
    if cache.len() >= CACHE_LIMIT {
        cache.clear();
    }
    cache.insert(pattern.to_string(), compiled.clone());
    compiled.map_err(SqlError::eval)
}

/// The number of capturing groups (`Matcher.groupCount()`).
pub fn group_count(re: &Regex) -> usize {
    re.captures_len().saturating_sub(1)
}

fn unsupported(pattern: &str, what: &str) -> String {
    format!("Invalid regular expression pattern: {pattern}: {what} is not supported")
}

/// The ASCII class a POSIX / java property name stands for (without brackets).
fn posix_class(name: &str) -> Option<&'static str> {
    Some(match name {
        "Lower" => "a-z",
        "Upper" => "A-Z",
        "ASCII" => "\\x00-\\x7F",
        "Alpha" => "a-zA-Z",
        "Digit" => "0-9",
        "Alnum" => "a-zA-Z0-9",
        "Punct" => "!-/:-@\\[-`{-\\~",
        "Graph" => "!-\\~",
        "Print" => " -\\~",
        "Blank" => " \\t",
        "Cntrl" => "\\x00-\\x1F\\x7F",
        "XDigit" => "0-9a-fA-F",
        "Space" => " \\t\\n\\x0B\\f\\r",
        _ => return None,
    })
}

/// Translates a Java pattern to the `regex` crate's syntax.
pub fn translate(pattern: &str) -> std::result::Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    let mut class_depth = 0usize;
    let mut dotall = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&n) = chars.get(i + 1) else {
                    return Err(format!(
                        "Invalid regular expression pattern: {pattern}: unexpected end of pattern"
                    ));
                };
                i += 2;
                match n {
                    'd' => out.push_str("[0-9]"),
                    'D' => out.push_str("[^0-9]"),
                    'w' => out.push_str("[a-zA-Z0-9_]"),
                    'W' => out.push_str("[^a-zA-Z0-9_]"),
                    's' => out.push_str("[ \\t\\n\\x0B\\f\\r]"),
                    'S' => out.push_str("[^ \\t\\n\\x0B\\f\\r]"),
                    'h' => out.push_str(
                        "[ \\t\\xA0\\x{1680}\\x{180e}\\x{2000}-\\x{200a}\\x{202f}\\x{205f}\\x{3000}]",
                    ),
                    'H' => out.push_str(
                        "[^ \\t\\xA0\\x{1680}\\x{180e}\\x{2000}-\\x{200a}\\x{202f}\\x{205f}\\x{3000}]",
                    ),
                    'v' => out.push_str("[\\n\\x0B\\f\\r\\x{85}\\x{2028}\\x{2029}]"),
                    'V' => out.push_str("[^\\n\\x0B\\f\\r\\x{85}\\x{2028}\\x{2029}]"),
                    'R' if class_depth == 0 => {
                        out.push_str("(?:\\r\\n|[\\n\\x0B\\f\\r\\x{85}\\x{2028}\\x{2029}])")
                    }
                    'e' => out.push_str("\\x1B"),
                    'a' => out.push_str("\\x07"),
                    'Z' if class_depth == 0 => out.push_str("\\z"),
                    '<' | '>' => out.push(n),
                    'Q' => {
                        let mut literal = String::new();
                        while i < chars.len() {
                            if chars[i] == '\\' && chars.get(i + 1) == Some(&'E') {
                                i += 2;
                                break;
                            }
                            literal.push(chars[i]);
                            i += 1;
                        }
                        out.push_str(&regex::escape(&literal));
                    }
                    'E' => {}
                    'c' => {
                        let Some(&x) = chars.get(i) else {
                            return Err(unsupported(pattern, "\\c without a character"));
                        };
                        i += 1;
                        out.push_str(&format!("\\x{{{:x}}}", (x as u32) ^ 64));
                    }
                    '0' => {
                        let mut value = 0u32;
                        let mut digits = 0;
                        while digits < 3 {
                            match chars.get(i).and_then(|c| c.to_digit(8)) {
                                Some(d) if value * 8 + d <= 0o377 => {
                                    value = value * 8 + d;
                                    digits += 1;
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        if digits == 0 {
                            return Err(unsupported(pattern, "an octal escape without digits"));
                        }
                        out.push_str(&format!("\\x{{{value:x}}}"));
                    }
                    '1'..='9' | 'k' => return Err(unsupported(pattern, "a back reference")),
                    'G' => return Err(unsupported(pattern, "\\G")),
                    'p' | 'P' => {
                        let negated = n == 'P';
                        let name: String = if chars.get(i) == Some(&'{') {
                            let end = chars[i..]
                                .iter()
                                .position(|&c| c == '}')
                                .ok_or_else(|| unsupported(pattern, "an unclosed \\p{"))?;
                            let name = chars[i + 1..i + end].iter().collect();
                            i += end + 1;
                            name
                        } else {
                            let name = chars.get(i).map(|c| c.to_string()).unwrap_or_default();
                            i += 1;
                            name
                        };
                        let bare = name
                            .strip_prefix("Is")
                            .or_else(|| name.strip_prefix("java"))
                            .unwrap_or(&name);
                        if let Some(class) = posix_class(&name) {
                            out.push_str(if negated { "[^" } else { "[" });
                            out.push_str(class);
                            out.push(']');
                        } else {
                            let rust_name = match bare {
                                "LowerCase" => "Lowercase",
                                "UpperCase" => "Uppercase",
                                "Whitespace" | "WhiteSpace" => "White_Space",
                                "Letter" => "L",
                                "Digit" => "Nd",
                                other => other,
                            };
                            out.push_str(if negated { "\\P{" } else { "\\p{" });
                            out.push_str(rust_name);
                            out.push('}');
                        }
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
                continue;
            }
            '[' => {
                class_depth += 1;
                out.push('[');
                // A '^' right after the bracket negates; keep it.
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(']');
            }
            '~' if class_depth > 0 => out.push_str("\\~"),
            '.' if class_depth == 0 => {
                if dotall {
                    out.push_str("(?s:.)");
                } else {
                    out.push_str("[^\\n\\r\\x{85}\\x{2028}\\x{2029}]");
                }
            }
            '(' if class_depth == 0 && chars.get(i + 1) == Some(&'?') => {
                let next = chars.get(i + 2).copied();
                match next {
                    Some('=') | Some('!') => return Err(unsupported(pattern, "look-ahead")),
                    Some('>') => return Err(unsupported(pattern, "an atomic group")),
                    Some('<') if matches!(chars.get(i + 3), Some('=') | Some('!')) => {
                        return Err(unsupported(pattern, "look-behind"));
                    }
                    Some('<') | Some(':') => {
                        out.push_str("(?");
                        i += 2;
                        continue;
                    }
                    _ => {
                        // Inline flags: (?flags) or (?flags:...).
                        let mut j = i + 2;
                        let mut flags = String::new();
                        let mut off = false;
                        while let Some(&f) = chars.get(j) {
                            match f {
                                '-' => {
                                    off = true;
                                    flags.push('-');
                                }
                                'i' | 'm' | 's' | 'x' => {
                                    if f == 's' {
                                        dotall = !off;
                                    }
                                    flags.push(f);
                                }
                                // UNIX_LINES, UNICODE_CASE, UNICODE_CHARACTER_CLASS.
                                'd' | 'u' | 'U' => {}
                                ')' | ':' => break,
                                _ => return Err(unsupported(pattern, "this inline flag")),
                            }
                            j += 1;
                        }
                        let end = chars.get(j).copied();
                        let flags = flags.trim_end_matches('-').to_string();
                        match end {
                            Some(')') => {
                                if !flags.is_empty() {
                                    out.push_str(&format!("(?{flags})"));
                                }
                            }
                            Some(':') => {
                                out.push_str(&format!("(?{flags}:"));
                            }
                            _ => return Err(unsupported(pattern, "an unclosed group")),
                        }
                        i = j + 1;
                        continue;
                    }
                }
            }
            '*' | '+' | '?' | '}' if class_depth == 0 => {
                out.push(c);
                // A possessive quantifier (x*+) behaves as a greedy one here.
                if chars.get(i + 1) == Some(&'+') {
                    i += 1;
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    Ok(out)
}

/// The matches `Matcher.find` reports in turn: after an empty match the search resumes
/// one character on, after any other at its end.
pub fn find_all(re: &Regex, text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while from <= text.len() {
        let Some(m) = re.find_at(text, from) else {
            break;
        };
        out.push((m.start(), m.end()));
        from = if m.start() == m.end() {
            match text[m.end()..].chars().next() {
                Some(c) => m.end() + c.len_utf8(),
                None => break,
            }
        } else {
            m.end()
        };
    }
    out
}

/// `String.replaceAll(regex, replacement)`.
pub fn replace_all(re: &Regex, text: &str, replacement: &str) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut from = 0;
    while from <= text.len() {
        let Some(caps) = re.captures_at(text, from) else {
            break;
        };
        let Some(m) = caps.get(0) else {
            break;
        };
        out.push_str(&text[last..m.start()]);
        append_replacement(re, &caps, replacement, &mut out)?;
        last = m.end();
        from = if m.start() == m.end() {
            match text[m.end()..].chars().next() {
                Some(c) => m.end() + c.len_utf8(),
                None => break,
            }
        } else {
            m.end()
        };
    }
    out.push_str(&text[last..]);
    Ok(out)
}

fn append_replacement(
    re: &Regex,
    caps: &regex::Captures<'_>,
    replacement: &str,
    out: &mut String,
) -> Result<()> {
    let chars: Vec<char> = replacement.chars().collect();
    let groups = group_count(re);
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                i += 1;
                let c = chars
                    .get(i)
                    .ok_or_else(|| SqlError::eval("character to be escaped is missing"))?;
                out.push(*c);
                i += 1;
            }
            '$' => {
                i += 1;
                let c = *chars.get(i).ok_or_else(|| {
                    SqlError::eval("Illegal group reference: group index is missing")
                })?;
                let group = if c == '{' {
                    i += 1;
                    let start = i;
                    while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                        i += 1;
                    }
                    let name: String = chars[start..i].iter().collect();
                    if name.is_empty() {
                        return Err(SqlError::eval("named capturing group has 0 length name"));
                    }
                    if chars.get(i) != Some(&'}') {
                        return Err(SqlError::eval(
                            "named capturing group is missing trailing '}'",
                        ));
                    }
                    i += 1;
                    re.capture_names()
                        .position(|n| n == Some(name.as_str()))
                        .ok_or_else(|| SqlError::eval(format!("No group with name {{{name}}}")))?
                } else {
                    let mut group = c
                        .to_digit(10)
                        .ok_or_else(|| SqlError::eval("Illegal group reference"))?
                        as usize;
                    i += 1;
                    while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                        let next = group * 10 + d as usize;
                        if next > groups {
                            break;
                        }
                        group = next;
                        i += 1;
                    }
                    if group > groups {
                        return Err(SqlError::eval(format!("No group {group}")));
                    }
                    group
                };
                if let Some(m) = caps.get(group) {
                    out.push_str(m.as_str());
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(())
}

/// `Pattern.split(input)` (limit 0): no empty leading string for a zero-width match at
/// the start, trailing empty strings removed.
pub fn split(re: &Regex, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut index = 0;
    for (start, end) in find_all(re, text) {
        if index == 0 && start == 0 && start == end {
            continue;
        }
        out.push(text[index..start].to_string());
        index = end;
    }
    if index == 0 {
        return vec![text.to_string()];
    }
    out.push(text[index..].to_string());
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_java_syntax() {
        let re = compile("\\d+").unwrap();
        assert!(!re.is_match("٣"));
        let re = compile("\\Qa.b\\E").unwrap();
        assert!(re.is_match("a.b") && !re.is_match("axb"));
        let re = compile("a.c").unwrap();
        assert!(!re.is_match("a\rc"));
        let re = compile("(?s)a.c").unwrap();
        assert!(re.is_match("a\rc"));
        assert!(compile("\\p{Alpha}+").unwrap().is_match("abc"));
        assert!(compile("(?=a)").is_err());
        assert!(compile("(a)\\1").is_err());
        assert!(compile("[a-z&&[^e]]").unwrap().is_match("d"));
    }

    #[test]
    fn find_loop_and_replacement() {
        let re = compile("a*").unwrap();
        assert_eq!(find_all(&re, "baaa"), vec![(0, 0), (1, 4), (4, 4)]);
        assert_eq!(replace_all(&re, "baaa", "-").unwrap(), "-b--");
        let re = compile("(\\w)(\\w)").unwrap();
        assert_eq!(replace_all(&re, "abcd", "$2$1").unwrap(), "badc");
        // $21 is group 2 then "1" when there is no group 21.
        assert_eq!(replace_all(&re, "ab", "$21").unwrap(), "b1");
        assert_eq!(replace_all(&re, "ab", "\\$1").unwrap(), "$1");
        assert!(replace_all(&re, "ab", "$3").is_err());
        let re = compile("(?<x>b)").unwrap();
        assert_eq!(replace_all(&re, "abc", "[${x}]").unwrap(), "a[b]c");
    }

    #[test]
    fn java_split() {
        let re = compile("").unwrap();
        assert_eq!(split(&re, "abc"), vec!["a", "b", "c"]);
        assert_eq!(split(&re, ""), vec![""]);
        let re = compile(",").unwrap();
        assert_eq!(split(&re, "a,b,,"), vec!["a", "b"]);
        assert_eq!(split(&re, ",a"), vec!["", "a"]);
        assert!(split(&re, ",,,").is_empty());
    }
}
