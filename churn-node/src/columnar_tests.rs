//! The columns read back (as `decode.js` does) must equal serde_json's text read back.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::*;

/// The packed columns read back as `decode.js` reads them: counts from the header,
/// `u32` tags, `f64` numbers at the next multiple of 8, strings split at `'\0'`,
/// shapes parsed from their JSON.
struct Cols {
    tags: Vec<u32>,
    nums: Vec<f64>,
    strs: Vec<String>,
    shapes: Vec<Vec<String>>,
}

fn unpack(p: &Packed) -> Cols {
    let b = &p.bytes;
    let word = |at: usize| u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let (nt, nn) = (word(0) as usize, word(4) as usize);
    let at = (8 + 4 * nt).next_multiple_of(8);
    assert_eq!(
        b.len(),
        at + 8 * nn,
        "header counts match the buffer's length"
    );
    assert!(b[8 + 4 * nt..at].iter().all(|&x| x == 0), "padding is zero");
    let nums = (0..nn)
        .map(|i| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[at + 8 * i..at + 8 * i + 8]);
            f64::from_ne_bytes(x)
        })
        .collect();
    Cols {
        tags: (0..nt).map(|i| word(8 + 4 * i)).collect(),
        nums,
        strs: p.strs.split('\0').map(str::to_string).collect(),
        shapes: serde_json::from_str(&p.shapes).expect("shapes are JSON key lists"),
    }
}

/// What `decode.js` does, in Rust, from what the JS thread receives.
fn decode(p: &Packed) -> Value {
    let c = unpack(p);
    let (mut t, mut f, mut s) = (0, 0, 0);
    fn val(c: &Cols, t: &mut usize, f: &mut usize, s: &mut usize) -> Value {
        let tag = c.tags[*t];
        *t += 1;
        let n = (tag >> 3) as usize;
        match tag & 7 {
            NUM => {
                *f += 1;
                serde_json::Number::from_f64(c.nums[*f - 1]).map_or(Value::Null, Value::Number)
            }
            STR => {
                *s += 1;
                Value::String(c.strs[*s - 1].clone())
            }
            NULL => Value::Null,
            TRUE => Value::Bool(true),
            FALSE => Value::Bool(false),
            ARR => Value::Array((0..n).map(|_| val(c, t, f, s)).collect()),
            OBJ => {
                let mut m = Map::new();
                for k in &c.shapes[n] {
                    let v = val(c, t, f, s);
                    m.insert(k.clone(), v);
                }
                Value::Object(m)
            }
            _ => {
                let mut m = Map::new();
                for _ in 0..n {
                    *s += 1;
                    let k = c.strs[*s - 1].clone();
                    let v = val(c, t, f, s);
                    m.insert(k, v);
                }
                Value::Object(m)
            }
        }
    }
    let v = val(&c, &mut t, &mut f, &mut s);
    assert_eq!(t, c.tags.len(), "every tag read");
    assert_eq!(f, c.nums.len(), "every number read");
    v
}

/// JSON numbers compared as f64 (what JSON.parse gives), bit for bit.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x.to_bits() == y.to_bits()
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, a), (kb, b))| ka == kb && same(a, b))
        }
        _ => a == b,
    }
}

fn check<T: Serialize>(v: &T) {
    let text = serde_json::to_string(v).expect("serde_json writes it");
    let want: Value = serde_json::from_str(&text).expect("reads back");
    let got = decode(&encode(v).and_then(Columnar::pack).expect("encodes"));
    assert!(same(&got, &want), "{got} != {want} (from {text})");
}

#[derive(Serialize)]
struct Row {
    id: u64,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    ratio: f64,
    missing: Option<i32>,
}

#[derive(Serialize)]
enum E {
    Unit,
    New(i32),
    Tuple(i32, String),
    Struct { a: bool, b: Vec<u8> },
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Tagged {
    One { x: f32 },
    Two,
}

#[derive(Serialize)]
struct Unit;

#[derive(Serialize)]
struct Wrap(String);

#[test]
fn structs_with_skipped_fields_get_their_own_shapes() {
    let rows = vec![
        Row {
            id: 1,
            name: "a".into(),
            note: None,
            ratio: 0.1,
            missing: None,
        },
        Row {
            id: 2,
            name: "b".into(),
            note: Some("n".into()),
            ratio: f64::NAN,
            missing: Some(3),
        },
        Row {
            id: 3,
            name: "".into(),
            note: None,
            ratio: -0.0,
            missing: None,
        },
    ];
    check(&rows);
    assert_eq!(encode(&rows).map(|c| c.shapes.len()).ok(), Some(2));
}

#[test]
fn numbers_round_like_json_parse() {
    check(&vec![u64::MAX, (1 << 53) + 1, 0, 12_345_678_901_234_567]);
    check(&vec![i64::MIN, -((1 << 53) + 1), -1]);
    check(&vec![u128::MAX]);
    check(&vec![
        0.1f32,
        1e30,
        f32::MAX,
        f32::MIN_POSITIVE,
        16_777_217.0,
        3.3,
    ]);
    check(&vec![f32::NAN, f32::INFINITY]);
    check(&vec![
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        5e-324,
        1.7976931348623157e308,
    ]);
}

#[test]
fn enums_render_as_serde_json_renders_them() {
    check(&vec![
        E::Unit,
        E::New(4),
        E::Tuple(1, "t".into()),
        E::Struct {
            a: true,
            b: vec![0, 255],
        },
    ]);
    check(&vec![Tagged::One { x: 0.3 }, Tagged::Two]);
    check(&(Unit, (), Wrap("w".into()), 'é', Some(Some(1)), None::<u8>));
}

#[test]
fn bytes_are_arrays_of_numbers() {
    struct B;
    impl Serialize for B {
        fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&[1, 2, 250])
        }
    }
    check(&B);
}

