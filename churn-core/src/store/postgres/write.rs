//! Writes: batches (message ids claimed by [`ids::claim`], then the new events by binary
//! `COPY` into `churn_events`), identities, deletes, purges, objects and consent.

use std::collections::HashSet;

use parking_lot::Mutex;
use tokio::sync::oneshot;
use tokio_postgres::{Client, GenericClient, Transaction};

use super::copy::CopyWriter;
use super::{ids, partition, pg_err};
use crate::error::{Error, Result};
use crate::event::{Event, Message, Properties};
use crate::store::memory::merge_traits;
use crate::store::types::*;
use crate::time::Timestamp;

/// Rows of a person whose ids are `$2`: the same rows as `user_id = ANY($2) OR
/// anonymous_id = ANY($2)`, phrased for the `person` and partial `anonymous_id` indexes
/// (`person` is the user id when there is one, else the anonymous id).
pub(super) const PERSON_MATCH: &str =
    "(person = ANY($2) OR (user_id IS NOT NULL AND anonymous_id = ANY($2)))";

/// Lock the project's counter row (made on first use) and return the highest `seq`.
/// Held until commit, it orders writers of one project, so `seq` follows commit order.
/// Writers claim message ids before it (sorted, so two writers claiming at once wait on
/// each other in one order and never deadlock) and hold no id lock anyone under it waits
/// for: the holder's own claims are done, and deletes only touch committed ids.
/// Everything that removes events takes it first too, so locks are always taken in the
/// order counter row, then tables and rows.
pub(super) async fn lock_project(tx: &Transaction<'_>, project: &str) -> Result<i64> {
    let row = tx
        .query_one(
            "INSERT INTO churn_projects (project) VALUES ($1)
             ON CONFLICT (project) DO UPDATE SET max_seq = churn_projects.max_seq
             RETURNING max_seq",
            &[&project],
        )
        .await?;
    Ok(row.get(0))
}

/// The per-person key of an event: its user id, else its anonymous id.
pub(super) fn person(e: &Event) -> &str {
    e.user_id
        .as_deref()
        .or(e.anonymous_id.as_deref())
        .unwrap_or("")
}

/// Copy `events` into `churn_events` with `seq` from `first_seq` on.
async fn copy_events(
    tx: &Transaction<'_>,
    project: &str,
    first_seq: i64,
    events: &[&Event],
) -> Result<u64> {
    let sink = tx
        .copy_in(
            "COPY churn_events (project, seq, ts, person, message_id, event, user_id,
                                anonymous_id, session_id, body)
             FROM STDIN (FORMAT binary)",
        )
        .await?;
    let mut w = CopyWriter::new(sink);
    for (i, e) in events.iter().enumerate() {
        w.row(10);
        w.bytes(project.as_bytes())?;
        w.i64(first_seq + i as i64);
        w.i64(e.timestamp.millis());
        w.bytes(person(e).as_bytes())?;
        w.bytes(e.message_id.as_bytes())?;
        w.bytes(e.event.as_bytes())?;
        w.opt(e.user_id.as_deref())?;
        w.opt(e.anonymous_id.as_deref())?;
        w.opt(e.session_id.as_deref())?;
        w.with(|buf| serde_json::to_writer(buf, e).map_err(|e| Error::storage(e.to_string())))?;
        w.maybe_send().await?;
    }
    w.finish().await.map_err(pg_err)
}

/// One transaction's share of a batch ([`apply_part`]).
#[derive(Default)]
pub(super) struct Part<'a> {
    /// New events (distinct message ids) this transaction stores.
    pub events: &'a [&'a Event],
    /// The batch, whose identify and alias messages this transaction applies (only one
    /// part of a batch carries it).
    pub messages: Option<&'a [Message]>,
    /// Fires when the previous part of the batch holds the project lock: this part
    /// takes it after, so the parts' `seq` follow the batch order.
    pub after: Option<oneshot::Receiver<()>>,
    /// Fired once this part holds the project lock.
    pub locked: Option<oneshot::Sender<()>>,
}

