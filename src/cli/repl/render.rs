//! ksqlDB's REST entities and rows as the REPL prints them: tables (comfy-table) for
//! listings and descriptions, the message for statements that changed something, the
//! error's message for failures.

use comfy_table::{ContentArrangement, Table, presets};
use serde_json::Value;

/// A table fitted to the terminal's width (`COLUMNS` wins); unwrapped when the width is
/// unknown or too small to be a real one (a pseudo-terminal of size 0).
fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::ASCII_FULL_CONDENSED)
        .set_header(header.iter().copied());
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<u16>().ok());
    match columns.or_else(|| table.width()) {
        Some(width) if width >= 40 => {
            table
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_width(width);
        }
        _ => {
            table.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    table
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn items<'v>(entity: &'v Value, field: &str) -> &'v [Value] {
    entity[field].as_array().map_or(&[], Vec::as_slice)
}

/// A type from a `SchemaInfo` tree, as ksqlDB prints it.
fn schema_text(schema: &Value) -> String {
    let base = schema["type"].as_str().unwrap_or("?");
    match base {
        "ARRAY" => format!("ARRAY<{}>", schema_text(&schema["memberSchema"])),
        "MAP" => format!("MAP<STRING, {}>", schema_text(&schema["memberSchema"])),
        "STRUCT" => {
            let fields: Vec<String> = items(schema, "fields")
                .iter()
                .map(|f| format!("{} {}", text(&f["name"]), schema_text(&f["schema"])))
                .collect();
            format!("STRUCT<{}>", fields.join(", "))
        }
        "DECIMAL" => format!(
            "DECIMAL({}, {})",
            schema["parameters"]["precision"], schema["parameters"]["scale"]
        ),
        other => other.to_string(),
    }
}

fn describe_source(d: &Value) -> String {
    let mut out = format!(
        "Name                 : {}\nType                 : {}\nKafka topic          : {}\n\
         Key format           : {}\nValue format         : {}\n",
        text(&d["name"]),
        text(&d["type"]),
        text(&d["topic"]),
        text(&d["keyFormat"]),
        text(&d["valueFormat"]),
    );
    if let Some(w) = d["windowType"].as_str() {
        out.push_str(&format!("Window type          : {w}\n"));
    }
    let mut fields = table(&["Field", "Type"]);
    for f in items(d, "fields") {
        let mut ty = schema_text(&f["schema"]);
        match f["type"].as_str() {
            Some("KEY") if d["type"] == "TABLE" => ty.push_str(" (primary key)"),
            Some("KEY") => ty.push_str(" (key)"),
            Some("HEADER") => ty.push_str(" (header)"),
            _ => {}
        }
        fields.add_row([text(&f["name"]), ty]);
    }
    out.push_str(&fields.to_string());
    for (title, field) in [
        ("Queries that read from this", "readQueries"),
        ("Queries that write to this", "writeQueries"),
    ] {
        let ids: Vec<String> = items(d, field).iter().map(|q| text(&q["id"])).collect();
        if !ids.is_empty() {
            out.push_str(&format!("\n{title}: {}", ids.join(", ")));
        }
    }
    out
}

