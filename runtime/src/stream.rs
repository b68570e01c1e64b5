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

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{DataError, Error};
use crate::json::{self, Cx, Shape};
use crate::path::Path;

/// An upgrade hook, as named by `upgrade:` in mapping.yaml.
pub type Hook = fn(Value, &Cx<'_>) -> Result<Value, DataError>;

/// A value split into its upgraded envelope and the raw elements of its streamed arrays.
pub struct Split<'t> {
    /// The upgraded envelope, without the streamed arrays.
    pub envelope: Value,
    /// The envelope as stored, without the streamed arrays (what the hook sees per element).
    original: Map<String, Value>,
    /// The streamed arrays: field name and raw elements.
    arrays: Vec<(&'static str, Vec<&'t RawValue>)>,
    hook: Option<Hook>,
}

impl<'t> Split<'t> {
    /// Splits `text` (the value of `kv_key`). `streamed` names top-level fields whose arrays are
    /// read one element at a time.
    pub fn new(kv_key: &str, text: &'t str, streamed: &[&'static str], hook: Option<Hook>) -> Result<Split<'t>, Error> {
        let cx = Cx { kv_key };
        let upgrade = |value: Value| -> Result<Value, DataError> {
            match hook {
                Some(h) => h(value, &cx),
                None => Ok(value),
            }
        };
        // Nothing to stream, or not an object: the whole value, parsed and upgraded as one (a
        // value of the wrong shape is then reported by the hook or the extraction).
        let whole = || -> Result<Split<'t>, Error> {
            let envelope = upgrade(json::parse(kv_key, text)?)?;
            Ok(Split { envelope, original: Map::new(), arrays: Vec::new(), hook })
        };
        if streamed.is_empty() {
            return whole();
        }
        // The top level, with every field kept raw.
        let top = match serde_json::from_str::<RawObject<'t>>(text) {
            Ok(top) => top.0,
            Err(e) if e.classify() == serde_json::error::Category::Data => return whole(),
            Err(e) => return Err(Error::json_in(kv_key, &e, text)),
        };
        let mut original = Map::new();
        let mut arrays: Vec<(&'static str, Vec<&'t RawValue>)> = Vec::new();
        for (k, raw) in top {
            if let Some(name) = streamed.iter().find(|s| **s == k) {
                // Not an array (null, an object, …): kept in the envelope below, where the hook
                // and the extraction report it as usual.
                if let Ok(list) = serde_json::from_str::<Vec<&'t RawValue>>(raw.get()) {
                    arrays.retain(|(n, _)| n != name);
                    arrays.push((name, list));
                    continue;
                }
            }
            let v: Value = serde_json::from_str(raw.get()).map_err(|e| Error::json(kv_key, &e))?;
            original.insert(k, v);
        }
        // Upgrade the envelope: streamed arrays present but empty.
        let mut probe = original.clone();
        for (name, _) in &arrays {
            probe.insert((*name).to_string(), Value::Array(Vec::new()));
        }
        let mut envelope = upgrade(Value::Object(probe))?;
        if let Value::Object(o) = &mut envelope {
            for (name, _) in &arrays {
                o.remove(*name);
            }
        }
        Ok(Split { envelope, original, arrays, hook })
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
    ) -> Result<(Shape, Option<Elements<'s, 't>>), DataError> {
        if let Some((_, list)) = self.arrays.iter().find(|(n, _)| *n == name) {
            return Ok((Shape::Present, Some(Elements::Raw(list))));
        }
        let obj = json::as_object(&self.envelope, cx, path)?;
        let (shape, list) = json::array(obj, name, optional, nullable, cx, path)?;
        Ok((shape, list.map(|l| Elements::Parsed(l.as_slice()))))
    }

    /// Parses and upgrades one element of a streamed array. Errors carry the element's real
    /// index in their pointer.
    pub fn element(&self, name: &str, index: usize, raw: &RawValue, cx: &Cx<'_>) -> Result<Value, DataError> {
        let at = Path::ROOT;
        let arr_at = at.key(name);
        let el_at = arr_at.index(index);
        let value: Value =
            serde_json::from_str(raw.get()).map_err(|e| cx.error(&el_at, "valid JSON", e.to_string()))?;
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
                _ => Err(cx.error(
                    &el_at,
                    "the upgrade hook to return exactly the element it was given (hooks must upgrade elements independently)",
                    "a different array",
                )),
            },
            other => Err(cx.error(&at, "the upgrade hook to return an object", json::describe(&other))),
        }
    }
}

/// The elements of an array child: raw slices (streamed) or parsed values (from the envelope).
pub enum Elements<'s, 't> {
    Raw(&'s [&'t RawValue]),
    Parsed(&'s [Value]),
}

impl Elements<'_, '_> {
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
    pub fn for_each<E: From<DataError>>(
        &self,
        split: &Split<'_>,
        name: &str,
        cx: &Cx<'_>,
        mut f: impl FnMut(usize, &Value) -> Result<(), E>,
    ) -> Result<(), E> {
        match self {
            Elements::Raw(list) => {
                for (i, raw) in list.iter().enumerate() {
                    let v = split.element(name, i, raw, cx)?;
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
        let o = v.as_object_mut().unwrap();
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
                it.as_object_mut().unwrap().insert("seen".into(), json!(true));
            }
        }
        Ok(v)
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
                Ok::<(), DataError>(())
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
        let e = list.unwrap().for_each(&s, "items", &cx, |_, _| Ok::<(), DataError>(())).unwrap_err();
        assert_eq!(e.pointer, "/items/2/bad");
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
}
