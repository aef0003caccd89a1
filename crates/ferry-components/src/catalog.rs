//! The built-in actions: keys, shapes, descriptions and inputs (`*` marks a required input).

use std::collections::BTreeMap;

use ferry_definition::{ActionKind, ActionSpec, Catalog, InputProblem, InputSpec};
use serde_json::Value;

/// One input of a built-in action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinInput {
    /// The key in a step's `inputs`.
    pub key: &'static str,
    /// Whether steps must give it.
    pub required: bool,
    /// What it is.
    pub description: &'static str,
}

/// One built-in action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinAction {
    /// `<component>.<action>`.
    pub key: &'static str,
    /// Plain, branch or loop.
    pub kind: ActionKind,
    /// What it does.
    pub description: &'static str,
    /// What its result holds.
    pub output: &'static str,
    /// Its inputs.
    pub inputs: &'static [BuiltinInput],
}

const fn req(key: &'static str, description: &'static str) -> BuiltinInput {
    BuiltinInput {
        key,
        required: true,
        description,
    }
}

const fn opt(key: &'static str, description: &'static str) -> BuiltinInput {
    BuiltinInput {
        key,
        required: false,
        description,
    }
}

const fn plain(
    key: &'static str,
    description: &'static str,
    output: &'static str,
    inputs: &'static [BuiltinInput],
) -> BuiltinAction {
    BuiltinAction {
        key,
        kind: ActionKind::Plain,
        description,
        output,
        inputs,
    }
}

const ITEMS: BuiltinInput = req("items", "The list to work on");
const TEXT: BuiltinInput = req("text", "The text to work on");
const SCOPE: BuiltinInput = req("scope", "execution, flow, instance or integration");
const STATE_KEY: BuiltinInput = req("key", "The state key");
const TIME: &str =
    "The time: RFC 3339 text (UTC when it has no offset) or milliseconds since the epoch";
const TIME_FORMAT: &str =
    "rfc3339, rfc2822, unix (seconds), unixMillis or a strftime pattern such as `%Y-%m-%d %H:%M`";
const DATA: &str = "The data: text or a binary value";

