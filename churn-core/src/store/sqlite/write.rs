//! Write paths. Each function runs inside the one transaction the caller opened, so a
//! failure anywhere leaves nothing half-written.

use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use super::read::{person_ids, read_event, EVENT_COLUMNS};
use super::Dict;
use crate::error::{Error, Result};
use crate::event::{Event, Message, Properties};
use crate::store::memory::merge_traits;
use crate::store::types::{AppendOutcome, DeleteReport};
use crate::time::Timestamp;

const INSERT_EVENT: &str = "INSERT INTO events (seq, project, message_id, name, user_id, \
     anonymous_id, ts, received_at, session_id, properties, context) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
     ON CONFLICT (project, message_id) DO NOTHING";

/// The id of `project`, created when missing.
pub(super) fn project_id(c: &Connection, dict: &mut Dict, project: &str) -> Result<i64> {
    if let Some(id) = dict.projects.get(project) {
        return Ok(*id);
    }
    let found: Option<i64> = c
        .prepare_cached("SELECT id FROM projects WHERE name = ?1")?
        .query_row([project], |r| r.get(0))
        .optional()?;
    let id = match found {
        Some(id) => id,
        None => {
            c.prepare_cached("INSERT INTO projects (name) VALUES (?1)")?
                .execute([project])?;
            c.last_insert_rowid()
        }
    };
    dict.projects.insert(project.to_string(), id);
    Ok(id)
}

/// The id of event name `name` in project `pid`, created when missing.
fn name_id(c: &Connection, dict: &mut Dict, pid: i64, name: &str) -> Result<i64> {
    let names = dict.names.entry(pid).or_default();
    if let Some(id) = names.get(name) {
        return Ok(*id);
    }
    let found: Option<i64> = c
        .prepare_cached("SELECT id FROM event_names WHERE project = ?1 AND name = ?2")?
        .query_row(params![pid, name], |r| r.get(0))
        .optional()?;
    let id = match found {
        Some(id) => id,
        None => {
            c.prepare_cached("INSERT INTO event_names (project, name) VALUES (?1, ?2)")?
                .execute(params![pid, name])?;
            c.last_insert_rowid()
        }
    };
    names.insert(name.to_string(), id);
    Ok(id)
}

/// Compact JSON of a non-empty value into `buf`; `None` when empty.
fn json_into<'b, T: serde::Serialize>(
    buf: &'b mut Vec<u8>,
    empty: bool,
    value: &T,
) -> Result<Option<&'b str>> {
    if empty {
        return Ok(None);
    }
    buf.clear();
    serde_json::to_writer(&mut *buf, value).map_err(Error::storage)?;
    std::str::from_utf8(buf).map(Some).map_err(Error::storage)
}

/// Reused encode buffers for properties and context.
#[derive(Default)]
struct Buffers {
    props: Vec<u8>,
    context: Vec<u8>,
}

pub(super) fn apply(
    c: &Connection,
    dict: &mut Dict,
    project: &str,
    messages: &[Message],
) -> Result<AppendOutcome> {
    let pid = project_id(c, dict, project)?;
    let mut seq: i64 = c
        .prepare_cached("SELECT coalesce(max(max_seq), 0) FROM projects")?
        .query_row([], |r| r.get(0))?;
    let mut out = AppendOutcome::default();
    let mut bufs = Buffers::default();
    let mut insert = c.prepare_cached(INSERT_EVENT)?;
    for m in messages {
        match m {
            Message::Track(e) => {
                let name = name_id(c, dict, pid, &e.event)?;
                let props = json_into(&mut bufs.props, e.properties.is_empty(), &e.properties)?;
                let ctx = json_into(&mut bufs.context, e.context.is_empty(), &e.context)?;
                let n = insert.execute(params![
                    seq + 1,
                    pid,
                    e.message_id,
                    name,
                    e.user_id,
                    e.anonymous_id,
                    e.timestamp.millis(),
                    e.received_at.millis(),
                    e.session_id,
                    props,
                    ctx,
                ])?;
                if n == 1 {
                    seq += 1;
                    out.inserted += 1;
                } else {
                    out.duplicates += 1;
                }
            }
            Message::Identify(i) => {
                identify(c, pid, &i.user_id, &i.traits, i.timestamp)?;
                if let Some(a) = &i.anonymous_id {
                    link(c, pid, a, &i.user_id, i.timestamp)?;
                }
                out.identities += 1;
            }
            Message::Alias(a) => {
                link(c, pid, &a.previous_id, &a.user_id, a.timestamp)?;
                out.identities += 1;
            }
        }
    }
    if out.inserted > 0 {
        c.prepare_cached("UPDATE projects SET max_seq = ?1 WHERE id = ?2")?
            .execute(params![seq, pid])?;
    }
    Ok(out)
}

