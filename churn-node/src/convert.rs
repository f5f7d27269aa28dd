//! JavaScript values to churn-core inputs, and the promise plumbing for results.
//!
//! [`to_json`] reads a JavaScript value into a `serde_json::Value` the way
//! `JSON.stringify` would, with three differences that matter for analytics input:
//! a `Date` becomes epoch milliseconds (the core reads numbers, RFC 3339 text and
//! `YYYY-MM-DD` as timestamps), `NaN` / `Infinity` are refused
//! (`ValidationError::NotFinite` with the field path) instead of silently becoming
//! `null`, and nesting deeper than [`MAX_DEPTH`] (which is what a circular object
//! turns into) is refused with `ValidationError::TooDeep` instead of recursing.
//!
//! [`options`] reads an option object into one of the core's `Deserialize` request
//! structs, accepting camelCase keys (`maxGapMs` for `max_gap_ms`): keys are converted
//! here, in the binding, and never under `properties` / `traits` (user data).

use napi::bindgen_prelude::*;
use napi::{sys, JsValue};
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};

use churn_core::{Error, ValidationError};

use crate::error::{to_napi, IntoNapi};

/// Deepest nesting accepted from JavaScript (a circular object hits it).
pub const MAX_DEPTH: usize = 64;

/// Why a JavaScript value could not be read; the path is collected while unwinding.
struct Fail {
    kind: FailKind,
    path: Vec<String>,
}

enum FailKind {
    NotFinite,
    TooDeep,
    Unsupported(&'static str),
    Napi(napi::Error),
}

impl From<napi::Error> for Fail {
    fn from(e: napi::Error) -> Self {
        Fail {
            kind: FailKind::Napi(e),
            path: Vec::new(),
        }
    }
}

fn fail(kind: FailKind) -> Fail {
    Fail {
        kind,
        path: Vec::new(),
    }
}

/// Read a JavaScript value as JSON (see the module docs). `what` names the argument
/// in error messages (`properties.amount`, `events[3].timestamp`).
pub fn to_json(env: &Env, value: &Unknown<'_>, what: &str) -> napi::Result<Value> {
    // SAFETY: both handles come from napi for the current call on the JS thread.
    let r = unsafe { read(env.raw(), value.raw(), 0) };
    r.map_err(|f| {
        let mut field = what.to_string();
        // A circular object gives a path as long as the depth limit: keep its start.
        let shown = f.path.len().min(8);
        for p in f.path.iter().rev().take(shown) {
            if p.starts_with('[') || field.is_empty() {
                field.push_str(p);
            } else {
                field.push('.');
                field.push_str(p);
            }
        }
        if f.path.len() > shown {
            field.push_str(".…");
        }
        let e: Error = match f.kind {
            FailKind::NotFinite => ValidationError::NotFinite {
                field,
                found: Some("NaN or Infinity".into()),
            }
            .into(),
            FailKind::TooDeep => ValidationError::TooDeep {
                field,
                depth: MAX_DEPTH + 1,
                max: MAX_DEPTH,
            }
            .into(),
            FailKind::Unsupported(t) => ValidationError::Invalid {
                field,
                reason: format!("a {t} cannot be sent (use JSON-like values)"),
            }
            .into(),
            FailKind::Napi(e) => ValidationError::Invalid {
                field,
                reason: e.reason.clone(),
            }
            .into(),
        };
        to_napi(e)
    })
}

fn check(status: sys::napi_status) -> std::result::Result<(), Fail> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Fail::from(napi::Error::new(
            Status::from(status),
            "cannot read a JavaScript value".to_string(),
        )))
    }
}

/// `None` for values that JSON leaves out of objects (undefined, functions, symbols).
unsafe fn read(
    env: sys::napi_env,
    v: sys::napi_value,
    depth: usize,
) -> std::result::Result<Value, Fail> {
    match unsafe { read_opt(env, v, depth) }? {
        Some(x) => Ok(x),
        None => Err(fail(FailKind::Unsupported("undefined, function or symbol"))),
    }
}

