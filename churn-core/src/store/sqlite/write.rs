//! Write paths. Each function runs inside the one transaction the caller opened, so a
//! failure anywhere leaves nothing half-written.

use std::collections::HashSet;
use std::ops::ControlFlow;

use rusqlite::{params, Connection, OptionalExtension};

use super::block::{self, each_hash, message_hash, Builder};
use super::codec::{Block, RawEvent, BLOCK_EVENTS};
use super::dedup::{Confirm, Dedup};
use super::read::person_ids;
use super::Dict;
use crate::error::{Error, Result};
use crate::event::{Event, Message, Properties};
use crate::store::memory::merge_traits;
use crate::store::types::{AppendOutcome, DeleteReport};
use crate::time::Timestamp;

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
pub(super) fn name_id(c: &Connection, dict: &mut Dict, pid: i64, name: &str) -> Result<i64> {
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

/// What a write transaction may update besides the file: the writer's caches.
pub(super) struct WriteState<'a> {
    pub dict: &'a mut Dict,
    pub dedup: &'a mut Dedup,
}

/// Reused encode buffers for properties and context.
#[derive(Default)]
struct Buffers {
    props: Vec<u8>,
    context: Vec<u8>,
}

pub(super) fn apply(
    c: &Connection,
    w: &mut WriteState<'_>,
    project: &str,
    messages: &[Message],
) -> Result<AppendOutcome> {
    let pid = project_id(c, w.dict, project)?;
    let mut seq = current_seq(c)?;
    w.dedup.prepare(c)?;
    let mut out = AppendOutcome::default();
    let mut bufs = Buffers::default();
    let mut pending = Builder::default();
    if messages.iter().any(|m| matches!(m, Message::Track(_))) {
        // Before any dedup check, so no stale copy of the tail is ever cached.
        load_small_tail(c, pid, &mut pending)?;
    }
    // Every message-id hash first, then one pass that touches their map slots: those
    // probes are independent, so the CPU overlaps their cache misses instead of paying
    // them one at a time inside the per-event work below.
    let hashes: Vec<u64> = messages
        .iter()
        .filter_map(|m| match m {
            Message::Track(e) => Some(message_hash(pid, &e.message_id)),
            _ => None,
        })
        .collect();
    w.dedup.warm(&hashes);
    let mut hashes = hashes.into_iter();
    let mut confirm = Confirm::default();
    for m in messages {
        match m {
            Message::Track(e) => {
                let hash = hashes
                    .next()
                    .unwrap_or_else(|| message_hash(pid, &e.message_id));
                // The block this event goes to: the pending one, or a new one at seq + 1.
                let claim = pending.id().unwrap_or(seq as i64 + 1);
                let (msg, pend) = (&e.message_id, &mut pending);
                if w.dedup
                    .check_and_claim(c, &mut confirm, pend, pid, hash, msg, claim)?
                {
                    out.duplicates += 1;
                    continue;
                }
                let name = name_id(c, w.dict, pid, &e.event)?;
                seq += 1;
                let raw = raw_event(&mut bufs, seq, name, e)?;
                pending.push(&raw, hash);
                out.inserted += 1;
                if pending.len() >= BLOCK_EVENTS {
                    pending.insert(c, pid)?;
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
    pending.insert(c, pid)?;
    if out.inserted > 0 {
        c.prepare_cached("UPDATE projects SET max_seq = ?1 WHERE id = ?2")?
            .execute(params![seq as i64, pid])?;
    }
    Ok(out)
}

/// A project's last block smaller than this takes the next batch's events (it is
/// decoded and rewritten), so small batches from the tracker or the server still make
/// blocks of a useful size. Batches of this size or more never pay for it.
const MERGE_BELOW: i64 = 256;

/// Load the project's last block into `pending` when it is small.
fn load_small_tail(c: &Connection, pid: i64, pending: &mut Builder) -> Result<()> {
    let tail: Option<(i64, i64)> = c
        .prepare_cached(
            "SELECT id, count FROM event_blocks WHERE project = ?1 ORDER BY id DESC LIMIT 1",
        )?
        .query_row([pid], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((id, _)) = tail.filter(|t| t.1 < MERGE_BELOW) else {
        return Ok(());
    };
    let Some(data) = block::data(c, id)? else {
        return Ok(());
    };
    Block::parse(&data)?.for_each(true, |e| {
        pending.push(&e, message_hash(pid, e.message_id));
        Ok(ControlFlow::Continue(()))
    })?;
    pending.extends(id);
    Ok(())
}

/// The highest `seq` assigned in any project (seqs are unique across the file).
fn current_seq(c: &Connection) -> Result<u64> {
    let seq: i64 = c
        .prepare_cached("SELECT coalesce(max(max_seq), 0) FROM projects")?
        .query_row([], |r| r.get(0))?;
    Ok(seq.max(0) as u64)
}

/// The stored form of `e` (JSON of properties and context in `bufs`).
fn raw_event<'a>(bufs: &'a mut Buffers, seq: u64, name: i64, e: &'a Event) -> Result<RawEvent<'a>> {
    let Buffers { props, context } = bufs;
    Ok(RawEvent {
        seq,
        name,
        message_id: &e.message_id,
        user_id: e.user_id.as_deref(),
        anonymous_id: e.anonymous_id.as_deref(),
        timestamp: e.timestamp.millis(),
        received_at: e.received_at.millis(),
        session_id: e.session_id.as_deref(),
        properties: json_into(props, e.properties.is_empty(), &e.properties)?,
        context: json_into(context, e.context.is_empty(), &e.context)?,
    })
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

/// Rewrite each block in `ids` through `edit`, which sees every event of the block (in
/// `seq` order) and pushes what stays into the new block; returns how many events
/// `edit` reported as changed. The dedup map forgets the message ids that went away.
fn edit_blocks(
    c: &Connection,
    dedup: &mut Dedup,
    pid: i64,
    ids: &[i64],
    edit: &mut dyn FnMut(&RawEvent<'_>, &mut Builder, u64) -> Result<bool>,
) -> Result<u64> {
    let mut changed = 0u64;
    let mut next = Builder::default();
    for &id in ids {
        let Some(data) = block::data(c, id)? else {
            continue;
        };
        let before = block::hashes(c, id)?;
        let mut n = 0u64;
        Block::parse(&data)?.for_each(true, |e| {
            let hash = message_hash(pid, e.message_id);
            if edit(&e, &mut next, hash)? {
                n += 1;
            }
            Ok(ControlFlow::Continue(()))
        })?;
        if n == 0 {
            next = Builder::default();
            continue;
        }
        changed += n;
        let kept: HashSet<u64> = next.hashes().collect();
        let gone: Vec<u64> = each_hash(&before).filter(|h| !kept.contains(h)).collect();
        dedup.forget(id, gone);
        next.replace(c, id)?;
    }
    Ok(changed)
}

fn is_person(e: &RawEvent<'_>, ids: &[String]) -> bool {
    ids.iter()
        .any(|i| Some(i.as_str()) == e.user_id || Some(i.as_str()) == e.anonymous_id)
}

pub(super) fn delete_user(
    c: &Connection,
    w: &mut WriteState<'_>,
    project: &str,
    user_id: &str,
) -> Result<DeleteReport> {
    let Some(pid) = existing_project(c, w.dict, project)? else {
        return Ok(DeleteReport::default());
    };
    let ids = person_ids(c, pid, user_id)?;
    let blocks = block::blocks_of_persons(c, pid, &ids)?;
    let events = edit_blocks(c, w.dedup, pid, &blocks, &mut |e, next, hash| {
        if is_person(e, &ids) {
            return Ok(true);
        }
        next.push(e, hash);
        Ok(false)
    })?;
    let (users, identities) = forget_user(c, pid, user_id)?;
    Ok(DeleteReport {
        events,
        users,
        identities,
    })
}

pub(super) fn rewrite_user(
    c: &Connection,
    w: &mut WriteState<'_>,
    project: &str,
    user_id: &str,
    rewrite: &mut dyn FnMut(Event) -> Event,
) -> Result<DeleteReport> {
    let Some(pid) = existing_project(c, w.dict, project)? else {
        return Ok(DeleteReport::default());
    };
    let ids = person_ids(c, pid, user_id)?;
    let names = super::read::load_names(c, pid)?;
    let blocks = block::blocks_of_persons(c, pid, &ids)?;
    let mut bufs = Buffers::default();
    let WriteState { dict, dedup } = w;
    let mut edit = |e: &RawEvent<'_>, next: &mut Builder, hash: u64| -> Result<bool> {
        if !is_person(e, &ids) {
            next.push(e, hash);
            return Ok(false);
        }
        let old = super::read::owned_event(e, &names)?;
        let mut new = rewrite(old.event);
        new.message_id = e.message_id.to_string();
        let name = name_id(c, dict, pid, &new.event)?;
        next.push(&raw_event(&mut bufs, e.seq, name, &new)?, hash);
        Ok(true)
    };
    let events = edit_blocks(c, dedup, pid, &blocks, &mut edit)?;
    let (users, identities) = forget_user(c, pid, user_id)?;
    Ok(DeleteReport {
        events,
        users,
        identities,
    })
}

pub(super) fn purge_before(
    c: &Connection,
    w: &mut WriteState<'_>,
    project: &str,
    before: Timestamp,
) -> Result<u64> {
    let Some(pid) = existing_project(c, w.dict, project)? else {
        return Ok(0);
    };
    let before = before.millis();
    // Whole blocks before the cut go at once; blocks across it are split.
    let mut stmt = c.prepare_cached(
        "SELECT id, max_ts < ?2, count FROM event_blocks WHERE project = ?1 AND min_ts < ?2 \
         ORDER BY id",
    )?;
    let found: Vec<(i64, bool, i64)> = stmt
        .query_map(params![pid, before], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut n = 0u64;
    let mut split = Vec::new();
    for (id, whole, count) in found {
        if whole {
            w.dedup.forget(id, each_hash(&block::hashes(c, id)?));
            block::delete(c, id)?;
            n += count as u64;
        } else {
            split.push(id);
        }
    }
    n += edit_blocks(c, w.dedup, pid, &split, &mut |e, next, hash| {
        if e.timestamp < before {
            return Ok(true);
        }
        next.push(e, hash);
        Ok(false)
    })?;
    Ok(n)
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
