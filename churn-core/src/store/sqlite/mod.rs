//! [`SqliteStore`]: the durable backend, one SQLite file in WAL mode.
//!
//! Layout: one writer connection (behind a mutex; every `apply` is one transaction) and a
//! small pool of read-only connections, so scans read a consistent snapshot and never
//! wait behind a long write. Events are stored in blocks of up to 4,096 (one row per
//! block: see [`block`] and [`codec`]); event names are interned per project in a
//! dictionary table; properties and context are compact JSON text inside the block.
//! Message ids are deduplicated through an in-memory map confirmed on disk ([`dedup`]).
//! The schema is versioned with `PRAGMA user_version` and marked with a churnlens
//! `PRAGMA application_id`; see [`schema`] for the tables and [`convert`] for the
//! schema-1 upgrade.

mod block;
mod checkpoint;
mod codec;
mod convert;
mod dedup;
mod options;
mod read;
mod schema;
mod watch;
mod write;

#[cfg(test)]
mod tests;

pub use options::{Durability, SqliteOptions};
pub use schema::APPLICATION_ID;

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags};

use super::types::*;
use super::Store;
use crate::error::{Error, Result};
use crate::event::{Event, Message};
use crate::time::Timestamp;

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::storage(format!("sqlite: {e}"))
    }
}

impl From<rusqlite::types::FromSqlError> for Error {
    fn from(e: rusqlite::types::FromSqlError) -> Self {
        Error::storage(format!("sqlite: unexpected value: {e}"))
    }
}

/// Page size of new files.
const PAGE_SIZE: i64 = 8192;

/// Checkpoint the write-ahead log inline, on the writer, once it holds this many bytes:
/// only a backstop, the [`checkpoint`] thread normally checkpoints far earlier. (SQLite's
/// default is 1000 pages, 8 MiB here.)
const WAL_BACKSTOP_BYTES: i64 = 128 * 1024 * 1024;

/// Idle read connections kept for reuse.
const MAX_IDLE_READERS: usize = 4;

/// Where the database lives.
#[derive(Debug, Clone)]
enum Location {
    File(PathBuf),
    /// A process-private in-memory database shared by this store's connections
    /// (SQLite's `memdb` VFS), named uniquely.
    Memory(String),
}

/// Interned ids the writer has seen, valid because dictionary rows are never deleted.
/// Cleared whenever a write transaction fails, so it never holds a rolled-back id.
#[derive(Default)]
struct Dict {
    projects: HashMap<String, i64>,
    names: HashMap<i64, HashMap<String, i64>>,
}

struct Writer {
    conn: Connection,
    dict: Dict,
    dedup: dedup::Dedup,
}

