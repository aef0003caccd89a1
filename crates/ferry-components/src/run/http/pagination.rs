//! The `pagination` input: fetching every page of a list (by `Link` header, cursor, page
//! number or offset) and joining their items, never past `maxPages` pages.

use reqwest::header::HeaderMap;
use reqwest::Url;
use serde_json::{json, Map, Value};

use super::exchange::{self, Page, MAX_RESPONSE_BYTES};
use super::{link, target, Request};
use crate::run::inputs::kind;
use crate::run::{value_at as at, ActionError, Inputs};

/// The pages fetched when `maxPages` is not given, and the most it may be.
const DEFAULT_MAX_PAGES: i64 = 100;
const MAX_PAGES: i64 = 10_000;
/// The settings every kind of pagination has.
const COMMON: &[&str] = &["type", "itemsField", "maxPages"];

/// How to fetch every page.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Pagination {
    style: Style,
    /// Dotted path to each page's items; none when the page is the list.
    items_field: Option<String>,
    max_pages: usize,
}

/// How the next page is found.
#[derive(Debug, Clone, PartialEq)]
enum Style {
    /// Follow the `Link` header's `rel="next"`.
    LinkHeader,
    /// Send the value at `field` in a page's body as query parameter `param`.
    Cursor { field: String, param: String },
    /// Count query parameter `param` up from `start` until a page is empty.
    PageNumber { param: String, start: i64 },
    /// Move query parameter `offset` by `limit` until a page is short.
    Offset {
        offset: String,
        limit_param: String,
        limit: i64,
    },
}

/// What a fetched page tells about the next.
struct Fetched<'a> {
    url: &'a Url,
    headers: &'a HeaderMap,
    cursor: Option<String>,
    items: usize,
    /// Pages fetched so far, this one included.
    pages: usize,
}

impl Pagination {
    /// The `pagination` input, if given; errors name `pagination.<setting>`.
    pub(super) fn from_inputs(inputs: &Inputs) -> Result<Option<Self>, ActionError> {
        if inputs.get("pagination").is_none() {
            return Ok(None);
        }
        let settings = inputs.object("pagination")?;
        parse(settings).map(Some).map_err(nested)
    }

    /// Fetches every page of `request` and joins their items:
    /// `{ statusCode, headers, data, pages, hasMore }`, status and headers from the last page.
    pub(super) async fn fetch_all(
        &self,
        client: &reqwest::Client,
        request: &Request,
    ) -> Result<Value, ActionError> {
        let mut items = Vec::new();
        let mut read = 0;
        let mut url = self.first_url(&request.url);
        let mut pages = 0;
        loop {
            pages += 1;
            let limit = MAX_RESPONSE_BYTES.saturating_sub(read);
            let page = exchange::send(client, request, &url, limit).await?;
            read += page.body.len();
            let (cursor, page_items) = self.read(&page).map_err(|error| {
                ActionError::Failed(format!(
                    "page {pages} of {} {}: {error}",
                    request.method,
                    target::shown(&url)
                ))
            })?;
            let fetched = Fetched {
                url: &url,
                headers: &page.headers,
                cursor,
                items: page_items.len(),
                pages,
            };
            let next = self.next_url(&request.url, &fetched);
            items.extend(page_items);
            match next {
                Some(next) if pages < self.max_pages => url = next,
                next => return Ok(joined(page, items, pages, next.is_some())),
            }
        }
    }

    fn first_url(&self, base: &Url) -> Url {
        match &self.style {
            Style::LinkHeader | Style::Cursor { .. } => base.clone(),
            Style::PageNumber { param, start } => {
                target::with_params(base, &[(param, start.to_string())])
            }
            Style::Offset {
                offset,
                limit_param,
                limit,
            } => target::with_params(
                base,
                &[(offset, "0".to_string()), (limit_param, limit.to_string())],
            ),
        }
    }

    /// The next page's URL, or none after the last page.
    fn next_url(&self, base: &Url, fetched: &Fetched<'_>) -> Option<Url> {
        match &self.style {
            Style::LinkHeader => link::next(fetched.headers, fetched.url),
            Style::Cursor { param, .. } => {
                let cursor = fetched.cursor.clone()?;
                Some(target::with_params(base, &[(param, cursor)]))
            }
            Style::PageNumber { param, start } => {
                let number = start.saturating_add(i64::try_from(fetched.pages).ok()?);
                (fetched.items > 0)
                    .then(|| target::with_params(base, &[(param, number.to_string())]))
            }
            Style::Offset {
                offset,
                limit_param,
                limit,
            } => {
                let full = i64::try_from(fetched.items).is_ok_and(|items| items >= *limit);
                let next = limit.saturating_mul(i64::try_from(fetched.pages).ok()?);
                full.then(|| {
                    target::with_params(
                        base,
                        &[(offset, next.to_string()), (limit_param, limit.to_string())],
                    )
                })
            }
        }
    }

