//! Round trip per construct, property-tested: random JSON values that fit each golden case's
//! mapping (every presence variant, empty and non-empty arrays, unknown fields, extreme numbers,
//! unicode) go into SQLite through the case's generated `migrate` and come back out of `export`
//! unchanged; a second run writes nothing.

use std::collections::BTreeMap;

use kv2sql_runtime::sqlite::Sqlite;
use kv2sql_runtime::{Error, KvEntry, KvSnapshot, Report, SqlExecutor};
use kv2sql_tests::memory_db;
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

// `rustfmt::skip`: the golden files must stay byte for byte what the generator writes
// (codegen/tests/golden.rs compares them), so `cargo fmt` must not reformat them.
#[rustfmt::skip]
#[path = "../../codegen/tests/cases/arrays/expected/src/generated.rs"]
pub mod arrays;
#[rustfmt::skip]
#[path = "../../codegen/tests/cases/entries/expected/src/generated.rs"]
pub mod entries;
#[rustfmt::skip]
#[path = "../../codegen/tests/cases/fan_out/expected/src/generated.rs"]
pub mod fan_out;
#[rustfmt::skip]
#[path = "../../codegen/tests/cases/groups/expected/src/generated.rs"]
pub mod groups;
#[rustfmt::skip]
#[path = "../../codegen/tests/cases/history/expected/src/generated.rs"]
pub mod history;
#[rustfmt::skip]
#[path = "../../codegen/tests/cases/hostile/expected/src/generated.rs"]
pub mod hostile;
#[rustfmt::skip]
#[path = "../../codegen/tests/cases/key_pattern/expected/src/generated.rs"]
pub mod key_pattern;
#[rustfmt::skip]
#[path = "../../codegen/tests/cases/scalars/expected/src/generated.rs"]
pub mod scalars;
#[rustfmt::skip]
#[path = "../../codegen/tests/cases/strict/expected/src/generated.rs"]
pub mod strict;

// ---------------------------------------------------------------------------------------------
// A small description of the JSON a mapping accepts, and values drawn from it.

#[derive(Clone, Copy, Debug)]
enum T {
    Text,
    Int,
    Real,
    Number,
    Bool,
    Json,
    Any,
    /// A short id (`e0`…`e7`): arrays keyed by id are deduplicated after generation.
    Id,
}

/// Presence of a field: required, `optional`, `nullable`, or both.
#[derive(Clone, Copy, Debug)]
enum P {
    Req,
    Opt,
    Null,
    Both,
}

#[derive(Clone, Debug)]
enum S {
    Scalar(T),
    /// A scalar that may also be `null` (a nullable `from: value`).
    OrNull(T),
    /// An object: its fields, and whether unknown fields may be added (they are kept).
    Obj(Vec<(&'static str, P, S)>, bool),
    Arr(Box<S>),
    /// An object whose entries feed a child table.
    Map(Box<S>),
}

fn obj(fields: Vec<(&'static str, P, S)>) -> S {
    S::Obj(fields, true)
}

fn strict_obj(fields: Vec<(&'static str, P, S)>) -> S {
    S::Obj(fields, false)
}

fn arr(s: S) -> S {
    S::Arr(Box::new(s))
}

fn map(s: S) -> S {
    S::Map(Box::new(s))
}

use P::*;
use S::Scalar as Sc;
use T::*;

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "(?s).{0,12}",
        1 => Just(String::new()),
        1 => Just("'); DROP TABLE x; -- \"*/\\ {}\n".to_string()),
        1 => Just("é中😀\u{0}\u{1F}".to_string()),
    ]
    .boxed()
}

fn int() -> BoxedStrategy<i64> {
    prop_oneof![
        3 => -1000i64..1000,
        2 => any::<i64>(),
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
        1 => Just((1i64 << 53) + 1),
        1 => Just(-(1i64 << 53) - 1),
    ]
    .boxed()
}

/// A float written with one decimal, as v1 writes averages.
fn real() -> BoxedStrategy<Value> {
    (-10_000_000i64..10_000_000).prop_map(|n| Value::Number(Number::from_f64(n as f64 / 10.0).expect("finite"))).boxed()
}

fn json_leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        int().prop_map(|i| Value::Number(i.into())),
        real(),
        text().prop_map(Value::String),
        // Digits no i64 or f64 holds: a `json` column keeps them verbatim.
        Just(serde_json::from_str::<Value>("123456789012345678901234567890").expect("number")),
        Just(serde_json::from_str::<Value>("1.50").expect("number")),
    ]
    .boxed()
}

