//! The schema, its versioned migrations (`PRAGMA user_version`), and the checks that
//! refuse files that are not churnlens stores or were written by a newer build.

use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use crate::error::{Error, Result};
use crate::store::SCHEMA_VERSION;

/// `PRAGMA application_id` of a churnlens store: ASCII `CHLN`.
pub const APPLICATION_ID: i32 = 0x4348_4C4E;

/// Migration steps: `MIGRATIONS[i]` takes a store from version `i` to `i + 1`. Steps are
/// only ever appended; a released step never changes.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 0 -> 1: the first schema.
    "
    CREATE TABLE projects (
        id      INTEGER PRIMARY KEY,
        name    TEXT NOT NULL UNIQUE,
        max_seq INTEGER NOT NULL DEFAULT 0
    );
    -- Event names interned per project: ~20-200 distinct names per project, so events
    -- carry a small integer and a scan reads names from a dictionary loaded once.
    CREATE TABLE event_names (
        id      INTEGER PRIMARY KEY,
        project INTEGER NOT NULL,
        name    TEXT NOT NULL,
        UNIQUE (project, name)
    );
    -- seq is the rowid; it is assigned by the store from projects.max_seq so that it
    -- never goes back, even after the newest events are deleted.
    CREATE TABLE events (
        seq          INTEGER PRIMARY KEY,
        project      INTEGER NOT NULL,
        message_id   TEXT NOT NULL,
        name         INTEGER NOT NULL,
        user_id      TEXT,
        anonymous_id TEXT,
        ts           INTEGER NOT NULL,
        received_at  INTEGER NOT NULL,
        session_id   TEXT,
        properties   TEXT,
        context      TEXT
    );
    CREATE UNIQUE INDEX events_message ON events (project, message_id);
    CREATE INDEX events_time ON events (project, ts);
    CREATE INDEX events_user ON events (project, user_id) WHERE user_id IS NOT NULL;
    CREATE INDEX events_anonymous ON events (project, anonymous_id)
        WHERE anonymous_id IS NOT NULL;
    CREATE TABLE users (
        project    INTEGER NOT NULL,
        user_id    TEXT NOT NULL,
        traits     TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (project, user_id)
    ) WITHOUT ROWID;
    -- The rowid keeps link order (UserRecord::anonymous_ids is in link order).
    CREATE TABLE identity_links (
        id           INTEGER PRIMARY KEY,
        project      INTEGER NOT NULL,
        anonymous_id TEXT NOT NULL,
        user_id      TEXT NOT NULL,
        UNIQUE (project, anonymous_id)
    );
    CREATE INDEX identity_links_user ON identity_links (project, user_id);
    CREATE TABLE consents (
        project INTEGER NOT NULL,
        id      TEXT NOT NULL,
        granted INTEGER NOT NULL,
        at      INTEGER NOT NULL,
        PRIMARY KEY (project, id)
    ) WITHOUT ROWID;
    CREATE TABLE objects (
        project   INTEGER NOT NULL,
        namespace TEXT NOT NULL,
        key       TEXT NOT NULL,
        value     BLOB NOT NULL,
        PRIMARY KEY (project, namespace, key)
    ) WITHOUT ROWID;
    ",
    // 1 -> 2: events move into blocks (`convert` copies them, then drops `events`).
    // The block id is its first seq when written, so id order is seq order.
    "
    CREATE TABLE event_blocks (
        id      INTEGER PRIMARY KEY,
        project INTEGER NOT NULL,
        min_seq INTEGER NOT NULL,
        max_seq INTEGER NOT NULL,
        min_ts  INTEGER NOT NULL,
        max_ts  INTEGER NOT NULL,
        count   INTEGER NOT NULL,
        persons BLOB NOT NULL
    );
    CREATE INDEX event_blocks_project ON event_blocks (project, id);
    CREATE TABLE event_block_data (
        block INTEGER PRIMARY KEY,
        data  BLOB NOT NULL
    );
    CREATE TABLE event_block_ids (
        block  INTEGER PRIMARY KEY,
        hashes BLOB NOT NULL
    );
    ",
];

