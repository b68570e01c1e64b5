//! The hand-written baseline: the same tables, filled from the same data, with nothing but
//! serde_json, v1's upgrade replay and cached prepared statements in one transaction. No
//! diffing against stored rows, no row structs, no per-value checks beyond what is needed to
//! produce the same column values: the practical ceiling for the generated migration.

use kv2sql_runtime::json::Cx;
use kv2sql_runtime::KvSnapshot;
use rusqlite::types::{ToSqlOutput, Value as RValue, ValueRef};
use rusqlite::{params, Connection, ToSql, Transaction};
use serde_json::{Map, Value};

/// What went wrong: the message only (the baseline is only run on generated data).
pub type Result<T> = std::result::Result<T, String>;

fn db(e: rusqlite::Error) -> String {
    e.to_string()
}

/// Loads every mapped key of `kv` into an empty database in one transaction; returns the rows
/// written (SQLite's change counter, as `kv2sql::migrate` reports it).
pub fn load(conn: &mut Connection, kv: &KvSnapshot) -> Result<u64> {
    let before = conn.total_changes();
    let tx = conn.transaction().map_err(db)?;
    for m in kv2sql_generated::MIGRATIONS {
        tx.execute_batch(m.sql).map_err(db)?;
    }
    for e in kv.entries() {
        let key = e.key.as_str();
        match key {
            "roadmap:items" => {
                let v: Value = serde_json::from_str(&e.value).map_err(|e| e.to_string())?;
                let v = kv2sql_roadmap::v1::upgrade_items(v, &Cx { kv_key: key }).map_err(|e| e.to_string())?;
                items_doc(&tx, key, &v)?;
            }
            "roadmap:events" => event_log(&tx, key, &parse(&e.value)?)?,
            "roadmap:message-archive" => message_archive(&tx, key, &parse(&e.value)?)?,
            "roadmap:mention-scan" => mention_scan(&tx, key, &parse(&e.value)?)?,
            "roadmap:github-map" => github_map(&tx, key, &parse(&e.value)?)?,
            "roadmap:github-scan" => github_scan(&tx, key, &parse(&e.value)?)?,
            _ => {
                if let Some(address) = key.strip_prefix("roadmap:agent-cache:") {
                    agent_cache(&tx, address, e.expiration, &parse(&e.value)?)?;
                }
            }
        }
    }
    let written = tx.total_changes() - before;
    tx.commit().map_err(db)?;
    Ok(written)
}

fn parse(text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------------
// Column values, borrowed from the parsed JSON.

/// A JSON value bound as a SQL parameter the way the mapping stores it.
enum Col<'a> {
    Null,
    Text(&'a str),
    Int(i64),
    Owned(RValue),
}

impl ToSql for Col<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Col::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Col::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Col::Int(i) => ToSqlOutput::Owned(RValue::Integer(*i)),
            Col::Owned(v) => ToSqlOutput::Borrowed(ValueRef::from(v)),
        })
    }
}

fn obj(v: &Value) -> Result<&Map<String, Value>> {
    v.as_object().ok_or_else(|| "expected an object".to_string())
}

/// A string field, or NULL when absent / null.
fn s<'a>(o: &'a Map<String, Value>, k: &str) -> Col<'a> {
    match o.get(k) {
        Some(Value::String(s)) => Col::Text(s),
        _ => Col::Null,
    }
}

fn int(o: &Map<String, Value>, k: &str) -> Col<'static> {
    match o.get(k).and_then(Value::as_i64) {
        Some(i) => Col::Int(i),
        None => Col::Null,
    }
}

/// A number kept as INTEGER or REAL, or a string kept as TEXT (mapping types `number`, `any`).
fn any<'a>(o: &'a Map<String, Value>, k: &str) -> Col<'a> {
    match o.get(k) {
        Some(Value::String(s)) => Col::Text(s),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Col::Int(i),
            None => n.as_f64().map(|f| Col::Owned(RValue::Real(f))).unwrap_or(Col::Null),
        },
        _ => Col::Null,
    }
}

