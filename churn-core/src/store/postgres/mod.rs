//! [`PostgresStore`]: the [`Store`] trait on a shared PostgreSQL database, so several app
//! servers can write to and read from one store.
//!
//! Driver: `tokio-postgres` 0.7 (the well-kept async driver the sync `postgres` crate
//! wraps; it gives binary `COPY` for bulk ingest). The trait is synchronous, so the store
//! owns a small current-thread tokio runtime and blocks on it; connections are kept in
//! a bounded pool with reconnect backoff ([`pool`]).
//!
//! When the database restarts, the store recovers by itself: a call that finds its
//! pooled connection closed retries once on a new connection; while the database is
//! unreachable calls fail fast with [`Error::Unavailable`] (reconnects back off from
//! 100 ms to 2 s), which the tracker answers by keeping its messages and retrying, and
//! the server by a 503 with `Retry-After`.
//!
//! Guarantees (the same conformance suite as SQLite and memory):
//! - every row is keyed by project; `(project, message_id)` is unique, so retries and
//!   several writers never duplicate an event;
//! - `seq` is assigned per project in commit order: writers lock the project's counter
//!   row inside their transaction, so a reader's `after_seq` cursor never skips a row
//!   committed later with a smaller `seq`;
//! - a batch claims its message ids ([`ids`]: canonical UUIDs as `uuid` in
//!   `churn_message_uuids`, other ids as text in `churn_message_ids`; binary `COPY`,
//!   sorted, in a savepoint, with an `INSERT ... ON CONFLICT DO NOTHING RETURNING` retry
//!   when one is a duplicate) while the client encodes the events' `COPY` rows, then
//!   takes the project lock and copies the new events straight into the monthly
//!   partitions of `churn_events` with `COPY ... FROM STDIN (FORMAT binary)`;
//! - scans of the core columns stream `COPY (SELECT ...) TO STDOUT (FORMAT binary)`,
//!   received on a fetch thread while the caller decodes (module `scan`).

mod copy;
mod ids;
mod partition;
mod pool;
mod read;
mod scan;
mod schema;
mod write;

pub use schema::SCHEMA_VERSION;

use std::collections::HashSet;
use std::future::Future;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::runtime::Runtime;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls};

use super::types::*;
use super::Store;
use crate::error::{Error, Result};
use crate::event::{Event, Message};
use crate::time::Timestamp;

/// Connect timeout unless the URL sets `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `location` names a PostgreSQL database (`postgres://` or `postgresql://`).
///
/// ```
/// use churn_core::store::postgres::is_postgres_url;
/// assert!(is_postgres_url("postgres://localhost/churn"));
/// assert!(!is_postgres_url("churn.db"));
/// ```
pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

pub(crate) fn pg_err(e: tokio_postgres::Error) -> Error {
    if is_unavailable(&e) {
        return Error::Unavailable {
            message: format!("postgres: {e}"),
            retry_after: pool::RECONNECT_MIN,
        };
    }
    match e.as_db_error() {
        // `Display` of a server error is only "db error": name the server's message,
        // its SQLSTATE and detail, so a failure says what happened.
        Some(db) => Error::storage(format!(
            "postgres: {} (SQLSTATE {}){}",
            db.message(),
            db.code().code(),
            db.detail().map(|d| format!(": {d}")).unwrap_or_default()
        )),
        None => Error::storage(format!("postgres: {e}")),
    }
}

/// `?` on a driver result: the same mapping as [`pg_err`] (as `rusqlite::Error` converts
/// for the SQLite backend).
impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        pg_err(e)
    }
}

/// Whether `e` says the server is gone for now (connection closed or refused, server
/// shutting down or starting up) rather than that the request was wrong.
fn is_unavailable(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(db) = e.as_db_error() {
        // Class 57, operator intervention: admin / crash shutdown, cannot connect now.
        return [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
        ]
        .contains(db.code());
    }
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        if s.is::<std::io::Error>() {
            return true;
        }
        src = s.source();
    }
    false
}

