//! [`SynthStore`]: a read-only, in-memory [`Store`] over a [`Synth`] data set, so the
//! engine bench loads generated data through the ordinary `Store` interface without
//! building `Event` values for every event first (generation is not measured, and the
//! data is not held twice).
//!
//! `scan_rows` hands out borrowed rows straight from the columns; `scan` builds full
//! events (page views with `context.path` and `properties.path`, purchases with
//! `amount` and `currency`). Writes fail with an invalid-argument error.
//!
//! ```
//! use std::ops::ControlFlow;
//! use churn_benches::{synth::Synth, synth_store::SynthStore};
//! use churn_core::store::{ScanRequest, Store, DEFAULT_PROJECT};
//! let store = SynthStore::new(Synth::generate(1_000));
//! let mut n = 0;
//! store.scan_rows(DEFAULT_PROJECT, &ScanRequest::new(), &mut |_| { n += 1; ControlFlow::Continue(()) })?;
//! assert_eq!(n, 1_000);
//! assert_eq!(store.stats(DEFAULT_PROJECT)?.max_seq, 1_000);
//! # Ok::<(), churn_core::Error>(())
//! ```

use std::collections::HashSet;
use std::ops::ControlFlow;

use churn_core::event::{Event, Message};
use churn_core::store::{
    AppendOutcome, ConsentRecord, DeleteReport, EventRow, IdentityLink, ScanRequest, Store,
    StoreStats, StoredEvent, UserRecord, DEFAULT_PROJECT,
};
use churn_core::{Error, Result, Timestamp};
use serde_json::{json, Map, Value};

use crate::synth::{Synth, NAMES, PAGE_VIEW, PURCHASE};

/// A read-only store over generated events (project [`DEFAULT_PROJECT`] only).
#[derive(Debug)]
pub struct SynthStore {
    data: Synth,
}

fn read_only() -> Error {
    Error::invalid("store", "SynthStore is read-only")
}

impl SynthStore {
    /// Serve `data`.
    pub fn new(data: Synth) -> Self {
        SynthStore { data }
    }

    /// The data served.
    pub fn data(&self) -> &Synth {
        &self.data
    }

    /// Positions of the events `req` selects, in seq order (seq = position + 1).
    fn select<'a>(
        &'a self,
        project: &str,
        req: &'a ScanRequest,
    ) -> Box<dyn Iterator<Item = usize> + 'a> {
        if project != DEFAULT_PROJECT {
            return Box::new(std::iter::empty());
        }
        let d = &self.data;
        let names: Option<Vec<u8>> = req.events.as_ref().map(|ns| {
            (0..NAMES.len() as u8)
                .filter(|&k| ns.iter().any(|n| n == NAMES[k as usize]))
                .collect()
        });
        let users: Option<HashSet<&str>> = req
            .users
            .as_ref()
            .map(|us| us.iter().map(String::as_str).collect());
        let from = req.range.from.map_or(i64::MIN, |t| t.millis());
        let to = req.range.to.map_or(i64::MAX, |t| t.millis());
        let start = req.after_seq.map_or(0, |s| s.min(d.len() as u64) as usize);
        Box::new(
            (start..d.len())
                .filter(move |&i| {
                    d.ts[i] >= from
                        && d.ts[i] < to
                        && names.as_ref().is_none_or(|n| n.contains(&d.name[i]))
                        && users
                            .as_ref()
                            .is_none_or(|u| u.contains(d.user_ids[d.user[i] as usize].as_str()))
                })
                .take(req.limit.unwrap_or(usize::MAX)),
        )
    }

    fn event(&self, i: usize) -> Event {
        let d = &self.data;
        let ts = Timestamp::from_millis(d.ts[i]);
        let mut properties = Map::new();
        let mut context = churn_core::event::Context::default();
        if d.name[i] == PAGE_VIEW {
            let path = crate::synth::PATHS[d.aux[i] as usize];
            properties.insert("path".into(), json!(path));
            context.path = Some(path.to_string());
        } else if d.name[i] == PURCHASE {
            properties.insert("amount".into(), json!(f64::from(d.aux[i]) / 4.0));
            properties.insert("currency".into(), Value::String("USD".into()));
        }
        Event {
            message_id: format!("m{}", i + 1),
            event: NAMES[d.name[i] as usize].to_string(),
            user_id: Some(d.user_ids[d.user[i] as usize].clone()),
            anonymous_id: None,
            timestamp: ts,
            received_at: ts,
            session_id: None,
            properties,
            context,
        }
    }
}

impl Store for SynthStore {
    fn schema_version(&self) -> Result<u32> {
        Ok(churn_core::store::SCHEMA_VERSION)
    }

    fn apply(&self, _project: &str, _messages: &[Message]) -> Result<AppendOutcome> {
        Err(read_only())
    }

    fn scan(
        &self,
        project: &str,
        req: &ScanRequest,
        visit: &mut dyn FnMut(StoredEvent) -> ControlFlow<()>,
    ) -> Result<()> {
        for i in self.select(project, req) {
            let e = StoredEvent {
                seq: i as u64 + 1,
                event: self.event(i),
            };
            if visit(e).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn scan_rows(
        &self,
        project: &str,
        req: &ScanRequest,
        visit: &mut dyn FnMut(&EventRow<'_>) -> ControlFlow<()>,
    ) -> Result<()> {
        let d = &self.data;
        for i in self.select(project, req) {
            let r = EventRow {
                seq: i as u64 + 1,
                timestamp: Timestamp::from_millis(d.ts[i]),
                event: NAMES[d.name[i] as usize],
                user_id: Some(&d.user_ids[d.user[i] as usize]),
                anonymous_id: None,
                session_id: None,
            };
            if visit(&r).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn user(&self, _project: &str, _user_id: &str) -> Result<Option<UserRecord>> {
        Ok(None)
    }

    fn users(&self, _project: &str) -> Result<Vec<UserRecord>> {
        Ok(Vec::new())
    }

    fn identities(&self, _project: &str) -> Result<Vec<IdentityLink>> {
        Ok(Vec::new())
    }

    fn set_consent(&self, _: &str, _: &str, _: bool, _: Timestamp) -> Result<()> {
        Err(read_only())
    }

    fn consents(&self, _project: &str) -> Result<Vec<ConsentRecord>> {
        Ok(Vec::new())
    }

    fn delete_user(&self, _project: &str, _user_id: &str) -> Result<DeleteReport> {
        Err(read_only())
    }

    fn rewrite_user(
        &self,
        _project: &str,
        _user_id: &str,
        _rewrite: &mut dyn FnMut(Event) -> Event,
    ) -> Result<DeleteReport> {
        Err(read_only())
    }

    fn purge_before(&self, _project: &str, _before: Timestamp) -> Result<u64> {
        Err(read_only())
    }

    fn put_object(&self, _: &str, _: &str, _: &str, _: &[u8]) -> Result<()> {
        Err(read_only())
    }

    fn get_object(&self, _: &str, _: &str, _: &str) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }

    fn list_objects(&self, _project: &str, _namespace: &str) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    fn delete_object(&self, _: &str, _: &str, _: &str) -> Result<bool> {
        Err(read_only())
    }

    fn stats(&self, project: &str) -> Result<StoreStats> {
        let n = if project == DEFAULT_PROJECT {
            self.data.len() as u64
        } else {
            0
        };
        Ok(StoreStats {
            events: n,
            users: 0,
            max_seq: n,
        })
    }
}
