//! The write side of v2: create, edit and delete items, add events.
//!
//! Every write leaves the tables exactly as a migration of the resulting v1 value would, so
//! `export` always gives back a valid v1 value carrying v2's writes, and a rollback (`GET
//! /api/export` → `wrangler kv bulk put`) brings them to v1 in v1's format:
//!
//! * a create extracts the new item alone through the generated code (checked against the
//!   mapping like any KV value) and inserts its rows after the last item;
//! * an edit changes the item's row through its generated row struct, by primary key;
//! * a delete and an event are v1 operations on the v1 value rebuilt from the tables, written
//!   back through the source's generated writer, which writes only the rows that differ.
//!
//! Like v1's `saveData`, an items write sets the envelope's `updatedAt` and bumps its
//! `writeVersion`; like v1's `recordEvent`, an event goes first and the blob keeps the newest
//! 200 (the events that drop out stay in the `events` table, for the feed). Every value is bound.
//!
//! The caller supplies the clock and the new ids ([`WriteCx`]), and runs each write in one
//! transaction.

use kv2sql_generated::{event_log, items_doc};
use kv2sql_runtime::json::{Cx, Json, JsonColumn};
use kv2sql_runtime::{Error, KvEntry, KvSnapshot, Path, Row, SqlExecutor, SqlRef};
use serde_json::{json, Map, Value};

use crate::derive_status;

const ITEMS_KEY: &str = "roadmap:items";
const EVENTS_KEY: &str = "roadmap:events";
/// v1 keeps the newest 200 events in its blob.
pub const EVENTS_CAP: usize = 200;

/// What a write needs from outside: the time and fresh ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteCx {
    /// `new Date().toISOString()` of the write.
    pub now: String,
    /// 8 lowercase hex characters for a new id (`r_` items, `e_` events).
    pub new_id: String,
}

/// Why a write was refused. Nothing is written in any case.
#[derive(Debug)]
pub enum WriteError {
    /// The request body is not what the route takes (400).
    BadRequest(String),
    /// No item has this id (404).
    NotFound(String),
    /// An item already has this id (409).
    Exists(String),
    /// Reading or writing the tables failed (see [`Error::kind`]).
    Db(Error),
}

impl From<Error> for WriteError {
    fn from(e: Error) -> Self {
        WriteError::Db(e)
    }
}

impl WriteError {
    /// The HTTP status: 400, 404, 409, 422 for a value the mapping refuses, else 500.
    pub fn status(&self) -> u16 {
        match self {
            WriteError::BadRequest(_) => 400,
            WriteError::NotFound(_) => 404,
            WriteError::Exists(_) => 409,
            WriteError::Db(e) if matches!(e.kind(), "data" | "json" | "utf8") => 422,
            WriteError::Db(_) => 500,
        }
    }

    /// `{kind, message}` (a database error keeps its own JSON).
    pub fn to_json(&self) -> Value {
        let (kind, message) = match self {
            WriteError::BadRequest(m) => ("bad_request", m.clone()),
            WriteError::NotFound(id) => {
                ("not_found", format!("no item has the id {id:?}; list them with GET /api/items"))
            }
            WriteError::Exists(id) => ("exists", format!("the id {id:?} is taken; retry to get a new id")),
            WriteError::Db(e) => return e.to_json(),
        };
        json!({ "kind": kind, "message": message })
    }
}

fn bad(pointer: &str, expected: &str, found: &Value) -> WriteError {
    let found = match found {
        Value::Null => "null".to_string(),
        v => format!("{} {}", kind_of(v), truncate(&v.to_string())),
    };
    WriteError::BadRequest(format!("request body {pointer}: expected {expected}, found {found}; fix the request"))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// The body as a JSON object whose keys are all in `allowed` (an unknown key is refused, not
/// ignored: a typo must not look like a successful edit).
fn body_object<'b>(body: &'b Value, allowed: &[&str]) -> Result<&'b Map<String, Value>, WriteError> {
    let obj = body.as_object().ok_or_else(|| bad("", "a JSON object", body))?;
    if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(WriteError::BadRequest(format!(
            "request body: unknown field {k:?}; the fields are {}",
            allowed.join(", ")
        )));
    }
    Ok(obj)
}

fn string_field(obj: &Map<String, Value>, key: &str, required: bool) -> Result<Option<String>, WriteError> {
    match obj.get(key) {
        None if required => Err(bad(&format!("/{key}"), "a string", &Value::Null)),
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(v) => Err(bad(&format!("/{key}"), "a string", v)),
    }
}

