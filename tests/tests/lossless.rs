//! Lossless, proven: exporting what was migrated gives back the upgraded KV values exactly —
//! the same keys present or absent, null vs absent, array order, numbers, strings, unknown
//! fields — for every fixture and for generated v1 data of every persisted version.

use kv2sql_datagen::{generate, Options, Size};
use kv2sql_runtime::{KvEntry, KvSnapshot};
use kv2sql_tests::{example_dump, fixtures, memory_db};
use proptest::prelude::*;
use serde_json::{json, Value};

fn value_of(snap: &KvSnapshot, key: &str) -> Value {
    serde_json::from_str(&snap.get(key).unwrap_or_else(|| panic!("{key} exported")).value).unwrap()
}

fn fixture(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join(name)).unwrap()).unwrap()
}

/// Migrates, exports, and checks export == upgraded(input) for every key, with expirations;
/// then checks that a second run writes nothing. Returns the export.
fn round_trip(snap: &KvSnapshot) -> KvSnapshot {
    let mut conn = memory_db();
    let first = kv2sql::migrate(&mut conn, snap, false).expect("migrates");
    let exported = kv2sql::export(&mut conn).expect("exports");
    let expected = kv2sql_generated::upgraded(snap).expect("upgrades");
    let diffs = kv2sql::compare(&expected, &exported);
    assert!(diffs.is_empty(), "export differs from the upgraded input: {diffs:#?}");
    assert_eq!(expected.entries().len(), exported.entries().len());

    let second = kv2sql::migrate(&mut conn, snap, false).expect("re-migrates");
    assert_eq!(second.rows_written, Some(0), "a re-run writes no row: {}", second.render_text());
    for t in &second.tables {
        assert_eq!((t.inserted, t.updated, t.deleted), (0, 0, 0), "{t:?}");
        assert_eq!(t.unchanged, t.source_rows, "{t:?}");
    }
    assert!(first.rows_written.unwrap() > 0 || snap.entries().is_empty());
    exported
}

#[test]
fn fixtures_come_back_exactly() {
    let exported = round_trip(&example_dump());
    // items.json is at version 10 with writeVersion: the upgrade changes nothing.
    assert_eq!(value_of(&exported, "roadmap:items"), fixture("items.json"));
    assert_eq!(value_of(&exported, "roadmap:events"), fixture("events.json"));
    assert_eq!(value_of(&exported, "roadmap:message-archive"), fixture("message_archive.json"));
    assert_eq!(value_of(&exported, "roadmap:mention-scan"), fixture("mention_scan.json"));
    assert_eq!(value_of(&exported, "roadmap:github-map"), fixture("github_map.json"));
    assert_eq!(value_of(&exported, "roadmap:github-scan"), fixture("github_scan.json"));
    let a = "roadmap:agent-cache:bc1qqaxq5vxszt0lzmr9gskv4lcx7jzrg772s4vxpp";
    assert_eq!(value_of(&exported, a), fixture("agent_cache_getAgent.json"));
    assert_eq!(exported.get(a).unwrap().expiration, Some(2_100_000_000));
    let b = "roadmap:agent-cache:bc1q7zpy3kpxjzrfctz4en9k2h5sp8nwhctgz54sn5";
    assert_eq!(value_of(&exported, b), fixture("agent_cache_resolveGithubUser.json"));
}

#[test]
fn fixtures_come_back_byte_for_byte_where_key_order_allows() {
    // Strings, numbers and nesting are byte-identical: compare canonical (sorted-key) text.
    fn canonical(v: &Value) -> String {
        match v {
            Value::Object(o) => {
                let mut keys: Vec<&String> = o.keys().collect();
                keys.sort();
                let parts: Vec<String> = keys
                    .iter()
                    .map(|k| format!("{}:{}", serde_json::to_string(k).unwrap(), canonical(&o[*k])))
                    .collect();
                format!("{{{}}}", parts.join(","))
            }
            Value::Array(a) => format!("[{}]", a.iter().map(canonical).collect::<Vec<_>>().join(",")),
            other => serde_json::to_string(other).unwrap(),
        }
    }
    let input = example_dump();
    let exported = round_trip(&input);
    for e in input.entries() {
        let a: Value = serde_json::from_str(&e.value).unwrap();
        let b = value_of(&exported, &e.key);
        assert_eq!(canonical(&a), canonical(&b), "{}", e.key);
    }
}

