//! What one v2 write (`kv2sql_api::write`) costs on a big namespace: prints the time and the rows
//! SQLite wrote (data rows plus the divergence guard's log rows) of one write of each kind. Run:
//!
//! ```sh
//! cargo run --release -p kv2sql-datagen --bin kv2sql-datagen -- --seed 1 --size large > /tmp/large.json
//! cargo run --release -p kv2sql-bench --bin kv2sql-write-cost -- /tmp/large.json
//! ```

use std::time::Instant;

use kv2sql_api::write::{add_event, create_item, delete_item, edit_item, WriteCx};
use kv2sql_runtime::dump::parse_dump;
use kv2sql_runtime::sqlite::Sqlite;
use rusqlite::Connection;
use serde_json::{json, Value};

fn items_of(conn: &Connection) -> Vec<Value> {
    let doc = kv2sql_api::items(&mut Sqlite::new(conn)).unwrap();
    doc["items"].as_array().unwrap().clone()
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let path = std::env::args().nth(1).expect("usage: kv2sql-write-cost DUMP (a wrangler kv bulk dump)");
    let snap = parse_dump(&std::fs::read_to_string(&path).unwrap(), 0).unwrap();
    let mut conn = Connection::open_in_memory().unwrap();
    kv2sql_runtime::sqlite::configure(&conn).unwrap();
    kv2sql::migrate(&mut conn, &snap, false).unwrap();
    let list = items_of(&conn);
    let (first, middle) = (list[0]["id"].as_str().unwrap().to_string(), list[list.len() / 2]["id"].as_str().unwrap());
    let middle = middle.to_string();
    println!("{path}: {} items", list.len());
    let cx = |n: u32| WriteCx { now: format!("2030-01-01T00:00:{n:02}.000Z"), new_id: format!("{:08x}", 0xabc00 + n) };
    let agent = json!({"btcAddress": "bc1qmeasure", "displayName": "Measure"});
    type Op = Box<dyn Fn(&mut Sqlite<'_>, u32) -> Value>;
    let ops: Vec<(&str, Op)> = vec![
        ("edit", Box::new(move |db, n| edit_item(db, &json!({"id": first, "title": "edited"}), &cx(n)).unwrap())),
        ("create", Box::new(move |db, n| create_item(db, &json!({"title": "new", "agent": agent}), &cx(n)).unwrap())),
        ("delete (middle item)", Box::new(move |db, n| delete_item(db, &json!({"id": middle}), &cx(n)).unwrap())),
        ("add event", Box::new(move |db, n| add_event(db, &json!({"type": "item.updated"}), &cx(n)).unwrap())),
    ];
    for (n, (name, op)) in ops.iter().enumerate() {
        let tx = conn.transaction().unwrap();
        let changes_before = tx.total_changes();
        let start = Instant::now();
        op(&mut Sqlite::new(&tx), n as u32);
        let elapsed = start.elapsed();
        let rows = tx.total_changes() - changes_before;
        tx.commit().unwrap();
        println!("{name}: {:.1} ms, {rows} rows written", elapsed.as_secs_f64() * 1000.0);
    }
    let after = items_of(&conn);
    // The writes took effect (a measurement of writes that did nothing would mean nothing).
    assert_eq!(after.len(), list.len());
    assert_eq!(after[0]["title"], "edited");
    assert_eq!(after.last().unwrap()["title"], "new");
}