fn github_data_field(obj: &Map<String, Value>) -> Result<Option<Value>, WriteError> {
    match obj.get("githubData") {
        None => Ok(None),
        Some(v @ (Value::Null | Value::Object(_))) => Ok(Some(v.clone())),
        Some(v) => Err(bad("/githubData", "an object or null", v)),
    }
}

/// The acting agent, `{btcAddress, displayName, agentId?}` (agentId: number, string or null;
/// absent stays absent, as in v1).
fn agent_field(obj: &Map<String, Value>, key: &str, required: bool) -> Result<Option<Map<String, Value>>, WriteError> {
    let v = match obj.get(key) {
        None | Some(Value::Null) if !required => return Ok(None),
        None => return Err(bad(&format!("/{key}"), "an object {btcAddress, displayName, agentId?}", &Value::Null)),
        Some(v) => v,
    };
    let a = v.as_object().ok_or_else(|| bad(&format!("/{key}"), "an object {btcAddress, displayName, agentId?}", v))?;
    let mut out = Map::new();
    for field in ["btcAddress", "displayName"] {
        match a.get(field) {
            Some(Value::String(s)) if !s.is_empty() => out.insert(field.into(), Value::String(s.clone())),
            other => return Err(bad(&format!("/{key}/{field}"), "a non-empty string", other.unwrap_or(&Value::Null))),
        };
    }
    match a.get("agentId") {
        None => {}
        Some(id @ (Value::Null | Value::Number(_) | Value::String(_))) => {
            out.insert("agentId".into(), id.clone());
        }
        Some(v) => return Err(bad(&format!("/{key}/agentId"), "a number, a string or null", v)),
    }
    if let Some(k) = a.keys().find(|k| !matches!(k.as_str(), "btcAddress" | "displayName" | "agentId")) {
        return Err(WriteError::BadRequest(format!(
            "request body /{key}: unknown field {k:?}; the fields are btcAddress, displayName, agentId"
        )));
    }
    Ok(Some(out))
}

// ---------------------------------------------------------------------------------------------
// Reading a source's v1 value and writing it back.

fn parse_value(entry: &KvEntry, table: &str) -> Result<Value, Error> {
    serde_json::from_str(&entry.value).map_err(|e| Error::Export { table: table.into(), message: e.to_string() })
}

/// The items blob as the tables hold it, or v1's default for a missing key.
fn load_items(db: &mut dyn SqlExecutor) -> Result<Value, Error> {
    match items_doc::export(db)?.first() {
        Some(entry) => parse_value(entry, "items_doc"),
        None => {
            let cx = Cx { kv_key: ITEMS_KEY };
            Ok(kv2sql_roadmap::v1::upgrade_items(json!({"version": 1, "items": []}), &cx)?)
        }
    }
}

/// The events blob as the tables hold it (the newest 200, newest first), or v1's default.
fn load_events(db: &mut dyn SqlExecutor) -> Result<Value, Error> {
    match event_log::export(db)?.first() {
        Some(entry) => parse_value(entry, "event_log"),
        None => Ok(json!({"version": 1, "events": []})),
    }
}

fn snapshot_of(key: &str, value: &Value) -> Result<KvSnapshot, Error> {
    KvSnapshot::new(vec![KvEntry { key: key.into(), value: value.to_string(), expiration: None }])
}

/// Writes a new items blob: extracted and checked like a migrated value, then only the rows
/// that differ from the stored ones are written.
fn save_items(db: &mut dyn SqlExecutor, doc: &Value) -> Result<(), Error> {
    let snapshot = snapshot_of(ITEMS_KEY, doc)?;
    let mut writer = items_doc::Writer::load(db)?;
    items_doc::extract_all(&snapshot, &mut |rows| writer.write(db, rows, false))?;
    writer.retire(db, false)?;
    writer.remove(db, false)
}

/// Writes a new events blob; events no longer in it are retired (kept for the feed).
fn save_events(db: &mut dyn SqlExecutor, doc: &Value) -> Result<(), Error> {
    let snapshot = snapshot_of(EVENTS_KEY, doc)?;
    let mut writer = event_log::Writer::load(db)?;
    event_log::extract_all(&snapshot, &mut |rows| writer.write(db, rows, false))?;
    writer.retire(db, false)?;
    writer.remove(db, false)
}

