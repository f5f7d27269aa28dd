//! A serde `Serializer` that builds plain Python objects straight from a core report,
//! with the shape `serde_json::to_value` gives (so the same shape the HTTP server
//! sends): structs and maps become `dict` (keys in serialization order; integer, bool
//! and char keys as text, like JSON object keys), sequences and tuples `list`, unit and
//! `None` `None`, a unit variant its name, other variants `{name: value}`, and a
//! non-finite float `None` (JSON has no NaN). No intermediate `serde_json::Value`.
//!
//! `pythonize` (the pyo3 maintainers' crate) does this too but gives tuples as
//! `tuple`, bytes as `bytes` and NaN as `nan`: a different shape from the JSON one the
//! reports promise, so the ~200 lines live here.

use std::fmt;

use parking_lot::Mutex;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyList, PyString};
use pyo3::IntoPyObjectExt;
use serde::ser::{self, Serialize};

use crate::error::core_err;

/// `value` as plain Python objects.
pub fn to_py<'py, T: Serialize + ?Sized>(
    py: Python<'py>,
    value: &T,
) -> PyResult<Bound<'py, PyAny>> {
    value.serialize(PySer { py }).map_err(|e| e.0)
}

/// A failure while building: a Python error, or serde's message as a `StorageError`
/// (as `serde_json::to_value` failing was reported).
pub struct SerError(PyErr);

impl fmt::Debug for SerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for SerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for SerError {}

impl ser::Error for SerError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        SerError(core_err(churn_core::Error::storage(msg)))
    }
}

impl From<PyErr> for SerError {
    fn from(e: PyErr) -> Self {
        SerError(e)
    }
}

type Res<'py> = Result<Bound<'py, PyAny>, SerError>;

#[derive(Clone, Copy)]
struct PySer<'py> {
    py: Python<'py>,
}

impl<'py> PySer<'py> {
    fn int(self, v: impl IntoPyObject<'py>) -> Res<'py> {
        Ok(v.into_bound_py_any(self.py)?)
    }

    fn str(self, s: &str) -> Res<'py> {
        Ok(PyString::new(self.py, s).into_any())
    }

    /// `{variant: value}`.
    fn tagged(self, variant: &'static str, value: Bound<'py, PyAny>) -> Res<'py> {
        let d = PyDict::new(self.py);
        d.set_item(PyString::new(self.py, variant), value)?;
        Ok(d.into_any())
    }
}

