//! Results to JavaScript as columns instead of JSON text.
//!
//! [`encode`] is a serde `Serializer` for any `Serialize` value that gives the same
//! JavaScript value `JSON.parse(serde_json::to_string(value))` would, in a form that
//! costs the JS thread less to read: a stream of `u32` tags (one per value: number,
//! string, null, true, false, array of n, object of shape s, map of n), the numbers
//! as `f64` (no float formatting or parsing), every string in one text joined by
//! `'\0'`, and the shapes (key lists) of the objects. `index.js` (`decode.js`) builds
//! the objects with one constructor per shape, compiled once and cached.
//!
//! serde_json semantics kept: non-finite floats and `None` / unit become `null`,
//! skipped fields are absent, integers become the nearest `f64` (what `JSON.parse`
//! reads from their decimal text), `f32` goes through its shortest decimal text as
//! serde_json writes it, unit variants are strings, newtype / tuple / struct variants
//! `{ "Variant": … }`, bytes arrays of numbers, chars strings, map keys stringified by
//! serde_json itself. Anything this format cannot carry (a string containing `'\0'`,
//! a serde_json `RawValue`, a key serde_json refuses, more than 2^29 items) is an
//! error, and the caller falls back to JSON text.
//!
//! ```
//! let c = churn_node::columnar::encode(&serde_json::json!({ "a": [1, "x", null] })).unwrap();
//! assert_eq!(c.nums, vec![1.0]);
//! assert_eq!(c.strs, "a\0x\0");
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::ser::{self, Serialize};

/// Tag of a number (the next item of [`Columnar::nums`]).
pub const NUM: u32 = 0;
/// Tag of a string (the next `'\0'`-terminated item of [`Columnar::strs`]).
pub const STR: u32 = 1;
/// Tag of `null`.
pub const NULL: u32 = 2;
/// Tag of `true`.
pub const TRUE: u32 = 3;
/// Tag of `false`.
pub const FALSE: u32 = 4;
/// Tag of an array; `tag >> 3` items follow.
pub const ARR: u32 = 5;
/// Tag of an object of shape `tag >> 3`; one value per key of the shape follows.
pub const OBJ: u32 = 6;
/// Tag of an object with `tag >> 3` keys read from the strings, each before its value.
pub const MAP: u32 = 7;

const MAX_LEN: usize = 1 << 29;

/// A value in columns (see the module docs).
#[derive(Debug, Default)]
pub struct Columnar {
    /// One tag per value, in document order (a container before its items).
    pub tags: Vec<u32>,
    /// The numbers, in document order.
    pub nums: Vec<f64>,
    /// The strings (values and map keys), each followed by `'\0'`.
    pub strs: String,
    /// Key lists of the [`OBJ`] shapes, by shape id.
    pub shapes: Vec<Vec<&'static str>>,
    ids: HashMap<Vec<&'static str>, u32>,
    keys: Vec<&'static str>,
    last: u32,
}

/// Why a value cannot go as columns (the caller sends JSON text instead).
#[derive(Debug)]
pub struct Unsupported(pub String);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Unsupported(msg.to_string())
    }
}

type R<T = ()> = Result<T, Unsupported>;

/// Encode `value` as columns, or say why it cannot be (see the module docs).
///
/// ```
/// use churn_node::columnar::{encode, ARR, NUM, NULL};
/// let c = encode(&[Some(1.5), None, Some(f64::NAN)]).unwrap();
/// assert_eq!(c.tags, vec![ARR | (3 << 3), NUM, NULL, NULL]);
/// assert!(encode("a\0b").is_err());
/// ```
pub fn encode<T: Serialize + ?Sized>(value: &T) -> R<Columnar> {
    let mut c = Columnar {
        tags: Vec::with_capacity(SIZE_HINT[0].load(Ordering::Relaxed)),
        nums: Vec::with_capacity(SIZE_HINT[1].load(Ordering::Relaxed)),
        strs: String::with_capacity(SIZE_HINT[2].load(Ordering::Relaxed)),
        ..Columnar::default()
    };
    value.serialize(&mut c)?;
    for (hint, len) in SIZE_HINT
        .iter()
        .zip([c.tags.len(), c.nums.len(), c.strs.len()])
    {
        hint.store(len.min(SIZE_HINT_CAP), Ordering::Relaxed);
    }
    Ok(c)
}

