//! `http.request` with `pagination`: every page fetched and their items joined.

use std::collections::HashMap;

use axum::extract::Query;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::server::{failure, input_named, request, serve};

type Params = Query<HashMap<String, String>>;

fn router() -> Router {
    Router::new()
        .route("/link", get(link_page))
        .route("/cursor", get(cursor_page))
        .route("/numbered", get(numbered_page))
        .route("/offset", get(offset_page))
        .route("/endless", get(endless_page))
        .route("/broken", get(broken_page))
}

fn number(params: &HashMap<String, String>, key: &str) -> u64 {
    params.get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Pages 1 to 3 (no `page` is page 1), each linking to the next with a relative URL.
async fn link_page(Query(params): Params) -> impl IntoResponse {
    let page = number(&params, "page").max(1);
    let mut link = r#"</link?page=1>; rel="first""#.to_string();
    if page < 3 {
        link.push_str(&format!(r#", </link?page={}>; rel="next""#, page + 1));
    }
    (
        [(header::LINK, link)],
        Json(json!([page * 10 + 1, page * 10 + 2])),
    )
}

/// Three pages chained by `meta.next`, the last with a null cursor.
async fn cursor_page(Query(params): Params) -> Json<Value> {
    let (items, next) = match params.get("after").map(String::as_str) {
        None => (json!(["a", "b"]), json!("c2")),
        Some("c2") => (json!(["c", "d"]), json!(3)),
        Some("3") => (json!(["e"]), Value::Null),
        Some(_) => (json!(["wrong cursor"]), Value::Null),
    };
    Json(json!({ "items": items, "meta": { "next": next } }))
}

/// Pages 1 to 3 under `data.items`, then empty pages; items echo the `filter` param.
async fn numbered_page(Query(params): Params) -> Json<Value> {
    let page = number(&params, "p");
    let items: Vec<Value> = if (1..=3).contains(&page) {
        vec![json!({ "page": page, "filter": params.get("filter") })]
    } else {
        Vec::new()
    };
    Json(json!({ "data": { "items": items } }))
}

/// Seven numbered items, `take` at a time from `skip`.
async fn offset_page(Query(params): Params) -> Json<Value> {
    let skip = number(&params, "skip");
    let end = (skip + number(&params, "take")).min(7);
    Json(json!((skip..end).collect::<Vec<_>>()))
}

/// Pages that always link to one more.
async fn endless_page(Query(params): Params) -> impl IntoResponse {
    let page = number(&params, "page");
    let link = format!(r#"</endless?page={}>; rel="next""#, page + 1);
    ([(header::LINK, link)], Json(json!([page])))
}

/// A first page whose next page answers 500.
async fn broken_page(Query(params): Params) -> impl IntoResponse {
    if params.contains_key("page") {
        return (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response();
    }
    let link = r#"</broken?page=2>; rel="next""#;
    ([(header::LINK, link)], Json(json!([1]))).into_response()
}

async fn base() -> String {
    serve(router()).await
}

#[tokio::test]
async fn link_header_pagination_follows_rel_next_across_three_pages() {
    let url = format!("{}/link", base().await);
    let result = request(json!({ "url": url, "pagination": { "type": "linkHeader" } }))
        .await
        .unwrap();
    assert_eq!(result["data"], json!([11, 12, 21, 22, 31, 32]));
    assert_eq!(result["pages"], 3);
    assert_eq!(result["hasMore"], false);
    assert_eq!(result["statusCode"], 200);
    assert!(result["headers"]["link"]
        .as_str()
        .unwrap()
        .contains("rel=\"first\""));
}

#[tokio::test]
async fn cursor_pagination_sends_each_pages_cursor_until_there_is_none() {
    let url = format!("{}/cursor", base().await);
    let result = request(json!({
        "url": url,
        "pagination": {
            "type": "cursor",
            "cursorField": "meta.next",
            "cursorParam": "after",
            "itemsField": "items",
        },
    }))
    .await
    .unwrap();
    assert_eq!(result["data"], json!(["a", "b", "c", "d", "e"]));
    assert_eq!(result["pages"], 3);
}

#[tokio::test]
async fn page_number_pagination_counts_up_until_an_empty_page_keeping_query_params() {
    let url = format!("{}/numbered", base().await);
    let result = request(json!({
        "url": url,
        "queryParams": { "filter": "open", "p": "ignored" },
        "pagination": { "type": "pageNumber", "pageParam": "p", "itemsField": "data.items" },
    }))
    .await
    .unwrap();
    let pages: Vec<&Value> = result["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| &item["page"])
        .collect();
    assert_eq!(pages, [1, 2, 3]);
    assert!(result["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|item| item["filter"] == "open"));
    assert_eq!(result["pages"], 4, "the empty fourth page ends it");
}

#[tokio::test]
async fn page_number_pagination_starts_at_start_page() {
    let url = format!("{}/numbered", base().await);
    let result = request(json!({
        "url": url,
        "pagination": {
            "type": "pageNumber",
            "pageParam": "p",
            "startPage": 2,
            "itemsField": "data.items",
        },
    }))
    .await
    .unwrap();
    assert_eq!(result["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn offset_pagination_moves_by_limit_until_a_short_page() {
    let url = format!("{}/offset", base().await);
    let result = request(json!({
        "url": url,
        "pagination": { "type": "offset", "offsetParam": "skip", "limitParam": "take", "limit": 3 },
    }))
    .await
    .unwrap();
    assert_eq!(result["data"], json!([0, 1, 2, 3, 4, 5, 6]));
    assert_eq!(result["pages"], 3);
}

#[tokio::test]
async fn max_pages_caps_the_pages_fetched_and_has_more_says_so() {
    let url = format!("{}/endless?page=1", base().await);
    let result = request(json!({
        "url": url,
        "pagination": { "type": "linkHeader", "maxPages": 5 },
    }))
    .await
    .unwrap();
    assert_eq!(result["data"], json!([1, 2, 3, 4, 5]));
    assert_eq!(result["pages"], 5);
    assert_eq!(result["hasMore"], true);
}

#[tokio::test]
async fn a_page_that_is_not_a_list_fails_and_suggests_items_field() {
    let url = format!("{}/cursor", base().await);
    let message = failure(
        request(json!({ "url": url, "pagination": { "type": "linkHeader" } }))
            .await
            .unwrap_err(),
    );
    assert!(
        message.starts_with("page 1 of GET http://127.0.0.1:"),
        "{message}"
    );
    assert!(
        message.contains("/cursor: the body is an object, not a list"),
        "{message}"
    );
    assert!(message.contains("pagination.itemsField"), "{message}");
}

#[tokio::test]
async fn a_failing_page_fails_the_step() {
    let url = format!("{}/broken", base().await);
    let message = failure(
        request(json!({ "url": url, "pagination": { "type": "linkHeader" } }))
            .await
            .unwrap_err(),
    );
    assert!(
        message.contains("/broken answered 500 Internal Server Error: down"),
        "{message}"
    );
}

#[tokio::test]
async fn bad_pagination_settings_are_errors_naming_the_setting() {
    let url = "http://127.0.0.1:9/x";
    for (pagination, input) in [
        (json!("linkHeader"), "pagination"),
        (json!({}), "pagination.type"),
        (json!({ "type": "pages" }), "pagination.type"),
        (
            json!({ "type": "cursor", "itemsField": "items" }),
            "pagination.cursorField",
        ),
        (json!({ "type": "offset", "limit": -1 }), "pagination.limit"),
        (
            json!({ "type": "pageNumber", "startPage": "one" }),
            "pagination.startPage",
        ),
        (
            json!({ "type": "linkHeader", "maxPages": 0 }),
            "pagination.maxPages",
        ),
        (
            json!({ "type": "linkHeader", "itemsField": "" }),
            "pagination.itemsField",
        ),
        (
            json!({ "type": "offset", "pageParam": "p" }),
            "pagination.pageParam",
        ),
    ] {
        let error = request(json!({ "url": url, "pagination": pagination }))
            .await
            .unwrap_err();
        assert_eq!(input_named(error), input, "{pagination}");
    }
}

#[tokio::test]
async fn pagination_needs_json_responses() {
    let error = request(json!({
        "url": "http://127.0.0.1:9/x",
        "responseType": "text",
        "pagination": { "type": "linkHeader" },
    }))
    .await
    .unwrap_err();
    assert_eq!(input_named(error), "responseType");
}
