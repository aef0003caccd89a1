//! The natives the prelude builds the globals on, installed as `globalThis.__ferry` (which the
//! prelude removes): host work (log lines, `fetch`, `invokeFlow`, timers) through the step's
//! [`Link`], the pure helpers better done in Rust (UTF-8, base64, digests, HMAC, random
//! values, WHATWG URL parsing and form encoding), and `lazy`, which names the prelude's globals
//! built on first use ([`super::lazy`]). The natives only the prelude's groups use are added
//! when the first group loads ([`install`]).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use rquickjs::function::This;
use rquickjs::{Ctx, Exception, Function, Object, TypedArray, Value};
use sha2::Digest as _;

use super::intrinsics::{self, Added};
use super::lazy;
use super::{convert, evaluate, load, Prelude};
use crate::channel::{FetchRequest, Request};
use crate::{LogLevel, MAX_LOG_CHARS};

type Bytes<'js> = TypedArray<'js, u8>;
type Out<T> = rquickjs::Result<T>;

/// What the natives and the event loop share during one step. A context is prepared before
/// its step is known, so the channel to the step's caller is connected when the step starts.
pub(super) struct Link {
    requests: RefCell<Option<tokio::sync::mpsc::UnboundedSender<Request>>>,
    max_fetch_bytes: usize,
    next_id: Cell<u64>,
    pending: Cell<usize>,
    timers: RefCell<Timers>,
    /// The lazy intrinsics the context has so far.
    pub(super) added: Added,
    /// Whether the groups' natives are in place (they are added when a group first loads).
    group_natives: Cell<bool>,
}

#[derive(Default)]
struct Timers {
    due: BTreeSet<(Instant, u64)>,
    by_id: HashMap<u64, Instant>,
}

impl Link {
    pub(super) fn new(max_fetch_bytes: usize) -> Rc<Self> {
        Rc::new(Link {
            requests: RefCell::new(None),
            max_fetch_bytes,
            next_id: Cell::new(1),
            pending: Cell::new(0),
            timers: RefCell::default(),
            added: Added::default(),
            group_natives: Cell::new(false),
        })
    }

    /// Connects the step's caller.
    pub(super) fn connect(&self, requests: tokio::sync::mpsc::UnboundedSender<Request>) {
        self.requests.replace(Some(requests));
    }

    fn send(&self, request: Request) {
        if let Some(requests) = self.requests.borrow().as_ref() {
            // A closed channel means the caller is gone; the event loop notices that itself.
            let _ = requests.send(request);
        }
    }

    /// Sends a request that will be answered; its id.
    fn ask(&self, request: impl FnOnce(u64) -> Request) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        self.pending.set(self.pending.get() + 1);
        self.send(request(id));
        id
    }

    /// Notes that an answer arrived.
    pub(super) fn answered(&self) {
        self.pending.set(self.pending.get().saturating_sub(1));
    }

    /// Whether any request or timer could still wake the step.
    pub(super) fn idle(&self) -> bool {
        self.pending.get() == 0 && self.timers.borrow().due.is_empty()
    }

    /// The first timer due by `now`, taken off the list.
    pub(super) fn due_timer(&self, now: Instant) -> Option<u64> {
        let mut timers = self.timers.borrow_mut();
        let first = *timers.due.first().filter(|(at, _)| *at <= now)?;
        timers.due.remove(&first);
        timers.by_id.remove(&first.1);
        Some(first.1)
    }

    /// When the next timer is due.
    pub(super) fn next_timer(&self) -> Option<Instant> {
        self.timers.borrow().due.first().map(|(at, _)| *at)
    }

    fn set_timer(&self, id: u64, ms: f64) {
        let delay = Duration::from_secs_f64((ms.max(0.0) / 1000.0).min(1e9));
        let at = Instant::now() + delay;
        self.clear_timer(id);
        let mut timers = self.timers.borrow_mut();
        timers.due.insert((at, id));
        timers.by_id.insert(id, at);
    }

    fn clear_timer(&self, id: u64) {
        let mut timers = self.timers.borrow_mut();
        if let Some(at) = timers.by_id.remove(&id) {
            timers.due.remove(&(at, id));
        }
    }
}

