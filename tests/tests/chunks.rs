//! Rows travel from extraction to writing in chunks (`rt::sync::CHUNK_ROWS`), extracted on a
//! second thread by default, and are inserted several per statement. A namespace of thousands
//! of rows spans many chunks: the result must not depend on where chunks end, on the number of
//! threads, or on how many parameters the executor binds; a bad value in a late chunk, after
//! earlier chunks were written, must still leave the database as it was.

use kv2sql::MigrateOptions;
use kv2sql_datagen::{generate, Options, Size};
use kv2sql_runtime::{KvEntry, KvSnapshot, SqlRef};
use kv2sql_tests::{all_rows, memory_db, Watched};
use rusqlite::Connection;
use serde_json::{json, Value};

const ITEMS: &str = "roadmap:items";

/// A generated namespace large enough for several chunks (a few hundred items, about 15,000 rows).
fn medium(seed: u64) -> KvSnapshot {
    let snap = KvSnapshot::new(generate(&Options::new(seed, Size::Medium))).expect("unique keys");
    let rows = rows_of(&snap);
    assert!(rows > 3 * kv2sql_runtime::sync::CHUNK_ROWS, "the namespace must span several chunks: {rows} rows");
    snap
}

fn rows_of(snap: &KvSnapshot) -> usize {
    let mut conn = memory_db();
    let report = kv2sql::migrate(&mut conn, snap, true).expect("dry run");
    report.tables.iter().map(|t| t.source_rows).sum()
}

fn items(snap: &KvSnapshot) -> Value {
    serde_json::from_str(&snap.get(ITEMS).expect("items").value).unwrap()
}

fn with_items(snap: &KvSnapshot, f: impl FnOnce(&mut Vec<Value>)) -> KvSnapshot {
    let mut v = items(snap);
    f(v["items"].as_array_mut().unwrap());
    let mut entries: Vec<KvEntry> = snap.entries().iter().filter(|e| e.key != ITEMS).cloned().collect();
    entries.push(KvEntry { key: ITEMS.into(), value: v.to_string(), expiration: None });
    KvSnapshot::new(entries).unwrap()
}

fn one_thread() -> MigrateOptions {
    MigrateOptions { single_thread: true, ..Default::default() }
}

fn assert_exports(conn: &mut Connection, snap: &KvSnapshot) {
    let expected = kv2sql_generated::upgraded(snap).expect("upgrades");
    let diffs = kv2sql::compare(&expected, &kv2sql::export(conn).expect("exports"));
    assert!(diffs.is_empty(), "export differs from the upgraded input: {:#?}", &diffs[..diffs.len().min(5)]);
}

#[test]
fn many_chunks_give_the_same_database_on_one_thread_or_two() {
    let snap = medium(3);
    let mut two = memory_db();
    let mut one = memory_db();
    let r2 = kv2sql::migrate(&mut two, &snap, false).expect("migrates on two threads");
    let r1 = kv2sql::migrate_with(&mut one, &snap, &one_thread()).expect("migrates on one thread");
    assert_eq!(r1.tables, r2.tables);
    assert_eq!(r1.rows_written, r2.rows_written);
    assert_eq!(all_rows(&one), all_rows(&two));
    assert_exports(&mut two, &snap);
    assert_eq!(kv2sql::migrate(&mut two, &snap, false).unwrap().rows_written, Some(0));
    assert_eq!(kv2sql::migrate_with(&mut one, &snap, &one_thread()).unwrap().rows_written, Some(0));
}

#[test]
fn changes_in_every_chunk_are_applied_on_one_thread_or_two() {
    let before = medium(4);
    let after = with_items(&before, |items| {
        let n = items.len();
        items.remove(n - 2); // from the last chunk
        items.remove(1); // from the first
        items[n / 2]["title"] = json!("retitled in the middle");
        items[n / 3]["contributors"] = json!([]);
        let mut new = items[0].clone();
        new["id"] = json!("r_new_at_the_end");
        items.push(new);
        items.swap(0, n / 2);
    });
    let mut two = memory_db();
    let mut one = memory_db();
    kv2sql::migrate(&mut two, &before, false).unwrap();
    kv2sql::migrate(&mut one, &before, false).unwrap();
    let r2 = kv2sql::migrate(&mut two, &after, false).expect("second run, two threads");
    let r1 = kv2sql::migrate_with(&mut one, &after, &one_thread()).expect("second run, one thread");
    assert_eq!(r1.tables, r2.tables);
    let items_report = r2.tables.iter().find(|t| t.table == "items").unwrap();
    assert_eq!((items_report.inserted, items_report.deleted), (1, 2), "{items_report:?}");
    assert!(items_report.updated >= 3, "{items_report:?}");
    assert_eq!(all_rows(&one), all_rows(&two));
    assert_exports(&mut two, &after);
}

#[test]
fn a_bad_value_in_a_late_chunk_writes_nothing() {
    let good = medium(5);
    let n = items(&good)["items"].as_array().unwrap().len();
    let bad = with_items(&good, |items| items[n - 3]["title"] = json!(5));
    for opts in [MigrateOptions::default(), one_thread()] {
        // Into an empty database, and over a migrated one.
        for prior in [None, Some(&good)] {
            let mut conn = memory_db();
            if let Some(prior) = prior {
                kv2sql::migrate(&mut conn, prior, false).unwrap();
            }
            let before = all_rows(&conn);
            let err = kv2sql::migrate_with(&mut conn, &bad, &opts).expect_err("refused");
            assert_eq!(
                err.to_string(),
                format!("roadmap:items /items/{}/title: expected a string, found number 5", n - 3),
                "single_thread: {}",
                opts.single_thread
            );
            assert_eq!(all_rows(&conn), before, "nothing is written");
        }
    }
}

#[test]
fn inserts_bind_no_more_parameters_than_the_executor_allows() {
    let snap = medium(6);
    let mut reference = memory_db();
    kv2sql::migrate(&mut reference, &snap, false).unwrap();
    let mut counts = Vec::new();
    // A Durable Object's limit, the widest table's column count (one item per statement), and
    // the native executor's.
    for max in [100, 39, 999] {
        let mut conn = memory_db();
        let tx = conn.transaction().unwrap();
        let (mut statements, mut widest) = (0, 0);
        {
            // Passes statements to SQLite, binding at most `max` parameters per statement.
            let mut db = Watched::new(&tx, |sql: &str, params: &[SqlRef<'_>]| {
                assert!(params.len() <= max, "{} parameters bound to `{}`", params.len(), &sql[..60.min(sql.len())]);
                statements += 1;
                widest = widest.max(params.len());
                Ok(())
            });
            db.max_params = max;
            kv2sql_generated::migrate(&mut db, &snap, &MigrateOptions::default()).expect("migrates");
        }
        tx.commit().unwrap();
        assert_eq!(all_rows(&conn), all_rows(&reference), "max_params {max}");
        assert!(widest > max / 2, "max_params {max}: the widest statement binds {widest}");
        counts.push((max, statements));
    }
    let rows = rows_of(&snap);
    let statements = |max| counts.iter().find(|(m, _)| *m == max).unwrap().1;
    assert!(statements(999) < statements(100) && statements(100) < statements(39), "{counts:?}");
    assert!(statements(999) * 5 < rows, "several rows per statement: {counts:?} for {rows} rows");
}