#[test]
fn legacy_v1_blob_is_upgraded_like_v1_get_data() {
    let text = std::fs::read_to_string(kv2sql_tests::root().join("examples/v1-legacy-dump.json")).unwrap();
    let snap = kv2sql_runtime::dump::parse_dump(&text, 0).unwrap();
    let exported = round_trip(&snap);
    assert_eq!(value_of(&exported, "roadmap:items"), fixture("items_legacy_v1.expected_after_getData.json"));
}

#[test]
fn numbers_and_presence_are_exact() {
    let items = json!({
        "version": 10, "writeVersion": 9007199254740993_i64, "updatedAt": "2026-02-28T00:00:00.000Z",
        "items": [{
            "id": "r_00000001", "title": "", "description": "", "githubUrl": "", "githubData": null,
            "founder": {"displayName": "A", "btcAddress": "bc1a", "profileUrl": "https://aibtc.com/agents/bc1a"},
            "contributors": [
                {"btcAddress": "bc1a", "displayName": "A", "agentId": 0},
                {"btcAddress": "bc1b", "agentId": null},
                {"btcAddress": "bc1c", "displayName": "C", "agentId": "0"},
                {"btcAddress": "bc1d", "displayName": "D"}
            ],
            "status": {"legacy": true}, "createdAt": "2026-02-21T00:00:00.000Z", "updatedAt": "2026-02-21T00:00:00.000Z",
            "claimedBy": null, "deliverables": [], "ratings": [],
            "reputation": {"average": 4, "count": 1}, "goals": [], "mentions": {"count": 0},
            "leader": null, "searchTerms": ["x", "x"], "unknownTopLevel": {"nested": [1, 2.5, "three"]}
        }, {
            "id": "r_00000002", "title": "Ünïcödé — | – 🚀", "description": "\"quoted\" \\ back", "githubUrl": "x",
            "githubData": {"_notFound": true, "_notFoundCount": 3, "fetchedAt": null, "huge": 0},
            "founder": {"displayName": "B", "btcAddress": "bc1b", "agentId": 7, "profileUrl": "p", "extra": 1},
            "contributors": [], "status": "paid", "createdAt": "c", "updatedAt": "u",
            "claimedBy": {"btcAddress": "bc1b", "claimedAt": "t"}, "deliverables": [], "ratings": [],
            "reputation": {"average": 4.5, "count": 2}, "goals": [], "mentions": {"count": 1},
            "leader": {"profileUrl": "p", "assignedAt": "a", "lastActiveAt": "l", "agentId": null},
            "website": null, "goalHistory": []
        }, {
            "id": "r_00000003", "title": "t", "description": "", "githubUrl": "", "githubData": {"type": "pr", "merged": false},
            "founder": {"displayName": "C", "btcAddress": "bc1c", "agentId": null, "profileUrl": "p"},
            "contributors": [], "status": "todo", "createdAt": "c", "updatedAt": "u",
            "claimedBy": null, "deliverables": [], "ratings": [],
            "reputation": {"average": 0, "count": 0}, "goals": [], "mentions": {"count": 0},
            "leader": null, "website": {"url": "https://x", "source": "homepage", "discoveredAt": "d"}
        }]
    });
    // A number beyond any machine type, kept verbatim in the `json` column githubData.
    let text = items.to_string().replace("\"huge\":0", "\"huge\":123456789012345678901234567890");
    let items: Value = serde_json::from_str(&text).unwrap();
    let snap = KvSnapshot::new(vec![KvEntry { key: "roadmap:items".into(), value: text, expiration: None }]).unwrap();
    let exported = round_trip(&snap);
    let back = value_of(&exported, "roadmap:items");
    assert_eq!(back, items);
    let text = &exported.get("roadmap:items").unwrap().value;
    assert!(text.contains("\"writeVersion\":9007199254740993"), "{text}");
    assert!(text.contains("123456789012345678901234567890"), "digits kept in json columns");
    assert!(text.contains("\"average\":4,") && text.contains("\"average\":4.5,") && text.contains("\"average\":0,"));
}

