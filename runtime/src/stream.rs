//! Reading a large KV value without building its whole JSON tree.
//!
//! A value such as `app:items` is one envelope holding a long array. Parsed whole into
//! `serde_json::Value`, 26 MB of text becomes about 180 MB of tree, more than a Durable Object
//! isolate has. [`Split`] instead parses the envelope's small fields, keeps each element of the
//! named top-level arrays as a borrowed slice of the text, and parses (and upgrades) one element
//! at a time.
//!
//! The source's `upgrade` hook still sees ordinary JSON: the envelope with an empty array to
//! upgrade the envelope, and the envelope with a one-element array for each element. This
//! requires the hook to treat elements independently of each other (it may read the envelope),
//! which an upgrade-on-read hook normally does; `upgraded()` applies the hook to the whole value, and the
//! round-trip tests check that both give the same result.

use std::borrow::Cow;
use std::ops::Range;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{DataError, Error};
use crate::json::{self, Cx, Shape};
use crate::path::Path;
use crate::surrogate;

/// An upgrade hook, as named by `upgrade:` in mapping.yaml.
pub type Hook = fn(Value, &Cx<'_>) -> Result<Value, DataError>;

/// The deepest nesting of arrays and objects serde_json accepts in one value (its recursion
/// limit). A part parsed on its own must stay within what is left of it at its place.
const MAX_DEPTH: usize = 127;

/// A value split into its upgraded envelope and the raw elements of its streamed arrays.
pub struct Split<'t> {
    /// The upgraded envelope, without the streamed arrays.
    pub envelope: Value,
    /// The envelope as stored, streamed arrays empty (what the hook sees per element).
    original: Map<String, Value>,
    /// The streamed arrays: field name and the byte ranges of their elements in `text`.
    arrays: Vec<(&'static str, Vec<Range<usize>>)>,
    hook: Option<Hook>,
    kv_key: String,
    /// The value as stored, and as parsed (lone surrogates encoded, see [`surrogate`]).
    stored: &'t str,
    text: Cow<'t, str>,
}

impl<'t> Split<'t> {
    /// Splits `text` (the value of `kv_key`). `streamed` names top-level fields whose arrays are
    /// read one element at a time. Duplicate top-level keys keep the last occurrence, in the
    /// place of the first, as `JSON.parse` does.
    pub fn new(kv_key: &str, text: &'t str, streamed: &[&'static str], hook: Option<Hook>) -> Result<Split<'t>, Error> {
        let cx = Cx { kv_key };
        let upgrade = |value: Value| -> Result<Value, DataError> {
            match hook {
                Some(h) => h(value, &cx),
                None => Ok(value),
            }
        };
        let encoded = surrogate::encode(text);
        let mut split = Split {
            envelope: Value::Null,
            original: Map::new(),
            arrays: Vec::new(),
            hook,
            kv_key: kv_key.to_string(),
            stored: text,
            text: Cow::Borrowed(""),
        };
        // Nothing to stream, or not an object: the whole value, parsed and upgraded as one (a
        // value of the wrong shape is then reported by the hook or the extraction).
        let whole = |mut split: Split<'t>, encoded: &str| -> Result<Split<'t>, Error> {
            let value = serde_json::from_str(encoded).map_err(|e| json::json_error(kv_key, text, encoded, &e))?;
            split.envelope = upgrade(value)?;
            Ok(split)
        };
        if streamed.is_empty() {
            return whole(split, &encoded);
        }
        // The top level, with every field kept raw.
        let top = match serde_json::from_str::<RawObject<'_>>(&encoded) {
            Ok(top) => top.0,
            Err(e) if e.classify() == serde_json::error::Category::Data => return whole(split, &encoded),
            // serde_json places some errors differently when it skips a value than when it
            // builds one: report the whole-tree parse's error.
            Err(e) => return Err(split.whole_error(&encoded, &e.to_string())),
        };
        for (k, raw) in top {
            let streamed_name = streamed.iter().find(|s| **s == k);
            if let Some(name) = streamed_name {
                split.arrays.retain(|(n, _)| n != name);
                // Not an array (null, an object, …): kept in the envelope below, where the hook
                // and the extraction report it as usual.
                if let Ok(list) = serde_json::from_str::<Vec<&RawValue>>(raw.get()) {
                    let ranges = list.iter().map(|r| offset_in(&encoded, r.get())).collect();
                    split.arrays.push((name, ranges));
                    split.original.insert(k, Value::Array(Vec::new()));
                    continue;
                }
            }
            let v = split.parse_part(&encoded, raw.get(), 1)?;
            split.original.insert(k, v);
        }
        // Upgrade the envelope: streamed arrays present but empty.
        let mut envelope = upgrade(Value::Object(split.original.clone()))?;
        if let Value::Object(o) = &mut envelope {
            for (name, _) in &split.arrays {
                o.remove(*name);
            }
        }
        split.envelope = envelope;
        split.text = encoded;
        Ok(split)
    }

    /// Parses `part` of `encoded`, a value nested `depth` levels deep in it, exactly as a parse
    /// of the whole value would: what that parse refuses is refused with its error (key, line
    /// and column in the whole value).
    fn parse_part(&self, encoded: &str, part: &str, depth: usize) -> Result<Value, Error> {
        let limit = MAX_DEPTH - depth;
        match serde_json::from_str::<Value>(part) {
            Ok(v) if brackets(part) <= limit || !deeper_than(&v, limit) => Ok(v),
            Ok(_) => Err(self.whole_error(encoded, "nesting too deep for the whole value")),
            Err(e) => Err(self.whole_error(encoded, &e.to_string())),
        }
    }

    /// The error a parse of the whole value gives; `fallback` if, unexpectedly, it gives none.
    fn whole_error(&self, encoded: &str, fallback: &str) -> Error {
        match serde_json::from_str::<Check>(encoded) {
            Err(e) => json::json_error(&self.kv_key, self.stored, encoded, &e),
            Ok(Check) => Error::Json { kv_key: self.kv_key.clone(), message: fallback.to_string(), line: 0, column: 0 },
        }
    }

    /// A streamed array of the envelope: its shape and raw elements. Falls back to the envelope
    /// for fields that were not streamed (or were not arrays).
    pub fn array<'s>(
        &'s self,
        name: &str,
        optional: bool,
        nullable: bool,
        cx: &Cx<'_>,
        path: &Path<'_>,
    ) -> Result<(Shape, Option<Elements<'s>>), DataError> {
        if let Some((_, list)) = self.arrays.iter().find(|(n, _)| *n == name) {
            return Ok((Shape::Present, Some(Elements::Raw(list))));
        }
        let obj = json::as_object(&self.envelope, cx, path)?;
        let (shape, list) = json::array(obj, name, optional, nullable, cx, path)?;
        Ok((shape, list.map(|l| Elements::Parsed(l.as_slice()))))
    }

    /// Parses and upgrades one element of a streamed array. Errors carry the element's real
    /// index in their pointer; JSON the whole value would refuse is refused with its error.
    pub fn element(&self, name: &str, index: usize, range: Range<usize>, cx: &Cx<'_>) -> Result<Value, Error> {
        let at = Path::ROOT;
        let arr_at = at.key(name);
        let el_at = arr_at.index(index);
        let value = self.parse_part(&self.text, &self.text[range], 2)?;
        let Some(hook) = self.hook else { return Ok(value) };
        let mut one = self.original.clone();
        one.insert(name.to_string(), Value::Array(vec![value]));
        let upgraded = hook(Value::Object(one), cx).map_err(|mut e| {
            let wrong = format!("/{}/0", name.replace('~', "~0").replace('/', "~1"));
            if e.pointer == wrong || e.pointer.starts_with(&format!("{wrong}/")) {
                e.pointer = format!("{}{}", el_at.pointer(), &e.pointer[wrong.len()..]);
            }
            e
        })?;
        match upgraded {
            Value::Object(mut o) => match o.remove(name) {
                Some(Value::Array(mut a)) if a.len() == 1 => Ok(a.pop().expect("one element")),
                _ => Err(cx
                    .error(
                        &el_at,
                        "the upgrade hook to return exactly the element it was given (hooks must upgrade elements independently)",
                        "a different array",
                    )
                    .into()),
            },
            other => Err(cx.error(&at, "the upgrade hook to return an object", json::describe(&other)).into()),
        }
    }
}

