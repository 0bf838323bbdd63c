//! How client commands print: an aligned table for people at a terminal, JSON for programs
//! (`--output` chooses), with human dates (`2027-03-01 (91 days)`, UTC); and which page of a
//! list they ask for.

use std::io::IsTerminal;

use clap::{Args, ValueEnum};
use serde_json::Value;

use crate::domain::{ExpiryStatus, Millis, days_until, format_date};

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// The server's JSON, pretty-printed.
    Json,
}

/// `--output`.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// table or json (default: table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    output: Option<Format>,
}

impl OutputArgs {
    /// The chosen format.
    pub fn format(&self) -> Format {
        self.output.unwrap_or_else(|| {
            if std::io::stdout().is_terminal() {
                Format::Table
            } else {
                Format::Json
            }
        })
    }
}

/// `--page` and `--pagesize` of the list commands.
#[derive(Debug, Args)]
pub struct PageArgs {
    /// 1-based page.
    #[arg(long)]
    page: Option<i64>,
    /// Page size, 1 to 100, or -1 for all (default: the server's).
    #[arg(long, allow_negative_numbers = true)]
    pagesize: Option<i64>,
}

impl PageArgs {
    /// The query pairs that ask for this page.
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        query.extend(self.page.map(|v| ("page", v.to_string())));
        query.extend(self.pagesize.map(|v| ("pagesize", v.to_string())));
        query
    }
}

/// Prints a list answer's items as a table `table` makes, and says so when they are not all
/// of the matches.
pub fn print_page(answer: &Value, table: fn(&[Value]) -> String) {
    let items = answer["items"].as_array().cloned().unwrap_or_default();
    println!("{}", table(&items));
    let total = answer["total"].as_i64().unwrap_or(0);
    if total > i64::try_from(items.len()).unwrap_or(i64::MAX) {
        println!("({} of {total}; see --page and --pagesize)", items.len());
    }
}

/// Prints one answer: as the one-row table `table` makes of it, or as JSON.
pub fn print_one(
    answer: &Value,
    format: Format,
    table: fn(&[Value]) -> String,
) -> anyhow::Result<()> {
    match format {
        Format::Table => println!("{}", table(std::slice::from_ref(answer))),
        Format::Json => print_json(answer)?,
    }
    Ok(())
}

/// Prints `value` as pretty JSON.
pub fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Columns padded to their widest cell, two spaces apart.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.trim_end().to_owned()
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// `2027-03-01 (91 days)`, `2026-11-25 (expired 4 days ago)`.
pub fn human_expiry(expire: Millis, now: Millis) -> String {
    let days = days_until(expire, now);
    let date = format_date(expire);
    match days {
        1 => format!("{date} (1 day)"),
        d if d > 0 => format!("{date} ({d} days)"),
        0 => format!("{date} (today)"),
        d => format!("{date} (expired {} days ago)", -d),
    }
}

/// The status word of a certificate answer: the server's `exp_status` when given, else judged
/// from `expire_time` at `now`.
pub fn status_word(item: &Value, expire: Millis, now: Millis) -> &'static str {
    item["exp_status"]
        .as_i64()
        .and_then(ExpiryStatus::from_code)
        .unwrap_or_else(|| ExpiryStatus::at(expire, now))
        .word()
}

/// A string field of an answer ("" when absent).
pub fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DAY_MS;
    use serde_json::json;

    #[test]
    fn tables_align() {
        let t = table(
            &["NAME", "ID"],
            &[
                vec!["a".to_owned(), "1".to_owned()],
                vec!["long".to_owned(), "2".to_owned()],
            ],
        );
        assert_eq!(t, "NAME  ID\na     1\nlong  2");
    }

    #[test]
    fn expiry_reads_as_a_date_and_days() {
        assert_eq!(human_expiry(91 * DAY_MS, 0), "1970-04-02 (91 days)");
        assert_eq!(human_expiry(DAY_MS, 0), "1970-01-02 (1 day)");
        assert_eq!(
            human_expiry(0, 4 * DAY_MS),
            "1970-01-01 (expired 4 days ago)"
        );
        assert_eq!(status_word(&json!({"exp_status": 2}), 0, 0), "Expiring");
        assert_eq!(status_word(&json!({}), 100 * DAY_MS, 0), "Valid");
    }
}
