//! Python <-> churn-core conversions: Python values to `serde_json::Value` (properties,
//! requests), reports to plain Python objects (through [`crate::pyser`]), and times.
//!
//! Reports are built in the JSON shape, so their Python shape is exactly the core's serde
//! shape (the one the HTTP server sends). Requests are built from keyword arguments
//! through the core's `Deserialize` request structs; unknown keywords are refused.

use churn_core::{Error, Timestamp, ValidationError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Number, Value};

use crate::error::{core_err, validation};

/// Deepest nesting accepted from Python (also what stops circular references).
const MAX_DEPTH: usize = 64;

static DATETIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DATE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn datetime_type<'py>(py: Python<'py>) -> PyResult<&'py Bound<'py, PyType>> {
    DATETIME.import(py, "datetime", "datetime")
}

fn date_type<'py>(py: Python<'py>) -> PyResult<&'py Bound<'py, PyType>> {
    DATE.import(py, "datetime", "date")
}

/// Epoch milliseconds of a `datetime` (naive = UTC; aware converted) or a `date`
/// (midnight UTC), or `None` when `v` is neither.
fn datetime_millis(v: &Bound<'_, PyAny>) -> PyResult<Option<i64>> {
    let py = v.py();
    let is_dt = v.is_instance(datetime_type(py)?)?;
    if !is_dt && !v.is_instance(date_type(py)?)? {
        return Ok(None);
    }
    let field = |name: &str| -> PyResult<i64> { v.getattr(name)?.extract::<i64>() };
    let (y, mo, d) = (field("year")?, field("month")?, field("day")?);
    let date = i32::try_from(y)
        .ok()
        .and_then(|y| Timestamp::from_ymd(y, mo as u32, d as u32))
        .ok_or_else(|| validation("timestamp", format!("date {y}-{mo}-{d} is out of range")))?;
    if !is_dt {
        return Ok(Some(date.millis()));
    }
    let (h, mi, s, us) = (
        field("hour")?,
        field("minute")?,
        field("second")?,
        field("microsecond")?,
    );
    let mut ms = date.millis() + ((h * 60 + mi) * 60 + s) * 1000 + us / 1000;
    let offset = v.call_method0("utcoffset")?;
    if !offset.is_none() {
        let secs: f64 = offset.call_method0("total_seconds")?.extract()?;
        ms -= (secs * 1000.0).round() as i64;
    }
    Ok(Some(ms))
}

/// A timestamp argument: `datetime` (naive = UTC, aware converted), `date` (midnight
/// UTC), `int` epoch milliseconds, or text (RFC 3339, `YYYY-MM-DD`).
pub fn timestamp(v: &Bound<'_, PyAny>, field: &str) -> PyResult<Timestamp> {
    if let Some(ms) = datetime_millis(v)? {
        return Ok(Timestamp::from_millis(ms));
    }
    if v.is_instance_of::<PyBool>() {
        return Err(validation(
            field,
            "expected a datetime, date, int or str, got bool",
        ));
    }
    if v.is_instance_of::<PyInt>() {
        let ms: i64 = v
            .extract()
            .map_err(|_| validation(field, "epoch milliseconds out of range"))?;
        return Ok(Timestamp::from_millis(ms));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Timestamp::parse_field(py_str(s)?, field).map_err(|e| core_err(e.into()));
    }
    Err(validation(
        field,
        format!(
            "expected a datetime, date, int (epoch ms) or str, got {}",
            type_name(v)
        ),
    ))
}

/// An optional timestamp argument.
pub fn opt_timestamp(v: Option<&Bound<'_, PyAny>>, field: &str) -> PyResult<Option<Timestamp>> {
    match v {
        Some(v) if !v.is_none() => timestamp(v, field).map(Some),
        _ => Ok(None),
    }
}

// `PyUnicode_AsUTF8AndSize` joined the limited API in 3.10, so pyo3 built for abi3-py39
// reads every `str` by encoding it into a new `bytes` object and copying that. CPython
// has exported the function with this signature since 3.3 (it only was not declared
// under `Py_LIMITED_API`), so the module calls it directly on every version it loads
// into: no temporary object, and ASCII strings are read in place.
extern "C" {
    fn PyUnicode_AsUTF8AndSize(
        unicode: *mut pyo3::ffi::PyObject,
        size: *mut pyo3::ffi::Py_ssize_t,
    ) -> *const std::os::raw::c_char;
}