static ACTIONS: &[BuiltinAction] = &[
    plain(
        "http.request",
        "Sends an HTTP request and returns the response; a status outside 2xx fails the step \
         with the method, the URL (without its query) and the start of the body",
        "`{ statusCode, headers, data }`: the response (header names lower-cased, repeated \
         headers joined by `, `), `data` read per responseType. With pagination, `data` is every page's items in order, `pages` \
         how many were fetched and `hasMore` whether maxPages stopped it early; statusCode and \
         headers are the last page's. Responses over 50 MB (all pages together) fail the step",
        &[
            req(
                "url",
                "Absolute http(s) URL, or a path put after baseUrl (an absolute url ignores baseUrl)",
            ),
            opt("baseUrl", "Prefix of url, joined to it with one `/`"),
            opt(
                "method",
                "GET (default), POST, PUT, PATCH, DELETE, HEAD or OPTIONS, in any case",
            ),
            opt(
                "connection",
                "A connection config variable whose inputs authenticate the request: \
                 `{ apiKey }` sends `Authorization: Bearer <apiKey>`; `{ apiKey, headerName }` \
                 sends the key as it is in that header; `{ token }` or `{ accessToken }` sends \
                 `Authorization: Bearer <token>`; `{ username, password }` uses Basic auth. \
                 Other shapes are an input error; credentials never appear in errors or results",
            ),
            opt(
                "queryParams",
                "Query parameters, as a map added to url's own; a list repeats the parameter, \
                 null leaves it out",
            ),
            opt(
                "headers",
                "Request headers, as a map; they replace same-named headers from connection \
                 and useIdempotencyKey",
            ),
            opt("data", "The request body, sent as bodyType says"),
            opt(
                "bodyType",
                "json (default); form (an object, URL-encoded, lists repeat the field); \
                 multipart (an object: text fields, and binary values \
                 `{ contentType, base64, fileName? }` as file parts); raw (text, or a binary \
                 value, sent as it is). A Content-Type in headers wins, except for multipart",
            ),
            opt(
                "responseType",
                "json (default: parsed; text when the body is not JSON; null when empty), \
                 text, or binary (`{ contentType, base64 }`)",
            ),
            opt(
                "timeoutSeconds",
                "Give up on each request (each page) after this many seconds, 1 to 900 \
                 (30 by default); the step then times out",
            ),
            opt(
                "tlsCaCertificate",
                "PEM certificates (one or more) to trust besides the public roots, such as a \
                 private CA's or a self-signed server's",
            ),
            opt(
                "tlsClientCertificate",
                "A PEM client certificate (and its chain) presented for mutual TLS; needs \
                 tlsClientKey",
            ),
            opt(
                "tlsClientKey",
                "The PEM private key (PKCS#8, PKCS#1 or SEC1) of tlsClientCertificate; use a \
                 connection or secret config variable, never a literal",
            ),
            opt(
                "tlsInsecure",
                "DANGEROUS: true accepts any server certificate (expired, self-signed, for \
                 another host), so anyone on the path can read and change the traffic. For \
                 local testing only; prefer tlsCaCertificate",
            ),
            opt(
                "useIdempotencyKey",
                "Send the step's idempotency key, the same each time the step runs again, \
                 as Idempotency-Key",
            ),
            opt(
                "pagination",
                "Fetch every page of a list (pages are read as JSON): \
                 `{ type: linkHeader }` follows the Link header's `rel=\"next\"`; \
                 `{ type: cursor, cursorField, cursorParam }` sends the value at cursorField \
                 (a dotted path, required) as query parameter cursorParam (`cursor`) until it is \
                 absent, null or empty; `{ type: pageNumber, pageParam, startPage }` counts \
                 pageParam (`page`) up from startPage (1) until a page is empty; \
                 `{ type: offset, offsetParam, limitParam, limit }` moves offsetParam (`offset`, \
                 from 0) by limit (100, sent as limitParam `limit`) until a page is short. \
                 itemsField is the dotted path to each page's items (absent: the page is the \
                 list; a missing or null field is an empty page); maxPages (100, at most \
                 10000) caps the pages fetched",
            ),
        ],
    ),
    BuiltinAction {
        key: "branch.onValue",
        kind: ActionKind::Branch,
        description: "Takes the branch whose value equals the input",
        output: "The name of the branch taken",
        inputs: &[req(
            "value",
            "The value to match against each branch's value",
        )],
    },
    BuiltinAction {
        key: "branch.onExpression",
        kind: ActionKind::Branch,
        description: "Takes the first branch whose condition holds",
        output: "The name of the branch taken",
        inputs: &[],
    },
    plain(
        "branch.selectExecutedStepResult",
        "Returns the result of whichever of the given steps ran",
        "The result of the step that ran",
        &[req(
            "stepResults",
            "References to the candidate steps' results",
        )],
    ),
    BuiltinAction {
        key: "loop.overItems",
        kind: ActionKind::Loop,
        description: "Runs its steps once per item",
        output: "The list of each iteration's last step result",
        inputs: &[
            ITEMS,
            opt("concurrency", "Items run at once (1 by default)"),
        ],
    },
    BuiltinAction {
        key: "loop.nTimes",
        kind: ActionKind::Loop,
        description: "Runs its steps a number of times",
        output: "The list of each iteration's last step result",
        inputs: &[req("iterations", "How many times")],
    },
    plain("loop.break", "Ends the enclosing loop", "Nothing", &[]),
    plain(
        "code.run",
        "Runs JavaScript or TypeScript",
        "The `data` the code returns (with `statusCode`, `headers`, `contentType` when given)",
        &[
            req(
                "code",
                "module.exports = async (context, stepResults) => ({ data })",
            ),
            opt(
                "language",
                "javascript (default) or typescript: TypeScript has its types stripped (no \
                 type checking); code in either is checked for syntax errors at import",
            ),
        ],
    ),
    plain(
        "log.write",
        "Writes a line to the execution's logs",
        "Nothing",
        &[
            req("message", "The line"),
            opt("level", "debug, info (default), warn or error"),
        ],
    ),
    plain(
        "state.get",
        "Reads a state value",
        "The stored value, or null",
        &[SCOPE, STATE_KEY],
    ),
    plain(
        "state.set",
        "Writes a state value",
        "The value written",
        &[SCOPE, STATE_KEY, req("value", "The value")],
    ),
    plain(
        "state.append",
        "Appends to a list in state",
        "The list after appending",
        &[SCOPE, STATE_KEY, req("value", "The item")],
    ),
    plain(
        "state.delete",
        "Removes a state value",
        "Nothing",
        &[SCOPE, STATE_KEY],
    ),
    plain(
        "flow.invoke",
        "Runs another flow of the instance",
        "The invoked flow's result when synchronous, else `{ executionId }`",
        &[
            req("flow", "The flow's name"),
            opt("data", "Its payload"),
            opt("synchronous", "Wait for its result (30 s at most)"),
        ],
    ),
    plain(
        "flow.stop",
        "Ends the execution, answering a synchronous caller",
        "Nothing; the execution ends with this response",
        &[
            opt("statusCode", "HTTP status"),
            opt("headers", "Response headers"),
            opt("body", "Response body"),
            opt("contentType", "Content type of the body"),
        ],
    ),
    plain(
        "collection.chunk",
        "Splits a list into lists of a size",
        "A list of lists, the last one shorter when the items do not divide evenly",
        &[
            ITEMS,
            req("size", "Items per chunk, a whole number of at least 1"),
        ],
    ),
    plain(
        "collection.flatten",
        "Flattens a list of lists by one level",
        "A list; items that are not lists stay as they are",
        &[ITEMS],
    ),
    plain(
        "collection.dedupe",
        "Drops repeated items, keeping the first of each",
        "A list",
        &[
            ITEMS,
            opt(
                "key",
                "Compare by this field of object items; `a.b` reaches into nested objects",
            ),
        ],
    ),
    plain(
        "collection.group",
        "Groups object items by a field",
        "An object from each field value, as text, to the list of items holding it \
         (items without the field under `null`)",
        &[
            ITEMS,
            req("key", "The field; `a.b` reaches into nested objects"),
        ],
    ),
    plain(
        "collection.sort",
        "Sorts items, keeping equal ones in their order",
        "A list: numbers by value, then text, then booleans, lists and objects; \
         null and items without the field last in either direction",
        &[
            ITEMS,
            opt(
                "key",
                "Sort by this field of object items; `a.b` reaches into nested objects",
            ),
            opt("direction", "asc (default) or desc"),
        ],
    ),
    plain(
        "collection.mapKeys",
        "Renames the fields of each object item",
        "A list; fields not in the mapping stay, and a renamed field replaces one of its new name",
        &[ITEMS, req("mapping", "Old name to new name")],
    ),
    plain(
        "text.replace",
        "Replaces every occurrence of a text",
        "Text",
        &[
            TEXT,
            req("find", "The text to find (not empty)"),
            req("replacement", "What to put instead"),
        ],
    ),
    plain(
        "text.split",
        "Splits text into a list",
        "A list of text",
        &[
            TEXT,
            req(
                "separator",
                "Where to split; empty text splits into characters",
            ),
        ],
    ),
    plain(
        "text.join",
        "Joins a list into text",
        "Text; items that are not text are written out (null as nothing, lists and objects \
         as JSON)",
        &[ITEMS, opt("separator", "Between items (none by default)")],
    ),
    plain(
        "text.trim",
        "Removes surrounding white space",
        "Text",
        &[TEXT],
    ),
    plain("text.lowerCase", "Lower-cases text", "Text", &[TEXT]),
    plain("text.upperCase", "Upper-cases text", "Text", &[TEXT]),
    plain(
        "text.substring",
        "Cuts part of a text, counting characters (not bytes)",
        "Text; positions past the end are clamped, so a start past the end gives empty text",
        &[
            TEXT,
            req("start", "First character (0-based)"),
            opt(
                "end",
                "Character after the last (the end of the text by default)",
            ),
        ],
    ),
    plain(
        "format.jsonParse",
        "Parses JSON text",
        "The parsed value; invalid text fails naming its line and column",
        &[TEXT],
    ),
    plain(
        "format.jsonStringify",
        "Writes a value as JSON",
        "Text",
        &[
            req("value", "The value"),
            opt("pretty", "Indent the output"),
        ],
    ),
    plain(
        "format.xmlParse",
        "Parses XML text",
        "`{ <root element name>: content }`: an element with neither attributes nor child \
         elements is its text; others are objects of `@attribute`s, child elements (a list when \
         a name repeats) and `#text`",
        &[TEXT],
    ),
    plain(
        "format.xmlStringify",
        "Writes a value as XML, the reverse of xmlParse",
        "Text (without an XML declaration)",
        &[
            req(
                "value",
                "The content: fields `@name` become attributes, `#text` the text, lists repeat \
                 their element",
            ),
            opt(
                "root",
                "The root element's name; by default the single field of a value shaped like \
                 xmlParse's result, else `root`",
            ),
        ],
    ),
    plain(
        "format.csvParse",
        "Parses CSV text into records",
        "A list of objects (with a header) or of lists (without); fields are text",
        &[
            TEXT,
            opt("delimiter", "Field separator, one character (`,`)"),
            opt(
                "hasHeader",
                "Whether the first row names the fields (true); rows must then match its length",
            ),
        ],
    ),
    plain(
        "format.csvStringify",
        "Writes records as CSV",
        "Text",
        &[
            req(
                "items",
                "Objects (the header names every key, in the order first seen) or lists \
                 (no header)",
            ),
            opt("delimiter", "Field separator, one character (`,`)"),
        ],
    ),
    plain(
        "format.yamlParse",
        "Parses YAML text",
        "The parsed value; keys that are not text become text",
        &[TEXT],
    ),
    plain(
        "format.yamlStringify",
        "Writes a value as YAML",
        "Text",
        &[req("value", "The value")],
    ),
    plain(
        "format.msgpackEncode",
        "Encodes a value as MessagePack",
        "Bytes (`application/msgpack`)",
        &[req("value", "The value")],
    ),
    plain(
        "format.msgpackDecode",
        "Decodes MessagePack bytes",
        "The decoded value; byte strings become binary values",
        &[req("data", "The bytes: a binary value, or text")],
    ),
    plain(
        "datetime.now",
        "The current time",
        "The time, as RFC 3339 text in UTC unless a format is given",
        &[opt("format", TIME_FORMAT)],
    ),
    plain(
        "datetime.format",
        "Formats a time",
        "Text in UTC, or a number for unix and unixMillis",
        &[req("value", TIME), req("format", TIME_FORMAT)],
    ),
    plain(
        "datetime.parse",
        "Parses a time",
        "Text (RFC 3339, UTC); a pattern without an offset reads UTC, one without a time of day \
         reads midnight",
        &[
            req("value", "The text (a number for unix and unixMillis)"),
            opt(
                "format",
                "Its format: rfc3339, rfc2822, unix, unixMillis or a strftime pattern \
                 (by default, what time inputs accept)",
            ),
        ],
    ),
    plain(
        "datetime.add",
        "Adds to a time",
        "Text (RFC 3339, UTC)",
        &[
            req("value", TIME),
            req(
                "amount",
                "How much, negative to go back; whole for months and years",
            ),
            req(
                "unit",
                "milliseconds, seconds, minutes, hours, days, weeks, months or years \
                 (calendar months: Jan 31 plus one month is the last day of February)",
            ),
        ],
    ),
    plain(
        "datetime.diff",
        "The time between two times",
        "A number, with a fraction when needed; negative when end is before start",
        &[
            req("start", TIME),
            req("end", TIME),
            opt(
                "unit",
                "milliseconds, seconds (default), minutes, hours, days or weeks",
            ),
        ],
    ),
    plain(
        "hash.digest",
        "Hashes data",
        "Lowercase hex text (or base64)",
        &[
            req("data", DATA),
            req("algorithm", "sha1, sha256, sha512 or md5"),
            opt("encoding", "hex (default) or base64"),
        ],
    ),
    plain(
        "hash.hmacSign",
        "Signs data with an HMAC",
        "Lowercase hex text (or base64)",
        &[
            req("data", DATA),
            req("secret", "The key: text or a binary value"),
            opt("algorithm", "sha256 (default), sha1 or sha512"),
            opt("encoding", "hex (default) or base64"),
        ],
    ),
    plain(
        "hash.hmacVerify",
        "Checks a webhook's HMAC signature in constant time",
        "`true`, or the step fails saying whether the signature does not match or the v0 \
         timestamp is too far from now",
        &[
            req(
                "data",
                "The signed payload, as received: text or a binary value",
            ),
            req("secret", "The key: text or a binary value"),
            req(
                "signature",
                "The signature received: hex or base64, optionally prefixed like `sha256=` \
                 or `v0=`",
            ),
            opt("algorithm", "sha256 (default), sha1 or sha512"),
            opt("scheme", "plain (default) or v0 (`v0:<timestamp>:<body>`)"),
            opt(
                "timestamp",
                "The request's timestamp in seconds since the epoch, for the v0 scheme",
            ),
            opt(
                "toleranceSeconds",
                "How far from now the v0 timestamp may be (300)",
            ),
        ],
    ),
    plain(
        "hash.compare",
        "Compares two values in constant time",
        "Whether they are equal: text and binary values by their bytes, other values by their \
         JSON text (so `1` equals `\"1\"`)",
        &[req("a", "One value"), req("b", "The other")],
    ),
    plain(
        "sleep",
        "Waits",
        "Nothing (null)",
        &[req("seconds", "How long, 0 to 900 (fractions allowed)")],
    ),
];

