//! Read paths: scans and lookups on a read connection.
//!
//! Scans walk the events table in rowid (`seq`) order, which is the order they must
//! visit anyway. A time range is first turned into `seq` bounds through the
//! `(project, ts)` index, so a range scan reads only the slice of the table between the
//! first and last matching `seq` and never sorts. A person filter uses the user and
//! anonymous-id indexes (few rows) and sorts them by `seq`.

use std::collections::HashMap;
use std::ops::ControlFlow;

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use super::write::person_clause;
use super::SqliteStore;
use crate::error::{Error, Result};
use crate::event::{Context, Event, Properties};
use crate::store::types::*;
use crate::time::Timestamp;

/// Columns read by [`read_event`], in order.
pub(super) const EVENT_COLUMNS: &str = "seq, message_id, name, user_id, anonymous_id, ts, \
     received_at, session_id, properties, context";

/// Columns read by [`Store::scan_rows`](crate::store::Store::scan_rows), in order.
const ROW_COLUMNS: &str = "seq, name, user_id, anonymous_id, ts, session_id";

/// Events read per query by the owned [`scan`]; the connection is released between pages
/// so the visitor may call back into the store.
const PAGE: usize = 1024;

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

/// An owned event from a row selected with [`EVENT_COLUMNS`].
pub(super) fn read_event(row: &Row<'_>, names: &Names) -> Result<StoredEvent> {
    let seq: i64 = row.get(0)?;
    let props: Properties = parse_json(row.get_ref(8)?.as_str_or_null()?)?;
    let context: Context = parse_json(row.get_ref(9)?.as_str_or_null()?)?;
    Ok(StoredEvent {
        seq: seq as u64,
        event: Event {
            message_id: row.get(1)?,
            event: names.get(row.get(2)?)?.to_string(),
            user_id: row.get(3)?,
            anonymous_id: row.get(4)?,
            timestamp: Timestamp::from_millis(row.get(5)?),
            received_at: Timestamp::from_millis(row.get(6)?),
            session_id: row.get(7)?,
            properties: props,
            context,
        },
    })
}

/// A scan turned into SQL: `FROM .. WHERE ..` (without ordering or limit) and its values.
struct Plan {
    from_where: String,
    values: Vec<Value>,
}

/// Plan `req` on project `pid`; `None` when nothing can match.
fn plan(c: &Connection, pid: i64, req: &ScanRequest, names: &Names) -> Result<Option<Plan>> {
    let mut conds = vec!["project = ?1".to_string()];
    let mut values = vec![Value::Integer(pid)];
    let push = |conds: &mut Vec<String>, values: &mut Vec<Value>, sql: &str, v: Value| {
        values.push(v);
        conds.push(sql.replace('#', &format!("?{}", values.len())));
    };
    // Snapshot: events committed after the scan starts are not visited.
    let max_seq: i64 = c
        .prepare_cached("SELECT max_seq FROM projects WHERE id = ?1")?
        .query_row([pid], |r| r.get(0))?;
    let mut lo = req.after_seq.map_or(1, |s| (s as i64).saturating_add(1));
    let mut hi = max_seq;
    let by_person = req.users.is_some();
    if let Some(users) = &req.users {
        if users.is_empty() {
            return Ok(None);
        }
        // `+` keeps the planner off the (project, ts) index: the person clause drives.
        conds[0] = "+project = ?1".to_string();
        let first = values.len() + 1;
        values.extend(users.iter().map(|u| Value::Text(u.clone())));
        conds.push(person_clause(first, users.len()));
    } else if req.range.from.is_some() || req.range.to.is_some() {
        let from = req.range.from.map_or(i64::MIN, Timestamp::millis);
        let to = req.range.to.map_or(i64::MAX, Timestamp::millis);
        let bounds: (Option<i64>, Option<i64>) = c
            .prepare_cached(
                "SELECT min(seq), max(seq) FROM events INDEXED BY events_time \
                 WHERE project = ?1 AND ts >= ?2 AND ts < ?3",
            )?
            .query_row(params![pid, from, to], |r| Ok((r.get(0)?, r.get(1)?)))?;
        match bounds {
            (Some(a), Some(b)) => {
                lo = lo.max(a);
                hi = hi.min(b);
            }
            _ => return Ok(None),
        }
    }
    if lo > hi {
        return Ok(None);
    }
    push(&mut conds, &mut values, "seq >= #", Value::Integer(lo));
    push(&mut conds, &mut values, "seq <= #", Value::Integer(hi));
    if let Some(f) = req.range.from {
        push(
            &mut conds,
            &mut values,
            "ts >= #",
            Value::Integer(f.millis()),
        );
    }
    if let Some(t) = req.range.to {
        push(
            &mut conds,
            &mut values,
            "ts < #",
            Value::Integer(t.millis()),
        );
    }
    if let Some(evs) = &req.events {
        let ids: Vec<i64> = evs.iter().filter_map(|n| names.id_of(n)).collect();
        if ids.is_empty() {
            return Ok(None);
        }
        // Ids are integers from our own dictionary: safe to inline.
        let list = ids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        conds.push(format!("name IN ({list})"));
    }
    let table = if by_person {
        "events"
    } else {
        "events NOT INDEXED"
    };
    Ok(Some(Plan {
        from_where: format!("FROM {table} WHERE {}", conds.join(" AND ")),
        values,
    }))
}

