//! Writes: batches (message ids claimed by [`ids::claim`], then the new events by binary
//! `COPY` into `churn_events`), identities, deletes, purges, objects and consent.

use std::collections::HashSet;

use parking_lot::Mutex;
use tokio_postgres::{Client, GenericClient, Transaction};

use super::copy::Encoder;
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

/// Events encoded as `churn_events` `COPY` rows, their `seq` left for [`EventRows::number`].
struct EventRows {
    enc: Encoder,
    /// Where each row's `seq` value starts in the buffer.
    seq_at: Vec<usize>,
}

/// Rows encoded between two yields of [`encode_events_yielding`].
const ENCODE_SLICE: usize = 256;

impl EventRows {
    fn new(events: usize) -> Self {
        EventRows {
            enc: Encoder::new(events * 512),
            seq_at: Vec::with_capacity(events),
        }
    }

    fn push(&mut self, project: &str, e: &Event) -> Result<()> {
        let w = &mut self.enc;
        w.row(10);
        w.bytes(project.as_bytes())?;
        w.i64(0);
        self.seq_at.push(w.buf.len() - 8);
        w.i64(e.timestamp.millis());
        w.bytes(person(e).as_bytes())?;
        w.bytes(e.message_id.as_bytes())?;
        w.bytes(e.event.as_bytes())?;
        w.opt(e.user_id.as_deref())?;
        w.opt(e.anonymous_id.as_deref())?;
        w.opt(e.session_id.as_deref())?;
        w.with(|buf| serde_json::to_writer(buf, e).map_err(|e| Error::storage(e.to_string())))
    }

    /// Number the rows `first_seq`, `first_seq + 1`, ... in order.
    fn number(&mut self, first_seq: i64) {
        for (i, &at) in self.seq_at.iter().enumerate() {
            let seq = (first_seq + i as i64).to_be_bytes();
            self.enc.buf[at..at + 8].copy_from_slice(&seq);
        }
    }
}

/// Encode `events`, yielding to the runtime every [`ENCODE_SLICE`] rows, so the
/// message-id claim running beside it on the same thread keeps talking to the server.
async fn encode_events_yielding(project: &str, events: &[&Event]) -> Result<EventRows> {
    let mut rows = EventRows::new(events.len());
    for slice in events.chunks(ENCODE_SLICE) {
        for e in slice {
            rows.push(project, e)?;
        }
        tokio::task::yield_now().await;
    }
    Ok(rows)
}

/// Store the events not stored yet (distinct message ids), numbered after the project's
/// `max_seq`; returns how many. The message ids are claimed first ([`ids::claim`],
/// sorted, so writers claiming at once never deadlock) while the client encodes the
/// events' `COPY` rows (the server's claim work and the client's encoding overlap);
/// then the project's counter lock is taken ([`lock_project`]), the rows get their
/// `seq` and are copied. Only the copy and the counter update run under the lock, so
/// other writers of the project claim their ids meanwhile.
async fn insert_events(tx: &Transaction<'_>, project: &str, events: &[&Event]) -> Result<usize> {
    let (claimed, rows) = futures_util::future::join(
        ids::claim(tx, project, events),
        encode_events_yielding(project, events),
    )
    .await;
    let (fresh, mut rows) = match claimed? {
        None => (events.len(), rows?),
        Some(new) => {
            // Some were stored already (a retry): encode the new ones again.
            let fresh: Vec<&Event> = events
                .iter()
                .copied()
                .filter(|e| new.contains(&e.message_id))
                .collect();
            (fresh.len(), encode_events_yielding(project, &fresh).await?)
        }
    };
    let max_seq = lock_project(tx, project).await?;
    if fresh == 0 {
        return Ok(0);
    }
    rows.number(max_seq + 1);
    let sink = tx
        .copy_in(
            "COPY churn_events (project, seq, ts, person, message_id, event, user_id,
                                anonymous_id, session_id, body)
             FROM STDIN (FORMAT binary)",
        )
        .await?;
    rows.enc.send(sink).await.map_err(pg_err)?;
    tx.execute(
        "UPDATE churn_projects SET max_seq = max_seq + $2, events = events + $2
         WHERE project = $1",
        &[&project, &(fresh as i64)],
    )
    .await?;
    Ok(fresh)
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

pub(super) async fn apply(
    c: &mut Client,
    months: &Mutex<HashSet<i32>>,
    project: &str,
    messages: &[Message],
) -> Result<AppendOutcome> {
    let mut seen = rustc_hash::FxHashSet::default();
    seen.reserve(messages.len());
    let mut total = 0;
    let events: Vec<&Event> = messages
        .iter()
        .filter_map(|m| match m {
            Message::Track(e) => {
                total += 1;
                seen.insert(e.message_id.as_str()).then_some(e)
            }
            _ => None,
        })
        .collect();
    if !events.is_empty() {
        partition::ensure(c, months, &events).await?;
    }
    let tx = c.transaction().await?;
    let mut out = AppendOutcome::default();
    if !events.is_empty() {
        out.inserted = insert_events(&tx, project, &events).await?;
        out.duplicates = total - out.inserted;
    } else if messages.iter().any(|m| !matches!(m, Message::Track(_))) {
        lock_project(&tx, project).await?;
    }
    for m in messages {
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
