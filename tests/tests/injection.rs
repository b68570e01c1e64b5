//! Names and strings from a mapping can never produce broken or injected SQL or Rust (in the
//! spirit of diesel's print-schema injection tests).
//!
//! * Table, column, index, capture and schema names are identifiers: anything else is refused
//!   with a diagnostic.
//! * JSON field names, KV keys and docs are free text: they are accepted, and the output still
//!   parses as Rust, its SQL still runs, its comments stay comments. The golden case `hostile`
//!   (compiled and round-tripped in golden_compile.rs / roundtrip_constructs.rs) carries such
//!   strings end to end.

use kv2sql_tests::{memory_db, row_counts};

const HOSTILE_NAMES: &[&str] = &[
    "a\"b",
    "a'b",
    "a;b",
    "x; DROP TABLE y",
    "a--b",
    "a b",
    "café",
    "名前",
    "a)",
    "a(",
    "r#type",
    "a}",
    "a{",
    "a\nb",
    "a/*b",
    "a.b",
    "A",
    "1abc",
    "",
    "self",
    "type",
    "fn",
    "sqlite_master",
    "_cf_kv",
    "kv2sql_migrations",
    "a__b",
];

const HOSTILE_STRINGS: &[&str] = &[
    "\"",
    "\\",
    "*/",
    "/*",
    "--",
    "\n",
    "\r\n",
    "'); DROP TABLE x; --",
    "\"); drop table x; --",
    "{",
    "}",
    "{}",
    "{{x}}",
    "{% raw %}",
    "#",
    "r#\"",
    "\"#",
    "*/ pub fn injected() {} /*",
    "\n-- \nDROP TABLE x;\n",
    "\u{0}",
    "é中😀",
    "\u{2028}\u{2029}",
    "`",
    "~1/",
];

/// JSON (a subset of YAML) quoting for a string inside the mapping.
fn y(s: &str) -> String {
    serde_json::to_string(s).expect("string")
}

fn mapping(table: &str, column: &str, index: &str) -> String {
    format!(
        "schema: {{ version: 1, name: initial }}\nsources:\n  - key: \"k\"\n    table: {}\n    columns:\n      kv_key: {{ from: kv_key }}\n      {}: {{ path: p, type: text }}\n    primary_key: [kv_key]\n    indexes:\n      - {{ name: {}, columns: [kv_key] }}\n",
        y(table),
        y(column),
        y(index)
    )
}

fn rejected(text: &str, what: &str) {
    match kv2sql_codegen::generate("mapping.yaml", text, &[]) {
        Ok(_) => panic!("{what} was accepted:\n{text}"),
        Err(d) => {
            let r = d.to_string();
            assert!(r.contains("--> mapping.yaml:"), "{what}: not located:\n{r}");
            assert!(r.contains("= help:"), "{what}: no help:\n{r}");
        }
    }
}

#[test]
fn hostile_names_are_rejected() {
    for name in HOSTILE_NAMES {
        rejected(&mapping(name, "c", "i"), &format!("table name {name:?}"));
        rejected(&mapping("t", name, "i"), &format!("column name {name:?}"));
        rejected(&mapping("t", "c", name), &format!("index name {name:?}"));
        let capture = format!(
            "schema: {{ version: 1, name: initial }}\nsources:\n  - key: {}\n    table: t\n    columns:\n      c: {{ from: key_capture }}\n    primary_key: [c]\n",
            y(&format!("p:{{{name}}}"))
        );
        rejected(&capture, &format!("capture {name:?}"));
        let schema = format!(
            "schema: {{ version: 1, name: {} }}\nsources:\n  - key: k\n    table: t\n    columns:\n      kv_key: {{ from: kv_key }}\n    primary_key: [kv_key]\n",
            y(name)
        );
        rejected(&schema, &format!("schema name {name:?}"));
        let group = format!(
            "schema: {{ version: 1, name: initial }}\nsources:\n  - key: k\n    table: t\n    columns:\n      kv_key: {{ from: kv_key }}\n      {}: {{ object: o, columns: {{ c: {{ path: c, type: text }} }} }}\n    primary_key: [kv_key]\n",
            y(name)
        );
        rejected(&group, &format!("group name {name:?}"));
    }
}