unsafe fn read_opt(
    env: sys::napi_env,
    v: sys::napi_value,
    depth: usize,
) -> std::result::Result<Option<Value>, Fail> {
    let mut t = 0;
    check(unsafe { sys::napi_typeof(env, v, &mut t) })?;
    Ok(Some(match t {
        sys::ValueType::napi_undefined
        | sys::ValueType::napi_function
        | sys::ValueType::napi_symbol => return Ok(None),
        sys::ValueType::napi_null => Value::Null,
        sys::ValueType::napi_boolean => Value::Bool(unsafe { bool::from_napi_value(env, v) }?),
        sys::ValueType::napi_number => number(unsafe { f64::from_napi_value(env, v) }?)?,
        sys::ValueType::napi_string => Value::String(unsafe { String::from_napi_value(env, v) }?),
        sys::ValueType::napi_object => {
            if depth >= MAX_DEPTH {
                return Err(fail(FailKind::TooDeep));
            }
            let mut is_date = false;
            check(unsafe { sys::napi_is_date(env, v, &mut is_date) })?;
            if is_date {
                let mut ms = 0.0;
                check(unsafe { sys::napi_get_date_value(env, v, &mut ms) })?;
                return number(ms).map(Some);
            }
            let mut is_array = false;
            check(unsafe { sys::napi_is_array(env, v, &mut is_array) })?;
            if is_array {
                unsafe { array(env, v, depth) }?
            } else {
                unsafe { object(env, v, depth) }?
            }
        }
        sys::ValueType::napi_bigint => return Err(fail(FailKind::Unsupported("BigInt"))),
        _ => return Err(fail(FailKind::Unsupported("value of this type"))),
    }))
}

fn number(x: f64) -> std::result::Result<Value, Fail> {
    if !x.is_finite() {
        return Err(fail(FailKind::NotFinite));
    }
    if x.fract() == 0.0 && x.abs() < 9.007_199_254_740_992e15 {
        return Ok(Value::Number(Number::from(x as i64)));
    }
    Number::from_f64(x)
        .map(Value::Number)
        .ok_or_else(|| fail(FailKind::NotFinite))
}

unsafe fn array(
    env: sys::napi_env,
    v: sys::napi_value,
    depth: usize,
) -> std::result::Result<Value, Fail> {
    let mut len = 0u32;
    check(unsafe { sys::napi_get_array_length(env, v, &mut len) })?;
    let mut out = Vec::with_capacity(len as usize);
    for i in 0..len {
        let mut el = std::ptr::null_mut();
        check(unsafe { sys::napi_get_element(env, v, i, &mut el) })?;
        match unsafe { read_opt(env, el, depth + 1) } {
            Ok(x) => out.push(x.unwrap_or(Value::Null)),
            Err(mut f) => {
                f.path.push(format!("[{i}]"));
                return Err(f);
            }
        }
    }
    Ok(Value::Array(out))
}

unsafe fn object(
    env: sys::napi_env,
    v: sys::napi_value,
    depth: usize,
) -> std::result::Result<Value, Fail> {
    let mut keys = std::ptr::null_mut();
    check(unsafe {
        sys::napi_get_all_property_names(
            env,
            v,
            sys::KeyCollectionMode::own_only,
            sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
            sys::KeyConversion::numbers_to_strings,
            &mut keys,
        )
    })?;
    let mut len = 0u32;
    check(unsafe { sys::napi_get_array_length(env, keys, &mut len) })?;
    let mut out = Map::new();
    for i in 0..len {
        let mut k = std::ptr::null_mut();
        check(unsafe { sys::napi_get_element(env, keys, i, &mut k) })?;
        let key = unsafe { String::from_napi_value(env, k) }?;
        let mut el = std::ptr::null_mut();
        check(unsafe { sys::napi_get_property(env, v, k, &mut el) })?;
        match unsafe { read_opt(env, el, depth + 1) } {
            Ok(Some(x)) => {
                out.insert(key, x);
            }
            Ok(None) => {}
            Err(mut f) => {
                f.path.push(key);
                return Err(f);
            }
        }
    }
    Ok(Value::Object(out))
}