/// A [`Store`] in a PostgreSQL database.
///
/// ```no_run
/// use churn_core::store::{PostgresStore, Store, DEFAULT_PROJECT};
/// let s = PostgresStore::connect("postgres://churn@127.0.0.1/churn").unwrap();
/// println!("{} events", s.stats(DEFAULT_PROJECT).unwrap().events);
/// ```
pub struct PostgresStore {
    rt: OwnedRuntime,
    config: Config,
    /// The URL without its password, for messages.
    shown: String,
    pool: pool::Pool,
    version: AtomicU32,
    /// Months whose events partition this store knows exists.
    months: Mutex<HashSet<i32>>,
}

/// The store's runtime, shut down without blocking when dropped: the last handle to a
/// store may be dropped on an async task, where a blocking shutdown would panic.
struct OwnedRuntime(Option<Runtime>);

impl std::ops::Deref for OwnedRuntime {
    type Target = Runtime;
    fn deref(&self) -> &Runtime {
        // Always `Some` until dropped.
        self.0.as_ref().expect("runtime present until drop")
    }
}

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.shown)
            .finish_non_exhaustive()
    }
}

/// `url` with any password replaced by `***` (for messages and `repr`s).
///
/// ```
/// use churn_core::store::postgres::redact_url;
/// assert_eq!(redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.split_once('@') {
        Some(x) => x,
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// Connections a store holds at most when its location does not say
/// (`connection_limit`, see [`connection_limit`]).
pub const DEFAULT_CONNECTION_LIMIT: usize = 16;
/// The largest `connection_limit` accepted.
pub const MAX_CONNECTION_LIMIT: usize = 1_000;

/// `url` without its `connection_limit` parameter, and the pool size that parameter sets
/// ([`DEFAULT_CONNECTION_LIMIT`] when absent), read as Prisma reads it: a query parameter
/// of a URL, or a `key=value` of a keyword string. libpq does not know the parameter, so
/// it is taken out before the rest reaches the driver. A value that is not a whole number
/// from 1 to [`MAX_CONNECTION_LIMIT`] is [`Error::InvalidArgument`].
///
/// ```
/// use churn_core::store::postgres::connection_limit;
/// assert_eq!(
///     connection_limit("postgres://h/db?sslmode=disable&connection_limit=4").unwrap(),
///     ("postgres://h/db?sslmode=disable".to_string(), 4)
/// );
/// assert_eq!(
///     connection_limit("host=h connection_limit=2 dbname=x").unwrap(),
///     ("host=h dbname=x".to_string(), 2)
/// );
/// assert_eq!(connection_limit("postgres://h/db").unwrap(), ("postgres://h/db".to_string(), 16));
/// assert!(connection_limit("postgres://h/db?connection_limit=0").is_err());
/// ```
pub fn connection_limit(url: &str) -> Result<(String, usize)> {
    const KEY: &str = "connection_limit=";
    let mut limit = None;
    let rest = if url.contains("://") {
        let Some((base, query)) = url.split_once('?') else {
            return Ok((url.to_string(), DEFAULT_CONNECTION_LIMIT));
        };
        let mut kept = Vec::new();
        for pair in query.split('&') {
            match pair.strip_prefix(KEY) {
                Some(v) => limit = Some(v),
                None => kept.push(pair),
            }
        }
        if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    } else {
        // Cut the token out of the text (the rest, quoted values included, unchanged).
        let mut out = String::with_capacity(url.len());
        let mut from = 0;
        for token in url.split_whitespace() {
            if let Some(v) = token.strip_prefix(KEY) {
                let at = token.as_ptr() as usize - url.as_ptr() as usize;
                out.push_str(&url[from..at]);
                from = at + token.len();
                from += url[from..].len() - url[from..].trim_start().len();
                limit = Some(v);
            }
        }
        out.push_str(&url[from..]);
        out.trim().to_string()
    };
    let n = match limit {
        None => DEFAULT_CONNECTION_LIMIT,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_CONNECTION_LIMIT).contains(&n) => n,
            _ => {
                return Err(Error::invalid(
                    "db",
                    format!(
                        "connection_limit must be a whole number from 1 to \
                         {MAX_CONNECTION_LIMIT}, got {v:?}"
                    ),
                ))
            }
        },
    };
    Ok((rest, n))
}

