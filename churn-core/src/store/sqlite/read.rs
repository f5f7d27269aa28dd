//! Read paths: scans and lookups on a read connection.
//!
//! A scan reads the project's block rows in id (= `seq`) order, skips blocks whose
//! `seq` and timestamp bounds or person Bloom filter rule them out, and decodes the
//! rest, filtering event by event. [`scan_rows`] is one statement (one snapshot) that
//! borrows strings straight from the block blobs and decodes only the core columns.

use std::collections::HashMap;
use std::ops::ControlFlow;

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::block::{self, Bloom};
use super::codec::{Block, RawEvent};
use super::SqliteStore;
use crate::error::{Error, Result};
use crate::event::{Context, Event, Properties};
use crate::store::types::*;
use crate::time::Timestamp;

/// Candidate blocks of a scan, in order, with their data.
pub(super) const BLOCKS: &str = "SELECT b.id, b.persons, d.data FROM event_blocks b \
     JOIN event_block_data d ON d.block = b.id \
     WHERE b.project = ?1 AND b.max_seq > ?2 AND b.min_seq <= ?3 \
     AND b.max_ts >= ?4 AND b.min_ts < ?5 ORDER BY b.id";

/// The event-name dictionary of one project, indexed by id.
pub(super) struct Names {
    base: i64,
    names: Vec<Option<String>>,
}

impl Names {
    pub(super) fn get(&self, id: i64) -> Result<&str> {
        usize::try_from(id - self.base)
            .ok()
            .and_then(|i| self.names.get(i))
            .and_then(|n| n.as_deref())
            .ok_or_else(|| Error::storage(format!("event name id {id} is not in the dictionary")))
    }

    fn id_of(&self, name: &str) -> Option<i64> {
        self.names
            .iter()
            .position(|n| n.as_deref() == Some(name))
            .map(|i| i as i64 + self.base)
    }
}

pub(super) fn project_id(c: &Connection, project: &str) -> Result<Option<i64>> {
    Ok(c.prepare_cached("SELECT id FROM projects WHERE name = ?1")?
        .query_row([project], |r| r.get(0))
        .optional()?)
}