/// Sets `globalThis.__ferry` for the prelude: the natives the core uses. Those only the
/// prelude's groups use (timers, fetch, digests and HMAC, URLs) are added to the same object
/// when a group first loads: a fresh context made them for every step, and most steps load no
/// group.
pub(super) fn install<'js>(ctx: &Ctx<'js>, link: &Rc<Link>, prelude: &Rc<Prelude>) -> Out<()> {
    let natives = Object::new(ctx.clone())?;
    let library = prelude.clone();
    let to = link.clone();
    let load =
        move |ctx: Ctx<'js>, natives: This<Object<'js>>, group: String| -> Out<Function<'js>> {
            if !to.group_natives.replace(true) {
                group_natives(&ctx, &natives.0, &to)?;
            }
            let bytecode = library.group(&group).ok_or_else(|| {
                Exception::throw_internal(&ctx, &format!("no prelude group {group}"))
            })?;
            evaluate(load(&ctx, bytecode)?)?.get("build")
        };
    natives.set("load", Function::new(ctx.clone(), load)?)?;
    let class = prelude.lazy;
    intrinsics::install_lazy(ctx, link, class)?;
    let define = move |ctx: Ctx<'js>, names: Vec<String>, load: Function<'js>| -> Out<()> {
        names
            .iter()
            .try_for_each(|name| lazy::define(&ctx, class, name, &load))
    };
    natives.set("lazy", Function::new(ctx.clone(), define)?)?;
    host_work(ctx, &natives, link)?;
    encodings(ctx, &natives, link)?;
    ctx.globals().set("__ferry", natives)
}

/// The natives only the prelude's groups use, added to `natives` (the core's `native`).
fn group_natives<'js>(ctx: &Ctx<'js>, natives: &Object<'js>, link: &Rc<Link>) -> Out<()> {
    timers(ctx, natives, link)?;
    fetch(ctx, natives, link)?;
    crypto(ctx, natives, link)?;
    urls(ctx, natives)
}

fn host_work<'js>(ctx: &Ctx<'js>, natives: &Object<'js>, link: &Rc<Link>) -> Out<()> {
    let to = link.clone();
    let log = move |level: String, text: String| {
        let level = match level.as_str() {
            "debug" => LogLevel::Debug,
            "warn" => LogLevel::Warn,
            "error" => LogLevel::Error,
            _ => LogLevel::Info,
        };
        to.send(Request::Log(level, cut(text)));
    };
    natives.set("log", Function::new(ctx.clone(), log)?)?;
    let to = link.clone();
    let invoke = move |ctx: Ctx<'js>, name: String, data: Value<'js>| {
        let data = convert::to_json(data, "data", to.max_fetch_bytes)
            .map_err(|problem| Exception::throw_type(&ctx, &problem.describe("invokeFlow data")))?;
        Ok::<_, rquickjs::Error>(to.ask(|id| Request::InvokeFlow(id, name, data)))
    };
    natives.set("invokeFlow", Function::new(ctx.clone(), invoke)?)
}

fn fetch<'js>(ctx: &Ctx<'js>, natives: &Object<'js>, link: &Rc<Link>) -> Out<()> {
    let to = link.clone();
    let fetch = move |ctx: Ctx<'js>,
                      url: String,
                      method: String,
                      headers: Vec<Vec<String>>,
                      body: Option<Bytes<'js>>,
                      timeout: Option<f64>| {
        let request = fetch_request(&ctx, &to, (url, method, headers), body, timeout)?;
        Ok::<_, rquickjs::Error>(to.ask(|id| Request::Fetch(id, request)))
    };
    natives.set("fetch", Function::new(ctx.clone(), fetch)?)
}

fn timers<'js>(ctx: &Ctx<'js>, natives: &Object<'js>, link: &Rc<Link>) -> Out<()> {
    let to = link.clone();
    let timer = move |id: u64, ms: f64| to.set_timer(id, ms);
    natives.set("timer", Function::new(ctx.clone(), timer)?)?;
    let to = link.clone();
    let clear = move |id: u64| to.clear_timer(id);
    natives.set("clearTimer", Function::new(ctx.clone(), clear)?)
}

/// A log line cut at [`MAX_LOG_CHARS`] characters.
fn cut(text: String) -> String {
    match text.char_indices().nth(MAX_LOG_CHARS) {
        Some((end, _)) => text[..end].to_string(),
        None => text,
    }
}

fn fetch_request<'js>(
    ctx: &Ctx<'js>,
    link: &Link,
    (url, method, headers): (String, String, Vec<Vec<String>>),
    body: Option<Bytes<'js>>,
    timeout: Option<f64>,
) -> Out<FetchRequest> {
    let fail = |message: String| Exception::throw_type(ctx, &format!("fetch: {message}"));
    let parsed = url::Url::parse(&url).map_err(|e| fail(format!("invalid URL {url:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(fail(format!(
            "only http and https URLs can be fetched, not {:?}",
            parsed.scheme()
        )));
    }
    if reqwest::Method::from_bytes(method.as_bytes()).is_err() {
        return Err(fail(format!("invalid method {method:?}")));
    }
    let headers = header_pairs(headers).map_err(fail)?;
    let body = body.map(|b| bytes(&b));
    if body
        .as_ref()
        .is_some_and(|b| b.len() > link.max_fetch_bytes)
    {
        return Err(fail(format!(
            "the request body is over the limit of {}",
            crate::fetch::size_text(link.max_fetch_bytes)
        )));
    }
    Ok(FetchRequest {
        url: parsed.to_string(),
        method,
        headers,
        body,
        timeout_ms: timeout
            .filter(|t| t.is_finite() && *t >= 0.0)
            .map(|t| t as u64),
    })
}

