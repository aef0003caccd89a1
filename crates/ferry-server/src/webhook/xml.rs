//! XML bodies as JSON: an element with only text is its text; otherwise an object whose
//! attributes are `@name`, whose child elements are keys (repeated ones a list) and whose text
//! beside elements is `#text`. The document is `{ rootName: value }`.
//!
//! Written here because no small, maintained crate maps XML onto `serde_json::Value` this way;
//! `quick-xml` does the parsing.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde_json::{Map, Value};

/// One element being read.
struct Open {
    name: String,
    fields: Map<String, Value>,
    text: String,
}

impl Open {
    fn new(start: &BytesStart<'_>) -> Result<Self, String> {
        let name = String::from_utf8_lossy(start.name().as_ref()).to_string();
        let mut fields = Map::new();
        for attribute in start.attributes() {
            let attribute = attribute.map_err(|e| e.to_string())?;
            let key = format!("@{}", String::from_utf8_lossy(attribute.key.as_ref()));
            let value = attribute
                .unescape_value()
                .map_err(|e| e.to_string())?
                .to_string();
            fields.insert(key, Value::String(value));
        }
        Ok(Self {
            name,
            fields,
            text: String::new(),
        })
    }

    fn into_value(self) -> Value {
        let text = self.text.trim().to_string();
        if self.fields.is_empty() {
            return Value::String(text);
        }
        let mut fields = self.fields;
        if !text.is_empty() {
            fields.insert("#text".into(), Value::String(text));
        }
        Value::Object(fields)
    }
}

fn attach(parent: &mut Open, name: String, value: Value) {
    match parent.fields.get_mut(&name) {
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        None => {
            parent.fields.insert(name, value);
        }
    }
}

/// Parses an XML document into JSON.
pub fn to_json(text: &str) -> Result<Value, String> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("{e} at byte {}", reader.buffer_position()))?;
        match event {
            Event::Start(start) => stack.push(Open::new(&start)?),
            Event::Empty(start) => {
                let element = Open::new(&start)?;
                let (name, value) = (element.name.clone(), element.into_value());
                match stack.last_mut() {
                    Some(parent) => attach(parent, name, value),
                    None => return Ok(single(name, value)),
                }
            }
            Event::Text(text) => {
                if let Some(open) = stack.last_mut() {
                    open.text
                        .push_str(&text.unescape().map_err(|e| e.to_string())?);
                }
            }
            Event::CData(data) => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Event::End(_) => {
                let element = stack.pop().ok_or("unexpected closing tag")?;
                let (name, value) = (element.name.clone(), element.into_value());
                match stack.last_mut() {
                    Some(parent) => attach(parent, name, value),
                    None => return Ok(single(name, value)),
                }
            }
            Event::Eof => return Err("the document ends before its root element closes".into()),
            _ => {}
        }
    }
}

fn single(name: String, value: Value) -> Value {
    let mut map = Map::new();
    map.insert(name, value);
    Value::Object(map)
}