/// The previous result's tag, number and string-byte counts: the next one starts with
/// that much room. Growing the columns from empty cost the worker ~10 us per report
/// (about 12 reallocations each, right after the analysis evicted the caches). Medians
/// of the encode right after each analysis, 10 in a row or interleaved, without / with
/// the hint: `sessions` 33-38 / 22-25 us, `retention` 16-18 / 12-14, `activeUsers`
/// 34-51 / 26-38.
static SIZE_HINT: [AtomicUsize; 3] = [
    AtomicUsize::new(0),
    AtomicUsize::new(0),
    AtomicUsize::new(0),
];
/// A hint is never more than this (a huge result does not make every later one reserve
/// as much).
const SIZE_HINT_CAP: usize = 1 << 16;

/// Columns ready for the JS thread, built on the worker: the `ArrayBuffer`'s bytes
/// (`[tag count: u32, number count: u32, tags: u32…, padding to 8 bytes, numbers:
/// f64…]`, native byte order), the strings and the shapes as JSON. The JS thread then
/// makes the buffer with one copy and the two strings, nothing per value.
#[derive(Debug)]
pub struct Packed {
    /// The `ArrayBuffer`'s contents.
    pub bytes: Vec<u8>,
    /// The strings, each followed by `'\0'`.
    pub strs: String,
    /// [`Columnar::shapes_json`].
    pub shapes: String,
}

impl Columnar {
    /// Pack for the JS thread (see [`Packed`]); too many tags or numbers for a `u32`
    /// count is [`Unsupported`].
    ///
    /// ```
    /// let p = churn_node::columnar::encode(&[2.5]).unwrap().pack().unwrap();
    /// assert_eq!(p.bytes.len(), 8 + 2 * 4 + 8); // header, two tags (array, number), one f64
    /// assert_eq!(&p.bytes[0..8], [2u32.to_ne_bytes(), 1u32.to_ne_bytes()].concat());
    /// assert_eq!(p.bytes[16..24], 2.5f64.to_ne_bytes());
    /// ```
    pub fn pack(self) -> R<Packed> {
        let (Ok(nt), Ok(nn)) = (
            u32::try_from(self.tags.len()),
            u32::try_from(self.nums.len()),
        ) else {
            return Err(Unsupported("result too large".into()));
        };
        let nums_at = (8 + 4 * self.tags.len()).next_multiple_of(8);
        let mut bytes = Vec::with_capacity(nums_at + 8 * self.nums.len());
        bytes.extend_from_slice(&nt.to_ne_bytes());
        bytes.extend_from_slice(&nn.to_ne_bytes());
        for t in &self.tags {
            bytes.extend_from_slice(&t.to_ne_bytes());
        }
        bytes.resize(nums_at, 0);
        for x in &self.nums {
            bytes.extend_from_slice(&x.to_ne_bytes());
        }
        let shapes = self.shapes_json();
        Ok(Packed {
            bytes,
            strs: self.strs,
            shapes,
        })
    }

    /// The shapes as a JSON array of key lists.
    pub fn shapes_json(&self) -> String {
        serde_json::to_string(&self.shapes).unwrap_or_else(|_| "[]".into())
    }

    fn string(&mut self, s: &str) -> R {
        self.key(s)?;
        self.tags.push(STR);
        Ok(())
    }

    /// A map key: a string without a tag.
    fn key(&mut self, s: &str) -> R {
        if s.contains('\0') {
            return Err(Unsupported("a string contains NUL".into()));
        }
        self.strs.push_str(s);
        self.strs.push('\0');
        Ok(())
    }

    fn num(&mut self, x: f64) -> R {
        if x.is_finite() {
            self.tags.push(NUM);
            self.nums.push(x);
        } else {
            self.tags.push(NULL);
        }
        Ok(())
    }

    /// Open a container whose tag is written by `end`.
    fn open(&mut self) -> usize {
        self.tags.push(0);
        self.tags.len() - 1
    }

