//! `format.csvParse` and `format.csvStringify`.
//!
//! With a header, every row must have as many fields as the header; without one, rows may
//! differ in length. Fields are text both ways: parsing does not guess numbers, and writing
//! writes numbers and booleans out, null as an empty field, lists and objects as JSON.

use serde_json::{Map, Value};

use super::super::inputs::kind;
use super::{scalar_text, ActionError, Inputs};

pub(super) fn parse(inputs: &Inputs) -> Result<Value, ActionError> {
    let text = inputs.text("text")?;
    let delimiter = delimiter(inputs)?;
    let has_header = inputs.flag("hasHeader", true)?;
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(!has_header)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record
            .map_err(|error| ActionError::input("text", format!("is not valid CSV: {error}")))?;
        rows.push(record.iter().map(str::to_string).collect::<Vec<_>>());
    }
    if !has_header {
        let lists = rows
            .into_iter()
            .map(|row| row.into_iter().map(Value::from).collect());
        return Ok(Value::Array(lists.map(Value::Array).collect()));
    }
    let mut rows = rows.into_iter();
    let header = rows.next().unwrap_or_default();
    let records = rows.map(|row| record(&header, row)).collect();
    Ok(Value::Array(records))
}

/// A row as an object keyed by the header's names (rows have as many fields as the header).
fn record(header: &[String], row: Vec<String>) -> Value {
    let fields: Map<String, Value> = header
        .iter()
        .cloned()
        .zip(row.into_iter().map(Value::from))
        .collect();
    Value::Object(fields)
}

