//! Writes: batches (binary `COPY` into the session's staging table, then one
//! `INSERT ... SELECT`), identities, deletes, purges, objects and consent.

use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, GenericClient, Transaction};

use super::pg_err;
use crate::error::{Error, Result};
use crate::event::{Event, Message, Properties};
use crate::store::memory::merge_traits;
use crate::store::types::*;
use crate::time::Timestamp;

/// Columns of `churn_stage`, in `COPY` order.
const STAGE_TYPES: &[Type] = &[
    Type::INT8,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::BYTEA,
];

/// Lock the project's counter row (made on first use) and return the highest `seq`.
/// Held until commit, it orders writers of one project, so `seq` follows commit order.
async fn lock_project(tx: &Transaction<'_>, project: &str) -> Result<i64> {
    tx.execute(
        "INSERT INTO churn_projects (project) VALUES ($1) ON CONFLICT DO NOTHING",
        &[&project],
    )
    .await
    .map_err(pg_err)?;
    let row = tx
        .query_one(
            "SELECT max_seq FROM churn_projects WHERE project = $1 FOR UPDATE",
            &[&project],
        )
        .await
        .map_err(pg_err)?;
    Ok(row.get(0))
}

/// Copy `events` into the session's staging table (before the project lock is taken,
/// so concurrent writers overlap this part).
async fn stage_events(tx: &Transaction<'_>, events: &[&Event]) -> Result<()> {
    let sink = tx
        .copy_in(
            "COPY churn_stage (ord, message_id, ts, event, user_id, anonymous_id, session_id, body)
             FROM STDIN (FORMAT binary)",
        )
        .await
        .map_err(pg_err)?;
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, STAGE_TYPES));
    let mut body = Vec::new();
    for (i, e) in events.iter().enumerate() {
        body.clear();
        serde_json::to_writer(&mut body, e).map_err(|e| Error::storage(e.to_string()))?;
        let row: [&(dyn ToSql + Sync); 8] = [
            &(i as i64),
            &e.message_id,
            &e.timestamp.millis(),
            &e.event,
            &e.user_id,
            &e.anonymous_id,
            &e.session_id,
            &body,
        ];
        writer.as_mut().write(&row).await.map_err(pg_err)?;
    }
    writer.finish().await.map_err(pg_err)?;
    Ok(())
}

/// Insert the staged events not stored yet, numbered after `max_seq`; returns how many.
async fn insert_staged(tx: &Transaction<'_>, project: &str, max_seq: i64) -> Result<u64> {
    let n = tx
        .execute(
            "INSERT INTO churn_events
                 (project, seq, message_id, ts, event, user_id, anonymous_id, session_id, body)
             SELECT $1, $2 + row_number() OVER (ORDER BY ord),
                    message_id, ts, event, user_id, anonymous_id, session_id, body
             FROM (SELECT DISTINCT ON (message_id) * FROM churn_stage
                   ORDER BY message_id, ord) s
             WHERE NOT EXISTS (SELECT 1 FROM churn_events e
                               WHERE e.project = $1 AND e.message_id = s.message_id)
             ORDER BY ord
             ON CONFLICT (project, message_id) DO NOTHING",
            &[&project, &max_seq],
        )
        .await
        .map_err(pg_err)?;
    tx.execute("TRUNCATE churn_stage", &[])
        .await
        .map_err(pg_err)?;
    tx.execute(
        "UPDATE churn_projects SET max_seq = max_seq + $2 WHERE project = $1",
        &[&project, &(n as i64)],
    )
    .await
    .map_err(pg_err)?;
    Ok(n)
}

