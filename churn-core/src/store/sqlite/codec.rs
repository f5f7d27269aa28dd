//! The encoded column block: up to [`BLOCK_EVENTS`] events in one blob.
//!
//! Layout (integers are LEB128 varints, signed ones zigzag-encoded):
//!
//! ```text
//! format (1 byte = 1) | n | for each of the 10 columns: byte length, bytes
//! columns: seq (first, then deltas) | timestamp (first, then signed deltas)
//!        | received_at - timestamp | event name id | message_id
//!        | user_id | anonymous_id | session_id | properties JSON | context JSON
//! ```
//!
//! Strings are `length, bytes`; optional ones store `length + 1` with 0 meaning absent
//! (empty properties and context are absent). Columns are separate so a bulk load reads
//! only the core columns and never touches properties or context.

use crate::error::{Error, Result};
pub(super) use crate::store::idtable::hash64;

/// Most events in one block.
pub(super) const BLOCK_EVENTS: usize = 4096;

/// Format byte of the current encoding.
const FORMAT: u8 = 1;

const SEQ: usize = 0;
const TS: usize = 1;
const RECEIVED: usize = 2;
const NAME: usize = 3;
const MESSAGE: usize = 4;
const USER: usize = 5;
const ANON: usize = 6;
const SESSION: usize = 7;
const PROPS: usize = 8;
const CONTEXT: usize = 9;
const COLUMNS: usize = 10;

/// One event as stored: borrowed strings, JSON kept as text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct RawEvent<'a> {
    pub seq: u64,
    pub name: i64,
    pub message_id: &'a str,
    pub user_id: Option<&'a str>,
    pub anonymous_id: Option<&'a str>,
    pub timestamp: i64,
    pub received_at: i64,
    pub session_id: Option<&'a str>,
    pub properties: Option<&'a str>,
    pub context: Option<&'a str>,
}

fn corrupt(what: &str) -> Error {
    Error::storage(format!("corrupt event block: {what}"))
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            put_varint(out, s.len() as u64 + 1);
            out.extend_from_slice(s.as_bytes());
        }
    }
}

/// Builds one block, event by event, in `seq` order.
#[derive(Default)]
pub(super) struct Encoder {
    cols: [Vec<u8>; COLUMNS],
    n: usize,
    last_seq: u64,
    last_ts: i64,
}

impl Encoder {
    /// Events pushed so far.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Add an event (its `seq` must be above the previous one's).
    pub fn push(&mut self, e: &RawEvent<'_>) {
        let c = &mut self.cols;
        if self.n == 0 {
            put_varint(&mut c[SEQ], e.seq);
            put_varint(&mut c[TS], zigzag(e.timestamp));
        } else {
            put_varint(&mut c[SEQ], e.seq.wrapping_sub(self.last_seq));
            put_varint(&mut c[TS], zigzag(e.timestamp.wrapping_sub(self.last_ts)));
        }
        put_varint(
            &mut c[RECEIVED],
            zigzag(e.received_at.wrapping_sub(e.timestamp)),
        );
        put_varint(&mut c[NAME], e.name as u64);
        put_str(&mut c[MESSAGE], e.message_id);
        put_opt(&mut c[USER], e.user_id);
        put_opt(&mut c[ANON], e.anonymous_id);
        put_opt(&mut c[SESSION], e.session_id);
        put_opt(&mut c[PROPS], e.properties);
        put_opt(&mut c[CONTEXT], e.context);
        self.last_seq = e.seq;
        self.last_ts = e.timestamp;
        self.n += 1;
    }

    /// The message ids pushed so far, in order.
    pub fn message_ids(&self) -> Result<Vec<&str>> {
        let mut c = Cursor {
            buf: &self.cols[MESSAGE],
        };
        (0..self.n).map(|_| c.string()).collect()
    }

    /// The encoded block; the encoder is left empty for reuse.
    pub fn finish(&mut self) -> Vec<u8> {
        let total: usize = self.cols.iter().map(|c| c.len() + 10).sum();
        let mut out = Vec::with_capacity(total + 12);
        out.push(FORMAT);
        put_varint(&mut out, self.n as u64);
        for c in &mut self.cols {
            put_varint(&mut out, c.len() as u64);
            out.extend_from_slice(c);
            c.clear();
        }
        self.n = 0;
        out
    }
}

/// A reader over one column.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let (&b, rest) = self
                .buf
                .split_first()
                .ok_or_else(|| corrupt("short varint"))?;
            self.buf = rest;
            if shift >= 64 {
                return Err(corrupt("long varint"));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
            shift += 7;
        }
    }

    fn bytes(&mut self, n: u64) -> Result<&'a [u8]> {
        let n = usize::try_from(n).map_err(|_| corrupt("length"))?;
        if n > self.buf.len() {
            return Err(corrupt("length past the end"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn text(&mut self, n: u64) -> Result<&'a str> {
        std::str::from_utf8(self.bytes(n)?).map_err(|_| corrupt("invalid UTF-8"))
    }

    fn string(&mut self) -> Result<&'a str> {
        let n = self.varint()?;
        self.text(n)
    }

    fn opt(&mut self) -> Result<Option<&'a str>> {
        match self.varint()? {
            0 => Ok(None),
            n => self.text(n - 1).map(Some),
        }
    }
}

/// A decoded block header: its event count and column slices.
pub(super) struct Block<'a> {
    n: usize,
    cols: [&'a [u8]; COLUMNS],
}

