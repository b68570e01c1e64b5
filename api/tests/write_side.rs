//! The write side: every write leaves tables that `export` turns back into valid v1 values,
//! carrying the write, and a re-extraction of that export writes nothing.

use kv2sql_api::write::{add_event, create_item, delete_item, edit_item, WriteCx, WriteError, EVENTS_CAP};
use kv2sql_api::{feed, items, FeedQuery};
use kv2sql_runtime::dump::parse_dump;
use kv2sql_runtime::sqlite::Sqlite;
use kv2sql_runtime::KvSnapshot;
use rusqlite::Connection;
use serde_json::{json, Value};

fn v1_dump() -> KvSnapshot {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/v1-dump.json")).unwrap();
    parse_dump(&text, 0).unwrap()
}

fn migrated() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    kv2sql_runtime::sqlite::configure(&conn).unwrap();
    kv2sql::migrate(&mut conn, &v1_dump(), false).unwrap();
    conn
}

fn cx(n: u32) -> WriteCx {
    WriteCx { now: format!("2026-03-01T00:00:{n:02}.000Z"), new_id: format!("{n:08x}") }
}

/// The value of `key` in the export, parsed.
fn exported(conn: &Connection, key: &str) -> Value {
    let snap = kv2sql_generated::export(&mut Sqlite::new(conn)).unwrap();
    serde_json::from_str(&snap.get(key).unwrap().value).unwrap()
}

fn v1_value(key: &str) -> Value {
    serde_json::from_str(&kv2sql_generated::upgraded(&v1_dump()).unwrap().get(key).unwrap().value).unwrap()
}

fn agent() -> Value {
    json!({"btcAddress": "bc1qtestagent", "displayName": "Test Agent", "agentId": 0})
}

/// A migration of the export into a fresh database writes the same rows: the export is a
/// valid v1 value that round-trips.
fn assert_export_round_trips(conn: &Connection) {
    let snap = kv2sql_generated::export(&mut Sqlite::new(conn)).unwrap();
    let mut fresh = Connection::open_in_memory().unwrap();
    kv2sql_runtime::sqlite::configure(&fresh).unwrap();
    kv2sql::migrate(&mut fresh, &snap, false).unwrap();
    assert_eq!(kv2sql_generated::export(&mut Sqlite::new(&fresh)).unwrap(), snap);
}

#[test]
fn create_appends_a_v1_item_and_bumps_write_version() {
    let conn = migrated();
    let mut db = Sqlite::new(&conn);
    let body = json!({"title": "  New thing ", "description": "d", "githubUrl": "", "agent": agent()});
    let changes = conn.total_changes();
    let item = create_item(&mut db, &body, &cx(1)).unwrap();
    // Each data row once, and once more in the divergence guard's log (its triggers count too).
    assert_eq!(conn.total_changes() - changes, 2 * 3, "the item's row, its contributor's and the envelope's");
    assert_eq!(guard_log(&conn), 3, "v2's writes are logged as writes outside a migration");
    assert_eq!(item["id"], "r_00000001");
    let doc = exported(&conn, "roadmap:items");
    let before = v1_value("roadmap:items");
    assert_eq!(doc["writeVersion"], before["writeVersion"].as_i64().unwrap() + 1);
    assert_eq!(doc["updatedAt"], "2026-03-01T00:00:01.000Z");
    let list = doc["items"].as_array().unwrap();
    assert_eq!(list.len(), before["items"].as_array().unwrap().len() + 1);
    let last = list.last().unwrap();
    assert_eq!(last, &item);
    assert_eq!(last["title"], "New thing");
    assert_eq!(last["founder"]["profileUrl"], "https://aibtc.com/agents/bc1qtestagent");
    assert_eq!(last["founder"]["agentId"], 0);
    assert_eq!(last["leader"]["assignedAt"], "2026-03-01T00:00:01.000Z");
    assert_eq!(last["contributors"], json!([agent()]));
    assert_eq!(last["status"], "todo");
    assert_eq!(last["reputation"], json!({"average": 0, "count": 0}));
    // Every item v1 had is unchanged.
    assert_eq!(&list[..list.len() - 1], before["items"].as_array().unwrap().as_slice());
    assert_export_round_trips(&conn);
}

#[test]
fn edit_changes_only_the_given_fields() {
    let conn = migrated();
    let mut db = Sqlite::new(&conn);
    let edited = edit_item(&mut db, &json!({"id": "r_b84d02f6", "title": "Edited in v2"}), &cx(2)).unwrap();
    assert_eq!(edited["title"], "Edited in v2");
    let doc = exported(&conn, "roadmap:items");
    let before = v1_value("roadmap:items");
    for (i, (now, was)) in doc["items"].as_array().unwrap().iter().zip(before["items"].as_array().unwrap()).enumerate()
    {
        if now["id"] == "r_b84d02f6" {
            let mut expected = was.clone();
            expected["title"] = json!("Edited in v2");
            expected["updatedAt"] = json!("2026-03-01T00:00:02.000Z");
            assert_eq!(now, &expected, "item {i}");
        } else {
            assert_eq!(now, was, "item {i}");
        }
    }
    assert_export_round_trips(&conn);
}

