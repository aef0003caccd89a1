//! The `sleep` action.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::server::{call, input_named};

#[tokio::test]
async fn sleep_waits_the_seconds_given_and_gives_null() {
    let started = Instant::now();
    assert_eq!(
        call("sleep", json!({ "seconds": 0.05 })).await,
        Ok(Value::Null)
    );
    assert!(started.elapsed() >= Duration::from_millis(50));
}

#[tokio::test]
async fn sleep_of_zero_seconds_returns_at_once() {
    assert_eq!(
        call("sleep", json!({ "seconds": "0" })).await,
        Ok(Value::Null)
    );
}

#[tokio::test]
async fn sleep_refuses_negative_too_long_or_missing_seconds() {
    for inputs in [
        json!({}),
        json!({ "seconds": -1 }),
        json!({ "seconds": 900.5 }),
        json!({ "seconds": "soon" }),
        json!({ "seconds": "NaN" }),
        json!({ "seconds": [1] }),
    ] {
        let error = call("sleep", inputs.clone()).await.unwrap_err();
        assert_eq!(input_named(error), "seconds", "{inputs}");
    }
}
