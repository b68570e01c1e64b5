//! The v2 write routes (`POST/PUT/DELETE /api/items`, `POST /api/events`): the JSON body is
//! handed to [`kv2sql_api::write`], inside one `transactionSync`, so a refused write leaves
//! every table as it was.

use kv2sql_api::write::{WriteCx, WriteError};
use kv2sql_runtime::SqlExecutor;
use serde_json::{json, Value};
use worker::{Method, Request, Response, Result};

use crate::dosql::{transaction_sync, DoSql, DoStorage, TxError};
use crate::{json_response, now_iso};

/// One write operation of [`kv2sql_api::write`].
pub type WriteOp = fn(&mut dyn SqlExecutor, &Value, &WriteCx) -> std::result::Result<Value, WriteError>;

/// 8 random lowercase hex characters, for a new `r_`/`e_` id (as v1's ids).
fn new_id() -> String {
    format!("{:08x}", (js_sys::Math::random() * 4_294_967_296.0) as u32)
}

/// Runs `op` on the request's JSON body in one transaction: 201 (POST) or 200 with what was
/// written, else the refusal's status with `{kind, message}`.
pub async fn run(storage: &DoStorage, req: &mut Request, op: WriteOp) -> Result<Response> {
    let created = req.method() == Method::Post;
    let bytes = req.bytes().await?;
    let body: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            let message = format!("the request body is not JSON ({e}); send a JSON object");
            return json_response(400, &json!({ "kind": "bad_request", "message": message }));
        }
    };
    let cx = WriteCx { now: now_iso(), new_id: new_id() };
    let s = storage.clone();
    match transaction_sync(storage, move || op(&mut DoSql::new(&s), &body, &cx)) {
        Ok(v) => json_response(if created { 201 } else { 200 }, &v),
        Err(TxError::Aborted(e)) => {
            if e.status() >= 500 {
                worker::console_error!("kv2sql: write failed: {}", e.to_json());
            }
            json_response(e.status(), &e.to_json())
        }
        Err(TxError::Platform(m)) => json_response(500, &json!({ "kind": "platform", "message": m })),
    }
}
