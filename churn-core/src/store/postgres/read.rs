//! Reads: paged scans on `(project, seq)`, users, links, consents, objects, stats.

use std::collections::HashMap;
use std::ops::ControlFlow;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row};

use futures_util::StreamExt;

use super::copy::{be_i64, text, CopyReader};
use super::{pg_err, PostgresStore};
use crate::error::{Error, Result};
use crate::event::{Event, Properties};
use crate::store::types::*;
use crate::time::Timestamp;

/// Rows fetched per page of a scan.
const PAGE: usize = 20_000;

pub(super) async fn schema_version(c: &mut Client) -> Result<u32> {
    let row = c
        .query_one("SELECT coalesce(max(version), 0) FROM churn_schema", &[])
        .await?;
    Ok(u32::try_from(row.get::<_, i32>(0)).unwrap_or(0))
}

/// The event stored in a row's `body` column.
pub(super) fn decode_body(row: &Row) -> Result<Event> {
    let body: &[u8] = row.get("body");
    serde_json::from_slice(body).map_err(|e| Error::storage(format!("postgres: bad event: {e}")))
}

/// Visit the rows matching `req` in `seq` order, a page at a time (keyset pagination
/// on `seq`), with `body` when `full`. `visit` runs between pages, off the runtime.
pub(super) fn paged(
    store: &PostgresStore,
    project: &str,
    req: &ScanRequest,
    full: bool,
    visit: &mut dyn FnMut(u64, &Row) -> Result<ControlFlow<()>>,
) -> Result<()> {
    let cols = if full {
        "seq, ts, event, user_id, anonymous_id, session_id, body"
    } else {
        "seq, ts, event, user_id, anonymous_id, session_id"
    };
    let mut sql = format!("SELECT {cols} FROM churn_events WHERE project = $1 AND seq > $2");
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    let mut next = 3;
    let mut add = |sql: &mut String, clause: &str, p: Box<dyn ToSql + Sync + Send>| {
        sql.push_str(&clause.replace('?', &format!("${next}")));
        next += 1;
        params.push(p);
    };
    if let Some(from) = req.range.from {
        add(&mut sql, " AND ts >= ?", Box::new(from.millis()));
    }
    if let Some(to) = req.range.to {
        add(&mut sql, " AND ts < ?", Box::new(to.millis()));
    }
    if let Some(names) = &req.events {
        add(&mut sql, " AND event = ANY(?)", Box::new(names.clone()));
    }
    if let Some(ids) = &req.users {
        add(
            &mut sql,
            " AND (person = ANY(?) OR (user_id IS NOT NULL AND anonymous_id = ANY(?)))",
            Box::new(ids.clone()),
        );
    }
    let limit_at = next;
    sql.push_str(&format!(" ORDER BY seq LIMIT ${limit_at}"));
    let mut cursor = i64::try_from(req.after_seq.unwrap_or(0)).unwrap_or(i64::MAX);
    let mut left = req.limit.unwrap_or(usize::MAX);
    let (conn, stmt) = store.prepared(&sql)?;
    while left > 0 {
        let n = left.min(PAGE) as i64;
        let mut args: Vec<&(dyn ToSql + Sync)> = vec![&project, &cursor];
        args.extend(params.iter().map(|p| &**p as &(dyn ToSql + Sync)));
        args.push(&n);
        let rows = match store.block(conn.query(&stmt, &args)) {
            Ok(r) => r,
            Err(e) => return Err(pg_err(e)),
        };
        let got = rows.len();
        for row in &rows {
            let seq: i64 = row.get("seq");
            if visit(seq as u64, row)?.is_break() {
                store.give_back(conn);
                return Ok(());
            }
            cursor = seq;
        }
        left -= got;
        if (got as i64) < n {
            break;
        }
    }
    store.give_back(conn);
    Ok(())
}

