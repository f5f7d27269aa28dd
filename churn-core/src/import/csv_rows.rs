//! CSV rows to events: column roles resolved once from the header, then each record is
//! read as bytes (so one bad cell rejects one row), turned into an [`Event`] and
//! validated like a tracked event.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use super::ids::PLACEHOLDER;
use super::options::{ColumnMapping, ColumnRole};
use super::report::RowError;
use super::sink::{Parsed, Sink};
use super::values::{parse_amount, parse_cell, parse_time};
use crate::error::{Error, Result, ValidationError};
use crate::event::{Context, Event, Message, Properties};
use crate::time::Timestamp;

/// Column index of each role, and the property columns.
#[derive(Debug, Default)]
pub(crate) struct Columns {
    count: usize,
    roles: [Option<usize>; ColumnRole::ALL.len()],
    names: Vec<String>,
    props: Vec<usize>,
}

fn role_slot(role: ColumnRole) -> usize {
    ColumnRole::ALL.iter().position(|r| *r == role).unwrap_or(0)
}

impl Columns {
    /// Resolve `mapping` against the header. Columns named in the mapping must exist;
    /// the others are detected. A timestamp column and a user or anonymous id column are
    /// required, and an event column unless there is a default event name.
    pub(crate) fn resolve(
        headers: &[String],
        mapping: &ColumnMapping,
        has_default_event: bool,
    ) -> Result<Columns> {
        let find = |name: &str| {
            headers.iter().position(|h| h == name).or_else(|| {
                headers
                    .iter()
                    .position(|h| h.trim().eq_ignore_ascii_case(name.trim()))
            })
        };
        let mut cols = Columns {
            count: headers.len(),
            names: headers.to_vec(),
            ..Columns::default()
        };
        let mut taken = vec![false; headers.len()];
        // Named columns first, so that detection never takes a column named for a role.
        for role in ColumnRole::ALL {
            if let Some(name) = mapping.get(role) {
                let i = find(name).ok_or_else(|| {
                    Error::invalid(
                        format!("{role} column"),
                        format!(
                            "no column named {name:?} in the header ({})",
                            headers.join(", ")
                        ),
                    )
                })?;
                taken[i] = true;
                cols.roles[role_slot(role)] = Some(i);
            }
        }
        for role in ColumnRole::ALL {
            if mapping.get(role).is_some() {
                continue;
            }
            let idx = role
                .auto_names()
                .iter()
                .filter_map(|n| find(n))
                .find(|i| !taken[*i]);
            if let Some(i) = idx {
                taken[i] = true;
            }
            cols.roles[role_slot(role)] = idx;
        }
        let missing = |what: &str, role: ColumnRole, flag: &str| {
            Error::invalid(
                format!("{what} column"),
                format!(
                    "none found in the header ({}); looked for {}; name it with {flag}",
                    headers.join(", "),
                    role.auto_names().join(", ")
                ),
            )
        };
        if cols.get(ColumnRole::Timestamp).is_none() {
            return Err(missing(
                "timestamp",
                ColumnRole::Timestamp,
                "--time-col / ColumnMapping::timestamp",
            ));
        }
        if cols.get(ColumnRole::UserId).is_none() && cols.get(ColumnRole::AnonymousId).is_none() {
            return Err(missing(
                "user id",
                ColumnRole::UserId,
                "--user-col / ColumnMapping::user_id",
            ));
        }
        if cols.get(ColumnRole::Event).is_none() && !has_default_event {
            return Err(missing(
                "event",
                ColumnRole::Event,
                "--event-col, or give every row one name with --event",
            ));
        }
        cols.props = (0..headers.len()).filter(|i| !taken[*i]).collect();
        Ok(cols)
    }

    fn get(&self, role: ColumnRole) -> Option<usize> {
        self.roles[role_slot(role)]
    }

    /// Role -> header name, for the report.
    pub(crate) fn describe(&self) -> Vec<(String, String)> {
        ColumnRole::ALL
            .iter()
            .filter_map(|r| {
                self.get(*r)
                    .map(|i| (r.as_str().to_string(), self.names[i].clone()))
            })
            .collect()
    }
}

/// Read every record of a CSV input into `sink`.
pub(crate) fn read_csv<R: Read>(input: R, sink: &mut Sink<'_>, source: &Path) -> Result<()> {
    let opts = sink.options().clone();
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(opts.delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(input);
    let io_err = |e: csv::Error| match e.into_kind() {
        csv::ErrorKind::Io(source_err) => Error::Io {
            path: source.to_path_buf(),
            source: source_err,
        },
        other => Error::invalid("csv", format!("{other:?}")),
    };
    let header = rdr.byte_headers().map_err(io_err)?.clone();
    if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
        return Ok(());
    }
    let headers: Vec<String> = header
        .iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect();
    let cols = Columns::resolve(&headers, &opts.columns, opts.default_event.is_some())?;
    sink.report.columns = cols.describe().into_iter().collect();
    let mut rec = csv::ByteRecord::new();
    while rdr.read_byte_record(&mut rec).map_err(io_err)? {
        let line = rec.position().map_or(0, |p| p.line());
        let parsed = row_to_message(&rec, &cols, &opts.default_event, sink.now).and_then(
            |(message, needs_id)| {
                message.validate(sink.now, &opts.limits)?;
                Ok(Parsed { message, needs_id })
            },
        );
        sink.row(line, parsed)?;
    }
    Ok(())
}

