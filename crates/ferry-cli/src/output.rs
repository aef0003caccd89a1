//! Printing what commands return: lists with `--output table|json|yaml|csv`, `--columns`,
//! `--filter`, `--sort`, `--no-header`, `--extended`, and single records.

use std::io::Write;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use serde_json::{Map, Value};

/// Output formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
pub enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// JSON.
    Json,
    /// YAML.
    Yaml,
    /// Comma-separated values.
    Csv,
}

/// The options every list command takes.
#[derive(Args, Debug, Clone)]
pub struct ListOptions {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    output: Format,
    /// Only these columns, comma-separated (see --extended for all of them).
    #[arg(long, value_delimiter = ',')]
    columns: Vec<String>,
    /// Keep rows whose COLUMN contains TEXT, ignoring case: `--filter name=acme` (repeatable).
    #[arg(long, value_name = "COLUMN=TEXT")]
    filter: Vec<String>,
    /// Sort by a column; prefix with `-` for descending: `--sort -name`.
    #[arg(long, value_name = "COLUMN", allow_hyphen_values = true)]
    sort: Option<String>,
    /// Leave out the header row (table and CSV).
    #[arg(long)]
    no_header: bool,
    /// Show every column, ids included.
    #[arg(short = 'x', long)]
    extended: bool,
}

/// The options of commands that print one record.
#[derive(Args, Debug, Clone)]
pub struct ItemOptions {
    /// Output format; `table` prints the id alone, handy in scripts.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

/// A column: its key in the rows and whether it shows only with `--extended`.
pub struct Column {
    /// The key in each row (also the name used by --columns, --filter and --sort).
    pub key: &'static str,
    /// Shown only with --extended or when named in --columns.
    pub extended: bool,
}

/// A list column shown by default.
pub const fn col(key: &'static str) -> Column {
    Column {
        key,
        extended: false,
    }
}

/// A list column shown only with --extended.
pub const fn ext(key: &'static str) -> Column {
    Column {
        key,
        extended: true,
    }
}

/// A cell's text: strings as they are, lists joined with `, `, null empty.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

impl ListOptions {
    fn chosen<'a>(&self, columns: &'a [Column]) -> anyhow::Result<Vec<&'a str>> {
        if self.columns.is_empty() {
            return Ok(columns
                .iter()
                .filter(|c| self.extended || !c.extended)
                .map(|c| c.key)
                .collect());
        }
        self.columns
            .iter()
            .map(|name| find_column(columns, name.trim()))
            .collect()
    }

    fn keep(
        &self,
        columns: &[Column],
        rows: Vec<Map<String, Value>>,
    ) -> anyhow::Result<Vec<Map<String, Value>>> {
        let mut filters = Vec::new();
        for filter in &self.filter {
            let (name, text) = filter
                .split_once('=')
                .with_context(|| format!("--filter {filter:?}: expected COLUMN=TEXT"))?;
            filters.push((find_column(columns, name.trim())?, text.to_lowercase()));
        }
        Ok(rows
            .into_iter()
            .filter(|row| {
                filters
                    .iter()
                    .all(|(key, text)| cell(&row[*key]).to_lowercase().contains(text.as_str()))
            })
            .collect())
    }

    fn order(&self, columns: &[Column], rows: &mut [Map<String, Value>]) -> anyhow::Result<()> {
        let Some(sort) = &self.sort else {
            return Ok(());
        };
        let (name, descending) = match sort.strip_prefix('-') {
            Some(name) => (name, true),
            None => (sort.as_str(), false),
        };
        let key = find_column(columns, name.trim())?;
        rows.sort_by(|a, b| {
            let order = cell(&a[key])
                .to_lowercase()
                .cmp(&cell(&b[key]).to_lowercase());
            if descending {
                order.reverse()
            } else {
                order
            }
        });
        Ok(())
    }
}

fn find_column<'a>(columns: &'a [Column], name: &str) -> anyhow::Result<&'a str> {
    columns
        .iter()
        .find(|c| c.key.eq_ignore_ascii_case(name))
        .map(|c| c.key)
        .with_context(|| {
            let names: Vec<&str> = columns.iter().map(|c| c.key).collect();
            format!("unknown column {name:?}; columns are: {}", names.join(", "))
        })
}

/// Prints `rows` with the list options.
pub fn print_list(
    rows: Vec<Map<String, Value>>,
    columns: &[Column],
    options: &ListOptions,
) -> anyhow::Result<()> {
    let chosen = options.chosen(columns)?;
    let mut rows = options.keep(columns, rows)?;
    options.order(columns, &mut rows)?;
    let rows: Vec<Map<String, Value>> = rows
        .into_iter()
        .map(|row| {
            chosen
                .iter()
                .map(|key| {
                    (
                        key.to_string(),
                        row.get(*key).cloned().unwrap_or(Value::Null),
                    )
                })
                .collect()
        })
        .collect();
    let mut out = std::io::stdout().lock();
    match options.output {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?,
        Format::Yaml => write!(out, "{}", serde_yaml::to_string(&rows)?)?,
        Format::Csv => write_csv(&mut out, &chosen, &rows, !options.no_header)?,
        Format::Table => write_table(&mut out, &chosen, &rows, !options.no_header)?,
    }
    Ok(())
}

