//! The trigger result of a webhook request: `{ body: { data, contentType }, rawBody: { data },
//! headers, queryParameters, pathFragment, method }`.
//!
//! `body.data` is the body read by its content type: JSON parsed, forms and multipart forms as
//! objects of fields (files as `{ filename, contentType, size, data }` with `data` in base64),
//! XML as JSON (`@attr` for attributes, `#text` for text beside elements), other text as a
//! string, anything else as base64. `rawBody.data` is the body as received: text when it is
//! UTF-8, else base64 (then `rawBody.encoding` is `base64`). Header names are lower-cased.

use axum::body::Bytes;
use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ferry_core::json::object;
use serde_json::{json, Map, Value};

use crate::webhook::xml;

/// A body that does not read as its content type says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MalformedBody(pub String);

/// What the payload is made from.
pub struct WebhookRequest<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The raw query string, if any.
    pub query: Option<&'a str>,
    /// The URL path after the trigger id.
    pub path_fragment: &'a str,
    /// The body.
    pub body: Bytes,
}

/// Builds the trigger result of a request; a body that does not parse is refused.
pub async fn trigger_payload(request: WebhookRequest<'_>) -> Result<Value, MalformedBody> {
    let content_type = request
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let data = body_data(&content_type, request.body.clone()).await?;
    // Not `json!`, which would copy the parsed body by serializing it.
    let body = object([("data", data), ("contentType", Value::String(content_type))]);
    Ok(object([
        ("method", Value::String(request.method.to_string())),
        ("body", body),
        ("rawBody", raw_body(&request.body)),
        ("headers", headers(request.headers)),
        (
            "queryParameters",
            query_parameters(request.query.unwrap_or("")),
        ),
        (
            "pathFragment",
            Value::String(request.path_fragment.to_string()),
        ),
    ]))
}

fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

async fn body_data(content_type: &str, body: Bytes) -> Result<Value, MalformedBody> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    let kind = essence(content_type);
    match kind.as_str() {
        k if k == "application/json" || k.ends_with("+json") => serde_json::from_slice(&body)
            .map_err(|err| MalformedBody(format!("malformed JSON body: {err}"))),
        "application/x-www-form-urlencoded" => {
            Ok(query_parameters(&String::from_utf8_lossy(&body)))
        }
        "multipart/form-data" => multipart(content_type, body).await,
        k if k == "application/xml" || k == "text/xml" || k.ends_with("+xml") => {
            let text = std::str::from_utf8(&body)
                .map_err(|_| MalformedBody("XML body is not UTF-8".into()))?;
            xml::to_json(text).map_err(|err| MalformedBody(format!("malformed XML body: {err}")))
        }
        k if k.starts_with("text/") || k.is_empty() => match std::str::from_utf8(&body) {
            Ok(text) => Ok(Value::String(text.to_string())),
            Err(_) => Ok(Value::String(STANDARD.encode(&body))),
        },
        _ => Ok(Value::String(STANDARD.encode(&body))),
    }
}

fn raw_body(body: &[u8]) -> Value {
    match std::str::from_utf8(body) {
        Ok(text) => json!({ "data": text }),
        Err(_) => json!({ "data": STANDARD.encode(body), "encoding": "base64" }),
    }
}

/// Header names lower-cased; repeated headers joined with `, `.
fn headers(headers: &HeaderMap) -> Value {
    let mut map = Map::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).to_string();
        match map.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                map.insert(name.as_str().to_string(), Value::String(value));
            }
        }
    }
    Value::Object(map)
}

/// `a=1&b=2&b=3` → `{ "a": "1", "b": ["2", "3"] }`.
fn query_parameters(query: &str) -> Value {
    let mut map = Map::new();
    for (key, value) in form_urlencoded_pairs(query) {
        add_field(&mut map, key, Value::String(value));
    }
    Value::Object(map)
}

fn form_urlencoded_pairs(text: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(text).unwrap_or_default()
}

/// Inserts a field; a repeated one becomes a list.
fn add_field(map: &mut Map<String, Value>, key: String, value: Value) {
    match map.get_mut(&key) {
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        None => {
            map.insert(key, value);
        }
    }
}

async fn multipart(content_type: &str, body: Bytes) -> Result<Value, MalformedBody> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|err| MalformedBody(format!("malformed multipart body: {err}")))?;
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut parts = multer::Multipart::new(stream, boundary);
    let mut map = Map::new();
    let malformed = |err: multer::Error| MalformedBody(format!("malformed multipart body: {err}"));
    while let Some(field) = parts.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().map(str::to_string);
        let field_type = field.content_type().map(|m| m.to_string());
        let bytes = field.bytes().await.map_err(malformed)?;
        let value = match (file_name, std::str::from_utf8(&bytes)) {
            (None, Ok(text)) => Value::String(text.to_string()),
            (file_name, _) => json!({
                "filename": file_name,
                "contentType": field_type,
                "size": bytes.len(),
                "data": STANDARD.encode(&bytes),
            }),
        };
        add_field(&mut map, name, value);
    }
    Ok(Value::Object(map))
}

