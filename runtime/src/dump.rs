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
    #[serde(deserialize_with = "value_string")]
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

/// A bulk entry's `value`: a JSON string holding a whole KV value (up to 25 MiB,
/// with an escaped quote every few bytes). Decoded in one pass into a string of the right size;
/// strings with `\u` escapes are left to serde_json (surrogate pairs and their errors).
fn value_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let raw = <&'de serde_json::value::RawValue>::deserialize(d)?;
    let text = raw.get();
    match unescape(text) {
        Some(s) => Ok(s),
        None => serde_json::from_str::<String>(text).map_err(serde::de::Error::custom),
    }
}

/// Decodes a JSON string literal (quotes included) that serde_json has already checked, with
/// the escapes `\" \\ \/ \b \f \n \r \t`. `None` for anything else (not a string, `\u`).
fn unescape(literal: &str) -> Option<String> {
    let body = literal.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let escaped = *rest.as_bytes().get(i + 1)?;
        out.push(match escaped {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            _ => return None,
        });
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    Some(out)
}

/// Parses a bulk dump, counting each `expiration_ttl` from `ttl_base` (Unix seconds): see
/// [`read_bulk`].
pub fn parse_dump(text: &str, ttl_base: i64) -> Result<KvSnapshot, Error> {
    read_bulk(text, Some(ttl_base))
}

/// Parses a bulk dump. Metadata is refused rather than dropped: kv2sql migrates values, and
/// nothing is lost silently.
///
/// An `expiration_ttl` (seconds from when it is written) has no fixed instant in a dump: counted
/// from "now", each run would move the expiry later and `verify` could never agree. Without
/// `ttl_base` it is refused, saying how to fix the instant; with it, it counts from `ttl_base`,
/// the same on every run that passes the same value.
pub fn read_bulk(text: &str, ttl_base: Option<i64>) -> Result<KvSnapshot, Error> {
    if text.starts_with('\u{feff}') {
        return Err(Error::Dump(
            "the file starts with a byte order mark (U+FEFF, bytes EF BB BF), which JSON does not allow: remove it \
             (for example `sed -i '1s/^\\xEF\\xBB\\xBF//' <dump>`) and run again"
                .into(),
        ));
    }
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
                Error::Dump(format!(
                    "{}: `base64` is true but the value is not base64 ({err}): fix the value, or drop `base64` if it \
                     is plain text",
                    e.key
                ))
            })?;
            String::from_utf8(bytes).map_err(|err| Error::Utf8 { kv_key: e.key.clone(), message: err.to_string() })?
        } else {
            e.value
        };
        let expiration = match (e.expiration, e.expiration_ttl, ttl_base) {
            (Some(x), _, _) => Some(x),
            (None, Some(ttl), Some(base)) => Some(base.saturating_add(ttl)),
            (None, Some(ttl), None) => return Err(ttl_refused(&e.key, ttl)),
            (None, None, _) => None,
        };
        entries.push(KvEntry { key: e.key, value, expiration });
    }
    KvSnapshot::new(entries)
}

