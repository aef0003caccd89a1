//! The `hash.*` actions: digests, HMAC signatures and constant-time comparison.
//!
//! Data and secrets are text (its UTF-8 bytes) or binary values `{ contentType, base64 }`.
//! Digests and signatures are written as lowercase hex, or base64 when `encoding` says so;
//! signatures to verify may be either, optionally prefixed like `sha256=` or `v0=`.

use base64::Engine as _;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Digest as _;
use subtle::ConstantTimeEq as _;

use super::inputs::kind;
use super::{bytes_of, ActionError, Inputs};

/// Runs `action`, or `None` when it is not a `hash.*` action.
pub(super) fn run(action: &str, inputs: &Inputs) -> Option<Result<Value, ActionError>> {
    let result = match action {
        "hash.digest" => digest(inputs),
        "hash.hmacSign" => hmac_sign(inputs),
        "hash.hmacVerify" => hmac_verify(inputs),
        "hash.compare" => compare(inputs),
        _ => return None,
    };
    Some(result)
}

/// The timestamp of a `v0` signature may be this many seconds from now, unless
/// `toleranceSeconds` says otherwise.
const DEFAULT_TOLERANCE_SECONDS: f64 = 300.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

use Algorithm::{Md5, Sha1, Sha256, Sha512};

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Md5 => "md5",
            Sha1 => "sha1",
            Sha256 => "sha256",
            Sha512 => "sha512",
        }
    }

    fn named(name: &str) -> Option<Self> {
        [Md5, Sha1, Sha256, Sha512]
            .into_iter()
            .find(|algorithm| algorithm.name() == name)
    }

    /// Bytes in a digest or signature.
    fn output_len(self) -> usize {
        match self {
            Md5 => 16,
            Sha1 => 20,
            Sha256 => 32,
            Sha512 => 64,
        }
    }
}

/// The algorithms HMAC actions accept. `algorithm` refuses md5 for them, so their `match`es
/// need no arm of its own for it.
const HMAC_ALGORITHMS: &[Algorithm] = &[Sha256, Sha1, Sha512];

/// The `algorithm` input, one of `valid`, or `default` when not given.
fn algorithm(
    inputs: &Inputs,
    valid: &[Algorithm],
    default: Option<Algorithm>,
) -> Result<Algorithm, ActionError> {
    let name = match (inputs.opt_text("algorithm")?, default) {
        (None, Some(default)) => return Ok(default),
        (None, None) => return Err(ActionError::input("algorithm", "is required")),
        (Some(name), _) => name,
    };
    Algorithm::named(&name.to_ascii_lowercase())
        .filter(|algorithm| valid.contains(algorithm))
        .ok_or_else(|| {
            let names: Vec<&str> = valid.iter().map(|a| a.name()).collect();
            ActionError::input(
                "algorithm",
                format!("must be one of {}, got `{name}`", names.join(", ")),
            )
        })
}

fn digest(inputs: &Inputs) -> Result<Value, ActionError> {
    let data = bytes(inputs, "data")?;
    let algorithm = algorithm(inputs, &[Sha1, Sha256, Sha512, Md5], None)?;
    let hashed = match algorithm {
        Md5 => md5::Md5::digest(&data).to_vec(),
        Sha1 => sha1::Sha1::digest(&data).to_vec(),
        Sha256 => sha2::Sha256::digest(&data).to_vec(),
        Sha512 => sha2::Sha512::digest(&data).to_vec(),
    };
    encode(inputs, &hashed)
}

fn hmac_sign(inputs: &Inputs) -> Result<Value, ActionError> {
    let data = bytes(inputs, "data")?;
    let secret = bytes(inputs, "secret")?;
    let algorithm = algorithm(inputs, HMAC_ALGORITHMS, Some(Sha256))?;
    let parts: [&[u8]; 1] = [&data];
    let signature = match algorithm {
        Sha1 => sign::<Hmac<sha1::Sha1>>(&secret, &parts)?,
        Sha512 => sign::<Hmac<sha2::Sha512>>(&secret, &parts)?,
        _ => sign::<Hmac<sha2::Sha256>>(&secret, &parts)?,
    };
    encode(inputs, &signature)
}

