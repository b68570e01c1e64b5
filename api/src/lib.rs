//! The read side of v2, over any [`SqlExecutor`] (rusqlite natively, `SqlStorage` in the
//! Durable Object): what `GET /api/items`, `GET /api/feed` and the agent cache serve. The write
//! side (items and events) is in [`write`].

pub mod write;

use kv2sql_generated::{agent_cache, event_log, items_doc};
use kv2sql_runtime::{Error, Row, SqlExecutor, SqlRef, SqlValue};
use serde_json::{json, Value};

/// v1's `deriveStatus`: the status shown for an item, from its `githubData` (§2.3.13).
pub fn derive_status(github_data: &Value) -> &'static str {
    let Some(gd) = github_data.as_object() else { return "todo" };
    let field = |k: &str| gd.get(k).and_then(Value::as_str);
    let truthy = |k: &str| match gd.get(k) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(_) => true,
    };
    if !truthy("type") {
        return "todo";
    }
    match field("type") {
        Some("repo") => {
            if field("state") == Some("archived") {
                "done"
            } else {
                "in-progress"
            }
        }
        Some("pr") => {
            if truthy("merged") {
                "done"
            } else if field("state") == Some("closed") {
                "blocked"
            } else {
                "in-progress"
            }
        }
        _ => {
            if field("state") == Some("closed") {
                "done"
            } else {
                "in-progress"
            }
        }
    }
}

/// `GET /api/items`: the items envelope as v1 returned it — items in display order, each with
/// its status derived from `githubData` (the stored status is a stale snapshot).
pub fn items(db: &mut dyn SqlExecutor) -> Result<Value, Error> {
    let entries = items_doc::export(db)?;
    let Some(entry) = entries.first() else {
        // v1's in-code default for a missing key, as its upgrade-on-read returns it.
        let cx = kv2sql_runtime::json::Cx { kv_key: "roadmap:items" };
        return Ok(kv2sql_roadmap::v1::upgrade_items(json!({"version": 1, "items": []}), &cx)?);
    };
    let mut doc: Value = kv2sql_runtime::json::from_text(&entry.value)
        .map_err(|e| Error::Export { table: "items".into(), message: e.to_string() })?;
    if let Some(list) = doc.get_mut("items").and_then(Value::as_array_mut) {
        for item in list {
            let status = derive_status(item.get("githubData").unwrap_or(&Value::Null));
            if let Some(o) = item.as_object_mut() {
                o.insert("status".into(), Value::String(status.into()));
            }
        }
    }
    Ok(doc)
}

/// Filters of `GET /api/feed`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedQuery {
    pub event_type: Option<String>,
    pub item_id: Option<String>,
    /// 1–200 as in v1; values outside are clamped, absent means 50.
    pub limit: Option<i64>,
}

impl FeedQuery {
    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(50).clamp(1, 200)
    }
}

/// The SQL of a feed query and its parameters: one statement per filter combination, so that
/// each is served by an index (`events_newest`, `events_by_type`, `events_by_item`).
pub fn feed_sql(q: &FeedQuery) -> (String, Vec<SqlValue>) {
    let select = <event_log::EventsRow as Row>::SELECT;
    let limit = SqlValue::Integer(q.limit());
    match (&q.event_type, &q.item_id) {
        (None, None) => (format!("{select} ORDER BY \"timestamp\" DESC LIMIT ?1"), vec![limit]),
        (Some(t), None) => (
            format!("{select} WHERE \"event_type\" = ?1 ORDER BY \"timestamp\" DESC LIMIT ?2"),
            vec![SqlValue::Text(t.clone()), limit],
        ),
        (None, Some(i)) => (
            format!("{select} WHERE \"item_id\" = ?1 ORDER BY \"timestamp\" DESC LIMIT ?2"),
            vec![SqlValue::Text(i.clone()), limit],
        ),
        (Some(t), Some(i)) => (
            format!("{select} WHERE \"item_id\" = ?1 AND \"event_type\" = ?2 ORDER BY \"timestamp\" DESC LIMIT ?3"),
            vec![SqlValue::Text(i.clone()), SqlValue::Text(t.clone()), limit],
        ),
    }
}

/// `GET /api/feed`: events newest first (every event v2 has seen, not only v1's last 200).
pub fn feed(db: &mut dyn SqlExecutor, q: &FeedQuery) -> Result<Value, Error> {
    let (sql, params) = feed_sql(q);
    let mut events = Vec::new();
    let params: Vec<SqlRef<'_>> = params.iter().map(SqlValue::as_ref).collect();
    for values in db.query(&sql, &params)? {
        let row = event_log::EventsRow::from_row(values)?;
        events.push(row.to_json().map_err(|message| Error::Export { table: "events".into(), message })?);
    }
    Ok(json!({ "events": events }))
}

/// An agent-cache entry, or `None` when there is none or it has expired (`now`: Unix seconds).
/// An entry copied from KV with its expiration is never served after it.
pub fn agent_cache_get(db: &mut dyn SqlExecutor, address: &str, now: i64) -> Result<Option<Value>, Error> {
    let sql = format!(
        "{} WHERE \"address\" = ?1 AND (\"expires_at\" IS NULL OR \"expires_at\" > ?2)",
        <agent_cache::AgentCacheRow as Row>::SELECT
    );
    let rows = db.query(&sql, &[SqlRef::Text(address), SqlRef::Integer(now)])?;
    match rows.into_iter().next() {
        None => Ok(None),
        Some(values) => {
            let row = agent_cache::AgentCacheRow::from_row(values)?;
            row.to_json().map(Some).map_err(|message| Error::Export { table: "agent_cache".into(), message })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_status_like_v1() {
        assert_eq!(derive_status(&Value::Null), "todo");
        assert_eq!(derive_status(&json!({"_notFound": true})), "todo");
        assert_eq!(derive_status(&json!({"_notFoundCount": 2, "fetchedAt": "x"})), "todo");
        assert_eq!(derive_status(&json!({"type": "repo", "state": "archived"})), "done");
        assert_eq!(derive_status(&json!({"type": "repo", "state": "active"})), "in-progress");
        assert_eq!(derive_status(&json!({"type": "pr", "merged": true, "state": "closed"})), "done");
        assert_eq!(derive_status(&json!({"type": "pr", "merged": false, "state": "closed"})), "blocked");
        assert_eq!(derive_status(&json!({"type": "pr", "merged": false, "state": "open"})), "in-progress");
        assert_eq!(derive_status(&json!({"type": "issue", "state": "closed"})), "done");
        assert_eq!(derive_status(&json!({"type": "issue", "state": "open"})), "in-progress");
    }
}
