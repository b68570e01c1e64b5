//! docs/mapping.md documents the language the validator accepts: every key each section takes
//! (read from the validator's own "unknown key" help), every type, every `from:` value, the
//! reserved names and the limits.

use std::path::PathBuf;

fn doc() -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/mapping.md"))
        .expect("docs/mapping.md")
}

/// The keys a section takes, as listed by the diagnostic for an unknown key `zzz` in it.
fn keys_taken(mapping: &str) -> Vec<String> {
    let d = kv2sql_codegen::generate("m.yaml", mapping, &[]).expect_err("zzz is unknown");
    let item = d.items.iter().find(|i| i.message.contains("unknown key `zzz`")).unwrap_or_else(|| panic!("{d}"));
    let help = item.help.as_deref().expect("help");
    let list = help.split(" takes: ").nth(1).expect("a list of keys");
    list.split(", ").map(str::to_string).collect()
}

#[test]
fn every_key_is_documented() {
    let doc = doc();
    let base = |extra_source: &str, extra_column: &str, extra_child: &str| {
        format!(
            "schema: {{ version: 1, name: initial }}\nsources:\n  - key: k\n    table: t\n{extra_source}    columns:\n      kv_key: {{ from: kv_key{extra_column} }}\n      g: {{ object: o, columns: {{ c: {{ path: c, type: text }} }} }}\n    primary_key: [kv_key]\n    children:\n      - table: c\n        array: a\n{extra_child}        columns:\n          p: {{ from: parent.kv_key }}\n          n: {{ from: position }}\n        primary_key: [p, n]\n        indexes: [{{ columns: [n] }}]\n"
        )
    };
    let sections = [
        ("the file", "zzz: 1\n".to_string() + &base("", "", "")),
        ("schema", base("", "", "").replace("name: initial }", "name: initial, zzz: 1 }")),
        ("schema.allow", base("", "", "").replace("name: initial }", "name: initial, allow: { zzz: 1 } }")),
        ("a source", base("    zzz: 1\n", "", "")),
        ("a child table", base("", "", "        zzz: 1\n")),
        ("a column", base("", ", zzz: 1", "")),
        ("a group", base("", "", "").replace("object: o,", "object: o, zzz: 1,")),
        ("an index", base("", "", "").replace("{ columns: [n] }", "{ columns: [n], zzz: 1 }")),
        ("fan_out", base("", "", "").replace("        array: a\n", "        fan_out: { zzz: 1, variants: {} }\n")),
    ];
    let mut missing = Vec::new();
    for (what, text) in sections {
        for key in keys_taken(&text) {
            if !doc.contains(&format!("`{key}`")) && !doc.contains(&format!("{key}:")) {
                missing.push(format!("{what}: `{key}`"));
            }
        }
    }
    assert!(missing.is_empty(), "docs/mapping.md does not document: {missing:?}");
}

#[test]
fn types_from_values_reserved_names_and_limits_are_documented() {
    let doc = doc();
    for ty in kv2sql_codegen::ir::ColType::NAMES.split(", ") {
        assert!(doc.contains(&format!("| `{ty}` |")), "type `{ty}` has no row in the types table");
    }
    for from in ["kv_key", "key_capture", "expiration", "parent.<column>", "position", "entry_key", "value", "variant"]
    {
        assert!(doc.contains(&format!("| `{from}` |")), "`from: {from}` has no row in the from table");
    }
    for name in kv2sql_codegen::validate::RESERVED_LOCALS {
        assert!(doc.contains(&format!("`{name}`")), "reserved column name `{name}` is not documented");
    }
    assert!(doc.contains(&format!("`{}`", kv2sql_codegen::validate::EXTRA_COLUMN)));
    assert_eq!(kv2sql_codegen::validate::MAX_COLUMNS, 100);
    assert!(doc.contains("**100 columns**"));
    assert_eq!(kv2sql_codegen::validate::MAX_PARAMS, 100);
    assert!(doc.contains("**100 bound parameters**"));
    assert_eq!(kv2sql_codegen::validate::MAX_STATEMENT_BYTES, 100_000);
    assert!(doc.contains("**100 000 bytes**"));
    assert_eq!(kv2sql_runtime_limit(), 2_000_000);
    assert!(doc.contains("**2 000 000 bytes**"));
}

/// The runtime's value limit, as documented (codegen does not depend on the runtime).
fn kv2sql_runtime_limit() -> usize {
    let src = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../runtime/src/json.rs"))
        .expect("runtime/src/json.rs");
    let line = src.lines().find(|l| l.starts_with("pub const MAX_VALUE_BYTES")).expect("MAX_VALUE_BYTES");
    line.split('=').nth(1).expect("value").trim().trim_end_matches(';').replace('_', "").parse().expect("number")
}

/// The complete example at the top of the document generates.
#[test]
fn the_first_example_generates() {
    let doc = doc();
    let start = doc.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = start + doc[start..].find("```").expect("closed");
    let text = &doc[start..end];
    kv2sql_codegen::generate("mapping.yaml", text, &[]).unwrap_or_else(|d| panic!("{d}\n{text}"));
}