/// An HMAC over `parts`, keyed with `secret`, finished as bytes.
fn sign<M: Mac + KeyInit>(secret: &[u8], parts: &[&[u8]]) -> Result<Vec<u8>, ActionError> {
    Ok(keyed::<M>(secret, parts)?.finalize().into_bytes().to_vec())
}

/// Whether `signature` is the HMAC over `parts` keyed with `secret`, compared in constant time.
fn verify<M: Mac + KeyInit>(
    secret: &[u8],
    parts: &[&[u8]],
    signature: &[u8],
) -> Result<bool, ActionError> {
    Ok(keyed::<M>(secret, parts)?.verify_slice(signature).is_ok())
}

fn keyed<M: Mac + KeyInit>(secret: &[u8], parts: &[&[u8]]) -> Result<M, ActionError> {
    // HMAC takes keys of any length, so this does not fail.
    let mut mac = <M as KeyInit>::new_from_slice(secret)
        .map_err(|_| ActionError::input("secret", "cannot key an HMAC"))?;
    for part in parts {
        mac.update(part);
    }
    Ok(mac)
}

fn hmac_verify(inputs: &Inputs) -> Result<Value, ActionError> {
    let data = bytes(inputs, "data")?;
    let secret = bytes(inputs, "secret")?;
    let algorithm = algorithm(inputs, HMAC_ALGORITHMS, Some(Sha256))?;
    let v0 = match inputs.opt_text("scheme")?.as_deref() {
        None | Some("plain") => false,
        Some("v0") => true,
        Some(other) => {
            return Err(ActionError::input(
                "scheme",
                format!("must be plain or v0, got `{other}`"),
            ))
        }
    };
    let signature = signature(inputs, algorithm)?;
    let prefix = if v0 {
        format!("v0:{}:", fresh_timestamp(inputs)?)
    } else {
        String::new()
    };
    let parts: [&[u8]; 2] = [prefix.as_bytes(), &data];
    let matches = match algorithm {
        Sha1 => verify::<Hmac<sha1::Sha1>>(&secret, &parts, &signature)?,
        Sha512 => verify::<Hmac<sha2::Sha512>>(&secret, &parts, &signature)?,
        _ => verify::<Hmac<sha2::Sha256>>(&secret, &parts, &signature)?,
    };
    if matches {
        Ok(Value::Bool(true))
    } else {
        Err(ActionError::Failed("signature does not match".to_string()))
    }
}

/// The `signature` input's bytes: hex or base64, after an optional `<tag>=` prefix.
fn signature(inputs: &Inputs, algorithm: Algorithm) -> Result<Vec<u8>, ActionError> {
    let text = inputs.text("signature")?;
    let text = text.trim();
    let encoded = match text.split_once('=') {
        Some((tag, rest)) if is_tag(tag) && !rest.is_empty() && !rest.starts_with('=') => {
            if let Some(named) = Algorithm::named(&tag.to_ascii_lowercase()) {
                if named != algorithm {
                    return Err(ActionError::input(
                        "signature",
                        format!("is marked `{tag}=` but algorithm is {}", algorithm.name()),
                    ));
                }
            }
            rest
        }
        _ => text,
    };
    decode(encoded, algorithm.output_len()).ok_or_else(|| {
        ActionError::input(
            "signature",
            format!(
                "is not a {} signature: expected {} hex digits or base64",
                algorithm.name(),
                algorithm.output_len() * 2
            ),
        )
    })
}