#[test]
fn hostile_upgrade_paths_are_rejected() {
    for path in ["a::b; drop()", "a::b()", "crate::x }", "a::{b}", "a b", " a::b", "a::b\n", "\"a\"", "1a"] {
        let text = format!(
            "schema: {{ version: 1, name: initial }}\nsources:\n  - key: k\n    upgrade: {}\n    table: t\n    columns:\n      kv_key: {{ from: kv_key }}\n    primary_key: [kv_key]\n",
            y(path)
        );
        rejected(&text, &format!("upgrade {path:?}"));
    }
}

/// A mapping that puts `s` in a KV key, a key pattern prefix, JSON field names (row, group,
/// array, entries, fan-out), docs and a text default.
fn free_text_mapping(s: &str) -> String {
    let key = s.replace(['{', '}'], "");
    format!(
        r#"schema: {{ version: 1, name: initial }}
sources:
  - key: {key}
    table: docs
    doc: {doc}
    columns:
      kv_key: {{ from: kv_key, doc: {doc} }}
      a: {{ path: {p}, type: text, default: {dflt}, doc: {doc} }}
      b: {{ path: {p2}, type: json, optional: true, nullable: true }}
      g:
        object: {p3}
        optional: true
        doc: {doc}
        columns:
          c: {{ path: {p}, type: any, optional: true, nullable: true, doc: {doc} }}
    primary_key: [kv_key]
    children:
      - table: items
        array: {p4}
        doc: {doc}
        columns:
          doc_key: {{ from: parent.kv_key }}
          position: {{ from: position }}
          v: {{ from: value, type: text, doc: {doc} }}
        primary_key: [doc_key, position]
      - table: entries
        entries: {p5}
        columns:
          doc_key: {{ from: parent.kv_key }}
          k: {{ from: entry_key }}
          v: {{ path: {p}, type: integer }}
        primary_key: [doc_key, k]
      - table: variants
        fan_out:
          variants:
            one: {{ x: {p6} }}
        columns:
          doc_key: {{ from: parent.kv_key }}
          kind: {{ from: variant }}
          x: {{ type: text, optional: true, doc: {doc} }}
        primary_key: [doc_key, kind]
  - key: {pattern}
    table: patterned
    doc: {doc}
    columns:
      cap: {{ from: key_capture, doc: {doc} }}
      v: {{ path: {p}, type: text }}
    primary_key: [cap]
"#,
        key = y(&format!("k{key}")),
        doc = y(&format!("doc {s} end")),
        // A NUL cannot be in SQL text (see `nul_in_a_default_is_rejected`).
        dflt = y(&format!("dflt {}", s.replace('\0', ""))),
        p = y(s),
        p2 = y(&format!("{s}2")),
        p3 = y(&format!("{s}3")),
        p4 = y(&format!("{s}4")),
        p5 = y(&format!("{s}5")),
        p6 = y(&format!("{s}6")),
        pattern = y(&format!("p{key}:{{cap}}")),
    )
}

/// The shape of a Rust file: its items, recursively, by kind and name (literals excluded).
fn shape(items: &[syn::Item], out: &mut Vec<String>) {
    for item in items {
        match item {
            syn::Item::Mod(m) => {
                out.push(format!("mod {}", m.ident));
                if let Some((_, inner)) = &m.content {
                    shape(inner, out);
                }
                out.push("end mod".into());
            }
            syn::Item::Fn(f) => out.push(format!("fn {} ({} statements)", f.sig.ident, f.block.stmts.len())),
            syn::Item::Struct(s) => out.push(format!("struct {} ({} fields)", s.ident, s.fields.len())),
            syn::Item::Impl(i) => out.push(format!("impl ({} items)", i.items.len())),
            syn::Item::Const(c) => out.push(format!("const {}", c.ident)),
            syn::Item::Use(_) => out.push("use".into()),
            syn::Item::Enum(e) => out.push(format!("enum {}", e.ident)),
            other => out.push(format!("{:?}", std::mem::discriminant(other))),
        }
    }
}

fn rust_shape(text: &str, what: &str) -> Vec<String> {
    let file = syn::parse_file(text).unwrap_or_else(|e| panic!("{what}: src/generated.rs does not parse: {e}\n{text}"));
    let mut out = vec![format!("{} inner attributes", file.attrs.len())];
    shape(&file.items, &mut out);
    out
}

