//! Values crossing the sandbox's edge. Into JavaScript, JSON goes through QuickJS's own
//! `JSON.parse`. Out of it, a walk with JSON's rules (`toJSON` honoured, `undefined` members
//! left out, `NaN` as null) that refuses what JSON would silently lose — functions, symbols,
//! BigInts, promises, cycles, nesting past [`MAX_DEPTH`] — naming where it sits, and turns
//! bytes (`Uint8Array`, `ArrayBuffer`) into binary values `{ contentType, base64 }`. The walk
//! stops once the value would be larger than its budget (about its size as JSON, each value
//! counting at least [`MIN_VALUE_BYTES`]), so a small JavaScript value that stands for a huge
//! one (`new Array(2 ** 32 - 1)`) cannot make the Rust side allocate without bound.

use base64::Engine as _;
use rquickjs::function::This;
use rquickjs::{ArrayBuffer, Ctx, Function, Object, Type, TypedArray, Value};
use serde_json::{Map, Value as Json};

use super::natives::bytes;

/// How deeply a result may nest: as deep as `serde_json` reads back.
pub(super) const MAX_DEPTH: usize = 100;

/// What each value counts against the budget at least (a Rust value's size, roughly).
pub(super) const MIN_VALUE_BYTES: usize = 8;

/// The content type of bytes that say nothing of theirs.
pub(super) const OCTETS: &str = "application/octet-stream";

/// Why a value could not become JSON.
pub(super) enum Problem {
    /// JavaScript threw while it was read (a getter, `toJSON`).
    Threw(rquickjs::Error),
    /// Something JSON cannot carry, at a path.
    Unfit {
        /// Where: `data.items[3]`.
        path: String,
        /// What: `is a function`.
        problem: String,
    },
}

impl Problem {
    /// The problem in words, for errors thrown back into JavaScript.
    pub(super) fn describe(&self, what: &str) -> String {
        match self {
            Problem::Threw(error) => format!("{what} could not be read: {error}"),
            Problem::Unfit { path, problem } => {
                format!("{what} cannot be serialized: {path} {problem}")
            }
        }
    }
}

impl From<rquickjs::Error> for Problem {
    fn from(error: rquickjs::Error) -> Self {
        Problem::Threw(error)
    }
}

/// `value` as a JavaScript value.
pub(super) fn to_js<'js>(ctx: &Ctx<'js>, value: &Json) -> rquickjs::Result<Value<'js>> {
    // Writing a `serde_json::Value` cannot fail: its keys are strings.
    let text = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    ctx.json_parse(text)
}

/// A binary value: the shape Ferry's actions give bytes in.
pub(super) fn binary(data: &[u8], content_type: &str) -> Json {
    let mut map = Map::new();
    map.insert("contentType".into(), Json::String(content_type.to_string()));
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    map.insert("base64".into(), Json::String(encoded));
    Json::Object(map)
}

/// The bytes `value` holds, when it is a `Uint8Array` or an `ArrayBuffer`.
pub(super) fn bytes_of(value: &Value<'_>) -> Option<Vec<u8>> {
    let object = value.as_object()?;
    if let Some(array) = object.as_typed_array::<u8>() {
        return Some(bytes(array));
    }
    let buffer = ArrayBuffer::from_object(object.clone())?;
    let array = TypedArray::<u8>::from_arraybuffer(buffer).ok()?;
    Some(bytes(&array))
}

/// `value`, found at `root` (`data`, `headers`, …), as JSON of at most `budget` bytes.
pub(super) fn to_json(
    value: Value<'_>,
    root: &'static str,
    budget: usize,
) -> Result<Json, Problem> {
    let mut walk = Walk {
        ancestors: Vec::new(),
        budget,
        limit: budget,
    };
    walk.value(value, &mut vec![Step::Root(root)])
}

/// One step of a path into the result.
enum Step {
    Root(&'static str),
    Key(String),
    Index(usize),
}

fn path_text(path: &[Step]) -> String {
    let mut text = String::new();
    for step in path {
        match step {
            Step::Root(name) => text.push_str(name),
            Step::Index(i) => text.push_str(&format!("[{i}]")),
            Step::Key(key) if is_identifier(key) => text.push_str(&format!(".{key}")),
            Step::Key(key) => text.push_str(&format!("[{key:?}]")),
        }
    }
    text
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

struct Walk<'js> {
    ancestors: Vec<Object<'js>>,
    budget: usize,
    limit: usize,
}

impl<'js> Walk<'js> {
    /// Takes `bytes` from the budget, or says the value is too large.
    fn spend(&mut self, bytes: usize, path: &[Step]) -> Result<(), Problem> {
        let bytes = bytes.max(MIN_VALUE_BYTES);
        if bytes > self.budget {
            return Err(Problem::Unfit {
                path: path_text(&path[..1.min(path.len())]),
                problem: format!(
                    "is larger than the limit of {}",
                    crate::fetch::size_text(self.limit)
                ),
            });
        }
        self.budget -= bytes;
        Ok(())
    }