/// The UTF-8 text of a Python `str`, borrowed from the object (no copy, no temporary
/// `bytes`). Fails (`UnicodeEncodeError`) on lone surrogates.
pub fn py_str<'a>(s: &'a Bound<'_, PyString>) -> PyResult<&'a str> {
    let mut size: pyo3::ffi::Py_ssize_t = 0;
    // SAFETY: `s` is a live `str` (checked type) and we hold the GIL; the returned buffer
    // is owned by (cached in) the string object, which `'a` keeps alive and which is
    // immutable.
    let data = unsafe { PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut size) };
    if data.is_null() {
        return Err(PyErr::fetch(s.py()));
    }
    // SAFETY: CPython returns valid UTF-8 of `size` bytes.
    Ok(unsafe {
        std::str::from_utf8_unchecked(std::slice::from_raw_parts(data.cast::<u8>(), size as usize))
    })
}

/// An optional `str` argument (`None` = absent) as owned text.
pub fn opt_string(v: Option<&Bound<'_, PyString>>) -> PyResult<Option<String>> {
    v.map(|s| py_str(s).map(str::to_owned)).transpose()
}

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// A Python value as JSON. Dict keys must be `str`; floats finite; nesting at most
/// [`MAX_DEPTH`]. `datetime` / `date` become RFC 3339 text; tuples become arrays.
pub fn to_json(v: &Bound<'_, PyAny>, field: &str) -> PyResult<Value> {
    to_json_at(v, 0).map_err(|e| e.into_py(field))
}

/// [`to_json`] with the field name built only on error.
pub fn to_json_lazy(v: &Bound<'_, PyAny>, field: impl FnOnce() -> String) -> PyResult<Value> {
    to_json_at(v, 0).map_err(|e| e.into_py(&field()))
}

/// A conversion failure deep in a value; the path is built on the way out, so the
/// happy path allocates no field names.
enum ConvErr {
    Py(PyErr),
    Bad {
        path: Vec<String>,
        reason: String,
        not_finite: Option<f64>,
    },
}

impl From<PyErr> for ConvErr {
    fn from(e: PyErr) -> Self {
        ConvErr::Py(e)
    }
}

impl ConvErr {
    fn bad(reason: impl Into<String>) -> Self {
        ConvErr::Bad {
            path: Vec::new(),
            reason: reason.into(),
            not_finite: None,
        }
    }

    fn at(mut self, segment: impl FnOnce() -> String) -> Self {
        if let ConvErr::Bad { path, .. } = &mut self {
            path.push(segment());
        }
        self
    }

    fn into_py(self, field: &str) -> PyErr {
        match self {
            ConvErr::Py(e) => e,
            ConvErr::Bad {
                path,
                reason,
                not_finite,
            } => {
                let mut f = field.to_string();
                for seg in path.iter().rev() {
                    f.push_str(seg);
                }
                match not_finite {
                    Some(x) => core_err(Error::from(ValidationError::NotFinite {
                        field: f,
                        found: Some(x.to_string()),
                    })),
                    None => validation(&f, reason),
                }
            }
        }
    }
}

fn to_json_at(v: &Bound<'_, PyAny>, depth: usize) -> Result<Value, ConvErr> {
    if depth > MAX_DEPTH {
        return Err(ConvErr::bad(format!(
            "nested more than {MAX_DEPTH} levels deep (or circular)"
        )));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(Value::String(py_str(s)?.to_owned()));
    }
    if v.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if v.is_instance_of::<PyInt>() {
        if let Ok(i) = v.extract::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        if let Ok(u) = v.extract::<u64>() {
            return Ok(Value::Number(u.into()));
        }
        return Err(ConvErr::bad("integer out of the 64-bit range"));
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        let x = f.value();
        return Number::from_f64(x).map(Value::Number).ok_or(ConvErr::Bad {
            path: Vec::new(),
            reason: String::new(),
            not_finite: Some(x),
        });
    }
    if let Ok(d) = v.cast::<PyDict>() {
        let mut map = Map::with_capacity(d.len());
        for (k, item) in d.iter() {
            let Ok(key) = k.cast::<PyString>() else {
                return Err(ConvErr::bad(format!(
                    "keys must be str, got {} key {}",
                    type_name(&k),
                    k.repr()?
                )));
            };
            let key = py_str(key)?;
            match to_json_at(&item, depth + 1) {
                Ok(value) => {
                    map.insert(key.to_owned(), value);
                }
                Err(e) => return Err(e.at(|| format!(".{key}"))),
            }
        }
        return Ok(Value::Object(map));
    }
    if let Ok(l) = v.cast::<PyList>() {
        return seq_json(l.iter(), l.len(), depth);
    }
    if let Ok(t) = v.cast::<PyTuple>() {
        return seq_json(t.iter(), t.len(), depth);
    }
    if let Some(ms) = datetime_millis(v)? {
        return Ok(Value::String(Timestamp::from_millis(ms).to_string()));
    }
    Err(ConvErr::bad(format!(
        "cannot store a {} (use None, bool, int, float, str, list, tuple, dict, datetime or date)",
        type_name(v)
    )))
}

