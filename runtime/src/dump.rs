//! KV snapshots and the `wrangler kv bulk put` JSON format:
//! `[{"key", "value", "expiration"?, "expiration_ttl"?, "metadata"?, "base64"?}, …]`.

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// One KV entry: its key, its value as text, and its expiration (seconds since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    pub key: String,
    pub value: String,
    pub expiration: Option<i64>,
}

/// Every KV entry a migration reads, in key order, keys unique.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KvSnapshot {
    entries: Vec<KvEntry>,
}

impl KvSnapshot {
    /// Builds a snapshot; two entries with one key are an error.
    pub fn new(mut entries: Vec<KvEntry>) -> Result<Self, Error> {
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        if let Some(w) = entries.windows(2).find(|w| w[0].key == w[1].key) {
            return Err(Error::Dump(format!("the key {:?} appears more than once", w[0].key)));
        }
        Ok(KvSnapshot { entries })
    }

    pub fn entries(&self) -> &[KvEntry] {
        &self.entries
    }

    pub fn get(&self, key: &str) -> Option<&KvEntry> {
        self.entries.binary_search_by(|e| e.key.as_str().cmp(key)).ok().map(|i| &self.entries[i])
    }

    /// Entries whose key starts with `prefix`, in key order.
    pub fn with_prefix<'s>(&'s self, prefix: &'s str) -> impl Iterator<Item = &'s KvEntry> + 's {
        let start = self.entries.partition_point(|e| e.key.as_str() < prefix);
        self.entries[start..].iter().take_while(move |e| e.key.starts_with(prefix))
    }

    pub fn into_entries(self) -> Vec<KvEntry> {
        self.entries
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkEntry {
    key: String,
    value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expiration: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expiration_ttl: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metadata: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base64: Option<bool>,
}

/// Parses a bulk dump. `now` (Unix seconds) turns an `expiration_ttl` into an expiration.
/// Metadata is refused rather than dropped: kv2sql migrates values, and nothing is lost silently.
pub fn parse_dump(text: &str, now: i64) -> Result<KvSnapshot, Error> {
    let raw: Vec<BulkEntry> = serde_json::from_str(text).map_err(|e| {
        Error::Dump(format!(
            "not a `wrangler kv bulk` JSON file (an array of {{\"key\", \"value\", \"expiration\"?, \"expiration_ttl\"?, \"metadata\"?, \"base64\"?}}): {e}"
        ))
    })?;
    let mut entries = Vec::with_capacity(raw.len());
    for e in raw {
        if e.metadata.as_ref().is_some_and(|m| !m.is_null()) {
            return Err(Error::Dump(format!(
                "{}: has KV metadata, which kv2sql does not migrate; remove it from the dump to go on",
                e.key
            )));
        }
        let value = if e.base64 == Some(true) {
            let bytes = base64::engine::general_purpose::STANDARD.decode(e.value.as_bytes()).map_err(|err| {
                Error::Dump(format!("{}: `base64` is true but the value is not base64: {err}", e.key))
            })?;
            String::from_utf8(bytes).map_err(|err| Error::Utf8 { kv_key: e.key.clone(), message: err.to_string() })?
        } else {
            e.value
        };
        let expiration = match (e.expiration, e.expiration_ttl) {
            (Some(x), _) => Some(x),
            (None, Some(ttl)) => Some(now.saturating_add(ttl)),
            (None, None) => None,
        };
        entries.push(KvEntry { key: e.key, value, expiration });
    }
    KvSnapshot::new(entries)
}

/// Writes a bulk dump (pretty-printed, keys in order).
pub fn write_dump(snapshot: &KvSnapshot) -> String {
    let raw: Vec<BulkEntry> = snapshot
        .entries
        .iter()
        .map(|e| BulkEntry {
            key: e.key.clone(),
            value: e.value.clone(),
            expiration: e.expiration,
            expiration_ttl: None,
            metadata: None,
            base64: None,
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&raw).expect("a dump serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bulk_format_with_base64_and_ttl() {
        let text = r#"[
            {"key": "b", "value": "eyJhIjoxfQ==", "base64": true},
            {"key": "a", "value": "{}", "expiration_ttl": 60},
            {"key": "c", "value": "1", "expiration": 1700000000}
        ]"#;
        let s = parse_dump(text, 1000).unwrap();
        let keys: Vec<&str> = s.entries().iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(s.get("a").unwrap().expiration, Some(1060));
        assert_eq!(s.get("b").unwrap().value, r#"{"a":1}"#);
        assert_eq!(s.get("c").unwrap().expiration, Some(1700000000));
        assert_eq!(parse_dump(&write_dump(&s), 0).unwrap(), s);
    }

    #[test]
    fn refuses_what_it_cannot_keep() {
        assert!(matches!(parse_dump(r#"{"key": "a"}"#, 0), Err(Error::Dump(_))));
        assert!(matches!(parse_dump(r#"[{"key": "a", "value": "1", "bogus": 1}]"#, 0), Err(Error::Dump(_))));
        assert!(matches!(parse_dump(r#"[{"key": "a", "value": "1", "metadata": {"x": 1}}]"#, 0), Err(Error::Dump(_))));
        let bad_utf8 = r#"[{"key": "a", "value": "/w==", "base64": true}]"#;
        assert!(matches!(parse_dump(bad_utf8, 0), Err(Error::Utf8 { .. })));
        let dup = r#"[{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]"#;
        assert!(matches!(parse_dump(dup, 0), Err(Error::Dump(_))));
    }

    #[test]
    fn prefix_scan() {
        let s = KvSnapshot::new(vec![
            KvEntry { key: "p:1".into(), value: "1".into(), expiration: None },
            KvEntry { key: "o".into(), value: "1".into(), expiration: None },
            KvEntry { key: "p:2".into(), value: "1".into(), expiration: None },
            KvEntry { key: "q".into(), value: "1".into(), expiration: None },
        ])
        .unwrap();
        let keys: Vec<&str> = s.with_prefix("p:").map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["p:1", "p:2"]);
    }
}
