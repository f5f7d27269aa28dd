//! The PostgreSQL schema and its migrations.
//!
//! Every table is keyed by `project` first. Migrations are applied in order, each in its
//! own transaction, under a transaction-level advisory lock so several servers starting
//! on one database never race; `churn_schema` records the version reached.

use tokio_postgres::Client;

use crate::error::{Error, Result};

/// Advisory lock key taken while migrating ("churnlen" in ASCII).
const MIGRATE_LOCK: i64 = 0x6368_7572_6e6c_656e;

/// Newest PostgreSQL layout this build writes and reads: 2 is the first layout (one
/// events table), 3 partitions the events table by month and keeps message ids in
/// their own table, 4 keeps the message ids that are canonical UUIDs as `uuid` in
/// `churn_message_uuids` and indexes `person` by hash. (SQLite numbers its layouts separately.)
pub const SCHEMA_VERSION: u32 = 4;

/// `(version, SQL)` pairs, oldest first. The PostgreSQL layout starts at version 2, the
/// logical data model shared with SQLite (events with message-id dedup, users, links,
/// consents, objects).
const MIGRATIONS: &[(u32, &str)] = &[
    (
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
    ),
    (
        3,
        // Events partitioned by month of `ts` (range partitions made on demand by
        // `churn_event_partition`, plus a default partition for anything else). A
        // partitioned table's unique constraints must contain the partition key, so the
        // exact `(project, message_id)` dedup lives in `churn_message_ids`, one
        // non-partitioned table (its `ts` lets a purge forget purged ids). `person`
        // (user id, else anonymous id) is the per-person key: Citus distributes on it.
        // `churn_projects.events` counts each project's events (kept by every write in
        // the same transaction), so `stats` never counts rows.
        "
ALTER TABLE churn_events RENAME TO churn_events_v2;
ALTER INDEX churn_events_user RENAME TO churn_events_v2_user;
ALTER INDEX churn_events_anon RENAME TO churn_events_v2_anon;
ALTER INDEX churn_events_ts RENAME TO churn_events_v2_ts;
CREATE TABLE churn_events (
    project text NOT NULL,
    seq bigint NOT NULL,
    ts bigint NOT NULL,
    person text NOT NULL,
    message_id text NOT NULL,
    event text NOT NULL,
    user_id text,
    anonymous_id text,
    session_id text,
    body bytea NOT NULL
) PARTITION BY RANGE (ts);
CREATE TABLE churn_events_default PARTITION OF churn_events DEFAULT;
CREATE INDEX churn_events_seq ON churn_events (project, seq);
CREATE INDEX churn_events_person ON churn_events (project, person);
CREATE INDEX churn_events_anon ON churn_events (project, anonymous_id)
    WHERE user_id IS NOT NULL AND anonymous_id IS NOT NULL;
CREATE TABLE churn_message_ids (
    project text NOT NULL,
    message_id text NOT NULL,
    ts bigint NOT NULL,
    PRIMARY KEY (project, message_id)
);
CREATE FUNCTION churn_event_partition(at bigint) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
    m timestamp := date_trunc('month', to_timestamp(at / 1000.0) AT TIME ZONE 'UTC');
    name text := 'churn_events_' || to_char(m, 'YYYYMM');
    lo bigint := (extract(epoch FROM m) * 1000)::bigint;
    hi bigint := (extract(epoch FROM m + interval '1 month') * 1000)::bigint;
BEGIN
    IF m < '1900-01-01' OR m >= '9999-01-01' OR to_regclass(name) IS NOT NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(7234017283807667311);
    IF to_regclass(name) IS NOT NULL THEN
        RETURN;
    END IF;
    -- A month whose rows already went to the default partition stays there.
    IF EXISTS (SELECT 1 FROM churn_events_default WHERE ts >= lo AND ts < hi) THEN
        RETURN;
    END IF;
    -- Another session may have made it just before our lock: its catalog entry can be
    -- invisible to to_regclass here (an advisory lock does not refresh the catalog
    -- cache), so duplicate_table counts as done.
    BEGIN
        EXECUTE format('CREATE TABLE %I PARTITION OF churn_events FOR VALUES FROM (%s) TO (%s)',
                       name, lo, hi);
    EXCEPTION WHEN duplicate_table THEN
        NULL;
    END;
END
$f$;
SELECT churn_event_partition(t) FROM (
    SELECT min(ts) AS t FROM churn_events_v2
    GROUP BY date_trunc('month', to_timestamp(ts / 1000.0) AT TIME ZONE 'UTC')
) months;
INSERT INTO churn_events
    (project, seq, ts, person, message_id, event, user_id, anonymous_id, session_id, body)
SELECT project, seq, ts, coalesce(user_id, anonymous_id, ''), message_id, event, user_id,
       anonymous_id, session_id, body
FROM churn_events_v2;
INSERT INTO churn_message_ids (project, message_id, ts)
SELECT project, message_id, ts FROM churn_events_v2;
ALTER TABLE churn_projects ADD COLUMN events bigint NOT NULL DEFAULT 0;
UPDATE churn_projects p SET events = c.n
FROM (SELECT project, count(*) AS n FROM churn_events_v2 GROUP BY project) c
WHERE c.project = p.project;
DROP TABLE churn_events_v2;
",
    ),
    (
        4,
        // Message ids in canonical UUID form (most of them: the SDKs make UUIDs) move to
        // `churn_message_uuids` as 16-byte `uuid`s keyed by the id first (see `ids.rs`:
        // the regular expression below is `ids::UUID_RE`, checked by a test); the
        // others stay as text in a rebuilt `churn_message_ids` (cheaper than deleting
        // the moved rows, and leaves no dead rows behind). The per-person index becomes a
        // hash index on `person` (an insert goes straight to its bucket instead of down
        // a btree of ~10,000 random text keys; `person = ANY(..)` still finds a
        // person's rows, by bitmap scan, with `project` checked on the rows).
        "
DROP INDEX churn_events_person;
CREATE INDEX churn_events_person ON churn_events USING hash (person);
CREATE TABLE churn_message_uuids (
    message_id uuid NOT NULL,
    project text NOT NULL,
    ts bigint NOT NULL,
    PRIMARY KEY (message_id, project)
);
INSERT INTO churn_message_uuids (message_id, project, ts)
SELECT message_id::uuid, project, ts FROM churn_message_ids
WHERE message_id ~ '^[0123456789abcdef]{8}-[0123456789abcdef]{4}-[0123456789abcdef]{4}-[0123456789abcdef]{4}-[0123456789abcdef]{12}$'
ORDER BY 1;
ALTER TABLE churn_message_ids RENAME TO churn_message_ids_v3;
ALTER INDEX churn_message_ids_pkey RENAME TO churn_message_ids_v3_pkey;
CREATE TABLE churn_message_ids (
    project text NOT NULL,
    message_id text NOT NULL,
    ts bigint NOT NULL,
    PRIMARY KEY (project, message_id)
);
INSERT INTO churn_message_ids (project, message_id, ts)
SELECT project, message_id, ts FROM churn_message_ids_v3
WHERE message_id !~ '^[0123456789abcdef]{8}-[0123456789abcdef]{4}-[0123456789abcdef]{4}-[0123456789abcdef]{4}-[0123456789abcdef]{12}$';
DROP TABLE churn_message_ids_v3;
",
    ),
];

/// Bring the database to [`SCHEMA_VERSION`]; refuse one written by a newer build.
pub(super) async fn migrate(client: &mut Client, location: &str) -> Result<u32> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS churn_schema (
            version integer NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )",
    )
    .await?;
    let row = tx
        .query_one("SELECT coalesce(max(version), 0) FROM churn_schema", &[])
        .await?;
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
        tx.batch_execute(sql).await?;
        let v = *version as i32;
        tx.execute("INSERT INTO churn_schema (version) VALUES ($1)", &[&v])
            .await?;
        found = *version;
    }
    tx.commit().await?;
    Ok(found)
}

/// The SQL of migration `version` (for tests that build an older layout).
#[cfg(test)]
pub(super) fn migration_sql(version: u32) -> Option<&'static str> {
    MIGRATIONS
        .iter()
        .find(|(v, _)| *v == version)
        .map(|(_, sql)| *sql)
}