/// The `<column>_absent` companion of an optional, nullable field.
fn absent(o: &Map<String, Value>, k: &str) -> i64 {
    i64::from(!o.contains_key(k))
}

/// A `json` column: the value as compact text.
fn json(o: &Map<String, Value>, k: &str) -> Col<'static> {
    match o.get(k) {
        None | Some(Value::Null) => Col::Null,
        Some(v) => Col::Owned(RValue::Text(serde_json::to_string(v).unwrap_or_default())),
    }
}

fn boolean(o: &Map<String, Value>, k: &str) -> i64 {
    i64::from(o.get(k).and_then(Value::as_bool).unwrap_or(false))
}

/// An embedded object's shape and the object.
fn shape<'a>(o: &'a Map<String, Value>, k: &str) -> (&'static str, Option<&'a Map<String, Value>>) {
    match o.get(k) {
        None => ("absent", None),
        Some(Value::Object(m)) => ("present", Some(m)),
        Some(_) => ("null", None),
    }
}

fn arr<'a>(o: &'a Map<String, Value>, k: &str) -> &'a [Value] {
    o.get(k).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// The unknown fields of a row (`extra_fields`): the row's own, then each embedded object's.
#[derive(Default)]
struct Extra(Map<String, Value>);

impl Extra {
    fn collect(&mut self, at: Option<&str>, o: &Map<String, Value>, known: &[&str]) {
        let mut unknown = o.iter().filter(|(k, _)| !known.contains(&k.as_str())).peekable();
        if unknown.peek().is_none() {
            return;
        }
        let target = match at {
            None => &mut self.0,
            Some(seg) => match self.0.entry(seg.to_string()).or_insert_with(|| Value::Object(Map::new())) {
                Value::Object(m) => m,
                _ => unreachable!("extra path segments are objects"),
            },
        };
        for (k, v) in unknown {
            target.insert(k.clone(), v.clone());
        }
    }

    fn finish(self) -> Col<'static> {
        if self.0.is_empty() {
            Col::Null
        } else {
            Col::Owned(RValue::Text(serde_json::to_string(&Value::Object(self.0)).unwrap_or_default()))
        }
    }
}

/// `*_agent_id`, `*_agent_id_absent` of an optional embedded agent.
fn agent_id<'a>(o: Option<&'a Map<String, Value>>) -> (Col<'a>, i64) {
    match o {
        Some(o) => (any(o, "agentId"), absent(o, "agentId")),
        None => (Col::Null, 0),
    }
}

fn opt_s<'a>(o: Option<&'a Map<String, Value>>, k: &str) -> Col<'a> {
    o.map(|o| s(o, k)).unwrap_or(Col::Null)
}

// ---------------------------------------------------------------------------------------------
// roadmap:items

