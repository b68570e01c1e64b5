//! Reading the v1 KV namespace into a [`KvSnapshot`]. Read only: the Worker never writes, deletes
//! or expires a KV key.
//!
//! * Values are read as bytes (or text), never with `.json()`: JavaScript's `JSON.parse` would
//!   round integers beyond 2^53. The runtime parses them with serde_json.
//! * A `Key` source: `list({prefix: key, limit: 1})` for its expiration and metadata (the key
//!   itself sorts first among the keys it prefixes), then `get(key, "arrayBuffer")`.
//! * A `Prefix` source: `list({prefix})` page by page (cursor) until `list_complete`, carrying
//!   each key's expiration, then the values 100 at a time with the bulk `get(keys[], "text")`,
//!   so that 1000 keys cost 1 list and 10 gets, well within the per-invocation KV operation limit.
//! * KV metadata is refused, as `kv2sql migrate --dump` refuses it: kv2sql migrates values and
//!   loses nothing silently.

use std::collections::BTreeMap;

use kv2sql_runtime::{Error, KvEntry, KvSnapshot};
use worker::kv::KvStore;

use kv2sql_generated::KvSource;

const BULK: usize = 100;

fn kv_error(what: &str, e: impl std::fmt::Display) -> Error {
    // Error::Dump is the runtime's error for "could not obtain the KV data".
    Error::Dump(format!("reading KV ({what}): {e}"))
}

struct Listed {
    expiration: Option<i64>,
    has_metadata: bool,
}

async fn list_prefix(kv: &KvStore, prefix: &str, limit: Option<u64>) -> Result<BTreeMap<String, Listed>, Error> {
    let mut out = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = kv.list().prefix(prefix.to_string());
        if let Some(l) = limit {
            q = q.limit(l);
        }
        if let Some(c) = cursor.take() {
            q = q.cursor(c);
        }
        let page = q.execute().await.map_err(|e| kv_error(&format!("list prefix {prefix:?}"), e))?;
        for k in page.keys {
            let has_metadata = k.metadata.as_ref().is_some_and(|m| !m.is_null());
            out.insert(k.name, Listed { expiration: k.expiration.map(|x| x as i64), has_metadata });
        }
        if limit.is_some() || page.list_complete {
            break;
        }
        match page.cursor {
            Some(c) if !c.is_empty() => cursor = Some(c),
            _ => break,
        }
    }
    Ok(out)
}

fn refuse_metadata(key: &str, l: &Listed) -> Result<(), Error> {
    if l.has_metadata {
        return Err(Error::Dump(format!("{key}: has KV metadata, which kv2sql does not migrate; remove it to go on")));
    }
    Ok(())
}

/// Reads every KV entry named by `sources`.
pub async fn read_sources(kv: &KvStore, sources: &[KvSource]) -> Result<KvSnapshot, Error> {
    let mut entries: BTreeMap<String, KvEntry> = BTreeMap::new();
    for source in sources {
        match *source {
            KvSource::Key(key) => {
                if entries.contains_key(key) {
                    continue;
                }
                let listed = list_prefix(kv, key, Some(1)).await?;
                let meta = listed.get(key);
                if let Some(l) = meta {
                    refuse_metadata(key, l)?;
                }
                let bytes = kv.get(key).bytes().await.map_err(|e| kv_error(&format!("get {key:?}"), e))?;
                if let Some(bytes) = bytes {
                    let value = String::from_utf8(bytes)
                        .map_err(|e| Error::Utf8 { kv_key: key.to_string(), message: e.to_string() })?;
                    let expiration = meta.and_then(|l| l.expiration);
                    entries.insert(key.to_string(), KvEntry { key: key.to_string(), value, expiration });
                }
            }
            KvSource::Prefix(prefix) => {
                let listed = list_prefix(kv, prefix, None).await?;
                let todo: Vec<(&String, &Listed)> = listed.iter().filter(|(k, _)| !entries.contains_key(*k)).collect();
                for (k, l) in &todo {
                    refuse_metadata(k, l)?;
                }
                for chunk in todo.chunks(BULK) {
                    let keys: Vec<&str> = chunk.iter().map(|(k, _)| k.as_str()).collect();
                    let mut values = kv
                        .get_bulk(&keys)
                        .text()
                        .await
                        .map_err(|e| kv_error(&format!("get {} keys with prefix {prefix:?}", keys.len()), e))?;
                    for (k, l) in chunk {
                        // A key listed but gone by the time of the get (expired) is skipped.
                        if let Some(Some(value)) = values.remove(k.as_str()) {
                            entries
                                .insert((*k).clone(), KvEntry { key: (*k).clone(), value, expiration: l.expiration });
                        }
                    }
                }
            }
        }
    }
    KvSnapshot::new(entries.into_values().collect())
}

/// The keys of the namespace that no source maps (listed, never read): the report names them so
/// that nothing is left behind silently.
pub async fn unmapped_keys(kv: &KvStore, sources: &[KvSource]) -> Result<Vec<String>, Error> {
    let all = list_prefix(kv, "", None).await?;
    Ok(all
        .into_keys()
        .filter(|k| {
            !sources.iter().any(|s| match *s {
                KvSource::Key(key) => k == key,
                KvSource::Prefix(p) => k.starts_with(p),
            })
        })
        .collect())
}
