//! The kv2sql Worker: migrates the v1 roadmap KV data into a SQLite-backed Durable Object and
//! serves it back.
//!
//! The `fetch` handler checks method, admin key and body size, then forwards a fresh request
//! (no headers, no body) to the one Durable Object instance named [`DO_NAME`], which does the work:
//!
//! | route                      | auth  | what                                                   |
//! |----------------------------|-------|--------------------------------------------------------|
//! | `POST /api/migrate`        | admin | KV → SQLite in one `transactionSync`; `?dry_run=1`, `?force=1` |
//! | `GET /api/migrate/status`  | admin | phase, last migration, divergence, last report and error |
//! | `POST /api/cutover`        | admin | records the cutover: migrations refused from then on   |
//! | `DELETE /api/cutover`      | admin | undoes the cutover                                     |
//! | `GET /api/export`          | admin | the rebuilt v1 KV values, `wrangler kv bulk` JSON      |
//! | `GET /api/items`           | none  | the v2 read API                                        |
//! | `GET /api/feed`            | none  | the v2 read API (`?type=&itemId=&limit=`)              |
//! | `POST/PUT/DELETE /api/items` | admin | v2 writes: create, edit, delete an item (JSON body)  |
//! | `POST /api/events`         | admin | v2 writes: add an event (JSON body)                    |
//!
//! The Worker never writes, deletes or expires a KV key.

mod auth;
mod dosql;
mod kvread;
mod selftest;
mod sqltext;
mod v2write;
mod write;

use kv2sql_generated as generated;

use futures_util::StreamExt;
use kv2sql_runtime::{dump, lifecycle, Error as KvError};
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;
use worker::*;

use crate::dosql::{transaction_sync, DoSql, DoStorage, TxError};

/// The KV namespace of the v1 app.
pub const KV_BINDING: &str = "ROADMAP_KV";
/// The Durable Object namespace.
pub const DO_BINDING: &str = "MIGRATOR";
/// The one Durable Object instance that holds the database.
pub const DO_NAME: &str = "main";
/// The secret (or var) holding the admin key.
pub const ADMIN_KEY: &str = "ADMIN_KEY";
/// Routes without a JSON body refuse a body larger than this with 413.
pub const MAX_BODY: usize = 1024;
/// The largest JSON body a write route takes (413 above).
pub const MAX_WRITE_BODY: usize = 64 * 1024;

/// Durable Object storage keys (its transactional KV, not SQLite: a second identical migration
/// must write no SQLite row).
const LAST_REPORT: &str = "kv2sql:last_report";
const LAST_ERROR: &str = "kv2sql:last_error";

fn json_response(status: u16, v: &Value) -> Result<Response> {
    // `to_text` writes strings holding lone surrogates back as their escapes.
    let mut r = Response::ok(kv2sql_runtime::json::to_text(v))?.with_status(status);
    r.headers_mut().set("Content-Type", "application/json")?;
    r.headers_mut().set("Cache-Control", "no-store")?;
    Ok(r)
}

fn error_response(status: u16, kind: &str, message: &str) -> Result<Response> {
    json_response(status, &json!({ "kind": kind, "message": message }))
}

/// 422 for bad data (the migration refused a KV value), 409 when the lifecycle refuses (the
/// tables diverged, the database is cut over), 500 for everything else.
fn status_of(e: &KvError) -> u16 {
    match e.kind() {
        "data" | "json" | "utf8" => 422,
        "diverged" | "cut_over" | "lifecycle" => 409,
        _ => 500,
    }
}

// ---------------------------------------------------------------------------------------------
// The Worker: routing, method, authentication, body size; then forwarding to the Durable Object.

fn string_var(env: &Env, name: &str) -> Option<String> {
    js_sys::Reflect::get(env, &JsValue::from_str(name)).ok().and_then(|v| v.as_string())
}

fn var_is(env: &Env, name: &str, value: &str) -> bool {
    string_var(env, name).as_deref() == Some(value)
}