    fn close(&mut self, at: usize, tag: u32, n: usize) -> R {
        if n >= MAX_LEN {
            return Err(Unsupported("too many items".into()));
        }
        self.tags[at] = tag | ((n as u32) << 3);
        Ok(())
    }

    /// The id of the shape `keys[from..]` (interned), popping those keys.
    ///
    /// Field names are `&'static str`s of the serializing code, so a shape seen before
    /// has the very same pointers: the last shape found and then every shape are
    /// compared by pointer before the key texts are hashed.
    fn shape(&mut self, from: usize) -> R<u32> {
        let keys = &self.keys[from..];
        let same = |shape: &[&'static str]| {
            shape.len() == keys.len()
                && shape
                    .iter()
                    .zip(keys)
                    .all(|(a, b)| std::ptr::eq(a.as_ptr(), b.as_ptr()) && a.len() == b.len())
        };
        let found = match self.shapes.get(self.last as usize) {
            Some(s) if same(s) => Some(self.last),
            _ => self.shapes.iter().position(|s| same(s)).map(|i| i as u32),
        };
        let id = match found.or_else(|| self.ids.get(keys).copied()) {
            Some(id) => id,
            None => {
                let id = self.shapes.len();
                if id >= MAX_LEN {
                    return Err(Unsupported("too many shapes".into()));
                }
                let keys = keys.to_vec();
                self.shapes.push(keys.clone());
                self.ids.insert(keys, id as u32);
                id as u32
            }
        };
        self.last = id;
        self.keys.truncate(from);
        Ok(id)
    }

    /// `{ "variant": … }`: the one-key object around a variant's content.
    fn variant(&mut self, variant: &'static str) -> R {
        let at = self.open();
        let from = self.keys.len();
        self.keys.push(variant);
        let id = self.shape(from)?;
        self.tags[at] = OBJ | (id << 3);
        Ok(())
    }
}

/// An array, map or object being written.
pub struct Compound<'a> {
    c: &'a mut Columnar,
    at: usize,
    n: usize,
    from: usize,
}