/// `s` as an SQL string literal (the session runs with `standard_conforming_strings`
/// on, so doubling quotes is the whole escape).
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `ARRAY['a', 'b']::text[]`.
fn lit_array(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|s| lit(s)).collect();
    format!("ARRAY[{}]::text[]", items.join(", "))
}

/// Bytes of `COPY` data gathered per trip into the runtime.
const GATHER: usize = 1 << 20;

/// The core columns of the rows matching `req`, in `seq` order, streamed by one
/// `COPY (SELECT ...) TO STDOUT (FORMAT binary)` and decoded here (no per-row
/// allocation). `COPY` takes no parameters, so values are written as literals. The
/// stream is read a megabyte at a time and `visit` runs off the runtime. Stopping early
/// cancels the query and drops the connection.
pub(super) fn scan_rows_copy(
    store: &PostgresStore,
    project: &str,
    req: &ScanRequest,
    visit: &mut dyn FnMut(&EventRow<'_>) -> ControlFlow<()>,
) -> Result<()> {
    let after = i64::try_from(req.after_seq.unwrap_or(0)).unwrap_or(i64::MAX);
    let mut sql = format!(
        "COPY (SELECT seq, ts, event, user_id, anonymous_id, session_id FROM churn_events
         WHERE project = {} AND seq > {after}",
        lit(project)
    );
    if let Some(from) = req.range.from {
        sql.push_str(&format!(" AND ts >= {}", from.millis()));
    }
    if let Some(to) = req.range.to {
        sql.push_str(&format!(" AND ts < {}", to.millis()));
    }
    if let Some(names) = &req.events {
        sql.push_str(&format!(" AND event = ANY({})", lit_array(names)));
    }
    if let Some(ids) = &req.users {
        let a = lit_array(ids);
        sql.push_str(&format!(
            " AND (person = ANY({a}) OR (user_id IS NOT NULL AND anonymous_id = ANY({a})))"
        ));
    }
    sql.push_str(" ORDER BY seq");
    if let Some(n) = req.limit {
        sql.push_str(&format!(" LIMIT {n}"));
    }
    sql.push_str(") TO STDOUT (FORMAT binary)");
    let conn = store.take()?;
    let stream = store.block(async {
        conn.batch_execute("SET standard_conforming_strings = on")
            .await?;
        conn.copy_out(&sql).await.map_err(pg_err)
    })?;
    let mut stream = std::pin::pin!(stream);
    let mut reader = CopyReader::default();
    let mut row = |f: &[Option<&[u8]>]| -> Result<bool> {
        if f.len() != 6 {
            return Err(Error::storage("postgres: bad COPY row"));
        }
        let event = text(f[2])?.ok_or_else(|| Error::storage("postgres: null event"))?;
        let r = EventRow {
            seq: be_i64(f[0])? as u64,
            timestamp: Timestamp::from_millis(be_i64(f[1])?),
            event,
            user_id: text(f[3])?,
            anonymous_id: text(f[4])?,
            session_id: text(f[5])?,
        };
        Ok(visit(&r).is_continue())
    };
    // The stream must not be polled again once it has ended.
    let mut ended = false;
    while !ended {
        let chunks = store.block(async {
            let mut got = Vec::new();
            let mut size = 0;
            while size < GATHER {
                match stream.next().await {
                    Some(Ok(b)) => {
                        size += b.len();
                        got.push(b);
                    }
                    Some(Err(e)) => return Err(pg_err(e)),
                    None => {
                        ended = true;
                        break;
                    }
                }
            }
            Ok(got)
        })?;
        for chunk in &chunks {
            if !reader.feed(chunk, &mut row)? {
                // Stop the server streaming the rest; the connection is not reused.
                let token = conn.cancel_token();
                store.rt.spawn(async move {
                    let _ = token.cancel_query(tokio_postgres::NoTls).await;
                });
                return Ok(());
            }
        }
    }
    if !reader.done {
        return Err(Error::storage("postgres: COPY stream ended early"));
    }
    store.give_back(conn);
    Ok(())
}

pub(super) async fn users(
    c: &mut Client,
    project: &str,
    only: Option<&str>,
) -> Result<Vec<UserRecord>> {
    let (urows, lrows) = match only {
        Some(u) => (
            c.query(
                "SELECT user_id, traits, created_at, updated_at FROM churn_users
                 WHERE project = $1 AND user_id = $2",
                &[&project, &u],
            )
            .await,
            c.query(
                "SELECT user_id, anonymous_id FROM churn_links
                 WHERE project = $1 AND user_id = $2 ORDER BY pos",
                &[&project, &u],
            )
            .await,
        ),
        None => (
            c.query(
                "SELECT user_id, traits, created_at, updated_at FROM churn_users
                 WHERE project = $1 ORDER BY user_id COLLATE \"C\"",
                &[&project],
            )
            .await,
            c.query(
                "SELECT user_id, anonymous_id FROM churn_links
                 WHERE project = $1 ORDER BY pos",
                &[&project],
            )
            .await,
        ),
    };
    let mut links: HashMap<String, Vec<String>> = HashMap::new();
    for r in lrows? {
        links.entry(r.get(0)).or_default().push(r.get(1));
    }
    let mut out = Vec::new();
    for r in urows? {
        let user_id: String = r.get(0);
        let traits: Properties = serde_json::from_slice(r.get(1))
            .map_err(|e| Error::storage(format!("postgres: bad traits: {e}")))?;
        out.push(UserRecord {
            anonymous_ids: links.remove(&user_id).unwrap_or_default(),
            user_id,
            traits,
            created_at: Timestamp::from_millis(r.get(2)),
            updated_at: Timestamp::from_millis(r.get(3)),
        });
    }
    Ok(out)
}

pub(super) async fn identities(c: &mut Client, project: &str) -> Result<Vec<IdentityLink>> {
    let rows = c
        .query(
            "SELECT anonymous_id, user_id FROM churn_links WHERE project = $1
             ORDER BY anonymous_id COLLATE \"C\"",
            &[&project],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| IdentityLink {
            anonymous_id: r.get(0),
            user_id: r.get(1),
        })
        .collect())
}

