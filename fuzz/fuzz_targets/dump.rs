//! Arbitrary bytes as a `wrangler kv bulk` dump: `parse_dump` returns a snapshot or an error,
//! never panics; a parsed snapshot writes back to a dump that parses to the same snapshot.
#![no_main]

use kv2sql_runtime::dump::{parse_dump, write_dump};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(snapshot) = parse_dump(text, 1_700_000_000) {
        let again = parse_dump(&write_dump(&snapshot), 0).expect("a written dump parses");
        assert_eq!(again, snapshot, "write_dump ∘ parse_dump is the identity");
    }
});
