//! Arbitrary bytes as the value of one KV key of the example dump (the first byte picks the
//! key), migrated into a fresh in-memory SQLite: the migration returns Ok or Err, never panics,
//! and when it succeeds the export is exactly the upgraded input (nothing lost, nothing added).
#![no_main]

use kv2sql_runtime::{KvEntry, KvSnapshot};
use libfuzzer_sys::fuzz_target;

const KEYS: &[&str] = &[
    "roadmap:items",
    "roadmap:events",
    "roadmap:message-archive",
    "roadmap:mention-scan",
    "roadmap:github-map",
    "roadmap:github-scan",
    "roadmap:agent-cache:bc1qqaxq5vxszt0lzmr9gskv4lcx7jzrg772s4vxpp",
];

fn example() -> &'static KvSnapshot {
    static EXAMPLE: std::sync::OnceLock<KvSnapshot> = std::sync::OnceLock::new();
    EXAMPLE.get_or_init(|| {
        let text = include_str!("../../examples/v1-dump.json");
        kv2sql_runtime::dump::parse_dump(text, 0).expect("the example dump parses")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, value)) = data.split_first() else { return };
    let key = KEYS[usize::from(which) % KEYS.len()];
    let value = String::from_utf8_lossy(value).into_owned();
    let mut entries: Vec<KvEntry> = example().entries().iter().filter(|e| e.key != key).cloned().collect();
    entries.push(KvEntry { key: key.to_string(), value, expiration: Some(2_000_000_000) });
    let kv = KvSnapshot::new(entries).expect("keys stay unique");

    let mut conn = rusqlite::Connection::open_in_memory().expect("in-memory SQLite");
    kv2sql_runtime::sqlite::configure(&conn).expect("configure");
    if kv2sql::migrate(&mut conn, &kv, false).is_ok() {
        let upgraded = kv2sql_generated::upgraded(&kv).expect("a migrated snapshot upgrades");
        let exported = kv2sql::export(&mut conn).expect("a migrated database exports");
        let diffs = kv2sql::compare(&upgraded, &exported);
        assert!(diffs.is_empty(), "export differs from the upgraded input: {diffs:?}");
    }
});