/// One record to an unvalidated message, and whether it still needs an id (it then
/// carries a placeholder of the final id's length).
fn row_to_message(
    rec: &csv::ByteRecord,
    cols: &Columns,
    default_event: &Option<String>,
    now: Timestamp,
) -> Result<(Message, bool), RowError> {
    if rec.len() != cols.count {
        return Err(RowError::new(
            "wrong number of columns",
            format!(
                "expected {} columns as in the header, found {}",
                cols.count,
                rec.len()
            ),
        ));
    }
    let cell = |i: usize| -> Result<&str, RowError> {
        let raw = rec.get(i).unwrap_or_default();
        std::str::from_utf8(raw).map_err(|e| {
            RowError::new(
                "invalid UTF-8",
                format!(
                    "column {}: not valid UTF-8 (first bad byte at offset {} of the cell)",
                    cols.names[i],
                    e.valid_up_to()
                ),
            )
        })
    };
    let opt = |role: ColumnRole| -> Result<Option<&str>, RowError> {
        match cols.get(role) {
            None => Ok(None),
            Some(i) => cell(i).map(|s| Some(s).filter(|s| !s.is_empty())),
        }
    };
    let ts_col = cols.get(ColumnRole::Timestamp).unwrap_or(0);
    let timestamp = parse_time(cell(ts_col)?, &cols.names[ts_col])?;
    let event = match opt(ColumnRole::Event)? {
        Some(e) => e.to_string(),
        None => default_event.clone().ok_or(ValidationError::Empty {
            field: "event".into(),
        })?,
    };
    let mut properties = match opt(ColumnRole::Properties)? {
        None => Properties::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => m,
            Ok(other) => {
                return Err(ValidationError::NotAnObject {
                    field: "properties".into(),
                    found: crate::event::json_type(&other).into(),
                }
                .into())
            }
            Err(e) => {
                return Err(ValidationError::InvalidJson {
                    reason: format!("properties column: {e}"),
                }
                .into())
            }
        },
    };
    for &i in &cols.props {
        let text = cell(i)?;
        if !text.is_empty() {
            properties.insert(cols.names[i].clone(), parse_cell(text));
        }
    }
    if let Some(text) = opt(ColumnRole::Amount)? {
        properties.insert("amount".into(), parse_amount(text)?);
    }
    let context = match opt(ColumnRole::Context)? {
        None => Context::default(),
        Some(text) => {
            let v =
                serde_json::from_str::<Value>(text).map_err(|e| ValidationError::InvalidJson {
                    reason: format!("context column: {e}"),
                })?;
            crate::event::context_from_value(Some(v))?
        }
    };
    let message_id = opt(ColumnRole::MessageId)?;
    let needs_id = message_id.is_none();
    let msg = Message::Track(Event {
        message_id: message_id.unwrap_or(PLACEHOLDER).to_string(),
        event,
        user_id: opt(ColumnRole::UserId)?.map(str::to_string),
        anonymous_id: opt(ColumnRole::AnonymousId)?.map(str::to_string),
        timestamp,
        received_at: now,
        session_id: opt(ColumnRole::SessionId)?.map(str::to_string),
        properties,
        context,
    });
    Ok((msg, needs_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn seed_header_resolves_without_flags() {
        let headers = h(&["customer_id", "event_date", "amount", "event_type"]);
        let c = Columns::resolve(&headers, &ColumnMapping::new(), false).unwrap();
        assert_eq!(c.get(ColumnRole::UserId), Some(0));
        assert_eq!(c.get(ColumnRole::Timestamp), Some(1));
        assert_eq!(c.get(ColumnRole::Amount), Some(2));
        assert_eq!(c.get(ColumnRole::Event), Some(3));
        assert!(c.props.is_empty());
    }

    #[test]
    fn detection_ignores_case_and_prefers_earlier_names() {
        let headers = h(&[" UserId ", "date", "Timestamp", "name", "plan", "price"]);
        let c = Columns::resolve(&headers, &ColumnMapping::new(), false).unwrap();
        assert_eq!(c.get(ColumnRole::UserId), Some(0));
        assert_eq!(c.get(ColumnRole::Timestamp), Some(2));
        assert_eq!(c.get(ColumnRole::Event), Some(3));
        assert_eq!(c.get(ColumnRole::Amount), Some(5));
        assert_eq!(c.props, vec![1, 4]);
    }

    #[test]
    fn explicit_mapping_wins_and_missing_columns_are_errors() {
        let headers = h(&["who", "when", "what", "user_id"]);
        let m = ColumnMapping::new()
            .user_id("who")
            .timestamp("when")
            .event("what");
        let c = Columns::resolve(&headers, &m, false).unwrap();
        assert_eq!(c.get(ColumnRole::UserId), Some(0));
        // user_id is not taken by a role any more, so it becomes a property.
        assert_eq!(c.props, vec![3]);
        let err =
            Columns::resolve(&headers, &ColumnMapping::new().user_id("nope"), false).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        let err =
            Columns::resolve(&h(&["user_id", "event"]), &ColumnMapping::new(), false).unwrap_err();
        assert!(err.to_string().contains("timestamp"), "{err}");
        let err =
            Columns::resolve(&h(&["user_id", "date"]), &ColumnMapping::new(), false).unwrap_err();
        assert!(err.to_string().contains("--event"), "{err}");
        assert!(Columns::resolve(&h(&["user_id", "date"]), &ColumnMapping::new(), true).is_ok());
        assert!(Columns::resolve(&h(&["date", "event"]), &ColumnMapping::new(), false).is_err());
    }
}
