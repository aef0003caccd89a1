//! Reading `Link` headers (RFC 8288) for the `rel="next"` target.

use reqwest::header::{HeaderMap, LINK};
use reqwest::Url;

/// The `rel="next"` target of `headers`' `Link` headers, resolved against `base`, when it is
/// an http(s) URL.
pub(super) fn next(headers: &HeaderMap, base: &Url) -> Option<Url> {
    let target = headers
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(links)
        .find(|(_, params)| rel_has(params, "next"))
        .map(|(target, _)| target)?;
    let url = base.join(target.trim()).ok()?;
    matches!(url.scheme(), "http" | "https").then_some(url)
}

/// The links of one header value: each target with its parameters' text.
fn links(value: &str) -> Vec<(&str, &str)> {
    let mut links = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        let Some(after) = rest.strip_prefix('<') else {
            return links;
        };
        let Some((target, after)) = after.split_once('>') else {
            return links;
        };
        let (params, after) = split_outside_quotes(after, ',');
        links.push((target, params));
        rest = after;
    }
}

/// Whether the `rel` parameter in `params` lists `relation` (case-insensitive).
fn rel_has(params: &str, relation: &str) -> bool {
    let mut rest = params;
    while !rest.is_empty() {
        let (param, after) = split_outside_quotes(rest, ';');
        rest = after;
        let Some((name, value)) = param.split_once('=') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("rel") {
            let value = value.trim().trim_matches('"');
            return value
                .split_ascii_whitespace()
                .any(|rel| rel.eq_ignore_ascii_case(relation));
        }
    }
    false
}

/// `text` up to the first `separator` outside double quotes, and what follows it.
fn split_outside_quotes(text: &str, separator: char) -> (&str, &str) {
    let mut quoted = false;
    let mut escaped = false;
    for (index, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                return (&text[..index], &text[index + c.len_utf8()..]);
            }
            _ => {}
        }
    }
    (text, "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn next_of(values: &[&str]) -> Option<String> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(LINK, HeaderValue::from_str(value).unwrap());
        }
        let base = Url::parse("http://h/api/items?page=1").unwrap();
        next(&headers, &base).map(String::from)
    }

    #[test]
    fn finds_next_among_several_links() {
        let header = r#"<http://h/api/items?page=1>; rel="prev", <http://h/api/items?page=3>; rel="next", <http://h/api/items?page=9>; rel="last""#;
        assert_eq!(
            next_of(&[header]).as_deref(),
            Some("http://h/api/items?page=3")
        );
    }

    #[test]
    fn accepts_unquoted_rel_several_relations_and_relative_targets() {
        assert_eq!(
            next_of(&["</api/items?page=2>; rel=next"]).as_deref(),
            Some("http://h/api/items?page=2")
        );
        assert_eq!(
            next_of(&[r#"<?page=2>; title="a, b; c"; rel="last NEXT""#]).as_deref(),
            Some("http://h/api/items?page=2")
        );
    }

    #[test]
    fn reads_every_link_header_and_commas_inside_targets() {
        assert_eq!(
            next_of(&[
                r#"<http://h/a>; rel="first""#,
                r#"<http://h/a?ids=1,2>; rel="next""#
            ])
            .as_deref(),
            Some("http://h/a?ids=1,2")
        );
    }

    #[test]
    fn no_next_link_means_none() {
        assert_eq!(next_of(&[r#"<http://h/a>; rel="prev""#]), None);
        assert_eq!(next_of(&["garbage"]), None);
        assert_eq!(next_of(&[r#"<ftp://h/a>; rel="next""#]), None);
        assert_eq!(next_of(&[]), None);
    }
}
