//! [`DoSql`]: the runtime's [`SqlExecutor`] over a Durable Object's `ctx.storage.sql`, and
//! [`transaction_sync`]: `ctx.storage.transactionSync()`, which workers-rs 0.8.7 does not bind.
//!
//! Values across the JavaScript boundary (verified under workerd, see README.md):
//!
//! * Binding: NULL → `null`, TEXT → string, REAL → number. A JS number is always bound as a
//!   REAL (so an `ANY` column would store the integer 5 as 5.0), an integer beyond 2^53 is not
//!   a JS number at all, and `exec()` refuses a `BigInt` ("Cannot convert a BigInt value to a
//!   number"). So every INTEGER is bound as its decimal text and its placeholder is rewritten to
//!   `CAST(?N AS INTEGER)` ([`crate::sqltext::rewrite_placeholders`]): exact for all of i64.
//! * Reading: rows come back as JS values, which cannot tell the INTEGER 4 from the REAL 4.0 and
//!   round integers beyond 2^53. Queries are wrapped ([`crate::sqltext::typed_wrapper`]) so that
//!   INTEGERs come back as BLOBs of decimal digits: every value keeps its exact storage class.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use js_sys::{Array, ArrayBuffer, Uint8Array};
use kv2sql_runtime::{DbError, SqlExecutor, SqlRef, SqlValue};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::worker_sys::types::{SqlStorage, SqlStorageCursor};

use crate::sqltext;

#[wasm_bindgen]
extern "C" {
    /// `ctx.storage`, with the members workers-rs 0.8.7 does not bind.
    #[derive(Clone, Debug)]
    pub type DoStorage;

    /// `transactionSync(callback)`: runs `callback` synchronously in a transaction, commits
    /// when it returns, rolls back and rethrows when it throws.
    #[wasm_bindgen(method, catch, js_name = transactionSync)]
    fn transaction_sync_raw(this: &DoStorage, callback: &js_sys::Function) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(method, getter)]
    fn sql(this: &DoStorage) -> SqlStorage;

    /// `ctx.storage.kv`: the synchronous key-value API of SQLite-backed Durable Objects; its
    /// writes take part in `transactionSync`.
    #[wasm_bindgen(method, getter, js_name = kv)]
    pub fn sync_kv(this: &DoStorage) -> SyncKv;

    pub type SyncKv;
    #[wasm_bindgen(method, catch)]
    pub fn get(this: &SyncKv, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn put(this: &SyncKv, key: &str, value: &str) -> Result<(), JsValue>;
}

impl DoStorage {
    pub fn of(state: &worker::State) -> DoStorage {
        state.storage().as_raw().unchecked_ref::<DoStorage>().clone()
    }
}

/// Why a [`transaction_sync`] did not commit.
#[derive(Debug)]
pub enum TxError<E> {
    /// The callback returned `Err`: the transaction was rolled back.
    Aborted(E),
    /// The platform threw (for example the commit failed, or the wasm instance trapped).
    Platform(String),
}

/// Runs `f` inside `storage.transactionSync()`. When `f` returns `Err`, the callback throws so
/// that every write made inside it is rolled back, and the error comes back as
/// [`TxError::Aborted`].
pub fn transaction_sync<T: 'static, E: 'static>(
    storage: &DoStorage,
    f: impl FnOnce() -> Result<T, E> + 'static,
) -> Result<T, TxError<E>> {
    let slot: Rc<RefCell<Option<Result<T, E>>>> = Rc::new(RefCell::new(None));
    let out = slot.clone();
    let callback = Closure::once(move || -> Result<JsValue, JsValue> {
        let result = f();
        let failed = result.is_err();
        *out.borrow_mut() = Some(result);
        if failed {
            Err(JsValue::from_str("kv2sql: rolling back"))
        } else {
            Ok(JsValue::UNDEFINED)
        }
    });
    let thrown = storage.transaction_sync_raw(callback.as_ref().unchecked_ref()).err();
    drop(callback);
    let result = slot.borrow_mut().take();
    match (result, thrown) {
        (Some(Err(e)), _) => Err(TxError::Aborted(e)),
        (Some(Ok(v)), None) => Ok(v),
        (_, Some(js)) => Err(TxError::Platform(js_error_message(&js))),
        (None, None) => Err(TxError::Platform("transactionSync did not run its callback".into())),
    }
}

