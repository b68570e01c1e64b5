//! Arbitrary bytes as `mapping.yaml`: `parse` returns a model or diagnostics, never panics; a
//! valid model then goes through `generate` (Rust, SQL and the first migration).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if kv2sql_codegen::parse("mapping.yaml", text).is_ok() {
        let _ = kv2sql_codegen::generate("mapping.yaml", text, &[]);
    }
});
