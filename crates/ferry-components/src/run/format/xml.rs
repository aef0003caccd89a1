//! `format.xmlParse` and `format.xmlStringify`.
//!
//! The JSON shape of an element: text alone when it has neither attributes nor child elements
//! (empty text when it holds only white space); otherwise an object with its attributes as
//! `@name`, its child elements by name (a list when a name repeats) and its text, trimmed, as
//! `#text`. A document is an object with one field, named after its root element. Comments,
//! processing instructions and the declaration are dropped; names keep their prefixes.

use quick_xml::escape::{escape, partial_escape};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde_json::{Map, Value};

use super::{scalar_text, ActionError, Inputs};

/// Elements nested deeper than this are refused when parsing, so that the result (up to two
/// JSON levels per element) stays within the 128 levels JSON readers such as serde_json take.
const MAX_PARSE_DEPTH: usize = 64;

/// Values nested deeper than this are refused when writing.
const MAX_WRITE_DEPTH: usize = 128;

/// The root element's name when `root` is not given and the value does not name one.
const DEFAULT_ROOT: &str = "root";

pub(super) fn parse(inputs: &Inputs) -> Result<Value, ActionError> {
    let text = inputs.text("text")?;
    let mut reader = Reader::from_str(&text);
    reader.config_mut().expand_empty_elements = true;
    let mut tree = Tree::default();
    loop {
        let event = reader
            .read_event()
            .map_err(|error| invalid(&text, reader.error_position(), error))?;
        let read = match event {
            Event::Start(start) => tree.start(&start),
            Event::Empty(start) => tree.start(&start).and_then(|()| tree.end()),
            Event::End(_) => tree.end(),
            Event::Text(content) => content
                .unescape()
                .map_err(|e| e.to_string())
                .map(|content| tree.text(content.into_owned())),
            Event::CData(content) => content
                .decode()
                .map_err(|e| e.to_string())
                .map(|content| tree.text(content.into_owned())),
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => Ok(()),
        };
        read.map_err(|error| invalid(&text, reader.buffer_position(), error))?;
    }
    tree.document()
        .map_err(|error| invalid(&text, text.len() as u64, error))?
        .ok_or_else(|| ActionError::input("text", "holds no XML element"))
}

/// The elements read so far.
#[derive(Default)]
struct Tree {
    open: Vec<Element>,
    root: Option<(String, Value)>,
}

impl Tree {
    fn start(&mut self, start: &BytesStart) -> Result<(), String> {
        if self.open.len() >= MAX_PARSE_DEPTH {
            return Err(format!("elements nest deeper than {MAX_PARSE_DEPTH}"));
        }
        if self.open.is_empty() && self.root.is_some() {
            return Err("a second root element".to_string());
        }
        let element = Element::open(start).map_err(|error| error.to_string())?;
        self.open.push(element);
        Ok(())
    }

    fn end(&mut self) -> Result<(), String> {
        let element = self.open.pop().ok_or("an end tag that closes nothing")?;
        let (name, value) = element.close();
        match self.open.last_mut() {
            Some(parent) => parent.add_child(name, value),
            None => self.root = Some((name, value)),
        }
        Ok(())
    }

    /// Text outside the root element is dropped.
    fn text(&mut self, content: String) {
        if let Some(element) = self.open.last_mut() {
            element.text.push(content);
        }
    }

    /// The document, `{ rootName: value }`, if it has a root.
    fn document(self) -> Result<Option<Value>, String> {
        if let Some(unclosed) = self.open.last() {
            return Err(format!("`<{}>` is never closed", unclosed.name));
        }
        Ok(self.root.map(|(name, value)| {
            let mut document = Map::new();
            document.insert(name, value);
            Value::Object(document)
        }))
    }
}

/// An input error naming `text`, with the line and column of byte `at`.
fn invalid(text: &str, at: u64, error: impl std::fmt::Display) -> ActionError {
    let at = usize::try_from(at).unwrap_or(usize::MAX).min(text.len());
    let before = String::from_utf8_lossy(&text.as_bytes()[..at]);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    ActionError::input(
        "text",
        format!("is not valid XML at line {line}, column {column}: {error}"),
    )
}

/// An element being read.
struct Element {
    name: String,
    fields: Map<String, Value>,
    text: Vec<String>,
}

impl Element {
    fn open(start: &BytesStart) -> Result<Self, quick_xml::Error> {
        let mut fields = Map::new();
        for attribute in start.attributes() {
            let attribute = attribute?;
            let name = String::from_utf8_lossy(attribute.key.as_ref());
            let value = attribute.unescape_value()?;
            fields.insert(format!("@{name}"), Value::String(value.into_owned()));
        }
        Ok(Element {
            name: String::from_utf8_lossy(start.name().as_ref()).into_owned(),
            fields,
            text: Vec::new(),
        })
    }

    fn add_child(&mut self, name: String, value: Value) {
        match self.fields.get_mut(&name) {
            // Element values are never lists, so a list here holds repeated elements.
            Some(Value::Array(repeated)) => repeated.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
            None => {
                self.fields.insert(name, value);
            }
        }
    }