/// What [`apply_part`] failed on.
pub(super) enum PartError {
    /// The previous part failed (it never took the lock): this one gave up.
    Abandoned,
    /// This part's own error.
    Failed(Error),
}

impl From<Error> for PartError {
    fn from(e: Error) -> Self {
        PartError::Failed(e)
    }
}

impl From<tokio_postgres::Error> for PartError {
    fn from(e: tokio_postgres::Error) -> Self {
        PartError::Failed(pg_err(e))
    }
}

/// Write one part of a batch in its own transaction: claim the message ids first
/// ([`ids::claim`], sorted, so writers claiming at once never deadlock), then take the
/// project's counter lock ([`lock_project`], after the previous part's), copy the new
/// events numbered after `max_seq`, count them and apply the part's identities. Only
/// the copy and the counter update run under the lock, so a second connection (or
/// another writer) claims its ids meanwhile. `duplicates` counts only this part's
/// events; the caller adds the batch's own repeats.
pub(super) async fn apply_part(
    c: &mut Client,
    project: &str,
    part: Part<'_>,
) -> std::result::Result<AppendOutcome, PartError> {
    let tx = c.transaction().await?;
    let mut out = AppendOutcome::default();
    let fresh: Vec<&Event> = if part.events.is_empty() {
        Vec::new()
    } else {
        match ids::claim(&tx, project, part.events).await? {
            None => part.events.to_vec(),
            Some(new) => part
                .events
                .iter()
                .copied()
                .filter(|e| new.contains(&e.message_id))
                .collect(),
        }
    };
    if let Some(rx) = part.after {
        rx.await.map_err(|_| PartError::Abandoned)?;
    }
    let has_identities = part
        .messages
        .is_some_and(|m| m.iter().any(|m| !matches!(m, Message::Track(_))));
    let max_seq = if !part.events.is_empty() || has_identities || part.locked.is_some() {
        Some(lock_project(&tx, project).await?)
    } else {
        None
    };
    if let Some(tx) = part.locked {
        let _ = tx.send(());
    }
    if let (Some(max_seq), false) = (max_seq, fresh.is_empty()) {
        copy_events(&tx, project, max_seq + 1, &fresh).await?;
        tx.execute(
            "UPDATE churn_projects SET max_seq = max_seq + $2, events = events + $2
             WHERE project = $1",
            &[&project, &(fresh.len() as i64)],
        )
        .await?;
    }
    out.inserted = fresh.len();
    out.duplicates = part.events.len() - fresh.len();
    for m in part.messages.unwrap_or_default() {
        match m {
            Message::Track(_) => {}
            Message::Identify(i) => {
                let at = i.timestamp.millis();
                identify(&tx, project, &i.user_id, &i.traits, at).await?;
                if let Some(a) = &i.anonymous_id {
                    link(&tx, project, a, &i.user_id, at).await?;
                }
                out.identities += 1;
            }
            Message::Alias(a) => {
                link(
                    &tx,
                    project,
                    &a.previous_id,
                    &a.user_id,
                    a.timestamp.millis(),
                )
                .await?;
                out.identities += 1;
            }
        }
    }
    tx.commit().await?;
    Ok(out)
}

/// Take `n` removed events off the project's count (the caller holds its lock).
pub(super) async fn count_removed(tx: &Transaction<'_>, project: &str, n: u64) -> Result<()> {
    if n > 0 {
        tx.execute(
            "UPDATE churn_projects SET events = events - $2 WHERE project = $1",
            &[&project, &(n as i64)],
        )
        .await?;
    }
    Ok(())
}

async fn ensure_user(tx: &Transaction<'_>, project: &str, user_id: &str, at: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO churn_users (project, user_id, traits, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING",
        &[&project, &user_id, &&b"{}"[..], &at],
    )
    .await?;
    Ok(())
}