pub(super) fn load_names(c: &Connection, pid: i64) -> Result<Names> {
    let mut stmt = c.prepare_cached("SELECT id, name FROM event_names WHERE project = ?1")?;
    let pairs: Vec<(i64, String)> = stmt
        .query_map([pid], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let base = pairs.iter().map(|p| p.0).min().unwrap_or(0);
    let top = pairs.iter().map(|p| p.0).max().unwrap_or(-1);
    let mut names = vec![None; usize::try_from(top - base + 1).unwrap_or(0)];
    for (id, name) in pairs {
        if let Some(slot) = usize::try_from(id - base)
            .ok()
            .and_then(|i| names.get_mut(i))
        {
            *slot = Some(name);
        }
    }
    Ok(Names { base, names })
}

/// `user_id` followed by every anonymous id linked to it, in link order.
pub(super) fn person_ids(c: &Connection, pid: i64, user_id: &str) -> Result<Vec<String>> {
    let mut ids = vec![user_id.to_string()];
    let mut stmt = c.prepare_cached(
        "SELECT anonymous_id FROM identity_links WHERE project = ?1 AND user_id = ?2 ORDER BY id",
    )?;
    for a in stmt.query_map(params![pid, user_id], |r| r.get::<_, String>(0))? {
        ids.push(a?);
    }
    Ok(ids)
}

fn parse_json<T: serde::de::DeserializeOwned + Default>(s: Option<&str>) -> Result<T> {
    match s {
        None => Ok(T::default()),
        Some(s) => serde_json::from_str(s).map_err(|e| Error::storage(format!("bad JSON: {e}"))),
    }
}

/// An owned event from its stored form.
pub(super) fn owned_event(e: &RawEvent<'_>, names: &Names) -> Result<StoredEvent> {
    let properties: Properties = parse_json(e.properties)?;
    let context: Context = parse_json(e.context)?;
    Ok(StoredEvent {
        seq: e.seq,
        event: Event {
            message_id: e.message_id.to_string(),
            event: names.get(e.name)?.to_string(),
            user_id: e.user_id.map(str::to_string),
            anonymous_id: e.anonymous_id.map(str::to_string),
            timestamp: Timestamp::from_millis(e.timestamp),
            received_at: Timestamp::from_millis(e.received_at),
            session_id: e.session_id.map(str::to_string),
            properties,
            context,
        },
    })
}

/// A scan request resolved against one project.
struct Plan {
    pid: i64,
    names: Names,
    /// Exclusive lower `seq` bound.
    after: u64,
    /// Inclusive upper `seq` bound: the snapshot taken when the scan started.
    upto: u64,
    from: i64,
    to: i64,
    events: Option<Vec<i64>>,
    users: Option<Vec<String>>,
}

impl Plan {
    /// Resolve `req`; `None` when nothing can match.
    fn new(c: &Connection, project: &str, req: &ScanRequest) -> Result<Option<Plan>> {
        let Some(pid) = project_id(c, project)? else {
            return Ok(None);
        };
        let names = load_names(c, pid)?;
        let events = match &req.events {
            None => None,
            Some(evs) => {
                let ids: Vec<i64> = evs.iter().filter_map(|n| names.id_of(n)).collect();
                if ids.is_empty() {
                    return Ok(None);
                }
                Some(ids)
            }
        };
        if req.users.as_ref().is_some_and(Vec::is_empty) {
            return Ok(None);
        }
        let upto: i64 = c
            .prepare_cached("SELECT max_seq FROM projects WHERE id = ?1")?
            .query_row([pid], |r| r.get(0))?;
        Ok(Some(Plan {
            pid,
            names,
            after: req.after_seq.unwrap_or(0),
            upto: upto.max(0) as u64,
            from: req.range.from.map_or(i64::MIN, Timestamp::millis),
            to: req.range.to.map_or(i64::MAX, Timestamp::millis),
            events,
            users: req.users.clone(),
        }))
    }

    fn block_params(&self) -> [i64; 5] {
        [
            self.pid,
            i64::try_from(self.after).unwrap_or(i64::MAX),
            i64::try_from(self.upto).unwrap_or(i64::MAX),
            self.from,
            self.to,
        ]
    }

    /// Whether the block's person filter lets it through.
    fn block_matches(&self, persons: &[u8]) -> bool {
        self.users
            .as_ref()
            .is_none_or(|u| Bloom::new(persons).may_contain_any(u))
    }

    fn matches(&self, e: &RawEvent<'_>) -> bool {
        e.seq > self.after
            && e.seq <= self.upto
            && e.timestamp >= self.from
            && e.timestamp < self.to
            && self.events.as_ref().is_none_or(|n| n.contains(&e.name))
            && self.users.as_ref().is_none_or(|u| {
                u.iter()
                    .any(|x| Some(x.as_str()) == e.user_id || Some(x.as_str()) == e.anonymous_id)
            })
    }
}

pub(super) fn scan(
    store: &SqliteStore,
    project: &str,
    req: &ScanRequest,
    visit: &mut dyn FnMut(StoredEvent) -> ControlFlow<()>,
) -> Result<()> {
    let setup = store.read(|c| {
        let Some(plan) = Plan::new(c, project, req)? else {
            return Ok(None);
        };
        let mut stmt = c.prepare_cached(
            "SELECT id, persons FROM event_blocks WHERE project = ?1 AND max_seq > ?2 \
             AND min_seq <= ?3 AND max_ts >= ?4 AND min_ts < ?5 ORDER BY id",
        )?;
        let mut rows = stmt.query(plan.block_params())?;
        let mut ids = Vec::new();
        while let Some(r) = rows.next()? {
            if plan.block_matches(r.get_ref(1)?.as_blob()?) {
                ids.push(r.get::<_, i64>(0)?);
            }
        }
        drop(rows);
        drop(stmt);
        Ok(Some((plan, ids)))
    })?;
    let Some((plan, ids)) = setup else {
        return Ok(());
    };
    let mut left = req.limit.unwrap_or(usize::MAX);
    for id in ids {
        if left == 0 {
            break;
        }
        // The connection goes back to the pool before visiting, so the visitor may use
        // the store.
        let Some(data) = store.read(|c| block::data(c, id))? else {
            continue;
        };
        let mut page = Vec::new();
        Block::parse(&data)?.for_each(true, |e| {
            if plan.matches(&e) {
                page.push(owned_event(&e, &plan.names)?);
                if page.len() >= left {
                    return Ok(ControlFlow::Break(()));
                }
            }
            Ok(ControlFlow::Continue(()))
        })?;
        for e in page {
            left -= 1;
            if visit(e).is_break() {
                return Ok(());
            }
        }
    }
    Ok(())
}

pub(super) fn scan_rows(
    c: &Connection,
    project: &str,
    req: &ScanRequest,
    visit: &mut dyn FnMut(&EventRow<'_>) -> ControlFlow<()>,
) -> Result<()> {
    let Some(plan) = Plan::new(c, project, req)? else {
        return Ok(());
    };
    let mut left = req.limit.unwrap_or(usize::MAX);
    if left == 0 {
        return Ok(());
    }
    let mut stmt = c.prepare_cached(BLOCKS)?;
    let mut rows = stmt.query(plan.block_params())?;
    while let Some(r) = rows.next()? {
        if !plan.block_matches(r.get_ref(1)?.as_blob()?) {
            continue;
        }
        let block = Block::parse(r.get_ref(2)?.as_blob()?)?;
        let mut stop = false;
        block.for_each(false, |e| {
            if !plan.matches(&e) {
                return Ok(ControlFlow::Continue(()));
            }
            let row = EventRow {
                seq: e.seq,
                timestamp: Timestamp::from_millis(e.timestamp),
                event: plan.names.get(e.name)?,
                user_id: e.user_id,
                anonymous_id: e.anonymous_id,
                session_id: e.session_id,
            };
            left -= 1;
            if visit(&row).is_break() || left == 0 {
                stop = true;
                return Ok(ControlFlow::Break(()));
            }
            Ok(ControlFlow::Continue(()))
        })?;
        if stop {
            break;
        }
    }
    Ok(())
}

/// Anonymous ids of each user of the project, in link order.
fn links_by_user(c: &Connection, pid: i64) -> Result<HashMap<String, Vec<String>>> {
    let mut stmt = c.prepare_cached(
        "SELECT user_id, anonymous_id FROM identity_links WHERE project = ?1 ORDER BY id",
    )?;
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for pair in stmt.query_map([pid], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))? {
        let (u, a) = pair?;
        map.entry(u).or_default().push(a);
    }
    Ok(map)
}

fn user_row(row: &Row<'_>) -> Result<UserRecord> {
    Ok(UserRecord {
        user_id: row.get(0)?,
        traits: parse_json(row.get_ref(1)?.as_str_or_null()?)?,
        anonymous_ids: Vec::new(),
        created_at: Timestamp::from_millis(row.get(2)?),
        updated_at: Timestamp::from_millis(row.get(3)?),
    })
}

pub(super) fn user(c: &Connection, project: &str, user_id: &str) -> Result<Option<UserRecord>> {
    let Some(pid) = project_id(c, project)? else {
        return Ok(None);
    };
    let mut stmt = c.prepare_cached(
        "SELECT user_id, traits, created_at, updated_at FROM users \
         WHERE project = ?1 AND user_id = ?2",
    )?;
    let mut rows = stmt.query(params![pid, user_id])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let mut u = user_row(row)?;
    u.anonymous_ids = person_ids(c, pid, user_id)?.split_off(1);
    Ok(Some(u))
}

pub(super) fn users(c: &Connection, project: &str) -> Result<Vec<UserRecord>> {
    let Some(pid) = project_id(c, project)? else {
        return Ok(Vec::new());
    };
    let mut links = links_by_user(c, pid)?;
    let mut stmt = c.prepare_cached(
        "SELECT user_id, traits, created_at, updated_at FROM users \
         WHERE project = ?1 ORDER BY user_id",
    )?;
    let mut rows = stmt.query([pid])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut u = user_row(row)?;
        u.anonymous_ids = links.remove(&u.user_id).unwrap_or_default();
        out.push(u);
    }
    Ok(out)
}

