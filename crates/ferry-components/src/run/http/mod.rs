//! The `http.request` action: one request, or every page of a paginated list.
//!
//! [`Request`] is what a step's inputs ask to send, checked before anything goes out; the
//! submodules build its parts (the URL and headers, the body, the connection's credentials,
//! the TLS options), exchange it with the server and walk the pages.

mod auth;
mod body;
mod exchange;
mod link;
mod pagination;
mod target;
mod tls;

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, Url};
use serde_json::Value;

use super::{ActionError, Inputs, StepCall};
use body::Body;
use exchange::{ResponseType, MAX_RESPONSE_BYTES};
use pagination::Pagination;

/// How long a request may take when `timeoutSeconds` is not given.
const DEFAULT_TIMEOUT_SECONDS: f64 = 30.0;
/// The shortest and longest `timeoutSeconds` accepted.
const TIMEOUT_RANGE: std::ops::RangeInclusive<f64> = 1.0..=900.0;

/// Runs `http.request`.
pub(super) async fn run(
    client: &reqwest::Client,
    call: &StepCall<'_>,
) -> Option<Result<Value, ActionError>> {
    if call.action != "http.request" {
        return None;
    }
    Some(request(client, call).await)
}

async fn request(shared: &reqwest::Client, call: &StepCall<'_>) -> Result<Value, ActionError> {
    let request = Request::from_call(call)?;
    let own = tls::Tls::from_inputs(&call.inputs)?
        .map(tls::Tls::client)
        .transpose()?;
    let client = own.as_ref().unwrap_or(shared);
    match Pagination::from_inputs(&call.inputs)? {
        None => {
            let page = exchange::send(client, &request, &request.url, MAX_RESPONSE_BYTES).await?;
            Ok(page.into_result(request.response_type))
        }
        Some(pagination) => {
            if request.response_type != ResponseType::Json {
                return Err(ActionError::input(
                    "responseType",
                    "pagination reads every page as JSON; leave responseType as json",
                ));
            }
            pagination.fetch_all(client, &request).await
        }
    }
}

/// One request as a step's inputs describe it.
#[derive(Debug)]
struct Request {
    method: Method,
    /// The URL with `queryParams` added.
    url: Url,
    /// The connection's credentials, the idempotency key and the `headers` input.
    headers: HeaderMap,
    body: Body,
    timeout: Duration,
    response_type: ResponseType,
}

impl Request {
    fn from_call(call: &StepCall<'_>) -> Result<Self, ActionError> {
        let inputs = &call.inputs;
        let mut headers = auth::headers(inputs)?;
        if inputs.flag("useIdempotencyKey", false)? {
            let key = HeaderValue::from_str(call.idempotency_key).map_err(|_| {
                ActionError::input(
                    "useIdempotencyKey",
                    "the step's idempotency key is not a valid header value",
                )
            })?;
            headers.insert("idempotency-key", key);
        }
        target::add_headers(&mut headers, inputs)?;
        Ok(Self {
            method: method(inputs)?,
            url: target::url(inputs)?,
            headers,
            body: Body::from_inputs(inputs)?,
            timeout: timeout(inputs)?,
            response_type: ResponseType::from_inputs(inputs)?,
        })
    }
}

fn method(inputs: &Inputs) -> Result<Method, ActionError> {
    let Some(name) = inputs.opt_text("method")? else {
        return Ok(Method::GET);
    };
    match name.trim().to_ascii_uppercase().as_str() {
        "GET" => Ok(Method::GET),
        "POST" => Ok(Method::POST),
        "PUT" => Ok(Method::PUT),
        "PATCH" => Ok(Method::PATCH),
        "DELETE" => Ok(Method::DELETE),
        "HEAD" => Ok(Method::HEAD),
        "OPTIONS" => Ok(Method::OPTIONS),
        _ => Err(ActionError::input(
            "method",
            format!("`{name}` is not one of GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS"),
        )),
    }
}

fn timeout(inputs: &Inputs) -> Result<Duration, ActionError> {
    let seconds = inputs
        .opt_number("timeoutSeconds")?
        .unwrap_or(DEFAULT_TIMEOUT_SECONDS);
    if !TIMEOUT_RANGE.contains(&seconds) {
        return Err(ActionError::input(
            "timeoutSeconds",
            format!(
                "must be from {} to {} seconds",
                TIMEOUT_RANGE.start(),
                TIMEOUT_RANGE.end()
            ),
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}
