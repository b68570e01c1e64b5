//! `kv2sql_roadmap::v1::upgrade_items`: the fixtures, one hand-written blob per persisted starting
//! version, the error cases, and idempotence (checked by `upgrade` on every successful case).

use kv2sql_roadmap::v1::upgrade_items;
use kv2sql_runtime::json::Cx;
use kv2sql_runtime::DataError;
use serde_json::{json, Value};

const KV_KEY: &str = "roadmap:items";
const A: &str = "bc1qaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bc1qbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
/// Item `createdAt`.
const T0: &str = "2026-02-21T10:00:00.000Z";
/// Item `updatedAt`.
const T1: &str = "2026-02-21T11:00:00.000Z";
/// `claimedBy.claimedAt`.
const TC: &str = "2026-02-21T10:30:00.000Z";
/// Blob `updatedAt`: the replay's clock.
const TB: &str = "2026-02-22T00:00:00.000Z";

fn cx() -> Cx<'static> {
    Cx { kv_key: KV_KEY }
}

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/v1").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Equal values *and* equal key order (serde_json's `==` on maps ignores order).
#[track_caller]
fn assert_same(actual: &Value, expected: &Value) {
    assert_eq!(actual, expected);
    assert_eq!(serde_json::to_string_pretty(actual).unwrap(), serde_json::to_string_pretty(expected).unwrap());
}

/// Upgrades, and checks that upgrading the result again changes nothing.
#[track_caller]
fn upgrade(value: Value) -> Value {
    let once = upgrade_items(value, &cx()).unwrap_or_else(|e| panic!("{e}"));
    let twice = upgrade_items(once.clone(), &cx()).unwrap_or_else(|e| panic!("second upgrade: {e}"));
    assert_same(&twice, &once);
    once
}

#[track_caller]
fn error(value: Value) -> DataError {
    let e = upgrade_items(value, &cx()).expect_err("the upgrade should fail");
    assert_eq!(e.kv_key, KV_KEY);
    e
}

fn keys(value: &Value) -> Vec<&str> {
    value.as_object().unwrap().keys().map(String::as_str).collect()
}

/// `object.with(more)`: `object` with `more`'s fields appended, in order.
trait With {
    fn with(self, more: Value) -> Value;
}

impl With for Value {
    fn with(mut self, more: Value) -> Value {
        let Value::Object(more) = more else { panic!("`with` takes an object") };
        self.as_object_mut().expect("`with` extends an object").extend(more);
        self
    }
}

fn founder_a() -> Value {
    let profile_url = format!("https://aibtc.com/agents/{A}");
    json!({"displayName": "Anvil", "btcAddress": A, "agentId": 2, "profileUrl": profile_url})
}

/// The leader step 6 builds from `founder_a()`.
fn leader_a(assigned_at: &str, last_active_at: &str) -> Value {
    json!({
        "btcAddress": A, "displayName": "Anvil", "agentId": 2,
        "profileUrl": format!("https://aibtc.com/agents/{A}"),
        "assignedAt": assigned_at, "lastActiveAt": last_active_at,
    })
}

