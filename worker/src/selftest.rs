//! `POST /api/_selftest`: checks [`DoSql`] against the real Durable Object SQLite, in a
//! transaction that is always rolled back. Enabled only when the var `KV2SQL_SELFTEST` is `"1"`
//! (the end-to-end tests set it) and, like every admin route, behind the admin key.

use kv2sql_runtime::{DbError, SqlExecutor, SqlRef, SqlValue};
use serde_json::{json, Value};

use crate::dosql::{transaction_sync, DoSql, DoStorage, TxError};

const I53: i64 = 1 << 53;

fn show(v: &SqlValue) -> Value {
    match v {
        SqlValue::Null => json!({"null": null}),
        SqlValue::Integer(i) => json!({ "integer": i.to_string() }),
        SqlValue::Real(f) => json!({ "real": format!("{f:?}") }),
        SqlValue::Text(s) => json!({ "text": s }),
    }
}

fn run(db: &mut DoSql) -> Result<Value, DbError> {
    let mut checks = Vec::new();
    let mut check =
        |name: &str, ok: bool, detail: Value| checks.push(json!({"name": name, "ok": ok, "detail": detail}));

    db.execute_script(
        "CREATE TABLE kv2sql_selftest (id INTEGER PRIMARY KEY, v ANY) STRICT;\n\
         CREATE INDEX kv2sql_selftest_v ON kv2sql_selftest (v);",
    )?;
    let values = vec![
        SqlValue::Integer(0),
        SqlValue::Integer(-1),
        SqlValue::Integer(I53),
        SqlValue::Integer(-I53),
        SqlValue::Integer(I53 + 1),
        SqlValue::Integer(-I53 - 1),
        SqlValue::Integer(i64::MAX),
        SqlValue::Integer(i64::MIN),
        SqlValue::Real(4.0),
        SqlValue::Real(4.5),
        SqlValue::Real(0.1),
        SqlValue::Real(1e300),
        SqlValue::Real(9007199254740993.0),
        SqlValue::Text(String::new()),
        SqlValue::Text("123".into()),
        SqlValue::Text("é ✓ 𝄞 \"'?".into()),
        SqlValue::Null,
    ];
    for (i, v) in values.iter().enumerate() {
        db.execute("INSERT INTO kv2sql_selftest (id, v) VALUES (?1, ?2)", &[SqlRef::Integer(i as i64), v.as_ref()])?;
    }
    let count = db.query("SELECT COUNT(*) FROM kv2sql_selftest", &[])?;
    check(
        "every insert wrote a row",
        count.first().and_then(|r| r.first()) == Some(&SqlValue::Integer(values.len() as i64)),
        json!(show(&count[0][0])),
    );

    let rows = db.query("SELECT v, typeof(v) FROM kv2sql_selftest ORDER BY id", &[])?;
    for (v, row) in values.iter().zip(&rows) {
        let same = match (v, &row[0]) {
            (SqlValue::Real(a), SqlValue::Real(b)) => a.to_bits() == b.to_bits(),
            (a, b) => a == b,
        };
        check("round trip", same, json!({"wrote": show(v), "read": show(&row[0]), "sqlite_type": show(&row[1])}));
    }

    // Bound integers beyond 2^53 in WHERE clauses, and a repeated numbered parameter.
    let r = db.query(
        "SELECT id FROM kv2sql_selftest WHERE v = ?1 OR v = ?2 OR id = ?3 ORDER BY id",
        &[SqlRef::Integer(i64::MAX), SqlRef::Integer(-I53 - 1), SqlRef::Integer(-100)],
    )?;
    check(
        "wide integers bound in WHERE",
        r == vec![vec![SqlValue::Integer(5)], vec![SqlValue::Integer(6)]],
        json!(r.iter().map(|r| show(&r[0])).collect::<Vec<_>>()),
    );
    let r = db.query("SELECT ?1 + 0, ?1 = ?1, ?2", &[SqlRef::Integer(i64::MAX - 1), SqlRef::Text("?1")])?;
    check(
        "wide integer as expression",
        r == vec![vec![SqlValue::Integer(i64::MAX - 1), SqlValue::Integer(1), SqlValue::Text("?1".into())]],
        json!(r[0].iter().map(show).collect::<Vec<_>>()),
    );

    let r = db.query("SELECT ?, typeof(?), ?", &[SqlRef::Integer(7), SqlRef::Integer(8), SqlRef::Real(2.0)])?;
    check(
        "bare ? placeholders with integers",
        r == vec![vec![SqlValue::Integer(7), SqlValue::Text("integer".into()), SqlValue::Real(2.0)]],
        json!(r[0].iter().map(show).collect::<Vec<_>>()),
    );

    // Nested WITH, ORDER BY kept, duplicate column names, trailing semicolon.
    let r = db.query(
        "WITH x AS (SELECT id, v FROM kv2sql_selftest WHERE id < ?1) SELECT x.id, y.id, x.v FROM x JOIN x AS y ON y.id = x.id ORDER BY x.id DESC;",
        &[SqlRef::Integer(3)],
    )?;
    let ids: Vec<Value> = r.iter().map(|r| show(&r[1])).collect();
    check(
        "nested WITH, order, duplicate names",
        r.len() == 3 && r[0][0] == SqlValue::Integer(2) && r[2][2] == SqlValue::Integer(0),
        json!(ids),
    );
    let r = db.query("SELECT count(*), max(id) FROM kv2sql_selftest WHERE id > ?1", &[SqlRef::Integer(1000)])?;
    check(
        "aggregate over no rows",
        r == vec![vec![SqlValue::Integer(0), SqlValue::Null]],
        json!(r[0].iter().map(show).collect::<Vec<_>>()),
    );

    // A multi-statement script without bindings.
    db.execute_script("UPDATE kv2sql_selftest SET v = 1 WHERE id = 0; UPDATE kv2sql_selftest SET v = 2 WHERE id = 1;")?;
    let r = db.query("SELECT v FROM kv2sql_selftest WHERE id IN (0, 1) ORDER BY id", &[])?;
    check(
        "script runs every statement",
        r == vec![vec![SqlValue::Integer(1)], vec![SqlValue::Integer(2)]],
        json!(r.len()),
    );

    // Errors name the statement.
    let e = db.execute("INSERT INTO kv2sql_selftest (id, v) VALUES (?1, ?2)", &[SqlRef::Integer(0), SqlRef::Null]);
    check(
        "constraint error is a DbError",
        matches!(e, Err(DbError::Sql { .. })),
        json!(e.err().map(|e| e.to_string())),
    );

    // A query's column count is cached by its text: `SELECT *` after ALTER TABLE still works.
    let before = db.query("SELECT * FROM kv2sql_selftest WHERE id = 0", &[])?;
    db.execute_script("ALTER TABLE kv2sql_selftest ADD COLUMN extra TEXT DEFAULT 'x'")?;
    let after = db.query("SELECT * FROM kv2sql_selftest WHERE id = 0", &[])?;
    check(
        "SELECT * after a schema change",
        before[0].len() == 2 && after[0].len() == 3 && after[0][2] == SqlValue::Text("x".into()),
        json!([before[0].len(), after[0].len()]),
    );
    let e = db.query("SELECT no_such_column FROM kv2sql_selftest", &[]);
    check(
        "a query error names the caller's SQL",
        matches!(&e, Err(DbError::Sql { sql, .. }) if sql == "SELECT no_such_column FROM kv2sql_selftest"),
        json!(e.err().map(|e| e.to_string())),
    );

    check("rows_written counted", db.rows_written() > 0, json!(db.rows_written()));
    Ok(json!({ "checks": checks }))
}

/// Runs the checks and rolls everything back.
pub fn selftest(storage: &DoStorage) -> Value {
    let s = storage.clone();
    let result = transaction_sync(storage, move || {
        let mut db = DoSql::new(&s);
        // Always "fail", so that the table and its rows are rolled back.
        Err::<(), _>(run(&mut db))
    });
    let out = match result {
        Err(TxError::Aborted(Ok(v))) => v,
        Err(TxError::Aborted(Err(e))) => json!({ "error": e.to_string() }),
        Err(TxError::Platform(m)) => json!({ "error": m }),
        Ok(()) => unreachable!(),
    };
    // Prove the rollback: the table must not exist.
    let mut db = DoSql::new(storage);
    let left = db.query("SELECT count(*) FROM sqlite_master WHERE name = 'kv2sql_selftest'", &[]);
    let mut out = out;
    if let Value::Object(o) = &mut out {
        o.insert(
            "rolled_back".into(),
            json!(matches!(left.as_deref(), Ok([row]) if row == &vec![SqlValue::Integer(0)])),
        );
    }
    out
}
