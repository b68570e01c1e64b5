//! The read side against a database migrated from the fixtures.

use kv2sql_api::{agent_cache_get, feed, feed_sql, items, FeedQuery};
use kv2sql_runtime::dump::parse_dump;
use kv2sql_runtime::sqlite::Sqlite;
use rusqlite::Connection;
use serde_json::Value;

fn migrated() -> Connection {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/v1-dump.json")).unwrap();
    let snap = parse_dump(&text, 0).unwrap();
    let mut conn = Connection::open_in_memory().unwrap();
    kv2sql_runtime::sqlite::configure(&conn).unwrap();
    kv2sql::migrate(&mut conn, &snap, false).unwrap();
    conn
}

#[test]
fn items_keep_display_order_and_derive_status() {
    let conn = migrated();
    let v = items(&mut Sqlite::new(&conn)).unwrap();
    let list = v["items"].as_array().unwrap();
    let ids: Vec<&str> = list.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["r_3f9a1c2e", "r_b84d02f6", "r_c0ffee42", "r_9d8e7f60"]);
    let status: Vec<&str> = list.iter().map(|i| i["status"].as_str().unwrap()).collect();
    // repo active → in-progress; the stored "shipped" of the closed issue → done; no type → todo.
    assert_eq!(status[0], "in-progress");
    assert_eq!(status[2], "done");
    assert_eq!(status[3], "todo");
    assert_eq!(v["writeVersion"], 412);
}

#[test]
fn feed_filters_and_orders_newest_first() {
    let conn = migrated();
    let mut db = Sqlite::new(&conn);
    let all = feed(&mut db, &FeedQuery::default()).unwrap();
    let ts: Vec<&str> = all["events"].as_array().unwrap().iter().map(|e| e["timestamp"].as_str().unwrap()).collect();
    assert_eq!(ts.len(), 11);
    assert!(ts.windows(2).all(|w| w[0] >= w[1]), "{ts:?}");

    let q = FeedQuery { event_type: Some("item.mentioned".into()), ..Default::default() };
    let m = feed(&mut db, &q).unwrap();
    assert_eq!(m["events"].as_array().unwrap().len(), 2);
    assert!(m["events"].as_array().unwrap().iter().all(|e| e["type"] == "item.mentioned"));

    let q = FeedQuery { item_id: Some("r_c0ffee42".into()), limit: Some(1), ..Default::default() };
    let one = feed(&mut db, &q).unwrap();
    assert_eq!(one["events"].as_array().unwrap().len(), 1);
    assert_eq!(one["events"][0]["id"], "e_a3c9017e");

    let q = FeedQuery { item_id: Some("r_3f9a1c2e".into()), event_type: Some("item.rated".into()), limit: None };
    let rated = feed(&mut db, &q).unwrap();
    assert_eq!(rated["events"][0]["data"]["newAverage"], serde_json::json!(4.5));
}

#[test]
fn feed_queries_use_the_indexes() {
    let conn = migrated();
    let cases = [
        (FeedQuery::default(), "events_newest"),
        (FeedQuery { event_type: Some("x".into()), ..Default::default() }, "events_by_type"),
        (FeedQuery { item_id: Some("x".into()), ..Default::default() }, "events_by_item"),
        (FeedQuery { item_id: Some("x".into()), event_type: Some("y".into()), limit: None }, "events_by_"),
    ];
    for (q, index) in cases {
        let (sql, params) = feed_sql(&q);
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let params: Vec<rusqlite::types::Value> = params
            .iter()
            .map(|p| match p {
                kv2sql_runtime::SqlValue::Integer(i) => rusqlite::types::Value::Integer(*i),
                kv2sql_runtime::SqlValue::Text(t) => rusqlite::types::Value::Text(t.clone()),
                _ => rusqlite::types::Value::Null,
            })
            .collect();
        let plan: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(params), |r| r.get::<_, String>(3))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        let text = plan.join(" | ");
        assert!(text.contains(index), "{q:?}: {text}");
        assert!(!text.contains("SCAN events") || text.contains("USING INDEX"), "{q:?} scans the table: {text}");
        assert!(!text.contains("TEMP B-TREE"), "{q:?} sorts in a temporary b-tree: {text}");
    }
}

#[test]
fn agent_cache_entries_expire_at_read_time() {
    let conn = migrated();
    let mut db = Sqlite::new(&conn);
    let addr = "bc1qqaxq5vxszt0lzmr9gskv4lcx7jzrg772s4vxpp";
    let live = agent_cache_get(&mut db, addr, 2_099_999_999).unwrap().expect("live before expiry");
    assert_eq!(live["displayName"], "Secret Mars");
    assert_eq!(live["agentId"], 5);
    assert_eq!(agent_cache_get(&mut db, addr, 2_100_000_000).unwrap(), None, "expired at its expiration");
    assert_eq!(agent_cache_get(&mut db, "nobody", 0).unwrap(), None);
    let b = agent_cache_get(&mut db, "bc1q7zpy3kpxjzrfctz4en9k2h5sp8nwhctgz54sn5", 0).unwrap().unwrap();
    assert_eq!(b["agentId"], Value::Null);
    assert!(b.get("stxAddress").is_none(), "shape (b) has no stxAddress");
}

#[test]
fn items_of_an_empty_database_are_v1s_default_after_its_upgrade() {
    let conn = Connection::open_in_memory().unwrap();
    kv2sql_runtime::sqlite::configure(&conn).unwrap();
    let mut db = Sqlite::new(&conn);
    kv2sql_generated::apply_schema(&mut db).unwrap();
    assert_eq!(items(&mut db).unwrap(), serde_json::json!({"version": 10, "items": [], "writeVersion": 0}));
}
