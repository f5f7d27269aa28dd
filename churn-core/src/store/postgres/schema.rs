//! The PostgreSQL schema and its migrations.
//!
//! Every table is keyed by `project` first. Migrations are applied in order, each in its
//! own transaction, under a transaction-level advisory lock so several servers starting
//! on one database never race; `churn_schema` records the version reached.

use tokio_postgres::Client;

use crate::error::{Error, Result};
use crate::store::SCHEMA_VERSION;

use super::pg_err;

/// Advisory lock key taken while migrating ("churnlen" in ASCII).
const MIGRATE_LOCK: i64 = 0x6368_7572_6e6c_656e;

/// `(version, SQL)` pairs, oldest first. The PostgreSQL layout starts at version 2, the
/// logical data model shared with SQLite (events with message-id dedup, users, links,
/// consents, objects).
const MIGRATIONS: &[(u32, &str)] = &[(
    2,
    "
CREATE TABLE churn_projects (
    project text PRIMARY KEY,
    max_seq bigint NOT NULL DEFAULT 0
);
CREATE TABLE churn_events (
    project text NOT NULL,
    seq bigint NOT NULL,
    message_id text NOT NULL,
    ts bigint NOT NULL,
    event text NOT NULL,
    user_id text,
    anonymous_id text,
    session_id text,
    body bytea NOT NULL,
    PRIMARY KEY (project, seq),
    UNIQUE (project, message_id)
);
CREATE INDEX churn_events_user ON churn_events (project, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX churn_events_anon ON churn_events (project, anonymous_id)
    WHERE anonymous_id IS NOT NULL;
CREATE INDEX churn_events_ts ON churn_events (project, ts);
CREATE TABLE churn_users (
    project text NOT NULL,
    user_id text NOT NULL,
    traits bytea NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (project, user_id)
);
CREATE TABLE churn_links (
    project text NOT NULL,
    anonymous_id text NOT NULL,
    user_id text NOT NULL,
    pos bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (project, anonymous_id)
);
CREATE INDEX churn_links_user ON churn_links (project, user_id, pos);
CREATE TABLE churn_consents (
    project text NOT NULL,
    id text NOT NULL,
    granted boolean NOT NULL,
    at bigint NOT NULL,
    PRIMARY KEY (project, id)
);
CREATE TABLE churn_objects (
    project text NOT NULL,
    namespace text NOT NULL,
    key text NOT NULL,
    value bytea NOT NULL,
    PRIMARY KEY (project, namespace, key)
);
",
)];

/// Bring the database to [`SCHEMA_VERSION`]; refuse one written by a newer build.
pub(super) async fn migrate(client: &mut Client, location: &str) -> Result<u32> {
    let tx = client.transaction().await.map_err(pg_err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])
        .await
        .map_err(pg_err)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS churn_schema (
            version integer NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )",
    )
    .await
    .map_err(pg_err)?;
    let row = tx
        .query_one("SELECT coalesce(max(version), 0) FROM churn_schema", &[])
        .await
        .map_err(pg_err)?;
    let mut found = u32::try_from(row.get::<_, i32>(0)).unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            path: location.to_string(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (version, sql) in MIGRATIONS {
        if *version <= found {
            continue;
        }
        tx.batch_execute(sql).await.map_err(pg_err)?;
        let v = *version as i32;
        tx.execute("INSERT INTO churn_schema (version) VALUES ($1)", &[&v])
            .await
            .map_err(pg_err)?;
        found = *version;
    }
    tx.commit().await.map_err(pg_err)?;
    Ok(found)
}

/// Per-session setup: the staging table bulk inserts copy into.
pub(super) const SESSION_SETUP: &str = "
CREATE TEMP TABLE IF NOT EXISTS churn_stage (
    ord bigint NOT NULL,
    message_id text NOT NULL,
    ts bigint NOT NULL,
    event text NOT NULL,
    user_id text,
    anonymous_id text,
    session_id text,
    body bytea NOT NULL
) ON COMMIT DELETE ROWS;
";