fn ensure_user(c: &Connection, pid: i64, user_id: &str, at: Timestamp) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO users (project, user_id, traits, created_at, updated_at) \
         VALUES (?1, ?2, NULL, ?3, ?3) ON CONFLICT (project, user_id) DO NOTHING",
    )?
    .execute(params![pid, user_id, at.millis()])?;
    Ok(())
}

fn identify(
    c: &Connection,
    pid: i64,
    user_id: &str,
    traits: &Properties,
    at: Timestamp,
) -> Result<()> {
    ensure_user(c, pid, user_id, at)?;
    let old: Option<String> = c
        .prepare_cached("SELECT traits FROM users WHERE project = ?1 AND user_id = ?2")?
        .query_row(params![pid, user_id], |r| r.get(0))?;
    let mut merged: Properties = match old {
        Some(s) => serde_json::from_str(&s).map_err(Error::storage)?,
        None => Properties::new(),
    };
    merge_traits(&mut merged, traits);
    let text = if merged.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&merged).map_err(Error::storage)?)
    };
    c.prepare_cached(
        "UPDATE users SET traits = ?3, updated_at = max(updated_at, ?4) \
         WHERE project = ?1 AND user_id = ?2",
    )?
    .execute(params![pid, user_id, text, at.millis()])?;
    Ok(())
}

/// Link `anonymous_id` to `user_id` (first link wins; linking a user to itself only
/// creates the user).
fn link(c: &Connection, pid: i64, anonymous_id: &str, user_id: &str, at: Timestamp) -> Result<()> {
    ensure_user(c, pid, user_id, at)?;
    if anonymous_id == user_id {
        return Ok(());
    }
    c.prepare_cached(
        "INSERT INTO identity_links (project, anonymous_id, user_id) VALUES (?1, ?2, ?3) \
         ON CONFLICT (project, anonymous_id) DO NOTHING",
    )?
    .execute(params![pid, anonymous_id, user_id])?;
    Ok(())
}

pub(super) fn set_consent(
    c: &Connection,
    dict: &mut Dict,
    project: &str,
    id: &str,
    granted: bool,
    at: Timestamp,
) -> Result<()> {
    let pid = project_id(c, dict, project)?;
    c.prepare_cached(
        "INSERT INTO consents (project, id, granted, at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (project, id) DO UPDATE SET granted = excluded.granted, at = excluded.at",
    )?
    .execute(params![pid, id, granted, at.millis()])?;
    Ok(())
}

/// `seq IN (..)`: the events whose `user_id` or `anonymous_id` is one of `n` ids bound
/// from `?first`, in project `?1`. Written as a union so each half uses its index (the
/// planner does not pick the OR optimisation here).
pub(super) fn person_clause(first: usize, n: usize) -> String {
    let list = (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "seq IN (SELECT seq FROM events WHERE project = ?1 AND user_id IN ({list}) \
         UNION ALL SELECT seq FROM events WHERE project = ?1 AND anonymous_id IN ({list}))"
    )
}

/// Remove the user record and every link to or from it: `(users, links)` removed.
fn forget_user(c: &Connection, pid: i64, user_id: &str) -> Result<(u64, u64)> {
    let users = c
        .prepare_cached("DELETE FROM users WHERE project = ?1 AND user_id = ?2")?
        .execute(params![pid, user_id])?;
    let links = c
        .prepare_cached(
            "DELETE FROM identity_links WHERE project = ?1 AND (user_id = ?2 OR anonymous_id = ?2)",
        )?
        .execute(params![pid, user_id])?;
    Ok((users as u64, links as u64))
}

