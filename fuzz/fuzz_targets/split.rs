//! Arbitrary bytes as a KV value whose top-level `items` array is streamed: the splitter
//! (runtime/src/stream.rs) and a parse of the whole value must accept and refuse the same
//! inputs, with the same value or the same error; and an accepted value must come back from
//! its export text (lone surrogate escapes included, runtime/src/surrogate.rs) unchanged.
//! tests/tests/splitter.rs runs the same comparison on generated inputs in the normal suite.
#![no_main]

use kv2sql_runtime::json::{self, Cx};
use kv2sql_runtime::stream::{Elements, Split};
use kv2sql_runtime::{Error, Path};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The value the extraction sees through the splitter: the envelope, `items` put back.
fn through_split(text: &str) -> Result<Value, Error> {
    let split = Split::new("k", text, &["items"], None)?;
    let mut value = split.envelope.clone();
    let Some(obj) = value.as_object_mut() else { return Ok(value) };
    if obj.contains_key("items") {
        return Ok(value);
    }
    let cx = Cx { kv_key: "k" };
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

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let whole = json::parse("k", text).map_err(|e| e.to_string());
    let split = through_split(text).map_err(|e| e.to_string());
    assert_eq!(split, whole, "splitter and whole parse differ");
    if let Ok(value) = whole {
        let exported = json::to_text(&value);
        let back = json::from_text(&exported).expect("an exported value parses");
        assert_eq!(back, value, "the export text does not give the value back: {exported}");
    }
});
