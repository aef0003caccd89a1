//! The benchmark's flow and request body. The flow's transform is a JavaScript `code.run` step
//! (`bench/flows/webhook.yml`); on a server built without the JavaScript runtime the suite
//! falls back to `bench/flows/webhook-no-js.yml`, whose transform is a built-in step, and says
//! so in its table.

use std::fmt;

use anyhow::{bail, Context};
use bytes::Bytes;
use serde::Serialize;
use serde_json::{json, Value};

use crate::api::Api;

pub const JS_FLOW: &str = include_str!("../../../bench/flows/webhook.yml");
pub const BUILTIN_FLOW: &str = include_str!("../../../bench/flows/webhook-no-js.yml");

/// The step whose durations `code-step` reads (its name, as step results give it).
pub const TRANSFORM_STEP: &str = "Transform";

/// Which transform the flow runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transform {
    JavaScript,
    BuiltIn,
}

impl fmt::Display for Transform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transform::JavaScript => "JavaScript (code.run)",
            Transform::BuiltIn => {
                "built-in step, NOT JavaScript (this ferry has no JavaScript runtime)"
            }
        })
    }
}

/// The published bench integration on one store.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub integration: String,
    pub transform: Transform,
}

/// Publishes the JavaScript flow and calls it once synchronously; when the server answers that
/// it has no JavaScript runtime, publishes the fallback instead (and checks it once too).
pub async fn prepare(api: &Api, http: &reqwest::Client) -> anyhow::Result<Prepared> {
    let integration = api.publish(JS_FLOW).await.context("the JavaScript flow")?;
    let answer = match call_once(api, http, &integration, "probe-js").await? {
        Ok(()) => {
            return Ok(Prepared {
                integration,
                transform: Transform::JavaScript,
            })
        }
        Err(answer) => answer,
    };
    if !answer.contains("JavaScript runtime") {
        bail!("the JavaScript flow failed its first call: {answer}");
    }
    let integration = api
        .publish(BUILTIN_FLOW)
        .await
        .context("the fallback flow")?;
    if let Err(answer) = call_once(api, http, &integration, "probe-builtin").await? {
        bail!("the fallback flow failed its first call: {answer}");
    }
    Ok(Prepared {
        integration,
        transform: Transform::BuiltIn,
    })
}

/// One synchronous call on a fresh instance: `Ok(Ok(()))` when it answers 200, `Ok(Err(body))`
/// when the flow failed (400).
async fn call_once(
    api: &Api,
    http: &reqwest::Client,
    integration: &str,
    name: &str,
) -> anyhow::Result<Result<(), String>> {
    let deployed = api.deploy(integration, name).await?;
    let response = http
        .post(&deployed.webhook_url)
        .header("content-type", "application/json")
        .header("ferry-synchronous", "true")
        .body(order_body())
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await?;
    match status.as_u16() {
        200 => Ok(Ok(())),
        400 => Ok(Err(text)),
        _ => bail!("probe answered {status}: {text}"),
    }
}

/// The 1 KB order every request carries: a customer and ten lines.
pub fn order_body() -> Bytes {
    let items: Vec<Value> = (1..=10u32)
        .map(|i| {
            json!({
                "id": i, "sku": format!("SKU-{i:05}"), "name": format!("Widget {i}"), "qty": i,
                "price": 10.0 + 1.25 * f64::from(i) - 0.01, "tags": ["bench", "ferry"],
            })
        })
        .collect();
    let order = json!({
        "requestId": "req-000001",
        "customer": { "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.test", "tier": "gold" },
        "items": items,
    });
    Bytes::from(serde_json::to_vec(&order).expect("a JSON value serializes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_about_one_kilobyte() {
        let size = order_body().len();
        assert!((900..=1200).contains(&size), "{size} bytes");
    }
}