fn json_value() -> BoxedStrategy<Value> {
    json_leaf()
        .prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(text(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>())),
            ]
        })
        .boxed()
}

fn scalar(t: T) -> BoxedStrategy<Value> {
    match t {
        Text => text().prop_map(Value::String).boxed(),
        Int => int().prop_map(|i| Value::Number(i.into())).boxed(),
        Real => real(),
        Number => prop_oneof![int().prop_map(|i| Value::Number(i.into())), real()].boxed(),
        Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        // A `json` column's value is never `null` itself (that is what `nullable` is for).
        Json => json_value().prop_filter("not null", |v| !v.is_null()).boxed(),
        Any => prop_oneof![text().prop_map(Value::String), int().prop_map(|i| Value::Number(i.into())), real()].boxed(),
        Id => (0..8u8).prop_map(|i| Value::String(format!("e{i}"))).boxed(),
    }
}

/// `None` is an absent field.
fn presence(p: P, s: BoxedStrategy<Value>) -> BoxedStrategy<Option<Value>> {
    match p {
        Req => s.prop_map(Some).boxed(),
        Opt => prop::option::of(s).boxed(),
        Null => prop_oneof![Just(Some(Value::Null)), s.prop_map(Some)].boxed(),
        Both => prop_oneof![Just(None), Just(Some(Value::Null)), s.prop_map(Some)].boxed(),
    }
}

fn unknown_fields() -> BoxedStrategy<Map<String, Value>> {
    // Keys no mapping in the golden cases knows.
    prop::collection::btree_map("zz_[a-z]{1,3}|x-ünknown ✓|[\"\\\\]\\*/", json_value(), 0..3)
        .prop_map(|m| m.into_iter().collect())
        .boxed()
}

fn gen(s: &S) -> BoxedStrategy<Value> {
    match s {
        S::Scalar(t) => scalar(*t),
        S::OrNull(t) => prop_oneof![Just(Value::Null), scalar(*t)].boxed(),
        S::Obj(fields, extra) => {
            let parts: Vec<BoxedStrategy<Option<(String, Value)>>> = fields
                .iter()
                .map(|(k, p, s)| {
                    let k = k.to_string();
                    presence(*p, gen(s)).prop_map(move |v| v.map(|v| (k.clone(), v))).boxed()
                })
                .collect();
            let extras = if *extra { unknown_fields() } else { Just(Map::new()).boxed() };
            (parts, extras)
                .prop_map(|(parts, extras)| {
                    let mut o: Map<String, Value> = parts.into_iter().flatten().collect();
                    o.extend(extras);
                    Value::Object(o)
                })
                .boxed()
        }
        S::Arr(s) => prop::collection::vec(gen(s), 0..4).prop_map(Value::Array).boxed(),
        S::Map(s) => prop::collection::btree_map(text(), gen(s), 0..4)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
            .boxed(),
    }
}

/// Keeps the first element of `v[array]` for each `id` (arrays whose table is keyed by id).
fn dedupe_ids(v: &mut Value, array: &str) {
    if let Some(Value::Array(items)) = v.get_mut(array) {
        let mut seen = std::collections::HashSet::new();
        items.retain(|i| seen.insert(i.get("id").cloned()));
    }
}

// ---------------------------------------------------------------------------------------------
// Running a case.

type Migrate = fn(&mut dyn SqlExecutor, &KvSnapshot) -> Result<Report, Error>;
type Export = fn(&mut dyn SqlExecutor) -> Result<KvSnapshot, Error>;

macro_rules! fns {
    ($m:ident) => {
        ((|db, kv| $m::migrate(db, kv, &$m::MigrateOptions::default())) as Migrate, $m::export as Export)
    };
}

fn entry(key: &str, value: &Value, expiration: Option<i64>) -> KvEntry {
    KvEntry { key: key.to_string(), value: serde_json::to_string(value).expect("serialises"), expiration }
}

fn parsed(e: &KvEntry) -> Value {
    serde_json::from_str(&e.value).expect("exported JSON parses")
}

