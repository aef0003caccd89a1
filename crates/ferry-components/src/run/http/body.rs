//! The request body: `data` sent as `bodyType` says (JSON, a URL-encoded form, a multipart
//! form or raw bytes), with a fitting `Content-Type` unless the `headers` input gives one.

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use reqwest::multipart::{Form, Part};
use reqwest::RequestBuilder;
use serde_json::{Map, Value};

use super::target;
use crate::run::inputs::kind;
use crate::run::{bytes_of, ActionError, Inputs};

/// Content type of raw text and of bytes that do not say theirs.
const TEXT_TYPE: &str = "text/plain; charset=utf-8";
const BYTES_TYPE: &str = "application/octet-stream";

/// What goes in the request body.
#[derive(Debug)]
pub(super) enum Body {
    /// No `data`.
    Empty,
    /// `data` as JSON.
    Json(Value),
    /// `data`'s fields URL-encoded.
    Form(Vec<(String, String)>),
    /// `data`'s fields as multipart parts.
    Multipart(Vec<(String, Field)>),
    /// `data` as it is.
    Raw {
        /// The bytes.
        bytes: Vec<u8>,
        /// Their content type, used when `headers` has none.
        content_type: HeaderValue,
    },
}

/// One part of a multipart body.
#[derive(Debug)]
pub(super) enum Field {
    /// A text field.
    Text(String),
    /// A file: a binary value.
    File(Binary),
}

/// A binary value `{ contentType, base64, fileName? }`, decoded.
#[derive(Debug)]
pub(super) struct Binary {
    bytes: Vec<u8>,
    content_type: String,
    file_name: Option<String>,
}

impl Body {
    /// The body the `data` and `bodyType` inputs ask for.
    pub(super) fn from_inputs(inputs: &Inputs) -> Result<Self, ActionError> {
        let body_type = inputs
            .opt_text("bodyType")?
            .unwrap_or_else(|| "json".to_string())
            .trim()
            .to_ascii_lowercase();
        if !matches!(body_type.as_str(), "json" | "form" | "multipart" | "raw") {
            return Err(ActionError::input(
                "bodyType",
                format!("`{body_type}` is not one of json, form, multipart or raw"),
            ));
        }
        let Some(data) = inputs.get("data") else {
            return Ok(Body::Empty);
        };
        match body_type.as_str() {
            "form" => Ok(Body::Form(target::pairs("data", object(data, "form")?)?)),
            "multipart" => multipart(object(data, "multipart")?).map(Body::Multipart),
            "raw" => raw(data),
            _ => Ok(Body::Json(data.clone())),
        }
    }

    /// `builder` with `headers` and this body.
    pub(super) fn attach(
        &self,
        builder: RequestBuilder,
        headers: &HeaderMap,
    ) -> Result<RequestBuilder, ActionError> {
        if let Body::Multipart(fields) = self {
            // The boundary is in the content type, so only the form may set it.
            let mut headers = headers.clone();
            headers.remove(CONTENT_TYPE);
            return Ok(builder.headers(headers).multipart(form(fields)?));
        }
        let builder = builder.headers(headers.clone());
        Ok(match self {
            Body::Empty | Body::Multipart(_) => builder,
            Body::Json(value) => builder.json(value),
            Body::Form(pairs) => builder.form(pairs),
            Body::Raw {
                bytes,
                content_type,
            } => {
                let builder = builder.body(bytes.clone());
                if headers.contains_key(CONTENT_TYPE) {
                    builder
                } else {
                    builder.header(CONTENT_TYPE, content_type.clone())
                }
            }
        })
    }
}

fn object<'v>(data: &'v Value, body_type: &str) -> Result<&'v Map<String, Value>, ActionError> {
    data.as_object().ok_or_else(|| {
        ActionError::input(
            "data",
            format!(
                "a {body_type} body is an object of fields, got {}",
                kind(data)
            ),
        )
    })
}

fn raw(data: &Value) -> Result<Body, ActionError> {
    let (bytes, content_type) = match data {
        Value::String(text) => (text.as_bytes().to_vec(), TEXT_TYPE.to_string()),
        Value::Object(_) => {
            let binary = binary("data", data)?;
            (binary.bytes, binary.content_type)
        }
        other => {
            return Err(ActionError::input(
                "data",
                format!(
                    "a raw body is text or a binary value {{ contentType, base64 }}, got {}",
                    kind(other)
                ),
            ))
        }
    };
    let content_type = HeaderValue::from_str(&content_type)
        .map_err(|_| ActionError::input("data", "its contentType is not a valid header value"))?;
    Ok(Body::Raw {
        bytes,
        content_type,
    })
}

fn multipart(fields: &Map<String, Value>) -> Result<Vec<(String, Field)>, ActionError> {
    let mut parts = Vec::new();
    for (name, value) in fields {
        let values = match value {
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        for value in values.into_iter().filter(|v| !v.is_null()) {
            parts.push((name.clone(), field(name, value)?));
        }
    }
    // Check every content type now, so that sending cannot fail on one.
    form(&parts)?;
    Ok(parts)
}

fn field(name: &str, value: &Value) -> Result<Field, ActionError> {
    if let Some(text) = target::scalar_text(value) {
        return Ok(Field::Text(text));
    }
    if value.is_object() {
        return binary(&format!("data.{name}"), value).map(Field::File);
    }
    Err(ActionError::input(
        "data",
        format!(
            "`{name}`: a multipart field is text, a number, a boolean, a binary value \
             or a list of them, got {}",
            kind(value)
        ),
    ))
}

/// `value` as a binary value, or an error naming `input`.
fn binary(input: &str, value: &Value) -> Result<Binary, ActionError> {
    let shape_error = || {
        ActionError::input(
            input,
            "expected a binary value { contentType, base64 } with valid base64",
        )
    };
    let fields = value.as_object().ok_or_else(shape_error)?;
    if !fields.get("base64").is_some_and(Value::is_string) {
        return Err(shape_error());
    }
    let bytes = bytes_of(value).ok_or_else(shape_error)?;
    let text_field = |key: &str| fields.get(key).and_then(Value::as_str).map(str::to_string);
    Ok(Binary {
        bytes,
        content_type: text_field("contentType").unwrap_or_else(|| BYTES_TYPE.to_string()),
        file_name: text_field("fileName"),
    })
}

fn form(fields: &[(String, Field)]) -> Result<Form, ActionError> {
    let mut form = Form::new();
    for (name, field) in fields {
        form = match field {
            Field::Text(text) => form.text(name.clone(), text.clone()),
            Field::File(file) => form.part(name.clone(), file_part(name, file)?),
        };
    }
    Ok(form)
}

fn file_part(name: &str, file: &Binary) -> Result<Part, ActionError> {
    let file_name = file.file_name.clone().unwrap_or_else(|| name.to_string());
    Part::bytes(file.bytes.clone())
        .file_name(file_name)
        .mime_str(&file.content_type)
        .map_err(|_| {
            ActionError::input(
                &format!("data.{name}"),
                format!("`{}` is not a valid content type", file.content_type),
            )
        })
}