/// `url` with its database name replaced by `name` (the query string, if any, kept):
/// for tools and tests that make a database per run on one server.
///
/// ```
/// use churn_core::store::postgres::with_database;
/// assert_eq!(with_database("postgres://u@h:5432/postgres", "t1"), "postgres://u@h:5432/t1");
/// assert_eq!(with_database("postgres://u@h?sslmode=disable", "t1"), "postgres://u@h/t1?sslmode=disable");
/// ```
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    if query.is_empty() {
        format!("{base}/{name}")
    } else {
        format!("{base}/{name}?{query}")
    }
}

impl PostgresStore {
    /// Connect to the database at `url` (libpq-style URL or key=value string) and bring
    /// its schema up to date. The store opens at most [`DEFAULT_CONNECTION_LIMIT`]
    /// connections, or what a `connection_limit` parameter in `url` says (see
    /// [`connection_limit`]).
    pub fn connect(url: &str) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::storage(format!("postgres runtime: {e}")))?;
        let shown = redact_url(url);
        let (driver_url, limit) = connection_limit(url)?;
        let mut config: Config = driver_url
            .parse()
            .map_err(|e| Error::invalid("db", format!("{shown}: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let store = PostgresStore {
            rt: OwnedRuntime(Some(rt)),
            config,
            shown,
            pool: pool::Pool::new(limit),
            version: AtomicU32::new(0),
            months: Mutex::new(HashSet::new()),
        };
        let mut client = store.take()?;
        let v = store.block(schema::migrate(&mut client, &store.shown));
        drop(client);
        store.version.store(v?, Ordering::Relaxed);
        Ok(store)
    }

    /// Run `fut` to completion on the store's runtime. From inside another tokio
    /// runtime (where blocking on a second one is refused) it runs on a helper thread.
    fn block<F: Future + Send>(&self, fut: F) -> F::Output
    where
        F::Output: Send,
    {
        if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|s| {
                s.spawn(|| self.rt.block_on(fut))
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))
            })
        } else {
            self.rt.block_on(fut)
        }
    }

    fn open_client(&self) -> Result<Client> {
        let (client, conn) = self.block(self.config.connect(NoTls)).map_err(|e| {
            let e = pg_err(e);
            let why = match &e {
                Error::Unavailable { message, .. } | Error::Storage { message } => message,
                _ => "",
            };
            let message = format!("connect to {}: {why}", self.shown);
            match e {
                Error::Unavailable { retry_after, .. } => Error::Unavailable {
                    message,
                    retry_after,
                },
                _ => Error::storage(message),
            }
        })?;
        self.rt.spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    }

    /// A pooled connection (or a new one); back to the pool when dropped.
    fn take(&self) -> Result<pool::Conn<'_>> {
        self.pool.get(|| self.open_client())
    }

    /// A connection with `sql` prepared on it, retried once on a new connection when the
    /// pooled one turns out broken (as [`with!`] does).
    fn prepared(&self, sql: &str) -> Result<(pool::Conn<'_>, tokio_postgres::Statement)> {
        let mut conn = self.take()?;
        match self.block(conn.prepare(sql)).map_err(pg_err) {
            Ok(stmt) => Ok((conn, stmt)),
            Err(Error::Unavailable { .. }) if conn.reused => {
                conn.discard(true);
                drop(conn);
                self.pool.clear_idle();
                let conn = self.take()?;
                let stmt = self.block(conn.prepare(sql))?;
                Ok((conn, stmt))
            }
            Err(e) => Err(e),
        }
    }

    /// Return a connection to the pool (dropping it does the same).
    fn give_back(&self, c: pool::Conn<'_>) {
        drop(c);
    }
}

/// Run an expression with a pooled connection bound to `$c`, on the store's runtime.
/// A pooled connection found broken (the database restarted since it was opened) is
/// dropped with the other idle ones and the call runs once more on a new connection:
/// every call made this way is idempotent in what it stores (writes dedup by message id
/// or set a value; only a returned count, such as `delete_object`'s, may be off when the
/// first attempt had committed before its connection broke).
macro_rules! with {
    ($store:expr, |$c:ident| $body:expr) => {{
        let store = $store;
        let mut retried = false;
        loop {
            let mut conn = store.take()?;
            let out = store.block(async {
                let $c = &mut *conn;
                $body.await
            });
            if matches!(out, Err(Error::Unavailable { .. })) && conn.reused && !retried {
                retried = true;
                conn.discard(true);
                drop(conn);
                store.pool.clear_idle();
                continue;
            }
            break out;
        }
    }};
}

