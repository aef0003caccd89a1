//! [`Payload`]: a JSON value that travels as text and is parsed only when something reads
//! inside it.
//!
//! A webhook's trigger payload is written to the store as text, read back as text when a
//! worker claims it, and written out again as text for a code step; building a
//! `serde_json::Value` at each hop cost about a tenth of a loaded server's time. A `Payload`
//! keeps whichever form it was made from and makes the other once, on first use: its text is
//! written from its value, or its value parsed from its text. Text from outside is checked
//! when the payload is made ([`Payload::from_json`]), so parsing it later cannot fail.

use std::fmt;
use std::ops::Deref;
use std::sync::OnceLock;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

/// A JSON value kept as text, as a parsed value, or both (each made from the other once).
#[derive(Clone)]
pub struct Payload {
    /// Always holds one of the two once made; both once the other was asked for.
    text: OnceLock<Box<RawValue>>,
    value: OnceLock<Value>,
}

impl Payload {
    /// A payload made from a parsed value (its text is written on first use).
    pub fn from_value(value: Value) -> Self {
        Payload {
            text: OnceLock::new(),
            value: OnceLock::from(value),
        }
    }

    /// A payload made from JSON text, checked now ([`check_json`]).
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        check_json(text.as_bytes()).map(|raw| Self::from_raw(raw.to_owned()))
    }

    /// A payload made from JSON text already checked: by [`check_json`] before it was stored,
    /// or written by `serde_json` (`raw` itself is only ever made by `serde_json`, which
    /// checks that it is one JSON value).
    pub fn from_raw(raw: Box<RawValue>) -> Self {
        Payload {
            text: OnceLock::from(raw),
            value: OnceLock::new(),
        }
    }

    /// The payload as JSON text (written from its value on first use if it was made from one).
    pub fn raw(&self) -> &RawValue {
        self.text.get_or_init(|| {
            let value = self.value.get().unwrap_or(&Value::Null);
            // Writing a `serde_json::Value` cannot fail: its keys are strings.
            serde_json::value::to_raw_value(value).unwrap_or_default()
        })
    }

    /// The payload as JSON text.
    pub fn text(&self) -> &str {
        self.raw().get()
    }

    /// The payload as a parsed value (parsed from its text on first use if it was made from
    /// text).
    pub fn value(&self) -> &Value {
        self.value.get_or_init(|| match self.text.get() {
            Some(raw) => parse(raw),
            None => Value::Null,
        })
    }

    /// The parsed value, taken out of the payload (parsed now if it was never needed).
    pub fn into_value(mut self) -> Value {
        self.value();
        self.value.take().unwrap_or_default()
    }

    /// Whether the payload holds a parsed value (made from one, or parsed since); one that
    /// does not is better read as text.
    pub fn is_parsed(&self) -> bool {
        self.value.get().is_some()
    }
}

/// Checks that `bytes` are one JSON value that `serde_json` would parse into a [`Value`],
/// without building the value, and gives its text. The same text is refused as by a parse:
/// numbers out of a double's range and lone surrogates in `\u` escapes too, which a check of
/// the syntax alone (`RawValue`'s) lets through.
pub fn check_json(bytes: &[u8]) -> Result<&RawValue, serde_json::Error> {
    serde_json::from_slice::<Checked>(bytes)?;
    serde_json::from_slice(bytes)
}

/// A JSON value read as `Value` reads one (numbers parsed, strings unescaped), then dropped.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Checked, A::Error> {
        while items.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut fields: A) -> Result<Checked, A::Error> {
        while fields.next_entry::<Checked, Checked>()?.is_some() {}
        Ok(Checked)
    }
}

/// Parses text checked when its payload was made, which therefore parses.
fn parse(raw: &RawValue) -> Value {
    serde_json::from_str(raw.get()).unwrap_or(Value::Null)
}

impl Default for Payload {
    /// `null`.
    fn default() -> Self {
        Payload::from_value(Value::Null)
    }
}

impl From<Value> for Payload {
    fn from(value: Value) -> Self {
        Payload::from_value(value)
    }
}

impl Deref for Payload {
    type Target = Value;

    /// The parsed value ([`Payload::value`]).
    fn deref(&self) -> &Value {
        self.value()
    }
}

impl PartialEq for Payload {
    /// Payloads are equal when their values are (the text's spacing and key order aside).
    fn eq(&self, other: &Self) -> bool {
        self.value() == other.value()
    }
}

impl PartialEq<Value> for Payload {
    fn eq(&self, other: &Value) -> bool {
        self.value() == other
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Payload").field(&self.text()).finish()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn text_in_is_text_out_without_parsing() {
        let text = r#"{"b": [1, 2.50], "a": {"x": null}}"#;
        let payload = Payload::from_json(text).unwrap();
        assert_eq!(payload.text(), text);
        assert!(!payload.is_parsed());
        assert_eq!(payload["b"][1], json!(2.5));
        assert!(payload.is_parsed());
        assert_eq!(payload.text(), text, "the text stays as given");
    }

    #[test]
    fn a_value_in_is_written_once_in_its_order() {
        let payload = Payload::from_value(json!({ "b": 1, "a": "é\n" }));
        assert_eq!(payload.text(), r#"{"b":1,"a":"é\n"}"#);
        assert_eq!(payload.into_value(), json!({ "b": 1, "a": "é\n" }));
    }

    #[test]
    fn text_that_is_not_one_json_value_is_refused() {
        for bad in ["", "{", "{} {}", "[1,]", "nul", "{\"a\":1}x"] {
            assert!(Payload::from_json(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_check_refuses_what_a_parse_refuses() {
        let parses = |text: &str| serde_json::from_str::<Value>(text).is_ok();
        for text in [
            r#"{"a": [1, -2.5e3, "x\u00e9\ud83d\ude00", null, true, {}]}"#,
            "1e400",
            "-1e400",
            &"9".repeat(400),
            r#""\ud800""#,
            r#""\udc00x""#,
            r#"{"a":1,"a":2}"#,
            " [] ",
            "{\"a\":1} x",
        ] {
            assert_eq!(check_json(text.as_bytes()).is_ok(), parses(text), "{text}");
        }
        let raw = check_json(b" {\"a\": [1, 2]}\n").unwrap();
        assert_eq!(raw.get(), "{\"a\": [1, 2]}");
        assert!(Payload::from_json("1e400").is_err());
    }

    #[test]
    fn payloads_compare_by_value_and_default_to_null() {
        let text = Payload::from_json(r#"{ "a" : [ 1 ] }"#).unwrap();
        assert_eq!(text, Payload::from_value(json!({ "a": [1] })));
        assert_ne!(text, Payload::from_value(json!({ "a": [2] })));
        assert_eq!(Payload::default().text(), "null");
        assert_eq!(Payload::default().into_value(), Value::Null);
        let unparsed = Payload::from_json("[true]").unwrap();
        assert_eq!(unparsed.into_value(), json!([true]));
    }
}