async fn ensure_user(tx: &Transaction<'_>, project: &str, user_id: &str, at: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO churn_users (project, user_id, traits, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING",
        &[&project, &user_id, &&b"{}"[..], &at],
    )
    .await
    .map_err(pg_err)?;
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
        .await
        .map_err(pg_err)?;
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
        .await
        .map_err(pg_err)?;
    let mut current: Properties = serde_json::from_slice(row.get(0))
        .map_err(|e| Error::storage(format!("postgres: bad traits: {e}")))?;
    merge_traits(&mut current, traits);
    let bytes = serde_json::to_vec(&current).map_err(|e| Error::storage(e.to_string()))?;
    tx.execute(
        "UPDATE churn_users SET traits = $3, updated_at = greatest(updated_at, $4)
         WHERE project = $1 AND user_id = $2",
        &[&project, &user_id, &bytes, &at],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

pub(super) async fn apply(
    c: &mut Client,
    project: &str,
    messages: &[Message],
) -> Result<AppendOutcome> {
    let tx = c.transaction().await.map_err(pg_err)?;
    let events: Vec<&Event> = messages
        .iter()
        .filter_map(|m| match m {
            Message::Track(e) => Some(e),
            _ => None,
        })
        .collect();
    if !events.is_empty() {
        stage_events(&tx, &events).await?;
    }
    let max_seq = lock_project(&tx, project).await?;
    let mut out = AppendOutcome::default();
    if !events.is_empty() {
        let n = insert_staged(&tx, project, max_seq).await? as usize;
        out.inserted = n;
        out.duplicates = events.len() - n;
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
    tx.commit().await.map_err(pg_err)?;
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
        .await
        .map_err(pg_err)?;
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
        .await
        .map_err(pg_err)?;
    let links = c
        .execute(
            "DELETE FROM churn_links WHERE project = $1 AND (user_id = $2 OR anonymous_id = $2)",
            &[&project, &user_id],
        )
        .await
        .map_err(pg_err)?;
    Ok((users, links))
}

pub(super) async fn delete_user(
    c: &mut Client,
    project: &str,
    user_id: &str,
) -> Result<DeleteReport> {
    let tx = c.transaction().await.map_err(pg_err)?;
    let ids = person_ids(&tx, project, user_id).await?;
    let events = tx
        .execute(
            "DELETE FROM churn_events WHERE project = $1
             AND (user_id = ANY($2) OR anonymous_id = ANY($2))",
            &[&project, &ids],
        )
        .await
        .map_err(pg_err)?;
    let (users, identities) = forget_user(&tx, project, user_id).await?;
    tx.commit().await.map_err(pg_err)?;
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
            "SELECT seq, body FROM churn_events WHERE project = $1
             AND (user_id = ANY($2) OR anonymous_id = ANY($2)) ORDER BY seq FOR UPDATE",
            &[&project, &ids],
        )
        .await
        .map_err(pg_err)?;
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
    let stmt = c
        .prepare(
            "UPDATE churn_events SET ts = $3, event = $4, user_id = $5, anonymous_id = $6,
                    session_id = $7, body = $8
             WHERE project = $1 AND seq = $2",
        )
        .await
        .map_err(pg_err)?;
    for (seq, e) in events {
        let body = serde_json::to_vec(e).map_err(|e| Error::storage(e.to_string()))?;
        c.execute(
            &stmt,
            &[
                &project,
                &(*seq as i64),
                &e.timestamp.millis(),
                &e.event,
                &e.user_id,
                &e.anonymous_id,
                &e.session_id,
                &body,
            ],
        )
        .await
        .map_err(pg_err)?;
    }
    let (users, identities) = forget_user(c, project, user_id).await?;
    Ok(DeleteReport {
        events: events.len() as u64,
        users,
        identities,
    })
}

pub(super) async fn purge_before(c: &mut Client, project: &str, before: Timestamp) -> Result<u64> {
    c.execute(
        "DELETE FROM churn_events WHERE project = $1 AND ts < $2",
        &[&project, &before.millis()],
    )
    .await
    .map_err(pg_err)
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
    .await
    .map_err(pg_err)?;
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
    .await
    .map_err(pg_err)?;
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
        .await
        .map_err(pg_err)?;
    Ok(n > 0)
}
