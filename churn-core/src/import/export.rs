//! Export stored events as CSV or NDJSON, in a shape [`import_reader`](super::import_reader)
//! reads back to the same events (only `received_at` is set anew on import).
//!
//! CSV columns: `message_id, timestamp, event, user_id, anonymous_id, session_id, amount,
//! properties, context` (the last two as JSON objects; `amount` is taken out of the
//! properties when it is a number). NDJSON: one track message per line, Segment-readable
//! (`type`, `event`, `timestamp`, ...) with `received_at` added.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::ControlFlow;
use std::path::Path;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};

use super::options::FileFormat;
use crate::error::{Error, Result};
use crate::event::{Context, Event, Properties};
use crate::store::{ScanRequest, Store};
use crate::time::Timestamp;

/// The CSV header of an export.
pub(crate) const CSV_COLUMNS: [&str; 9] = [
    "message_id",
    "timestamp",
    "event",
    "user_id",
    "anonymous_id",
    "session_id",
    "amount",
    "properties",
    "context",
];

/// Write the events `req` selects from `project` to `writer`; returns how many were
/// written. The writer is flushed at the end (wrap files in a `BufWriter`).
///
/// ```
/// use churn_core::event::Event;
/// use churn_core::import::{export_events, FileFormat};
/// use churn_core::store::{MemoryStore, ScanRequest, StoreExt, DEFAULT_PROJECT};
/// use churn_core::Timestamp;
///
/// let store = MemoryStore::new();
/// let e = Event::track("purchase").user_id("u1").message_id("m1").number("amount", 9.5)
///     .timestamp(Timestamp::from_ymd(2025, 1, 2).unwrap()).build()?;
/// store.append(DEFAULT_PROJECT, &[e])?;
/// let mut out = Vec::new();
/// let n = export_events(&store, DEFAULT_PROJECT, &ScanRequest::new(), FileFormat::Csv, &mut out)?;
/// assert_eq!(n, 1);
/// let text = String::from_utf8(out).unwrap();
/// assert_eq!(text.lines().nth(1), Some("m1,2025-01-02T00:00:00.000Z,purchase,u1,,,9.5,,"));
/// # Ok::<(), churn_core::Error>(())
/// ```
pub fn export_events<W: Write>(
    store: &dyn Store,
    project: &str,
    req: &ScanRequest,
    format: FileFormat,
    writer: W,
) -> Result<u64> {
    export_impl(store, project, req, format, writer, Path::new("<output>"))
}