fn seq_json<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    len: usize,
    depth: usize,
) -> Result<Value, ConvErr> {
    let mut out = Vec::with_capacity(len);
    for (i, item) in items.enumerate() {
        out.push(to_json_at(&item, depth + 1).map_err(|e| e.at(|| format!("[{i}]")))?);
    }
    Ok(Value::Array(out))
}

/// A `dict` argument (properties, traits, context) as a JSON object.
pub fn opt_object(
    v: Option<&Bound<'_, PyAny>>,
    field: &str,
) -> PyResult<Option<Map<String, Value>>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if !v.is_instance_of::<PyDict>() {
        return Err(validation(
            field,
            format!("expected a dict, got {}", type_name(v)),
        ));
    }
    match to_json(v, field)? {
        Value::Object(m) => Ok(Some(m)),
        _ => Err(validation(field, "expected a dict")),
    }
}

/// A JSON value as plain Python objects (`dict`, `list`, `str`, `int`, `float`,
/// `bool`, `None`).
pub fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    crate::pyser::to_py(py, v)
}

/// Any core report as plain Python objects, in its serde (JSON) shape, built directly
/// by [`crate::pyser`] (no intermediate `serde_json::Value`).
pub fn report<'py, T: Serialize>(py: Python<'py>, r: &T) -> PyResult<Bound<'py, PyAny>> {
    crate::pyser::to_py(py, r)
}

/// Build a core request struct from keyword arguments: each keyword must name a field
/// of the request (checked against the fields of `T::default()`), values convert like
/// properties (so `datetime` works anywhere a timestamp is expected). `range` may be a
/// `(from, to)` tuple; `None` leaves the field at its default.
pub fn request<T>(kwargs: Option<&Bound<'_, PyDict>>, what: &str) -> PyResult<T>
where
    T: DeserializeOwned + Serialize + Default,
{
    let mut map = Map::new();
    if let Some(kw) = kwargs {
        let known = match serde_json::to_value(T::default()) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        for (k, v) in kw.iter() {
            let key: String = k.extract()?;
            if !known.contains_key(&key) {
                let names: Vec<&str> = known.keys().map(String::as_str).collect();
                return Err(validation(
                    &key,
                    format!(
                        "unknown option for {what}; expected one of: {}",
                        names.join(", ")
                    ),
                ));
            }
            if v.is_none() {
                continue;
            }
            let mut value = to_json(&v, &key)?;
            if key == "range" {
                value = range_value(value)?;
            }
            map.insert(key, value);
        }
    }
    serde_json::from_value(Value::Object(map)).map_err(|e| validation(what, e.to_string()))
}

/// `(from, to)` -> `{"from": .., "to": ..}` (either may be `None`).
fn range_value(v: Value) -> PyResult<Value> {
    match v {
        Value::Array(mut a) if a.len() == 2 => {
            let to = a.pop().unwrap_or(Value::Null);
            let from = a.pop().unwrap_or(Value::Null);
            let mut m = Map::new();
            if !from.is_null() {
                m.insert("from".into(), from);
            }
            if !to.is_null() {
                m.insert("to".into(), to);
            }
            Ok(Value::Object(m))
        }
        Value::Array(_) => Err(validation("range", "expected (from, to)")),
        other => Ok(other),
    }
}

/// A value deserialized from a JSON value built from Python (typed settings).
pub fn from_json<T: DeserializeOwned>(v: Value, what: &str) -> PyResult<T> {
    serde_json::from_value(v).map_err(|e| validation(what, e.to_string()))
}