pub(super) fn identities(c: &Connection, project: &str) -> Result<Vec<IdentityLink>> {
    let Some(pid) = project_id(c, project)? else {
        return Ok(Vec::new());
    };
    let mut stmt = c.prepare_cached(
        "SELECT anonymous_id, user_id FROM identity_links WHERE project = ?1 \
         ORDER BY anonymous_id",
    )?;
    let v = stmt
        .query_map([pid], |r| {
            Ok(IdentityLink {
                anonymous_id: r.get(0)?,
                user_id: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(v)
}

pub(super) fn consents(c: &Connection, project: &str) -> Result<Vec<ConsentRecord>> {
    let Some(pid) = project_id(c, project)? else {
        return Ok(Vec::new());
    };
    let mut stmt =
        c.prepare_cached("SELECT id, granted, at FROM consents WHERE project = ?1 ORDER BY id")?;
    let v = stmt
        .query_map([pid], |r| {
            Ok(ConsentRecord {
                id: r.get(0)?,
                granted: r.get(1)?,
                at: Timestamp::from_millis(r.get(2)?),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(v)
}

pub(super) fn get_object(
    c: &Connection,
    project: &str,
    namespace: &str,
    key: &str,
) -> Result<Option<Vec<u8>>> {
    let Some(pid) = project_id(c, project)? else {
        return Ok(None);
    };
    Ok(c.prepare_cached(
        "SELECT value FROM objects WHERE project = ?1 AND namespace = ?2 AND key = ?3",
    )?
    .query_row(params![pid, namespace, key], |r| r.get(0))
    .optional()?)
}

pub(super) fn list_objects(c: &Connection, project: &str, namespace: &str) -> Result<Vec<String>> {
    let Some(pid) = project_id(c, project)? else {
        return Ok(Vec::new());
    };
    let mut stmt = c.prepare_cached(
        "SELECT key FROM objects WHERE project = ?1 AND namespace = ?2 ORDER BY key",
    )?;
    let v = stmt
        .query_map(params![pid, namespace], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(v)
}

pub(super) fn stats(c: &Connection, project: &str) -> Result<StoreStats> {
    let Some(pid) = project_id(c, project)? else {
        return Ok(StoreStats::default());
    };
    let events: i64 = c
        .prepare_cached("SELECT coalesce(sum(count), 0) FROM event_blocks WHERE project = ?1")?
        .query_row([pid], |r| r.get(0))?;
    let users: i64 = c
        .prepare_cached("SELECT count(*) FROM users WHERE project = ?1")?
        .query_row([pid], |r| r.get(0))?;
    let max_seq: i64 = c
        .prepare_cached("SELECT max_seq FROM projects WHERE id = ?1")?
        .query_row([pid], |r| r.get(0))?;
    Ok(StoreStats {
        events: events as u64,
        users: users as u64,
        max_seq: max_seq as u64,
    })
}