/// A [`Store`](super::Store) in one SQLite file (or in memory).
///
/// ```
/// use churn_core::event::Event;
/// use churn_core::store::{SqliteStore, Store, StoreExt, ScanRequest, DEFAULT_PROJECT};
/// let dir = tempfile::tempdir()?;
/// let store = SqliteStore::open(dir.path().join("events.db"))?;
/// let e = Event::track("signup").user_id("u1").build()?;
/// store.append(DEFAULT_PROJECT, &[e.clone(), e])?;
/// assert_eq!(store.scan_all(DEFAULT_PROJECT, &ScanRequest::new())?.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SqliteStore {
    location: Location,
    options: SqliteOptions,
    // Fields drop in order: the checkpoint thread stops first, the read-only readers
    // close next, and the writer's connection is the last one, so it checkpoints the
    // WAL into the file on close (a read-only last connection cannot, and would leave
    // the `-wal` file behind).
    /// Held for its `Drop` (stops the thread).
    _checkpointer: Option<checkpoint::Checkpointer>,
    watcher: watch::Watcher,
    readers: Mutex<Vec<Connection>>,
    writer: Mutex<Writer>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("location", &self.location)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Open (or create) the store at `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Open (or create) the store at `path`.
    ///
    /// Errors: [`Error::NotAStore`] for a file that is not SQLite or holds another
    /// application's data, [`Error::SchemaTooNew`] for a store written by a newer
    /// churnlens, [`Error::Io`] for a missing file opened read-only.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        schema::check_header(&path)?;
        if options.read_only && !path.exists() {
            return Err(Error::Io {
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such store (opened read-only)",
                ),
            });
        }
        Self::open_location(Location::File(path), options)
    }

    /// A new, empty store in memory (lost when dropped). Same behaviour as a file store,
    /// minus durability: handy for tests and short-lived analyses.
    ///
    /// ```
    /// use churn_core::store::{SqliteStore, Store, DEFAULT_PROJECT};
    /// let s = SqliteStore::in_memory().unwrap();
    /// assert_eq!(s.stats(DEFAULT_PROJECT).unwrap().events, 0);
    /// ```
    pub fn in_memory() -> Result<Self> {
        let name = format!("/churnlens-{}", uuid::Uuid::new_v4().simple());
        Self::open_location(
            Location::Memory(name),
            SqliteOptions::default().read_only(false),
        )
    }

    fn open_location(location: Location, options: SqliteOptions) -> Result<Self> {
        let label = location.label();
        let mut conn = location.connect(options.read_only, options.busy_timeout)?;
        let found = schema::inspect(&conn, &label)?;
        if options.read_only {
            match found {
                schema::Found::Store(v) if v == super::SCHEMA_VERSION => {}
                schema::Found::Store(v) => {
                    return Err(Error::storage(format!(
                        "{} has schema {v}; open it once read-write to upgrade it to {}",
                        label.display(),
                        super::SCHEMA_VERSION
                    )))
                }
                schema::Found::Empty => {
                    return Err(schema::not_a_store(&label, "it is an empty database"))
                }
            }
        } else {
            if let Location::File(_) = location {
                // Only takes effect on a new file (before its first table). 8 KiB pages
                // measured ~15-25% faster ingest than 4 KiB (benches/README.md).
                conn.pragma_update(None, "page_size", PAGE_SIZE)?;
                // Persistent: the file stays in WAL mode for every later connection.
                let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
                if !mode.eq_ignore_ascii_case("wal") {
                    return Err(Error::storage(format!(
                        "{}: could not switch to WAL mode (got {mode})",
                        label.display()
                    )));
                }
            }
            schema::migrate(&mut conn, &label)?;
        }
        configure(&conn, &options, true)?;
        let checkpointer = match location {
            Location::File(_) if !options.read_only => {
                let c = location.connect(false, options.busy_timeout)?;
                // A checkpoint fsyncs the log before and the database after copying
                // (under NORMAL and FULL alike): never run one with syncs off.
                c.pragma_update(None, "synchronous", options.durability.pragma())?;
                let started = checkpoint::Checkpointer::start(c).map_err(|source| Error::Io {
                    path: label.clone(),
                    source,
                })?;
                Some(started)
            }
            _ => None,
        };
        Ok(SqliteStore {
            location,
            options,
            _checkpointer: checkpointer,
            watcher: watch::Watcher::default(),
            writer: Mutex::new(Writer {
                conn,
                dict: Dict::default(),
                dedup: dedup::Dedup::default(),
            }),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// The file behind the store (`None` in memory).
    pub fn path(&self) -> Option<&Path> {
        match &self.location {
            Location::File(p) => Some(p),
            Location::Memory(_) => None,
        }
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &SqliteOptions {
        &self.options
    }

    /// Check the file's structure with SQLite's `PRAGMA integrity_check`: `Ok(())` when
    /// SQLite answers `ok`, an [`Error::Storage`] listing the first problems otherwise.
    /// Reads the whole file: meant for tools and tests after a crash, not a hot path.
    ///
    /// ```
    /// use churn_core::store::SqliteStore;
    /// let dir = tempfile::tempdir()?;
    /// let store = SqliteStore::open(dir.path().join("events.db"))?;
    /// store.integrity_check()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn integrity_check(&self) -> Result<()> {
        let problems: Vec<String> = self.read(|conn| {
            let mut stmt = conn.prepare("PRAGMA integrity_check(20)")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?)
        })?;
        if problems.len() == 1 && problems[0] == "ok" {
            return Ok(());
        }
        Err(Error::storage(format!(
            "{}: integrity_check failed: {}",
            self.location.label().display(),
            problems.join("; ")
        )))
    }

    /// Run `f` on a read connection from the pool (opening one when none is idle).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let pooled = self.readers.lock().pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = self.location.connect(true, self.options.busy_timeout)?;
                configure(&c, &self.options, false)?;
                c
            }
        };
        let out = f(&conn);
        let mut pool = self.readers.lock();
        if pool.len() < MAX_IDLE_READERS {
            pool.push(conn);
        }
        out
    }

    /// Run `f` in one write transaction; on any error the transaction rolls back and the
    /// dictionary and dedup caches are dropped (they may hold rolled-back entries).
    fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>, &mut write::WriteState<'_>) -> Result<T>,
    ) -> Result<T> {
        if self.options.read_only {
            return Err(Error::storage(format!(
                "{} was opened read-only",
                self.location.label().display()
            )));
        }
        let mut guard = self.writer.lock();
        let Writer { conn, dict, dedup } = &mut *guard;
        let run = |conn: &mut Connection, dict: &mut Dict, dedup: &mut dedup::Dedup| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let out = f(&tx, &mut write::WriteState { dict, dedup })?;
            tx.commit()?;
            Ok(out)
        };
        let out = run(conn, dict, dedup);
        if out.is_err() {
            *dict = Dict::default();
            dedup.invalidate();
        }
        out
    }

    /// After an erasure (delete, anonymize, purge): copy the write-ahead log into the
    /// database and truncate it, so the erased data's old page images do not linger in
    /// the log (`secure_delete` already zeroes the freed space in the database). Best
    /// effort: a reader holding an old snapshot can keep the log from being truncated
    /// until a later checkpoint.
    fn checkpoint_after_erase(&self) -> Result<()> {
        if !matches!(self.location, Location::File(_)) || !self.options.secure_delete {
            return Ok(());
        }
        let guard = self.writer.lock();
        guard
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}