/// Migrates `entries` (in runs, one transaction each) and checks that the export equals the
/// last run's entries and that running it again writes nothing.
fn roundtrip_runs(
    (migrate, export): (Migrate, Export),
    runs: &[Vec<KvEntry>],
) -> Result<rusqlite::Connection, TestCaseError> {
    let conn = memory_db();
    let mut last = KvSnapshot::default();
    for entries in runs {
        let snap = KvSnapshot::new(entries.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let tx = conn.unchecked_transaction().expect("transaction");
        let report = migrate(&mut Sqlite::new(&tx), &snap).map_err(|e| TestCaseError::fail(format!("migrate: {e}")))?;
        prop_assert!(report.unmapped_keys.is_empty(), "unmapped: {:?}", report.unmapped_keys);
        tx.commit().expect("commit");
        last = snap;
    }
    let out = export(&mut Sqlite::new(&conn)).map_err(|e| TestCaseError::fail(format!("export: {e}")))?;
    prop_assert_eq!(out.entries().len(), last.entries().len(), "exported {:?}", out.entries());
    for (a, b) in last.entries().iter().zip(out.entries()) {
        prop_assert_eq!(&a.key, &b.key);
        prop_assert_eq!(a.expiration, b.expiration, "expiration of {}", a.key);
        prop_assert_eq!(parsed(a), parsed(b), "value of {}", a.key);
    }
    let tx = conn.unchecked_transaction().expect("transaction");
    let again = migrate(&mut Sqlite::new(&tx), &last).map_err(|e| TestCaseError::fail(format!("re-run: {e}")))?;
    tx.commit().expect("commit");
    for t in &again.tables {
        prop_assert!(t.inserted == 0 && t.updated == 0 && t.deleted == 0, "a re-run wrote {:?}", t);
    }
    Ok(conn)
}

fn roundtrip(f: (Migrate, Export), entries: Vec<KvEntry>) -> Result<(), TestCaseError> {
    roundtrip_runs(f, &[entries]).map(|_| ())
}

/// An exact-key source that may be missing from the snapshot.
fn maybe(key: &'static str, s: S) -> BoxedStrategy<Vec<KvEntry>> {
    prop::option::of(gen(&s)).prop_map(move |v| v.iter().map(|v| entry(key, v, None)).collect()).boxed()
}

/// A key-pattern source: several keys under the prefix.
fn pattern(prefix: &'static str, s: S, expiring: bool) -> BoxedStrategy<Vec<KvEntry>> {
    let exp = if expiring { prop::option::of(any::<i64>()).boxed() } else { Just(None).boxed() };
    prop::collection::btree_map(text(), (gen(&s), exp), 0..4)
        .prop_map(move |m| m.iter().map(|(k, (v, e))| entry(&format!("{prefix}{k}"), v, *e)).collect())
        .boxed()
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() }
}

// ---------------------------------------------------------------------------------------------
// The cases.

fn scalars_spec() -> S {
    obj(vec![
        ("name", Req, Sc(Text)),
        ("count", Req, Sc(Int)),
        ("ratio", Req, Sc(Real)),
        ("amount", Req, Sc(Number)),
        ("enabled", Req, Sc(Bool)),
        ("payload", Req, Sc(Json)),
        ("tag", Req, Sc(Any)),
        ("label", Req, Sc(Text)),
        ("note", Opt, Sc(Text)),
        ("reviewedAt", Null, Sc(Text)),
        ("score", Both, Sc(Int)),
        ("weight", Both, Sc(Real)),
        ("extraJson", Both, Sc(Json)),
        ("maybeAny", Both, Sc(Any)),
        ("maybeNumber", Null, Sc(Number)),
        ("maybeFlag", Both, Sc(Bool)),
    ])
}

fn arrays_spec() -> S {
    let item = obj(vec![("text", Req, Sc(Text)), ("done", Req, Sc(Bool)), ("notes", Null, arr(S::OrNull(Any)))]);
    let card = obj(vec![
        ("id", Req, Sc(Id)),
        ("points", Req, Sc(Int)),
        ("labels", Req, arr(Sc(Text))),
        ("checklist", Opt, arr(item)),
    ]);
    obj(vec![
        ("title", Req, Sc(Text)),
        ("cards", Req, arr(card)),
        ("scores", Both, arr(Sc(Number))),
        ("blobs", Null, arr(S::OrNull(Json))),
    ])
}

fn entries_spec() -> S {
    let person = obj(vec![("fullName", Req, Sc(Text)), ("age", Opt, Sc(Int)), ("aliases", Req, arr(Sc(Text)))]);
    obj(vec![
        ("version", Req, Sc(Int)),
        ("logins", Req, map(Sc(Text))),
        ("counters", Opt, map(S::OrNull(Int))),
        ("people", Null, map(person)),
    ])
}

