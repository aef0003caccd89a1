//! Where a request goes and what it says about itself: the URL (`baseUrl` + `url`, with
//! `queryParams`), the `headers` input, and URLs fit for error messages.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Url;
use serde_json::{Map, Value};

use crate::run::inputs::kind;
use crate::run::{ActionError, Inputs};

/// The request's URL: `url`, after `baseUrl` when it is not absolute, with `queryParams`.
pub(super) fn url(inputs: &Inputs) -> Result<Url, ActionError> {
    let path = inputs.text("url")?;
    let mut url = match absolute(&path) {
        Some(url) => url,
        None => joined(inputs, &path)?,
    };
    if inputs.get("queryParams").is_some() {
        let pairs = pairs("queryParams", inputs.object("queryParams")?)?;
        if !pairs.is_empty() {
            url.query_pairs_mut().extend_pairs(pairs);
        }
    }
    Ok(url)
}

/// `text` as an absolute http(s) URL with a host, if it is one.
fn absolute(text: &str) -> Option<Url> {
    let url = Url::parse(text.trim()).ok()?;
    let web = matches!(url.scheme(), "http" | "https") && url.has_host();
    web.then_some(url)
}

/// `baseUrl` and `path` joined with exactly one slash between them.
fn joined(inputs: &Inputs, path: &str) -> Result<Url, ActionError> {
    let Some(base) = inputs.opt_text("baseUrl")? else {
        return Err(ActionError::input(
            "url",
            "is not an absolute http(s) URL, and no baseUrl is set to put before it",
        ));
    };
    if absolute(&base).is_none() {
        return Err(ActionError::input(
            "baseUrl",
            "is not an absolute http(s) URL",
        ));
    }
    let path = path.trim();
    let text = if path.is_empty() {
        base.trim().to_string()
    } else {
        format!(
            "{}/{}",
            base.trim().trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    };
    absolute(&text).ok_or_else(|| {
        ActionError::input("url", "does not make an http(s) URL when put after baseUrl")
    })
}

/// Adds the `headers` input to `headers`, replacing any of the same names.
pub(super) fn add_headers(headers: &mut HeaderMap, inputs: &Inputs) -> Result<(), ActionError> {
    if inputs.get("headers").is_none() {
        return Ok(());
    }
    let mut given = Vec::new();
    for (name, value) in pairs("headers", inputs.object("headers")?)? {
        given.push(header("headers", &name, &value)?);
    }
    for (name, _) in &given {
        headers.remove(name);
    }
    for (name, value) in given {
        headers.append(name, value);
    }
    Ok(())
}

/// A header from text, or an error naming `input` that never shows the value.
pub(super) fn header(
    input: &str,
    name: &str,
    value: &str,
) -> Result<(HeaderName, HeaderValue), ActionError> {
    let header_name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| ActionError::input(input, format!("`{name}` is not a valid header name")))?;
    let header_value = HeaderValue::from_str(value).map_err(|_| {
        ActionError::input(
            input,
            format!("the value of `{name}` is not a valid header value"),
        )
    })?;
    Ok((header_name, header_value))
}

/// The fields of `map` as name–text pairs: a list gives its name once per item; null is left
/// out. Errors name `input` and the field.
pub(super) fn pairs(
    input: &str,
    map: &Map<String, Value>,
) -> Result<Vec<(String, String)>, ActionError> {
    let mut pairs = Vec::new();
    for (name, value) in map {
        let values = match value {
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        for value in values.into_iter().filter(|v| !v.is_null()) {
            let text = scalar_text(value).ok_or_else(|| {
                ActionError::input(
                    input,
                    format!(
                        "`{name}`: expected text, a number, a boolean or a list of them, got {}",
                        kind(value)
                    ),
                )
            })?;
            pairs.push((name.clone(), text));
        }
    }
    Ok(pairs)
}

/// Text, a number or a boolean as text.
pub(super) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// `url` without what may be secret (user name, password, query, fragment), for messages.
pub(super) fn shown(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// `url` with `params` set in its query, replacing any of the same names.
pub(super) fn with_params(url: &Url, params: &[(&str, String)]) -> Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| params.iter().all(|(param, _)| param != name))
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    let mut url = url.clone();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .extend_pairs(params.iter().map(|(name, value)| (*name, value.as_str())));
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inputs(value: Value) -> Inputs {
        match value {
            Value::Object(map) => Inputs::from(map),
            _ => Inputs::default(),
        }
    }

    #[test]
    fn base_url_and_url_join_with_one_slash() {
        for (base, path) in [
            ("http://h/api/", "/items"),
            ("http://h/api", "items"),
            ("http://h/api/", "items"),
        ] {
            let url = url(&inputs(json!({ "baseUrl": base, "url": path }))).unwrap();
            assert_eq!(url.as_str(), "http://h/api/items");
        }
    }

    #[test]
    fn an_absolute_url_ignores_base_url() {
        let url = url(&inputs(
            json!({ "baseUrl": "http://a/", "url": "https://b/x" }),
        ))
        .unwrap();
        assert_eq!(url.as_str(), "https://b/x");
    }

    #[test]
    fn only_http_and_https_urls_are_accepted() {
        for bad in ["ftp://h/x", "mailto:a@b", "localhost:80/x", "/x"] {
            let error = url(&inputs(json!({ "url": bad }))).unwrap_err();
            assert!(matches!(error, ActionError::Input { ref input, .. } if input == "url"));
        }
    }

    #[test]
    fn with_params_replaces_same_named_params_and_keeps_others() {
        let url = Url::parse("http://h/x?page=1&q=a%20b").unwrap();
        let next = with_params(&url, &[("page", "2".to_string())]);
        assert_eq!(next.as_str(), "http://h/x?q=a+b&page=2");
    }

    #[test]
    fn shown_urls_drop_credentials_and_query() {
        let url = Url::parse("https://user:pw@h/x?api_key=secret#f").unwrap();
        assert_eq!(shown(&url), "https://h/x");
    }
}
