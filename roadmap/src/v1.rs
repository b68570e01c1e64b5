//! v1's "upgrade on read" of the `roadmap:items` value, replayed step by step.
//!
//! v1 never rewrote an old blob in place. Each `getData` upgraded the blob in memory and the
//! next save persisted the result, so a blob in KV can be at any persisted version (1 to 7, or
//! 10), and items created after a step ran never received that step's defaults
//! (the v1 data model, `shared/v1/DATA-MODEL.md` §2.4). [`upgrade_items`] replays v1's final `getData`
//! (`functions/api/_tasks.js`, commit c7ab454) with JavaScript semantics:
//!
//! * **init** (always): a top-level `writeVersion` that is not a JSON number becomes `0`.
//! * **5** (`version < 5`), per item: `claimedBy` absent → `null` (a `null` stays);
//!   `deliverables`, `ratings`, `goals` not arrays → `[]`; `reputation` falsy →
//!   `{average: 0, count: 0}`; `mentions` falsy → `{count: 0}`.
//! * **6** (`version < 6`), per item: a falsy `leader` is built from `claimedBy` if truthy, else
//!   `founder`: `{btcAddress, displayName, agentId}` copied when present in the source,
//!   `profileUrl` (the source's if truthy, else `"https://aibtc.com/agents/" + btcAddress`),
//!   `assignedAt` (`claimedAt || createdAt || now`), `lastActiveAt` (`updatedAt || createdAt ||
//!   now`); `null` when neither source is truthy.
//! * **7** (`version < 7`), per item: `searchTerms` not an array → `[]`.
//! * **8** (`version < 8`), per item: `website` absent → `{url: githubData.homepage, source:
//!   "homepage", discoveredAt: now}` when that homepage is truthy, else `null`.
//! * **10** (`version < 10`), per item: a truthy `website` whose `source` is not the string
//!   `"homepage"` → `null`.
//!
//! Then `version` is `10`. "Falsy" is JavaScript's: absent, `null`, `false`, `0` (any spelling of
//! zero), `""`; `{}` and `[]` are truthy. A property read on something that is not an object
//! (`"text".homepage`) is `undefined`, as in JavaScript.
//!
//! Output: keys a step adds are appended at the end of their object (JavaScript's insertion
//! order; serde_json is built with `preserve_order`); a key that already exists keeps its place;
//! fields no step mentions are left alone. A key whose JavaScript value would be `undefined`
//! (a leader copied from a source without `displayName`, say) is left out, as `JSON.stringify`
//! drops it. The upgrade is idempotent: a blob at version 10 only goes through init, which is a
//! no-op once `writeVersion` is a number.
//!
//! # The clock
//!
//! Steps 6 and 8 call `new Date().toISOString()` in v1. The replay is deterministic instead:
//! "now" is the blob's top-level `updatedAt` when it is a non-empty string (the time of the save
//! that persisted the pre-upgrade blob), else the item's own `createdAt` when it is a non-empty
//! string. The clock is consulted only when a step actually falls through to "now"; if it is
//! needed and neither timestamp exists, the upgrade fails with a [`DataError`] at
//! `/items/N/createdAt`.
//!
//! # Decisions for values v1 never persisted
//!
//! * **`version` absent.** Every blob v1 wrote has a `version` (a missing *key* starts as
//!   `{version: 1, items: []}`, which the caller handles: there is no value to upgrade). For a
//!   blob without one, JavaScript's `undefined < 5` is `false`, so v1 would have run no step and
//!   left the blob unversioned, which is not a shape any v1 code reads correctly. This is refused
//!   with a [`DataError`] at `/version` rather than guessed.
//! * **`version` 8 or 9.** Never persisted (the `< 8` and `< 10` steps were added in the same
//!   commit and always ran together), but replaying from them is well defined: only step 10
//!   runs. They are accepted.
//! * **Any other `version`**: not an integer written as one (`"5"`, `5.0`, `null`, `true`), below
//!   1, or above 10. v1 would coerce some of these (`null < 5` is `true`), but none was ever
//!   written, so each is refused with a [`DataError`] at `/version`.
//! * **Envelope and items.** The value must be an object whose `items` is an array of objects,
//!   at every version (v1 only iterated `items` when a step ran; the mapping needs them anyway).
//!   Otherwise the [`DataError`] names `/`, `/items` or `/items/N`.

