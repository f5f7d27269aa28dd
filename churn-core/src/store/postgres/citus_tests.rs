//! The README's Citus commands checked against the live schema (Citus itself is not
//! packaged for this machine, so these are the rules `create_distributed_table` enforces,
//! read off PostgreSQL's catalog of a freshly migrated database):
//! - every table the store makes is named in the README, as reference or distributed;
//! - a distributed table's column exists and is `NOT NULL`;
//! - every primary key, unique and exclusion constraint of a distributed table contains
//!   its distribution column (Citus rejects the table otherwise);
//! - a partitioned table is partitioned one level deep;
//! - `colocate_with` names a distributed table whose column has the same type;
//! - foreign keys go only distributed -> reference, reference -> reference, or between
//!   co-located distributed tables on the distribution column.

use std::collections::BTreeMap;

use super::tests::{client, fresh_db, test_url};
use super::PostgresStore;

const README: &str = include_str!("../../../../README.md");

/// How the README distributes a table.
#[derive(Debug, Clone, PartialEq)]
enum Plan {
    Reference,
    Distributed {
        column: String,
        colocate_with: Option<String>,
    },
}

/// The first `'...'` quoted string of `s` and what follows it.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let start = s.find('\'')? + 1;
    let len = s[start..].find('\'')?;
    Some((&s[start..start + len], &s[start + len + 1..]))
}

/// The `create_reference_table` / `create_distributed_table` calls of the README's
/// "Scaling out with Citus" section, by table.
fn readme_plan() -> BTreeMap<String, Plan> {
    let section = README
        .split("### Scaling out with Citus")
        .nth(1)
        .expect("README has a 'Scaling out with Citus' section");
    let sql = section
        .split("```sql")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("the Citus section has a ```sql block");
    let mut plan = BTreeMap::new();
    for line in sql.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("SELECT create_reference_table(") {
            let (table, _) = quoted(rest).expect("a quoted table name");
            plan.insert(table.to_string(), Plan::Reference);
        } else if let Some(rest) = line.strip_prefix("SELECT create_distributed_table(") {
            let (table, rest) = quoted(rest).expect("a quoted table name");
            let (column, rest) = quoted(rest).expect("a quoted column name");
            let colocate_with = rest
                .split("colocate_with =>")
                .nth(1)
                .and_then(quoted)
                .map(|(t, _)| t.to_string())
                .filter(|t| t != "none");
            plan.insert(
                table.to_string(),
                Plan::Distributed {
                    column: column.to_string(),
                    colocate_with,
                },
            );
        } else {
            assert!(
                line.is_empty() || line.starts_with("CREATE EXTENSION") || line.starts_with("--"),
                "unexpected line in the README's Citus block: {line}"
            );
        }
    }
    plan
}

#[test]
fn readme_plan_parses_every_call() {
    let plan = readme_plan();
    assert_eq!(
        plan.get("churn_events"),
        Some(&Plan::Distributed {
            column: "person".into(),
            colocate_with: Some("churn_users".into())
        })
    );
    assert_eq!(plan.get("churn_projects"), Some(&Plan::Reference));
    assert!(plan.len() >= 5, "{plan:?}");
}

#[test]
fn schema_meets_the_readme_citus_plan() {
    let Some(url) = test_url() else { return };
    let db = fresh_db(&url, "citus");
    drop(PostgresStore::connect(&db).expect("the store creates its schema"));
    let (rt, c) = client(&db);
    let rows = |sql: &str, table: &str| {
        rt.block_on(c.query(sql, &[&table]))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    };
    // (NOT NULL, type) of `table.column`, when it exists.
    let column_of = |table: &str, column: &str| {
        let found = rt
            .block_on(c.query(
                "SELECT a.attnotnull, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                 WHERE a.attrelid = $1::text::regclass AND a.attname = $2 AND NOT a.attisdropped",
                &[&table, &column],
            ))
            .expect("column lookup");
        found
            .first()
            .map(|r| (r.get::<_, bool>(0), r.get::<_, String>(1)))
    };
    let plan = readme_plan();

    // Every top-level table of the schema is in the plan, and every planned table exists.
    let tables: Vec<String> = rt
        .block_on(c.query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
               AND NOT c.relispartition ORDER BY 1",
            &[],
        ))
        .expect("list tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let planned: Vec<String> = plan.keys().cloned().collect();
    assert_eq!(
        tables, planned,
        "tables in the schema vs the README's Citus block"
    );

    for (table, how) in &plan {
        let Plan::Distributed {
            column,
            colocate_with,
        } = how
        else {
            continue;
        };
        let Some((not_null, ty)) = column_of(table, column) else {
            panic!("{table}.{column} does not exist");
        };
        assert!(not_null, "{table}.{column} is NOT NULL");

        // Unique, primary key and exclusion constraints include the column.
        for r in rows(
            "SELECT i.indexrelid::regclass::text,
                    array(SELECT a.attname::text FROM unnest(i.indkey) k
                          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k)
             FROM pg_index i
             WHERE i.indrelid = $1::text::regclass
               AND (i.indisunique OR i.indisprimary OR i.indisexclusion)",
            table,
        ) {
            let (index, cols): (String, Vec<String>) = (r.get(0), r.get(1));
            assert!(
                cols.contains(column),
                "{index} on {table} {cols:?} lacks the distribution column {column}"
            );
        }

        // One level of partitions at most.
        let nested = rows(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = $1::text::regclass AND c.relkind = 'p'",
            table,
        );
        assert!(nested.is_empty(), "{table} has partitioned partitions");

        if let Some(with) = colocate_with {
            let Some(Plan::Distributed { column: other, .. }) = plan.get(with) else {
                panic!("{table} is co-located with {with}, which is not distributed");
            };
            let other_ty = column_of(with, other).map(|(_, ty)| ty);
            assert_eq!(Some(ty), other_ty, "{table}.{column} vs {with}.{other}");
        }
    }

    // Foreign keys: only the combinations Citus accepts.
    for r in rt
        .block_on(c.query(
            "SELECT conrelid::regclass::text, confrelid::regclass::text,
                    array(SELECT a.attname::text FROM unnest(conkey) k
                          JOIN pg_attribute a ON a.attrelid = conrelid AND a.attnum = k)
             FROM pg_constraint WHERE contype = 'f'",
            &[],
        ))
        .expect("foreign keys")
    {
        let (from, to, cols): (String, String, Vec<String>) = (r.get(0), r.get(1), r.get(2));
        match (plan.get(&from), plan.get(&to)) {
            (_, Some(Plan::Reference)) => {}
            (Some(Plan::Distributed { column, .. }), Some(Plan::Distributed { .. }))
                if cols.contains(column) => {}
            other => panic!("foreign key {from} -> {to} {cols:?}: Citus rejects {other:?}"),
        }
    }
}