/// [`export_events`] into a new file at `path` (replaced if it exists).
pub fn export_file(
    store: &dyn Store,
    project: &str,
    req: &ScanRequest,
    format: FileFormat,
    path: impl AsRef<Path>,
) -> Result<u64> {
    let path = path.as_ref();
    let file = File::create(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    export_impl(
        store,
        project,
        req,
        format,
        BufWriter::with_capacity(256 * 1024, file),
        path,
    )
}

fn export_impl<W: Write>(
    store: &dyn Store,
    project: &str,
    req: &ScanRequest,
    format: FileFormat,
    writer: W,
    target: &Path,
) -> Result<u64> {
    let io_err = |source: std::io::Error| Error::Io {
        path: target.to_path_buf(),
        source,
    };
    match format {
        FileFormat::Ndjson => {
            let mut w = writer;
            let mut n = 0u64;
            let mut failed = None;
            store.scan(project, req, &mut |s| {
                let r = serde_json::to_writer(&mut w, &NdjsonLine::of(&s.event))
                    .map_err(std::io::Error::from)
                    .and_then(|()| w.write_all(b"\n"));
                match r {
                    Ok(()) => {
                        n += 1;
                        ControlFlow::Continue(())
                    }
                    Err(e) => {
                        failed = Some(e);
                        ControlFlow::Break(())
                    }
                }
            })?;
            if let Some(e) = failed {
                return Err(io_err(e));
            }
            w.flush().map_err(io_err)?;
            Ok(n)
        }
        #[cfg(feature = "import")]
        FileFormat::Csv => {
            let mut w = csv::Writer::from_writer(writer);
            let csv_err = |e: csv::Error| match e.into_kind() {
                csv::ErrorKind::Io(e) => io_err(e),
                other => Error::invalid("csv", format!("{other:?}")),
            };
            w.write_record(CSV_COLUMNS).map_err(csv_err)?;
            let mut n = 0u64;
            let mut failed = None;
            store.scan(
                project,
                req,
                &mut |s| match write_csv_row(&mut w, &s.event) {
                    Ok(()) => {
                        n += 1;
                        ControlFlow::Continue(())
                    }
                    Err(e) => {
                        failed = Some(e);
                        ControlFlow::Break(())
                    }
                },
            )?;
            if let Some(e) = failed {
                return Err(csv_err(e));
            }
            w.flush().map_err(io_err)?;
            Ok(n)
        }
        #[cfg(not(feature = "import"))]
        FileFormat::Csv => {
            let _ = (writer, io_err);
            Err(super::csv_unavailable())
        }
    }
}

#[cfg(feature = "import")]
fn write_csv_row<W: Write>(w: &mut csv::Writer<W>, e: &Event) -> Result<(), csv::Error> {
    let amount = e.properties.get("amount").filter(|v| v.is_number());
    let amount_text = amount.map(Value::to_string).unwrap_or_default();
    let props = WithoutKey {
        map: &e.properties,
        skip: amount.map(|_| "amount"),
    };
    let props_text = if props.len() == 0 {
        String::new()
    } else {
        serde_json::to_string(&props).map_err(|e| csv::Error::from(std::io::Error::from(e)))?
    };
    let context_text = if e.context.is_empty() {
        String::new()
    } else {
        context_value(&e.context).to_string()
    };
    let ts = e.timestamp.to_string();
    w.write_record([
        e.message_id.as_str(),
        ts.as_str(),
        e.event.as_str(),
        e.user_id.as_deref().unwrap_or(""),
        e.anonymous_id.as_deref().unwrap_or(""),
        e.session_id.as_deref().unwrap_or(""),
        amount_text.as_str(),
        props_text.as_str(),
        context_text.as_str(),
    ])
}

/// A properties map written without one key.
struct WithoutKey<'a> {
    map: &'a Properties,
    skip: Option<&'static str>,
}

impl WithoutKey<'_> {
    fn len(&self) -> usize {
        self.map.len() - usize::from(self.skip.is_some_and(|k| self.map.contains_key(k)))
    }
}

impl Serialize for WithoutKey<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.map {
            if Some(k.as_str()) != self.skip {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

/// The context as the input parser reads it: the named fields plus `extra` flattened
/// into the same object (an import puts unknown keys back into `extra`).
pub(crate) fn context_value(c: &Context) -> Value {
    let mut m: Map<String, Value> = c.extra.clone();
    let named = Context {
        path: c.path.clone(),
        url: c.url.clone(),
        title: c.title.clone(),
        referrer: c.referrer.clone(),
        user_agent: c.user_agent.clone(),
        ip: c.ip.clone(),
        utm: c.utm.clone(),
        extra: Properties::new(),
    };
    if let Ok(Value::Object(known)) = serde_json::to_value(&named) {
        m.extend(known);
    }
    Value::Object(m)
}

/// One NDJSON export line.
#[derive(Serialize)]
struct NdjsonLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message_id: &'a str,
    event: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    anonymous_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<&'a str>,
    timestamp: Timestamp,
    received_at: Timestamp,
    #[serde(skip_serializing_if = "Map::is_empty")]
    properties: &'a Properties,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<Value>,
}

impl<'a> NdjsonLine<'a> {
    fn of(e: &'a Event) -> Self {
        NdjsonLine {
            kind: "track",
            message_id: &e.message_id,
            event: &e.event,
            user_id: e.user_id.as_deref(),
            anonymous_id: e.anonymous_id.as_deref(),
            session_id: e.session_id.as_deref(),
            timestamp: e.timestamp,
            received_at: e.received_at,
            properties: &e.properties,
            context: (!e.context.is_empty()).then(|| context_value(&e.context)),
        }
    }
}