pub(super) fn scan(
    store: &SqliteStore,
    project: &str,
    req: &ScanRequest,
    visit: &mut dyn FnMut(StoredEvent) -> ControlFlow<()>,
) -> Result<()> {
    let setup = store.read(|c| {
        let Some(pid) = project_id(c, project)? else {
            return Ok(None);
        };
        let names = load_names(c, pid)?;
        Ok(plan(c, pid, req, &names)?.map(|p| (p, names)))
    })?;
    let Some((plan, names)) = setup else {
        return Ok(());
    };
    let sql = format!(
        "SELECT {EVENT_COLUMNS} {} AND seq > ?{} ORDER BY seq LIMIT {PAGE}",
        plan.from_where,
        plan.values.len() + 1
    );
    let mut left = req.limit.unwrap_or(usize::MAX);
    let mut last = 0i64;
    while left > 0 {
        let page: Vec<StoredEvent> = store.read(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let cursor = Value::Integer(last);
            let vals = plan.values.iter().chain(std::iter::once(&cursor));
            let mut rows = stmt.query(params_from_iter(vals))?;
            let mut page = Vec::with_capacity(PAGE.min(left));
            while let Some(row) = rows.next()? {
                page.push(read_event(row, &names)?);
            }
            Ok(page)
        })?;
        let full = page.len() == PAGE;
        for e in page {
            last = e.seq as i64;
            left -= 1;
            if visit(e).is_break() || left == 0 {
                return Ok(());
            }
        }
        if !full {
            break;
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
    let Some(pid) = project_id(c, project)? else {
        return Ok(());
    };
    let names = load_names(c, pid)?;
    let Some(plan) = plan(c, pid, req, &names)? else {
        return Ok(());
    };
    let limit = req
        .limit
        .map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let sql = format!(
        "SELECT {ROW_COLUMNS} {} ORDER BY seq LIMIT {limit}",
        plan.from_where
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(plan.values.iter()))?;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let r = EventRow {
            seq: seq as u64,
            event: names.get(row.get(1)?)?,
            user_id: row.get_ref(2)?.as_str_or_null()?,
            anonymous_id: row.get_ref(3)?.as_str_or_null()?,
            timestamp: Timestamp::from_millis(row.get(4)?),
            session_id: row.get_ref(5)?.as_str_or_null()?,
        };
        if visit(&r).is_break() {
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
        .prepare_cached("SELECT count(*) FROM events INDEXED BY events_time WHERE project = ?1")?
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
