//! The streaming splitter (runtime/src/stream.rs) against a parse of the whole value, on
//! generated JSON-ish text, valid and mutated: both accept and refuse the same inputs, with the
//! same value or the same error. And lone surrogate escapes (runtime/src/surrogate.rs) against a
//! model of JavaScript strings: what kv2sql exports is what `JSON.stringify(JSON.parse(text))`
//! writes. Deterministic: a fixed seed, so a failure shows again on every run.
//! The same comparison runs under libFuzzer as fuzz/fuzz_targets/split.rs.

use kv2sql_runtime::json::{self, Cx};
use kv2sql_runtime::stream::{Elements, Split};
use kv2sql_runtime::{Error, Path};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::Value;

/// The value the extraction sees through the splitter: the envelope, `items` put back.
fn through_split(text: &str) -> Result<Value, Error> {
    let split = Split::new("k", text, &["items"], None)?;
    let mut value = split.envelope.clone();
    let Some(obj) = value.as_object_mut() else { return Ok(value) };
    let cx = Cx { kv_key: "k" };
    if obj.contains_key("items") {
        // Not streamed (not an array): the envelope holds it.
        return Ok(value);
    }
    if let (_, Some(list @ Elements::Raw(_))) = split.array("items", true, true, &cx, &Path::ROOT)? {
        let mut items = Vec::new();
        list.for_each(&split, "items", &cx, |_, v| {
            items.push(v.clone());
            Ok::<(), Error>(())
        })?;
        obj.insert("items".into(), Value::Array(items));
    }
    Ok(value)
}

/// Both paths, as comparable text: the value (compact JSON) or the error message.
fn both(text: &str) -> (Result<Value, String>, Result<Value, String>) {
    let whole = json::parse("k", text).map_err(|e| e.to_string());
    let split = through_split(text).map_err(|e| e.to_string());
    (whole, split)
}

fn assert_agree(text: &str) {
    let (whole, split) = both(text);
    assert_eq!(split, whole, "splitter and whole parse differ on {text:?}");
}

// ---------------------------------------------------------------------------------------------
// JSON-ish text.

/// String contents: plain, escaped, lone and paired surrogate escapes, the marker, and a few
/// things that are not valid inside a string.
fn string_piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "a",
        "é",
        "😀",
        "\\\"",
        "\\\\",
        "\\/",
        "\\n",
        "\\u00e9",
        "\\u0000",
        "\\ud83d",
        "\\uD83D",
        "\\ude00",
        "\\ud83d\\ude00",
        "\\udbff",
        "\\udc00",
        "\u{FDD0}",
        "\\ufdd0",
        "\\uFDD0",
        "d83d",
        "\\\\ud83d",
        "\\u",
        "\\x",
        "\u{1}",
        "\u{2028}",
    ])
}

fn string_literal() -> impl Strategy<Value = String> {
    prop::collection::vec(string_piece(), 0..5).prop_map(|p| format!("\"{}\"", p.concat()))
}

fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["null", "true", "false", "0", "-1.5e3", "123456789012345678901234567890", "1.10"])
            .prop_map(String::from),
        string_literal(),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec!["\"items\"", "\"a\"", "\"b\"", "\"\\ud800\"", "\"\u{FDD0}\""]).prop_map(String::from),
        1 => string_literal(),
    ]
}

fn value(depth: u32) -> BoxedStrategy<String> {
    let leaf = scalar().boxed();
    if depth == 0 {
        return leaf;
    }
    prop_oneof![
        2 => leaf,
        1 => prop::collection::vec(value(depth - 1), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
        1 => prop::collection::vec((key(), value(depth - 1)), 0..4)
            .prop_map(|kv| format!("{{{}}}", kv.into_iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>().join(","))),
    ]
    .boxed()
}

/// A value shaped like a streamed KV value: an object whose fields include `items`, maybe more
/// than once, maybe not an array.
fn envelope() -> impl Strategy<Value = String> {
    let items = prop_oneof![
        3 => prop::collection::vec(value(3), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
        1 => value(2),
    ];
    let field = prop_oneof![
        2 => items.prop_map(|v| format!("\"items\":{v}")),
        1 => (key(), value(2)).prop_map(|(k, v)| format!("{k}:{v}")),
    ];
    prop_oneof![
        6 => prop::collection::vec(field, 0..5).prop_map(|f| format!("{{{}}}", f.join(","))),
        1 => value(3),
    ]
}

/// An edit that may break the text: delete, insert or replace a character.
#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Insert(usize, char),
    Replace(usize, char),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let c =
        prop::sample::select(vec!['[', ']', '{', '}', '"', ',', ':', '\\', 'u', 'd', '8', ' ', '\n', '1', '\u{FDD0}']);
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), c.clone()).prop_map(|(i, c)| Mutation::Insert(i, c)),
        (any::<usize>(), c).prop_map(|(i, c)| Mutation::Replace(i, c)),
    ]
}