fn fan_out_spec() -> S {
    let repo = obj(vec![
        ("contributors", Opt, Sc(Text)),
        ("contributorFails", Opt, Sc(Int)),
        ("events", Opt, Sc(Text)),
        ("eventFails", Opt, Sc(Int)),
        ("website", Opt, Sc(Text)),
    ]);
    obj(vec![
        ("version", Req, Sc(Int)),
        ("repos", Req, map(repo)),
        ("dailyTotal", Opt, Sc(Number)),
        ("weeklyTotal", Opt, Sc(Number)),
    ])
}

fn groups_spec() -> S {
    let address = obj(vec![("city", Req, Sc(Text)), ("zip", Null, Sc(Text))]);
    let owner = obj(vec![
        ("name", Req, Sc(Text)),
        ("age", Opt, Sc(Int)),
        ("agentId", Both, Sc(Any)),
        ("address", Opt, address),
    ]);
    let claimed = obj(vec![("who", Req, Sc(Text)), ("at", Req, Sc(Int)), ("note", Both, Sc(Text))]);
    let meta = obj(vec![("source", Req, Sc(Text)), ("stars", Null, Sc(Int))]);
    let website = obj(vec![("url", Req, Sc(Text)), ("meta", Req, meta)]);
    let inner = obj(vec![("flag", Req, Sc(Bool))]);
    let leader = obj(vec![("name", Opt, Sc(Text)), ("since", Req, Sc(Real)), ("inner", Null, inner)]);
    obj(vec![("owner", Req, owner), ("claimedBy", Null, claimed), ("website", Opt, website), ("leader", Both, leader)])
}

fn history_spec() -> S {
    let event = obj(vec![("id", Req, Sc(Id)), ("type", Req, Sc(Text)), ("data", Req, Sc(Json))]);
    obj(vec![("version", Req, Sc(Int)), ("events", Req, arr(event))])
}

fn strict_spec() -> S {
    let item = strict_obj(vec![("id", Req, Sc(Text)), ("qty", Opt, Sc(Number))]);
    strict_obj(vec![
        ("title", Req, Sc(Text)),
        ("meta", Opt, strict_obj(vec![("level", Req, Sc(Int))])),
        ("items", Req, arr(item)),
    ])
}

const HOSTILE_KEY: &str = "hostile:\"q\\'); DROP TABLE x; --*/\n\t";

fn hostile_spec() -> S {
    obj(vec![
        ("a\"b", Req, Sc(Text)),
        ("c\\d", Opt, Sc(Int)),
        ("*/", Null, Sc(Text)),
        ("-- x", Req, Sc(Bool)),
        ("line\nbreak", Both, Sc(Any)),
        ("'); DROP TABLE x; --", Req, Sc(Json)),
        ("{}", Req, Sc(Number)),
        ("a/b~c", Req, Sc(Text)),
        ("r#\"raw\"#", Opt, Sc(Text)),
        ("}{\"--", Opt, obj(vec![("*/\n/*", Req, Sc(Text))])),
        ("it\"ems */", Opt, arr(Sc(Text))),
    ])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn scalars_roundtrip(e in maybe("cfg:settings", scalars_spec())) {
        roundtrip(fns!(scalars), e)?;
    }

    #[test]
    fn key_pattern_roundtrip(
        a in pattern("cache:agent:", obj(vec![("displayName", Req, Sc(Text)), ("level", Opt, Sc(Int))]), true),
        b in pattern("cache:raw:", obj(vec![("body", Req, Sc(Json))]), false),
    ) {
        roundtrip(fns!(key_pattern), a.into_iter().chain(b).collect())?;
    }

    #[test]
    fn arrays_roundtrip(v in gen(&arrays_spec())) {
        let mut v = v;
        if let Some(Value::Array(cards)) = v.get_mut("cards") {
            // Card ids are the table's key: one card per id, whatever the board.
            let mut seen = std::collections::HashSet::new();
            cards.retain(|c| seen.insert(c.get("id").cloned()));
        }
        roundtrip(fns!(arrays), vec![entry("board", &v, None)])?;
    }

    #[test]
    fn entries_roundtrip(e in maybe("directory", entries_spec())) {
        roundtrip(fns!(entries), e)?;
    }

    #[test]
    fn fan_out_roundtrip(e in maybe("scan", fan_out_spec())) {
        roundtrip(fns!(fan_out), e)?;
    }

    #[test]
    fn groups_roundtrip(e in maybe("profile", groups_spec())) {
        roundtrip(fns!(groups), e)?;
    }

    #[test]
    fn strict_roundtrip(e in pattern("strict:", strict_spec(), false)) {
        roundtrip(fns!(strict), e)?;
    }

    #[test]
    fn hostile_roundtrip(
        a in maybe(HOSTILE_KEY, hostile_spec()),
        b in pattern("hostile-pattern:'\\\"--", obj(vec![("é中😀", Req, Sc(Text))]), false),
    ) {
        roundtrip(fns!(hostile), a.into_iter().chain(b).collect())?;
    }

    /// `on_missing: keep`: after a second, different value, the export is the second value and
    /// the events only the first had are still stored, retired.
    #[test]
    fn history_keeps_retired_rows(v1 in gen(&history_spec()), v2 in gen(&history_spec())) {
        let (mut v1, mut v2) = (v1, v2);
        dedupe_ids(&mut v1, "events");
        dedupe_ids(&mut v2, "events");
        let runs = [vec![entry("events", &v1, None)], vec![entry("events", &v2, None)]];
        let conn = roundtrip_runs(fns!(history), &runs)?;
        let ids = |v: &Value| -> BTreeMap<String, ()> {
            v["events"].as_array().into_iter().flatten().map(|e| (e["id"].as_str().unwrap_or_default().to_string(), ())).collect()
        };
        let mut all = ids(&v1);
        all.extend(ids(&v2));
        let stored: i64 = conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)).expect("count");
        prop_assert_eq!(stored as usize, all.len());
        let retired: i64 = conn.query_row("SELECT COUNT(*) FROM events WHERE position IS NULL", [], |r| r.get(0)).expect("count");
        prop_assert_eq!(retired as usize, all.len() - ids(&v2).len());
    }
}