fn reputation0() -> Value {
    json!({"average": 0, "count": 0})
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

#[test]
fn legacy_v1_fixture_upgrades_to_the_expected_blob() {
    let upgraded = upgrade(fixture("items_legacy_v1.json"));
    let expected = fixture("items_legacy_v1.expected_after_getData.json");
    assert_same(&upgraded, &expected);
    assert_eq!(keys(&upgraded), ["version", "items", "updatedAt", "writeVersion"]);
}

#[test]
fn version_10_fixture_is_unchanged() {
    let input = fixture("items.json");
    assert_eq!(input["version"], 10);
    assert!(input["writeVersion"].is_number());
    assert_same(&upgrade(input.clone()), &input);
}

// ---------------------------------------------------------------------------------------------
// One blob per persisted starting version.

#[test]
fn from_version_1_every_step_runs() {
    let input = json!({
        "version": 1,
        "items": [
            {"id": "r_1", "githubData": {"type": "repo", "homepage": "https://one.example"}, "founder": founder_a(),
             "contributors": [], "status": "todo", "createdAt": T0, "updatedAt": T1},
            // A founder without `btcAddress`: JavaScript's `${undefined}` and a dropped `undefined` key.
            {"id": "r_2", "githubData": null, "founder": {"displayName": "Nameless"}, "createdAt": T0},
        ],
        "updatedAt": TB,
    });
    let expected = json!({
        "version": 10,
        "items": [
            {"id": "r_1", "githubData": {"type": "repo", "homepage": "https://one.example"}, "founder": founder_a(),
             "contributors": [], "status": "todo", "createdAt": T0, "updatedAt": T1,
             "claimedBy": null, "deliverables": [], "ratings": [], "reputation": reputation0(), "goals": [],
             "mentions": {"count": 0}, "leader": leader_a(T0, T1), "searchTerms": [],
             "website": {"url": "https://one.example", "source": "homepage", "discoveredAt": TB}},
            {"id": "r_2", "githubData": null, "founder": {"displayName": "Nameless"}, "createdAt": T0,
             "claimedBy": null, "deliverables": [], "ratings": [], "reputation": reputation0(), "goals": [],
             "mentions": {"count": 0},
             "leader": {"displayName": "Nameless", "profileUrl": "https://aibtc.com/agents/undefined",
                        "assignedAt": T0, "lastActiveAt": T0},
             "searchTerms": [], "website": null},
        ],
        "updatedAt": TB,
        "writeVersion": 0,
    });
    assert_same(&upgrade(input), &expected);
}

#[test]
fn from_version_2_claimed_by_and_deliverables() {
    let input = json!({
        "version": 2, "writeVersion": 7, "updatedAt": TB,
        "items": [
            // Leader from `claimedBy`: `assignedAt` is `claimedAt`; no `agentId` in the source, none in the leader.
            {"id": "r_1", "founder": founder_a(), "createdAt": T0, "updatedAt": T1,
             "claimedBy": {"btcAddress": B, "displayName": "Claimer", "claimedAt": TC},
             "deliverables": [{"id": "d_1"}]},
            // `claimedBy: null` stays null (only an absent key is defaulted); a non-array is replaced in place.
            {"id": "r_2", "founder": founder_a(), "createdAt": T0, "updatedAt": T1, "claimedBy": null,
             "deliverables": "oops"},
            // `{}` is truthy: it is the leader's source, with every property undefined.
            {"id": "r_3", "founder": founder_a(), "createdAt": T0, "updatedAt": T1, "claimedBy": {},
             "deliverables": null},
            // No `claimedBy` key at all: it becomes null.
            {"id": "r_4", "founder": founder_a(), "createdAt": T0, "updatedAt": T1, "deliverables": {"0": 1}},
            // Present but falsy: not `undefined`, so it stays; the leader comes from the founder.
            {"id": "r_5", "founder": founder_a(), "createdAt": T0, "updatedAt": T1, "claimedBy": false,
             "deliverables": []},
        ],
    });
    let tail = |leader: Value| {
        json!({"ratings": [], "reputation": reputation0(), "goals": [], "mentions": {"count": 0},
               "leader": leader, "searchTerms": [], "website": null})
    };
    let r1 = json!({"id": "r_1", "founder": founder_a(), "createdAt": T0, "updatedAt": T1,
        "claimedBy": {"btcAddress": B, "displayName": "Claimer", "claimedAt": TC}, "deliverables": [{"id": "d_1"}]})
    .with(tail(json!({"btcAddress": B, "displayName": "Claimer",
                      "profileUrl": format!("https://aibtc.com/agents/{B}"), "assignedAt": TC, "lastActiveAt": T1})));
    let r2 = json!({"id": "r_2", "founder": founder_a(), "createdAt": T0, "updatedAt": T1, "claimedBy": null,
        "deliverables": []})
    .with(tail(leader_a(T0, T1)));
    let r3 = json!({"id": "r_3", "founder": founder_a(), "createdAt": T0, "updatedAt": T1, "claimedBy": {},
        "deliverables": []})
    .with(tail(json!({"profileUrl": "https://aibtc.com/agents/undefined", "assignedAt": T0, "lastActiveAt": T1})));
    let r4 = json!({"id": "r_4", "founder": founder_a(), "createdAt": T0, "updatedAt": T1, "deliverables": [],
        "claimedBy": null})
    .with(tail(leader_a(T0, T1)));
    let r5 = json!({"id": "r_5", "founder": founder_a(), "createdAt": T0, "updatedAt": T1, "claimedBy": false,
        "deliverables": []})
    .with(tail(leader_a(T0, T1)));
    let expected = json!({"version": 10, "writeVersion": 7, "updatedAt": TB, "items": [r1, r2, r3, r4, r5]});
    assert_same(&upgrade(input), &expected);
}

/// A v2-shaped item plus `fields`.
fn v2_item(id: &str, fields: Value) -> Value {
    json!({"id": id, "founder": founder_a(), "createdAt": T0, "updatedAt": T1, "claimedBy": null, "deliverables": []})
        .with(fields)
}

#[test]
fn from_version_3_ratings_and_reputation() {
    let rating = json!({"btcAddress": B, "score": 5, "review": null, "ratedAt": T1});
    let input = json!({
        "version": 3, "writeVersion": 1, "updatedAt": TB,
        "items": [
            v2_item("r_1", json!({"ratings": [rating], "reputation": {"average": 4.5, "count": 2}})),
            v2_item("r_2", json!({"ratings": {}, "reputation": 0})),
            v2_item("r_3", json!({"reputation": null})),
            v2_item("r_4", json!({"ratings": [], "reputation": {}})),
            v2_item("r_5", json!({"ratings": [], "reputation": ""})),
        ],
    });
    let tail = json!({"goals": [], "mentions": {"count": 0}, "leader": leader_a(T0, T1), "searchTerms": [],
        "website": null});
    let item = |id: &str, fields: Value| v2_item(id, fields).with(tail.clone());
    let expected = json!({
        "version": 10, "writeVersion": 1, "updatedAt": TB,
        "items": [
            item("r_1", json!({"ratings": [rating], "reputation": {"average": 4.5, "count": 2}})),
            item("r_2", json!({"ratings": [], "reputation": reputation0()})),
            // Absent `ratings` is appended after the existing `reputation`.
            item("r_3", json!({"reputation": reputation0(), "ratings": []})),
            // `{}` is truthy: kept.
            item("r_4", json!({"ratings": [], "reputation": {}})),
            item("r_5", json!({"ratings": [], "reputation": reputation0()})),
        ],
    });
    assert_same(&upgrade(input), &expected);
}

/// A v3-shaped item plus `fields`.
fn v3_item(id: &str, fields: Value) -> Value {
    v2_item(id, json!({"ratings": [], "reputation": reputation0()})).with(fields)
}

#[test]
fn from_version_4_goals_and_mentions() {
    let goal = |id: &str| json!({"id": id, "title": id, "completed": false, "completedAt": null});
    let input = json!({
        "version": 4, "writeVersion": 2, "updatedAt": TB,
        "items": [
            v3_item("r_1", json!({"goals": [goal("g_1"), goal("g_2")], "mentions": {"count": 3}})),
            v3_item("r_2", json!({"goals": "g_1"})),
            v3_item("r_3", json!({"goals": [], "mentions": 0})),
            v3_item("r_4", json!({"goals": [], "mentions": {}})),
        ],
    });
    let tail = json!({"leader": leader_a(T0, T1), "searchTerms": [], "website": null});
    let expected = json!({
        "version": 10, "writeVersion": 2, "updatedAt": TB,
        "items": [
            v3_item("r_1", json!({"goals": [goal("g_1"), goal("g_2")], "mentions": {"count": 3}})).with(tail.clone()),
            v3_item("r_2", json!({"goals": [], "mentions": {"count": 0}})).with(tail.clone()),
            v3_item("r_3", json!({"goals": [], "mentions": {"count": 0}})).with(tail.clone()),
            v3_item("r_4", json!({"goals": [], "mentions": {}})).with(tail.clone()),
        ],
    });
    assert_same(&upgrade(input), &expected);
}

#[test]
fn from_version_5_leader() {
    let kept_leader = json!({"btcAddress": B, "displayName": "Kept", "assignedAt": T0, "lastActiveAt": T0});
    let claimed = json!({"btcAddress": B, "displayName": "Claimer", "agentId": null, "claimedAt": TC});
    let input = json!({
        "version": 5, "writeVersion": 3, "updatedAt": TB,
        "items": [
            // Step 5 does not run: absent `claimedBy` stays absent, `reputation: 0` stays 0.
            {"id": "r_1", "founder": founder_a(), "createdAt": T0, "updatedAt": T1, "reputation": 0},
            // A truthy leader is untouched.
            {"id": "r_2", "founder": founder_a(), "leader": kept_leader, "createdAt": T0, "updatedAt": T1},
            // A null leader is falsy: rebuilt in place, from `claimedBy` (its `agentId: null` is copied).
            {"id": "r_3", "founder": founder_a(), "leader": null, "claimedBy": claimed, "createdAt": T0,
             "updatedAt": T1},
            // Neither `claimedBy` nor `founder` is truthy: the leader is null.
            {"id": "r_4", "claimedBy": null, "founder": 0, "createdAt": T0, "updatedAt": T1},
            // No timestamps on the item: "now" is the blob's `updatedAt`; `claimedAt` missing.
            {"id": "r_5", "claimedBy": {"btcAddress": B}},
            // A falsy `profileUrl` is rebuilt from the address.
            {"id": "r_6", "founder": {"btcAddress": A, "displayName": "Anvil", "profileUrl": ""}, "createdAt": T0,
             "updatedAt": ""},
        ],
    });
    let tail = |leader: Value| json!({"leader": leader, "searchTerms": [], "website": null});
    let expected = json!({
        "version": 10, "writeVersion": 3, "updatedAt": TB,
        "items": [
            json!({"id": "r_1", "founder": founder_a(), "createdAt": T0, "updatedAt": T1, "reputation": 0})
                .with(tail(leader_a(T0, T1))),
            json!({"id": "r_2", "founder": founder_a(), "leader": kept_leader, "createdAt": T0, "updatedAt": T1,
                   "searchTerms": [], "website": null}),
            json!({"id": "r_3", "founder": founder_a(),
                   "leader": {"btcAddress": B, "displayName": "Claimer", "agentId": null,
                              "profileUrl": format!("https://aibtc.com/agents/{B}"),
                              "assignedAt": TC, "lastActiveAt": T1},
                   "claimedBy": claimed, "createdAt": T0, "updatedAt": T1, "searchTerms": [], "website": null}),
            json!({"id": "r_4", "claimedBy": null, "founder": 0, "createdAt": T0, "updatedAt": T1})
                .with(tail(Value::Null)),
            json!({"id": "r_5", "claimedBy": {"btcAddress": B}}).with(tail(json!({
                "btcAddress": B, "profileUrl": format!("https://aibtc.com/agents/{B}"),
                "assignedAt": TB, "lastActiveAt": TB}))),
            json!({"id": "r_6", "founder": {"btcAddress": A, "displayName": "Anvil", "profileUrl": ""}, "createdAt": T0,
                   "updatedAt": ""})
            .with(tail(json!({"btcAddress": A, "displayName": "Anvil",
                             "profileUrl": format!("https://aibtc.com/agents/{A}"),
                             "assignedAt": T0, "lastActiveAt": T0}))),
        ],
    });
    assert_same(&upgrade(input), &expected);
}

#[test]
fn from_version_6_search_terms_and_websites() {
    let readme = json!({"url": "https://readme.example", "source": "readme", "discoveredAt": T1});
    let homepage = json!({"url": "https://home.example", "source": "homepage", "discoveredAt": T1});
    let gh = |homepage: Value| json!({"type": "repo", "homepage": homepage});
    let input = json!({
        "version": 6, "writeVersion": 4, "updatedAt": TB,
        "items": [
            // Step 6 does not run: no leader is added. `searchTerms` absent → [].
            {"id": "r_1", "githubData": gh(json!("https://h.example"))},
            {"id": "r_2", "searchTerms": "a b", "githubData": gh(json!(""))},
            {"id": "r_3", "searchTerms": ["kept"], "githubData": null},
            {"id": "r_4", "githubData": "not an object"},
            // `website: null` stays null even with a homepage (only an absent key is defaulted).
            {"id": "r_5", "githubData": gh(json!("https://h.example")), "website": null},
            // Step 10 clears a non-homepage website, keeps a homepage one, and leaves a falsy one alone.
            {"id": "r_6", "githubData": gh(json!("https://h.example")), "website": readme},
            {"id": "r_7", "website": homepage},
            {"id": "r_8", "website": ""},
        ],
    });
    let expected = json!({
        "version": 10, "writeVersion": 4, "updatedAt": TB,
        "items": [
            {"id": "r_1", "githubData": gh(json!("https://h.example")), "searchTerms": [],
             "website": {"url": "https://h.example", "source": "homepage", "discoveredAt": TB}},
            {"id": "r_2", "searchTerms": [], "githubData": gh(json!("")), "website": null},
            {"id": "r_3", "searchTerms": ["kept"], "githubData": null, "website": null},
            {"id": "r_4", "githubData": "not an object", "searchTerms": [], "website": null},
            {"id": "r_5", "githubData": gh(json!("https://h.example")), "website": null, "searchTerms": []},
            {"id": "r_6", "githubData": gh(json!("https://h.example")), "website": null, "searchTerms": []},
            {"id": "r_7", "website": homepage, "searchTerms": []},
            {"id": "r_8", "website": "", "searchTerms": []},
        ],
    });
    assert_same(&upgrade(input), &expected);
}

#[test]
fn from_version_7_websites_only() {
    let input = json!({
        "version": 7, "writeVersion": "12",
        "items": [
            // Step 7 does not run: no `searchTerms`. No blob `updatedAt`: "now" is the item's `createdAt`.
            {"id": "r_1", "githubData": {"homepage": "https://h.example"}, "createdAt": T0},
            // A truthy website without `source` is not a homepage one.
            {"id": "r_2", "website": {"url": "https://x.example"}},
            {"id": "r_3", "website": {"url": "https://x.example", "source": "homepage"}},
        ],
    });
    let expected = json!({
        "version": 10, "writeVersion": 0,
        "items": [
            {"id": "r_1", "githubData": {"homepage": "https://h.example"}, "createdAt": T0,
             "website": {"url": "https://h.example", "source": "homepage", "discoveredAt": T0}},
            {"id": "r_2", "website": null},
            {"id": "r_3", "website": {"url": "https://x.example", "source": "homepage"}},
        ],
    });
    assert_same(&upgrade(input), &expected);
}

#[test]
fn from_versions_8_and_9_only_step_10_runs() {
    for version in [8, 9] {
        let input = json!({
            "version": version, "writeVersion": 5, "updatedAt": TB,
            "items": [
                {"id": "r_1", "githubData": {"homepage": "https://h.example"}},
                {"id": "r_2", "website": {"url": "https://x.example", "source": "message"}},
            ],
        });
        let expected = json!({
            "version": 10, "writeVersion": 5, "updatedAt": TB,
            "items": [
                {"id": "r_1", "githubData": {"homepage": "https://h.example"}},
                {"id": "r_2", "website": null},
            ],
        });
        assert_same(&upgrade(input), &expected);
    }
}

#[test]
fn at_version_10_items_created_after_the_steps_stay_untouched() {
    let input = json!({
        "version": 10, "writeVersion": 9, "updatedAt": TB,
        "items": [
            // Created after v7 and v10: no `searchTerms`, no `website`, no step 5/6 fields.
            {"id": "r_1", "githubData": {"homepage": "https://h.example"}, "founder": founder_a(), "createdAt": T0},
            // Not cleared: step 10 does not run again.
            {"id": "r_2", "website": {"url": "https://x.example", "source": "readme"}, "leader": null,
             "reputation": 0, "deliverables": "x"},
        ],
    });
    assert_same(&upgrade(input.clone()), &input);
}

#[test]
fn init_only_replaces_a_write_version_that_is_not_a_number() {
    let blob = |write_version: Option<Value>| {
        let mut blob = json!({"version": 10});
        if let Some(w) = write_version {
            blob["writeVersion"] = w;
        }
        blob.with(json!({"items": []}))
    };
    // Absent: appended at the end.
    assert_same(&upgrade(blob(None)), &json!({"version": 10, "items": [], "writeVersion": 0}));
    // Not a number: replaced in place.
    for bad in [json!(null), json!("3"), json!(true), json!({}), json!([1])] {
        assert_same(&upgrade(blob(Some(bad))), &blob(Some(json!(0))));
    }
    // Any number stays (`typeof x === 'number'`).
    for ok in [json!(0), json!(412), json!(2.5), json!(-1)] {
        assert_same(&upgrade(blob(Some(ok.clone()))), &blob(Some(ok)));
    }
}

// ---------------------------------------------------------------------------------------------
// Errors.

#[test]
fn the_value_must_be_an_object() {
    for bad in [json!([]), json!(null), json!("items"), json!(10)] {
        let e = error(bad);
        assert_eq!(e.pointer, "/");
        assert!(e.expected.contains("an object"), "{e}");
    }
}

#[test]
fn items_must_be_an_array_of_objects() {
    let e = error(json!({"version": 1, "updatedAt": TB}));
    assert_eq!((e.pointer.as_str(), e.expected.as_str()), ("/items", "an array of items"));
    assert!(e.found.contains("absent"), "{e}");

    let e = error(json!({"version": 10, "writeVersion": 1, "items": {"r_1": {}}}));
    assert_eq!(e.pointer, "/items");
    assert_eq!(e.found, "an object with 1 fields");

    let e = error(json!({"version": 3, "updatedAt": TB, "items": [{"id": "r_1", "founder": founder_a()}, "r_2"]}));
    assert_eq!((e.pointer.as_str(), e.expected.as_str()), ("/items/1", "an object (an item)"));
    assert_eq!(e.found, "string \"r_2\"");

    // Checked at version 10 too, where no step reads the items.
    let e = error(json!({"version": 10, "writeVersion": 1, "items": [null]}));
    assert_eq!((e.pointer.as_str(), e.found.as_str()), ("/items/0", "null"));
}

#[test]
fn version_must_be_an_integer_from_1_to_10() {
    let items = json!([{"id": "r_1", "founder": founder_a(), "createdAt": T0}]);
    let e = error(json!({"items": items, "updatedAt": TB}));
    assert_eq!(e.pointer, "/version");
    assert!(e.expected.contains("from 1 to 10"), "{e}");
    assert!(e.found.contains("absent"), "{e}");
    for (bad, found) in [
        (json!("5"), "string \"5\""),
        (json!(5.0), "number 5.0"),
        (json!(7.5), "number 7.5"),
        (json!(0), "number 0"),
        (json!(-3), "number -3"),
        (json!(11), "number 11"),
        (json!(null), "null"),
        (json!(true), "boolean true"),
    ] {
        let e = error(json!({"version": bad, "items": items, "updatedAt": TB}));
        assert_eq!((e.pointer.as_str(), e.found.as_str()), ("/version", found));
    }
}

#[test]
fn no_clock_for_step_6_names_the_item() {
    // No blob `updatedAt` and an item without `createdAt`/`updatedAt`/`claimedAt`: step 6 needs "now".
    let e = error(json!({
        "version": 5, "writeVersion": 1,
        "items": [
            {"id": "r_1", "founder": founder_a(), "createdAt": T0},
            {"id": "r_2", "founder": founder_a()},
        ],
    }));
    assert_eq!(e.pointer, "/items/1/createdAt");
    assert!(e.expected.contains("step 6"), "{e}");
    assert!(e.found.contains("absent"), "{e}");

    // A blob `updatedAt` that is not a string is no clock; nor is an empty `createdAt`.
    let e = error(
        json!({"version": 5, "updatedAt": 17, "items": [{"id": "r_1", "founder": founder_a(), "createdAt": ""}]}),
    );
    assert_eq!((e.pointer.as_str(), e.found.as_str()), ("/items/0/createdAt", "string \"\""));
}

#[test]
fn no_clock_for_step_8_names_the_item() {
    let e = error(json!({"version": 7, "items": [{"id": "r_1", "githubData": {"homepage": "https://h.example"}}]}));
    assert_eq!(e.pointer, "/items/0/createdAt");
    assert!(e.expected.contains("step 8"), "{e}");
}

#[test]
fn the_clock_is_only_required_when_a_step_needs_it() {
    // No timestamps anywhere, but the leader exists and there is no homepage: nothing needs "now".
    let input = json!({
        "version": 5, "writeVersion": 1,
        "items": [{"id": "r_1", "leader": {"btcAddress": A}, "githubData": null}],
    });
    let expected = json!({
        "version": 10, "writeVersion": 1,
        "items": [{"id": "r_1", "leader": {"btcAddress": A}, "githubData": null, "searchTerms": [], "website": null}],
    });
    assert_same(&upgrade(input), &expected);
}