/// Every built-in action, in catalogue order.
pub fn builtin_actions() -> &'static [BuiltinAction] {
    ACTIONS
}

/// The built-in actions as a [`Catalog`] for validation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Builtins;

impl Catalog for Builtins {
    fn action(&self, key: &str) -> Option<ActionSpec> {
        let action = ACTIONS.iter().find(|a| a.key == key)?;
        let inputs = action
            .inputs
            .iter()
            .map(|i| InputSpec {
                key: i.key.to_string(),
                required: i.required,
            })
            .collect();
        Some(ActionSpec {
            kind: action.kind,
            inputs,
            any_inputs: false,
        })
    }

    fn check_inputs(&self, key: &str, inputs: &BTreeMap<String, Value>) -> Vec<InputProblem> {
        match key {
            "code.run" => crate::code::check(inputs),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_named_component_dot_action() {
        let mut keys: Vec<&str> = ACTIONS.iter().map(|a| a.key).collect();
        keys.sort_unstable();
        let count = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), count, "duplicate action keys");
        for key in keys.iter().filter(|k| **k != "sleep") {
            assert!(
                key.split_once('.')
                    .is_some_and(|(c, a)| !c.is_empty() && !a.is_empty()),
                "{key}"
            );
        }
    }

    #[test]
    fn the_catalog_answers_for_known_keys_only() {
        let spec = Builtins.action("http.request").unwrap();
        assert!(spec.inputs.iter().any(|i| i.key == "url" && i.required));
        assert_eq!(
            Builtins.action("loop.overItems").unwrap().kind,
            ActionKind::Loop
        );
        assert!(Builtins.action("http.nope").is_none());
    }
}