/// One entity as text.
pub fn entity(e: &Value) -> String {
    match e["@type"].as_str().unwrap_or_default() {
        "currentStatus" => format!(" {}", text(&e["commandStatus"]["message"])),
        "streams" | "tables" => {
            let (field, title) = if e["@type"] == "streams" {
                ("streams", "Stream Name")
            } else {
                ("tables", "Table Name")
            };
            let mut t = table(&[
                title,
                "Kafka Topic",
                "Key Format",
                "Value Format",
                "Windowed",
            ]);
            for s in items(e, field) {
                t.add_row([
                    text(&s["name"]),
                    text(&s["topic"]),
                    text(&s["keyFormat"]),
                    text(&s["valueFormat"]),
                    text(&s["isWindowed"]),
                ]);
            }
            t.to_string()
        }
        "queries" => {
            let mut t = table(&[
                "Query ID",
                "Query Type",
                "Status",
                "Sink Name",
                "Query String",
            ]);
            for q in items(e, "queries") {
                let sinks: Vec<String> = items(q, "sinks").iter().map(text).collect();
                t.add_row([
                    text(&q["id"]),
                    text(&q["queryType"]),
                    text(&q["state"]),
                    sinks.join(", "),
                    text(&q["queryString"]),
                ]);
            }
            t.to_string()
        }
        "kafka_topics" => {
            let mut t = table(&["Kafka Topic", "Partitions"]);
            for topic in items(e, "topics") {
                t.add_row([
                    text(&topic["name"]),
                    items(topic, "replicaInfo").len().to_string(),
                ]);
            }
            t.to_string()
        }
        "properties" => {
            let mut t = table(&["Property", "Scope", "Value"]);
            for p in items(e, "properties") {
                t.add_row([text(&p["name"]), text(&p["scope"]), text(&p["value"])]);
            }
            t.to_string()
        }
        "variables" => {
            let mut t = table(&["Variable Name", "Value"]);
            for v in items(e, "variables") {
                t.add_row([text(&v["name"]), text(&v["value"])]);
            }
            t.to_string()
        }
        "function_names" => {
            let mut t = table(&["Function Name", "Type"]);
            for f in items(e, "functions") {
                t.add_row([text(&f["name"]), text(&f["type"])]);
            }
            t.to_string()
        }
        "type_list" => {
            let mut t = table(&["Type Name", "Schema"]);
            if let Some(types) = e["types"].as_object() {
                for (name, schema) in types {
                    t.add_row([name.clone(), schema_text(schema)]);
                }
            }
            t.to_string()
        }
        "describe_function" => {
            let mut out = format!(
                "Name        : {}\nType        : {}\nDescription : {}\n",
                text(&e["name"]),
                text(&e["type"]),
                text(&e["description"])
            );
            for f in items(e, "functions") {
                out.push_str(&format!("\n    {}", text(&f["description"])));
            }
            out
        }
        "sourceDescription" => describe_source(&e["sourceDescription"]),
        "source_descriptions" => items(e, "sourceDescriptions")
            .iter()
            .map(describe_source)
            .collect::<Vec<_>>()
            .join("\n\n"),
        "queryDescription" => {
            let q = &e["queryDescription"];
            format!(
                "ID                   : {}\nSQL                  : {}\n\n\
                 Execution plan\n--------------\n{}\n\nTopology\n--------\n{}",
                text(&q["id"]),
                text(&q["statementText"]),
                text(&q["executionPlan"]),
                text(&q["topology"]),
            )
        }
        other => format!("({other}) {e}"),
    }
}

/// An error body as text.
pub fn error(e: &Value) -> String {
    e["message"]
        .as_str()
        .map_or_else(|| e.to_string(), str::to_string)
}