/// The message of a thrown JavaScript value.
pub fn js_error_message(v: &JsValue) -> String {
    if let Some(e) = v.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    v.as_string().unwrap_or_else(|| format!("{v:?}"))
}

thread_local! {
    /// Column count of each query text, learnt once per isolate (the SQL texts are static).
    static COLUMNS: RefCell<HashMap<String, usize>> = RefCell::new(HashMap::new());
}

/// The [`SqlExecutor`] of the Durable Object.
pub struct DoSql {
    sql: SqlStorage,
    rows_written: u64,
    rows_read: u64,
}

impl DoSql {
    pub fn new(storage: &DoStorage) -> Self {
        DoSql { sql: storage.sql(), rows_written: 0, rows_read: 0 }
    }

    /// Rows written by every statement run through this executor (the sum of the cursors'
    /// `rowsWritten`, which counts index entries too: an INSERT into a table with one index
    /// writes 2).
    pub fn rows_written(&self) -> u64 {
        self.rows_written
    }

    #[allow(dead_code)]
    pub fn rows_read(&self) -> u64 {
        self.rows_read
    }

    fn sql_error(sql: &str, e: &JsValue) -> DbError {
        DbError::Sql { sql: sql.to_string(), message: js_error_message(e) }
    }

    /// Binds `params` and runs `sql`; returns the cursor (not yet drained).
    fn exec(&mut self, sql: &str, params: &[SqlRef<'_>]) -> Result<SqlStorageCursor, DbError> {
        // Every INTEGER is bound as its decimal text behind `CAST(?N AS INTEGER)`: a JS number is
        // bound as a REAL (an ANY column would keep 5 as 5.0), and cannot hold integers beyond 2^53.
        let is_int = |n: usize| matches!(params.get(n.wrapping_sub(1)), Some(SqlRef::Integer(_)));
        let text;
        let sql_to_run = if params.iter().any(|p| matches!(p, SqlRef::Integer(_))) {
            text = sqltext::rewrite_placeholders(sql, is_int)
                .map_err(|message| DbError::Sql { sql: sql.to_string(), message })?;
            text.as_str()
        } else {
            sql
        };
        let bindings = Array::new_with_length(params.len() as u32);
        for (i, p) in params.iter().enumerate() {
            let v = match *p {
                SqlRef::Null => JsValue::NULL,
                SqlRef::Integer(n) => JsValue::from_str(&n.to_string()),
                SqlRef::Real(f) => JsValue::from_f64(f),
                SqlRef::Text(s) => JsValue::from_str(s),
            };
            bindings.set(i as u32, v);
        }
        self.sql.exec(sql_to_run, bindings).map_err(|e| Self::sql_error(sql, &e))
    }

    /// Reads every remaining row as JS values, then counts the cursor's reads and writes.
    fn drain(&mut self, sql: &str, cursor: &SqlStorageCursor) -> Result<Vec<Array>, DbError> {
        let it = cursor.raw();
        let mut rows = Vec::new();
        loop {
            let next = it.next().map_err(|e| Self::sql_error(sql, &e))?;
            if next.done() {
                break;
            }
            rows.push(next.value().unchecked_into::<Array>());
        }
        self.rows_written += cursor.rows_written() as u64;
        self.rows_read += cursor.rows_read() as u64;
        Ok(rows)
    }

    fn column_count(&mut self, sql: &str, params: &[SqlRef<'_>]) -> Result<usize, DbError> {
        if let Some(n) = COLUMNS.with(|c| c.borrow().get(sql).copied()) {
            return Ok(n);
        }
        let probe = sqltext::column_probe(sql);
        let cursor = self.exec(&probe, params).map_err(|e| with_sql(e, sql))?;
        let n = cursor.column_names().length() as usize;
        self.drain(&probe, &cursor)?;
        COLUMNS.with(|c| c.borrow_mut().insert(sql.to_string(), n));
        Ok(n)
    }
}

/// An error of the wrapped statement, reported with the caller's SQL.
fn with_sql(e: DbError, sql: &str) -> DbError {
    match e {
        DbError::Sql { message, .. } => DbError::Sql { sql: sql.to_string(), message },
        other => other,
    }
}

/// A value of a wrapped query (see [`sqltext::typed_wrapper`]).
fn typed_value(v: JsValue, column: usize) -> Result<SqlValue, DbError> {
    if v.is_null() || v.is_undefined() {
        Ok(SqlValue::Null)
    } else if let Some(s) = v.as_string() {
        Ok(SqlValue::Text(s))
    } else if let Some(f) = v.as_f64() {
        Ok(SqlValue::Real(f))
    } else if let Some(buf) = v.dyn_ref::<ArrayBuffer>() {
        let bytes = Uint8Array::new(buf).to_vec();
        sqltext::parse_wrapped_integer(&bytes).map(SqlValue::Integer).ok_or_else(|| DbError::Decode {
            column: format!("#{column}"),
            message: "a BLOB value, which kv2sql does not read".into(),
        })
    } else {
        Err(DbError::Decode { column: format!("#{column}"), message: format!("unexpected JavaScript value {v:?}") })
    }
}

/// A value of a statement that could not be wrapped (not a SELECT): the storage class of a
/// number is guessed from its value.
fn untyped_value(v: JsValue, column: usize) -> Result<SqlValue, DbError> {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() <= sqltext::JS_EXACT as f64 => Ok(SqlValue::Integer(f as i64)),
        Some(f) => Ok(SqlValue::Real(f)),
        None => typed_value(v, column),
    }
}

impl SqlExecutor for DoSql {
    fn execute(&mut self, sql: &str, params: &[SqlRef<'_>]) -> Result<(), DbError> {
        let cursor = self.exec(sql, params)?;
        self.drain(sql, &cursor)?;
        Ok(())
    }

    fn query(&mut self, sql: &str, params: &[SqlRef<'_>]) -> Result<Vec<Vec<SqlValue>>, DbError> {
        let typed = sqltext::is_select(sql);
        let cursor = if typed {
            let n = self.column_count(sql, params)?;
            match self.exec(&sqltext::typed_wrapper(sql, n), params) {
                Ok(c) => c,
                Err(_) => {
                    // The cached column count may be stale (`SELECT *` after a schema change):
                    // learn it again and retry once.
                    COLUMNS.with(|c| c.borrow_mut().remove(sql));
                    let n = self.column_count(sql, params)?;
                    self.exec(&sqltext::typed_wrapper(sql, n), params).map_err(|e| with_sql(e, sql))?
                }
            }
        } else {
            self.exec(sql, params)?
        };
        let rows = self.drain(sql, &cursor)?;
        rows.into_iter()
            .map(|row| {
                row.iter()
                    .enumerate()
                    .map(|(i, v)| if typed { typed_value(v, i) } else { untyped_value(v, i) })
                    .collect()
            })
            .collect()
    }

    /// The Durable Object runs several `;`-separated statements in one `exec` when there are no
    /// bindings. Its `rowsWritten` then counts the last statement only.
    fn execute_script(&mut self, sql: &str) -> Result<(), DbError> {
        let cursor = self.exec(sql, &[])?;
        self.drain(sql, &cursor)?;
        Ok(())
    }
}