/// `maxGapMs` to `max_gap_ms`; keys already in snake_case are unchanged.
pub fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Convert every object key to snake_case, except inside `properties` and `traits`
/// (user data, kept as given).
pub fn snake_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let k = snake_case(&k);
                    let v = if k == "properties" || k == "traits" {
                        v
                    } else {
                        snake_keys(v)
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(snake_keys).collect()),
        other => other,
    }
}

/// Read an optional option object (camelCase or snake_case keys) into a core request
/// struct; `undefined` / `null` give the struct's defaults.
pub fn options<T: DeserializeOwned + Default>(
    env: &Env,
    value: Option<Unknown<'_>>,
    what: &str,
) -> napi::Result<T> {
    let Some(value) = value else {
        return Ok(T::default());
    };
    match value.get_type()? {
        ValueType::Undefined | ValueType::Null => return Ok(T::default()),
        ValueType::Object => {}
        other => {
            return Err(crate::error::invalid(
                what,
                format!("expected an options object, got {other}"),
            ))
        }
    }
    let v = snake_keys(to_json(env, &value, what)?);
    from_value(v, what)
}

/// Deserialize a JSON value into `T`, as an `ERR_VALIDATION` error when it does not fit.
pub fn from_value<T: DeserializeOwned>(v: Value, what: &str) -> napi::Result<T> {
    serde_json::from_value(v)
        .map_err(|e| {
            Error::from(ValidationError::Invalid {
                field: what.to_string(),
                reason: e.to_string(),
            })
        })
        .napi()
}

/// A timestamp argument: a `Date`, epoch milliseconds or an ISO / RFC 3339 string.
pub fn timestamp(
    env: &Env,
    value: &Unknown<'_>,
    what: &str,
) -> napi::Result<churn_core::Timestamp> {
    let v = to_json(env, value, what)?;
    from_value(v, what)
}

/// A boxed job run on the libuv thread pool, giving its result ready to send.
pub type Job = Box<dyn FnOnce() -> churn_core::Result<Json> + Send>;

/// An napi task running one [`Job`] off the event loop; the Promise resolves with the
/// job's result as a plain JavaScript value.
///
/// The result is serialized on the worker thread as columns ([`crate::columnar`]),
/// rebuilt on the JS thread by `decode.js` (`index.js` decodes every async result),
/// or as JSON text read by V8's `JSON.parse` when columns cannot carry it (or when
/// `CHURNLENS_RESULT_TRANSFER=json`). Building a report object property by property
/// through N-API costs several times more JS-thread time (an active-users report of
/// ~27 KB: ~0.5 ms through N-API, ~0.1 ms through `JSON.parse`, ~0.03 ms from columns).
pub struct JsonTask {
    job: Option<Job>,
}

/// Whether results go as JSON text only (`CHURNLENS_RESULT_TRANSFER=json`, read once;
/// the tests compare both ways).
fn json_only() -> bool {
    static JSON_ONLY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *JSON_ONLY.get_or_init(|| std::env::var("CHURNLENS_RESULT_TRANSFER").is_ok_and(|v| v == "json"))
}

/// `r` as columns, or as JSON text when columns cannot carry it.
pub fn encode<R: serde::Serialize>(r: &R) -> churn_core::Result<Json> {
    if !json_only() {
        if let Ok(c) = crate::columnar::encode(r).and_then(|c| c.pack()) {
            return Ok(Json::Columns(c));
        }
    }
    serde_json::to_string(r)
        .map(Json::Text)
        .map_err(|e| Error::invalid("result", e.to_string()))
}

/// Wrap a closure whose serde result becomes the Promise's value.
pub fn task<R, F>(f: F) -> AsyncTask<JsonTask>
where
    R: serde::Serialize,
    F: FnOnce() -> churn_core::Result<R> + Send + 'static,
{
    AsyncTask::new(JsonTask {
        job: Some(Box::new(move || encode(&f()?))),
    })
}