impl Location {
    fn label(&self) -> PathBuf {
        match self {
            Location::File(p) => p.clone(),
            Location::Memory(_) => PathBuf::from(":memory:"),
        }
    }

    /// A new connection that waits up to `busy_timeout` for another's lock.
    fn connect(&self, read_only: bool, busy_timeout: Duration) -> Result<Connection> {
        let mode = if read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
        };
        let flags = mode | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = match self {
            Location::File(p) => Connection::open_with_flags(p, flags),
            Location::Memory(name) => Connection::open_with_flags(
                format!("file:{name}?vfs=memdb"),
                flags | OpenFlags::SQLITE_OPEN_URI,
            ),
        };
        let conn = conn.map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => {
                schema::not_a_store(&self.label(), "it is not an SQLite database")
            }
            _ => Error::storage(format!("{}: {e}", self.label().display())),
        })?;
        conn.busy_timeout(busy_timeout)?;
        Ok(conn)
    }
}

/// Per-connection settings.
fn configure(conn: &Connection, o: &SqliteOptions, writer: bool) -> Result<()> {
    conn.set_prepared_statement_cache_capacity(64);
    conn.pragma_update(None, "cache_size", -i64::from(o.cache_size_kib))?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "foreign_keys", false)?;
    if writer && !o.read_only {
        conn.pragma_update(None, "synchronous", o.durability.pragma())?;
        conn.pragma_update(None, "secure_delete", o.secure_delete)?;
        let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        conn.pragma_update(
            None,
            "wal_autocheckpoint",
            WAL_BACKSTOP_BYTES / page.max(512),
        )?;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn schema_version(&self) -> Result<u32> {
        self.read(|c| {
            let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            u32::try_from(v).map_err(|_| Error::storage(format!("bad user_version {v}")))
        })
    }

    fn apply(&self, project: &str, messages: &[Message]) -> Result<AppendOutcome> {
        if messages.is_empty() {
            return Ok(AppendOutcome::default());
        }
        self.write(|tx, w| write::apply(tx, w, project, messages))
    }

    fn scan(
        &self,
        project: &str,
        req: &ScanRequest,
        visit: &mut dyn FnMut(StoredEvent) -> ControlFlow<()>,
    ) -> Result<()> {
        read::scan(self, project, req, visit)
    }

    fn scan_rows(
        &self,
        project: &str,
        req: &ScanRequest,
        visit: &mut dyn FnMut(&EventRow<'_>) -> ControlFlow<()>,
    ) -> Result<()> {
        self.read(|c| read::scan_rows(c, project, req, visit))
    }

    fn user(&self, project: &str, user_id: &str) -> Result<Option<UserRecord>> {
        self.read(|c| read::user(c, project, user_id))
    }

    fn users(&self, project: &str) -> Result<Vec<UserRecord>> {
        self.read(|c| read::users(c, project))
    }

    fn identities(&self, project: &str) -> Result<Vec<IdentityLink>> {
        self.read(|c| read::identities(c, project))
    }

    fn set_consent(&self, project: &str, id: &str, granted: bool, at: Timestamp) -> Result<()> {
        self.write(|tx, w| write::set_consent(tx, w.dict, project, id, granted, at))
    }

    fn consents(&self, project: &str) -> Result<Vec<ConsentRecord>> {
        self.read(|c| read::consents(c, project))
    }

    fn delete_user(&self, project: &str, user_id: &str) -> Result<DeleteReport> {
        let out = self.write(|tx, w| write::delete_user(tx, w, project, user_id))?;
        self.checkpoint_after_erase()?;
        Ok(out)
    }

    fn rewrite_user(
        &self,
        project: &str,
        user_id: &str,
        rewrite: &mut dyn FnMut(Event) -> Event,
    ) -> Result<DeleteReport> {
        let out = self.write(|tx, w| write::rewrite_user(tx, w, project, user_id, rewrite))?;
        self.checkpoint_after_erase()?;
        Ok(out)
    }

    fn purge_before(&self, project: &str, before: Timestamp) -> Result<u64> {
        let out = self.write(|tx, w| write::purge_before(tx, w, project, before))?;
        self.checkpoint_after_erase()?;
        Ok(out)
    }

    fn put_object(&self, project: &str, namespace: &str, key: &str, value: &[u8]) -> Result<()> {
        self.write(|tx, w| write::put_object(tx, w.dict, project, namespace, key, value))
    }

    fn get_object(&self, project: &str, namespace: &str, key: &str) -> Result<Option<Vec<u8>>> {
        self.read(|c| read::get_object(c, project, namespace, key))
    }

    fn list_objects(&self, project: &str, namespace: &str) -> Result<Vec<String>> {
        self.read(|c| read::list_objects(c, project, namespace))
    }

    fn delete_object(&self, project: &str, namespace: &str, key: &str) -> Result<bool> {
        self.write(|tx, w| write::delete_object(tx, w.dict, project, namespace, key))
    }

    fn stats(&self, project: &str) -> Result<StoreStats> {
        self.read(|c| read::stats(c, project))
    }

    /// SQLite's `data_version` seen by a connection that never writes: any commit to
    /// the file, from any connection or process, changes it. `None` in memory.
    fn change_token(&self) -> Result<Option<u64>> {
        self.watcher.token(&self.location, &self.options)
    }

    /// With [`Durability::Full`] every commit is already durable. With
    /// [`Durability::Normal`] this fsyncs the write-ahead log, which makes every commit so
    /// far survive a power loss.
    fn sync(&self) -> Result<()> {
        let Location::File(path) = &self.location else {
            return Ok(());
        };
        if self.options.read_only || self.options.durability == Durability::Full {
            return Ok(());
        }
        // Hold the writer so no commit or checkpoint runs while we sync.
        let _guard = self.writer.lock();
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        let wal = PathBuf::from(wal);
        match std::fs::File::open(&wal) {
            Ok(f) => f
                .sync_all()
                .map_err(|source| Error::Io { path: wal, source }),
            // No log: everything was checkpointed, and checkpoints sync the database.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::Io { path: wal, source }),
        }
    }
}
