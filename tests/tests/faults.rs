//! Faults: a migration that fails at any write — the first, the very last, any in between —
//! leaves the database exactly as it was, and a re-run converges to the state a clean run
//! reaches. Closing and reopening the database between migrations changes nothing either.

use std::collections::{BTreeMap, BTreeSet};

use kv2sql_runtime::{DbError, Error, KvEntry, KvSnapshot, SqlRef};
use kv2sql_tests::{all_rows, example_dump, memory_db, row_counts, table_rows, Watched};
use rusqlite::Connection;
use serde_json::{json, Value};

const ITEMS: &str = "roadmap:items";
const EVENTS: &str = "roadmap:events";

/// Runs the generated migration in a transaction through an executor that fails its
/// `fail_at`-th write (counting `execute` and `execute_script` calls from 0), like a Durable
/// Object whose storage throws mid-run: returns the result and the number of writes attempted.
/// The transaction commits on success, rolls back on error.
fn run_failing(conn: &mut Connection, kv: &KvSnapshot, fail_at: usize) -> (Result<(), Error>, usize) {
    let tx = conn.transaction().unwrap();
    let mut writes = 0;
    let result = {
        let mut db = Watched::new(&tx, |sql: &str, _: &[SqlRef<'_>]| {
            let n = writes;
            writes += 1;
            if n == fail_at {
                return Err(DbError::Sql {
                    sql: sql.chars().take(80).collect(),
                    message: format!("injected fault at write {n}"),
                });
            }
            Ok(())
        });
        kv2sql_generated::migrate(&mut db, kv, &kv2sql_generated::MigrateOptions::default()).map(|_| ())
    };
    match result {
        Ok(()) => tx.commit().unwrap(),
        Err(_) => tx.rollback().unwrap(),
    }
    (result, writes)
}

fn edit(snap: &KvSnapshot, key: &str, f: impl FnOnce(&mut Value)) -> KvSnapshot {
    let mut v: Value = serde_json::from_str(&snap.get(key).expect("key").value).unwrap();
    f(&mut v);
    let mut entries: Vec<KvEntry> = snap.entries().iter().filter(|e| e.key != key).cloned().collect();
    entries.push(KvEntry { key: key.into(), value: serde_json::to_string(&v).unwrap(), expiration: None });
    KvSnapshot::new(entries).unwrap()
}

fn without(snap: &KvSnapshot, key: &str) -> KvSnapshot {
    KvSnapshot::new(snap.entries().iter().filter(|e| e.key != key).cloned().collect()).unwrap()
}

/// A second dump that changes every kind of row: inserts, updates, deletes and retirements,
/// in every source.
fn changed_dump() -> KvSnapshot {
    let s = example_dump();
    let s = edit(&s, ITEMS, |v| {
        let items = v["items"].as_array_mut().unwrap();
        items.swap(0, 2);
        items.remove(3);
        let mut new = items[1].clone();
        new["id"] = json!("r_00000001");
        new["title"] = json!("A new item");
        items.push(new);
        items[0]["goals"].as_array_mut().unwrap().pop();
        items[1]["contributors"].as_array_mut().unwrap().truncate(1);
        v["writeVersion"] = json!(413);
    });
    let s = edit(&s, EVENTS, |v| {
        let events = v["events"].as_array_mut().unwrap();
        events.truncate(8);
        events.insert(
            0,
            json!({"id": "e_0000beef", "type": "item.updated", "timestamp": "2026-03-01T00:00:00.000Z",
            "agent": null, "itemId": "r_00000001", "itemTitle": "A new item", "data": {}}),
        );
        events[3]["data"] = json!({"changed": true});
    });
    let s = edit(&s, "roadmap:message-archive", |v| {
        v["messages"].as_array_mut().unwrap().remove(1);
    });
    let s = edit(&s, "roadmap:github-map", |v| {
        v["mappings"].as_object_mut().unwrap().shift_remove("cocoa007");
        v["mappings"]["newlogin"] = json!("bc1qnew");
    });
    let s = edit(&s, "roadmap:github-scan", |v| {
        v["repos"]["example-org/signal-network"]["eventFails"] = json!(2);
        v["repos"].as_object_mut().unwrap().shift_remove("example-org/gone-repo");
    });
    let s = edit(&s, "roadmap:mention-scan", |v| {
        v["processedIds"].as_array_mut().unwrap().push(json!("2026-03-01T00:00:00.000Z"));
    });
    without(&s, "roadmap:agent-cache:bc1q7zpy3kpxjzrfctz4en9k2h5sp8nwhctgz54sn5")
}

fn migrated(kv: &[&KvSnapshot]) -> Connection {
    let mut conn = memory_db();
    for s in kv {
        kv2sql::migrate(&mut conn, s, false).unwrap();
    }
    conn
}

