//! Binary `COPY` encoding and decoding (PostgreSQL's `FORMAT binary`), written by hand so
//! a batch is encoded straight into large buffers and a scan decodes rows without
//! allocating per row.

use futures_util::SinkExt;
use tokio_postgres::CopyInSink;

use crate::error::{Error, Result};

/// Bytes buffered before a chunk is sent to the server.
const CHUNK: usize = 1 << 18;

/// The binary `COPY` header: signature, flags, header extension length.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// Rows encoded in binary `COPY` format into one buffer (after the header).
pub(super) struct Encoder {
    pub(super) buf: Vec<u8>,
}

impl Encoder {
    /// An empty encoding (the header only) with room for `bytes`.
    pub(super) fn new(bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(bytes.max(HEADER.len()));
        buf.extend_from_slice(HEADER);
        Encoder { buf }
    }

    /// Start a row of `fields` fields.
    pub(super) fn row(&mut self, fields: i16) {
        self.buf.extend_from_slice(&fields.to_be_bytes());
    }

    pub(super) fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&8i32.to_be_bytes());
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(super) fn bytes(&mut self, v: &[u8]) -> Result<()> {
        let n = i32::try_from(v.len()).map_err(|_| Error::storage("postgres: field too large"))?;
        self.buf.extend_from_slice(&n.to_be_bytes());
        self.buf.extend_from_slice(v);
        Ok(())
    }

    pub(super) fn opt(&mut self, v: Option<&str>) -> Result<()> {
        match v {
            Some(s) => self.bytes(s.as_bytes()),
            None => {
                self.buf.extend_from_slice(&(-1i32).to_be_bytes());
                Ok(())
            }
        }
    }

    /// A field whose bytes `fill` appends to the buffer (its length is patched after).
    pub(super) fn with(&mut self, fill: impl FnOnce(&mut Vec<u8>) -> Result<()>) -> Result<()> {
        let at = self.buf.len();
        self.buf.extend_from_slice(&0i32.to_be_bytes());
        fill(&mut self.buf)?;
        let n = i32::try_from(self.buf.len() - at - 4)
            .map_err(|_| Error::storage("postgres: field too large"))?;
        self.buf[at..at + 4].copy_from_slice(&n.to_be_bytes());
        Ok(())
    }

    /// Send everything encoded to a `COPY ... FROM STDIN`, in chunks, and finish it;
    /// returns the rows the server stored.
    pub(super) async fn send(
        self,
        sink: CopyInSink<std::io::Cursor<Vec<u8>>>,
    ) -> std::result::Result<u64, tokio_postgres::Error> {
        let mut w = CopyWriter {
            sink: Box::pin(sink),
            enc: Encoder { buf: Vec::new() },
        };
        let mut rest = &self.buf[..];
        while rest.len() > CHUNK {
            let (chunk, tail) = rest.split_at(CHUNK);
            w.sink.send(std::io::Cursor::new(chunk.to_vec())).await?;
            rest = tail;
        }
        w.enc.buf.extend_from_slice(rest);
        w.finish().await
    }
}

/// Encodes rows into binary `COPY` chunks and sends them to a `COPY ... FROM STDIN`
/// (the [`Encoder`] methods write a row's fields).
pub(super) struct CopyWriter {
    sink: std::pin::Pin<Box<CopyInSink<std::io::Cursor<Vec<u8>>>>>,
    enc: Encoder,
}

impl std::ops::Deref for CopyWriter {
    type Target = Encoder;
    fn deref(&self) -> &Encoder {
        &self.enc
    }
}

impl std::ops::DerefMut for CopyWriter {
    fn deref_mut(&mut self) -> &mut Encoder {
        &mut self.enc
    }
}

impl CopyWriter {
    pub(super) fn new(sink: CopyInSink<std::io::Cursor<Vec<u8>>>) -> Self {
        CopyWriter {
            sink: Box::pin(sink),
            enc: Encoder::new(CHUNK + 4096),
        }
    }

