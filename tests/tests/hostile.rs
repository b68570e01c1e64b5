//! Hostile input, natively: every case either migrates exactly (the export equals the upgraded
//! input) or is refused with an error naming the KV key, the JSON pointer and the expectation —
//! and then nothing is written: the good example migrated before is still there, row for row.

use kv2sql_runtime::dump::{parse_dump, write_dump};
use kv2sql_runtime::json::MAX_VALUE_BYTES;
use kv2sql_runtime::{DataError, Error, KvEntry, KvSnapshot};
use kv2sql_tests::{all_rows, example_dump, memory_db, row_counts};
use rusqlite::Connection;
use serde_json::{json, Value};

const ITEMS: &str = "roadmap:items";
const EVENTS: &str = "roadmap:events";
const SCAN: &str = "roadmap:github-scan";
const MAP: &str = "roadmap:github-map";
const MENTION: &str = "roadmap:mention-scan";
const ARCHIVE: &str = "roadmap:message-archive";
const AGENT: &str = "roadmap:agent-cache:bc1qqaxq5vxszt0lzmr9gskv4lcx7jzrg772s4vxpp";

// ---------------------------------------------------------------------------------------------
// Helpers.

/// The example dump with one value replaced (or added).
fn with_value(key: &str, value: impl Into<String>) -> KvSnapshot {
    let mut entries: Vec<KvEntry> = example_dump().into_entries().into_iter().filter(|e| e.key != key).collect();
    entries.push(KvEntry { key: key.to_string(), value: value.into(), expiration: None });
    KvSnapshot::new(entries).expect("unique keys")
}

/// The example dump with one value edited as JSON.
fn edit(key: &str, f: impl FnOnce(&mut Value)) -> KvSnapshot {
    let mut v: Value = serde_json::from_str(&example_dump().get(key).expect("key in the example").value).unwrap();
    f(&mut v);
    with_value(key, serde_json::to_string(&v).unwrap())
}

/// The example dump without one key.
fn without(key: &str) -> KvSnapshot {
    KvSnapshot::new(example_dump().into_entries().into_iter().filter(|e| e.key != key).collect()).unwrap()
}

/// A database holding the migrated example dump.
fn baseline() -> Connection {
    let mut conn = memory_db();
    kv2sql::migrate(&mut conn, &example_dump(), false).expect("the example migrates");
    conn
}

/// Migrates `bad` over the example and returns the error, after checking that nothing changed:
/// same row counts, same rows, same export.
fn refused(bad: &KvSnapshot) -> Error {
    let mut conn = baseline();
    let counts = row_counts(&conn);
    let rows = all_rows(&conn);
    let export = kv2sql::export(&mut conn).unwrap();
    let err = kv2sql::migrate(&mut conn, bad, false).expect_err("the bad dump must be refused");
    assert_eq!(row_counts(&conn), counts, "row counts changed after a refused migration ({err})");
    assert_eq!(all_rows(&conn), rows, "rows changed after a refused migration ({err})");
    assert_eq!(kv2sql::export(&mut conn).unwrap(), export, "export changed after a refused migration");
    // A dry run refuses the same way.
    let dry = kv2sql::migrate(&mut conn, bad, true).expect_err("a dry run refuses too");
    assert_eq!(dry.to_string(), err.to_string());
    err
}

/// Like [`refused`], for a data error: checks the key and the pointer, returns the error.
fn data_error(bad: &KvSnapshot, kv_key: &str, pointer: &str) -> DataError {
    match refused(bad) {
        Error::Data(d) => {
            assert_eq!(d.kv_key, kv_key, "{d}");
            assert_eq!(d.pointer, pointer, "{d}");
            assert!(!d.expected.is_empty() && !d.found.is_empty(), "{d}");
            let text = d.to_string();
            assert!(text.contains(kv_key) && text.contains(pointer), "the message names key and pointer: {text}");
            d
        }
        other => panic!("expected a data error at {kv_key} {pointer}, got {other:?}"),
    }
}

/// The sources whose tables are `on_missing: keep`: once seen, their envelope row stays, so a
/// database that saw them exports them even after the key is gone (with no current children).
const KEEP_SOURCES: &[&str] = &[EVENTS, ARCHIVE];

/// Migrates `good` over the example and over a fresh database; both export exactly the
/// upgraded input (over the example, `on_missing: keep` sources that `good` lacks aside).
fn migrates_exactly(good: &KvSnapshot) {
    for (over_example, mut conn) in [(true, baseline()), (false, memory_db())] {
        kv2sql::migrate(&mut conn, good, false).unwrap_or_else(|e| panic!("should migrate: {e}"));
        let expected = kv2sql_generated::upgraded(good).unwrap();
        let mut found = kv2sql::export(&mut conn).unwrap();
        if over_example {
            let kept = |k: &str| KEEP_SOURCES.contains(&k) && good.get(k).is_none();
            found = KvSnapshot::new(found.into_entries().into_iter().filter(|e| !kept(&e.key)).collect()).unwrap();
        }
        let diffs = kv2sql::compare(&expected, &found);
        assert!(diffs.is_empty(), "export differs from the upgraded input: {diffs:#?}");
        if !over_example || KEEP_SOURCES.iter().all(|k| good.get(k).is_some()) {
            assert_eq!(kv2sql::verify(&mut conn, good).unwrap(), vec![]);
        }
        // Idempotent: a second run writes nothing.
        let again = kv2sql::migrate(&mut conn, good, false).unwrap();
        assert_eq!(again.rows_written, Some(0));
    }
}