/// The text at a dotted path (`headers.x-flow`, `results.body.data.name`); numbers count as
/// text, header names are matched in lower case.
pub fn text_at(source: &Value, path: &str) -> Option<String> {
    let path = path.strip_prefix("results.").unwrap_or(path);
    if path.is_empty() {
        return None;
    }
    let mut current = source;
    for segment in path.split('.') {
        current = match current {
            Value::Object(map) => map
                .get(segment)
                .or_else(|| map.get(&segment.to_ascii_lowercase()))?,
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    match current {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    async fn payload(content_type: &str, body: &'static [u8]) -> Result<Value, MalformedBody> {
        let mut headers = HeaderMap::new();
        headers.insert("Content-Type", HeaderValue::from_str(content_type).unwrap());
        headers.append("X-Tag", HeaderValue::from_static("a"));
        headers.append("X-Tag", HeaderValue::from_static("b"));
        let request = WebhookRequest {
            method: "POST",
            headers: &headers,
            query: Some("a=1&b=2&b=3&c=x%20y"),
            path_fragment: "orders/7",
            body: Bytes::from_static(body),
        };
        trigger_payload(request).await
    }

    #[tokio::test]
    async fn json_bodies_are_parsed_and_the_request_is_described() {
        let p = payload(
            "application/json; charset=utf-8",
            br#"{"id": 7, "items": [1, 2]}"#,
        )
        .await
        .unwrap();
        assert_eq!(p["body"]["data"], json!({ "id": 7, "items": [1, 2] }));
        assert_eq!(p["body"]["contentType"], "application/json; charset=utf-8");
        assert_eq!(p["rawBody"]["data"], r#"{"id": 7, "items": [1, 2]}"#);
        assert_eq!(p["headers"]["x-tag"], "a, b");
        assert_eq!(
            p["headers"]["content-type"],
            "application/json; charset=utf-8"
        );
        assert_eq!(
            p["queryParameters"],
            json!({ "a": "1", "b": ["2", "3"], "c": "x y" })
        );
        assert_eq!(p["pathFragment"], "orders/7");
        assert_eq!(p["method"], "POST");
    }

    #[tokio::test]
    async fn malformed_json_is_refused_with_where() {
        let err = payload("application/json", b"{\"id\": ").await.unwrap_err();
        assert!(
            err.0.starts_with("malformed JSON body: EOF while parsing"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn forms_multipart_xml_text_and_binary() {
        let form = payload(
            "application/x-www-form-urlencoded",
            b"name=Ann+Lee&tag=a&tag=b",
        )
        .await
        .unwrap();
        assert_eq!(
            form["body"]["data"],
            json!({ "name": "Ann Lee", "tag": ["a", "b"] })
        );
        let body: &'static [u8] = b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n\xff\x01\x02\r\n--XyZ--\r\n";
        let multipart = payload("multipart/form-data; boundary=XyZ", body)
            .await
            .unwrap();
        assert_eq!(multipart["body"]["data"]["note"], "hello");
        assert_eq!(
            multipart["body"]["data"]["file"],
            json!({ "filename": "a.bin", "contentType": "application/octet-stream", "size": 3, "data": "/wEC" })
        );
        assert_eq!(
            multipart["rawBody"]["encoding"], "base64",
            "a body with binary parts is not text"
        );
        let xml = payload(
            "application/xml",
            br#"<order id="7"><item>a</item><item>b</item><total>3</total></order>"#,
        )
        .await
        .unwrap();
        assert_eq!(
            xml["body"]["data"],
            json!({ "order": { "@id": "7", "item": ["a", "b"], "total": "3" } })
        );
        let text = payload("text/plain", b"just text").await.unwrap();
        assert_eq!(text["body"]["data"], "just text");
        let binary = payload("application/octet-stream", b"\xff\xfe")
            .await
            .unwrap();
        assert_eq!(binary["body"]["data"], "//4=");
        assert!(payload("application/xml", b"<a><b></a>").await.is_err());
        assert!(
            payload("multipart/form-data", b"--x").await.is_err(),
            "no boundary"
        );
        let empty = payload("application/json", b"").await.unwrap();
        assert_eq!(empty["body"]["data"], Value::Null);
    }

    #[test]
    fn routing_fields_are_dotted_paths_into_the_request() {
        let request = json!({ "headers": { "x-flow": "Update" }, "body": { "data": { "customer": 42, "items": [{ "k": "v" }] } } });
        assert_eq!(
            text_at(&request, "headers.X-Flow").as_deref(),
            Some("Update")
        );
        assert_eq!(
            text_at(&request, "results.body.data.customer").as_deref(),
            Some("42")
        );
        assert_eq!(
            text_at(&request, "body.data.items.0.k").as_deref(),
            Some("v")
        );
        assert_eq!(text_at(&request, "body.data.nope"), None);
        assert_eq!(text_at(&request, ""), None);
    }
}