use kv2sql_runtime::json::{describe, Cx};
use kv2sql_runtime::{DataError, Path};
use serde_json::{json, Map, Number, Value};

/// The version every accepted blob ends at: the last step v1 added.
pub const CURRENT_VERSION: i64 = 10;

const ABSENT: &str = "nothing (the field is absent)";

/// Replays v1's upgrade-on-read of the `roadmap:items` value (see the [module docs](self)).
pub fn upgrade_items(value: Value, cx: &Cx<'_>) -> Result<Value, DataError> {
    let root = Path::ROOT;
    let mut data = match value {
        Value::Object(data) => data,
        other => {
            return Err(cx.error(
                &root,
                "an object (the `roadmap:items` envelope `{version, writeVersion, updatedAt, items}`)",
                describe(&other),
            ))
        }
    };
    let version_path = root.key("version");
    let from = read_version(data.get("version"), cx, &version_path)?;

    // init: `if (typeof data.writeVersion !== 'number') data.writeVersion = 0;`
    if !matches!(data.get("writeVersion"), Some(Value::Number(_))) {
        data.insert("writeVersion".into(), Value::from(0));
    }

    let blob_now = match data.get("updatedAt") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let items_path = root.key("items");
    let items = match data.get_mut("items") {
        Some(Value::Array(items)) => items,
        other => return Err(cx.error(&items_path, "an array of items", found(other.map(|v| &*v)))),
    };
    for (index, item) in items.iter_mut().enumerate() {
        let item_path = items_path.index(index);
        let Value::Object(item) = item else {
            return Err(cx.error(&item_path, "an object (an item)", describe(item)));
        };
        let clock = Clock { blob_now: blob_now.as_deref(), cx, item_path: &item_path };
        upgrade_item(item, from, &clock)?;
    }

    if from < CURRENT_VERSION {
        data.insert("version".into(), Value::from(CURRENT_VERSION));
    }
    Ok(Value::Object(data))
}

/// The blob's `version`: an integer from 1 to 10 (see the module docs for why others fail).
fn read_version(version: Option<&Value>, cx: &Cx<'_>, path: &Path<'_>) -> Result<i64, DataError> {
    let exact = version.and_then(Value::as_number).and_then(|n| n.as_i64().filter(|i| i.to_string() == n.to_string()));
    match exact {
        Some(v) if (1..=CURRENT_VERSION).contains(&v) => Ok(v),
        _ => Err(cx.error(path, "an integer schema version from 1 to 10 (v1 persisted 1 to 7 and 10)", found(version))),
    }
}

/// Replays steps 5 to 10 on one item, each only if the blob's version is below its number.
fn upgrade_item(item: &mut Map<String, Value>, from: i64, clock: &Clock<'_>) -> Result<(), DataError> {
    if from < 5 {
        if !item.contains_key("claimedBy") {
            item.insert("claimedBy".into(), Value::Null);
        }
        default_array(item, "deliverables");
        default_array(item, "ratings");
        if !truthy(item.get("reputation")) {
            item.insert("reputation".into(), json!({"average": 0, "count": 0}));
        }
        default_array(item, "goals");
        if !truthy(item.get("mentions")) {
            item.insert("mentions".into(), json!({"count": 0}));
        }
    }
    if from < 6 && !truthy(item.get("leader")) {
        let leader = build_leader(item, clock)?;
        item.insert("leader".into(), leader);
    }
    if from < 7 {
        default_array(item, "searchTerms");
    }
    if from < 8 && !item.contains_key("website") {
        let website = match item.get("githubData").and_then(|g| prop(g, "homepage")) {
            Some(homepage) if truthy(Some(homepage)) => json!({
                "url": homepage.clone(),
                "source": "homepage",
                "discoveredAt": clock.now(item, "step 8 (website.discoveredAt)")?,
            }),
            _ => Value::Null,
        };
        item.insert("website".into(), website);
    }
    if from < 10 {
        let clear = item
            .get("website")
            .is_some_and(|w| truthy(Some(w)) && prop(w, "source").and_then(Value::as_str) != Some("homepage"));
        if clear {
            item.insert("website".into(), Value::Null);
        }
    }
    Ok(())
}