    /// A page's cursor for the next page and its items, or what is wrong with it.
    fn read(&self, page: &Page) -> Result<(Option<String>, Vec<Value>), String> {
        let mut body = page.json().ok_or("the body is not JSON")?;
        let cursor = self.cursor(&body)?;
        Ok((cursor, self.take_items(&mut body)?))
    }

    /// The cursor for the next page in `body`, for cursor pagination: none when absent, null
    /// or empty.
    fn cursor(&self, body: &Value) -> Result<Option<String>, String> {
        let Style::Cursor { field, .. } = &self.style else {
            return Ok(None);
        };
        match at(body, field) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => match target::scalar_text(value) {
                Some(text) if text.is_empty() => Ok(None),
                Some(text) => Ok(Some(text)),
                None => Err(format!(
                    "the cursor at `{field}` is {}, not text or a number",
                    kind(value)
                )),
            },
        }
    }

    /// The page's items, taken out of `body`: an absent or null items field, or an empty
    /// body, is an empty page.
    fn take_items(&self, body: &mut Value) -> Result<Vec<Value>, String> {
        let (found, what) = match &self.items_field {
            Some(path) => (at_mut(body, path), format!("`{path}`")),
            None => (Some(body), "the body".to_string()),
        };
        match found.map(Value::take) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(format!(
                "{what} is {}, not a list{}",
                kind(&other),
                if self.items_field.is_none() {
                    "; set pagination.itemsField to the field that holds the items"
                } else {
                    ""
                }
            )),
        }
    }
}

/// The result of a paginated request.
fn joined(last: Page, items: Vec<Value>, pages: usize, has_more: bool) -> Value {
    json!({
        "statusCode": last.status.as_u16(),
        "headers": last.headers_value(),
        "data": items,
        "pages": pages,
        "hasMore": has_more,
    })
}

fn at_mut<'v>(value: &'v mut Value, path: &str) -> Option<&'v mut Value> {
    path.split('.').try_fold(value, |value, key| match value {
        Value::Object(map) => map.get_mut(key),
        Value::Array(items) => items.get_mut(key.parse::<usize>().ok()?),
        _ => None,
    })
}

/// An input error about a setting, renamed to `pagination.<setting>`.
fn nested(error: ActionError) -> ActionError {
    match error {
        ActionError::Input { input, message } => ActionError::Input {
            input: format!("pagination.{input}"),
            message,
        },
        other => other,
    }
}

/// The settings, with errors naming the setting alone.
fn parse(settings: &Map<String, Value>) -> Result<Pagination, ActionError> {
    let inputs = Inputs::from(settings.clone());
    let kind = inputs.text("type")?;
    let (style, allowed) = style(&inputs, &kind)?;
    if let Some(unknown) = settings
        .keys()
        .find(|key| !COMMON.contains(&key.as_str()) && !allowed.contains(&key.as_str()))
    {
        let mut known = COMMON.to_vec();
        known.extend_from_slice(allowed);
        return Err(ActionError::input(
            unknown,
            format!(
                "is not a setting of {kind} pagination (those are {})",
                known.join(", ")
            ),
        ));
    }
    let max_pages = whole(&inputs, "maxPages", DEFAULT_MAX_PAGES, 1..=MAX_PAGES)?;
    Ok(Pagination {
        style,
        items_field: path(&inputs, "itemsField")?,
        max_pages: usize::try_from(max_pages).unwrap_or(1),
    })
}