pub(super) async fn consents(c: &mut Client, project: &str) -> Result<Vec<ConsentRecord>> {
    let rows = c
        .query(
            "SELECT id, granted, at FROM churn_consents WHERE project = $1 ORDER BY id COLLATE \"C\"",
            &[&project],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| ConsentRecord {
            id: r.get(0),
            granted: r.get(1),
            at: Timestamp::from_millis(r.get(2)),
        })
        .collect())
}

pub(super) async fn get_object(
    c: &mut Client,
    project: &str,
    namespace: &str,
    key: &str,
) -> Result<Option<Vec<u8>>> {
    let row = c
        .query_opt(
            "SELECT value FROM churn_objects WHERE project = $1 AND namespace = $2 AND key = $3",
            &[&project, &namespace, &key],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

pub(super) async fn list_objects(
    c: &mut Client,
    project: &str,
    namespace: &str,
) -> Result<Vec<String>> {
    let rows = c
        .query(
            "SELECT key FROM churn_objects WHERE project = $1 AND namespace = $2
             ORDER BY key COLLATE \"C\"",
            &[&project, &namespace],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub(super) async fn stats(c: &mut Client, project: &str) -> Result<StoreStats> {
    let row = c
        .query_one(
            "SELECT coalesce((SELECT events FROM churn_projects WHERE project = $1), 0),
                    (SELECT count(*) FROM churn_users WHERE project = $1),
                    coalesce((SELECT max_seq FROM churn_projects WHERE project = $1), 0)",
            &[&project],
        )
        .await?;
    Ok(StoreStats {
        events: row.get::<_, i64>(0) as u64,
        users: row.get::<_, i64>(1) as u64,
        max_seq: row.get::<_, i64>(2) as u64,
    })
}