fn admin_key(env: &Env) -> Option<String> {
    string_var(env, ADMIN_KEY)
}

/// At most this much of a refused body is read (and discarded) before answering 413, so that a
/// client still uploading sees the answer rather than a reset connection.
const MAX_DRAIN: usize = 4 * 1024 * 1024;

/// Whether the request carries a body larger than [`MAX_BODY`]. A refused body is drained up to
/// [`MAX_DRAIN`] bytes; nothing of it is kept.
async fn body_too_large(req: &mut Request) -> Result<bool> {
    let declared_too_large = match req.headers().get("Content-Length")? {
        Some(len) => len.trim().parse::<u64>().map_or(true, |n| n > MAX_BODY as u64),
        None => false,
    };
    if req.inner().body().is_none() {
        return Ok(declared_too_large);
    }
    let mut stream = req.stream()?;
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        seen += chunk?.len();
        if seen > MAX_DRAIN {
            break;
        }
    }
    Ok(declared_too_large || seen > MAX_BODY)
}

/// A write route's body, or `None` when it is larger than [`MAX_WRITE_BODY`] (drained up to
/// [`MAX_DRAIN`], nothing kept).
async fn write_body(req: &mut Request) -> Result<Option<Vec<u8>>> {
    if req.inner().body().is_none() {
        return Ok(Some(Vec::new()));
    }
    let mut stream = req.stream()?;
    let mut body = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        seen += chunk.len();
        if seen <= MAX_WRITE_BODY {
            body.extend_from_slice(&chunk);
        } else if seen > MAX_DRAIN {
            break;
        }
    }
    Ok((seen <= MAX_WRITE_BODY).then_some(body))
}

#[event(fetch)]
pub async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let path = req.path();
    let (allowed, admin) = match path.as_str() {
        "/api/migrate" | "/api/_selftest" | "/api/_upgraded" | "/api/_v2write" => (Method::Post, true),
        // POST records the cutover, DELETE undoes it.
        "/api/cutover" if req.method() == Method::Delete => (Method::Delete, true),
        "/api/cutover" => (Method::Post, true),
        "/api/migrate/status" | "/api/export" => (Method::Get, true),
        "/api/items" if matches!(req.method(), Method::Post | Method::Put | Method::Delete) => (req.method(), true),
        "/api/events" => (Method::Post, true),
        "/api/items" | "/api/feed" => (Method::Get, false),
        _ => return error_response(404, "not_found", "no such route"),
    };
    let writes = path == "/api/events" || (path == "/api/items" && allowed != Method::Get);
    if req.method() != allowed {
        let allow = match path.as_str() {
            "/api/cutover" => "POST, DELETE",
            "/api/items" => "GET, POST, PUT, DELETE",
            _ => allowed.as_ref(),
        };
        let mut r = error_response(405, "method_not_allowed", &format!("use {allow}"))?;
        r.headers_mut().set("Allow", allow)?;
        return Ok(r);
    }
    if admin {
        let key = admin_key(&env);
        let header = req.headers().get("Authorization")?;
        if let Err(e) = auth::check(key.as_deref(), header.as_deref()) {
            let mut r = error_response(e.status(), "auth", e.message())?;
            if e.status() == 401 {
                r.headers_mut().set("WWW-Authenticate", "Bearer")?;
            }
            return Ok(r);
        }
    }
    let url = req.url()?;
    let mut init = RequestInit::new();
    if writes {
        match write_body(&mut req).await? {
            Some(body) => init.with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into())),
            None => {
                return error_response(413, "too_large", &format!("a write body is at most {MAX_WRITE_BODY} bytes"))
            }
        };
    } else if body_too_large(&mut req).await? {
        return error_response(413, "too_large", &format!("request bodies are not used; at most {MAX_BODY} bytes"));
    }
    init.with_method(allowed);
    let forwarded = Request::new_with_init(url.as_str(), &init)?;
    let stub = env.durable_object(DO_BINDING)?.id_from_name(DO_NAME)?.get_stub()?;
    stub.fetch_with_request(forwarded).await
}