    fn close(mut self) -> (String, Value) {
        let text = self.text.concat();
        if self.fields.is_empty() {
            let text = if text.trim().is_empty() {
                String::new()
            } else {
                text
            };
            return (self.name, Value::String(text));
        }
        let pieces: Vec<&str> = self
            .text
            .iter()
            .map(|piece| piece.trim())
            .filter(|piece| !piece.is_empty())
            .collect();
        if !pieces.is_empty() {
            self.fields
                .insert("#text".to_string(), Value::String(pieces.join(" ")));
        }
        (self.name, Value::Object(self.fields))
    }
}

pub(super) fn stringify(inputs: &Inputs) -> Result<Value, ActionError> {
    let value = inputs.required("value")?;
    let (root, content) = match inputs.opt_text("root")? {
        Some(root) if is_name(&root) => (root, value),
        Some(root) => {
            return Err(ActionError::input(
                "root",
                format!("`{root}` is not an XML element name"),
            ))
        }
        None => named_root(value),
    };
    if content.is_array() {
        return Err(ActionError::input(
            "value",
            "is a list, which cannot be the root element's content; \
             wrap it in an object naming its elements, like { \"item\": [ … ] }",
        ));
    }
    let mut out = String::new();
    Writer { out: &mut out }.element(&root, content, 0)?;
    Ok(Value::String(out))
}

/// The root of a value as `xmlParse` gives it (an object with one field, whose name is an
/// element name), else `root` around the whole value.
fn named_root(value: &Value) -> (String, &Value) {
    if let Some(fields) = value.as_object().filter(|fields| fields.len() == 1) {
        if let Some((name, content)) = fields.iter().next().filter(|(name, _)| is_name(name)) {
            return (name.clone(), content);
        }
    }
    (DEFAULT_ROOT.to_string(), value)
}

/// Writes XML elements into `out`.
struct Writer<'a> {
    out: &'a mut String,
}

impl Writer<'_> {
    fn element(&mut self, name: &str, value: &Value, depth: usize) -> Result<(), ActionError> {
        if depth >= MAX_WRITE_DEPTH {
            return Err(ActionError::input(
                "value",
                format!("nests deeper than {MAX_WRITE_DEPTH}"),
            ));
        }
        match value {
            Value::Array(items) => {
                for item in items {
                    self.element(name, item, depth + 1)?;
                }
            }
            Value::Object(fields) => self.object(name, fields, depth)?,
            scalar => {
                let text = scalar_text(scalar);
                self.out.push('<');
                self.out.push_str(name);
                if text.is_empty() {
                    self.out.push_str("/>");
                } else {
                    self.out.push('>');
                    self.text(&text)?;
                    self.end(name);
                }
            }
        }
        Ok(())
    }

    fn object(
        &mut self,
        name: &str,
        fields: &Map<String, Value>,
        depth: usize,
    ) -> Result<(), ActionError> {
        self.out.push('<');
        self.out.push_str(name);
        let mut has_content = false;
        for (key, value) in fields {
            match key.strip_prefix('@') {
                Some(attribute) => self.attribute(attribute, value)?,
                None => has_content = true,
            }
        }
        if !has_content {
            self.out.push_str("/>");
            return Ok(());
        }
        self.out.push('>');
        for (key, value) in fields {
            if key == "#text" {
                self.text(&scalar_text(value))?;
            } else if !key.starts_with('@') {
                if !is_name(key) {
                    return Err(bad_name(key));
                }
                self.element(key, value, depth + 1)?;
            }
        }
        self.end(name);
        Ok(())
    }

    fn attribute(&mut self, name: &str, value: &Value) -> Result<(), ActionError> {
        if !is_name(name) {
            return Err(bad_name(&format!("@{name}")));
        }
        let value = scalar_text(value);
        check_characters(&value)?;
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push_str("=\"");
        self.out.push_str(&escape(value.as_str()));
        self.out.push('"');
        Ok(())
    }

    fn end(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    fn text(&mut self, text: &str) -> Result<(), ActionError> {
        check_characters(text)?;
        self.out.push_str(&partial_escape(text));
        Ok(())
    }
}

/// Refuses control characters, which XML 1.0 cannot hold even escaped.
fn check_characters(text: &str) -> Result<(), ActionError> {
    match text
        .chars()
        .find(|c| *c < ' ' && !matches!(c, '\t' | '\n' | '\r'))
    {
        Some(c) => Err(ActionError::input(
            "value",
            format!(
                "holds the control character U+{:04X}, which XML cannot hold",
                c as u32
            ),
        )),
        None => Ok(()),
    }
}

fn bad_name(name: &str) -> ActionError {
    ActionError::input(
        "value",
        format!("holds the field `{name}`, which is not an XML name"),
    )
}

