//! Building JSON objects from values the caller owns.
//!
//! `serde_json::json!` copies every value written into it by serializing it into a new one;
//! for a parsed payload or a step's results, that copy cost more than the rest of building
//! the object. [`object`] moves the values in instead.

use serde_json::Value;

/// An object of `fields`, in their order, the values moved in.
pub fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_keep_their_order_and_values() {
        let built = object([("b", json!([1, 2])), ("a", json!({ "x": null }))]);
        assert_eq!(built, json!({ "b": [1, 2], "a": { "x": null } }));
        let keys: Vec<&String> = built.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["b", "a"]);
    }
}