/// A value that does not parse: refused as `Error::Json` (key, line, column), the same error
/// whether the bad part is in an array read one element at a time (runtime/src/stream.rs) or
/// not. Returns the parser's message.
fn not_json(err: Error, key: &str) -> String {
    match err {
        Error::Json { kv_key, message, line, column } => {
            assert_eq!(kv_key, key);
            assert!(line >= 1, "line {line}, column {column}");
            message
        }
        other => panic!("expected a JSON error for {key}, got {other:?}"),
    }
}

/// The exported value of one key, parsed.
fn exported(conn: &mut Connection, key: &str) -> Option<Value> {
    kv2sql::export(conn).unwrap().get(key).map(|e| serde_json::from_str(&e.value).unwrap())
}

// ---------------------------------------------------------------------------------------------
// Not JSON.

#[test]
fn malformed_json_names_key_line_and_column() {
    let err = refused(&with_value(EVENTS, "{\"version\": 1,\n \"events\": [,]}"));
    match &err {
        Error::Json { kv_key, line, column, .. } => {
            assert_eq!(kv_key, EVENTS);
            assert_eq!((*line, *column), (2, 13));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.to_json()["kv_key"], EVENTS);
    assert!(err.to_string().starts_with("roadmap:events: the value is not valid JSON"), "{err}");
}

#[test]
fn truncated_blob_is_refused() {
    let full = example_dump().get(ITEMS).unwrap().value.clone();
    for cut in [1, full.len() / 3, full.len() / 2, full.len() - 1] {
        let message = not_json(refused(&with_value(ITEMS, &full[..cut])), ITEMS);
        assert!(message.contains("EOF"), "cut at {cut}: {message}");
    }
    // Empty value and trailing garbage too.
    not_json(refused(&with_value(ITEMS, "")), ITEMS);
    not_json(refused(&with_value(ITEMS, format!("{full} x"))), ITEMS);
}

#[test]
fn the_whole_value_of_the_wrong_type() {
    let d = data_error(&with_value(EVENTS, "[]"), EVENTS, "/");
    assert_eq!(d.expected, "an object");
    assert_eq!(d.found, "an array of 0 elements");
    data_error(&with_value(ITEMS, "null"), ITEMS, "/");
    data_error(&with_value(MENTION, "\"text\""), MENTION, "/");
    data_error(&with_value(AGENT, "42"), AGENT, "/");
}

// ---------------------------------------------------------------------------------------------
// The wrong JSON type at every kind of column.

#[test]
fn wrong_type_at_an_integer_column() {
    let d = data_error(
        &edit(ITEMS, |v| v["items"][0]["reputation"]["count"] = json!("5")),
        ITEMS,
        "/items/0/reputation/count",
    );
    assert_eq!(d.expected, "an integer");
    assert_eq!(d.found, "string \"5\"");
    let d = data_error(
        &edit(ITEMS, |v| v["items"][0]["reputation"]["count"] = json!(5.0)),
        ITEMS,
        "/items/0/reputation/count",
    );
    assert_eq!(d.found, "number 5.0");
    data_error(&edit(EVENTS, |v| v["version"] = json!(true)), EVENTS, "/version");
}

#[test]
fn wrong_type_at_a_text_column() {
    let d = data_error(&edit(ITEMS, |v| v["items"][2]["title"] = json!(5)), ITEMS, "/items/2/title");
    assert_eq!(d.expected, "a string");
    assert_eq!(d.found, "number 5");
    let d = data_error(&edit(ITEMS, |v| v["items"][0]["title"] = Value::Null), ITEMS, "/items/0/title");
    assert!(d.expected.contains("not null"), "{d}");
    let d = data_error(
        &edit(ITEMS, |v| {
            v["items"][0].as_object_mut().unwrap().remove("description");
        }),
        ITEMS,
        "/items/0/description",
    );
    assert!(d.expected.contains("required"), "{d}");
    assert_eq!(d.found, "nothing (the field is absent)");
    data_error(&edit(EVENTS, |v| v["events"][3]["timestamp"] = json!(["x"])), EVENTS, "/events/3/timestamp");
}

#[test]
fn wrong_type_at_a_number_column() {
    let d = data_error(
        &edit(ITEMS, |v| v["items"][0]["reputation"]["average"] = json!("4.5")),
        ITEMS,
        "/items/0/reputation/average",
    );
    assert!(d.expected.starts_with("a number"), "{d}");
    assert_eq!(d.found, "string \"4.5\"");
}

#[test]
fn wrong_type_at_a_boolean_column() {
    let d = data_error(
        &edit(ITEMS, |v| v["items"][2]["goals"][1]["completed"] = json!(1)),
        ITEMS,
        "/items/2/goals/1/completed",
    );
    assert_eq!(d.expected, "a boolean");
    assert_eq!(d.found, "number 1");
    data_error(
        &edit(ITEMS, |v| v["items"][0]["goalHistory"][0]["completed"] = json!("true")),
        ITEMS,
        "/items/0/goalHistory/0/completed",
    );
}

#[test]
fn wrong_type_at_a_json_column() {
    // A `json` column takes any value, but not null unless nullable, nor absence.
    let d = data_error(&edit(EVENTS, |v| v["events"][1]["data"] = Value::Null), EVENTS, "/events/1/data");
    assert!(d.expected.starts_with("any JSON value"), "{d}");
    data_error(
        &edit(EVENTS, |v| {
            v["events"][1].as_object_mut().unwrap().remove("data");
        }),
        EVENTS,
        "/events/1/data",
    );
    // Any other value is kept verbatim.
    migrates_exactly(&edit(EVENTS, |v| v["events"][1]["data"] = json!([1, "two", {"three": [null, true]}, 4.25])));
    migrates_exactly(&edit(ITEMS, |v| v["items"][1]["status"] = json!({"weird": ["status"]})));
    migrates_exactly(&edit(ITEMS, |v| v["items"][1]["githubData"] = Value::Null));
}

#[test]
fn wrong_type_at_an_any_column() {
    let d = data_error(
        &edit(ITEMS, |v| v["items"][0]["founder"]["agentId"] = json!(true)),
        ITEMS,
        "/items/0/founder/agentId",
    );
    assert_eq!(d.expected, "a string or a number");
    assert_eq!(d.found, "boolean true");
    data_error(&edit(AGENT, |v| v["agentId"] = json!({"id": 5})), AGENT, "/agentId");
    // A string, a number, 0, null and absence each come back as they were.
    migrates_exactly(&edit(ITEMS, |v| {
        v["items"][0]["founder"]["agentId"] = json!("5");
        v["items"][0]["contributors"][0]["agentId"] = json!(0);
        v["items"][0]["contributors"][1].as_object_mut().unwrap().remove("agentId");
        v["items"][0]["contributors"][2]["agentId"] = json!(5.5);
    }));
}

#[test]
fn wrong_type_at_an_object_group() {
    let d = data_error(&edit(ITEMS, |v| v["items"][0]["founder"] = json!("Ionic Anvil")), ITEMS, "/items/0/founder");
    assert_eq!(d.expected, "an object");
    assert_eq!(d.found, "string \"Ionic Anvil\"");
    let d = data_error(&edit(ITEMS, |v| v["items"][0]["founder"] = Value::Null), ITEMS, "/items/0/founder");
    assert!(d.expected.contains("not null"), "{d}");
    data_error(&edit(ITEMS, |v| v["items"][3]["leader"] = json!([])), ITEMS, "/items/3/leader");
    data_error(&edit(EVENTS, |v| v["events"][0]["agent"] = json!(7)), EVENTS, "/events/0/agent");
}

#[test]
fn wrong_type_at_an_array_child() {
    let d = data_error(&edit(ITEMS, |v| v["items"][0]["contributors"] = json!({})), ITEMS, "/items/0/contributors");
    assert_eq!(d.expected, "an array");
    assert_eq!(d.found, "an object with 0 fields");
    let d = data_error(
        &edit(ITEMS, |v| v["items"][0]["contributors"][3] = json!("bc1q")),
        ITEMS,
        "/items/0/contributors/3",
    );
    assert_eq!(d.expected, "an object");
    data_error(&edit(EVENTS, |v| v["events"] = json!("none")), EVENTS, "/events");
    // An array of values (`from: value`).
    let d = data_error(&edit(MENTION, |v| v["processedIds"][1] = json!(17)), MENTION, "/processedIds/1");
    assert_eq!(d.expected, "a string");
    data_error(&edit(ITEMS, |v| v["items"][0]["searchTerms"][0] = Value::Null), ITEMS, "/items/0/searchTerms/0");
}

#[test]
fn wrong_type_at_an_entries_child() {
    let d = data_error(&edit(MAP, |v| v["mappings"] = json!(["cedarxyz"])), MAP, "/mappings");
    assert_eq!(d.expected, "an object");
    let d = data_error(&edit(MAP, |v| v["mappings"]["cedarxyz"] = json!(1)), MAP, "/mappings/cedarxyz");
    assert_eq!(d.expected, "a string");
    data_error(
        &edit(SCAN, |v| v["repos"]["aibtcdev/aibtc-projects"] = json!(true)),
        SCAN,
        "/repos/aibtcdev~1aibtc-projects",
    );
    // A fan-out column inside an entry.
    let d = data_error(
        &edit(SCAN, |v| v["repos"]["example-org/signal-network"]["eventFails"] = json!("1")),
        SCAN,
        "/repos/example-org~1signal-network/eventFails",
    );
    assert_eq!(d.expected, "an integer");
}

#[test]
fn json_pointer_escapes_slash_and_tilde() {
    data_error(&edit(MAP, |v| v["mappings"]["a/b~c"] = json!(null)), MAP, "/mappings/a~1b~0c");
}

// ---------------------------------------------------------------------------------------------
// Unknown fields: kept, and exported back.

#[test]
fn unknown_fields_are_kept_and_exported_back() {
    let extra = json!({"nested": [1, {"deep": null}], "n": 123456789012345678901234567890u128.to_string()});
    let mut snap = edit(ITEMS, |v| {
        v["zzTop"] = extra.clone();
        v["items"][0]["zzItem"] = json!(1.5);
        v["items"][0]["founder"]["zzFounder"] = json!("f");
        v["items"][0]["contributors"][2]["zzContributor"] = json!([true]);
        v["items"][0]["deliverables"][0]["addedBy"]["zzDeep"] = json!({});
        v["items"][1]["reputation"]["zzRep"] = Value::Null;
    });
    migrates_exactly(&snap);
    for (key, f) in [
        (
            EVENTS,
            Box::new(|v: &mut Value| {
                v["events"][0]["zz"] = json!({"a": 1});
                v["events"][1]["agent"]["zz"] = json!(2);
                v["zzEnvelope"] = json!("e");
            }) as Box<dyn Fn(&mut Value)>,
        ),
        (ARCHIVE, Box::new(|v: &mut Value| v["messages"][0]["recipient"]["zz"] = json!([]))),
        (MENTION, Box::new(|v: &mut Value| v["zz"] = json!(0))),
        (MAP, Box::new(|v: &mut Value| v["zz"] = json!("m"))),
        (AGENT, Box::new(|v: &mut Value| v["zz"] = json!({"x": [1]}))),
    ] {
        let changed = edit(key, |v| f(v));
        let mut entries = snap.into_entries();
        entries.retain(|e| e.key != key);
        entries.push(changed.get(key).unwrap().clone());
        snap = KvSnapshot::new(entries).unwrap();
        migrates_exactly(&snap);
    }
    let mut conn = memory_db();
    kv2sql::migrate(&mut conn, &snap, false).unwrap();
    let items = exported(&mut conn, ITEMS).unwrap();
    assert_eq!(items["zzTop"], extra);
    assert_eq!(items["items"][0]["founder"]["zzFounder"], "f");
}

#[test]
fn unknown_fields_inside_a_fan_out_entry() {
    // `roadmap:github-scan` repos are spread over `scan_state` rows; a field the fan-out does
    // not know is kept in the repo row's `extra_fields`, and an empty entry stays an empty entry.
    migrates_exactly(&edit(SCAN, |v| {
        v["repos"]["aibtcdev/aibtc-projects"]["zzUnknown"] = json!(3);
        v["repos"]["empty/entry"] = json!({});
        v["repos"][""] = json!({"eventFails": 0});
    }));
}

// ---------------------------------------------------------------------------------------------
// Keys.

#[test]
fn duplicate_item_ids_name_both_pointers() {
    let d = data_error(&edit(ITEMS, |v| v["items"][3]["id"] = v["items"][1]["id"].clone()), ITEMS, "/items/3");
    assert!(d.expected.contains("table `items`"), "{d}");
    assert!(d.expected.contains("\"r_b84d02f6\""), "{d}");
    assert!(d.expected.contains("already used at /items/1"), "{d}");
    assert_eq!(d.found, "a duplicate");
}

#[test]
fn duplicate_event_ids_and_message_timestamps() {
    let d = data_error(&edit(EVENTS, |v| v["events"][5]["id"] = v["events"][2]["id"].clone()), EVENTS, "/events/5");
    assert!(d.expected.contains("already used at /events/2"), "{d}");
    let d = data_error(
        &edit(ARCHIVE, |v| {
            let first = v["messages"][0].clone();
            v["messages"].as_array_mut().unwrap().push(first);
        }),
        ARCHIVE,
        "/messages/3",
    );
    assert!(d.expected.contains("already used at /messages/0"), "{d}");
}

#[test]
fn duplicate_kv_keys_in_a_dump() {
    let text = r#"[{"key": "roadmap:github-map", "value": "{}"}, {"key": "roadmap:github-map", "value": "{}"}]"#;
    let err = parse_dump(text, 0).unwrap_err();
    assert_eq!(err.to_string(), "dump: the key \"roadmap:github-map\" appears more than once");
}

// ---------------------------------------------------------------------------------------------
// Limits.

#[test]
fn strings_over_the_durable_object_limit_are_refused() {
    let big = "x".repeat(MAX_VALUE_BYTES + 1);
    let d =
        data_error(&edit(ITEMS, |v| v["items"][1]["description"] = json!(big.clone())), ITEMS, "/items/1/description");
    assert!(d.expected.contains("at most 2000000 bytes"), "{d}");
    assert_eq!(d.found, "2000001 bytes");
    // In a `json` column the limit is on the stored text.
    let d =
        data_error(&edit(EVENTS, |v| v["events"][0]["data"] = json!({"big": big.clone()})), EVENTS, "/events/0/data");
    assert!(d.expected.contains("at most 2000000 bytes"), "{d}");
    // In an `any` column too.
    data_error(&edit(AGENT, |v| v["agentId"] = json!(big.clone())), AGENT, "/agentId");
    // Exactly at the limit is fine (multi-byte characters count in bytes).
    let at = "é".repeat(MAX_VALUE_BYTES / 2);
    assert_eq!(at.len(), MAX_VALUE_BYTES);
    migrates_exactly(&edit(ITEMS, |v| v["items"][1]["description"] = json!(at)));
}

#[test]
fn integers_beyond_2_pow_53_are_kept_exactly() {
    let snap = edit(ITEMS, |v| {
        v["writeVersion"] = serde_json::from_str("9007199254740993").unwrap();
        v["items"][0]["reputation"]["count"] = serde_json::from_str("9223372036854775807").unwrap();
        v["items"][0]["founder"]["agentId"] = serde_json::from_str("-9223372036854775808").unwrap();
    });
    migrates_exactly(&snap);
    let mut conn = memory_db();
    kv2sql::migrate(&mut conn, &snap, false).unwrap();
    let wv: i64 = conn.query_row("SELECT write_version FROM items_doc", [], |r| r.get(0)).unwrap();
    assert_eq!(wv, 9_007_199_254_740_993);
    assert!(kv2sql::export(&mut conn).unwrap().get(ITEMS).unwrap().value.contains("\"writeVersion\":9007199254740993"));
}

#[test]
fn integers_beyond_i64_are_refused_or_kept_verbatim_in_json() {
    let d = data_error(
        &edit(ITEMS, |v| v["items"][0]["reputation"]["count"] = serde_json::from_str("9223372036854775808").unwrap()),
        ITEMS,
        "/items/0/reputation/count",
    );
    assert!(d.found.contains("outside SQLite's 64-bit integer range"), "{d}");
    data_error(
        &edit(ITEMS, |v| v["writeVersion"] = serde_json::from_str("-9223372036854775809").unwrap()),
        ITEMS,
        "/writeVersion",
    );
    data_error(
        &edit(AGENT, |v| v["agentId"] = serde_json::from_str("18446744073709551616").unwrap()),
        AGENT,
        "/agentId",
    );
    // In a `json` column every digit is kept.
    let huge = "123456789012345678901234567890123456789";
    let snap = edit(EVENTS, |v| {
        v["events"][0]["data"] = serde_json::from_str(&format!("{{\"n\":{huge},\"m\":-{huge}}}")).unwrap()
    });
    migrates_exactly(&snap);
    let mut conn = memory_db();
    kv2sql::migrate(&mut conn, &snap, false).unwrap();
    let out = kv2sql::export(&mut conn).unwrap();
    assert!(out.get(EVENTS).unwrap().value.contains(&format!("{{\"n\":{huge},\"m\":-{huge}}}")));
}

#[test]
fn floats_that_would_lose_digits() {
    for text in ["0.30000000000000001", "4.5000000000000000001", "1e400", "-1e400", "1.7976931348623157e309"] {
        let d = data_error(
            &edit(ITEMS, |v| v["items"][0]["reputation"]["average"] = serde_json::from_str(text).unwrap()),
            ITEMS,
            "/items/0/reputation/average",
        );
        assert!(d.found.starts_with("number "), "{d}");
    }
    // Floats that round-trip are kept with their spelling (4.0 stays 4.0, 0 stays 0).
    for text in ["4.0", "0", "4.7", "1e-7", "5e-324", "1.7976931348623157e308"] {
        migrates_exactly(&edit(ITEMS, |v| {
            v["items"][0]["reputation"]["average"] = serde_json::from_str(text).unwrap()
        }));
    }
    // In a `json` column the digits are kept verbatim.
    migrates_exactly(&edit(EVENTS, |v| {
        v["events"][0]["data"] = serde_json::from_str(r#"{"x":0.30000000000000001,"y":1e400,"z":1.10}"#).unwrap()
    }));
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn json_nested_thousands_deep_is_an_error_not_a_stack_overflow() {
    // Inside the `json` column `data` of an event.
    let base = example_dump().get(EVENTS).unwrap().value.clone();
    for depth in [200, 5_000, 100_000] {
        let value = base.replacen("\"data\":{", &format!("\"data\":{{\"deep\":{},", nested(depth)), 1);
        let message = not_json(refused(&with_value(EVENTS, value)), EVENTS);
        assert!(message.contains("recursion limit exceeded"), "{message}");
        // The whole value, and inside an item.
        let message = not_json(refused(&with_value(ITEMS, nested(depth))), ITEMS);
        assert!(message.contains("recursion limit exceeded"), "{message}");
        let items = example_dump().get(ITEMS).unwrap().value.replacen(
            "\"items\":[",
            &format!("\"items\":[{},", nested(depth)),
            1,
        );
        let message = not_json(refused(&with_value(ITEMS, items)), ITEMS);
        assert!(message.contains("recursion limit exceeded"), "{message}");
    }
    // Nesting within the limit is kept exactly.
    let value = base.replacen("\"data\":{", &format!("\"data\":{{\"deep\":{},", nested(100)), 1);
    migrates_exactly(&with_value(EVENTS, value));
}

// ---------------------------------------------------------------------------------------------
// Missing keys, empty namespaces.

#[test]
fn a_missing_items_key_empties_its_tables() {
    let mut conn = baseline();
    let counts: std::collections::HashMap<String, i64> = row_counts(&conn).into_iter().collect();
    assert!(counts["items"] > 0 && counts["contributors"] > 0);
    kv2sql::migrate(&mut conn, &without(ITEMS), false).unwrap();
    let after: std::collections::HashMap<String, i64> = row_counts(&conn).into_iter().collect();
    for t in ["items_doc", "items", "contributors", "deliverables", "ratings", "goals", "goal_history", "search_terms"]
    {
        assert_eq!(after[t], 0, "mirror table {t} is emptied when the key is gone");
    }
    // Other sources are untouched.
    for t in ["events", "event_log", "github_mappings", "scan_state", "agent_cache"] {
        assert_eq!(after[t], counts[t], "{t}");
    }
    assert_eq!(exported(&mut conn, ITEMS), None);
    // And the items come back when the key does.
    kv2sql::migrate(&mut conn, &example_dump(), false).unwrap();
    assert_eq!(row_counts(&conn), row_counts(&baseline()));
}

#[test]
fn removed_items_disappear_from_the_mirror() {
    let mut conn = baseline();
    let snap = edit(ITEMS, |v| {
        v["items"].as_array_mut().unwrap().remove(0);
    });
    kv2sql::migrate(&mut conn, &snap, false).unwrap();
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM items WHERE id = 'r_3f9a1c2e'", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 0);
    let n: i64 =
        conn.query_row("SELECT COUNT(*) FROM contributors WHERE item_id = 'r_3f9a1c2e'", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 0, "children go with their item");
    assert!(
        kv2sql::compare(&kv2sql_generated::upgraded(&snap).unwrap(), &kv2sql::export(&mut conn).unwrap()).is_empty()
    );
}

#[test]
fn a_missing_events_key_keeps_the_history() {
    let mut conn = baseline();
    let before: i64 = conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)).unwrap();
    assert_eq!(before, 11);
    kv2sql::migrate(&mut conn, &without(EVENTS), false).unwrap();
    let kept: i64 = conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)).unwrap();
    assert_eq!(kept, before, "`on_missing: keep`: events stay");
    let current: i64 =
        conn.query_row("SELECT COUNT(*) FROM events WHERE position IS NOT NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(current, 0, "and are retired (position NULL)");
    // The envelope row is history too: the export shows the kept envelope with no current
    // events (documented in RELIABILITY.md: a keep source's key is never "absent" again).
    assert_eq!(exported(&mut conn, EVENTS), Some(json!({"version": 1, "events": []})));
    // Migrating the events again makes them current again.
    kv2sql::migrate(&mut conn, &example_dump(), false).unwrap();
    assert_eq!(all_rows(&conn), all_rows(&baseline()));
}