/// The style `kind` names and the settings only it has.
fn style(inputs: &Inputs, kind: &str) -> Result<(Style, &'static [&'static str]), ActionError> {
    match kind {
        "linkHeader" => Ok((Style::LinkHeader, &[])),
        "cursor" => Ok((
            Style::Cursor {
                field: path(inputs, "cursorField")?
                    .ok_or_else(|| ActionError::input("cursorField", "is required"))?,
                param: name(inputs, "cursorParam", "cursor")?,
            },
            &["cursorField", "cursorParam"],
        )),
        "pageNumber" => Ok((
            Style::PageNumber {
                param: name(inputs, "pageParam", "page")?,
                start: whole(inputs, "startPage", 1, 0..=i64::from(u32::MAX))?,
            },
            &["pageParam", "startPage"],
        )),
        "offset" => Ok((
            Style::Offset {
                offset: name(inputs, "offsetParam", "offset")?,
                limit_param: name(inputs, "limitParam", "limit")?,
                limit: whole(inputs, "limit", 100, 1..=MAX_PAGES)?,
            },
            &["offsetParam", "limitParam", "limit"],
        )),
        other => Err(ActionError::input(
            "type",
            format!("`{other}` is not one of linkHeader, cursor, pageNumber or offset"),
        )),
    }
}

/// The query parameter name `key`, or `default`.
fn name(inputs: &Inputs, key: &str, default: &str) -> Result<String, ActionError> {
    let name = inputs.opt_text(key)?.unwrap_or_else(|| default.to_string());
    if name.trim().is_empty() {
        return Err(ActionError::input(key, "must not be empty"));
    }
    Ok(name)
}

/// The dotted path `key`, if given.
fn path(inputs: &Inputs, key: &str) -> Result<Option<String>, ActionError> {
    let Some(path) = inputs.opt_text(key)? else {
        return Ok(None);
    };
    if path.split('.').any(|part| part.trim().is_empty()) {
        return Err(ActionError::input(
            key,
            "must be a dotted path like `data.items`",
        ));
    }
    Ok(Some(path))
}

/// The whole number `key` within `range`, or `default`.
fn whole(
    inputs: &Inputs,
    key: &str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ActionError> {
    let Some(number) = inputs.opt_number(key)? else {
        return Ok(default);
    };
    let whole = number.fract() == 0.0 && number >= *range.start() as f64;
    if !whole || number > *range.end() as f64 {
        return Err(ActionError::input(
            key,
            format!(
                "must be a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        ));
    }
    Ok(number as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(settings: Value) -> Result<Pagination, ActionError> {
        let mut map = Map::new();
        map.insert("pagination".into(), settings);
        Pagination::from_inputs(&Inputs::from(map)).map(|p| p.unwrap())
    }

    fn input_of(error: ActionError) -> String {
        match error {
            ActionError::Input { input, .. } => input,
            other => panic!("not an input error: {other}"),
        }
    }

    #[test]
    fn defaults_fill_unset_settings() {
        let p = parsed(json!({ "type": "offset" })).unwrap();
        assert_eq!(p.max_pages, 100);
        assert_eq!(
            p.style,
            Style::Offset {
                offset: "offset".into(),
                limit_param: "limit".into(),
                limit: 100
            }
        );
    }

    #[test]
    fn bad_settings_are_named_under_pagination() {
        for (settings, input) in [
            (json!({}), "pagination.type"),
            (json!({ "type": "scroll" }), "pagination.type"),
            (json!({ "type": "cursor" }), "pagination.cursorField"),
            (
                json!({ "type": "cursor", "cursorField": "a..b" }),
                "pagination.cursorField",
            ),
            (json!({ "type": "offset", "limit": 0 }), "pagination.limit"),
            (
                json!({ "type": "offset", "limit": 2.5 }),
                "pagination.limit",
            ),
            (
                json!({ "type": "linkHeader", "maxPages": 10001 }),
                "pagination.maxPages",
            ),
            (
                json!({ "type": "pageNumber", "cursorField": "x" }),
                "pagination.cursorField",
            ),
            (
                json!({ "type": "pageNumber", "pageParam": "" }),
                "pagination.pageParam",
            ),
        ] {
            assert_eq!(
                input_of(parsed(settings.clone()).unwrap_err()),
                input,
                "{settings}"
            );
        }
        assert_eq!(input_of(parsed(json!("cursor")).unwrap_err()), "pagination");
    }

    #[test]
    fn dotted_paths_step_into_objects_and_lists() {
        let body = json!({ "meta": { "next": "c2" }, "pages": [{ "id": 1 }] });
        assert_eq!(at(&body, "meta.next"), Some(&json!("c2")));
        assert_eq!(at(&body, "pages.0.id"), Some(&json!(1)));
        assert_eq!(at(&body, "meta.none"), None);
    }
}