/// Link `anonymous_id` to `user_id` unless it is already linked (first link wins).
async fn link(
    tx: &Transaction<'_>,
    project: &str,
    anon: &str,
    user_id: &str,
    at: i64,
) -> Result<()> {
    ensure_user(tx, project, user_id, at).await?;
    if anon != user_id {
        tx.execute(
            "INSERT INTO churn_links (project, anonymous_id, user_id) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&project, &anon, &user_id],
        )
        .await?;
    }
    Ok(())
}

async fn identify(
    tx: &Transaction<'_>,
    project: &str,
    user_id: &str,
    traits: &Properties,
    at: i64,
) -> Result<()> {
    ensure_user(tx, project, user_id, at).await?;
    let row = tx
        .query_one(
            "SELECT traits FROM churn_users WHERE project = $1 AND user_id = $2 FOR UPDATE",
            &[&project, &user_id],
        )
        .await?;
    let mut current: Properties = serde_json::from_slice(row.get(0))
        .map_err(|e| Error::storage(format!("postgres: bad traits: {e}")))?;
    merge_traits(&mut current, traits);
    let bytes = serde_json::to_vec(&current).map_err(|e| Error::storage(e.to_string()))?;
    tx.execute(
        "UPDATE churn_users SET traits = $3, updated_at = greatest(updated_at, $4)
         WHERE project = $1 AND user_id = $2",
        &[&project, &user_id, &bytes, &at],
    )
    .await?;
    Ok(())
}

/// The batch's events with their message ids distinct (the first of each wins) and
/// how many events it holds in all.
pub(super) fn distinct_events(messages: &[Message]) -> (Vec<&Event>, usize) {
    let mut seen = HashSet::new();
    let mut total = 0;
    let events = messages
        .iter()
        .filter_map(|m| match m {
            Message::Track(e) => {
                total += 1;
                seen.insert(e.message_id.as_str()).then_some(e)
            }
            _ => None,
        })
        .collect();
    (events, total)
}

/// Apply a batch in one transaction (see [`apply_part`]).
pub(super) async fn apply(
    c: &mut Client,
    months: &Mutex<HashSet<i32>>,
    project: &str,
    messages: &[Message],
) -> Result<AppendOutcome> {
    let (events, total) = distinct_events(messages);
    if !events.is_empty() {
        partition::ensure(c, months, &events).await?;
    }
    let part = Part {
        events: &events,
        messages: Some(messages),
        ..Part::default()
    };
    let mut out = match apply_part(c, project, part).await {
        Ok(out) => out,
        Err(PartError::Failed(e)) => return Err(e),
        Err(PartError::Abandoned) => return Err(Error::storage("postgres: batch abandoned")),
    };
    out.duplicates = total - out.inserted;
    Ok(out)
}

/// `user_id` and every anonymous id linked to it.
pub(super) async fn person_ids(
    c: &impl GenericClient,
    project: &str,
    user_id: &str,
) -> Result<Vec<String>> {
    let rows = c
        .query(
            "SELECT anonymous_id FROM churn_links WHERE project = $1 AND user_id = $2
             ORDER BY pos",
            &[&project, &user_id],
        )
        .await?;
    let mut ids = vec![user_id.to_string()];
    ids.extend(rows.iter().map(|r| r.get::<_, String>(0)));
    Ok(ids)
}

/// Delete the user record and every link to or from `user_id`: `(users, links)`.
pub(super) async fn forget_user(
    c: &impl GenericClient,
    project: &str,
    user_id: &str,
) -> Result<(u64, u64)> {
    let users = c
        .execute(
            "DELETE FROM churn_users WHERE project = $1 AND user_id = $2",
            &[&project, &user_id],
        )
        .await?;
    let links = c
        .execute(
            "DELETE FROM churn_links WHERE project = $1 AND (user_id = $2 OR anonymous_id = $2)",
            &[&project, &user_id],
        )
        .await?;
    Ok((users, links))
}