impl<'a> Block<'a> {
    /// Split `data` into columns.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        let (&format, rest) = data.split_first().ok_or_else(|| corrupt("empty"))?;
        if format != FORMAT {
            return Err(corrupt(&format!("unknown format {format}")));
        }
        let mut c = Cursor { buf: rest };
        let n = usize::try_from(c.varint()?).map_err(|_| corrupt("count"))?;
        let mut cols = [&[][..]; COLUMNS];
        for col in &mut cols {
            let len = c.varint()?;
            *col = c.bytes(len)?;
        }
        Ok(Block { n, cols })
    }

    /// Number of events.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.n
    }

    /// Visit the events in order. With `full == false` the message id, properties and
    /// context are not decoded (left empty / `None`).
    pub fn for_each(
        &self,
        full: bool,
        mut f: impl FnMut(RawEvent<'a>) -> Result<std::ops::ControlFlow<()>>,
    ) -> Result<()> {
        let mut c = self.cols.map(|buf| Cursor { buf });
        let (mut seq, mut ts) = (0u64, 0i64);
        for i in 0..self.n {
            let ds = c[SEQ].varint()?;
            let dt = unzigzag(c[TS].varint()?);
            if i == 0 {
                (seq, ts) = (ds, dt);
            } else {
                seq = seq.wrapping_add(ds);
                ts = ts.wrapping_add(dt);
            }
            let received_at = ts.wrapping_add(unzigzag(c[RECEIVED].varint()?));
            let name = i64::try_from(c[NAME].varint()?).map_err(|_| corrupt("name id"))?;
            let (message_id, properties, context) = if full {
                (c[MESSAGE].string()?, c[PROPS].opt()?, c[CONTEXT].opt()?)
            } else {
                ("", None, None)
            };
            let e = RawEvent {
                seq,
                name,
                message_id,
                user_id: c[USER].opt()?,
                anonymous_id: c[ANON].opt()?,
                timestamp: ts,
                received_at,
                session_id: c[SESSION].opt()?,
                properties,
                context,
            };
            if f(e)?.is_break() {
                break;
            }
        }
        Ok(())
    }

    /// The message ids, in order.
    pub fn message_ids(&self) -> Result<Vec<&'a str>> {
        let mut c = Cursor {
            buf: self.cols[MESSAGE],
        };
        (0..self.n).map(|_| c.string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ops::ControlFlow;

    fn sample(i: u64) -> RawEvent<'static> {
        RawEvent {
            seq: 10 + i * 3,
            name: (i % 4) as i64,
            message_id: ["m-a", "m-b", "m-ü"][(i % 3) as usize],
            user_id: (i % 2 == 0).then_some("user"),
            anonymous_id: (i % 3 == 0).then_some("anon"),
            timestamp: 1_700_000_000_000 - (i as i64 % 5) * 1000,
            received_at: 1_700_000_000_500,
            session_id: None,
            properties: (i % 4 == 1).then_some(r#"{"a":1}"#),
            context: Some(""),
        }
    }

    #[test]
    fn round_trips_every_column() {
        let mut enc = Encoder::default();
        let evs: Vec<_> = (0..300).map(sample).collect();
        evs.iter().for_each(|e| enc.push(e));
        let data = enc.finish();
        let b = Block::parse(&data).unwrap();
        assert_eq!(b.len(), 300);
        let mut got = Vec::new();
        b.for_each(true, |e| {
            got.push(e);
            Ok(ControlFlow::Continue(()))
        })
        .unwrap();
        assert_eq!(got, evs);
        let mut core = Vec::new();
        b.for_each(false, |e| {
            core.push((e.seq, e.user_id, e.timestamp, e.message_id));
            Ok(ControlFlow::Continue(()))
        })
        .unwrap();
        assert_eq!(core[7], (evs[7].seq, evs[7].user_id, evs[7].timestamp, ""));
        assert_eq!(b.message_ids().unwrap()[2], "m-ü");
        // The encoder is reusable.
        enc.push(&evs[0]);
        assert_eq!(Block::parse(&enc.finish()).unwrap().len(), 1);
    }

    #[test]
    fn truncated_or_foreign_blocks_are_errors() {
        let mut enc = Encoder::default();
        (0..50).for_each(|i| enc.push(&sample(i)));
        let data = enc.finish();
        for cut in [0, 1, 5, data.len() / 2, data.len() - 1] {
            let r = Block::parse(&data[..cut]).and_then(|b| {
                b.for_each(true, |_| Ok(ControlFlow::Continue(())))?;
                Ok(b.len())
            });
            assert!(r.is_err(), "cut at {cut} decoded");
        }
        let mut other = data.clone();
        other[0] = 9;
        let e = Block::parse(&other).err().unwrap();
        assert!(e.to_string().contains("unknown format 9"), "{e}");
    }

    #[test]
    fn hash_is_stable_and_seeded() {
        assert_eq!(hash64(1, b"abc"), hash64(1, b"abc"));
        assert_ne!(hash64(1, b"abc"), hash64(2, b"abc"));
        assert_ne!(hash64(1, b"abcdefgh1"), hash64(1, b"abcdefgh2"));
        // Pinned: the hash is stored in files (event_block_ids), it must never change.
        assert_eq!(
            hash64(7, b"0-00000001-7c3a-4f1e-9b2d-000000001eef"),
            0x984a_8b31_74e6_64cd
        );
    }
}