/// Fails every write position of `kv` over the state `pre` builds, one at a time.
fn every_write_position_rolls_back(pre: &[&KvSnapshot], kv: &KvSnapshot) -> usize {
    let clean = {
        let mut all = pre.to_vec();
        all.push(kv);
        all_rows(&migrated(&all))
    };
    // Count the writes of a run without a fault.
    let total = {
        let mut conn = migrated(pre);
        let (r, writes) = run_failing(&mut conn, kv, usize::MAX);
        r.unwrap();
        assert_eq!(all_rows(&conn), clean, "the failing executor without a fault is a clean run");
        writes
    };
    assert!(total > 0);
    for fail_at in 0..total {
        let mut conn = migrated(pre);
        let before = all_rows(&conn);
        let (r, _) = run_failing(&mut conn, kv, fail_at);
        let err = r.expect_err("the fault surfaces as an error");
        assert!(err.to_string().contains(&format!("injected fault at write {fail_at}")), "{err}");
        assert_eq!(all_rows(&conn), before, "write {fail_at} of {total}: the rollback restores the pre-state");
        // A re-run without the fault converges to the clean state.
        kv2sql::migrate(&mut conn, kv, false).unwrap();
        assert_eq!(all_rows(&conn), clean, "write {fail_at} of {total}: the re-run converges");
        assert_eq!(kv2sql::migrate(&mut conn, kv, false).unwrap().rows_written, Some(0));
    }
    total
}

#[test]
fn a_fault_at_any_write_of_a_first_migration_rolls_back() {
    // From an empty file: the schema script, the migrations bookkeeping, then every row.
    let total = every_write_position_rolls_back(&[], &example_dump());
    assert!(total > 50, "{total} writes");
}

#[test]
fn a_fault_at_any_write_of_an_incremental_migration_rolls_back() {
    // Over the example: inserts, updates, retirements and deletes in every source.
    let example = example_dump();
    let total = every_write_position_rolls_back(&[&example], &changed_dump());
    assert!(total > 20, "{total} writes");
}