impl<'py> ser::Serializer for PySer<'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = SerError;
    type SerializeSeq = Seq<'py>;
    type SerializeTuple = Seq<'py>;
    type SerializeTupleStruct = Seq<'py>;
    type SerializeTupleVariant = Seq<'py>;
    type SerializeMap = Map<'py>;
    type SerializeStruct = Map<'py>;
    type SerializeStructVariant = Map<'py>;

    fn serialize_bool(self, v: bool) -> Res<'py> {
        Ok(PyBool::new(self.py, v).to_owned().into_any())
    }
    fn serialize_i8(self, v: i8) -> Res<'py> {
        self.int(v)
    }
    fn serialize_i16(self, v: i16) -> Res<'py> {
        self.int(v)
    }
    fn serialize_i32(self, v: i32) -> Res<'py> {
        self.int(v)
    }
    fn serialize_i64(self, v: i64) -> Res<'py> {
        self.int(v)
    }
    fn serialize_i128(self, v: i128) -> Res<'py> {
        self.int(v)
    }
    fn serialize_u8(self, v: u8) -> Res<'py> {
        self.int(v)
    }
    fn serialize_u16(self, v: u16) -> Res<'py> {
        self.int(v)
    }
    fn serialize_u32(self, v: u32) -> Res<'py> {
        self.int(v)
    }
    fn serialize_u64(self, v: u64) -> Res<'py> {
        self.int(v)
    }
    fn serialize_u128(self, v: u128) -> Res<'py> {
        self.int(v)
    }
    fn serialize_f32(self, v: f32) -> Res<'py> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Res<'py> {
        if v.is_finite() {
            Ok(PyFloat::new(self.py, v).into_any())
        } else {
            self.serialize_unit()
        }
    }
    fn serialize_char(self, v: char) -> Res<'py> {
        self.str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Res<'py> {
        self.str(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Res<'py> {
        let items: Vec<u8> = v.to_vec();
        Ok(PyList::new(self.py, items)?.into_any())
    }
    fn serialize_none(self) -> Res<'py> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Res<'py> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Res<'py> {
        Ok(self.py.None().into_bound(self.py))
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Res<'py> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _n: &'static str, _i: u32, variant: &'static str) -> Res<'py> {
        self.str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _n: &'static str, v: &T) -> Res<'py> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Res<'py> {
        let v = value.serialize(self)?;
        self.tagged(variant, v)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Seq<'py>, SerError> {
        Ok(Seq {
            ser: self,
            items: Vec::with_capacity(len.unwrap_or(0)),
            variant: None,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq<'py>, SerError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _n: &'static str, len: usize) -> Result<Seq<'py>, SerError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Seq<'py>, SerError> {
        let mut s = self.serialize_seq(Some(len))?;
        s.variant = Some(variant);
        Ok(s)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Map<'py>, SerError> {
        Ok(Map {
            ser: self,
            dict: PyDict::new(self.py),
            key: None,
            variant: None,
        })
    }
    fn serialize_struct(self, _n: &'static str, len: usize) -> Result<Map<'py>, SerError> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Map<'py>, SerError> {
        let mut m = self.serialize_map(Some(len))?;
        m.variant = Some(variant);
        Ok(m)
    }
}

/// A sequence being built (`list`; inside `{variant: [...]}` for a tuple variant).
pub struct Seq<'py> {
    ser: PySer<'py>,
    items: Vec<Bound<'py, PyAny>>,
    variant: Option<&'static str>,
}

impl<'py> Seq<'py> {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.items.push(value.serialize(self.ser)?);
        Ok(())
    }

    fn done(self) -> Res<'py> {
        let list = PyList::new(self.ser.py, self.items)?.into_any();
        match self.variant {
            Some(v) => self.ser.tagged(v, list),
            None => Ok(list),
        }
    }
}

impl<'py> ser::SerializeSeq for Seq<'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.push(value)
    }
    fn end(self) -> Res<'py> {
        self.done()
    }
}

impl<'py> ser::SerializeTuple for Seq<'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.push(value)
    }
    fn end(self) -> Res<'py> {
        self.done()
    }
}

impl<'py> ser::SerializeTupleStruct for Seq<'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.push(value)
    }
    fn end(self) -> Res<'py> {
        self.done()
    }
}

impl<'py> ser::SerializeTupleVariant for Seq<'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.push(value)
    }
    fn end(self) -> Res<'py> {
        self.done()
    }
}

/// A `dict` being built (inside `{variant: {...}}` for a struct variant).
pub struct Map<'py> {
    ser: PySer<'py>,
    dict: Bound<'py, PyDict>,
    key: Option<Bound<'py, PyAny>>,
    variant: Option<&'static str>,
}

impl<'py> Map<'py> {
    fn done(self) -> Res<'py> {
        let d = self.dict.into_any();
        match self.variant {
            Some(v) => self.ser.tagged(v, d),
            None => Ok(d),
        }
    }

    fn field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        let v = value.serialize(self.ser)?;
        self.dict.set_item(field_name(self.ser.py, key), v)?;
        Ok(())
    }
}

impl<'py> ser::SerializeMap for Map<'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = SerError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerError> {
        self.key = Some(key.serialize(KeySer { py: self.ser.py })?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        let Some(k) = self.key.take() else {
            return Err(ser::Error::custom("map value without a key"));
        };
        let v = value.serialize(self.ser)?;
        self.dict.set_item(k, v)?;
        Ok(())
    }
    fn end(self) -> Res<'py> {
        self.done()
    }
}

impl<'py> ser::SerializeStruct for Map<'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        self.field(key, value)
    }
    fn end(self) -> Res<'py> {
        self.done()
    }
}

impl<'py> ser::SerializeStructVariant for Map<'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        self.field(key, value)
    }
    fn end(self) -> Res<'py> {
        self.done()
    }
}

