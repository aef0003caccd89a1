//! The trigger result of a webhook request: `{ body: { data, contentType }, rawBody: { data },
//! headers, queryParameters, pathFragment, method }`.
//!
//! `body.data` is the body read by its content type: JSON parsed, forms and multipart forms as
//! objects of fields (files as `{ filename, contentType, size, data }` with `data` in base64),
//! XML as JSON (`@attr` for attributes, `#text` for text beside elements), other text as a
//! string, anything else as base64. `rawBody.data` is the body as received: text when it is
//! UTF-8, else base64 (then `rawBody.encoding` is `base64`). Header names are lower-cased.
//!
//! A JSON body is checked but not parsed: its text goes into the payload's text as it came
//! ([`RequestPayload::into_payload`]), and is parsed only if something at the ingress reads
//! the request (routing, a custom trigger).

use axum::body::Bytes;
use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ferry_core::json::object;
use ferry_core::payload::{check_json, Payload};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
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

/// A request's trigger result on its way to the queue: its fields as values, but for a JSON
/// body, kept as the text it came as until something reads it.
#[derive(Debug)]
pub struct RequestPayload {
    /// The payload, an object; `body` holds only `contentType` while `json` is kept.
    fields: Value,
    /// A JSON body's text, not parsed yet (checked: it parses).
    json: Option<Box<RawValue>>,
}

impl RequestPayload {
    /// The payload as a value (a JSON body parsed now, if it was not yet).
    pub fn value(&mut self) -> &Value {
        if let Some(json) = self.json.take() {
            let data = Payload::from_raw(json).into_value();
            let content_type = self.fields["body"]["contentType"].take();
            self.fields["body"] = object([("data", data), ("contentType", content_type)]);
        }
        &self.fields
    }

    /// Sets the top-level field `name` (`webhookUrls`, `invokeUrl`).
    pub fn set(&mut self, name: &str, value: Value) {
        self.fields[name] = value;
    }

    /// The payload as a value.
    pub fn into_value(mut self) -> Value {
        self.value();
        self.fields
    }

    /// The payload as it is queued: written out once, a JSON body's text spliced in as it
    /// came.
    pub fn into_payload(self) -> Payload {
        let Some(json) = &self.json else {
            return Payload::from_value(self.fields);
        };
        let spliced = Spliced {
            fields: &self.fields,
            data: json,
        };
        // Writing values and checked JSON text cannot fail.
        match serde_json::value::to_raw_value(&spliced) {
            Ok(raw) => Payload::from_raw(raw),
            Err(_) => Payload::from_value(self.into_value()),
        }
    }
}

/// The payload's fields with `data` first in `body` (where a parsed body would be).
struct Spliced<'a> {
    fields: &'a Value,
    data: &'a RawValue,
}

impl Serialize for Spliced<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Value::Object(fields) = self.fields else {
            return self.fields.serialize(serializer);
        };
        let mut map = serializer.serialize_map(Some(fields.len()))?;
        for (name, value) in fields {
            match (name.as_str(), value) {
                ("body", Value::Object(rest)) => {
                    let data = self.data;
                    map.serialize_entry(name, &BodyWithData { data, rest })?
                }
                _ => map.serialize_entry(name, value)?,
            }
        }
        map.end()
    }
}

/// `body`: `data` (text as it came), then the rest (`contentType`).
#[derive(serde::Serialize)]
struct BodyWithData<'a> {
    data: &'a RawValue,
    #[serde(flatten)]
    rest: &'a Map<String, Value>,
}

/// A body's `data`: parsed, or a JSON body's checked text.
enum BodyData {
    Value(Value),
    Json(Box<RawValue>),
}

/// Builds the trigger result of a request; a body that does not parse is refused.
pub async fn trigger_payload(request: WebhookRequest<'_>) -> Result<RequestPayload, MalformedBody> {
    let content_type = request
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut body = Map::new();
    let json = match body_data(&content_type, request.body.clone()).await? {
        BodyData::Value(data) => {
            body.insert("data".into(), data);
            None
        }
        BodyData::Json(json) => Some(json),
    };
    body.insert("contentType".into(), Value::String(content_type));
    let fields = object([
        ("method", Value::String(request.method.to_string())),
        ("body", Value::Object(body)),
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
    ]);
    Ok(RequestPayload { fields, json })
}

fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

async fn body_data(content_type: &str, body: Bytes) -> Result<BodyData, MalformedBody> {
    if body.is_empty() {
        return Ok(BodyData::Value(Value::Null));
    }
    let kind = essence(content_type);
    match kind.as_str() {
        k if k == "application/json" || k.ends_with("+json") => check_json(&body)
            .map(|json| BodyData::Json(json.to_owned()))
            .map_err(|err| MalformedBody(format!("malformed JSON body: {err}"))),
        _ => parsed_body_data(&kind, content_type, body)
            .await
            .map(BodyData::Value),
    }
}

async fn parsed_body_data(
    kind: &str,
    content_type: &str,
    body: Bytes,
) -> Result<Value, MalformedBody> {
    match kind {
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

    async fn request(
        content_type: &str,
        body: &'static [u8],
    ) -> Result<RequestPayload, MalformedBody> {
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

    async fn payload(content_type: &str, body: &'static [u8]) -> Result<Value, MalformedBody> {
        request(content_type, body)
            .await
            .map(RequestPayload::into_value)
    }

    #[tokio::test]
    async fn a_json_body_is_queued_as_the_text_it_came_as() {
        let body = b"{\"z\": 1.50, \"a\": [\"\\u00e9\"]}";
        let mut read = request("application/json", body).await.unwrap();
        read.set("invokeUrl", json!("http://x/trigger/1"));
        let parsed = request("application/json", body)
            .await
            .unwrap()
            .into_value();
        let queued = read.into_payload();
        assert!(!queued.is_parsed());
        assert!(
            queued.text().starts_with(
                r#"{"method":"POST","body":{"data":{"z": 1.50, "a": ["\u00e9"]},"contentType":"application/json"},"rawBody":"#
            ),
            "{}",
            queued.text()
        );
        assert!(queued
            .text()
            .ends_with(r#","invokeUrl":"http://x/trigger/1"}"#));
        let mut expected = parsed;
        expected["invokeUrl"] = json!("http://x/trigger/1");
        assert_eq!(queued.value(), &expected);
        assert_eq!(expected["body"]["data"]["a"][0], "é");
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
        let not_utf8 = b"{\"n\": \"\xff\"}";
        for unparsable in [&b"{\"n\": 1e400}"[..], b"[\"\\ud800\"]", b"{} {}", not_utf8] {
            let err = request("application/json", unparsable).await.unwrap_err();
            assert!(err.0.starts_with("malformed JSON body: "), "{err}");
        }
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