pub(super) fn delete_user(
    c: &Connection,
    dict: &mut Dict,
    project: &str,
    user_id: &str,
) -> Result<crate::store::types::DeleteReport> {
    let Some(pid) = existing_project(c, dict, project)? else {
        return Ok(DeleteReport::default());
    };
    let ids = person_ids(c, pid, user_id)?;
    let sql = format!("DELETE FROM events WHERE {}", person_clause(2, ids.len()));
    let mut values: Vec<&dyn rusqlite::ToSql> = vec![&pid];
    values.extend(ids.iter().map(|s| s as &dyn rusqlite::ToSql));
    let events = c.prepare(&sql)?.execute(params_from_iter(values))? as u64;
    let (users, identities) = forget_user(c, pid, user_id)?;
    Ok(DeleteReport {
        events,
        users,
        identities,
    })
}

pub(super) fn rewrite_user(
    c: &Connection,
    dict: &mut Dict,
    project: &str,
    user_id: &str,
    rewrite: &mut dyn FnMut(Event) -> Event,
) -> Result<DeleteReport> {
    let Some(pid) = existing_project(c, dict, project)? else {
        return Ok(DeleteReport::default());
    };
    let ids = person_ids(c, pid, user_id)?;
    let names = super::read::load_names(c, pid)?;
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE +project = ?1 AND {} ORDER BY seq",
        person_clause(2, ids.len())
    );
    let mut values: Vec<&dyn rusqlite::ToSql> = vec![&pid];
    values.extend(ids.iter().map(|s| s as &dyn rusqlite::ToSql));
    let mut stmt = c.prepare(&sql)?;
    let mut rows = stmt.query(params_from_iter(values))?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        found.push(read_event(row, &names)?);
    }
    drop(rows);
    let mut bufs = Buffers::default();
    let mut update = c.prepare_cached(
        "UPDATE events SET name = ?2, user_id = ?3, anonymous_id = ?4, ts = ?5, \
         received_at = ?6, session_id = ?7, properties = ?8, context = ?9 WHERE seq = ?1",
    )?;
    for stored in &found {
        let e = rewrite(stored.event.clone());
        let name = name_id(c, dict, pid, &e.event)?;
        let props = json_into(&mut bufs.props, e.properties.is_empty(), &e.properties)?;
        let ctx = json_into(&mut bufs.context, e.context.is_empty(), &e.context)?;
        update.execute(params![
            stored.seq as i64,
            name,
            e.user_id,
            e.anonymous_id,
            e.timestamp.millis(),
            e.received_at.millis(),
            e.session_id,
            props,
            ctx,
        ])?;
    }
    let (users, identities) = forget_user(c, pid, user_id)?;
    Ok(DeleteReport {
        events: found.len() as u64,
        users,
        identities,
    })
}

pub(super) fn purge_before(
    c: &Connection,
    dict: &mut Dict,
    project: &str,
    before: Timestamp,
) -> Result<u64> {
    let Some(pid) = existing_project(c, dict, project)? else {
        return Ok(0);
    };
    let n = c
        .prepare_cached("DELETE FROM events WHERE project = ?1 AND ts < ?2")?
        .execute(params![pid, before.millis()])?;
    Ok(n as u64)
}

pub(super) fn put_object(
    c: &Connection,
    dict: &mut Dict,
    project: &str,
    namespace: &str,
    key: &str,
    value: &[u8],
) -> Result<()> {
    let pid = project_id(c, dict, project)?;
    c.prepare_cached(
        "INSERT INTO objects (project, namespace, key, value) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (project, namespace, key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![pid, namespace, key, value])?;
    Ok(())
}

pub(super) fn delete_object(
    c: &Connection,
    dict: &mut Dict,
    project: &str,
    namespace: &str,
    key: &str,
) -> Result<bool> {
    let Some(pid) = existing_project(c, dict, project)? else {
        return Ok(false);
    };
    let n = c
        .prepare_cached("DELETE FROM objects WHERE project = ?1 AND namespace = ?2 AND key = ?3")?
        .execute(params![pid, namespace, key])?;
    Ok(n > 0)
}

/// The id of `project` when it exists (no row is created).
fn existing_project(c: &Connection, dict: &mut Dict, project: &str) -> Result<Option<i64>> {
    if let Some(id) = dict.projects.get(project) {
        return Ok(Some(*id));
    }
    let id = super::read::project_id(c, project)?;
    if let Some(id) = id {
        dict.projects.insert(project.to_string(), id);
    }
    Ok(id)
}