fn header_pairs(headers: Vec<Vec<String>>) -> Result<Vec<(String, String)>, String> {
    headers
        .into_iter()
        .map(|pair| match <[String; 2]>::try_from(pair) {
            Ok([name, value]) => {
                let valid = reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok()
                    && reqwest::header::HeaderValue::from_str(&value).is_ok();
                if valid {
                    Ok((name, value))
                } else {
                    Err(format!("invalid header {name}: {value:?}"))
                }
            }
            Err(_) => Err("each header must be a name and a value".to_string()),
        })
        .collect()
}

/// A copy of a `Uint8Array`'s bytes.
#[allow(unsafe_code)]
pub(super) fn bytes(array: &Bytes<'_>) -> Vec<u8> {
    // SAFETY: the borrowed slice is copied at once; no JavaScript runs while it lives.
    unsafe { array.as_bytes() }
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

fn encodings<'js>(ctx: &Ctx<'js>, natives: &Object<'js>, link: &Rc<Link>) -> Out<()> {
    let to = link.clone();
    let encode =
        move |ctx: Ctx<'js>, text: String| intrinsics::bytes(&ctx, &to.added, text.into_bytes());
    natives.set("utf8Encode", Function::new(ctx.clone(), encode)?)?;
    let decode =
        |ctx: Ctx<'js>, data: Bytes<'js>, fatal: bool| match String::from_utf8(bytes(&data)) {
            Ok(text) => Ok(text),
            Err(_) if fatal => Err(Exception::throw_type(
                &ctx,
                "The encoded data was not valid utf-8",
            )),
            Err(invalid) => Ok(String::from_utf8_lossy(invalid.as_bytes()).into_owned()),
        };
    natives.set("utf8Decode", Function::new(ctx.clone(), decode)?)?;
    let encode64 =
        |data: Bytes<'js>| base64::engine::general_purpose::STANDARD.encode(bytes(&data));
    natives.set("base64Encode", Function::new(ctx.clone(), encode64)?)?;
    let to = link.clone();
    let decode64 = move |ctx: Ctx<'js>, text: String| {
        let decoded = base64::engine::general_purpose::STANDARD.decode(text.as_bytes());
        let data =
            decoded.map_err(|e| Exception::throw_type(&ctx, &format!("invalid base64: {e}")))?;
        intrinsics::bytes(&ctx, &to.added, data)
    };
    natives.set("base64Decode", Function::new(ctx.clone(), decode64)?)?;
    let to = link.clone();
    let btoa = move |ctx: Ctx<'js>, text: String| btoa(&ctx, &to.added, text);
    natives.set("btoa", Function::new(ctx.clone(), btoa)?)?;
    let to = link.clone();
    let atob = move |ctx: Ctx<'js>, text: String| atob(&ctx, &to.added, text);
    natives.set("atob", Function::new(ctx.clone(), atob)?)
}

fn btoa(ctx: &Ctx<'_>, added: &Added, text: String) -> Out<String> {
    let latin1: Option<Vec<u8>> = text.chars().map(|c| u8::try_from(c).ok()).collect();
    let Some(data) = latin1 else {
        let message = "btoa: the string holds characters outside of Latin1";
        return Err(intrinsics::throw_dom(
            ctx,
            added,
            "InvalidCharacterError",
            message,
        ));
    };
    Ok(base64::engine::general_purpose::STANDARD.encode(data))
}

fn atob(ctx: &Ctx<'_>, added: &Added, text: String) -> Out<String> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let trimmed = compact.trim_end_matches('=');
    let decoded = base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed.as_bytes());
    let Ok(data) = decoded else {
        let message = "atob: the string is not correctly encoded base64";
        return Err(intrinsics::throw_dom(
            ctx,
            added,
            "InvalidCharacterError",
            message,
        ));
    };
    Ok(data.into_iter().map(char::from).collect())
}