#[test]
fn events_beyond_the_cap_are_kept_and_export_shows_the_current_value() {
    let event = |i: u32| {
        json!({"id": format!("e_{i:08x}"), "type": "item.updated", "timestamp": format!("2026-03-01T00:00:{:02}.{:03}Z", i / 1000, i % 1000),
               "agent": null, "itemId": null, "itemTitle": null, "data": {}})
    };
    let snap_of = |range: std::ops::Range<u32>| {
        let events: Vec<Value> = range.rev().map(event).collect();
        KvSnapshot::new(vec![KvEntry {
            key: "roadmap:events".into(),
            value: json!({"version": 1, "events": events}).to_string(),
            expiration: None,
        }])
        .unwrap()
    };
    let mut conn = memory_db();
    kv2sql::migrate(&mut conn, &snap_of(0..200), false).unwrap();
    let report = kv2sql::migrate(&mut conn, &snap_of(50..250), false).unwrap();
    let events = report.tables.iter().find(|t| t.table == "events").unwrap();
    assert_eq!((events.inserted, events.retained), (50, 50), "{events:?}");
    let total: i64 = conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)).unwrap();
    assert_eq!(total, 250, "every event ever seen is kept");
    let exported = kv2sql::export(&mut conn).unwrap();
    assert_eq!(
        value_of(&exported, "roadmap:events"),
        serde_json::from_str::<Value>(&snap_of(50..250).entries()[0].value).unwrap()
    );
    // Idempotent with history present.
    assert_eq!(kv2sql::migrate(&mut conn, &snap_of(50..250), false).unwrap().rows_written, Some(0));
}

#[test]
fn removed_keys_and_items_mirror_the_source() {
    let mut conn = memory_db();
    let full = example_dump();
    kv2sql::migrate(&mut conn, &full, false).unwrap();
    // Drop an item and the github-map key.
    let mut entries: Vec<KvEntry> = full.entries().iter().filter(|e| e.key != "roadmap:github-map").cloned().collect();
    for e in &mut entries {
        if e.key == "roadmap:items" {
            let mut v: Value = serde_json::from_str(&e.value).unwrap();
            v["items"].as_array_mut().unwrap().remove(0);
            e.value = v.to_string();
        }
    }
    let smaller = KvSnapshot::new(entries).unwrap();
    kv2sql::migrate(&mut conn, &smaller, false).unwrap();
    let diffs = kv2sql::compare(&kv2sql_generated::upgraded(&smaller).unwrap(), &kv2sql::export(&mut conn).unwrap());
    assert!(diffs.is_empty(), "{diffs:#?}");
    let children: i64 =
        conn.query_row("SELECT COUNT(*) FROM contributors WHERE item_id = 'r_3f9a1c2e'", [], |r| r.get(0)).unwrap();
    assert_eq!(children, 0, "the removed item's children are deleted too");
}

fn check_generated(seed: u64, size: Size, legacy: bool) {
    let mut opts = Options::new(seed, size);
    opts.legacy_versions = legacy;
    let snap = KvSnapshot::new(generate(&opts)).expect("unique keys");
    round_trip(&snap);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random v1 namespaces at version 10.
    #[test]
    fn generated_v1_data_round_trips(seed in any::<u64>()) {
        check_generated(seed, Size::Tiny, false);
    }

    /// Random v1 namespaces whose items blob is at any persisted version (1–7, 10).
    #[test]
    fn generated_legacy_data_round_trips(seed in any::<u64>()) {
        check_generated(seed, Size::Tiny, true);
    }
}

#[test]
fn small_generated_namespaces_round_trip() {
    for seed in 0..4 {
        check_generated(seed, Size::Small, seed % 2 == 1);
    }
}