/// A result handed to JavaScript as a plain value (`any` in TypeScript): JSON text
/// parsed here by the JS engine's `JSON.parse`, or columns given as an `ArrayBuffer`
/// (header, tags, numbers) carrying the strings (`s`) and shapes (`k`), which
/// `index.js` decodes.
pub enum Json {
    /// JSON text.
    Text(String),
    /// Columns ([`crate::columnar`]), packed on the worker.
    Columns(crate::columnar::Packed),
}

impl TypeName for Json {
    fn type_name() -> &'static str {
        "any"
    }
    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

fn status(s: sys::napi_status, what: &str) -> napi::Result<()> {
    if s == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::new(Status::from(s), what.to_string()))
    }
}

impl ToNapiValue for Json {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        match val {
            // SAFETY: as for this function.
            Json::Text(t) => unsafe { json_parse(env, t) },
            Json::Columns(c) => unsafe { columns(env, c) },
        }
    }
}

/// `JSON.parse(text)`.
///
/// # Safety
/// `env` is the live env of a call on the JS thread.
unsafe fn json_parse(env: sys::napi_env, src: String) -> napi::Result<sys::napi_value> {
    let mut global = std::ptr::null_mut();
    let mut json = std::ptr::null_mut();
    let mut parse = std::ptr::null_mut();
    let mut out = std::ptr::null_mut();
    // SAFETY: `env` is the live env of this call on the JS thread; every out pointer
    // is valid, the names are NUL-terminated, and `src` outlives the string copy.
    unsafe {
        status(sys::napi_get_global(env, &mut global), "global")?;
        status(
            sys::napi_get_named_property(env, global, c"JSON".as_ptr(), &mut json),
            "JSON",
        )?;
        status(
            sys::napi_get_named_property(env, json, c"parse".as_ptr(), &mut parse),
            "JSON.parse",
        )?;
        let text = js_string(env, &src, "result text")?;
        status(
            sys::napi_call_function(env, json, parse, 1, &text, &mut out),
            "JSON.parse(result)",
        )?;
    }
    Ok(out)
}

/// A JS string from UTF-8 text.
///
/// # Safety
/// `env` is the live env of a call on the JS thread.
unsafe fn js_string(env: sys::napi_env, s: &str, what: &str) -> napi::Result<sys::napi_value> {
    let mut out = std::ptr::null_mut();
    // SAFETY: valid env, pointer and length of `s`, valid out pointer.
    status(
        unsafe { sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut out) },
        what,
    )?;
    Ok(out)
}

/// Columns as one `ArrayBuffer` (the packed bytes, one copy) with properties `s` (the
/// strings) and `k` (the shapes as JSON).
///
/// # Safety
/// `env` is the live env of a call on the JS thread.
unsafe fn columns(env: sys::napi_env, c: crate::columnar::Packed) -> napi::Result<sys::napi_value> {
    let mut data = std::ptr::null_mut();
    let mut buf = std::ptr::null_mut();
    // SAFETY: valid env and out pointers; napi gives `c.bytes.len()` writable bytes at
    // `data`, a fresh allocation that cannot overlap `c.bytes`.
    unsafe {
        status(
            sys::napi_create_arraybuffer(env, c.bytes.len(), &mut data, &mut buf),
            "result buffer",
        )?;
        std::ptr::copy_nonoverlapping(c.bytes.as_ptr(), data.cast::<u8>(), c.bytes.len());
        let s = js_string(env, &c.strs, "result strings")?;
        status(
            sys::napi_set_named_property(env, buf, c"s".as_ptr(), s),
            "result strings",
        )?;
        let k = js_string(env, &c.shapes, "result shapes")?;
        status(
            sys::napi_set_named_property(env, buf, c"k".as_ptr(), k),
            "result shapes",
        )?;
    }
    Ok(buf)
}

impl Task for JsonTask {
    type Output = Json;
    type JsValue = Json;

    fn compute(&mut self) -> napi::Result<Json> {
        match self.job.take() {
            Some(job) => job().napi(),
            None => Err(crate::error::invalid("task", "already run")),
        }
    }

    fn resolve(&mut self, _env: Env, output: Json) -> napi::Result<Json> {
        Ok(output)
    }
}