/// Table and index names, and every SQL object, after running `sql`.
fn sql_objects(sql: &str, what: &str) -> Vec<(String, String)> {
    let conn = memory_db();
    conn.execute_batch(sql).unwrap_or_else(|e| panic!("{what}: SQL does not run: {e}\n{sql}"));
    let mut stmt = conn.prepare("SELECT type, name FROM sqlite_schema ORDER BY type, name").expect("prepare");
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).expect("query");
    let objects = rows.map(|r| r.expect("row")).collect();
    assert!(row_counts(&conn).iter().all(|(_, n)| *n == 0), "{what}: rows were inserted by DDL");
    objects
}

#[test]
fn hostile_strings_are_escaped() {
    let benign = kv2sql_codegen::generate("mapping.yaml", &free_text_mapping("plain"), &[])
        .unwrap_or_else(|d| panic!("benign mapping:\n{d}"));
    let benign_rust = rust_shape(&benign.files["src/generated.rs"], "benign");
    let benign_sql = sql_objects(&benign.files["migrations/0001_initial.sql"], "benign");
    assert_eq!(benign_sql, sql_objects(&benign.files["schema.sql"], "benign schema.sql"));

    for s in HOSTILE_STRINGS {
        let what = format!("free text {s:?}");
        let text = free_text_mapping(s);
        let g = kv2sql_codegen::generate("mapping.yaml", &text, &[])
            .unwrap_or_else(|d| panic!("{what} was refused:\n{d}\n{text}"));
        // (a) The Rust parses, with exactly the items of the benign mapping.
        assert_eq!(rust_shape(&g.files["src/generated.rs"], &what), benign_rust, "{what}: the Rust has other items");
        // (b) The migration and schema.sql run, and create exactly the benign objects.
        assert_eq!(sql_objects(&g.files["migrations/0001_initial.sql"], &what), benign_sql, "{what}: migration");
        assert_eq!(sql_objects(&g.files["schema.sql"], &what), benign_sql, "{what}: schema.sql");
        // Comments stay on their line: every line that mentions the doc is a `--` comment.
        for file in ["schema.sql", "migrations/0001_initial.sql"] {
            for line in g.files[file].lines() {
                if let Some(doc) = line.find("doc ") {
                    let comment = line.find("--").unwrap_or(usize::MAX);
                    assert!(comment < doc, "{what}: {file}: a doc escaped its comment: {line:?}");
                }
            }
        }
        // The migration snapshot is valid JSON.
        serde_json::from_str::<serde_json::Value>(&g.files["migrations/0001_initial.json"])
            .unwrap_or_else(|e| panic!("{what}: snapshot: {e}"));
        // The Mermaid diagram and table of SCHEMA.md keep one line per row.
        let md = &g.files["SCHEMA.md"];
        assert_eq!(md.lines().count(), benign.files["SCHEMA.md"].lines().count(), "{what}: SCHEMA.md lines\n{md}");
    }
}

/// A `doc:` with newlines cannot leave its `--` comment in schema.sql.
#[test]
fn doc_newlines_stay_in_the_comment() {
    let text = "schema: { version: 1, name: initial }\nsources:\n  - key: k\n    table: t\n    doc: \"first\\nDROP TABLE t;\\r\\n-- x\\u2028CREATE TABLE y (a);\"\n    columns:\n      kv_key: { from: kv_key, doc: \"a\\nDROP TABLE t;\" }\n    primary_key: [kv_key]\n";
    let g = kv2sql_codegen::generate("mapping.yaml", text, &[]).unwrap_or_else(|d| panic!("{d}"));
    let sql = &g.files["schema.sql"];
    for line in sql.lines() {
        if line.contains("DROP TABLE") || line.contains("CREATE TABLE y") {
            assert!(line.contains("--"), "escaped comment: {line:?}");
            let before = &line[..line.find("--").expect("comment")];
            assert!(!before.contains("DROP") && !before.contains("CREATE TABLE y"), "{line:?}");
        }
    }
    let tables: Vec<(String, String)> =
        sql_objects(sql, "doc newlines").into_iter().filter(|(t, _)| t == "table").collect();
    assert_eq!(tables, vec![("table".to_string(), "t".to_string())]);
}

/// SQLite reads SQL text only up to a NUL: a default holding one is refused, not truncated.
#[test]
fn nul_in_a_default_is_rejected() {
    let text = "schema: { version: 1, name: initial }\nsources:\n  - key: k\n    table: t\n    columns:\n      kv_key: { from: kv_key }\n      a: { path: a, type: text, default: \"x\\0y\" }\n    primary_key: [kv_key]\n";
    rejected(text, "a NUL in a default");
}
