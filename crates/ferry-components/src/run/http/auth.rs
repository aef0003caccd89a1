//! The `connection` input: a connection config variable's inputs, turned into the header that
//! authenticates the request. Messages name fields, never their values.

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderName, AUTHORIZATION};
use serde_json::{Map, Value};

use super::target;
use crate::run::inputs::kind;
use crate::run::{ActionError, Inputs};

/// The shapes of connection this action understands, for messages.
const SHAPES: &str = "expected an object with `apiKey` (and optionally `headerName`), \
                      `token`, `accessToken`, or `username` and `password`";

/// The header the `connection` input asks for: none without a connection.
pub(super) fn headers(inputs: &Inputs) -> Result<HeaderMap, ActionError> {
    let mut headers = HeaderMap::new();
    let Some(connection) = inputs.get("connection") else {
        return Ok(headers);
    };
    let Some(fields) = connection.as_object() else {
        return Err(ActionError::input(
            "connection",
            format!("{SHAPES}; got {}", kind(connection)),
        ));
    };
    let (name, value) = credential(fields)?;
    let (name, mut value) = target::header("connection", name.as_str(), &value).map_err(|_| {
        ActionError::input(
            "connection",
            "its credentials hold characters that a header cannot carry",
        )
    })?;
    value.set_sensitive(true);
    headers.insert(name, value);
    Ok(headers)
}

/// The header name and value for the first shape `fields` matches.
fn credential(fields: &Map<String, Value>) -> Result<(HeaderName, String), ActionError> {
    if let Some(key) = field(fields, "apiKey")? {
        return Ok(match field(fields, "headerName")? {
            Some(name) => (custom_name(&name)?, key),
            None => (AUTHORIZATION, format!("Bearer {key}")),
        });
    }
    if let Some(token) = field(fields, "token")?.or(field(fields, "accessToken")?) {
        return Ok((AUTHORIZATION, format!("Bearer {token}")));
    }
    if let (Some(user), Some(password)) = (field(fields, "username")?, field(fields, "password")?) {
        let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        return Ok((AUTHORIZATION, format!("Basic {pair}")));
    }
    let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
    names.sort_unstable();
    let got = if names.is_empty() {
        "got an empty object".to_string()
    } else {
        format!("got one with {}", names.join(", "))
    };
    Err(ActionError::input("connection", format!("{SHAPES}; {got}")))
}

fn custom_name(name: &str) -> Result<HeaderName, ActionError> {
    HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
        ActionError::input(
            "connection",
            format!("`headerName`: `{name}` is not a valid header name"),
        )
    })
}

/// The text field `name` of the connection, if given and not null.
fn field(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, ActionError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => target::scalar_text(value).map(Some).ok_or_else(|| {
            ActionError::input(
                "connection",
                format!("`{name}` must be text, got {}", kind(value)),
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn header_for(connection: Value) -> Result<(String, String), ActionError> {
        let mut map = Map::new();
        map.insert("connection".into(), connection);
        let headers = headers(&Inputs::from(map))?;
        let (name, value) = headers.iter().next().unwrap();
        Ok((name.to_string(), value.to_str().unwrap().to_string()))
    }

    #[test]
    fn an_api_key_is_a_bearer_token_unless_a_header_name_is_given() {
        assert_eq!(
            header_for(json!({ "apiKey": "k1" })).unwrap(),
            ("authorization".into(), "Bearer k1".into())
        );
        assert_eq!(
            header_for(json!({ "apiKey": "k1", "headerName": "X-Api-Key" })).unwrap(),
            ("x-api-key".into(), "k1".into())
        );
    }

    #[test]
    fn a_username_and_password_are_basic_auth() {
        assert_eq!(
            header_for(json!({ "username": "u", "password": "p" }))
                .unwrap()
                .1,
            "Basic dTpw"
        );
    }

    #[test]
    fn other_shapes_are_refused_without_showing_values() {
        let error = header_for(json!({ "secret": "hunter2" })).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("`connection`") && text.contains("apiKey"),
            "{text}"
        );
        assert!(
            text.contains("secret") && !text.contains("hunter2"),
            "{text}"
        );
        let error = header_for(json!({ "apiKey": "bad\nkey" })).unwrap_err();
        assert!(!error.to_string().contains("bad"), "{error}");
    }
}