/// The byte range of `part`, a slice of `whole`, in `whole`.
fn offset_in(whole: &str, part: &str) -> Range<usize> {
    let start = part.as_ptr() as usize - whole.as_ptr() as usize;
    start..start + part.len()
}

/// How many `[` and `{` `text` holds (strings included): a bound on its nesting that costs a
/// fraction of the parse, so that the tree is walked only when the bound is not enough.
fn brackets(text: &str) -> usize {
    // Counted in byte-sized lanes, 255 bytes at a time, which the compiler vectorises.
    text.as_bytes()
        .chunks(255)
        .map(|chunk| usize::from(chunk.iter().map(|&b| u8::from(b == b'[') + u8::from(b == b'{')).sum::<u8>()))
        .sum()
}

/// Whether `v` nests arrays and objects more than `limit` levels deep (`v` itself is one).
fn deeper_than(v: &Value, limit: usize) -> bool {
    match v {
        Value::Array(a) => limit == 0 || a.iter().any(|c| deeper_than(c, limit - 1)),
        Value::Object(o) => limit == 0 || o.values().any(|c| deeper_than(c, limit - 1)),
        _ => false,
    }
}

/// The elements of an array child: raw ranges (streamed) or parsed values (from the envelope).
pub enum Elements<'s> {
    Raw(&'s [Range<usize>]),
    Parsed(&'s [Value]),
}

impl Elements<'_> {
    pub fn len(&self) -> usize {
        match self {
            Elements::Raw(l) => l.len(),
            Elements::Parsed(l) => l.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f(index, element)` for each element, parsing and upgrading streamed ones one at a
    /// time.
    pub fn for_each<E: From<Error>>(
        &self,
        split: &Split<'_>,
        name: &str,
        cx: &Cx<'_>,
        mut f: impl FnMut(usize, &Value) -> Result<(), E>,
    ) -> Result<(), E> {
        match self {
            Elements::Raw(list) => {
                for (i, range) in list.iter().enumerate() {
                    let v = split.element(name, i, range.clone(), cx)?;
                    f(i, &v)?;
                }
            }
            Elements::Parsed(list) => {
                for (i, v) in list.iter().enumerate() {
                    f(i, v)?;
                }
            }
        }
        Ok(())
    }
}

/// Any JSON value, checked as serde_json checks it when it builds a [`Value`] (strings,
/// escapes, nesting), and dropped: the whole value's error without its whole tree in memory.
struct Check;

impl<'de> serde::Deserialize<'de> for Check {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Check;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Check, E> {
                Ok(Check)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Check, E> {
                Ok(Check)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Check, E> {
                Ok(Check)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Check, E> {
                Ok(Check)
            }
            fn visit_str<E>(self, _: &str) -> Result<Check, E> {
                Ok(Check)
            }
            fn visit_unit<E>(self) -> Result<Check, E> {
                Ok(Check)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Check, A::Error> {
                while seq.next_element::<Check>()?.is_some() {}
                Ok(Check)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Check, A::Error> {
                while map.next_entry::<Check, Check>()?.is_some() {}
                Ok(Check)
            }
        }
        d.deserialize_any(V)
    }
}

/// A JSON object whose values stay raw, in document order.
struct RawObject<'t>(Vec<(String, &'t RawValue)>);

impl<'de: 't, 't> serde::Deserialize<'de> for RawObject<'t> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'t>(std::marker::PhantomData<&'t ()>);
        impl<'de: 't, 't> serde::de::Visitor<'de> for V<'t> {
            type Value = RawObject<'t>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, &'de RawValue>()? {
                    out.push((k, v));
                }
                Ok(RawObject(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hook(mut v: Value, _cx: &Cx<'_>) -> Result<Value, DataError> {
        let Some(o) = v.as_object_mut() else { return Ok(v) };
        o.insert("version".into(), json!(2));
        if let Some(Value::Array(items)) = o.get_mut("items") {
            for (i, it) in items.iter_mut().enumerate() {
                if it.get("bad").is_some() {
                    return Err(DataError {
                        kv_key: "k".into(),
                        pointer: format!("/items/{i}/bad"),
                        expected: "no bad".into(),
                        found: "bad".into(),
                    });
                }
                if let Some(it) = it.as_object_mut() {
                    it.insert("seen".into(), json!(true));
                }
            }
        }
        Ok(v)
    }

    /// The value as the extraction sees it: the envelope with every streamed array put back.
    fn reassembled(text: &str, streamed: &[&'static str], hook: Option<Hook>) -> Result<Value, Error> {
        let s = Split::new("k", text, streamed, hook)?;
        let mut whole = s.envelope.clone();
        let cx = Cx { kv_key: "k" };
        for name in streamed {
            let Some((_, list)) = s.arrays.iter().find(|(n, _)| n == name) else { continue };
            let mut out = Vec::new();
            Elements::Raw(list).for_each(&s, name, &cx, |_, v| {
                out.push(v.clone());
                Ok::<(), Error>(())
            })?;
            whole.as_object_mut().unwrap().insert((*name).to_string(), Value::Array(out));
        }
        Ok(whole)
    }

    /// The same value parsed (and upgraded) as one tree.
    fn whole_tree(text: &str, hook: Option<Hook>) -> Result<Value, Error> {
        let v = json::parse("k", text)?;
        Ok(match hook {
            Some(h) => h(v, &Cx { kv_key: "k" })?,
            None => v,
        })
    }

    /// Extracts every item's `title`, as generated code would, streaming `items` or not.
    fn titles(text: &str, streamed: &[&'static str], hook: Option<Hook>) -> Result<Vec<String>, Error> {
        let s = Split::new("k", text, streamed, hook)?;
        let cx = Cx { kv_key: "k" };
        let root = Path::ROOT;
        let items_at = root.key("items");
        let (_, list) = s.array("items", false, false, &cx, &root)?;
        let mut out = Vec::new();
        list.expect("present").for_each(&s, "items", &cx, |i, v| -> Result<(), Error> {
            let at = items_at.index(i);
            let o = json::as_object(v, &cx, &at)?;
            out.push(json::req::<String>(o, "title", &cx, &at)?);
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn splits_and_upgrades_one_element_at_a_time() {
        let text = r#"{"version":1,"items":[{"a":1},{"a":2}],"n":5}"#;
        let s = Split::new("k", text, &["items"], Some(hook)).unwrap();
        assert_eq!(s.envelope, json!({"version": 2, "n": 5}));
        let cx = Cx { kv_key: "k" };
        let (shape, list) = s.array("items", false, false, &cx, &Path::ROOT).unwrap();
        assert_eq!(shape, Shape::Present);
        let mut seen = Vec::new();
        list.unwrap()
            .for_each(&s, "items", &cx, |i, v| {
                seen.push((i, v.clone()));
                Ok::<(), Error>(())
            })
            .unwrap();
        assert_eq!(seen, vec![(0, json!({"a": 1, "seen": true})), (1, json!({"a": 2, "seen": true}))]);
    }

    #[test]
    fn hook_errors_point_at_the_real_element() {
        let text = r#"{"version":1,"items":[{"a":1},{"a":2},{"bad":1}]}"#;
        let s = Split::new("k", text, &["items"], Some(hook)).unwrap();
        let cx = Cx { kv_key: "k" };
        let (_, list) = s.array("items", false, false, &cx, &Path::ROOT).unwrap();
        match list.unwrap().for_each(&s, "items", &cx, |_, _| Ok::<(), Error>(())).unwrap_err() {
            Error::Data(e) => assert_eq!(e.pointer, "/items/2/bad"),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn malformed_and_non_object_values_report_like_a_whole_parse() {
        assert!(matches!(Split::new("k", r#"{"items":[1,"#, &["items"], None), Err(Error::Json { .. })));
        let s = Split::new("k", "[1,2]", &["items"], None).unwrap();
        assert_eq!(s.envelope, json!([1, 2]));
        // A streamed field that is not an array stays in the envelope.
        let s = Split::new("k", r#"{"items":null}"#, &["items"], None).unwrap();
        assert_eq!(s.envelope, json!({"items": null}));
    }

    /// `JSON.parse` keeps the last of duplicate keys; so does the whole-tree parse, and so must
    /// the split, whatever the kinds of the occurrences.
    #[test]
    fn duplicate_streamed_keys_keep_the_last_occurrence() {
        let a = r#"[{"a":1},{"a":2}]"#;
        let b = r#"[{"b":3}]"#;
        let o = r#"{"x":1}"#;
        let pairs = [(a, "null"), ("null", a), (a, b), (b, a), (a, o), (o, a), (a, "[]"), ("[]", a), (a, "5")];
        for (first, second) in pairs {
            for middle in ["", r#""n":1,"#] {
                let text = format!(r#"{{"version":1,"items":{first},{middle}"items":{second}}}"#);
                for h in [None, Some(hook as Hook)] {
                    let want = whole_tree(&text, h).unwrap();
                    let got = reassembled(&text, &["items"], h).unwrap();
                    assert_eq!(got, want, "{text} (hook: {})", h.is_some());
                    // The place is the first occurrence's, as in `JSON.parse`.
                    let keys: Vec<&String> = got.as_object().unwrap().keys().collect();
                    let want_keys: Vec<&String> = want.as_object().unwrap().keys().collect();
                    if h.is_none() && second != "null" && !second.starts_with('[') {
                        assert_eq!(keys, want_keys, "{text}");
                    }
                }
            }
        }
    }

    /// The same bad data gives the same error, field pointer included, streamed or not.
    #[test]
    fn errors_inside_streamed_elements_are_the_whole_values_errors() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let cases = [
            r#"{"items":[{"title":"a"},{"title":5}]}"#.to_string(),
            r#"{"items":[{"title":"a"},{"title":null}]}"#.to_string(),
            r#"{"items":[{"title":"a"},{"nope":1}]}"#.to_string(),
            r#"{"items":[{"title":"a"},7]}"#.to_string(),
            r#"{"items":[{"title":"a"},{"title":"b","bad":1}]}"#.to_string(),
            r#"{"items":[{"title":"a"},{"title":"b"x}]}"#.to_string(),
            r#"{"items":[{"title":"a"},{"title":"b\x"}]}"#.to_string(),
            "{\"items\":[{\"title\":\"a\"},\n{\"title\":\"\u{1}\"}]}".to_string(),
            r#"{"items":[{"title":"\ud83d"},{"title":"b","t":1e999999}]}"#.to_string(),
            format!(r#"{{"items":[{{"title":"a"}},{{"title":"b","d":{}}}]}}"#, deep(124)),
            format!(r#"{{"items":[{{"title":"a"}},{{"title":"b","d":{}}}]}}"#, deep(125)),
            format!(r#"{{"items":[{{"title":"a"}},{}]}}"#, deep(125)),
            format!(r#"{{"items":[{{"title":"a"}},{}]}}"#, deep(126)),
            format!(r#"{{"items":[],"d":{}}}"#, deep(126)),
            format!(r#"{{"items":[],"d":{}}}"#, deep(127)),
        ];
        for text in &cases {
            for h in [None, Some(hook as Hook)] {
                let streamed = titles(text, &["items"], h).map_err(|e| e.to_string());
                let whole = titles(text, &[], h).map_err(|e| e.to_string());
                assert_eq!(streamed, whole, "{text}");
            }
        }
        // Type errors name the field, not only the element.
        let e = titles(&cases[0], &["items"], None).unwrap_err();
        assert!(matches!(&e, Error::Data(d) if d.pointer == "/items/1/title"), "{e}");
        // Syntax errors give the line and column in the whole value.
        let e = titles(&cases[7], &["items"], None).unwrap_err();
        assert!(matches!(&e, Error::Json { line: 2, column: 11, .. }), "{e}");
    }

    #[test]
    fn brackets_are_counted_across_chunks() {
        assert_eq!(brackets(&"[{\"a\":1}]".repeat(300)), 600);
        assert_eq!(brackets(&"[".repeat(255)), 255);
        assert_eq!(brackets("x"), 0);
    }

    #[test]
    fn lone_surrogates_are_streamed_like_any_string() {
        let text = r#"{"items":[{"title":"\ud83d"},{"title":"\ufdd0\uDE00x"}],"\ud800":"\udfff"}"#;
        let got = reassembled(text, &["items"], None).unwrap();
        assert_eq!(got, json::parse("k", text).unwrap());
        assert_eq!(titles(text, &["items"], None).unwrap(), ["\u{FDD0}d83d", "\u{FDD0}\u{FDD0}\u{FDD0}de00x"]);
        assert_eq!(json::to_text(&got), r#"{"\ud800":"\udfff","items":[{"title":"\ud83d"},{"title":"﷐\ude00x"}]}"#);
    }
}