fn crypto<'js>(ctx: &Ctx<'js>, natives: &Object<'js>, link: &Rc<Link>) -> Out<()> {
    let to = link.clone();
    let digest = move |ctx: Ctx<'js>, algorithm: String, data: Bytes<'js>| {
        let data = bytes(&data);
        let hashed = match algorithm.as_str() {
            "SHA-1" => sha1::Sha1::digest(&data).to_vec(),
            "SHA-384" => sha2::Sha384::digest(&data).to_vec(),
            "SHA-512" => sha2::Sha512::digest(&data).to_vec(),
            _ => sha2::Sha256::digest(&data).to_vec(),
        };
        intrinsics::bytes(&ctx, &to.added, hashed)
    };
    natives.set("digest", Function::new(ctx.clone(), digest)?)?;
    let to = link.clone();
    let hmac = move |ctx: Ctx<'js>, algorithm: String, key: Bytes<'js>, data: Bytes<'js>| {
        let mac = sign(&algorithm, &bytes(&key), &bytes(&data))
            .map_err(|e| Exception::throw_type(&ctx, &format!("HMAC: {e}")))?;
        intrinsics::bytes(&ctx, &to.added, mac)
    };
    natives.set("hmac", Function::new(ctx.clone(), hmac)?)?;
    let uuid = || uuid::Uuid::new_v4().to_string();
    natives.set("randomUUID", Function::new(ctx.clone(), uuid)?)?;
    let to = link.clone();
    let random = move |ctx: Ctx<'js>, count: usize| {
        let data: Vec<u8> = (0..count.min(65536)).map(|_| rand::random()).collect();
        intrinsics::bytes(&ctx, &to.added, data)
    };
    natives.set("randomBytes", Function::new(ctx.clone(), random)?)
}

fn sign(algorithm: &str, key: &[u8], data: &[u8]) -> Result<Vec<u8>, hmac::digest::InvalidLength> {
    fn with<M: Mac + hmac::digest::KeyInit>(
        key: &[u8],
        data: &[u8],
    ) -> Result<Vec<u8>, hmac::digest::InvalidLength> {
        let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key)?;
        mac.update(data);
        Ok(mac.finalize().into_bytes().to_vec())
    }
    match algorithm {
        "SHA-1" => with::<Hmac<sha1::Sha1>>(key, data),
        "SHA-384" => with::<Hmac<sha2::Sha384>>(key, data),
        "SHA-512" => with::<Hmac<sha2::Sha512>>(key, data),
        _ => with::<Hmac<sha2::Sha256>>(key, data),
    }
}

/// A URL's parts in the prelude's order: href, origin, protocol, username, password, host,
/// hostname, port, pathname, search, hash.
fn url_parts(url: &url::Url) -> Vec<String> {
    use url::quirks;
    vec![
        quirks::href(url).to_string(),
        quirks::origin(url),
        quirks::protocol(url).to_string(),
        quirks::username(url).to_string(),
        quirks::password(url).to_string(),
        quirks::host(url).to_string(),
        quirks::hostname(url).to_string(),
        quirks::port(url).to_string(),
        quirks::pathname(url).to_string(),
        quirks::search(url).to_string(),
        quirks::hash(url).to_string(),
    ]
}

fn urls<'js>(ctx: &Ctx<'js>, natives: &Object<'js>) -> Out<()> {
    let parse = |input: String, base: Option<String>| {
        let base = match base {
            Some(base) => Some(url::Url::parse(&base).ok()?),
            None => None,
        };
        let parsed = url::Url::options()
            .base_url(base.as_ref())
            .parse(&input)
            .ok()?;
        Some(url_parts(&parsed))
    };
    natives.set("parseUrl", Function::new(ctx.clone(), parse)?)?;
    natives.set("setUrl", Function::new(ctx.clone(), set_url_part)?)?;
    let decode = |query: String| -> Vec<Vec<String>> {
        url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| vec![k.into_owned(), v.into_owned()])
            .collect()
    };
    natives.set("formDecode", Function::new(ctx.clone(), decode)?)?;
    let encode = |pairs: Vec<Vec<String>>| {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for pair in &pairs {
            if let [name, value] = pair.as_slice() {
                out.append_pair(name, value);
            }
        }
        out.finish()
    };
    natives.set("formEncode", Function::new(ctx.clone(), encode)?)
}

/// Sets one part of a URL as the WHATWG setters do (a value that does not fit is ignored).
fn set_url_part(href: String, part: String, value: String) -> Option<Vec<String>> {
    use url::quirks;
    let mut url = url::Url::parse(&href).ok()?;
    let _ = match part.as_str() {
        "protocol" => quirks::set_protocol(&mut url, &value),
        "username" => quirks::set_username(&mut url, &value),
        "password" => quirks::set_password(&mut url, &value),
        "host" => quirks::set_host(&mut url, &value),
        "hostname" => quirks::set_hostname(&mut url, &value),
        "port" => quirks::set_port(&mut url, &value),
        "pathname" => {
            quirks::set_pathname(&mut url, &value);
            Ok(())
        }
        "search" => {
            quirks::set_search(&mut url, &value);
            Ok(())
        }
        "hash" => {
            quirks::set_hash(&mut url, &value);
            Ok(())
        }
        _ => Err(()),
    };
    Some(url_parts(&url))
}