/// Step 6's leader, from `claimedBy || founder`; `null` when that is falsy.
fn build_leader(item: &Map<String, Value>, clock: &Clock<'_>) -> Result<Value, DataError> {
    let source = match item.get("claimedBy") {
        claimed if truthy(claimed) => claimed,
        _ => item.get("founder"),
    };
    let Some(source) = source.filter(|s| truthy(Some(s))) else {
        return Ok(Value::Null);
    };
    let mut leader = Map::new();
    for key in ["btcAddress", "displayName", "agentId"] {
        if let Some(v) = prop(source, key) {
            leader.insert(key.into(), v.clone());
        }
    }
    let profile_url = match prop(source, "profileUrl") {
        Some(url) if truthy(Some(url)) => url.clone(),
        _ => Value::String(format!("https://aibtc.com/agents/{}", js_string(prop(source, "btcAddress")))),
    };
    leader.insert("profileUrl".into(), profile_url);
    let assigned_at = match first_truthy(&[prop(source, "claimedAt"), item.get("createdAt")]) {
        Some(v) => v.clone(),
        None => clock.now(item, "step 6 (leader.assignedAt)")?,
    };
    leader.insert("assignedAt".into(), assigned_at);
    let last_active_at = match first_truthy(&[item.get("updatedAt"), item.get("createdAt")]) {
        Some(v) => v.clone(),
        None => clock.now(item, "step 6 (leader.lastActiveAt)")?,
    };
    leader.insert("lastActiveAt".into(), last_active_at);
    Ok(Value::Object(leader))
}

/// The deterministic stand-in for v1's `new Date().toISOString()` (see the module docs).
struct Clock<'a> {
    blob_now: Option<&'a str>,
    cx: &'a Cx<'a>,
    item_path: &'a Path<'a>,
}

impl Clock<'_> {
    fn now(&self, item: &Map<String, Value>, needed_by: &str) -> Result<Value, DataError> {
        if let Some(now) = self.blob_now {
            return Ok(Value::from(now));
        }
        match item.get("createdAt") {
            Some(Value::String(s)) if !s.is_empty() => Ok(Value::from(s.as_str())),
            other => Err(self.cx.error(
                &self.item_path.key("createdAt"),
                format!(
                    "a non-empty string: {needed_by} needs v1's clock (\"now\"), which the replay takes from the \
                     blob's `updatedAt` or else the item's `createdAt`, and the blob has no `updatedAt` string"
                ),
                found(other),
            )),
        }
    }
}

/// `if (!Array.isArray(item[key])) item[key] = [];`
fn default_array(item: &mut Map<String, Value>, key: &str) {
    if !matches!(item.get(key), Some(Value::Array(_))) {
        item.insert(key.into(), Value::Array(Vec::new()));
    }
}

/// `value[key]` in JavaScript, for JSON values: only objects have the properties the steps read.
fn prop<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    value.as_object()?.get(key)
}

/// `a || b`: the first truthy candidate, if any.
fn first_truthy<'v>(candidates: &[Option<&'v Value>]) -> Option<&'v Value> {
    candidates.iter().copied().flatten().find(|v| truthy(Some(v)))
}

/// JavaScript truthiness of a JSON value, `None` being `undefined`.
fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => {
            let x = js_number(n);
            x != 0.0 && !x.is_nan()
        }
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(_) | Value::Object(_)) => true,
    }
}

/// The number JavaScript's `JSON.parse` makes of this literal (`1e400` is `Infinity`).
fn js_number(n: &Number) -> f64 {
    n.to_string().parse().unwrap_or(f64::NAN)
}

/// JavaScript's `String(value)`, as a template literal applies it, `None` being `undefined`.
fn js_string(value: Option<&Value>) -> String {
    match value {
        None => "undefined".into(),
        Some(Value::Null) => "null".into(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => js_number_string(js_number(n)),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(_)) => "[object Object]".into(),
        // `Array.prototype.join`: null elements become "".
        Some(Value::Array(a)) => {
            a.iter().map(|e| if e.is_null() { String::new() } else { js_string(Some(e)) }).collect::<Vec<_>>().join(",")
        }
    }
}