/// Whether `tag` looks like the `sha256` of `sha256=<hex>`.
fn is_tag(tag: &str) -> bool {
    (1..=10).contains(&tag.len()) && tag.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Hex or base64 holding exactly `len` bytes.
fn decode(encoded: &str, len: usize) -> Option<Vec<u8>> {
    if encoded.len() == len * 2 {
        if let Some(bytes) = from_hex(encoded) {
            return Some(bytes);
        }
    }
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE,
    ];
    engines
        .iter()
        .find_map(|engine| engine.decode(encoded).ok())
        .filter(|bytes| bytes.len() == len)
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    let digits: Option<Vec<u8>> = text
        .chars()
        .map(|c| c.to_digit(16).and_then(|d| u8::try_from(d).ok()))
        .collect();
    let digits = digits?;
    if digits.len() % 2 != 0 {
        return None;
    }
    Some(
        digits
            .chunks_exact(2)
            .filter_map(|pair| match pair {
                [high, low] => Some((high << 4) | low),
                _ => None,
            })
            .collect(),
    )
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// The `timestamp` input of a `v0` signature, as given, once it is within `toleranceSeconds`
/// of now.
fn fresh_timestamp(inputs: &Inputs) -> Result<String, ActionError> {
    let text = inputs.text("timestamp")?.trim().to_string();
    let seconds: i64 = text.parse().map_err(|_| {
        ActionError::input(
            "timestamp",
            format!("must be whole seconds since the epoch, got `{text}`"),
        )
    })?;
    let tolerance = inputs
        .opt_number("toleranceSeconds")?
        .unwrap_or(DEFAULT_TOLERANCE_SECONDS);
    if tolerance.is_nan() || tolerance < 0.0 {
        return Err(ActionError::input(
            "toleranceSeconds",
            format!("must be at least 0, got {tolerance}"),
        ));
    }
    let age = chrono::Utc::now().timestamp().saturating_sub(seconds);
    if age.unsigned_abs() as f64 > tolerance {
        let when = if age >= 0 {
            format!("{age} s old")
        } else {
            format!("{} s in the future", age.unsigned_abs())
        };
        return Err(ActionError::Failed(format!(
            "signature timestamp is stale: {when}, more than the {tolerance} s allowed"
        )));
    }
    Ok(text)
}

fn compare(inputs: &Inputs) -> Result<Value, ActionError> {
    let a = comparable(inputs.required("a")?);
    let b = comparable(inputs.required("b")?);
    Ok(Value::Bool(a.ct_eq(&b).into()))
}

/// What `compare` compares: the bytes of text and binary values, the JSON text of others (so a
/// number equals the text of its digits).
fn comparable(value: &Value) -> Vec<u8> {
    bytes_of(value).unwrap_or_else(|| value.to_string().into_bytes())
}

/// The bytes of input `key`: text (numbers and booleans written out) or a binary value.
fn bytes(inputs: &Inputs, key: &str) -> Result<Vec<u8>, ActionError> {
    let value = inputs.required(key)?;
    match value {
        Value::Number(_) | Value::Bool(_) => Ok(value.to_string().into_bytes()),
        _ => bytes_of(value).ok_or_else(|| {
            ActionError::input(
                key,
                format!(
                    "expected text or a binary value {{ contentType, base64 }} with valid \
                     base64, got {}",
                    kind(value)
                ),
            )
        }),
    }
}

/// A digest or signature written per the `encoding` input: hex (the default) or base64.
fn encode(inputs: &Inputs, bytes: &[u8]) -> Result<Value, ActionError> {
    match inputs.opt_text("encoding")?.as_deref() {
        None | Some("hex") => Ok(to_hex(bytes).into()),
        Some("base64") => Ok(base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .into()),
        Some(other) => Err(ActionError::input(
            "encoding",
            format!("must be hex or base64, got `{other}`"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::binary_value;
    use super::*;

    fn call(action: &str, inputs: Value) -> Result<Value, ActionError> {
        run(action, &Inputs::from(inputs.as_object().unwrap().clone())).unwrap()
    }

    fn input_error(result: Result<Value, ActionError>) -> (String, String) {
        match result {
            Err(ActionError::Input { input, message }) => (input, message),
            other => panic!("expected an input error, got {other:?}"),
        }
    }

    fn failure(result: Result<Value, ActionError>) -> String {
        match result {
            Err(ActionError::Failed(message)) => message,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    /// RFC 4231 test case 2 (RFC 2202 for SHA-1).
    const KEY: &str = "Jefe";
    const DATA: &str = "what do ya want for nothing?";
    const HMAC_SHA256: &str = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    const HMAC_SHA1: &str = "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79";
    const HMAC_SHA512: &str = "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
                               9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737";

    #[test]
    fn unknown_actions_are_not_hash_actions() {
        assert!(run("hash.crc32", &Inputs::default()).is_none());
        assert!(run("text.trim", &Inputs::default()).is_none());
    }

    #[test]
    fn digest_gives_lowercase_hex() {
        let cases = [
            ("md5", "900150983cd24fb0d6963f7d28e17f72"),
            ("sha1", "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (
                "sha256",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                "SHA512",
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                 2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            ),
        ];
        for (algorithm, expected) in cases {
            let out = call(
                "hash.digest",
                json!({"data": "abc", "algorithm": algorithm}),
            );
            assert_eq!(out.unwrap(), json!(expected), "{algorithm}");
        }
    }

    #[test]
    fn digest_reads_binary_data_and_can_write_base64() {
        let data = binary_value(b"abc", "application/octet-stream");
        let out = call(
            "hash.digest",
            json!({"data": data, "algorithm": "sha256", "encoding": "base64"}),
        );
        assert_eq!(
            out.unwrap(),
            json!("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
        );
    }

    #[test]
    fn digest_refuses_unknown_algorithms_listing_the_valid_ones() {
        let (input, message) = input_error(call(
            "hash.digest",
            json!({"data": "a", "algorithm": "crc32"}),
        ));
        assert_eq!(input, "algorithm");
        assert!(message.contains("sha1, sha256, sha512, md5"), "{message}");
        let (input, _) = input_error(call("hash.digest", json!({"data": "a"})));
        assert_eq!(input, "algorithm");
    }

    #[test]
    fn data_is_text_or_binary() {
        let (input, message) = input_error(call(
            "hash.digest",
            json!({"data": {"a": 1}, "algorithm": "md5"}),
        ));
        assert_eq!(input, "data");
        assert!(message.contains("an object"), "{message}");
        let bad = json!({"contentType": "x", "base64": "!!"});
        let (input, _) = input_error(call(
            "hash.digest",
            json!({"data": bad, "algorithm": "md5"}),
        ));
        assert_eq!(input, "data");
        let (input, _) = input_error(call("hash.digest", json!({"algorithm": "md5"})));
        assert_eq!(input, "data");
        let (input, _) = input_error(call(
            "hash.digest",
            json!({"data": "a", "algorithm": "md5", "encoding": "hex2"}),
        ));
        assert_eq!(input, "encoding");
    }

    #[test]
    fn hmac_sign_matches_the_rfc_test_vectors() {
        let cases = [
            (None, HMAC_SHA256),
            (Some("sha1"), HMAC_SHA1),
            (Some("sha512"), HMAC_SHA512),
        ];
        for (algorithm, expected) in cases {
            let out = call(
                "hash.hmacSign",
                json!({"data": DATA, "secret": KEY, "algorithm": algorithm}),
            );
            assert_eq!(out.unwrap(), json!(expected), "{algorithm:?}");
        }
    }

    #[test]
    fn hmac_sign_refuses_md5_and_needs_a_secret() {
        let (input, message) = input_error(call(
            "hash.hmacSign",
            json!({"data": "a", "secret": "k", "algorithm": "md5"}),
        ));
        assert_eq!(input, "algorithm");
        assert!(message.contains("sha256, sha1, sha512"), "{message}");
        let (input, _) = input_error(call("hash.hmacSign", json!({"data": "a"})));
        assert_eq!(input, "secret");
    }

    #[test]
    fn hmac_verify_accepts_hex_base64_and_prefixed_signatures() {
        let base64 =
            base64::engine::general_purpose::STANDARD.encode(from_hex(HMAC_SHA256).unwrap());
        let signatures = [
            HMAC_SHA256.to_string(),
            HMAC_SHA256.to_uppercase(),
            format!("sha256={HMAC_SHA256}"),
            base64,
        ];
        for signature in signatures {
            let out = call(
                "hash.hmacVerify",
                json!({"data": DATA, "secret": KEY, "signature": signature}),
            );
            assert_eq!(out.unwrap(), json!(true), "{signature}");
        }
        let out = call(
            "hash.hmacVerify",
            json!({
                "data": DATA,
                "secret": KEY,
                "signature": format!("sha1={HMAC_SHA1}"),
                "algorithm": "sha1",
            }),
        );
        assert_eq!(out.unwrap(), json!(true));
    }

    #[test]
    fn hmac_verify_fails_when_the_signature_does_not_match() {
        let out = call(
            "hash.hmacVerify",
            json!({"data": "tampered", "secret": KEY, "signature": HMAC_SHA256}),
        );
        assert_eq!(failure(out), "signature does not match");
    }

    #[test]
    fn hmac_verify_refuses_signatures_that_cannot_be_one() {
        let cases = [
            json!("abc"),
            json!(&HMAC_SHA256[..62]),
            json!(format!("sha1={HMAC_SHA256}")),
            json!({}),
        ];
        for signature in cases {
            let (input, _) = input_error(call(
                "hash.hmacVerify",
                json!({"data": DATA, "secret": KEY, "signature": signature}),
            ));
            assert_eq!(input, "signature", "{signature}");
        }
        let (input, _) = input_error(call(
            "hash.hmacVerify",
            json!({"data": DATA, "secret": KEY, "signature": HMAC_SHA256, "scheme": "v1"}),
        ));
        assert_eq!(input, "scheme");
    }

    /// Slack's documented example request.
    #[test]
    fn hmac_verify_v0_signs_version_timestamp_and_body() {
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow\
                    &channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA\
                    &user_name=roadrunner&command=%2Fwebhook-collect&text=\
                    &response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J\
                    %2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN\
                    &trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let out = call(
            "hash.hmacVerify",
            json!({
                "data": body,
                "secret": "8f742231b10e8888abcd99yyyzzz85a5",
                "signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
                "scheme": "v0",
                "timestamp": "1531420618",
                "toleranceSeconds": 1e12,
            }),
        );
        assert_eq!(out.unwrap(), json!(true));
    }

    #[test]
    fn hmac_verify_v0_fails_on_a_stale_timestamp_before_checking_the_signature() {
        let now = chrono::Utc::now().timestamp();
        let sign = |timestamp: i64| {
            let data = format!("v0:{timestamp}:body");
            let signed = call("hash.hmacSign", json!({"data": data, "secret": "s"})).unwrap();
            format!("v0={}", signed.as_str().unwrap())
        };
        let verify = |timestamp: i64, signature: &str, tolerance: Value| {
            call(
                "hash.hmacVerify",
                json!({
                    "data": "body", "secret": "s", "signature": signature, "scheme": "v0",
                    "timestamp": timestamp, "toleranceSeconds": tolerance,
                }),
            )
        };
        assert_eq!(verify(now, &sign(now), json!(null)).unwrap(), json!(true));
        let old = now - 301;
        let message = failure(verify(old, &sign(old), json!(null)));
        assert!(
            message.contains("stale") && message.contains("old"),
            "{message}"
        );
        assert_eq!(verify(old, &sign(old), json!(400)).unwrap(), json!(true));
        let ahead = now + 1000;
        let message = failure(verify(ahead, &sign(ahead), json!(300)));
        assert!(message.contains("in the future"), "{message}");
        let message = failure(verify(now, &sign(now - 1), json!(null)));
        assert_eq!(message, "signature does not match");
    }

    #[test]
    fn hmac_verify_v0_needs_a_timestamp_in_seconds_and_a_sane_tolerance() {
        let base = json!({"data": "b", "secret": "s", "signature": HMAC_SHA256, "scheme": "v0"});
        let with = |key: &str, value: Value| {
            let mut inputs = base.clone();
            inputs[key] = value;
            call("hash.hmacVerify", inputs)
        };
        assert_eq!(
            input_error(call("hash.hmacVerify", base.clone())).0,
            "timestamp"
        );
        assert_eq!(input_error(with("timestamp", json!("soon"))).0, "timestamp");
        let mut inputs = base.clone();
        inputs["timestamp"] = json!(chrono::Utc::now().timestamp());
        inputs["toleranceSeconds"] = json!(-5);
        assert_eq!(
            input_error(call("hash.hmacVerify", inputs)).0,
            "toleranceSeconds"
        );
    }

    #[test]
    fn compare_is_equality_of_bytes_with_other_values_as_json_text() {
        let cases = [
            (json!("secret"), json!("secret"), true),
            (json!("secret"), json!("secreT"), false),
            (json!("abc"), binary_value(b"abc", "text/plain"), true),
            (json!({"a": [1]}), json!({"a": [1]}), true),
            (json!(1), json!("1"), true),
            (json!(true), json!("yes"), false),
            (json!(""), json!("x"), false),
        ];
        for (a, b, equal) in cases {
            let out = call("hash.compare", json!({"a": a, "b": b}));
            assert_eq!(out.unwrap(), json!(equal), "{a} {b}");
        }
    }

    #[test]
    fn compare_needs_both_values() {
        assert_eq!(input_error(call("hash.compare", json!({"a": "x"}))).0, "b");
        assert_eq!(input_error(call("hash.compare", json!({"b": "x"}))).0, "a");
    }
}