/// Code run after a step's SQL: `(version reached, function)`.
type Conversion = fn(&Connection) -> Result<()>;
const CONVERSIONS: &[(u32, Conversion)] = &[(2, super::convert::events_to_blocks)];

/// Refuse a file that exists but does not start with the SQLite header, before SQLite
/// touches it. A missing or empty file is fine (it becomes a new store).
pub(crate) fn check_header(path: &Path) -> Result<()> {
    const HEADER: &[u8; 16] = b"SQLite format 3\0";
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    let meta = f.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(not_a_store(path, "it is a directory"));
    }
    if meta.len() == 0 {
        return Ok(());
    }
    let mut head = [0u8; 16];
    let mut got = 0;
    while got < head.len() {
        match f.read(&mut head[got..]).map_err(io)? {
            0 => break,
            n => got += n,
        }
    }
    if got < head.len() || &head != HEADER {
        return Err(not_a_store(path, "it is not an SQLite database"));
    }
    Ok(())
}

pub(crate) fn not_a_store(path: &Path, reason: impl Into<String>) -> Error {
    Error::NotAStore {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// What an opened database holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// No tables: a new file.
    Empty,
    /// A churnlens store at this schema version.
    Store(u32),
}

/// Classify the database behind `conn`, refusing foreign and too-new files.
pub(crate) fn inspect(conn: &Connection, path: &Path) -> Result<Found> {
    let not_db = |e: rusqlite::Error| match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => not_a_store(path, "it is not an SQLite database"),
        _ => Error::from(e),
    };
    let app_id: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(not_db)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(not_db)?;
    if app_id == APPLICATION_ID {
        let found = u32::try_from(version).unwrap_or(u32::MAX);
        if found > SCHEMA_VERSION {
            return Err(Error::SchemaTooNew {
                path: path.display().to_string(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        return Ok(Found::Store(found));
    }
    if app_id != 0 {
        return Err(not_a_store(
            path,
            format!("its application_id is 0x{app_id:08x}, not churnlens's 0x{APPLICATION_ID:08x}"),
        ));
    }
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name LIMIT 5")
        .map_err(not_db)?;
    let tables: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if tables.is_empty() {
        Ok(Found::Empty)
    } else {
        Err(not_a_store(
            path,
            format!(
                "it holds tables of another application ({})",
                tables.join(", ")
            ),
        ))
    }
}

/// Bring the store behind `conn` to [`SCHEMA_VERSION`] in one transaction. Re-checks the
/// version inside the transaction, so two processes opening a new file at once are safe.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let from = match inspect(&tx, path)? {
        Found::Empty => 0,
        Found::Store(v) => v,
    };
    for (i, step) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        tx.execute_batch(step)?;
        for (to, convert) in CONVERSIONS {
            if *to as usize == i + 1 {
                convert(&tx)?;
            }
        }
    }
    if from < SCHEMA_VERSION {
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_step_per_version() {
        assert_eq!(MIGRATIONS.len(), SCHEMA_VERSION as usize);
    }

    #[test]
    fn migrate_is_idempotent() {
        let mut c = Connection::open_in_memory().unwrap();
        let p = Path::new(":memory:");
        assert_eq!(inspect(&c, p).unwrap(), Found::Empty);
        migrate(&mut c, p).unwrap();
        assert_eq!(inspect(&c, p).unwrap(), Found::Store(SCHEMA_VERSION));
        migrate(&mut c, p).unwrap();
        assert_eq!(inspect(&c, p).unwrap(), Found::Store(SCHEMA_VERSION));
    }

    #[test]
    fn foreign_application_id_is_refused() {
        let c = Connection::open_in_memory().unwrap();
        c.pragma_update(None, "application_id", 42).unwrap();
        let e = inspect(&c, Path::new("x.db")).unwrap_err();
        assert_eq!(e.code(), "ERR_NOT_A_STORE");
        assert!(e.to_string().contains("0x0000002a"), "{e}");
    }
}