#[test]
fn delete_removes_the_item_and_its_children() {
    let conn = migrated();
    let mut db = Sqlite::new(&conn);
    delete_item(&mut db, &json!({"id": "r_3f9a1c2e"}), &cx(3)).unwrap();
    // A create after the delete goes last, after the items that moved up.
    create_item(&mut db, &json!({"title": "After", "agent": agent()}), &cx(4)).unwrap();
    let ids: Vec<String> =
        items(&mut db).unwrap()["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().into()).collect();
    assert_eq!(ids, ["r_b84d02f6", "r_c0ffee42", "r_9d8e7f60", "r_00000004"]);
    for table in ["contributors", "deliverables", "ratings", "goals"] {
        let n: i64 = conn
            .query_row(&format!("SELECT count(*) FROM \"{table}\" WHERE item_id = 'r_3f9a1c2e'"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0, "{table}");
    }
    assert_export_round_trips(&conn);
}

#[test]
fn add_event_goes_first_in_v1_format() {
    let conn = migrated();
    let mut db = Sqlite::new(&conn);
    let body = json!({"type": "item.updated", "agent": agent(), "itemId": "r_b84d02f6", "itemTitle": "", "data": null});
    let event = add_event(&mut db, &body, &cx(4)).unwrap();
    let expected = json!({"id": "e_00000004", "type": "item.updated", "timestamp": "2026-03-01T00:00:04.000Z",
        "agent": agent(), "itemId": "r_b84d02f6", "itemTitle": null, "data": {}});
    assert_eq!(event, expected);
    let doc = exported(&conn, "roadmap:events");
    let before = v1_value("roadmap:events");
    assert_eq!(doc["events"][0], expected);
    assert_eq!(doc["events"].as_array().unwrap()[1..], before["events"].as_array().unwrap()[..]);
    assert_eq!(feed(&mut db, &FeedQuery::default()).unwrap()["events"][0], expected);
    assert_export_round_trips(&conn);
}

#[test]
fn the_events_blob_keeps_200_and_the_feed_keeps_all() {
    let conn = migrated();
    let mut db = Sqlite::new(&conn);
    let start = v1_value("roadmap:events")["events"].as_array().unwrap().len();
    let adds = EVENTS_CAP + 5 - start;
    for n in 0..adds {
        let c = WriteCx { now: format!("2026-04-01T00:00:00.{n:03}Z"), new_id: format!("{:08x}", 0x1000 + n) };
        add_event(&mut db, &json!({"type": "item.updated"}), &c).unwrap();
    }
    let doc = exported(&conn, "roadmap:events");
    assert_eq!(doc["events"].as_array().unwrap().len(), EVENTS_CAP);
    assert_eq!(doc["events"][0]["id"], format!("e_{:08x}", 0x1000 + adds - 1));
    let all: i64 = conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap();
    assert_eq!(all as usize, EVENTS_CAP + 5);
    assert_export_round_trips(&conn);
}

#[test]
fn writes_into_an_empty_database_create_the_blobs() {
    let conn = Connection::open_in_memory().unwrap();
    kv2sql_runtime::sqlite::configure(&conn).unwrap();
    let mut db = Sqlite::new(&conn);
    kv2sql_generated::apply_schema(&mut db).unwrap();
    create_item(&mut db, &json!({"title": "First", "agent": agent()}), &cx(5)).unwrap();
    add_event(&mut db, &json!({"type": "item.created", "itemId": "r_00000005"}), &cx(6)).unwrap();
    let doc = exported(&conn, "roadmap:items");
    assert_eq!(doc["version"], 10);
    assert_eq!(doc["writeVersion"], 1);
    assert_eq!(doc["items"][0]["id"], "r_00000005");
    assert_eq!(exported(&conn, "roadmap:events")["events"][0]["itemId"], "r_00000005");
}

#[test]
fn refused_writes_say_why_and_change_nothing() {
    let conn = migrated();
    let before = kv2sql_generated::export(&mut Sqlite::new(&conn)).unwrap();
    let mut db = Sqlite::new(&conn);
    let cases: Vec<(WriteError, u16, &str)> = vec![
        (create_item(&mut db, &json!({"title": "", "agent": agent()}), &cx(7)).unwrap_err(), 400, "/title"),
        (create_item(&mut db, &json!({"title": "x"}), &cx(7)).unwrap_err(), 400, "/agent"),
        (
            create_item(&mut db, &json!({"title": "x", "agent": {"btcAddress": "b"}}), &cx(7)).unwrap_err(),
            400,
            "/agent/displayName",
        ),
        (
            create_item(&mut db, &json!({"title": "x", "agent": agent(), "colour": 1}), &cx(7)).unwrap_err(),
            400,
            "colour",
        ),
        (
            create_item(&mut db, &json!({"title": "x", "agent": agent(), "githubData": 3}), &cx(7)).unwrap_err(),
            400,
            "/githubData",
        ),
        (
            create_item(
                &mut db,
                &json!({"title": "x", "agent": agent()}),
                &WriteCx { now: "t".into(), new_id: "3f9a1c2e".into() },
            )
            .unwrap_err(),
            409,
            "r_3f9a1c2e",
        ),
        (edit_item(&mut db, &json!({"id": "r_nope", "title": "x"}), &cx(7)).unwrap_err(), 404, "r_nope"),
        (edit_item(&mut db, &json!({"id": "r_b84d02f6"}), &cx(7)).unwrap_err(), 400, "nothing to edit"),
        (edit_item(&mut db, &json!({"id": "r_b84d02f6", "title": 5}), &cx(7)).unwrap_err(), 400, "/title"),
        (delete_item(&mut db, &json!({"id": "r_nope"}), &cx(7)).unwrap_err(), 404, "r_nope"),
        (delete_item(&mut db, &json!(["r_b84d02f6"]), &cx(7)).unwrap_err(), 400, "a JSON object"),
        (add_event(&mut db, &json!({"type": ""}), &cx(7)).unwrap_err(), 400, "/type"),
        (add_event(&mut db, &json!({"type": "x", "data": []}), &cx(7)).unwrap_err(), 400, "/data"),
        (add_event(&mut db, &json!({"type": "x", "itemId": 3}), &cx(7)).unwrap_err(), 400, "/itemId"),
    ];
    for (i, (err, status, needle)) in cases.iter().enumerate() {
        assert_eq!(err.status(), *status, "case {i}: {err:?}");
        let msg = err.to_json()["message"].as_str().unwrap().to_string();
        assert!(msg.contains(needle), "case {i}: {msg}");
    }
    assert_eq!(kv2sql_generated::export(&mut Sqlite::new(&conn)).unwrap(), before);
}

#[test]
fn an_event_id_already_retired_is_refused() {
    let conn = migrated();
    let mut db = Sqlite::new(&conn);
    let id = v1_value("roadmap:events")["events"][0]["id"].as_str().unwrap().to_string();
    conn.execute("UPDATE events SET position = NULL WHERE id = ?1", [&id]).unwrap();
    let c = WriteCx { now: "2026-03-01T00:00:00.000Z".into(), new_id: id.trim_start_matches("e_").into() };
    assert_eq!(add_event(&mut db, &json!({"type": "x"}), &c).unwrap_err().status(), 409);
}

#[test]
fn an_edit_of_every_field_writes_two_rows_and_exports_as_v1() {
    let conn = migrated();
    let mut db = Sqlite::new(&conn);
    let gd = json!({"type": "issue", "number": 7, "title": "t", "state": "closed", "merged": false,
        "assignees": [], "labels": ["x"], "fetchedAt": "2026-03-01T00:00:00.000Z"});
    let body = json!({"id": "r_c0ffee42", "title": " T ", "description": "D", "githubUrl": "https://github.com/a/b/issues/7", "githubData": gd});
    let changes = conn.total_changes();
    let edited = edit_item(&mut db, &body, &cx(8)).unwrap();
    assert_eq!(conn.total_changes() - changes, 2 * 2, "the item's row and the envelope's (and their log rows)");
    assert_eq!(guard_log(&conn), 2, "v2's writes are logged as writes outside a migration");
    assert_eq!(
        edited,
        json!({"id": "r_c0ffee42", "title": "T", "description": "D", "githubUrl": "https://github.com/a/b/issues/7",
            "githubData": gd, "updatedAt": "2026-03-01T00:00:08.000Z"})
    );
    let doc = exported(&conn, "roadmap:items");
    let item = doc["items"].as_array().unwrap().iter().find(|i| i["id"] == "r_c0ffee42").unwrap().clone();
    let mut expected = v1_value("roadmap:items")["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "r_c0ffee42")
        .unwrap()
        .clone();
    for (k, v) in edited.as_object().unwrap() {
        expected[k] = v.clone();
    }
    assert_eq!(item, expected);
    assert_eq!(doc["updatedAt"], "2026-03-01T00:00:08.000Z");
    edit_item(&mut db, &json!({"id": "r_c0ffee42", "githubData": null}), &cx(9)).unwrap();
    let doc = exported(&conn, "roadmap:items");
    assert_eq!(
        doc["items"].as_array().unwrap().iter().find(|i| i["id"] == "r_c0ffee42").unwrap()["githubData"],
        Value::Null
    );
    assert_eq!(doc["writeVersion"], v1_value("roadmap:items")["writeVersion"].as_i64().unwrap() + 2);
    assert_export_round_trips(&conn);
}

/// Rows the divergence guard logged as written outside a migration.
fn guard_log(conn: &rusqlite::Connection) -> i64 {
    conn.query_row("SELECT COUNT(*) FROM kv2sql_changes", [], |r| r.get(0)).unwrap()
}