/// v1's `saveData`: a new `writeVersion` and `updatedAt`, then the write.
fn commit_items(db: &mut dyn SqlExecutor, mut doc: Value, cx: &WriteCx) -> Result<(), Error> {
    if let Some(o) = doc.as_object_mut() {
        let next = o.get("writeVersion").and_then(Value::as_i64).unwrap_or(0) + 1;
        o.insert("writeVersion".into(), next.into());
        o.insert("updatedAt".into(), Value::String(cx.now.clone()));
    }
    save_items(db, &doc)
}

fn items_mut(doc: &mut Value) -> Result<&mut Vec<Value>, Error> {
    doc.get_mut("items")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| Error::Export { table: "items_doc".into(), message: "the items blob has no items array".into() })
}

fn position_of(list: &[Value], id: &str) -> Option<usize> {
    list.iter().position(|i| i.get("id").and_then(Value::as_str) == Some(id))
}

// ---------------------------------------------------------------------------------------------
// Items.

/// The fields `POST /api/items` takes.
pub const CREATE_FIELDS: &[&str] = &["title", "description", "githubUrl", "githubData", "agent"];
/// The fields `PUT /api/items` takes (`id` and at least one other).
pub const EDIT_FIELDS: &[&str] = &["id", "title", "description", "githubUrl", "githubData"];

/// The item v1's `POST /api/items` creates, with `agent` as founder, first contributor and
/// leader. `githubData` is what the caller fetched (v2 does not call GitHub here), else null.
fn new_item(body: &Value, cx: &WriteCx) -> Result<Value, WriteError> {
    let obj = body_object(body, CREATE_FIELDS)?;
    let title = string_field(obj, "title", true)?.unwrap_or_default();
    if title.is_empty() {
        return Err(bad("/title", "a non-empty string", &Value::String(title)));
    }
    let agent = agent_field(obj, "agent", true)?.unwrap_or_default();
    let github_data = github_data_field(obj)?.unwrap_or(Value::Null);
    let btc = agent["btcAddress"].as_str().unwrap_or_default().to_string();
    let profile_url = format!("https://aibtc.com/agents/{btc}");
    let mut founder = agent.clone();
    founder.insert("profileUrl".into(), profile_url.clone().into());
    let mut leader = founder.clone();
    leader.insert("assignedAt".into(), cx.now.clone().into());
    leader.insert("lastActiveAt".into(), cx.now.clone().into());
    Ok(json!({
        "id": format!("r_{}", cx.new_id),
        "title": title,
        "description": string_field(obj, "description", false)?.unwrap_or_default(),
        "githubUrl": string_field(obj, "githubUrl", false)?.unwrap_or_default(),
        "status": derive_status(&github_data),
        "githubData": github_data,
        "founder": founder,
        "contributors": [agent],
        "createdAt": cx.now,
        "updatedAt": cx.now,
        "claimedBy": null,
        "deliverables": [],
        "ratings": [],
        "reputation": {"average": 0, "count": 0},
        "goals": [],
        "mentions": {"count": 0},
        "leader": leader,
    }))
}

/// `POST /api/items`: appends a new item (v1 appends: it goes last in display order).
///
/// The item alone is extracted (checked against the mapping like any KV value) and its rows
/// inserted after the last item; the envelope row gets v1's `saveData` bump. So a create writes
/// the item's rows and the envelope's, whatever the size of the board. Into a database without
/// an items envelope yet, the whole (new) blob is written instead.
pub fn create_item(db: &mut dyn SqlExecutor, body: &Value, cx: &WriteCx) -> Result<Value, WriteError> {
    let item = new_item(body, cx)?;
    let id = item["id"].as_str().unwrap_or_default().to_string();
    if select_one::<items_doc::ItemsRow>(db, "id", &id)?.is_some() {
        return Err(WriteError::Exists(id));
    }
    if select_one::<items_doc::ItemsDocRow>(db, "kv_key", ITEMS_KEY)?.is_none() {
        let mut doc = load_items(db)?;
        items_mut(&mut doc)?.push(item.clone());
        commit_items(db, doc, cx)?;
        return Ok(item);
    }
    insert_item_rows(db, &item)?;
    touch_envelope(db, ITEMS_KEY, cx)?;
    Ok(item)
}