impl Store for PostgresStore {
    fn schema_version(&self) -> Result<u32> {
        with!(self, |c| read::schema_version(c))
    }

    fn apply(&self, project: &str, messages: &[Message]) -> Result<AppendOutcome> {
        with!(self, |c| write::apply(c, &self.months, project, messages))
    }

    fn scan(
        &self,
        project: &str,
        req: &ScanRequest,
        visit: &mut dyn FnMut(StoredEvent) -> ControlFlow<()>,
    ) -> Result<()> {
        read::paged(self, project, req, true, &mut |seq, row| {
            let event = read::decode_body(row)?;
            Ok(visit(StoredEvent { seq, event }))
        })
    }

    fn scan_rows(
        &self,
        project: &str,
        req: &ScanRequest,
        visit: &mut dyn FnMut(&EventRow<'_>) -> ControlFlow<()>,
    ) -> Result<()> {
        scan::scan_rows_copy(self, project, req, scan::slicing(), visit)
    }

    fn user(&self, project: &str, user_id: &str) -> Result<Option<UserRecord>> {
        let mut v = with!(self, |c| read::users(c, project, Some(user_id)))?;
        Ok(v.pop())
    }

    fn users(&self, project: &str) -> Result<Vec<UserRecord>> {
        with!(self, |c| read::users(c, project, None))
    }

    fn identities(&self, project: &str) -> Result<Vec<IdentityLink>> {
        with!(self, |c| read::identities(c, project))
    }

    fn set_consent(&self, project: &str, id: &str, granted: bool, at: Timestamp) -> Result<()> {
        with!(self, |c| write::set_consent(c, project, id, granted, at))
    }

    fn consents(&self, project: &str) -> Result<Vec<ConsentRecord>> {
        with!(self, |c| read::consents(c, project))
    }

    fn delete_user(&self, project: &str, user_id: &str) -> Result<DeleteReport> {
        with!(self, |c| write::delete_user(c, project, user_id))
    }

    fn rewrite_user(
        &self,
        project: &str,
        user_id: &str,
        rewrite: &mut dyn FnMut(Event) -> Event,
    ) -> Result<DeleteReport> {
        // One transaction spanning the rewrite, which runs here (the closure is not
        // `Send`): BEGIN, lock and read, rewrite, update, COMMIT on one connection.
        let mut conn = self.take()?;
        // Closed, not pooled, if anything below fails mid-transaction.
        conn.discard(true);
        let before = self.block(async {
            conn.batch_execute("BEGIN").await?;
            write::lock_person_events(&conn, project, user_id).await
        })?;
        // On any error the connection is dropped, which rolls the transaction back.
        let mut rewritten = Vec::with_capacity(before.len());
        for (seq, e) in before {
            let id = e.message_id.clone();
            let mut new = rewrite(e);
            new.message_id = id;
            rewritten.push((seq, new));
        }
        let rep = self.block(async {
            let rep = write::store_rewrite(&conn, project, user_id, &rewritten).await?;
            conn.batch_execute("COMMIT").await?;
            Ok::<_, Error>(rep)
        })?;
        conn.discard(false);
        self.give_back(conn);
        Ok(rep)
    }

    fn purge_before(&self, project: &str, before: Timestamp) -> Result<u64> {
        with!(self, |c| partition::purge_before(
            c,
            &self.months,
            project,
            before
        ))
    }

    fn put_object(&self, project: &str, namespace: &str, key: &str, value: &[u8]) -> Result<()> {
        with!(self, |c| write::put_object(
            c, project, namespace, key, value
        ))
    }

    fn get_object(&self, project: &str, namespace: &str, key: &str) -> Result<Option<Vec<u8>>> {
        with!(self, |c| read::get_object(c, project, namespace, key))
    }

    fn list_objects(&self, project: &str, namespace: &str) -> Result<Vec<String>> {
        with!(self, |c| read::list_objects(c, project, namespace))
    }

    fn delete_object(&self, project: &str, namespace: &str, key: &str) -> Result<bool> {
        with!(self, |c| write::delete_object(c, project, namespace, key))
    }

    fn stats(&self, project: &str) -> Result<StoreStats> {
        with!(self, |c| read::stats(c, project))
    }
}

#[cfg(test)]
mod citus_tests;
#[cfg(test)]
mod tests;