/// Whether `name` is an XML name: a letter, `_` or `:`, then letters, digits, `_`, `:`, `-`
/// or `.`.
fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | ':' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{call, input_error};

    #[test]
    fn xml_parse_gives_an_object_named_after_the_root() {
        let text = r#"<?xml version="1.0"?>
            <order id="7" xmlns:x="urn:x">
              <!-- a comment -->
              <item sku="a">Apple &amp; pear</item>
              <item sku="b"/>
              <note>  fresh  </note>
              <x:empty></x:empty>
              <blank>
              </blank>
            </order>"#;
        let out = call("format.xmlParse", json!({ "text": text }));
        assert_eq!(
            out.unwrap(),
            json!({"order": {
                "@id": "7",
                "@xmlns:x": "urn:x",
                "item": [{"@sku": "a", "#text": "Apple & pear"}, {"@sku": "b"}],
                "note": "  fresh  ",
                "x:empty": "",
                "blank": "",
            }})
        );
    }

    #[test]
    fn xml_parse_keeps_mixed_text_and_cdata() {
        let text = "<p>Hello <b>you</b> there<![CDATA[ <raw> ]]></p>";
        let out = call("format.xmlParse", json!({ "text": text }));
        assert_eq!(
            out.unwrap(),
            json!({"p": {"b": "you", "#text": "Hello there <raw>"}})
        );
        let out = call(
            "format.xmlParse",
            json!({"text": "<a>x<![CDATA[<y>]]></a>"}),
        );
        assert_eq!(out.unwrap(), json!({"a": "x<y>"}));
    }

    #[test]
    fn xml_parse_errors_name_the_text_line_and_column() {
        let (input, message) = input_error(call(
            "format.xmlParse",
            json!({"text": "<a>\n  <b></c>\n</a>"}),
        ));
        assert_eq!(input, "text");
        assert!(message.contains("line 2"), "{message}");
        for text in [
            "",
            "just text",
            "<a>",
            "<a></a><b></b>",
            "<a x='1' x='2'/>",
            "<a>&nope;</a>",
        ] {
            let (input, _) = input_error(call("format.xmlParse", json!({ "text": text })));
            assert_eq!(input, "text", "{text}");
        }
    }

    #[test]
    fn xml_parse_refuses_nesting_too_deep() {
        // The deepest JSON: every element a list item, from an element repeated at each level.
        let text = "<a>".repeat(63) + "<a/>" + &"<a/></a>".repeat(63);
        let parsed = call("format.xmlParse", json!({ "text": text })).unwrap();
        assert!(serde_json::from_str::<serde_json::Value>(&parsed.to_string()).is_ok());
        let text = "<a>".repeat(10_000) + &"</a>".repeat(10_000);
        let (input, message) = input_error(call("format.xmlParse", json!({ "text": text })));
        assert_eq!(input, "text");
        assert!(message.contains("deeper"), "{message}");
    }

    #[test]
    fn xml_stringify_writes_the_reverse_of_parse() {
        let text =
            r#"<order id="7"><item sku="a">Apple &amp; pear</item><item sku="b"/><n>2</n></order>"#;
        let parsed = call("format.xmlParse", json!({ "text": text })).unwrap();
        let written = call("format.xmlStringify", json!({ "value": parsed }));
        assert_eq!(written.unwrap(), json!(text));
    }

    #[test]
    fn xml_stringify_wraps_other_values_in_root() {
        let value = json!({"a": 1, "b": [true, null], "c": {"@k": "q\"<", "#text": "t"}});
        let out = call("format.xmlStringify", json!({ "value": value }));
        assert_eq!(
            out.unwrap(),
            json!(r#"<root><a>1</a><b>true</b><b/><c k="q&quot;&lt;">t</c></root>"#)
        );
        let out = call("format.xmlStringify", json!({"value": "x", "root": "msg"}));
        assert_eq!(out.unwrap(), json!("<msg>x</msg>"));
        let out = call(
            "format.xmlStringify",
            json!({"value": {"only": 1}, "root": "r"}),
        );
        assert_eq!(out.unwrap(), json!("<r><only>1</only></r>"));
    }

    #[test]
    fn xml_stringify_refuses_what_xml_cannot_hold() {
        let (input, _) = input_error(call(
            "format.xmlStringify",
            json!({"value": 1, "root": "1a"}),
        ));
        assert_eq!(input, "root");
        for value in [
            json!({"a b": 1, "c": 2}),
            json!({"r": {"@bad name": 1}}),
            json!({"r": "\u{1}"}),
            json!([1, 2]),
        ] {
            let (input, _) = input_error(call("format.xmlStringify", json!({ "value": value })));
            assert_eq!(input, "value", "{value}");
        }
        let (input, _) = input_error(call("format.xmlStringify", json!({})));
        assert_eq!(input, "value");
    }

    #[test]
    fn xml_stringify_refuses_nesting_too_deep() {
        let mut value = json!(1);
        for _ in 0..200 {
            value = json!({ "a": value });
        }
        let (input, _) = input_error(call("format.xmlStringify", json!({ "value": value })));
        assert_eq!(input, "value");
    }
}
