//! [`StrKey`](super::StrKey): the fast path for string map keys; every other key type
//! is refused here and stringified by serde_json instead.

use serde::ser::{Impossible, Serialize, Serializer};

use super::{StrKey, Unsupported, R};

fn no<T>() -> R<T> {
    Err(Unsupported("not a string key".into()))
}

macro_rules! refuse {
    ($($f:ident($t:ty)),* $(,)?) => {
        $(fn $f(self, _v: $t) -> R { no() })*
    };
}

impl Serializer for StrKey<'_> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Impossible<(), Unsupported>;
    type SerializeTuple = Impossible<(), Unsupported>;
    type SerializeTupleStruct = Impossible<(), Unsupported>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Impossible<(), Unsupported>;
    type SerializeStruct = Impossible<(), Unsupported>;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    fn serialize_str(self, v: &str) -> R {
        self.0.key(v)
    }

    refuse!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
    );

    fn serialize_none(self) -> R {
        no()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _v: &T) -> R {
        no()
    }
    fn serialize_unit(self) -> R {
        no()
    }
    fn serialize_unit_variant(self, _n: &'static str, _i: u32, _v: &'static str) -> R {
        no()
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _n: &'static str, _v: &T) -> R {
        no()
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _n: &'static str,
        _i: u32,
        _v: &'static str,
        _value: &T,
    ) -> R {
        no()
    }
    fn serialize_seq(self, _len: Option<usize>) -> R<Self::SerializeSeq> {
        no()
    }
    fn serialize_tuple(self, _len: usize) -> R<Self::SerializeTuple> {
        no()
    }
    fn serialize_tuple_struct(self, _n: &'static str, _l: usize) -> R<Self::SerializeTupleStruct> {
        no()
    }
    fn serialize_tuple_variant(
        self,
        _n: &'static str,
        _i: u32,
        _v: &'static str,
        _l: usize,
    ) -> R<Self::SerializeTupleVariant> {
        no()
    }
    fn serialize_map(self, _len: Option<usize>) -> R<Self::SerializeMap> {
        no()
    }
    fn serialize_struct(self, _n: &'static str, _l: usize) -> R<Self::SerializeStruct> {
        no()
    }
    fn serialize_struct_variant(
        self,
        _n: &'static str,
        _i: u32,
        _v: &'static str,
        _l: usize,
    ) -> R<Self::SerializeStructVariant> {
        no()
    }
}
