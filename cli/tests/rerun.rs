//! A re-run of unchanged data skips the migration; anything that could make its result differ
//! (a changed value, a divergence, a pending schema migration, `--full`, `--force`, a dry run,
//! a database from before per-source digests were recorded) makes it compare again.

use std::path::PathBuf;

use kv2sql::MigrateOptions;
use kv2sql_runtime::{KvEntry, KvSnapshot, Report};
use rusqlite::Connection;

fn dump() -> KvSnapshot {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/v1-dump.json");
    kv2sql::read_dump(&path).unwrap()
}

/// The dump with one digit changed: agent 5 becomes agent 6 in one agent-cache entry.
fn one_digit_changed() -> KvSnapshot {
    let entries: Vec<KvEntry> = dump()
        .entries()
        .iter()
        .cloned()
        .map(|mut e| {
            if e.key.starts_with("roadmap:agent-cache:") && e.value.contains("\"agentId\":5}") {
                e.value = e.value.replace("\"agentId\":5}", "\"agentId\":6}");
            }
            e
        })
        .collect();
    let changed = KvSnapshot::new(entries).unwrap();
    assert_ne!(changed, dump(), "the fixture must hold agent 5");
    changed
}

fn run(conn: &mut Connection, kv: &KvSnapshot, force: bool, full: bool, dry_run: bool) -> Report {
    let opts = MigrateOptions { dry_run, ..Default::default() };
    kv2sql::migrate_run(conn, kv, &opts, force, full).unwrap()
}

fn migrated() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    let first = run(&mut conn, &dump(), false, false, false);
    assert!(first.skipped.is_empty(), "a first run never skips");
    assert!(first.rows_written.unwrap() > 0);
    conn
}

fn agent_ids(conn: &Connection) -> Vec<Option<i64>> {
    let mut stmt = conn.prepare("SELECT agent_id FROM agent_cache ORDER BY 1").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect()
}

#[test]
fn an_unchanged_rerun_skips_every_source_and_writes_nothing() {
    let mut conn = migrated();
    let changes = conn.total_changes();
    let r = run(&mut conn, &dump(), false, false, false);
    assert_eq!(r.skipped.len(), kv2sql_generated::KV_SOURCES.len(), "{r:?}");
    assert_eq!(r.rows_written, Some(0));
    assert!(r.tables.is_empty(), "no table was read: {r:?}");
    assert_eq!(conn.total_changes(), changes, "a skipped run writes nothing, not even bookkeeping");
    assert!(r.render_text().contains("unchanged since the last migration, skipped"));
}

#[test]
fn one_changed_digit_is_found_and_lands() {
    let mut conn = migrated();
    assert!(agent_ids(&conn).contains(&Some(5)));
    let r = run(&mut conn, &one_digit_changed(), false, false, false);
    assert!(r.skipped.is_empty(), "{r:?}");
    assert_eq!(r.rows_changed(), 1, "{r:?}");
    assert!(agent_ids(&conn).contains(&Some(6)) && !agent_ids(&conn).contains(&Some(5)));
    let again = run(&mut conn, &one_digit_changed(), false, false, false);
    assert!(!again.skipped.is_empty(), "the changed data is recorded: the next run skips");
}

#[test]
fn full_force_and_dry_run_never_skip() {
    let mut conn = migrated();
    for (force, full, dry_run) in [(false, true, false), (true, false, false), (false, false, true)] {
        let r = run(&mut conn, &dump(), force, full, dry_run);
        assert!(r.skipped.is_empty(), "force {force} full {full} dry run {dry_run}: {r:?}");
        assert!(!r.tables.is_empty(), "every table was compared");
        assert_eq!(r.rows_changed(), 0);
    }
}

#[test]
fn a_divergence_blocks_skipping_and_the_guard_still_refuses() {
    let mut conn = migrated();
    conn.execute("UPDATE agent_cache SET display_name = 'edited elsewhere'", []).unwrap();
    let opts = MigrateOptions::default();
    let err = kv2sql::migrate_run(&mut conn, &dump(), &opts, false, false).unwrap_err();
    assert!(err.to_string().contains("agent_cache"), "{err}");
}

#[test]
fn a_pending_schema_migration_prevents_skipping() {
    let conn = migrated();
    let last = kv2sql_generated::MIGRATIONS.iter().map(|m| m.version).max().unwrap();
    conn.execute("DELETE FROM kv2sql_migrations WHERE version = ?1", [last]).unwrap();
    let unchanged = kv2sql_runtime::lifecycle::unchanged(
        &mut kv2sql_runtime::sqlite::Sqlite::new(&conn),
        &kv2sql::source_digests(&dump()),
        kv2sql_generated::TABLES,
        kv2sql_generated::MIGRATIONS,
    )
    .unwrap();
    assert!(!unchanged, "a pending schema migration must prevent skipping");
}

#[test]
fn a_database_from_before_per_source_digests_runs_fully_once_then_skips() {
    let mut conn = migrated();
    // The bookkeeping table as the previous release created it: no per-source digests.
    conn.execute_batch("ALTER TABLE kv2sql_lifecycle DROP COLUMN source_digests;").unwrap();
    let r = run(&mut conn, &dump(), false, false, false);
    assert!(r.skipped.is_empty() && !r.tables.is_empty(), "{r:?}");
    assert_eq!(r.rows_changed(), 0);
    let again = run(&mut conn, &dump(), false, false, false);
    assert_eq!(again.skipped.len(), kv2sql_generated::KV_SOURCES.len(), "{again:?}");
}

#[test]
fn a_table_that_lost_its_guard_triggers_is_not_skipped() {
    let mut conn = migrated();
    conn.execute_batch("DROP TRIGGER kv2sql_guard_agent_cache_update;").unwrap();
    let r = run(&mut conn, &dump(), false, false, false);
    assert!(r.skipped.is_empty(), "{r:?}");
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM sqlite_master WHERE name = 'kv2sql_guard_agent_cache_update'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(n, 1, "the full run re-created the trigger");
    assert!(!run(&mut conn, &dump(), false, false, false).skipped.is_empty());
}
