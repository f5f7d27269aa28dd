//! Monthly partitions of `churn_events`: made on demand before a batch is copied (the
//! SQL function `churn_event_partition`, under an advisory lock), dropped whole by
//! `purge_before` when every row in them is older than the cutoff.

use std::collections::HashSet;

use chrono::Datelike;
use parking_lot::Mutex;
use tokio_postgres::Client;

use super::write::{count_removed, lock_project};
use crate::error::Result;
use crate::event::Event;
use crate::time::Timestamp;

/// Months since year 0 (`year * 12 + month - 1`) of an instant, UTC.
fn month_of(t: Timestamp) -> i32 {
    let d = t.date();
    d.year() * 12 + d.month0() as i32
}

/// The first instant of month `m` (as from [`month_of`]).
fn month_start(m: i32) -> Option<Timestamp> {
    Timestamp::from_ymd(m.div_euclid(12), m.rem_euclid(12) as u32 + 1, 1)
}

/// Make sure the partitions of the months `events` fall in exist (`known` caches the
/// months this store has seen made). Runs outside the write transaction, so the brief
/// lock a new partition takes is released at once.
pub(super) async fn ensure(
    c: &Client,
    known: &Mutex<HashSet<i32>>,
    events: &[&Event],
) -> Result<()> {
    let mut months = Vec::new();
    let mut at = Vec::new();
    {
        let known = known.lock();
        // `[start, end)` in ms of the month of the previous event: events come in time
        // order mostly, so most skip the calendar arithmetic.
        let mut last = (0i64, 0i64);
        for e in events {
            let t = e.timestamp.millis();
            if last.0 <= t && t < last.1 {
                continue;
            }
            let m = month_of(e.timestamp);
            if let (Some(lo), Some(hi)) = (month_start(m), month_start(m + 1)) {
                last = (lo.millis(), hi.millis());
            }
            if known.contains(&m) || months.contains(&m) {
                continue;
            }
            months.push(m);
            at.push(t);
        }
    }
    if months.is_empty() {
        return Ok(());
    }
    c.execute(
        "SELECT churn_event_partition(t) FROM unnest($1::int8[]) AS u(t)",
        &[&at],
    )
    .await?;
    known.lock().extend(months);
    Ok(())
}

/// `(name, month)` of every monthly partition.
async fn partitions(c: &Client) -> Result<Vec<(String, i32)>> {
    let rows = c
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'churn_events'::regclass
               AND c.relname ~ '^churn_events_[0-9]{6}$'",
            &[],
        )
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let name: String = r.get(0);
        let digits = &name["churn_events_".len()..];
        let (Ok(y), Ok(m)) = (digits[..4].parse::<i32>(), digits[4..].parse::<i32>()) else {
            continue;
        };
        if (1..=12).contains(&m) {
            out.push((name, y * 12 + m - 1));
        }
    }
    Ok(out)
}

/// Remove `project`'s events older than `before`: a monthly partition wholly before the
/// cutoff that holds only this project's rows is dropped whole; the rest (the boundary
/// month, the default partition, months shared with other projects) by `DELETE`.
/// Message ids of removed events are forgotten, as after a row-by-row delete.
pub(super) async fn purge_before(
    c: &mut Client,
    known: &Mutex<HashSet<i32>>,
    project: &str,
    before: Timestamp,
) -> Result<u64> {
    let mut removed = 0u64;
    for (name, month) in partitions(c).await? {
        let Some(end) = month_start(month + 1) else {
            continue;
        };
        if end > before {
            continue;
        }
        // `name` matched `churn_events_[0-9]{6}`: safe to splice. The project's counter
        // row, then the parent are locked first (as writers lock them), so a purge and a
        // writer never deadlock.
        let tx = c.transaction().await?;
        lock_project(&tx, project).await?;
        tx.batch_execute("LOCK TABLE churn_events IN ACCESS EXCLUSIVE MODE")
            .await?;
        let r = tx
            .query_one(
                &format!("SELECT min(project), max(project) FROM {name}"),
                &[],
            )
            .await?;
        let (lo, hi): (Option<String>, Option<String>) = (r.get(0), r.get(1));
        let only_this = match (&lo, &hi) {
            (None, None) => true,
            (Some(a), Some(b)) => a == project && b == project,
            _ => false,
        };
        if only_this {
            let n: i64 = tx
                .query_one(&format!("SELECT count(*) FROM {name}"), &[])
                .await?
                .get(0);
            tx.batch_execute(&format!("DROP TABLE {name}")).await?;
            count_removed(&tx, project, n as u64).await?;
            removed += n as u64;
        }
        tx.commit().await?;
        if only_this {
            known.lock().remove(&month);
        }
    }
    let tx = c.transaction().await?;
    lock_project(&tx, project).await?;
    let deleted = tx
        .execute(
            "DELETE FROM churn_events WHERE project = $1 AND ts < $2",
            &[&project, &before.millis()],
        )
        .await?;
    count_removed(&tx, project, deleted).await?;
    removed += deleted;
    super::ids::forget_before(&tx, project, before.millis()).await?;
    tx.commit().await?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_round_trip() {
        let t = Timestamp::from_ymd(2026, 3, 31).unwrap().add_millis(5);
        let m = month_of(t);
        assert_eq!(month_start(m), Timestamp::from_ymd(2026, 3, 1));
        assert_eq!(month_start(m + 1), Timestamp::from_ymd(2026, 4, 1));
        assert_eq!(month_start(m - 3), Timestamp::from_ymd(2025, 12, 1));
    }
}