pub(super) async fn delete_user(
    c: &mut Client,
    project: &str,
    user_id: &str,
) -> Result<DeleteReport> {
    let tx = c.transaction().await?;
    lock_project(&tx, project).await?;
    let ids = person_ids(&tx, project, user_id).await?;
    let gone = tx
        .query(
            &format!(
                "DELETE FROM churn_events WHERE project = $1 AND {} RETURNING message_id",
                PERSON_MATCH
            ),
            &[&project, &ids],
        )
        .await?;
    let gone: Vec<&str> = gone.iter().map(|r| r.get(0)).collect();
    ids::forget(&tx, project, &gone).await?;
    let events = gone.len() as u64;
    count_removed(&tx, project, events).await?;
    let (users, identities) = forget_user(&tx, project, user_id).await?;
    tx.commit().await?;
    Ok(DeleteReport {
        events,
        users,
        identities,
    })
}

/// Every event of a person, locked for update (call inside a transaction).
pub(super) async fn lock_person_events(
    c: &Client,
    project: &str,
    user_id: &str,
) -> Result<Vec<(u64, Event)>> {
    let ids = person_ids(c, project, user_id).await?;
    let rows = c
        .query(
            &format!(
                "SELECT seq, body FROM churn_events WHERE project = $1 AND {}
                 ORDER BY seq FOR UPDATE",
                PERSON_MATCH
            ),
            &[&project, &ids],
        )
        .await?;
    rows.iter()
        .map(|r| Ok((r.get::<_, i64>(0) as u64, super::read::decode_body(r)?)))
        .collect()
}

/// Store rewritten events (same `seq`) and forget the user (inside a transaction).
pub(super) async fn store_rewrite(
    c: &Client,
    project: &str,
    user_id: &str,
    events: &[(u64, Event)],
) -> Result<DeleteReport> {
    let by_uuid = c.prepare(&ids::rewrite_sql(true)).await?;
    let by_text = c.prepare(&ids::rewrite_sql(false)).await?;
    for (seq, e) in events {
        let body = serde_json::to_vec(e).map_err(|e| Error::storage(e.to_string()))?;
        let stmt = match ids::uuid_bytes(&e.message_id) {
            Some(_) => &by_uuid,
            None => &by_text,
        };
        c.execute(
            stmt,
            &[
                &project,
                &(*seq as i64),
                &e.timestamp.millis(),
                &e.event,
                &e.user_id,
                &e.anonymous_id,
                &e.session_id,
                &body,
                &person(e),
            ],
        )
        .await?;
    }
    let (users, identities) = forget_user(c, project, user_id).await?;
    Ok(DeleteReport {
        events: events.len() as u64,
        users,
        identities,
    })
}

pub(super) async fn set_consent(
    c: &mut Client,
    project: &str,
    id: &str,
    granted: bool,
    at: Timestamp,
) -> Result<()> {
    c.execute(
        "INSERT INTO churn_consents (project, id, granted, at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (project, id) DO UPDATE SET granted = excluded.granted, at = excluded.at",
        &[&project, &id, &granted, &at.millis()],
    )
    .await?;
    Ok(())
}

pub(super) async fn put_object(
    c: &mut Client,
    project: &str,
    namespace: &str,
    key: &str,
    value: &[u8],
) -> Result<()> {
    c.execute(
        "INSERT INTO churn_objects (project, namespace, key, value) VALUES ($1, $2, $3, $4)
         ON CONFLICT (project, namespace, key) DO UPDATE SET value = excluded.value",
        &[&project, &namespace, &key, &value],
    )
    .await?;
    Ok(())
}

pub(super) async fn delete_object(
    c: &mut Client,
    project: &str,
    namespace: &str,
    key: &str,
) -> Result<bool> {
    let n = c
        .execute(
            "DELETE FROM churn_objects WHERE project = $1 AND namespace = $2 AND key = $3",
            &[&project, &namespace, &key],
        )
        .await?;
    Ok(n > 0)
}
