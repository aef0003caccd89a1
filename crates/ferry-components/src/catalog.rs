//! The built-in actions: keys, shapes, descriptions and inputs (`*` marks a required input).

use ferry_definition::{ActionKind, ActionSpec, Catalog, InputSpec};

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
        "Runs JavaScript",
        "The `data` the code returns (with `statusCode`, `headers`, `contentType` when given)",
        &[req(
            "code",
            "module.exports = async (context, stepResults) => ({ data })",
        )],
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
        "A list of lists",
        &[ITEMS, req("size", "Items per chunk")],
    ),
    plain(
        "collection.flatten",
        "Flattens a list of lists",
        "A list",
        &[ITEMS],
    ),
    plain(
        "collection.dedupe",
        "Drops repeated items",
        "A list",
        &[ITEMS, opt("key", "Compare by this field")],
    ),
    plain(
        "collection.group",
        "Groups items by a field",
        "An object from key to list of items",
        &[ITEMS, req("key", "The field")],
    ),
    plain(
        "collection.sort",
        "Sorts items",
        "A list",
        &[
            ITEMS,
            opt("key", "Sort by this field"),
            opt("direction", "asc (default) or desc"),
        ],
    ),
    plain(
        "collection.mapKeys",
        "Renames the fields of each item",
        "A list",
        &[ITEMS, req("mapping", "Old name to new name")],
    ),
    plain(
        "text.replace",
        "Replaces every occurrence of a text",
        "Text",
        &[
            TEXT,
            req("find", "The text to find"),
            req("replacement", "What to put instead"),
        ],
    ),
    plain(
        "text.split",
        "Splits text into a list",
        "A list of text",
        &[TEXT, req("separator", "Where to split")],
    ),
    plain(
        "text.join",
        "Joins a list into text",
        "Text",
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
        "Cuts part of a text",
        "Text",
        &[
            TEXT,
            req("start", "First character (0-based)"),
            opt("end", "Character after the last"),
        ],
    ),
    plain(
        "format.jsonParse",
        "Parses JSON text",
        "The parsed value",
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
        "The parsed value",
        &[TEXT],
    ),
    plain(
        "format.xmlStringify",
        "Writes a value as XML",
        "Text",
        &[
            req("value", "The value"),
            opt("root", "The root element's name"),
        ],
    ),
    plain(
        "format.csvParse",
        "Parses CSV text into records",
        "A list of records",
        &[
            TEXT,
            opt("delimiter", "Field separator (`,`)"),
            opt("hasHeader", "Whether the first row names the fields (true)"),
        ],
    ),
    plain(
        "format.csvStringify",
        "Writes records as CSV",
        "Text",
        &[ITEMS, opt("delimiter", "Field separator (`,`)")],
    ),
    plain(
        "format.yamlParse",
        "Parses YAML text",
        "The parsed value",
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
        "Bytes",
        &[req("value", "The value")],
    ),
    plain(
        "format.msgpackDecode",
        "Decodes MessagePack bytes",
        "The decoded value",
        &[req("data", "The bytes")],
    ),
    plain(
        "datetime.now",
        "The current time",
        "Text (the time)",
        &[opt("format", "An output format (RFC 3339 by default)")],
    ),
    plain(
        "datetime.format",
        "Formats a time",
        "Text",
        &[req("value", "The time"), req("format", "The output format")],
    ),
    plain(
        "datetime.parse",
        "Parses a time",
        "Text (RFC 3339)",
        &[
            req("value", "The text"),
            opt("format", "Its format (RFC 3339 by default)"),
        ],
    ),
    plain(
        "datetime.add",
        "Adds to a time",
        "Text (RFC 3339)",
        &[
            req("value", "The time"),
            req("amount", "How much"),
            req("unit", "seconds, minutes, hours, days, weeks or months"),
        ],
    ),
    plain(
        "datetime.diff",
        "The time between two times",
        "A number",
        &[
            req("start", "The earlier time"),
            req("end", "The later time"),
            opt("unit", "The unit of the result (seconds)"),
        ],
    ),
    plain(
        "hash.digest",
        "Hashes data",
        "Hex text",
        &[
            req("data", "The data"),
            req("algorithm", "sha1, sha256, sha512 or md5"),
        ],
    ),
    plain(
        "hash.hmacSign",
        "Signs data with an HMAC",
        "Hex text",
        &[
            req("data", "The data"),
            req("secret", "The key"),
            opt("algorithm", "sha256 (default), sha1 or sha512"),
        ],
    ),
    plain(
        "hash.hmacVerify",
        "Checks a webhook's HMAC signature in constant time",
        "`true`, or the step fails when the signature does not match",
        &[
            req("data", "The signed payload"),
            req("secret", "The key"),
            req("signature", "The signature received"),
            opt("algorithm", "sha256 (default), sha1 or sha512"),
            opt("scheme", "plain (default) or v0 (`v0:<timestamp>:<body>`)"),
            opt("timestamp", "The request's timestamp, for the v0 scheme"),
            opt(
                "toleranceSeconds",
                "Oldest accepted timestamp, for the v0 scheme",
            ),
        ],
    ),
    plain(
        "hash.compare",
        "Compares two values in constant time",
        "Whether they are equal",
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
        })
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