/// Extracts one item as the only item of a blob and inserts its rows (not the envelope's),
/// the item placed after the last one.
fn insert_item_rows(db: &mut dyn SqlExecutor, item: &Value) -> Result<(), Error> {
    let blob = json!({"version": kv2sql_roadmap::v1::CURRENT_VERSION, "writeVersion": 0, "items": [item]});
    let snapshot = snapshot_of(ITEMS_KEY, &blob)?;
    let table = <items_doc::ItemsRow as Row>::TABLE;
    let sql = format!("SELECT coalesce(max(\"position\") + 1, 0) FROM \"{table}\" WHERE \"doc_key\" = ?1");
    let next = match db.query(&sql, &[SqlRef::Text(ITEMS_KEY)])?.into_iter().next().and_then(|r| r.into_iter().next()) {
        Some(v) => <i64 as kv2sql_runtime::value::FromSql>::from_sql(v, "position")?,
        None => 0,
    };
    // A writer that has read no stored rows inserts every row it is given.
    let mut writer = items_doc::Writer::load(&mut NoRows)?;
    items_doc::extract_all(&snapshot, &mut |mut rows| {
        rows.items_doc.clear();
        for row in &mut rows.items {
            row.position = next;
        }
        writer.write(db, rows, false)
    })?;
    Ok(())
}

/// An executor with empty tables and no writes: what a writer loads when it must insert only.
struct NoRows;