#[test]
fn an_empty_namespace() {
    let empty = KvSnapshot::new(vec![]).unwrap();
    let mut conn = memory_db();
    let report = kv2sql::migrate(&mut conn, &empty, false).unwrap();
    assert!(report.rows_written.is_some());
    assert!(
        row_counts(&conn).iter().filter(|(t, _)| !t.starts_with("kv2sql")).all(|(_, n)| *n == 0),
        "{:?}",
        row_counts(&conn)
    );
    assert_eq!(kv2sql::export(&mut conn).unwrap(), empty);
    assert_eq!(parse_dump("[]", 0).unwrap(), empty);
    // Over the example: mirrors are emptied, history is kept.
    let mut conn = baseline();
    kv2sql::migrate(&mut conn, &empty, false).unwrap();
    let counts: std::collections::HashMap<String, i64> = row_counts(&conn).into_iter().collect();
    assert_eq!((counts["items"], counts["github_mappings"], counts["agent_cache"]), (0, 0, 0));
    assert_eq!(counts["events"], 11);
    assert_eq!(counts["message_archive"], 3);
}

// ---------------------------------------------------------------------------------------------
// The dump file.

#[test]
fn a_dump_that_is_not_the_bulk_format() {
    for text in [
        "{}",
        "",
        "[{\"key\": \"roadmap:items\"}]",
        "[{\"key\": \"roadmap:items\", \"value\": {}}]",
        "[{\"key\": \"roadmap:items\", \"value\": \"{}\", \"extra\": 1}]",
        "[{\"name\": \"roadmap:items\", \"value\": \"{}\"}]",
        "{\"result\": [], \"success\": true}",
    ] {
        let err = parse_dump(text, 0).unwrap_err();
        assert!(matches!(err, Error::Dump(_)), "{text}: {err:?}");
        assert!(err.to_string().contains("not a `wrangler kv bulk` JSON file"), "{err}");
    }
}