fn items_doc(tx: &Transaction<'_>, key: &str, v: &Value) -> Result<()> {
    let o = obj(v)?;
    let mut extra = Extra::default();
    extra.collect(None, o, &["version", "writeVersion", "updatedAt", "items"]);
    tx.prepare_cached(
        "INSERT INTO items_doc (kv_key, version, write_version, updated_at, extra_fields) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .map_err(db)?
    .execute(params![key, int(o, "version"), int(o, "writeVersion"), s(o, "updatedAt"), extra.finish()])
    .map_err(db)?;
    for (i, item) in arr(o, "items").iter().enumerate() {
        items(tx, key, i as i64, obj(item)?)?;
    }
    Ok(())
}

const ITEM_KNOWN: &[&str] = &[
    "id",
    "title",
    "description",
    "githubUrl",
    "githubData",
    "founder",
    "status",
    "createdAt",
    "updatedAt",
    "claimedBy",
    "reputation",
    "mentions",
    "leader",
    "website",
    "contributors",
    "deliverables",
    "ratings",
    "goals",
    "goalHistory",
    "searchTerms",
];

const AGENT_KNOWN: &[&str] = &["btcAddress", "displayName", "agentId"];

fn items(tx: &Transaction<'_>, doc_key: &str, position: i64, o: &Map<String, Value>) -> Result<()> {
    let empty = Map::new();
    let mut extra = Extra::default();
    extra.collect(None, o, ITEM_KNOWN);
    let founder = o.get("founder").and_then(Value::as_object).unwrap_or(&empty);
    extra.collect(Some("founder"), founder, &["displayName", "btcAddress", "agentId", "profileUrl"]);
    let (claimed_shape, claimed) = shape(o, "claimedBy");
    if let Some(c) = claimed {
        extra.collect(Some("claimedBy"), c, &["btcAddress", "displayName", "agentId", "claimedAt"]);
    }
    let reputation = o.get("reputation").and_then(Value::as_object).unwrap_or(&empty);
    extra.collect(Some("reputation"), reputation, &["average", "count"]);
    let mentions = o.get("mentions").and_then(Value::as_object).unwrap_or(&empty);
    extra.collect(Some("mentions"), mentions, &["count"]);
    let (leader_shape, leader) = shape(o, "leader");
    if let Some(l) = leader {
        extra.collect(
            Some("leader"),
            l,
            &["btcAddress", "displayName", "agentId", "profileUrl", "assignedAt", "lastActiveAt"],
        );
    }
    let (website_shape, website) = shape(o, "website");
    if let Some(w) = website {
        extra.collect(Some("website"), w, &["url", "source", "discoveredAt"]);
    }
    let (claimed_id, claimed_id_absent) = agent_id(claimed);
    let (leader_id, leader_id_absent) = agent_id(leader);
    let goal_history_shape = if o.contains_key("goalHistory") { "present" } else { "absent" };
    let search_terms_shape = if o.contains_key("searchTerms") { "present" } else { "absent" };
    let id = match o.get("id") {
        Some(Value::String(id)) => id.as_str(),
        _ => return Err("item without an id".into()),
    };
    let params: [&dyn ToSql; 39] = [
        &doc_key,
        &position,
        &id,
        &s(o, "title"),
        &s(o, "description"),
        &s(o, "githubUrl"),
        &json(o, "githubData"),
        &s(founder, "displayName"),
        &s(founder, "btcAddress"),
        &any(founder, "agentId"),
        &absent(founder, "agentId"),
        &s(founder, "profileUrl"),
        &json(o, "status"),
        &s(o, "createdAt"),
        &s(o, "updatedAt"),
        &claimed_shape,
        &opt_s(claimed, "btcAddress"),
        &opt_s(claimed, "displayName"),
        &claimed_id,
        &claimed_id_absent,
        &opt_s(claimed, "claimedAt"),
        &any(reputation, "average"),
        &int(reputation, "count"),
        &int(mentions, "count"),
        &leader_shape,
        &opt_s(leader, "btcAddress"),
        &opt_s(leader, "displayName"),
        &leader_id,
        &leader_id_absent,
        &opt_s(leader, "profileUrl"),
        &opt_s(leader, "assignedAt"),
        &opt_s(leader, "lastActiveAt"),
        &website_shape,
        &opt_s(website, "url"),
        &opt_s(website, "source"),
        &opt_s(website, "discoveredAt"),
        &goal_history_shape,
        &search_terms_shape,
        &extra.finish(),
    ];
    tx.prepare_cached(
        "INSERT INTO items (doc_key, position, id, title, description, github_url, github_data, \
         founder_display_name, founder_btc_address, founder_agent_id, founder_agent_id_absent, founder_profile_url, \
         status, created_at, updated_at, claimed_by_shape, claimed_by_btc_address, claimed_by_display_name, \
         claimed_by_agent_id, claimed_by_agent_id_absent, claimed_by_claimed_at, reputation_average, \
         reputation_count, mentions_count, leader_shape, leader_btc_address, leader_display_name, leader_agent_id, \
         leader_agent_id_absent, leader_profile_url, leader_assigned_at, leader_last_active_at, website_shape, \
         website_url, website_source, website_discovered_at, goal_history_shape, search_terms_shape, extra_fields) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, \
         ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36, ?37, ?38, ?39)",
    )
    .map_err(db)?
    .execute(&params[..])
    .map_err(db)?;

    let mut st = tx
        .prepare_cached(
            "INSERT INTO contributors (item_id, position, btc_address, display_name, agent_id, agent_id_absent, \
             extra_fields) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(db)?;
    for (i, c) in arr(o, "contributors").iter().enumerate() {
        let c = obj(c)?;
        let mut extra = Extra::default();
        extra.collect(None, c, AGENT_KNOWN);
        st.execute(params![
            id,
            i as i64,
            s(c, "btcAddress"),
            s(c, "displayName"),
            any(c, "agentId"),
            absent(c, "agentId"),
            extra.finish()
        ])
        .map_err(db)?;
    }
    let mut st = tx
        .prepare_cached(
            "INSERT INTO deliverables (item_id, position, id, url, title, added_by_btc_address, \
             added_by_display_name, added_by_agent_id, added_by_agent_id_absent, added_at, extra_fields) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .map_err(db)?;
    for (i, d) in arr(o, "deliverables").iter().enumerate() {
        let d = obj(d)?;
        let by = d.get("addedBy").and_then(Value::as_object).unwrap_or(&empty);
        let mut extra = Extra::default();
        extra.collect(None, d, &["id", "url", "title", "addedBy", "addedAt"]);
        extra.collect(Some("addedBy"), by, AGENT_KNOWN);
        st.execute(params![
            id,
            i as i64,
            s(d, "id"),
            s(d, "url"),
            s(d, "title"),
            s(by, "btcAddress"),
            s(by, "displayName"),
            any(by, "agentId"),
            absent(by, "agentId"),
            s(d, "addedAt"),
            extra.finish()
        ])
        .map_err(db)?;
    }
    let mut st = tx
        .prepare_cached(
            "INSERT INTO ratings (item_id, position, agent_id, agent_id_absent, btc_address, display_name, score, \
             review, rated_at, extra_fields) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .map_err(db)?;
    for (i, r) in arr(o, "ratings").iter().enumerate() {
        let r = obj(r)?;
        let mut extra = Extra::default();
        extra.collect(None, r, &["agentId", "btcAddress", "displayName", "score", "review", "ratedAt"]);
        st.execute(params![
            id,
            i as i64,
            any(r, "agentId"),
            absent(r, "agentId"),
            s(r, "btcAddress"),
            s(r, "displayName"),
            int(r, "score"),
            s(r, "review"),
            s(r, "ratedAt"),
            extra.finish()
        ])
        .map_err(db)?;
    }
    for (table, field) in [("goals", "goals"), ("goal_history", "goalHistory")] {
        let sql = if table == "goals" {
            "INSERT INTO goals (item_id, position, id, title, completed, added_by_btc_address, added_by_display_name, \
             added_by_agent_id, added_by_agent_id_absent, added_at, completed_at, extra_fields) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        } else {
            "INSERT INTO goal_history (item_id, position, id, title, completed, added_by_btc_address, \
             added_by_display_name, added_by_agent_id, added_by_agent_id_absent, added_at, completed_at, \
             extra_fields) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        };
        let mut st = tx.prepare_cached(sql).map_err(db)?;
        for (i, g) in arr(o, field).iter().enumerate() {
            let g = obj(g)?;
            let by = g.get("addedBy").and_then(Value::as_object).unwrap_or(&empty);
            let mut extra = Extra::default();
            extra.collect(None, g, &["id", "title", "completed", "addedBy", "addedAt", "completedAt"]);
            extra.collect(Some("addedBy"), by, AGENT_KNOWN);
            st.execute(params![
                id,
                i as i64,
                s(g, "id"),
                s(g, "title"),
                boolean(g, "completed"),
                s(by, "btcAddress"),
                s(by, "displayName"),
                any(by, "agentId"),
                absent(by, "agentId"),
                s(g, "addedAt"),
                s(g, "completedAt"),
                extra.finish()
            ])
            .map_err(db)?;
        }
    }
    let mut st =
        tx.prepare_cached("INSERT INTO search_terms (item_id, position, term) VALUES (?1, ?2, ?3)").map_err(db)?;
    for (i, t) in arr(o, "searchTerms").iter().enumerate() {
        st.execute(params![id, i as i64, t.as_str()]).map_err(db)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The other keys.

fn event_log(tx: &Transaction<'_>, key: &str, v: &Value) -> Result<()> {
    let o = obj(v)?;
    let mut extra = Extra::default();
    extra.collect(None, o, &["version", "events"]);
    tx.prepare_cached("INSERT INTO event_log (kv_key, version, extra_fields) VALUES (?1, ?2, ?3)")
        .map_err(db)?
        .execute(params![key, int(o, "version"), extra.finish()])
        .map_err(db)?;
    let mut st = tx
        .prepare_cached(
            "INSERT INTO events (log_key, position, id, event_type, timestamp, agent_shape, agent_btc_address, \
             agent_display_name, agent_agent_id, agent_agent_id_absent, item_id, item_title, data, extra_fields) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )
        .map_err(db)?;
    for (i, e) in arr(o, "events").iter().enumerate() {
        let e = obj(e)?;
        let mut extra = Extra::default();
        extra.collect(None, e, &["id", "type", "timestamp", "agent", "itemId", "itemTitle", "data"]);
        let (agent_shape, agent) = shape(e, "agent");
        if let Some(a) = agent {
            extra.collect(Some("agent"), a, AGENT_KNOWN);
        }
        let (aid, aid_absent) = agent_id(agent);
        st.execute(params![
            key,
            i as i64,
            s(e, "id"),
            s(e, "type"),
            s(e, "timestamp"),
            agent_shape,
            opt_s(agent, "btcAddress"),
            opt_s(agent, "displayName"),
            aid,
            aid_absent,
            s(e, "itemId"),
            s(e, "itemTitle"),
            json(e, "data"),
            extra.finish()
        ])
        .map_err(db)?;
    }
    Ok(())
}

fn message_archive(tx: &Transaction<'_>, key: &str, v: &Value) -> Result<()> {
    let o = obj(v)?;
    let mut extra = Extra::default();
    extra.collect(None, o, &["version", "messages"]);
    tx.prepare_cached("INSERT INTO message_archive_doc (kv_key, version, extra_fields) VALUES (?1, ?2, ?3)")
        .map_err(db)?
        .execute(params![key, int(o, "version"), extra.finish()])
        .map_err(db)?;
    let mut st = tx
        .prepare_cached(
            "INSERT INTO message_archive (archive_key, position, timestamp, agent_shape, agent_btc_address, \
             agent_display_name, recipient_shape, recipient_btc_address, recipient_display_name, message_preview, \
             extra_fields) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .map_err(db)?;
    for (i, m) in arr(o, "messages").iter().enumerate() {
        let m = obj(m)?;
        let mut extra = Extra::default();
        extra.collect(None, m, &["timestamp", "agent", "recipient", "messagePreview"]);
        let (agent_shape, agent) = shape(m, "agent");
        if let Some(a) = agent {
            extra.collect(Some("agent"), a, &["btcAddress", "displayName"]);
        }
        let (recipient_shape, recipient) = shape(m, "recipient");
        if let Some(r) = recipient {
            extra.collect(Some("recipient"), r, &["btcAddress", "displayName"]);
        }
        st.execute(params![
            key,
            i as i64,
            s(m, "timestamp"),
            agent_shape,
            opt_s(agent, "btcAddress"),
            opt_s(agent, "displayName"),
            recipient_shape,
            opt_s(recipient, "btcAddress"),
            opt_s(recipient, "displayName"),
            s(m, "messagePreview"),
            extra.finish()
        ])
        .map_err(db)?;
    }
    Ok(())
}

fn mention_scan(tx: &Transaction<'_>, key: &str, v: &Value) -> Result<()> {
    let o = obj(v)?;
    let mut extra = Extra::default();
    extra.collect(None, o, &["lastScanAt", "processedIds"]);
    tx.prepare_cached("INSERT INTO mention_scan_state (kv_key, last_scan_at, extra_fields) VALUES (?1, ?2, ?3)")
        .map_err(db)?
        .execute(params![key, s(o, "lastScanAt"), extra.finish()])
        .map_err(db)?;
    let mut st = tx
        .prepare_cached("INSERT INTO mention_processed_ids (scan_key, position, processed_id) VALUES (?1, ?2, ?3)")
        .map_err(db)?;
    for (i, p) in arr(o, "processedIds").iter().enumerate() {
        st.execute(params![key, i as i64, p.as_str()]).map_err(db)?;
    }
    Ok(())
}

fn github_map(tx: &Transaction<'_>, key: &str, v: &Value) -> Result<()> {
    let o = obj(v)?;
    let mut extra = Extra::default();
    extra.collect(None, o, &["version", "mappings"]);
    tx.prepare_cached("INSERT INTO github_map_doc (kv_key, version, extra_fields) VALUES (?1, ?2, ?3)")
        .map_err(db)?
        .execute(params![key, int(o, "version"), extra.finish()])
        .map_err(db)?;
    let mut st = tx
        .prepare_cached("INSERT INTO github_mappings (map_key, login, btc_address) VALUES (?1, ?2, ?3)")
        .map_err(db)?;
    if let Some(m) = o.get("mappings").and_then(Value::as_object) {
        for (login, addr) in m {
            st.execute(params![key, login, addr.as_str()]).map_err(db)?;
        }
    }
    Ok(())
}

fn github_scan(tx: &Transaction<'_>, key: &str, v: &Value) -> Result<()> {
    let o = obj(v)?;
    let mut extra = Extra::default();
    extra.collect(None, o, &["version", "websiteFilterVersion", "repos"]);
    tx.prepare_cached(
        "INSERT INTO github_scan_doc (kv_key, version, website_filter_version, extra_fields) VALUES (?1, ?2, ?3, ?4)",
    )
    .map_err(db)?
    .execute(params![key, int(o, "version"), int(o, "websiteFilterVersion"), extra.finish()])
    .map_err(db)?;
    let Some(repos) = o.get("repos").and_then(Value::as_object) else { return Ok(()) };
    let mut repo_st =
        tx.prepare_cached("INSERT INTO scan_repos (scan_key, repo, extra_fields) VALUES (?1, ?2, ?3)").map_err(db)?;
    let mut state_st = tx
        .prepare_cached(
            "INSERT INTO scan_state (scan_key, repo, scan_type, last_attempt_at, fail_count) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(db)?;
    for (repo, r) in repos {
        let r = obj(r)?;
        let mut extra = Extra::default();
        extra.collect(
            None,
            r,
            &["contributors", "contributorFails", "events", "eventFails", "website", "websiteFails"],
        );
        repo_st.execute(params![key, repo, extra.finish()]).map_err(db)?;
        for (kind, at, fails) in [
            ("contributors", "contributors", "contributorFails"),
            ("events", "events", "eventFails"),
            ("website", "website", "websiteFails"),
        ] {
            if r.contains_key(at) || r.contains_key(fails) {
                state_st.execute(params![key, repo, kind, s(r, at), int(r, fails)]).map_err(db)?;
            }
        }
    }
    Ok(())
}

fn agent_cache(tx: &Transaction<'_>, address: &str, expiration: Option<i64>, v: &Value) -> Result<()> {
    let o = obj(v)?;
    let mut extra = Extra::default();
    extra.collect(None, o, &["btcAddress", "stxAddress", "displayName", "description", "agentId"]);
    tx.prepare_cached(
        "INSERT INTO agent_cache (address, expires_at, btc_address, stx_address, display_name, description, \
         description_absent, agent_id, agent_id_absent, extra_fields) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .map_err(db)?
    .execute(params![
        address,
        expiration,
        s(o, "btcAddress"),
        s(o, "stxAddress"),
        s(o, "displayName"),
        s(o, "description"),
        absent(o, "description"),
        any(o, "agentId"),
        absent(o, "agentId"),
        extra.finish()
    ])
    .map_err(db)?;
    Ok(())
}
