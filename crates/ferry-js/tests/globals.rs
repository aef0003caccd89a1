//! The globals the sandbox adds to QuickJS's, each as web code expects it to behave.

mod common;

use common::{data, error};
use serde_json::json;

/// The data of a step whose body is `body` (an expression).
async fn eval(body: &str) -> serde_json::Value {
    data(&format!(
        "module.exports = async () => ({{ data: await (async () => {body})() }})"
    ))
    .await
}

/// The error of a step whose body is `body` (an expression that throws).
async fn thrown(body: &str) -> String {
    error(&format!(
        "module.exports = async () => ({{ data: await (async () => {body})() }})"
    ))
    .await
    .to_string()
}

#[tokio::test]
async fn btoa_and_atob_encode_latin1_text_as_base64() {
    assert_eq!(eval("btoa('hello')").await, json!("aGVsbG8="));
    assert_eq!(eval("atob('aGVs bG8')").await, json!("hello"));
    assert_eq!(
        eval("atob(btoa('\\u00ff\\u0000'))").await,
        json!("\u{ff}\u{0}")
    );
    let outside = error("module.exports = async () => ({ data: btoa('€') })").await;
    assert!(
        outside.to_string().contains("outside of Latin1"),
        "{outside}"
    );
}

#[tokio::test]
async fn text_encoder_and_decoder_speak_utf8() {
    assert_eq!(
        eval("Array.from(new TextEncoder().encode('é€'))").await,
        json!([195, 169, 226, 130, 172])
    );
    assert_eq!(
        eval("new TextDecoder().decode(new Uint8Array([0xef, 0xbb, 0xbf, 104, 105]))").await,
        json!("hi"),
        "the byte order mark is dropped"
    );
    assert_eq!(
        eval("new TextDecoder().decode(new Uint8Array([104, 0xff]))").await,
        json!("h\u{fffd}")
    );
    assert_eq!(
        eval("new TextDecoder().decode(new Uint8Array([0, 104, 105, 0]).subarray(1, 3))").await,
        json!("hi")
    );
    let fatal = error("module.exports = async () => ({ data: new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array([0xff])) })").await;
    assert!(fatal.to_string().contains("not valid utf-8"), "{fatal}");
    assert_eq!(
        eval("new TextEncoder().encode('\\ud800').length").await,
        json!(3),
        "a lone surrogate is U+FFFD"
    );
}

#[tokio::test]
async fn url_parses_resolves_and_edits_like_the_whatwg_url() {
    assert_eq!(
        eval("(() => { const u = new URL('../b?x=1#h', 'https://user:pw@example.com:8443/a/c'); return [u.href, u.origin, u.protocol, u.username, u.host, u.hostname, u.port, u.pathname, u.search, u.hash]; })()").await,
        json!(["https://user:pw@example.com:8443/b?x=1#h", "https://example.com:8443", "https:", "user", "example.com:8443", "example.com", "8443", "/b", "?x=1", "#h"])
    );
    assert_eq!(
        eval("(() => { const u = new URL('http://h/p'); u.searchParams.append('q', 'a b&c'); u.searchParams.set('n', '1'); u.pathname = '/x y'; u.hash = 'top'; return u.toString(); })()").await,
        json!("http://h/x%20y?q=a+b%26c&n=1#top")
    );
    assert_eq!(
        eval("[URL.canParse('nope'), URL.canParse('/p', 'http://h')]").await,
        json!([false, true])
    );
    let invalid = error("module.exports = async () => ({ data: new URL('not a url') })").await;
    assert!(
        invalid
            .to_string()
            .starts_with("TypeError: Invalid URL: not a url"),
        "{invalid}"
    );
    assert_eq!(
        eval("JSON.stringify({ u: new URL('http://h') })").await,
        json!("{\"u\":\"http://h/\"}")
    );
}

#[tokio::test]
async fn url_search_params_read_and_write_forms() {
    assert_eq!(
        eval("(() => { const p = new URLSearchParams('?a=1&b=x+y&a=2&c=%C3%A9'); return [p.get('a'), p.getAll('a'), p.get('b'), p.get('c'), p.has('z'), p.size]; })()").await,
        json!(["1", ["1", "2"], "x y", "é", false, 4])
    );
    assert_eq!(
        eval("(() => { const p = new URLSearchParams({ b: '2', a: 'x y!' }); p.append('a', '~'); p.sort(); p.delete('b'); return [p.toString(), [...p.keys()]]; })()").await,
        json!(["a=x+y%21&a=%7E", ["a", "a"]])
    );
}