    /// Send the buffer when it is large enough (call between rows).
    pub(super) async fn maybe_send(&mut self) -> std::result::Result<(), tokio_postgres::Error> {
        if self.enc.buf.len() >= CHUNK {
            let chunk = std::mem::replace(&mut self.enc.buf, Vec::with_capacity(CHUNK + 4096));
            self.sink.send(std::io::Cursor::new(chunk)).await?;
        }
        Ok(())
    }

    /// Send the trailer and finish the `COPY`; returns the rows the server stored.
    pub(super) async fn finish(mut self) -> std::result::Result<u64, tokio_postgres::Error> {
        self.enc.buf.extend_from_slice(&(-1i16).to_be_bytes());
        let chunk = std::mem::take(&mut self.enc.buf);
        self.sink.send(std::io::Cursor::new(chunk)).await?;
        self.sink.as_mut().finish().await
    }
}

/// Splits a binary `COPY ... TO STDOUT` stream into rows of fields. Feed it the
/// stream's chunks in order; complete rows are handed out, a row split across chunks is
/// kept until the rest arrives.
#[derive(Default)]
pub(super) struct CopyReader {
    pending: Vec<u8>,
    header_done: bool,
    pub(super) done: bool,
}

/// Most fields a decoded row may have.
const MAX_FIELDS: usize = 12;

/// One decoded row: each field's bytes, `None` for NULL.
pub(super) type Fields<'a> = [Option<&'a [u8]>];

impl CopyReader {
    /// Decode the complete rows in `pending` + `chunk`, calling `row` for each; stops
    /// early when `row` returns `false` (returns `Ok(false)` then).
    pub(super) fn feed(
        &mut self,
        chunk: &[u8],
        row: &mut dyn FnMut(&Fields<'_>) -> Result<bool>,
    ) -> Result<bool> {
        let data: &[u8] = if self.pending.is_empty() {
            chunk
        } else {
            self.pending.extend_from_slice(chunk);
            &self.pending
        };
        let mut at = 0;
        if !self.header_done {
            if data.len() < HEADER.len() {
                let rest = data.to_vec();
                self.pending = rest;
                return Ok(true);
            }
            if data[..11] != HEADER[..11] {
                return Err(Error::storage("postgres: bad COPY header"));
            }
            let ext = u32::from_be_bytes([data[15], data[16], data[17], data[18]]) as usize;
            at = HEADER.len() + ext;
            self.header_done = true;
        }
        let mut out: [Option<&[u8]>; MAX_FIELDS] = [None; MAX_FIELDS];
        let keep_going = loop {
            if data.len() < at + 2 {
                break true;
            }
            let n = i16::from_be_bytes([data[at], data[at + 1]]);
            if n == -1 {
                self.done = true;
                at = data.len();
                break true;
            }
            let n = usize::try_from(n)
                .ok()
                .filter(|&n| n <= MAX_FIELDS)
                .ok_or_else(|| Error::storage("postgres: bad COPY row"))?;
            let mut p = at + 2;
            let mut complete = true;
            for slot in out.iter_mut().take(n) {
                if data.len() < p + 4 {
                    complete = false;
                    break;
                }
                let len = i32::from_be_bytes([data[p], data[p + 1], data[p + 2], data[p + 3]]);
                p += 4;
                if len < 0 {
                    *slot = None;
                    continue;
                }
                let len = len as usize;
                if data.len() < p + len {
                    complete = false;
                    break;
                }
                *slot = Some(&data[p..p + len]);
                p += len;
            }
            if !complete {
                break true;
            }
            at = p;
            if !row(&out[..n])? {
                break false;
            }
        };
        let rest = data[at..].to_vec();
        self.pending = rest;
        Ok(keep_going)
    }
}

/// A big-endian `int8` field.
pub(super) fn be_i64(f: Option<&[u8]>) -> Result<i64> {
    match f {
        Some(b) if b.len() == 8 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            Ok(i64::from_be_bytes(a))
        }
        _ => Err(Error::storage("postgres: bad int8 in COPY row")),
    }
}

/// A `text` field (UTF-8, checked).
pub(super) fn text(f: Option<&[u8]>) -> Result<Option<&str>> {
    f.map(|b| std::str::from_utf8(b).map_err(|_| Error::storage("postgres: bad text in COPY row")))
        .transpose()
}