fn write_csv(
    out: &mut impl Write,
    columns: &[&str],
    rows: &[Map<String, Value>],
    header: bool,
) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    if header {
        writer.write_record(columns)?;
    }
    for row in rows {
        writer.write_record(columns.iter().map(|key| cell(&row[*key])))?;
    }
    writer.flush()?;
    Ok(())
}

fn write_table(
    out: &mut impl Write,
    columns: &[&str],
    rows: &[Map<String, Value>],
    header: bool,
) -> anyhow::Result<()> {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    if header {
        table.set_header(columns.iter().map(|c| header_text(c)));
    }
    for row in rows {
        table.add_row(columns.iter().map(|key| cell(&row[*key])));
    }
    if header || !rows.is_empty() {
        writeln!(out, "{}", table.trim_fmt())?;
    }
    Ok(())
}

/// `externalId` → `EXTERNAL ID`.
fn header_text(key: &str) -> String {
    let mut text = String::new();
    for ch in key.chars() {
        if ch.is_uppercase() && !text.is_empty() {
            text.push(' ');
        }
        text.extend(ch.to_uppercase());
    }
    text
}

/// Prints rows as they arrive (`--tail`): JSON as one object per line, YAML as items of one
/// growing list, CSV with its header once, tables as plain lines (no alignment across batches).
pub struct Stream<'a> {
    options: &'a ListOptions,
    columns: &'a [Column],
    chosen: Vec<&'a str>,
    header_due: bool,
}

impl ListOptions {
    /// A printer of rows as they arrive; `--sort` has no meaning there and is refused.
    pub fn stream<'a>(&'a self, columns: &'a [Column]) -> anyhow::Result<Stream<'a>> {
        if self.sort.is_some() {
            bail!("--sort cannot be used with --tail: lines print as they arrive");
        }
        Ok(Stream {
            chosen: self.chosen(columns)?,
            options: self,
            columns,
            header_due: !self.no_header,
        })
    }
}

impl Stream<'_> {
    /// Prints the rows that pass the filters.
    pub fn print(&mut self, rows: Vec<Map<String, Value>>) -> anyhow::Result<()> {
        let rows = self.options.keep(self.columns, rows)?;
        let mut out = std::io::stdout().lock();
        let chosen = &self.chosen;
        let pick = |row: &Map<String, Value>| -> Map<String, Value> {
            chosen
                .iter()
                .map(|key| {
                    (
                        key.to_string(),
                        row.get(*key).cloned().unwrap_or(Value::Null),
                    )
                })
                .collect()
        };
        match self.options.output {
            Format::Json => {
                for row in &rows {
                    writeln!(out, "{}", serde_json::to_string(&pick(row))?)?;
                }
            }
            Format::Yaml => {
                for row in &rows {
                    write!(out, "{}", serde_yaml::to_string(&[pick(row)])?)?;
                }
            }
            Format::Csv => {
                let picked: Vec<Map<String, Value>> = rows.iter().map(pick).collect();
                write_csv(&mut out, chosen, &picked, self.header_due)?;
                self.header_due = false;
            }
            Format::Table => {
                for row in &rows {
                    let cells: Vec<String> = chosen
                        .iter()
                        .map(|key| cell(row.get(*key).unwrap_or(&Value::Null)))
                        .collect();
                    writeln!(out, "{}", cells.join("  "))?;
                }
            }
        }
        out.flush()?;
        Ok(())
    }
}

/// Prints rows as an aligned table with headers, whatever the options (for tables inside a
/// record, such as an execution's step results).
pub fn print_table(columns: &[&str], rows: &[Map<String, Value>]) -> anyhow::Result<()> {
    write_table(&mut std::io::stdout().lock(), columns, rows, true)
}

/// Prints one record: its id alone for `table`, the whole of it otherwise.
pub fn print_item(item: &Value, options: &ItemOptions) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match options.output {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(item)?)?,
        Format::Yaml => write!(out, "{}", serde_yaml::to_string(item)?)?,
        Format::Table | Format::Csv => match item.get("id").and_then(Value::as_str) {
            Some(id) => writeln!(out, "{id}")?,
            None => bail!("the server returned no record"),
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_split_camel_case() {
        assert_eq!(header_text("externalId"), "EXTERNAL ID");
        assert_eq!(header_text("name"), "NAME");
    }

    #[test]
    fn cells_flatten_lists_and_nulls() {
        assert_eq!(cell(&serde_json::json!(["a", "b"])), "a, b");
        assert_eq!(cell(&Value::Null), "");
        assert_eq!(cell(&serde_json::json!(3)), "3");
    }
}