/// An error body as text, followed by the line of `statement` it points at (`line 2:9:`
/// or `Line: 2, Col: 9:` in its message, 1-based) with a caret under the column.
pub fn error_in(e: &Value, statement: &str) -> String {
    let message = error(e);
    let Some((line, column)) = position(&message) else {
        return message;
    };
    let Some(text) = statement.lines().nth(line.saturating_sub(1)) else {
        return message;
    };
    let pad: String = text
        .chars()
        .take(column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    format!("{message}\n{text}\n{pad}^")
}

/// The 1-based line and column an engine error names.
fn position(message: &str) -> Option<(usize, usize)> {
    let number = |s: &str| -> Option<usize> {
        let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let lower = message.to_ascii_lowercase();
    if let Some(at) = lower.find("line: ") {
        let rest = &message[at + 6..];
        let line = number(rest)?;
        let col = rest.find("Col: ")?;
        return Some((line, number(&rest[col + 5..])?));
    }
    let at = lower.find("line ")?;
    let rest = &message[at + 5..];
    let line = number(rest)?;
    let rest = rest.strip_prefix(&line.to_string())?.strip_prefix(':')?;
    Some((line, number(rest)?))
}

/// A row's cells as text.
pub fn cells(row: &Value) -> Vec<String> {
    row.as_array()
        .map(|cells| cells.iter().map(text).collect())
        .unwrap_or_default()
}

/// Prints rows as they come, in a grid as wide as the terminal allows: a header once,
/// then one line per row (cells cut to the column's width).
pub struct RowPrinter {
    widths: Vec<usize>,
}

impl RowPrinter {
    /// A printer for these columns, `total` characters wide at most.
    pub fn new(names: &[String], total: usize) -> Self {
        let columns = names.len().max(1);
        let room = total.saturating_sub(columns + 1) / columns;
        let widths = names
            .iter()
            .map(|n| n.len().max(room.clamp(8, 40)))
            .collect();
        Self { widths }
    }

    fn line(&self, cells: &[String]) -> String {
        let mut out = String::from("|");
        for (cell, width) in cells.iter().zip(&self.widths) {
            let shown: String = if cell.chars().count() > *width {
                let cut: String = cell.chars().take(width.saturating_sub(1)).collect();
                format!("{cut}…")
            } else {
                cell.clone()
            };
            out.push_str(&format!("{shown:<width$}|"));
        }
        out
    }

    fn rule(&self) -> String {
        let mut out = String::from("+");
        for width in &self.widths {
            out.push_str(&"-".repeat(*width));
            out.push('+');
        }
        out
    }

    /// The header lines.
    pub fn header(&self, names: &[String]) -> String {
        format!("{}\n{}\n{}", self.rule(), self.line(names), self.rule())
    }

    /// One row's line.
    pub fn row(&self, row: &Value) -> String {
        self.line(&cells(row))
    }

    /// The closing rule.
    pub fn footer(&self) -> String {
        self.rule()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn listings_are_tables_and_statuses_their_message() {
        let streams = json!({"@type": "streams", "streams": [
            {"name": "CLICKS", "topic": "clicks", "keyFormat": "KAFKA", "valueFormat": "JSON",
             "isWindowed": false}]});
        let shown = entity(&streams);
        assert!(shown.contains("| Stream Name | Kafka Topic |"), "{shown}");
        assert!(
            shown.contains("| CLICKS      | clicks      | KAFKA"),
            "{shown}"
        );
        let status = json!({"@type": "currentStatus",
                            "commandStatus": {"message": "Stream created"}});
        assert_eq!(entity(&status), " Stream created");
        assert_eq!(
            error(&json!({"message": "line 1:1: boom"})),
            "line 1:1: boom"
        );
    }

    #[test]
    fn errors_point_at_their_position() {
        let statement = "SELECT id,\n  v FRM s;";
        assert_eq!(
            error_in(
                &json!({"message": "line 2:9: Syntax Error\nExpecting 'FROM', found 's'"}),
                statement
            ),
            "line 2:9: Syntax Error\nExpecting 'FROM', found 's'\n  v FRM s;\n        ^"
        );
        assert_eq!(
            error_in(
                &json!({"message": "Line: 1, Col: 8: Column 'IDX' cannot be resolved."}),
                "SELECT idx FROM s;"
            ),
            "Line: 1, Col: 8: Column 'IDX' cannot be resolved.\nSELECT idx FROM s;\n       ^"
        );
        assert_eq!(
            error_in(&json!({"message": "S does not exist."}), statement),
            "S does not exist."
        );
    }

    #[test]
    fn rows_fit_their_columns() {
        let names = vec!["ID".to_string(), "NAME".to_string()];
        // Two columns share 21 characters less the three bars: 9 each.
        let printer = RowPrinter::new(&names, 21);
        assert_eq!(
            printer.header(&names).lines().nth(1),
            Some("|ID       |NAME     |")
        );
        assert_eq!(
            printer.row(&json!([1, "a name too long"])),
            "|1        |a name t…|"
        );
    }
}