fn ttl_refused(key: &str, ttl: i64) -> Error {
    Error::Dump(format!(
        "{key}: has `expiration_ttl` {ttl}, which counts from when the dump is read, so every run would move \
         its expiry later (and `verify` could never agree); kv2sql needs a fixed instant. Pass --ttl-base \
         <unix-seconds> (for example when the dump was taken; the same value on every run), or convert the \
         dump once: jq --argjson now \"$(date +%s)\" 'map(if .expiration_ttl then .expiration = $now + \
         .expiration_ttl | del(.expiration_ttl) else . end)' dump.json > fixed.json"
    ))
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

    /// The one-pass decoding of values gives what serde_json gives, for every escape.
    #[test]
    fn values_decode_exactly_as_serde_json_decodes_them() {
        let values = [
            "",
            "plain",
            r#"{\"items\":[{\"id\":\"a\"}],\"n\":1}"#,
            r#"quote \" backslash \\ slash \/ controls \b\f\n\r\t end"#,
            r#"\\\\"#,
            r#"unicode \u00e9 \u2028 and a pair \ud83d\ude00 and raw é 😀"#,
            r#"{\"k\":\"\\u0000\"}"#,
        ];
        for v in values {
            let text = format!(r#"[{{"key": "k", "value": "{v}"}}]"#);
            let expected: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
            let got = parse_dump(&text, 0).unwrap();
            assert_eq!(got.get("k").unwrap().value, expected[0]["value"].as_str().unwrap(), "{v}");
        }
        // Every single-character escape, one by one, against serde_json.
        for c in ['"', '\\', '/', 'b', 'f', 'n', 'r', 't'] {
            let literal = format!("\"a\\{c}b\"");
            let expected: String = serde_json::from_str(&literal).unwrap();
            assert_eq!(unescape(&literal).unwrap(), expected);
        }
        assert_eq!(unescape(r#""\u0041""#), None, "\\u is left to serde_json");
    }

    /// Every ASCII character and some others, as serde_json writes them into a dump, read back.
    #[test]
    fn every_character_round_trips_through_a_dump() {
        let mut all: String = (0u8..=0x7f).map(char::from).collect();
        all.push_str("é\u{2028}😀\u{fffd}");
        for value in [all.clone(), all.repeat(3), format!("{{\"v\":{}}}", serde_json::to_string(&all).unwrap())] {
            let snap =
                KvSnapshot::new(vec![KvEntry { key: "k".into(), value: value.clone(), expiration: None }]).unwrap();
            let back = parse_dump(&write_dump(&snap), 0).unwrap();
            assert_eq!(back.get("k").unwrap().value, value);
        }
    }

    #[test]
    fn values_that_are_not_strings_or_not_valid_are_refused() {
        for bad in [
            r#"[{"key": "k", "value": 5}]"#,
            r#"[{"key": "k", "value": null}]"#,
            r#"[{"key": "k", "value": "\ud800"}]"#,
            r#"[{"key": "k", "value": "\x"}]"#,
            r#"[{"key": "k", "value": "abc"#,
        ] {
            let e = parse_dump(bad, 0).unwrap_err();
            assert!(matches!(e, Error::Dump(_)), "{bad}: {e}");
        }
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

    /// A TTL without a fixed instant is refused naming the key and both fixes; with one, the
    /// same base gives the same expiration on every read.
    #[test]
    fn a_ttl_needs_a_fixed_instant() {
        let text = r#"[{"key": "a", "value": "1"}, {"key": "t", "value": "{}", "expiration_ttl": 60}]"#;
        let e = read_bulk(text, None).unwrap_err().to_string();
        assert!(e.starts_with("dump: t: has `expiration_ttl` 60, which counts from when the dump is read"), "{e}");
        assert!(e.contains("--ttl-base <unix-seconds>") && e.contains("jq --argjson now"), "{e}");
        let once = read_bulk(text, Some(1_700_000_000)).unwrap();
        assert_eq!(once.get("t").unwrap().expiration, Some(1_700_000_060));
        assert_eq!(read_bulk(text, Some(1_700_000_000)).unwrap(), once);
        // A fixed expiration beside it wins, as in KV; no TTL, no base needed.
        let both = r#"[{"key": "t", "value": "{}", "expiration": 5, "expiration_ttl": 60}]"#;
        assert_eq!(read_bulk(both, None).unwrap().get("t").unwrap().expiration, Some(5));
        assert!(read_bulk(r#"[{"key": "a", "value": "1"}]"#, None).is_ok());
    }

    #[test]
    fn a_byte_order_mark_is_named() {
        let e = read_bulk("\u{feff}[]", None).unwrap_err().to_string();
        assert!(e.contains("starts with a byte order mark (U+FEFF"), "{e}");
        assert!(e.contains("sed -i"), "{e}");
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