    fn value(&mut self, value: Value<'js>, path: &mut Vec<Step>) -> Result<Json, Problem> {
        let json = self.json(value, path)?;
        let size = match &json {
            Json::String(text) => text.len() + 2,
            Json::Number(_) | Json::Bool(_) | Json::Null => MIN_VALUE_BYTES,
            Json::Array(_) | Json::Object(_) => 2,
        };
        self.spend(size, path)?;
        Ok(json)
    }

    fn json(&mut self, value: Value<'js>, path: &mut Vec<Step>) -> Result<Json, Problem> {
        let unfit = |problem: &str| Problem::Unfit {
            path: path_text(path),
            problem: problem.to_string(),
        };
        match value.type_of() {
            Type::Uninitialized | Type::Undefined | Type::Null => Ok(Json::Null),
            Type::Bool => Ok(Json::Bool(value.as_bool().unwrap_or_default())),
            Type::Int => Ok(Json::from(value.as_int().unwrap_or_default())),
            Type::Float => Ok(float(value.as_float().unwrap_or(f64::NAN))),
            Type::String => Ok(Json::String(text(&value)?)),
            Type::Symbol => Err(unfit("is a symbol")),
            Type::BigInt => Err(unfit("is a BigInt: convert it with String() or Number()")),
            Type::Function | Type::Constructor => Err(unfit("is a function")),
            Type::Promise => Err(unfit("is a promise: did you forget an `await`?")),
            Type::Array | Type::Object | Type::Exception | Type::Proxy => self.object(value, path),
            Type::Module | Type::Unknown => Err(unfit("is not a JSON value")),
        }
    }

    fn object(&mut self, value: Value<'js>, path: &mut Vec<Step>) -> Result<Json, Problem> {
        if let Some(data) = bytes_of(&value) {
            return Ok(binary(&data, OCTETS));
        }
        let Some(object) = value.into_object() else {
            return Ok(Json::Null);
        };
        if let Ok(to_json) = object.get::<_, Function>("toJSON") {
            let replaced: Value = to_json.call((This(object.clone()),))?;
            if !replaced.is_object() || replaced.as_object() != Some(&object) {
                return self.value(replaced, path);
            }
        }
        if self.ancestors.contains(&object) {
            let from = path_text(&path[..self.position_of(&object)]);
            return Err(Problem::Unfit {
                path: path_text(path),
                problem: format!("refers back to {from} (a cycle)"),
            });
        }
        if self.ancestors.len() >= MAX_DEPTH {
            return Err(Problem::Unfit {
                path: path_text(&path[..3.min(path.len())]) + "…",
                problem: format!("nests more than {MAX_DEPTH} levels deep"),
            });
        }
        self.ancestors.push(object.clone());
        let walked = if object.is_array() {
            self.items(&object, path)
        } else {
            self.members(&object, path)
        };
        self.ancestors.pop();
        walked
    }

    /// Where `object` sits on the current path (the path up to it, as steps).
    fn position_of(&self, object: &Object<'js>) -> usize {
        self.ancestors
            .iter()
            .position(|a| a == object)
            .map_or(1, |i| i + 1)
    }

    fn items(&mut self, array: &Object<'js>, path: &mut Vec<Step>) -> Result<Json, Problem> {
        let length: usize = array.get("length")?;
        // Each item spends its own share; an array too long to fit is refused before any.
        if length.saturating_mul(MIN_VALUE_BYTES) > self.budget {
            self.spend(usize::MAX, path)?;
        }
        let mut items = Vec::with_capacity(length.min(1 << 16));
        for i in 0..length {
            path.push(Step::Index(i));
            let item = array.get::<_, Value>(i as u32)?;
            items.push(self.value(item, path)?);
            path.pop();
        }
        Ok(Json::Array(items))
    }

    fn members(&mut self, object: &Object<'js>, path: &mut Vec<Step>) -> Result<Json, Problem> {
        let mut map = Map::new();
        for key in object.keys::<String>() {
            let key = key?;
            let member: Value = object.get(key.as_str())?;
            if member.is_undefined() {
                continue;
            }
            self.spend(key.len() + 4, path)?;
            path.push(Step::Key(key));
            let json = self.value(member, path)?;
            if let Some(Step::Key(key)) = path.pop() {
                map.insert(key, json);
            }
        }
        Ok(Json::Object(map))
    }
}

/// A number as JSON writes it: whole numbers (within the exact range) without a fraction.
fn float(number: f64) -> Json {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if number.fract() == 0.0 && number.abs() < EXACT {
        return Json::from(number as i64);
    }
    serde_json::Number::from_f64(number).map_or(Json::Null, Json::Number)
}

/// A JavaScript string as Rust text, lone surrogates replaced (as `toWellFormed` does).
pub(super) fn text(value: &Value<'_>) -> rquickjs::Result<String> {
    let Some(string) = value.as_string() else {
        return Ok(String::new());
    };
    match string.to_string() {
        Err(rquickjs::Error::Utf8(_)) => {
            let prototype: Object = value
                .ctx()
                .globals()
                .get::<_, Object>("String")?
                .get("prototype")?;
            let well_formed: Function = prototype.get("toWellFormed")?;
            let fixed: rquickjs::String = well_formed.call((This(value.clone()),))?;
            fixed.to_string()
        }
        converted => converted,
    }
}