// ---------------------------------------------------------------------------------------------
// `unknown_fields: reject`.

fn strict_error(value: &str) -> kv2sql_runtime::DataError {
    let conn = memory_db();
    let tx = conn.unchecked_transaction().expect("transaction");
    let snap = KvSnapshot::new(vec![KvEntry { key: "strict:a".into(), value: value.into(), expiration: None }])
        .expect("snapshot");
    match strict::migrate(&mut Sqlite::new(&tx), &snap, &strict::MigrateOptions::default()) {
        Err(Error::Data(d)) => d,
        other => panic!("expected a data error, got {other:?}"),
    }
}

#[test]
fn reject_names_the_unknown_field() {
    let d = strict_error(r#"{"title":"t","items":[],"zz":1}"#);
    assert_eq!((d.kv_key.as_str(), d.pointer.as_str()), ("strict:a", "/zz"), "{d}");
    assert!(d.expected.contains("unknown_fields: reject"), "{d}");
    let d = strict_error(r#"{"title":"t","meta":{"level":1,"x/y":2},"items":[]}"#);
    assert_eq!(d.pointer, "/meta/x~1y", "{d}");
    let d = strict_error(r#"{"title":"t","items":[{"id":"a"},{"id":"b","qty":1,"extra":null}]}"#);
    assert_eq!(d.pointer, "/items/1/extra", "{d}");
}

#[test]
fn reject_writes_nothing() {
    let conn = memory_db();
    let tx = conn.unchecked_transaction().expect("transaction");
    let snap = KvSnapshot::new(vec![
        KvEntry { key: "strict:a".into(), value: r#"{"title":"t","items":[]}"#.into(), expiration: None },
        KvEntry { key: "strict:b".into(), value: r#"{"title":"t","items":[],"zz":1}"#.into(), expiration: None },
    ])
    .expect("snapshot");
    assert!(strict::migrate(&mut Sqlite::new(&tx), &snap, &strict::MigrateOptions::default()).is_err());
    let n: i64 = tx.query_row("SELECT COUNT(*) FROM strict_docs", [], |r| r.get(0)).expect("count");
    assert_eq!(n, 0);
}

#[test]
fn keep_sources_keep_unknown_fields_in_extra_fields() {
    let conn = memory_db();
    let tx = conn.unchecked_transaction().expect("transaction");
    let v = r#"{"owner":{"name":"n","zz":[1],"address":{"city":"c","zip":null,"q":true}},"claimedBy":null,"top":"x"}"#;
    let snap =
        KvSnapshot::new(vec![KvEntry { key: "profile".into(), value: v.into(), expiration: None }]).expect("snap");
    groups::migrate(&mut Sqlite::new(&tx), &snap, &groups::MigrateOptions::default()).expect("migrate");
    let extra: String = tx.query_row("SELECT extra_fields FROM profiles", [], |r| r.get(0)).expect("row");
    let extra: Value = serde_json::from_str(&extra).expect("json");
    assert_eq!(extra, serde_json::json!({"owner": {"zz": [1], "address": {"q": true}}, "top": "x"}));
}
