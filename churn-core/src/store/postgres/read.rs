//! Reads: paged scans on `(project, seq)`, users, links, consents, objects, stats.

use std::collections::HashMap;
use std::ops::ControlFlow;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row};

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
pub(super) fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `ARRAY['a', 'b']::text[]`.
pub(super) fn lit_array(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|s| lit(s)).collect();
    format!("ARRAY[{}]::text[]", items.join(", "))
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