pub(super) fn stringify(inputs: &Inputs) -> Result<Value, ActionError> {
    let items = inputs.list("items")?;
    let delimiter = delimiter(inputs)?;
    let rows = match items.first() {
        None => Vec::new(),
        Some(Value::Object(_)) => object_rows(items)?,
        Some(Value::Array(_)) => list_rows(items)?,
        Some(other) => {
            return Err(ActionError::input(
                "items",
                format!("item 0 is {}, expected objects or lists", kind(other)),
            ))
        }
    };
    let mut writer = ::csv::WriterBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_writer(Vec::new());
    for row in rows {
        writer.write_record(&row).map_err(write_failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|error| write_failed(error.into_error()))?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(write_failed)
}

fn write_failed(error: impl std::fmt::Display) -> ActionError {
    ActionError::Failed(format!("could not write CSV: {error}"))
}

/// A header naming every field in the order first seen, then each object's fields under it.
fn object_rows(items: &[Value]) -> Result<Vec<Vec<String>>, ActionError> {
    let mut objects = Vec::with_capacity(items.len());
    let mut header: Map<String, Value> = Map::new();
    for (index, item) in items.iter().enumerate() {
        let object = item
            .as_object()
            .ok_or_else(|| mixed(index, item, "an object"))?;
        for name in object.keys() {
            if !header.contains_key(name) {
                header.insert(name.clone(), Value::Null);
            }
        }
        objects.push(object);
    }
    let names: Vec<String> = header.keys().cloned().collect();
    let mut rows = Vec::with_capacity(objects.len() + 1);
    for object in objects {
        let cells = names
            .iter()
            .map(|name| object.get(name).map(scalar_text).unwrap_or_default())
            .collect();
        rows.push(cells);
    }
    rows.insert(0, names);
    Ok(rows)
}

fn list_rows(items: &[Value]) -> Result<Vec<Vec<String>>, ActionError> {
    items
        .iter()
        .enumerate()
        .map(|(index, item)| match item {
            Value::Array(cells) => Ok(cells.iter().map(scalar_text).collect()),
            other => Err(mixed(index, other, "a list")),
        })
        .collect()
}

fn mixed(index: usize, item: &Value, expected: &str) -> ActionError {
    ActionError::input(
        "items",
        format!(
            "item {index} is {}, expected {expected} like the first item \
             (items are all objects or all lists)",
            kind(item)
        ),
    )
}

/// The `delimiter` input: one ASCII character other than a quote or a line break; `,` when
/// not given.
fn delimiter(inputs: &Inputs) -> Result<u8, ActionError> {
    let Some(text) = inputs.opt_text("delimiter")? else {
        return Ok(b',');
    };
    match text.as_bytes() {
        [byte] if byte.is_ascii() && !matches!(byte, b'"' | b'\n' | b'\r') => Ok(*byte),
        _ => Err(ActionError::input(
            "delimiter",
            format!("must be one ASCII character other than a quote or a line break, got `{text}`"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{call, input_error};

    #[test]
    fn csv_parse_with_a_header_gives_objects_of_text() {
        let text = "id,name\n1,\"Smith, J\"\n2,\"say \"\"hi\"\"\"\n";
        let out = call("format.csvParse", json!({ "text": text }));
        assert_eq!(
            out.unwrap(),
            json!([{"id": "1", "name": "Smith, J"}, {"id": "2", "name": "say \"hi\""}])
        );
    }

    #[test]
    fn csv_parse_without_a_header_gives_lists() {
        let text = "a;b\r\nc;d";
        let out = call(
            "format.csvParse",
            json!({"text": text, "hasHeader": false, "delimiter": ";"}),
        );
        assert_eq!(out.unwrap(), json!([["a", "b"], ["c", "d"]]));
    }

    #[test]
    fn csv_parse_without_a_header_takes_rows_of_any_length() {
        let out = call(
            "format.csvParse",
            json!({"text": "a,b\nc\n", "hasHeader": false}),
        );
        assert_eq!(out.unwrap(), json!([["a", "b"], ["c"]]));
    }

    #[test]
    fn csv_parse_of_empty_text_or_a_lone_header_is_empty() {
        assert_eq!(
            call("format.csvParse", json!({"text": ""})).unwrap(),
            json!([])
        );
        assert_eq!(
            call("format.csvParse", json!({"text": "a,b\n"})).unwrap(),
            json!([])
        );
    }

    #[test]
    fn csv_parse_refuses_rows_of_another_length_than_the_header() {
        let (input, message) = input_error(call("format.csvParse", json!({"text": "a,b\n1\n"})));
        assert_eq!(input, "text");
        assert!(message.contains("line: 2"), "{message}");
    }

    #[test]
    fn csv_delimiter_is_one_ascii_character() {
        for delimiter in [json!(""), json!(";;"), json!("é"), json!("\""), json!({})] {
            let (input, _) = input_error(call(
                "format.csvParse",
                json!({"text": "a", "delimiter": delimiter}),
            ));
            assert_eq!(input, "delimiter");
        }
        let tab = call(
            "format.csvParse",
            json!({"text": "a\tb", "delimiter": "\t", "hasHeader": false}),
        );
        assert_eq!(tab.unwrap(), json!([["a", "b"]]));
    }

    #[test]
    fn csv_parse_needs_text_and_a_boolean_has_header() {
        let (input, _) = input_error(call("format.csvParse", json!({})));
        assert_eq!(input, "text");
        let (input, _) = input_error(call(
            "format.csvParse",
            json!({"text": "a", "hasHeader": "yes"}),
        ));
        assert_eq!(input, "hasHeader");
    }

    #[test]
    fn csv_stringify_writes_objects_under_the_union_of_their_keys() {
        let items = json!([{"b": 1, "a": "x,y"}, {"c": true, "a": null}, {"a": {"k": [1]}}]);
        let out = call("format.csvStringify", json!({ "items": items }));
        assert_eq!(
            out.unwrap(),
            json!("b,a,c\n1,\"x,y\",\n,,true\n,\"{\"\"k\"\":[1]}\",\n")
        );
    }

    #[test]
    fn csv_stringify_writes_lists_as_rows_without_a_header() {
        let items = json!([["a", 1], ["b"], []]);
        let out = call(
            "format.csvStringify",
            json!({"items": items, "delimiter": "|"}),
        );
        assert_eq!(out.unwrap(), json!("a|1\nb\n\"\"\n"));
        let empty = call("format.csvStringify", json!({"items": []}));
        assert_eq!(empty.unwrap(), json!(""));
    }

    #[test]
    fn csv_stringify_output_parses_back() {
        let items = json!([{"id": "1", "note": "line\nbreak"}, {"id": "2", "note": "\"q\""}]);
        let text = call("format.csvStringify", json!({ "items": items })).unwrap();
        let back = call("format.csvParse", json!({ "text": text }));
        assert_eq!(back.unwrap(), items);
    }

    #[test]
    fn csv_stringify_items_are_all_objects_or_all_lists() {
        let (input, message) = input_error(call(
            "format.csvStringify",
            json!({"items": [{"a": 1}, [1]]}),
        ));
        assert_eq!(input, "items");
        assert!(message.contains("item 1 is a list"), "{message}");
        let (input, _) = input_error(call("format.csvStringify", json!({"items": [[1], "x"]})));
        assert_eq!(input, "items");
        let (input, _) = input_error(call("format.csvStringify", json!({"items": ["x"]})));
        assert_eq!(input, "items");
        let (input, _) = input_error(call("format.csvStringify", json!({"items": "a,b"})));
        assert_eq!(input, "items");
    }
}