/// Slots of the field-name cache (a power of two).
const NAME_SLOTS: usize = 512;

/// Interned `str` objects of struct field names, by the address and length of the
/// `&'static str` (a direct-mapped cache: a clash just builds the name again). Reports
/// repeat a few dozen field names thousands of times; a cached, interned name is shared
/// by every dict, carries its hash, and costs no allocation.
static NAMES: Mutex<Vec<Option<Name>>> = Mutex::new(Vec::new());

/// A cached field name: the key's address and length, and its `str`.
type Name = (usize, usize, Py<PyString>);

fn field_name<'py>(py: Python<'py>, key: &'static str) -> Bound<'py, PyString> {
    let (addr, len) = (key.as_ptr() as usize, key.len());
    let slot = ((addr >> 3) ^ len.wrapping_mul(31)) & (NAME_SLOTS - 1);
    let mut names = NAMES.lock();
    if names.is_empty() {
        names.resize_with(NAME_SLOTS, || None);
    }
    if let Some((a, l, s)) = &names[slot] {
        if (*a, *l) == (addr, len) {
            return s.bind(py).clone();
        }
    }
    let s = PyString::intern(py, key);
    names[slot] = Some((addr, len, s.clone().unbind()));
    s
}

/// Map keys as `str`, the way JSON object keys are written by `serde_json`.
struct KeySer<'py> {
    py: Python<'py>,
}

fn key_must_be_a_string() -> SerError {
    ser::Error::custom("key must be a string")
}

impl<'py> KeySer<'py> {
    fn text(self, s: &str) -> Res<'py> {
        Ok(PyString::new(self.py, s).into_any())
    }
}

impl<'py> ser::Serializer for KeySer<'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = SerError;
    type SerializeSeq = ser::Impossible<Bound<'py, PyAny>, SerError>;
    type SerializeTuple = ser::Impossible<Bound<'py, PyAny>, SerError>;
    type SerializeTupleStruct = ser::Impossible<Bound<'py, PyAny>, SerError>;
    type SerializeTupleVariant = ser::Impossible<Bound<'py, PyAny>, SerError>;
    type SerializeMap = ser::Impossible<Bound<'py, PyAny>, SerError>;
    type SerializeStruct = ser::Impossible<Bound<'py, PyAny>, SerError>;
    type SerializeStructVariant = ser::Impossible<Bound<'py, PyAny>, SerError>;

    fn serialize_bool(self, v: bool) -> Res<'py> {
        self.text(if v { "true" } else { "false" })
    }
    fn serialize_i8(self, v: i8) -> Res<'py> {
        self.text(&v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Res<'py> {
        self.text(&v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Res<'py> {
        self.text(&v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Res<'py> {
        self.text(&v.to_string())
    }
    fn serialize_i128(self, v: i128) -> Res<'py> {
        self.text(&v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Res<'py> {
        self.text(&v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Res<'py> {
        self.text(&v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Res<'py> {
        self.text(&v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Res<'py> {
        self.text(&v.to_string())
    }
    fn serialize_u128(self, v: u128) -> Res<'py> {
        self.text(&v.to_string())
    }
    fn serialize_f32(self, _v: f32) -> Res<'py> {
        Err(key_must_be_a_string())
    }
    fn serialize_f64(self, _v: f64) -> Res<'py> {
        Err(key_must_be_a_string())
    }
    fn serialize_char(self, v: char) -> Res<'py> {
        self.text(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Res<'py> {
        self.text(v)
    }
    fn serialize_bytes(self, _v: &[u8]) -> Res<'py> {
        Err(key_must_be_a_string())
    }
    fn serialize_none(self) -> Res<'py> {
        Err(key_must_be_a_string())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Res<'py> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit(self) -> Res<'py> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Res<'py> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit_variant(self, _n: &'static str, _i: u32, variant: &'static str) -> Res<'py> {
        self.text(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _n: &'static str, v: &T) -> Res<'py> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Res<'py> {
        Err(key_must_be_a_string())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, SerError> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, SerError> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, SerError> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, SerError> {
        Err(key_must_be_a_string())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, SerError> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, SerError> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, SerError> {
        Err(key_must_be_a_string())
    }
}