impl<'a> ser::Serializer for &'a mut Columnar {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> R {
        self.tags.push(if v { TRUE } else { FALSE });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> R {
        self.num(v.into())
    }
    fn serialize_i16(self, v: i16) -> R {
        self.num(v.into())
    }
    fn serialize_i32(self, v: i32) -> R {
        self.num(v.into())
    }
    fn serialize_i64(self, v: i64) -> R {
        // Rounds to the nearest f64, as JSON.parse does with the decimal text.
        self.num(v as f64)
    }
    fn serialize_i128(self, v: i128) -> R {
        self.num(v as f64)
    }
    fn serialize_u8(self, v: u8) -> R {
        self.num(v.into())
    }
    fn serialize_u16(self, v: u16) -> R {
        self.num(v.into())
    }
    fn serialize_u32(self, v: u32) -> R {
        self.num(v.into())
    }
    fn serialize_u64(self, v: u64) -> R {
        self.num(v as f64)
    }
    fn serialize_u128(self, v: u128) -> R {
        self.num(v as f64)
    }
    fn serialize_f32(self, v: f32) -> R {
        if !v.is_finite() {
            return self.num(f64::NAN);
        }
        // serde_json writes the shortest text that reads back as this f32; JSON.parse
        // reads that text as an f64.
        let x = v.to_string().parse::<f64>().unwrap_or(v.into());
        self.num(x)
    }
    fn serialize_f64(self, v: f64) -> R {
        self.num(v)
    }
    fn serialize_char(self, v: char) -> R {
        self.string(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> R {
        self.string(v)
    }
    /// Written straight into the strings (timestamps come this way), not through a
    /// `String` of their own.
    fn collect_str<T: ?Sized + fmt::Display>(self, v: &T) -> R {
        use fmt::Write;
        let at = self.strs.len();
        if write!(self.strs, "{v}").is_err() || self.strs[at..].contains('\0') {
            self.strs.truncate(at);
            return Err(Unsupported(
                "a string contains NUL or cannot be written".into(),
            ));
        }
        self.strs.push('\0');
        self.tags.push(STR);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> R {
        let at = self.open();
        for &b in v {
            self.num(b.into())?;
        }
        self.close(at, ARR, v.len())
    }
    fn serialize_none(self) -> R {
        self.tags.push(NULL);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> R {
        value.serialize(self)
    }
    fn serialize_unit(self) -> R {
        self.tags.push(NULL);
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> R {
        self.tags.push(NULL);
        Ok(())
    }
    fn serialize_unit_variant(self, _name: &'static str, _i: u32, variant: &'static str) -> R {
        self.string(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _n: &'static str, v: &T) -> R {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        value: &T,
    ) -> R {
        self.variant(variant)?;
        value.serialize(self)
    }
    fn serialize_seq(self, _len: Option<usize>) -> R<Compound<'a>> {
        let at = self.open();
        Ok(Compound {
            c: self,
            at,
            n: 0,
            from: 0,
        })
    }
    fn serialize_tuple(self, len: usize) -> R<Compound<'a>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> R<Compound<'a>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        len: usize,
    ) -> R<Compound<'a>> {
        self.variant(variant)?;
        self.serialize_seq(Some(len))
    }
    fn serialize_map(self, _len: Option<usize>) -> R<Compound<'a>> {
        self.serialize_seq(None)
    }
    fn serialize_struct(self, name: &'static str, _len: usize) -> R<Compound<'a>> {
        if name.starts_with("$serde_json::") {
            return Err(Unsupported(format!("{name} is serde_json's own")));
        }
        let at = self.open();
        let from = self.keys.len();
        Ok(Compound {
            c: self,
            at,
            n: 0,
            from,
        })
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _i: u32,
        variant: &'static str,
        len: usize,
    ) -> R<Compound<'a>> {
        self.variant(variant)?;
        self.serialize_struct(name, len)
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> R {
        self.n += 1;
        value.serialize(&mut *self.c)
    }
    fn end(self) -> R {
        self.c.close(self.at, ARR, self.n)
    }
}

/// The tuple kinds are sequences: each element goes through `SerializeSeq`.
macro_rules! tuple_as_seq {
    ($($kind:ident :: $method:ident),*) => {$(
        impl ser::$kind for Compound<'_> {
            type Ok = ();
            type Error = Unsupported;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> R {
                ser::SerializeSeq::serialize_element(self, value)
            }
            fn end(self) -> R {
                ser::SerializeSeq::end(self)
            }
        }
    )*};
}
tuple_as_seq!(
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

/// `{ key: null }`, to let serde_json stringify a map key its own way.
struct KeyOnly<'k, K: ?Sized>(&'k K);

impl<K: Serialize + ?Sized> Serialize for KeyOnly<'_, K> {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(self.0, &())?;
        m.end()
    }
}

/// Captures a `&str` key; anything else is refused (and handed to serde_json).
struct StrKey<'c>(&'c mut Columnar);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> R {
        self.n += 1;
        if key.serialize(StrKey(&mut *self.c)).is_ok() {
            return Ok(());
        }
        let v = serde_json::to_value(KeyOnly(key)).map_err(|e| Unsupported(e.to_string()))?;
        match v {
            serde_json::Value::Object(m) if m.len() == 1 => match m.keys().next() {
                Some(k) => self.c.key(k),
                None => Err(Unsupported("no key".into())),
            },
            _ => Err(Unsupported("a key serde_json does not write".into())),
        }
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> R {
        value.serialize(&mut *self.c)
    }
    fn end(self) -> R {
        self.c.close(self.at, MAP, self.n)
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> R {
        self.c.keys.push(key);
        value.serialize(&mut *self.c)
    }
    fn end(self) -> R {
        let id = self.c.shape(self.from)?;
        self.c.tags[self.at] = OBJ | (id << 3);
        Ok(())
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> R {
        ser::SerializeStruct::serialize_field(self, key, value)
    }
    fn end(self) -> R {
        ser::SerializeStruct::end(self)
    }
}

#[path = "columnar_key.rs"]
mod key;

#[cfg(test)]
#[path = "columnar_tests.rs"]
mod tests;