/// ECMAScript `Number::toString(x)` in radix 10: the shortest round-trip digits, in plain
/// notation for 1e-7 < |x| < 1e21 and in exponent notation outside.
fn js_number_string(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x == 0.0 {
        return "0".into();
    }
    if x < 0.0 {
        return format!("-{}", js_number_string(-x));
    }
    if x.is_infinite() {
        return "Infinity".into();
    }
    // `{:e}` gives the shortest round-trip digits: "1.2345e-8", "5e0".
    let sci = format!("{x:e}");
    let (mantissa, exponent) = sci.split_once('e').expect("`{:e}` always writes an exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i64;
    let n = exponent.parse::<i64>().expect("`{:e}` writes an integer exponent") + 1;
    if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let sign = if e < 0 { '-' } else { '+' };
        let (first, rest) = digits.split_at(1);
        if rest.is_empty() {
            format!("{first}e{sign}{}", e.abs())
        } else {
            format!("{first}.{rest}e{sign}{}", e.abs())
        }
    }
}

/// `describe`, with absence spelled out.
fn found(value: Option<&Value>) -> String {
    value.map_or_else(|| ABSENT.to_string(), describe)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn truthiness_follows_javascript() {
        for falsy in ["null", "false", "0", "0.0", "-0", "0e5", "1e-400", "\"\""] {
            assert!(!truthy(Some(&num(falsy))), "{falsy} should be falsy");
        }
        assert!(!truthy(None));
        for truthy_text in ["true", "1", "-0.5", "1e400", "\"0\"", "\" \"", "[]", "{}"] {
            assert!(truthy(Some(&num(truthy_text))), "{truthy_text} should be truthy");
        }
    }

    #[test]
    fn number_to_string_matches_javascript() {
        let cases = [
            ("0", "0"),
            ("-0", "0"),
            ("7", "7"),
            ("-42", "-42"),
            ("1.5", "1.5"),
            ("123.456", "123.456"),
            ("5.0", "5"),
            ("100", "100"),
            ("1e20", "100000000000000000000"),
            ("1e21", "1e+21"),
            ("1.5e21", "1.5e+21"),
            ("0.000001", "0.000001"),
            ("0.0000012", "0.0000012"),
            ("1e-7", "1e-7"),
            ("-1.25e-7", "-1.25e-7"),
            ("0.1", "0.1"),
            ("12345678901234567890", "12345678901234567000"),
            ("1e400", "Infinity"),
            ("-1e400", "-Infinity"),
        ];
        for (input, expected) in cases {
            assert_eq!(js_string(Some(&num(input))), expected, "String({input})");
        }
    }

    #[test]
    fn template_strings_match_javascript() {
        assert_eq!(js_string(None), "undefined");
        assert_eq!(js_string(Some(&Value::Null)), "null");
        assert_eq!(js_string(Some(&num("true"))), "true");
        assert_eq!(js_string(Some(&num("\"bc1q\""))), "bc1q");
        assert_eq!(js_string(Some(&num("{\"a\":1}"))), "[object Object]");
        assert_eq!(js_string(Some(&num("[1,null,\"a\",[2,3],{}]"))), "1,,a,2,3,[object Object]");
        assert_eq!(js_string(Some(&num("[]"))), "");
    }

    #[test]
    fn version_must_be_an_exact_integer_from_1_to_10() {
        let cx = Cx { kv_key: "roadmap:items" };
        let root = Path::ROOT;
        let path = root.key("version");
        for ok in 1..=10 {
            assert_eq!(read_version(Some(&Value::from(ok)), &cx, &path), Ok(ok));
        }
        for bad in ["0", "-1", "11", "5.0", "5.5", "\"5\"", "null", "true", "1e1"] {
            let e = read_version(Some(&num(bad)), &cx, &path).unwrap_err();
            assert_eq!(e.pointer, "/version", "{bad}");
        }
        let e = read_version(None, &cx, &path).unwrap_err();
        assert_eq!(e.found, ABSENT);
    }
}