#[tokio::test]
async fn crypto_gives_uuids_random_values_digests_and_hmacs() {
    let uuid = eval("crypto.randomUUID()").await;
    let uuid = uuid.as_str().unwrap();
    assert_eq!(uuid.len(), 36);
    assert_eq!(&uuid[14..15], "4", "version 4");
    assert_eq!(
        eval("crypto.getRandomValues(new Uint8Array(16)).length").await,
        json!(16)
    );
    let hex = "const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');";
    let digest = data(&format!("{hex} module.exports = async () => ({{ data: hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode('abc'))) }})")).await;
    assert_eq!(
        digest,
        json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    let signed = data(&format!(r#"{hex} module.exports = async () => {{
        const key = await crypto.subtle.importKey('raw', new TextEncoder().encode('key'), {{ name: 'HMAC', hash: 'SHA-256' }}, false, ['sign', 'verify']);
        const message = new TextEncoder().encode('The quick brown fox jumps over the lazy dog');
        const signature = await crypto.subtle.sign('HMAC', key, message);
        return {{ data: [hex(signature), await crypto.subtle.verify('HMAC', key, signature, message), await crypto.subtle.verify('HMAC', key, new Uint8Array(32), message)] }};
    }}"#)).await;
    assert_eq!(
        signed,
        json!([
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
            true,
            false
        ])
    );
    let unsupported = error("module.exports = async () => ({ data: await crypto.subtle.digest('MD4', new Uint8Array(1)) })").await;
    assert!(
        unsupported
            .to_string()
            .contains("Unrecognized algorithm name: MD4"),
        "{unsupported}"
    );
}

#[tokio::test]
async fn timers_fire_in_order_and_can_be_cleared() {
    assert_eq!(
        data(r#"module.exports = async () => {
            const order = [];
            const cancelled = setTimeout(() => order.push('never'), 5);
            clearTimeout(cancelled);
            setTimeout(() => order.push('late'), 30);
            setTimeout((word) => order.push(word), 10, 'early');
            queueMicrotask(() => order.push('microtask'));
            let ticks = 0;
            await new Promise((done) => { const id = setInterval(() => { order.push('tick'); if (++ticks === 2) { clearInterval(id); done(); } }, 1); });
            await new Promise((done) => setTimeout(done, 40));
            return { data: order };
        }"#).await,
        json!(["microtask", "tick", "tick", "early", "late"])
    );
}

#[tokio::test]
async fn an_error_thrown_in_a_timer_fails_the_step() {
    let problem = error("module.exports = () => new Promise(() => setTimeout(() => { throw new Error('in timer'); }, 1))").await;
    assert!(
        problem.to_string().starts_with("Error: in timer"),
        "{problem}"
    );
}

#[tokio::test]
async fn structured_clone_copies_deeply_keeping_types_and_cycles() {
    assert_eq!(
        eval("(() => { const a = { d: new Date(5), m: new Map([[1, { x: [1] }]]), s: new Set([2]), b: new Uint8Array([1, 2]) }; a.self = a; const c = structuredClone(a); c.m.get(1).x.push(2); return [c !== a, c.self === c, c.d instanceof Date && c.d.getTime(), a.m.get(1).x.length, c.m.get(1).x.length, c.s.has(2), c.b instanceof Uint8Array && c.b[1]]; })()").await,
        json!([true, true, 5, 1, 2, true, 2])
    );
    let function =
        error("module.exports = async () => ({ data: structuredClone({ f() {} }) })").await;
    assert!(
        function.to_string().starts_with("DataCloneError"),
        "{function}"
    );
}

#[tokio::test]
async fn console_and_the_quickjs_builtins_are_there() {
    assert_eq!(
        eval("[typeof console.log, typeof performance.now, typeof queueMicrotask, typeof DOMException, typeof Headers, typeof Response, typeof AbortController]").await,
        json!(["function", "function", "function", "function", "function", "function", "function"])
    );
}

// QuickJS's less used intrinsics (typed arrays, `Map` and `Set`, `Date`, `DOMException`) are
// added to a step's context on first use: each must work as if it had always been there,
// whichever of them comes first.

#[tokio::test]
async fn every_intrinsic_works_on_first_use_in_a_fresh_step() {
    let firsts = [
        ("new Map([[1, 'a']]).get(1)", json!("a")),
        ("[...new Set([1, 1, 2])]", json!([1, 2])),
        ("new WeakMap([[{}, 1]]) instanceof WeakMap", json!(true)),
        (
            "new Date(0).toISOString()",
            json!("1970-01-01T00:00:00.000Z"),
        ),
        ("Array.from(new Uint8Array([1, 2]))", json!([1, 2])),
        ("new DataView(new ArrayBuffer(2)).byteLength", json!(2)),
        ("Atomics.add(new Int32Array(1), 0, 5)", json!(0)),
        ("new Float64Array([1.5])[0]", json!(1.5)),
        ("new Proxy({}, { get: () => 7 }).x", json!(7)),
        ("((o) => new WeakRef(o).deref() === o)({})", json!(true)),
        ("typeof FinalizationRegistry", json!("function")),
        ("performance.now() >= 0", json!(true)),
        (
            "new DOMException('m', 'AbortError').name",
            json!("AbortError"),
        ),
    ];
    for (first, expected) in firsts {
        assert_eq!(eval(first).await, expected, "{first}");
    }
}

#[tokio::test]
async fn natives_make_typed_arrays_and_dom_exceptions_before_the_step_used_any() {
    assert_eq!(
        eval("Object.prototype.toString.call(new TextEncoder().encode('a'))").await,
        json!("[object Uint8Array]")
    );
    assert_eq!(
        eval("crypto.subtle.digest('SHA-256', 'a').then((d) => d instanceof ArrayBuffer && d.byteLength)")
            .await,
        json!(32)
    );
    assert_eq!(
        eval("(() => { try { atob('*'); } catch (e) { return [e instanceof DOMException, e.name]; } })()")
            .await,
        json!([true, "InvalidCharacterError"])
    );
}

#[tokio::test]
async fn a_step_can_replace_intrinsics_before_and_after_their_first_use() {
    assert_eq!(
        eval("(globalThis.Uint8Array = 'mine', [new ArrayBuffer(3).byteLength, Uint8Array])").await,
        json!([3, "mine"]),
        "assigned before any of its group was used"
    );
    assert_eq!(
        eval("(globalThis.Date = 'mine', Date)").await,
        json!("mine"),
        "the only global of its group"
    );
    assert_eq!(
        eval("(typeof Map, Object.defineProperty(globalThis, 'Set', { value: 'mine', configurable: true }), delete globalThis.WeakSet, [Set, typeof WeakSet, new Map().size])")
            .await,
        json!(["mine", "undefined", 0]),
        "defined and deleted after its group was used"
    );
    assert_eq!(
        eval("Object.getOwnPropertyDescriptor(globalThis, (typeof Map, 'Map')).writable").await,
        json!(true),
        "once used, a plain writable global"
    );
}

#[tokio::test]
async fn a_step_that_pins_an_intrinsics_name_before_its_use_gets_an_error_not_a_crash() {
    let pinned = thrown("(Object.defineProperty(globalThis, 'Atomics', { value: 1, configurable: false }), new Uint8Array(1).length)").await;
    assert!(
        pinned.contains("made the global Atomics non-configurable"),
        "{pinned}"
    );
    let frozen = thrown("(Object.preventExtensions(globalThis), typeof Map)").await;
    assert!(
        frozen.contains("made the global object non-extensible"),
        "{frozen}"
    );
    assert_eq!(
        eval("new Uint8Array(2).length").await,
        json!(2),
        "the next step"
    );
}

#[tokio::test]
async fn intrinsics_a_step_changed_are_new_again_in_the_next_step() {
    assert_eq!(
        eval("(Map.prototype.get = () => 'patched', new Map([[1, 'a']]).get(1))").await,
        json!("patched")
    );
    assert_eq!(eval("new Map([[1, 'a']]).get(1)").await, json!("a"));
}