#[test]
fn map_keys_are_stringified_as_serde_json_does() {
    let mut ints = BTreeMap::new();
    ints.insert(-3i64, "a");
    ints.insert(7, "b");
    check(&ints);
    let mut bools = BTreeMap::new();
    bools.insert(true, 1);
    check(&bools);
    let mut chars = BTreeMap::new();
    chars.insert('k', vec![E::Unit]);
    check(&chars);
    #[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
    enum K {
        Alpha,
    }
    let mut units = BTreeMap::new();
    units.insert(K::Alpha, 1.5);
    check(&units);
    let mut wrapped = BTreeMap::new();
    wrapped.insert(
        "x".to_string(),
        serde_json::json!({"nested": [1, {"__proto__": 2}]}),
    );
    check(&wrapped);
}

#[test]
fn displayed_values_go_straight_into_the_strings() {
    check(&churn_core::Timestamp::from_millis(1_767_312_000_123));
    check(&(
        churn_core::Timestamp::from_millis(-1),
        "x",
        churn_core::Timestamp::from_millis(i64::MAX),
    ));
    struct Shown(&'static str);
    impl Serialize for Shown {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(self.0)
        }
    }
    check(&[Shown("plain"), Shown("ünï")]);
    assert!(encode(&Shown("a\0b")).is_err());
}

#[test]
fn what_columns_cannot_carry_is_refused() {
    assert!(encode(&"a\0b").is_err());
    assert!(encode(&'\0').is_err());
    let mut m = BTreeMap::new();
    m.insert("k\0".to_string(), 1);
    assert!(encode(&m).is_err());
    let mut m = BTreeMap::new();
    m.insert(vec![1], 1);
    assert!(encode(&m).is_err(), "serde_json refuses this key too");
    assert!(serde_json::to_string(&m).is_err());
    let raw = serde_json::value::RawValue::from_string("[1]".into()).expect("raw");
    assert!(encode(&raw).is_err());
}

#[test]
fn packed_layout() {
    let p = encode(&(2.5, "x", [true]))
        .and_then(Columnar::pack)
        .expect("packs");
    // [3 tags, 1 number | ARR of 3, NUM, STR, ARR of 1, TRUE | padding | 2.5]
    let mut want = Vec::new();
    for w in [5u32, 1, ARR | (3 << 3), NUM, STR, ARR | (1 << 3), TRUE, 0] {
        want.extend_from_slice(&w.to_ne_bytes());
    }
    want.extend_from_slice(&2.5f64.to_ne_bytes());
    assert_eq!(p.bytes, want);
    assert_eq!(p.strs, "x\0");
    assert_eq!(p.shapes, "[]");
}

#[test]
fn empty_containers() {
    check(&serde_json::json!({"a": [], "b": {}, "c": [[]], "d": null}));
    check(&Vec::<Row>::new());
}

/// Worker-side cost beside serde_json (run with `--ignored --nocapture`, release).
#[test]
#[ignore]
fn encode_time_beside_serde_json() {
    #[derive(Serialize)]
    struct P {
        start: String,
        label: String,
        active_users: u64,
        new_users: u64,
        returning_users: u64,
        wau_7: Option<u64>,
        mau_30: Option<u64>,
        stickiness: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    }
    let rows: Vec<P> = (0..273)
        .map(|i| P {
            start: format!("2026-01-{:02}T00:00:00.000Z", i % 28 + 1),
            label: format!("2026-01-{:02}", i % 28 + 1),
            active_users: 1000 + i,
            new_users: i,
            returning_users: 1000,
            wau_7: Some(7000 + i),
            mau_30: (i > 30).then_some(20000),
            stickiness: Some(i as f64 / 7.3),
            note: None,
        })
        .collect();
    let n = 2000;
    for _ in 0..3 {
        let t = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(serde_json::to_string(&rows).expect("json"));
        }
        let j = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        let t = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(encode(&rows).expect("columns"));
        }
        let c = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        println!("serde_json {j:.1} us, columns {c:.1} us");
    }
}

/// Random JSON-like values (a small xorshift, no dependency) against serde_json.
#[test]
fn random_values_match_serde_json() {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    fn gen(next: &mut dyn FnMut() -> u64, depth: u32) -> Value {
        let strs = ["", "a", "é✓", "__proto__", "1", "line\nbreak", "\"q\"", "𝄞"];
        match next() % if depth > 3 { 6 } else { 8 } {
            0 => Value::Null,
            1 => Value::Bool(next() % 2 == 0),
            2 => serde_json::json!(next()),
            3 => serde_json::json!(next() as i64),
            4 => serde_json::json!(f64::from_bits(next()).clamp(-1e300, 1e300)),
            5 => Value::String(strs[(next() % strs.len() as u64) as usize].to_string()),
            6 => Value::Array((0..next() % 5).map(|_| gen(next, depth + 1)).collect()),
            _ => Value::Object(
                (0..next() % 5)
                    .map(|i| {
                        (
                            format!("{}{i}", strs[(next() % 8) as usize]),
                            gen(next, depth + 1),
                        )
                    })
                    .collect(),
            ),
        }
    }
    for _ in 0..2000 {
        let v = gen(&mut next, 0);
        check(&v);
    }
}