impl SqlExecutor for NoRows {
    fn execute(&mut self, sql: &str, _: &[SqlRef<'_>]) -> Result<(), kv2sql_runtime::DbError> {
        Err(kv2sql_runtime::DbError::Sql { sql: sql.into(), message: "no writes here".into() })
    }
    fn query(
        &mut self,
        _: &str,
        _: &[SqlRef<'_>],
    ) -> Result<Vec<Vec<kv2sql_runtime::SqlValue>>, kv2sql_runtime::DbError> {
        Ok(Vec::new())
    }
    fn execute_script(&mut self, sql: &str) -> Result<(), kv2sql_runtime::DbError> {
        self.execute(sql, &[])
    }
}

/// `PUT /api/items`: sets the given fields of one item (strings trimmed, as v1's PUT) and its
/// `updatedAt`, and bumps the envelope as v1's `saveData`. Answers `{id, updatedAt}` and the
/// fields set.
///
/// Unlike the other writes, an edit touches exactly two rows whatever the size of the board:
/// the item's row and the envelope's, read by primary key, changed through the generated row
/// structs (whose types are the mapping's) and written back with their `UPDATE`.
pub fn edit_item(db: &mut dyn SqlExecutor, body: &Value, cx: &WriteCx) -> Result<Value, WriteError> {
    let obj = body_object(body, EDIT_FIELDS)?;
    let id = string_field(obj, "id", true)?.unwrap_or_default();
    if obj.len() < 2 {
        return Err(WriteError::BadRequest(format!(
            "request body: nothing to edit; give at least one of {}",
            EDIT_FIELDS[1..].join(", ")
        )));
    }
    let title = string_field(obj, "title", false)?;
    let description = string_field(obj, "description", false)?;
    let github_url = string_field(obj, "githubUrl", false)?;
    let github_data = github_data_field(obj)?;
    let mut row: items_doc::ItemsRow = select_one(db, "id", &id)?.ok_or_else(|| WriteError::NotFound(id.clone()))?;
    let mut edited = Map::new();
    edited.insert("id".into(), id.into());
    if let Some(t) = title {
        edited.insert("title".into(), t.clone().into());
        row.title = t;
    }
    if let Some(d) = description {
        edited.insert("description".into(), d.clone().into());
        row.description = d;
    }
    if let Some(u) = github_url {
        edited.insert("githubUrl".into(), u.clone().into());
        row.github_url = u;
    }
    if let Some(gd) = github_data {
        row.github_data = match &gd {
            Value::Null => None,
            v => Some(
                Json::from_json(v, &Cx { kv_key: ITEMS_KEY }, &Path::ROOT.key("githubData")).map_err(Error::from)?,
            ),
        };
        edited.insert("githubData".into(), gd);
    }
    row.updated_at = cx.now.clone();
    edited.insert("updatedAt".into(), cx.now.clone().into());
    db.execute(<items_doc::ItemsRow as Row>::UPDATE, &row.params()).map_err(Error::from)?;
    touch_envelope(db, &row.doc_key, cx)?;
    Ok(Value::Object(edited))
}

/// One row by its one-column primary key.
fn select_one<R: Row>(db: &mut dyn SqlExecutor, key_column: &str, key: &str) -> Result<Option<R>, Error> {
    let sql = format!("{} WHERE \"{key_column}\" = ?1", R::SELECT);
    let rows = db.query(&sql, &[SqlRef::Text(key)])?;
    Ok(rows.into_iter().next().map(R::from_row).transpose()?)
}

/// v1's `saveData` on the envelope row alone: `writeVersion` + 1, `updatedAt` now.
fn touch_envelope(db: &mut dyn SqlExecutor, doc_key: &str, cx: &WriteCx) -> Result<(), Error> {
    let mut doc: items_doc::ItemsDocRow = select_one(db, "kv_key", doc_key)?.ok_or_else(|| Error::Export {
        table: "items_doc".into(),
        message: format!("an item belongs to {doc_key:?}, which has no envelope row"),
    })?;
    doc.write_version += 1;
    doc.updated_at = Some(cx.now.clone());
    db.execute(<items_doc::ItemsDocRow as Row>::UPDATE, &doc.params())?;
    Ok(())
}

/// `DELETE /api/items` (`{"id"}`): removes one item and everything nested in it; the items
/// after it move up one place, as v1's `splice`.
pub fn delete_item(db: &mut dyn SqlExecutor, body: &Value, cx: &WriteCx) -> Result<Value, WriteError> {
    let obj = body_object(body, &["id"])?;
    let id = string_field(obj, "id", true)?.unwrap_or_default();
    let mut doc = load_items(db)?;
    let list = items_mut(&mut doc)?;
    let at = position_of(list, &id).ok_or_else(|| WriteError::NotFound(id.clone()))?;
    let removed = list.remove(at);
    commit_items(db, doc, cx)?;
    Ok(json!({ "deleted": id, "title": removed.get("title").cloned().unwrap_or(Value::Null) }))
}

// ---------------------------------------------------------------------------------------------
// Events.

/// The fields `POST /api/events` takes.
pub const EVENT_FIELDS: &[&str] = &["type", "agent", "itemId", "itemTitle", "data"];

/// The event v1's `recordEvent` stores: `agent || null`, `itemId || null`, `itemTitle || null`,
/// `data || {}`.
fn new_event(body: &Value, cx: &WriteCx) -> Result<Value, WriteError> {
    let obj = body_object(body, EVENT_FIELDS)?;
    let event_type = string_field(obj, "type", true)?.unwrap_or_default();
    if event_type.is_empty() {
        return Err(bad("/type", "a non-empty string (e.g. \"item.updated\")", &Value::String(event_type)));
    }
    let agent = agent_field(obj, "agent", false)?.map_or(Value::Null, Value::Object);
    let text_or_null = |key: &str| -> Result<Value, WriteError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(Value::Null),
            Some(Value::String(s)) if s.is_empty() => Ok(Value::Null),
            Some(Value::String(s)) => Ok(Value::String(s.clone())),
            Some(v) => Err(bad(&format!("/{key}"), "a string or null", v)),
        }
    };
    let data = match obj.get("data") {
        None | Some(Value::Null) => json!({}),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(v) => Err(bad("/data", "an object", v))?,
    };
    Ok(json!({
        "id": format!("e_{}", cx.new_id),
        "type": event_type,
        "timestamp": cx.now,
        "agent": agent,
        "itemId": text_or_null("itemId")?,
        "itemTitle": text_or_null("itemTitle")?,
        "data": data,
    }))
}

/// `POST /api/events`: records an event first in the blob, which keeps the newest
/// [`EVENTS_CAP`]; the one that drops out stays in the table (the feed still serves it).
pub fn add_event(db: &mut dyn SqlExecutor, body: &Value, cx: &WriteCx) -> Result<Value, WriteError> {
    let event = new_event(body, cx)?;
    let mut doc = load_events(db)?;
    let list = doc.get_mut("events").and_then(Value::as_array_mut).ok_or_else(|| Error::Export {
        table: "event_log".into(),
        message: "the events blob has no events array".into(),
    })?;
    let id = event["id"].as_str().unwrap_or_default();
    // Retired events keep their row: the id must be new to the table, not only to the blob.
    if !db.query("SELECT 1 FROM \"events\" WHERE \"id\" = ?1", &[SqlRef::Text(id)]).map_err(Error::from)?.is_empty() {
        return Err(WriteError::Exists(id.into()));
    }
    list.insert(0, event.clone());
    list.truncate(EVENTS_CAP);
    save_events(db, &doc)?;
    Ok(event)
}