#[test]
fn a_dump_file_that_is_not_utf8() {
    let dir = std::env::temp_dir().join(format!("kv2sql-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.json");
    std::fs::write(&path, b"[{\"key\": \"roadmap:items\", \"value\": \"\xff\xfe\"}]").unwrap();
    let err = kv2sql::read_dump(&path).unwrap_err();
    assert!(matches!(err, Error::Dump(_)), "{err:?}");
    assert!(err.to_string().contains("not UTF-8"), "{err}");
    // A missing file is a dump error too.
    let err = kv2sql::read_dump(&dir.join("missing.json")).unwrap_err();
    assert!(matches!(err, Error::Dump(_)), "{err:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Standard base64 with padding (the tests crate has no base64 dependency).
fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_values() {
    // Invalid UTF-8 after decoding: refused, naming the key.
    let text = format!(r#"[{{"key": "{ITEMS}", "value": "{}", "base64": true}}]"#, b64(&[0x7b, 0xff, 0x7d]));
    match parse_dump(&text, 0).unwrap_err() {
        Error::Utf8 { kv_key, .. } => assert_eq!(kv_key, ITEMS),
        other => panic!("{other:?}"),
    }
    // Not base64 at all.
    let text = format!(r#"[{{"key": "{ITEMS}", "value": "not base64!", "base64": true}}]"#);
    assert!(parse_dump(&text, 0).unwrap_err().to_string().contains("roadmap:items: `base64` is true"));
    // Valid: migrated like the plain value.
    let mut raw: Vec<Value> = serde_json::from_str(&write_dump(&example_dump())).unwrap();
    for e in &mut raw {
        let v = e["value"].as_str().unwrap().to_string();
        e["value"] = json!(b64(v.as_bytes()));
        e["base64"] = json!(true);
    }
    let snap = parse_dump(&serde_json::to_string(&raw).unwrap(), 0).unwrap();
    assert_eq!(snap, example_dump());
    migrates_exactly(&snap);
}

#[test]
fn metadata_in_the_dump_is_refused() {
    let text = format!(r#"[{{"key": "{MAP}", "value": "{{}}", "metadata": {{"owner": "x"}}}}]"#);
    let err = parse_dump(&text, 0).unwrap_err();
    assert!(matches!(err, Error::Dump(_)));
    assert_eq!(
        err.to_string(),
        "dump: roadmap:github-map: has KV metadata, which kv2sql does not migrate; remove it from the dump to go on"
    );
    // `"metadata": null` is no metadata.
    let text = format!(r#"[{{"key": "{MAP}", "value": "{{\"version\":1,\"mappings\":{{}}}}", "metadata": null}}]"#);
    migrates_exactly(&parse_dump(&text, 0).unwrap());
}

// ---------------------------------------------------------------------------------------------
// Versions.

#[test]
fn a_blob_without_a_version() {
    let d = data_error(
        &edit(ITEMS, |v| {
            v.as_object_mut().unwrap().remove("version");
        }),
        ITEMS,
        "/version",
    );
    assert!(d.expected.contains("from 1 to 10"), "{d}");
    for bad in [json!("10"), json!(10.0), json!(0), json!(11), Value::Null] {
        data_error(&edit(ITEMS, |v| v["version"] = bad.clone()), ITEMS, "/version");
    }
    let d = data_error(
        &edit(EVENTS, |v| {
            v.as_object_mut().unwrap().remove("version");
        }),
        EVENTS,
        "/version",
    );
    assert!(d.expected.contains("an integer"), "{d}");
    data_error(
        &edit(ARCHIVE, |v| {
            v.as_object_mut().unwrap().remove("version");
        }),
        ARCHIVE,
        "/version",
    );
}

#[test]
fn an_old_blob_is_upgraded_then_kept_exactly() {
    // A v1 version-4 blob: the upgrade replays steps 5 to 10, the export is the upgraded blob.
    migrates_exactly(&edit(ITEMS, |v| {
        v["version"] = json!(4);
        v["writeVersion"] = json!("not a number");
        for item in v["items"].as_array_mut().unwrap() {
            let o = item.as_object_mut().unwrap();
            o.remove("leader");
            o.remove("website");
            o.remove("searchTerms");
        }
    }));
}

// ---------------------------------------------------------------------------------------------
// Strings and keys at the edges of JSON.

/// `edit`, then each placeholder string swapped for raw JSON text: how JSON that serde_json
/// cannot build (a lone surrogate escape) gets into a test value.
fn edit_raw(key: &str, f: impl FnOnce(&mut Value), swaps: &[(&str, &str)]) -> KvEntry {
    let mut v: Value = serde_json::from_str(&example_dump().get(key).expect("key in the example").value).unwrap();
    f(&mut v);
    let mut text = serde_json::to_string(&v).unwrap();
    for (placeholder, raw) in swaps {
        assert!(text.contains(placeholder), "{placeholder} in {key}");
        text = text.replace(placeholder, raw);
    }
    KvEntry { key: key.to_string(), value: text, expiration: None }
}

/// The example dump with these values replaced.
fn with_entries(replaced: Vec<KvEntry>) -> KvSnapshot {
    let mut entries: Vec<KvEntry> =
        example_dump().into_entries().into_iter().filter(|e| replaced.iter().all(|r| r.key != e.key)).collect();
    entries.extend(replaced);
    KvSnapshot::new(entries).expect("unique keys")
}

/// One value of the export, as text.
fn exported_text(conn: &mut Connection, key: &str) -> String {
    kv2sql::export(conn).unwrap().get(key).expect("exported").value.clone()
}

/// The marker a lone surrogate escape is stored with (docs/mapping.md).
const M: char = kv2sql_runtime::surrogate::MARKER;

#[test]
fn lone_surrogates_are_migrated_exactly_and_nul_is_kept() {
    // JavaScript that slices a string mid-emoji makes `JSON.stringify` write half a surrogate
    // pair as an escape. In a text column, a `json` column (value and object key), an unknown
    // field, a streamed element and an envelope; high and low halves, next to a valid pair, and
    // the marker itself in real data, raw and escaped.
    let items = edit_raw(
        ITEMS,
        |v| {
            v["items"][0]["title"] = json!("@title0@");
            v["items"][1]["title"] = json!("@title1@");
            v["items"][0]["githubData"] = json!({"@key@": "@value@", "x": ["@low@"]});
            v["items"][1]["zzUnknown"] = json!({"k": "@marker@"});
            v["zzTop"] = json!("@raw@");
        },
        &[
            ("@title0@", r"abc\ud83d"),
            ("@title1@", r"\ud83d\ude00\ude00\uD83D"),
            ("@key@", r"k\udbff"),
            ("@value@", r"\udc00v"),
            ("@low@", r"\udfff"),
            ("@marker@", r"\ufdd0\ud800"),
            ("@raw@", "\u{FDD0}d83d"),
        ],
    );
    let archive = edit_raw(ARCHIVE, |v| v["messages"][0]["messagePreview"] = json!("@p@"), &[("@p@", r"Hello \ud83d")]);
    let events = edit_raw(
        EVENTS,
        |v| v["events"][0]["data"] = json!({"@k@": ["@v@"]}),
        &[("@k@", r"\ud800"), ("@v@", r"\udfff\u0000")],
    );
    let snap = with_entries(vec![items, archive, events]);
    migrates_exactly(&snap);

    let mut conn = memory_db();
    kv2sql::migrate(&mut conn, &snap, false).unwrap();
    // The export writes the same escapes back (lower case, as `JSON.stringify` writes them).
    let text = exported_text(&mut conn, ITEMS);
    for written in [
        r#""abc\ud83d""#,
        "\"\u{1F600}\\ude00\\ud83d\"",
        r#"{"k\udbff":"\udc00v","x":["\udfff"]}"#,
        "\"\u{FDD0}\\ud800\"",
        "\"\u{FDD0}d83d\"",
    ] {
        assert!(text.contains(written), "{written} in {text}");
    }
    assert!(exported_text(&mut conn, ARCHIVE).contains(r#""Hello \ud83d""#));
    assert!(exported_text(&mut conn, EVENTS).contains(r#"{"\ud800":["\udfff\u0000"]}"#));
    // How SQL sees them: the marker and the four hex digits; a real marker doubled.
    let sql = |q: &str| -> Vec<String> {
        let mut st = conn.prepare(q).unwrap();
        st.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect()
    };
    let titles = sql("SELECT title FROM items ORDER BY position");
    assert_eq!(titles[..2], [format!("abc{M}d83d"), format!("\u{1F600}{M}de00{M}d83d")]);
    assert!(sql("SELECT github_data FROM items WHERE github_data IS NOT NULL")
        .contains(&format!(r#"{{"k{M}dbff":"{M}dc00v","x":["{M}dfff"]}}"#)));
    assert!(sql("SELECT extra_fields FROM items WHERE extra_fields IS NOT NULL")
        .iter()
        .any(|e| e.contains(&format!("{M}{M}{M}d800"))));
    assert!(sql("SELECT message_preview FROM message_archive WHERE message_preview IS NOT NULL")
        .contains(&format!("Hello {M}d83d")));

    // NUL, control characters, astral characters and escapes come back exactly.
    migrates_exactly(&edit(ITEMS, |v| {
        v["items"][0]["title"] = json!("a\u{0}b\u{1}c\u{1F600}\"\\/\u{2028}");
        v["items"][0]["searchTerms"][0] = json!("\u{0}");
        v["items"][1]["title"] = json!("'); DROP TABLE items; --");
        v["items"][1]["id"] = json!("r_'\"`[]");
    }));
}

#[test]
fn lone_surrogates_go_through_the_upgrade_hook() {
    // A version-5 blob: step 6 builds the leader from the founder, copying its display name and
    // making a profile URL of its address, each holding a lone surrogate.
    let items = edit_raw(
        ITEMS,
        |v| {
            v["version"] = json!(5);
            let item = v["items"][0].as_object_mut().unwrap();
            item.remove("leader");
            item.insert("claimedBy".into(), Value::Null);
            item.insert("founder".into(), json!({"displayName": "@d@", "btcAddress": "@a@", "profileUrl": ""}));
        },
        &[("@d@", r"Anvil \ud800"), ("@a@", r"bc1\udfff")],
    );
    let snap = with_entries(vec![items]);
    migrates_exactly(&snap);
    let upgraded = kv2sql_generated::upgraded(&snap).unwrap();
    let text = &upgraded.get(ITEMS).unwrap().value;
    assert!(text.contains(r#""profileUrl":"https://aibtc.com/agents/bc1\udfff""#), "{text}");
    assert!(text.contains(r#""displayName":"Anvil \ud800""#), "{text}");
    let mut conn = memory_db();
    kv2sql::migrate(&mut conn, &snap, false).unwrap();
    let from_text = |t: &str| kv2sql_runtime::json::from_text(t).unwrap();
    assert_eq!(from_text(&exported_text(&mut conn, ITEMS)), from_text(text));
}

#[test]
fn a_lone_surrogate_counts_toward_the_string_limit_as_stored() {
    // Stored as seven bytes (the marker and four digits), which is what the limit is about.
    let at_limit = format!("{}\\ud83d", "x".repeat(MAX_VALUE_BYTES - 7));
    let over = format!("{}\\ud83d", "x".repeat(MAX_VALUE_BYTES - 6));
    let edit_title =
        |t: &str| with_entries(vec![edit_raw(ITEMS, |v| v["items"][0]["title"] = json!("@t@"), &[("@t@", t)])]);
    let mut conn = memory_db();
    kv2sql::migrate(&mut conn, &edit_title(&at_limit), false).unwrap();
    let d = data_error(&edit_title(&over), ITEMS, "/items/0/title");
    assert!(d.found.contains(&format!("{} bytes", MAX_VALUE_BYTES + 1)), "{d}");
}

#[test]
fn duplicate_object_keys_keep_the_last_as_json_parse_does() {
    // v1 reads values with `JSON.parse`, which keeps the last of duplicate keys; so does kv2sql.
    let value = example_dump().get(MAP).unwrap().value.replacen("{\"version\":1,", "{\"version\":7,\"version\":1,", 1);
    assert!(value.contains("\"version\":7,\"version\":1"));
    let snap = with_value(MAP, value);
    migrates_exactly(&snap);
    let mut conn = memory_db();
    kv2sql::migrate(&mut conn, &snap, false).unwrap();
    assert_eq!(exported(&mut conn, MAP).unwrap()["version"], 1);
}

#[test]
fn odd_kv_keys_of_a_prefix_source() {
    // The captured part of `roadmap:agent-cache:{address}` may be empty, or anything.
    let mut entries = example_dump().into_entries();
    for (i, suffix) in ["", "a/b~c", "spaces and ünïcödé", "roadmap:agent-cache:"].iter().enumerate() {
        entries.push(KvEntry {
            key: format!("roadmap:agent-cache:{suffix}"),
            value: format!("{{\"btcAddress\":\"x{i}\",\"displayName\":\"d\",\"agentId\":{i}}}"),
            expiration: Some(1),
        });
    }
    migrates_exactly(&KvSnapshot::new(entries).unwrap());
}

// ---------------------------------------------------------------------------------------------
// Regression tests from fuzzing (fuzz/): each input once crashed or mis-migrated.

/// fuzz target `extract`, crash-42f3e1c5: a KV expiration on `roadmap:mention-scan` (whose
/// mapping has no `from: expiration` column) was dropped silently — the export lacked it. It is
/// now refused, naming the key; the agent cache, which keeps expirations, still migrates them.
#[test]
fn fuzz_an_expiration_on_a_source_that_keeps_none_is_refused() {
    for key in [ITEMS, EVENTS, MENTION, MAP, SCAN, ARCHIVE] {
        let mut entries = example_dump().into_entries();
        entries.iter_mut().find(|e| e.key == key).unwrap().expiration = Some(2_000_000_000);
        let d = data_error(&KvSnapshot::new(entries).unwrap(), key, "(expiration)");
        assert_eq!(d.found, "expiration 2000000000");
        assert!(d.expected.starts_with("no expiration"), "{d}");
    }
    // `expiration_ttl` in a dump becomes an expiration: refused the same way.
    let text = format!(
        r#"[{{"key": "{MENTION}", "value": "{{\"lastScanAt\":\"x\",\"processedIds\":[]}}", "expiration_ttl": 60}}]"#
    );
    let mut conn = memory_db();
    let err = kv2sql::migrate(&mut conn, &parse_dump(&text, 0).unwrap(), false).unwrap_err();
    assert!(err.to_string().starts_with("roadmap:mention-scan (expiration): expected no expiration"), "{err}");
    // Kept where the mapping has a column for it.
    let mut entries = example_dump().into_entries();
    entries.iter_mut().find(|e| e.key == AGENT).unwrap().expiration = Some(1);
    migrates_exactly(&KvSnapshot::new(entries).unwrap());
}
