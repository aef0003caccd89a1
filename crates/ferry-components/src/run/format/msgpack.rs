//! `format.msgpackEncode` and `format.msgpackDecode`.
//!
//! Decoding accepts what JSON cannot hold directly: byte strings become binary values
//! (`application/octet-stream`), map keys that are not text become text, and extension values
//! become `[type, bytes]`.

use std::fmt;
use std::io::Cursor;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserializer;
use serde_json::{Map, Value};

use super::super::{binary_value, bytes_of};
use super::{scalar_text, ActionError, Inputs};

/// Nesting deeper than this is refused, so that decoding cannot exhaust the stack and the
/// result stays within the 128 levels JSON readers such as serde_json take.
const MAX_DEPTH: usize = 100;

pub(super) fn encode(inputs: &Inputs) -> Result<Value, ActionError> {
    let value = inputs.required("value")?;
    rmp_serde::to_vec(value)
        .map(|bytes| binary_value(&bytes, "application/msgpack"))
        .map_err(|error| ActionError::Failed(format!("could not write MessagePack: {error}")))
}

pub(super) fn decode(inputs: &Inputs) -> Result<Value, ActionError> {
    let data = inputs.required("data")?;
    let bytes = bytes_of(data).ok_or_else(|| {
        ActionError::input(
            "data",
            "expected a binary value `{ contentType, base64 }` (with valid base64) or text",
        )
    })?;
    let mut decoder = rmp_serde::Deserializer::new(Cursor::new(bytes.as_slice()));
    decoder.set_max_depth(MAX_DEPTH);
    let value = AnyValue.deserialize(&mut decoder).map_err(|error| {
        ActionError::input("data", format!("is not valid MessagePack: {error}"))
    })?;
    let read = decoder.position();
    if read != bytes.len() as u64 {
        return Err(ActionError::input(
            "data",
            format!(
                "holds {} bytes after the MessagePack value that ends at byte {read}",
                bytes.len() as u64 - read
            ),
        ));
    }
    Ok(value)
}

/// Reads any MessagePack value as JSON.
struct AnyValue;

impl<'de> DeserializeSeed<'de> for AnyValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AnyValue {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a MessagePack value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }

    /// Infinities and NaN, which JSON cannot hold, become null.
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(binary_value(v, "application/octet-stream"))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(AnyValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Map::new();
        while let Some(key) = map.next_key_seed(AnyValue)? {
            let value = map.next_value_seed(AnyValue)?;
            fields.insert(scalar_text(&key), value);
        }
        Ok(Value::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::super::binary_value;
    use super::super::tests::{call, input_error};

    fn bytes(value: &Value) -> Vec<u8> {
        super::bytes_of(value).unwrap()
    }

    #[test]
    fn msgpack_encode_gives_binary_msgpack() {
        let out = call("format.msgpackEncode", json!({"value": {"a": 1}})).unwrap();
        assert_eq!(out["contentType"], json!("application/msgpack"));
        assert_eq!(bytes(&out), vec![0x81, 0xa1, b'a', 0x01]);
    }

    #[test]
    fn msgpack_round_trips_json_values() {
        let value =
            json!({"s": "x", "n": -3, "f": 1.5, "b": true, "z": null, "l": [1, [2]], "o": {}});
        let encoded = call("format.msgpackEncode", json!({ "value": value })).unwrap();
        let decoded = call("format.msgpackDecode", json!({ "data": encoded }));
        assert_eq!(decoded.unwrap(), value);
    }

    #[test]
    fn msgpack_decode_accepts_text_holding_msgpack() {
        let out = call("format.msgpackDecode", json!({"data": "\u{7f}"}));
        assert_eq!(out.unwrap(), json!(127));
    }

    #[test]
    fn msgpack_decode_keeps_bytes_and_writes_non_text_keys_as_text() {
        // { 1: bin8 [0xff, 0x00], true: "t" }
        let data = [0x82, 0x01, 0xc4, 0x02, 0xff, 0x00, 0xc3, 0xa1, b't'];
        let out = call(
            "format.msgpackDecode",
            json!({"data": binary_value(&data, "application/msgpack")}),
        );
        assert_eq!(
            out.unwrap(),
            json!({"1": binary_value(&[0xff, 0x00], "application/octet-stream"), "true": "t"})
        );
    }

    #[test]
    fn msgpack_decode_refuses_truncated_or_trailing_bytes() {
        let truncated = binary_value(&[0x92, 0x01], "application/msgpack");
        let (input, message) =
            input_error(call("format.msgpackDecode", json!({ "data": truncated })));
        assert_eq!(input, "data");
        assert!(message.contains("not valid MessagePack"), "{message}");
        let (input, message) = input_error(call("format.msgpackDecode", json!({"data": "hello"})));
        assert_eq!(input, "data");
        assert!(message.contains("4 bytes after"), "{message}");
    }

    #[test]
    fn msgpack_decode_refuses_nesting_too_deep() {
        let mut data = vec![0x91; 10_000];
        data.push(0x01);
        let deep = binary_value(&data, "application/msgpack");
        let (input, _) = input_error(call("format.msgpackDecode", json!({ "data": deep })));
        assert_eq!(input, "data");
    }

    #[test]
    fn msgpack_inputs_are_required_and_data_must_be_bytes_or_text() {
        let (input, _) = input_error(call("format.msgpackEncode", json!({})));
        assert_eq!(input, "value");
        let (input, _) = input_error(call("format.msgpackDecode", json!({"data": 5})));
        assert_eq!(input, "data");
        let bad = json!({"contentType": "x", "base64": "%%%"});
        let (input, _) = input_error(call("format.msgpackDecode", json!({ "data": bad })));
        assert_eq!(input, "data");
    }
}