fn mutate(text: &str, edits: &[Mutation]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for edit in edits {
        let n = chars.len();
        match *edit {
            Mutation::Delete(i) if n > 0 => {
                chars.remove(i % n);
            }
            Mutation::Insert(i, c) => chars.insert(i % (n + 1), c),
            Mutation::Replace(i, c) if n > 0 => chars[i % n] = c,
            _ => {}
        }
    }
    chars.into_iter().collect()
}

fn config(cases: u32) -> Config {
    Config { cases, rng_seed: RngSeed::Fixed(0x6b76_3273_716c), failure_persistence: None, ..Config::default() }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn splitter_agrees_with_the_whole_parse(text in envelope()) {
        assert_agree(&text);
    }

    #[test]
    fn splitter_agrees_with_the_whole_parse_on_mutated_text(
        text in envelope(),
        edits in prop::collection::vec(mutation(), 1..4),
    ) {
        assert_agree(&mutate(&text, &edits));
    }
}

/// Hand-picked cases the generator reaches only by luck.
#[test]
fn splitter_agrees_on_edge_cases() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let mut cases: Vec<String> = vec![
        "".into(),
        " ".into(),
        "{}".into(),
        "{\"items\":[]}".into(),
        "\u{feff}{\"items\":[]}".into(),
        "{\"items\":[1,2]} x".into(),
        "{\"items\":[1,2],}".into(),
        "{\"items\":[1,,2]}".into(),
        "{\"items\":[\"\\ud83d\"],\"items\":null}".into(),
        "{\"items\":null,\"items\":[\"\\ud83d\"]}".into(),
        "{\"items\":[1],\"a\":2,\"items\":[3]}".into(),
        "{\"items\":[\"a\u{0}\"]}".into(),
        "{\"items\":[\"\\u12\"]}".into(),
    ];
    for n in 120..130 {
        cases.push(format!("{{\"items\":[{}]}}", deep(n)));
        cases.push(format!("{{\"items\":[],\"a\":{}}}", deep(n)));
        cases.push(format!("{{\"items\":{}}}", deep(n)));
        cases.push(deep(n));
    }
    for text in &cases {
        assert_agree(text);
    }
}

// ---------------------------------------------------------------------------------------------
// Lone surrogates against a model of JavaScript strings.

/// UTF-16 code units worth mixing: plain, needing an escape, the halves of 😀 and other
/// surrogates, and the marker kv2sql stores lone halves with.
const UNITS: &[u16] = &[0x61, 0x64, 0x38, 0x33, 0xe9, 0x1f, 0x22, 0x5c, 0x2028, 0xd83d, 0xde00, 0xdbff, 0xdc00, 0xfdd0];

/// `JSON.stringify` of a JavaScript string: lone surrogates as lower-case escapes, pairs as the
/// character, and serde_json's (which are JavaScript's) escapes for the rest.
fn stringify(units: &[u16]) -> String {
    let mut out = String::from("\"");
    for unit in char::decode_utf16(units.iter().copied()) {
        match unit {
            Ok(c) => {
                let quoted = serde_json::to_string(&c.to_string()).unwrap();
                out.push_str(&quoted[1..quoted.len() - 1]);
            }
            Err(lone) => out.push_str(&format!("\\u{:04x}", lone.unpaired_surrogate())),
        }
    }
    out.push('"');
    out
}

/// The same string written another way, as some other writer might: each unit escaped or not,
/// in upper or lower case.
fn write_freely(units: &[u16], escape: &[u8]) -> String {
    let mut out = String::from("\"");
    for (i, unit) in char::decode_utf16(units.iter().copied()).enumerate() {
        let style = escape.get(i).copied().unwrap_or(0) % 3;
        match unit {
            Ok(c) if style == 0 && !matches!(c, '"' | '\\') && c >= ' ' => out.push(c),
            Ok(c) => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&if style == 2 { format!("\\u{u:04X}") } else { format!("\\u{u:04x}") });
                }
            }
            Err(lone) => {
                let u = lone.unpaired_surrogate();
                out.push_str(&if style == 2 { format!("\\u{u:04X}") } else { format!("\\u{u:04x}") });
            }
        }
    }
    out.push('"');
    out
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn lone_surrogates_export_as_json_stringify_writes_them(
        units in prop::collection::vec(prop::sample::select(UNITS), 0..12),
        escape in prop::collection::vec(any::<u8>(), 12),
        as_key in any::<bool>(),
    ) {
        let written = write_freely(&units, &escape);
        let (text, want) = if as_key {
            (format!("{{{written}:[{written}]}}"), format!("{{{0}:[{0}]}}", stringify(&units)))
        } else {
            (format!("[{written}]"), format!("[{}]", stringify(&units)))
        };
        let value = json::parse("k", &text).unwrap_or_else(|e| panic!("{text}: {e}"));
        prop_assert_eq!(json::to_text(&value), want.clone(), "{}", text);
        // And back: the export parses to the same value.
        prop_assert_eq!(json::from_text(&want).unwrap(), value.clone());
        prop_assert_eq!(through_split(&format!("{{\"items\":{text}}}")).unwrap()["items"].clone(), value);
    }
}