// ---------------------------------------------------------------------------------------------
// The read API.

/// JavaScript's `parseInt` on a query parameter: optional sign and leading digits, else `None`.
fn parse_int(s: &str) -> Option<i64> {
    let t = s.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let end = digits.bytes().take_while(u8::is_ascii_digit).count();
    if end == 0 {
        return None;
    }
    let n = digits[..end].parse::<i64>().unwrap_or(i64::MAX);
    Some(if neg { -n } else { n })
}

/// `?type=&itemId=&limit=`: empty values filter nothing (as v1's falsy checks), `limit` is
/// clamped to 1–200 and defaults to 50 ([`kv2sql_api::FeedQuery::limit`]).
fn feed_query(url: &Url) -> kv2sql_api::FeedQuery {
    let mut q = kv2sql_api::FeedQuery::default();
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "type" if !v.is_empty() => q.event_type = Some(v.into_owned()),
            "itemId" if !v.is_empty() => q.item_id = Some(v.into_owned()),
            "limit" => q.limit = parse_int(&v),
            _ => {}
        }
    }
    q
}

fn read_response(result: std::result::Result<Value, KvError>) -> Result<Response> {
    match result {
        Ok(v) => json_response(200, &v),
        Err(e) => {
            console_error!("kv2sql: read failed: {e}");
            json_response(500, &e.to_json())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The Durable Object.

fn kv_get_json(storage: &DoStorage, key: &str) -> Value {
    storage
        .sync_kv()
        .get(key)
        .ok()
        .and_then(|v| v.as_string())
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .unwrap_or(Value::Null)
}

fn now_iso() -> String {
    String::from(js_sys::Date::new_0().to_iso_string())
}

/// Applies the pending schema migrations in one transaction, with the divergence guard's
/// triggers quiet during them and re-created after them (a table rebuild drops them).
fn apply_schema(storage: &DoStorage) -> std::result::Result<Vec<i64>, String> {
    let s = storage.clone();
    let apply = move || lifecycle::apply_schema(&mut DoSql::new(&s), generated::TABLES, generated::MIGRATIONS);
    transaction_sync(storage, apply).map_err(|e| match e {
        TxError::Aborted(e) => e.to_string(),
        TxError::Platform(m) => m,
    })
}

/// Why a migration transaction is rolled back.
enum Abort {
    Failed(KvError),
    /// A dry run: its report.
    DryRun(Value),
}

#[durable_object]
pub struct Migrator {
    state: State,
    env: Env,
    /// Set when applying the schema failed; retried on the next request.
    schema_error: std::cell::RefCell<Option<String>>,
}

impl DurableObject for Migrator {
    fn new(state: State, env: Env) -> Self {
        let schema_error = apply_schema(&DoStorage::of(&state)).err();
        if let Some(e) = &schema_error {
            console_error!("kv2sql: applying the schema failed: {e}");
        }
        Migrator { state, env, schema_error: std::cell::RefCell::new(schema_error) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let storage = DoStorage::of(&self.state);
        if self.schema_error.borrow().is_some() {
            let retry = apply_schema(&storage);
            *self.schema_error.borrow_mut() = retry.err();
            if let Some(e) = self.schema_error.borrow().as_ref() {
                return error_response(500, "schema", e);
            }
        }
        let url = req.url()?;
        let flag = |name: &str| url.query_pairs().any(|(k, v)| k == name && matches!(v.as_ref(), "1" | "true" | ""));
        match (req.method(), url.path()) {
            (Method::Post, "/api/migrate") => self.migrate(&storage, flag("dry_run"), flag("force")).await,
            (Method::Post, "/api/cutover") => self.cutover(&storage, false),
            (Method::Delete, "/api/cutover") => self.cutover(&storage, true),
            (Method::Post, "/api/_v2write") if var_is(&self.env, "KV2SQL_SELFTEST", "1") => {
                let op = url.query_pairs().find(|(k, _)| k == "op").map(|(_, v)| v.into_owned()).unwrap_or_default();
                match v2write::write(&storage, &op) {
                    Ok(v) => json_response(200, &v),
                    Err(e) => json_response(status_of(&e), &e.to_json()),
                }
            }
            (Method::Get, "/api/migrate/status") => self.status(&storage),
            (Method::Post, "/api/_selftest") if var_is(&self.env, "KV2SQL_SELFTEST", "1") => {
                json_response(200, &selftest::selftest(&storage))
            }
            (Method::Post, "/api/_upgraded") if var_is(&self.env, "KV2SQL_SELFTEST", "1") => self.upgraded().await,
            (Method::Get, "/api/export") => self.export(&storage),
            (Method::Get, "/api/items") => read_response(kv2sql_api::items(&mut DoSql::new(&storage))),
            (Method::Get, "/api/feed") => {
                let q = feed_query(&url);
                read_response(kv2sql_api::feed(&mut DoSql::new(&storage), &q))
            }
            (Method::Post, "/api/items") => write::run(&storage, &mut req, kv2sql_api::write::create_item).await,
            (Method::Put, "/api/items") => write::run(&storage, &mut req, kv2sql_api::write::edit_item).await,
            (Method::Delete, "/api/items") => write::run(&storage, &mut req, kv2sql_api::write::delete_item).await,
            (Method::Post, "/api/events") => write::run(&storage, &mut req, kv2sql_api::write::add_event).await,
            _ => error_response(404, "not_found", "no such route"),
        }
    }
}

impl Migrator {
    async fn migrate(&self, storage: &DoStorage, dry_run: bool, force: bool) -> Result<Response> {
        let started = js_sys::Date::now();
        let kv = self.env.kv(KV_BINDING)?;
        let snapshot = match kvread::read_sources(&kv, generated::KV_SOURCES).await {
            Ok(s) => s,
            Err(e) => return self.failed(storage, &e.to_json(), status_of(&e)),
        };
        let unmapped = match kvread::unmapped_keys(&kv, generated::KV_SOURCES).await {
            Ok(u) => u,
            Err(e) => return self.failed(storage, &e.to_json(), status_of(&e)),
        };
        let digest = lifecycle::kv_digest(&snapshot, generated::is_mapped);
        let s = storage.clone();
        // A dry run is rolled back like a failure (`Abort::DryRun` carries its report out), so
        // that not even a pending schema migration stays applied.
        let result = transaction_sync(storage, move || {
            let mut db = DoSql::new(&s);
            // Refuses (nothing written) a cut-over database, or diverged tables unless forced.
            let guard = lifecycle::begin(&mut db, force, dry_run).map_err(Abort::Failed)?;
            let before = db.rows_written();
            let mut report =
                generated::migrate(&mut db, &snapshot, &generated::MigrateOptions { dry_run, ..Default::default() })
                    .map_err(Abort::Failed)?;
            let data = db.rows_written() - before;
            lifecycle::finish(&mut db, generated::TABLES, &guard, &digest, &now_iso()).map_err(Abort::Failed)?;
            report.diverged = guard.diverged;
            report.forced = force;
            report.bookkeeping_writes = Some(if dry_run { 0 } else { db.rows_written() - data });
            // The snapshot holds the mapped keys only; the others were listed apart.
            report.unmapped_keys.extend(unmapped);
            report.unmapped_keys.sort();
            report.unmapped_keys.dedup();
            let mut body = serde_json::to_value(&report).map_err(|e| Abort::Failed(KvError::Dump(e.to_string())))?;
            if let Value::Object(o) = &mut body {
                o.insert("rows_written".into(), data.into());
            }
            if dry_run {
                return Err(Abort::DryRun(body));
            }
            // Written in the same transaction as the rows it describes.
            let mut stored = body.clone();
            if let Value::Object(o) = &mut stored {
                o.insert("finished_at".into(), now_iso().into());
            }
            s.sync_kv()
                .put(LAST_REPORT, &stored.to_string())
                .map_err(|e| Abort::Failed(KvError::Dump(dosql::js_error_message(&e))))?;
            Ok(body)
        });
        match result {
            Ok(body) | Err(TxError::Aborted(Abort::DryRun(body))) => {
                console_log!(
                    "kv2sql: migrate{} ok in {} ms, rows_written {}",
                    if dry_run { " (dry run, rolled back)" } else { "" },
                    js_sys::Date::now() - started,
                    body.get("rows_written").unwrap_or(&Value::Null)
                );
                json_response(200, &body)
            }
            Err(TxError::Aborted(Abort::Failed(e))) => self.failed(storage, &e.to_json(), status_of(&e)),
            Err(TxError::Platform(m)) => self.failed(storage, &json!({ "kind": "platform", "message": m }), 500),
        }
    }

    /// Records the error (outside the rolled-back transaction) and answers with it.
    fn failed(&self, storage: &DoStorage, error: &Value, status: u16) -> Result<Response> {
        console_error!("kv2sql: migrate failed: {error}");
        let mut stored = error.clone();
        if let Value::Object(o) = &mut stored {
            o.insert("at".into(), now_iso().into());
        }
        if let Err(e) = storage.sync_kv().put(LAST_ERROR, &stored.to_string()) {
            console_error!("kv2sql: could not record the error: {}", dosql::js_error_message(&e));
        }
        json_response(status, error)
    }

    /// What `/api/export` must return after a migration of the current KV data: the mapped
    /// entries, parsed, upgraded and written back as compact JSON (test route).
    async fn upgraded(&self) -> Result<Response> {
        let kv = self.env.kv(KV_BINDING)?;
        let result = match kvread::read_sources(&kv, generated::KV_SOURCES).await {
            Ok(s) => generated::upgraded(&s),
            Err(e) => Err(e),
        };
        match result {
            Ok(snapshot) => Response::ok(dump::write_dump(&snapshot)),
            Err(e) => json_response(status_of(&e), &e.to_json()),
        }
    }

    /// Phase, last migration, divergence (read only), and the last report and error.
    fn status(&self, storage: &DoStorage) -> Result<Response> {
        let status = match lifecycle::status(&mut DoSql::new(storage)) {
            Ok(s) => s,
            Err(e) => return json_response(500, &e.to_json()),
        };
        let mut body = serde_json::to_value(&status).unwrap_or_default();
        if let Value::Object(o) = &mut body {
            o.insert("last_report".into(), kv_get_json(storage, LAST_REPORT));
            o.insert("last_error".into(), kv_get_json(storage, LAST_ERROR));
        }
        json_response(200, &body)
    }

    /// Records the cutover (`undo`: undoes it) in one transaction; 409 when the phase does not
    /// allow it (never migrated; not cut over).
    fn cutover(&self, storage: &DoStorage, undo: bool) -> Result<Response> {
        let s = storage.clone();
        let result = transaction_sync(storage, move || {
            let mut db = DoSql::new(&s);
            if undo {
                lifecycle::undo_cutover(&mut db)
            } else {
                lifecycle::cutover(&mut db, &now_iso())
            }
        });
        match result {
            Ok(state) => {
                console_log!("kv2sql: cutover{}: phase {:?}", if undo { " undone" } else { "" }, state.phase);
                json_response(200, &json!({ "ok": true, "state": state }))
            }
            Err(TxError::Aborted(e)) => json_response(status_of(&e), &e.to_json()),
            Err(TxError::Platform(m)) => error_response(500, "platform", &m),
        }
    }

    fn export(&self, storage: &DoStorage) -> Result<Response> {
        let mut db = DoSql::new(storage);
        match generated::export(&mut db) {
            Ok(snapshot) => {
                let mut r = Response::ok(dump::write_dump(&snapshot))?;
                r.headers_mut().set("Content-Type", "application/json; charset=utf-8")?;
                r.headers_mut().set("Cache-Control", "no-store")?;
                Ok(r)
            }
            Err(e) => json_response(500, &e.to_json()),
        }
    }
}
