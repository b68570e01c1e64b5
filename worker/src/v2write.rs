//! `POST /api/_v2write?op=edit|insert|delete`: writes to the Durable Object's SQLite the way
//! the v2 app would (outside any migration), so that the end-to-end tests can prove the
//! divergence guard. Enabled only when the var `KV2SQL_SELFTEST` is `"1"` (the end-to-end tests
//! set it) and, like every admin route, behind the admin key. Values are bound, never spliced.

use kv2sql_generated::items_doc::ItemsRow;
use kv2sql_runtime::sync::Row;
use kv2sql_runtime::{Error, SqlExecutor};
use serde_json::{json, Value};

use crate::dosql::{DoSql, DoStorage};

/// One write: `edit` retitles the first item, `insert` creates an item KV does not have (a copy
/// of the first with a new id and position), `delete` deletes one search term.
pub fn write(storage: &DoStorage, op: &str) -> Result<Value, Error> {
    let mut db = DoSql::new(storage);
    match op {
        "edit" => db.execute(
            "UPDATE items SET title = ?1 WHERE position = 0",
            &[kv2sql_runtime::SqlRef::Text("edited in v2")],
        )?,
        "insert" => {
            let first = db.query(&format!("{} WHERE position = 0", ItemsRow::SELECT), &[])?;
            let Some(values) = first.into_iter().next() else {
                return Err(Error::Lifecycle("no item to copy: migrate first".into()));
            };
            let mut row = ItemsRow::from_row(values)?;
            row.position = 1000;
            row.id = "created-in-v2".into();
            row.title = "created in v2".into();
            db.execute(ItemsRow::INSERT, &row.params())?;
        }
        "delete" => db.execute("DELETE FROM search_terms WHERE rowid = (SELECT MIN(rowid) FROM search_terms)", &[])?,
        other => return Err(Error::Lifecycle(format!("op {other:?}: expected edit, insert or delete"))),
    }
    Ok(json!({ "ok": true, "op": op, "rows_written": db.rows_written() }))
}