#[test]
fn a_fault_at_the_last_write_through_the_command_line_api_rolls_back() {
    // kv2sql::migrate itself: invalid data in the very last row of the last item's last child
    // is found after the rows before it were written; the transaction rolls them back.
    let mut conn = migrated(&[&example_dump()]);
    let before = all_rows(&conn);
    let bad = edit(&changed_dump(), ITEMS, |v| {
        let last = v["items"].as_array_mut().unwrap().last_mut().unwrap();
        let contributors = last["contributors"].as_array_mut().unwrap();
        contributors.push(json!({"btcAddress": ["not", "a", "string"]}));
    });
    let n = serde_json::from_str::<Value>(&bad.get(ITEMS).unwrap().value).unwrap()["items"].as_array().unwrap().len();
    let err = kv2sql::migrate(&mut conn, &bad, false).unwrap_err();
    match err {
        Error::Data(d) => {
            let last_child = serde_json::from_str::<Value>(&bad.get(ITEMS).unwrap().value).unwrap()["items"][n - 1]
                ["contributors"]
                .as_array()
                .unwrap()
                .len();
            assert_eq!(d.pointer, format!("/items/{}/contributors/{}/btcAddress", n - 1, last_child - 1), "{d}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(all_rows(&conn), before);
}

#[test]
fn a_failing_commit_leaves_the_file_unchanged() {
    // A write lock held by another connection makes the run fail (busy) without a trace.
    let dir = std::env::temp_dir().join(format!("kv2sql-faults-lock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("db.sqlite");
    let mut conn = kv2sql::open_db(&path).unwrap();
    kv2sql::migrate(&mut conn, &example_dump(), false).unwrap();
    let before = all_rows(&conn);
    let locker = Connection::open(&path).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let err = kv2sql::migrate(&mut conn, &changed_dump(), false).unwrap_err();
    assert!(matches!(err, Error::Db(_)), "{err:?}");
    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);
    assert_eq!(all_rows(&conn), before);
    kv2sql::migrate(&mut conn, &changed_dump(), false).unwrap();
    assert_eq!(all_rows(&conn), all_rows(&migrated(&[&example_dump(), &changed_dump()])));
    drop(conn);
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Restart between migrations.

/// An event with a fresh id, newest first.
fn event(n: usize) -> Value {
    json!({"id": format!("e_{n:08x}"), "type": "item.updated", "timestamp": format!("2026-03-{:02}T00:00:{:02}.000Z", 1 + n / 60 % 28, n % 60),
        "agent": null, "itemId": "r_3f9a1c2e", "itemTitle": "AIBTC Projects", "data": {"n": n}})
}

/// A sequence of dumps as v1 would write them over time: items added, removed and reordered;
/// events pushed so that old ones drop out of the 200 cap; keys appearing and disappearing.
fn dump_sequence() -> Vec<KvSnapshot> {
    let mut out = vec![example_dump()];
    let mut next_event = 1usize;
    for step in 0..8 {
        let prev = out.last().unwrap().clone();
        let mut s = edit(&prev, ITEMS, |v| {
            let items = v["items"].as_array_mut().unwrap();
            match step % 4 {
                0 => {
                    let mut new = items[0].clone();
                    new["id"] = json!(format!("r_a000000{step}"));
                    new["title"] = json!(format!("Added at step {step}"));
                    items.push(new);
                }
                1 => items.reverse(),
                2 => {
                    items.remove(1);
                }
                _ => items.rotate_left(1),
            }
            v["writeVersion"] = json!(500 + step);
        });
        s = edit(&s, EVENTS, |v| {
            let events = v["events"].as_array_mut().unwrap();
            for _ in 0..(60 + step * 10) {
                events.insert(0, event(next_event));
                next_event += 1;
            }
            events.truncate(200);
        });
        s = edit(&s, "roadmap:message-archive", |v| {
            let msgs = v["messages"].as_array_mut().unwrap();
            msgs.insert(0, json!({"timestamp": format!("2026-03-0{}T00:00:00.000Z", step + 1), "agent": null, "recipient": null, "messagePreview": format!("m{step}")}));
            msgs.truncate(3);
        });
        if step == 3 {
            s = without(&s, "roadmap:github-map");
        }
        out.push(s);
    }
    out
}

#[test]
fn restarting_between_migrations_converges_to_the_last_dump() {
    let dir = std::env::temp_dir().join(format!("kv2sql-faults-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("db.sqlite");
    let seq = dump_sequence();
    let mut seen_events: BTreeSet<String> = BTreeSet::new();
    let mut seen_messages: BTreeSet<String> = BTreeSet::new();
    for s in &seq {
        let mut conn = kv2sql::open_db(&path).unwrap();
        kv2sql::migrate(&mut conn, s, false).unwrap();
        // A dry run in between changes nothing.
        let rows = all_rows(&conn);
        kv2sql::migrate(&mut conn, &example_dump(), true).unwrap();
        assert_eq!(all_rows(&conn), rows);
        drop(conn);
        let v: Value = serde_json::from_str(&s.get(EVENTS).unwrap().value).unwrap();
        seen_events.extend(v["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()));
        let v: Value = serde_json::from_str(&s.get("roadmap:message-archive").unwrap().value).unwrap();
        seen_messages
            .extend(v["messages"].as_array().unwrap().iter().map(|m| m["timestamp"].as_str().unwrap().to_string()));
    }
    let last = seq.last().unwrap();
    let mut reopened = kv2sql::open_db(&path).unwrap();
    let mut fresh = migrated(&[last]);

    // Exports are identical and equal the upgraded last dump.
    let expected = kv2sql_generated::upgraded(last).unwrap();
    assert_eq!(kv2sql::compare(&expected, &kv2sql::export(&mut reopened).unwrap()), vec![]);
    assert_eq!(kv2sql::export(&mut reopened).unwrap(), kv2sql::export(&mut fresh).unwrap());
    assert_eq!(kv2sql::migrate(&mut reopened, last, false).unwrap().rows_written, Some(0));

    // Mirror tables: identical rows. `on_missing: keep` tables: identical current rows, and the
    // retained history is the union of everything seen.
    let keep = ["events", "message_archive"];
    let tables: Vec<String> = row_counts(&fresh).into_iter().map(|(t, _)| t).collect();
    for t in &tables {
        if t.starts_with("kv2sql") {
            continue;
        }
        if keep.contains(&t.as_str()) {
            let cur = "WHERE position IS NOT NULL";
            assert_eq!(table_rows(&reopened, t, cur), table_rows(&fresh, t, cur), "current rows of {t}");
        } else {
            assert_eq!(table_rows(&reopened, t, ""), table_rows(&fresh, t, ""), "rows of {t}");
        }
    }
    let ids = |conn: &Connection, sql: &str| -> BTreeSet<String> {
        let mut stmt = conn.prepare(sql).unwrap();
        let rows: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect();
        rows.into_iter().collect()
    };
    assert_eq!(ids(&reopened, "SELECT id FROM events"), seen_events);
    assert!(seen_events.len() > 200 + 11, "{} events seen", seen_events.len());
    assert_eq!(ids(&reopened, "SELECT timestamp FROM message_archive"), seen_messages);
    let retired: i64 =
        reopened.query_row("SELECT COUNT(*) FROM events WHERE position IS NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(retired as usize, seen_events.len() - 200);

    // The per-table counts agree with that picture.
    let counts: BTreeMap<String, i64> = row_counts(&reopened).into_iter().collect();
    assert_eq!(counts["events"] as usize, seen_events.len());
    drop(reopened);
    std::fs::remove_dir_all(&dir).unwrap();
}
