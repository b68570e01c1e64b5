//! Diagnostics snapshots: each `tests/diagnostics/<name>.yaml` holds one or more mistakes; the
//! rendered [`kv2sql_codegen::diag::Diagnostics`] must equal `<name>.txt`.
//! `UPDATE_GOLDEN=1 cargo test -p kv2sql-codegen --test diagnostics` rewrites the snapshots.

use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics")
}

fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| !v.is_empty() && v != "0")
}

fn diagnose(file: &str, text: &str) -> kv2sql_codegen::diag::Diagnostics {
    match kv2sql_codegen::generate(file, text, &[]) {
        Ok(_) => panic!("{file}: the mapping was accepted, but it has mistakes"),
        Err(d) => d,
    }
}

/// Every diagnostic is located (file:line:column) and says how to fix it.
fn assert_located_with_help(name: &str, d: &kv2sql_codegen::diag::Diagnostics) {
    for item in &d.items {
        assert!(item.pos.is_some(), "{name}: `{}` has no position", item.message);
        assert!(item.help.is_some(), "{name}: `{}` has no help", item.message);
    }
    let text = d.to_string();
    assert_eq!(text.matches(&format!("--> {}:", d.file)).count(), d.items.len(), "{name}:\n{text}");
    assert_eq!(text.matches("= help: ").count(), d.items.len(), "{name}:\n{text}");
}

fn check_snapshot(name: &str, rendered: &str) -> Option<String> {
    let path = dir().join(format!("{name}.txt"));
    let rendered = format!("{rendered}\n");
    if updating() {
        std::fs::write(&path, &rendered).expect("write snapshot");
        return None;
    }
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    if old == rendered {
        return None;
    }
    let diff = similar::TextDiff::from_lines(old.as_str(), rendered.as_str());
    Some(format!(
        "{}",
        diff.unified_diff().context_radius(3).header(&format!("{name}.txt (committed)"), &format!("{name}.txt (now)"))
    ))
}

fn yaml_cases() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir())
        .expect("tests/diagnostics")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_string_lossy().strip_suffix(".yaml").map(str::to_string))
        .collect();
    out.sort();
    out
}

#[test]
fn diagnostics_snapshots() {
    let cases = yaml_cases();
    assert!(cases.len() >= 12, "{cases:?}");
    let mut report = String::new();
    for name in &cases {
        let text = std::fs::read_to_string(dir().join(format!("{name}.yaml"))).expect("yaml");
        let file = format!("{name}.yaml");
        let d = diagnose(&file, &text);
        assert_located_with_help(name, &d);
        if let Some(diff) = check_snapshot(name, &d.to_string()) {
            report.push_str(&diff);
        }
    }
    assert!(report.is_empty(), "diagnostics changed (UPDATE_GOLDEN=1 to accept):\n{report}");
}

/// No snapshot without its mapping (a renamed case would otherwise leave a stale file).
#[test]
fn no_orphan_snapshots() {
    let cases = yaml_cases();
    for e in std::fs::read_dir(dir()).expect("dir").filter_map(|e| e.ok()) {
        let n = e.file_name().to_string_lossy().into_owned();
        if let Some(stem) = n.strip_suffix(".txt") {
            assert!(cases.iter().any(|c| c == stem) || stem == "too_many_columns", "orphan snapshot {n}");
        }
    }
}

#[test]
fn too_many_columns() {
    let mut text = String::from(
        "schema: { version: 1, name: initial }\nsources:\n  - key: \"wide\"\n    table: wide\n    columns:\n      kv_key: { from: kv_key }\n",
    );
    for i in 0..100 {
        text.push_str(&format!("      c{i:03}: {{ path: f{i}, type: integer }}\n"));
    }
    text.push_str("    primary_key: [kv_key]\n");
    let d = diagnose("too_many_columns.yaml", &text);
    assert_located_with_help("too_many_columns", &d);
    let rendered = d.to_string();
    assert!(rendered.contains("102 columns"), "{rendered}");
    if let Some(diff) = check_snapshot("too_many_columns", &rendered) {
        panic!("diagnostics changed (UPDATE_GOLDEN=1 to accept):\n{diff}");
    }
}

#[test]
fn every_mistake_is_reported_at_once() {
    let text = std::fs::read_to_string(dir().join("many_mistakes.yaml")).expect("yaml");
    let d = diagnose("many_mistakes.yaml", &text);
    assert!(d.items.len() >= 8, "only {} diagnostics:\n{d}", d.items.len());
    let lines: std::collections::BTreeSet<usize> = d.items.iter().filter_map(|i| i.pos.map(|p| p.line)).collect();
    assert!(lines.len() >= 6, "the mistakes should be on distinct lines:\n{d}");
}

#[test]
fn did_you_mean() {
    let text = std::fs::read_to_string(dir().join("unknown_key.yaml")).expect("yaml");
    let d = diagnose("unknown_key.yaml", &text).to_string();
    assert!(d.contains("did you mean `columns`?"), "{d}");
    let text = std::fs::read_to_string(dir().join("unknown_type.yaml")).expect("yaml");
    let d = diagnose("unknown_type.yaml", &text).to_string();
    assert!(d.contains("did you mean `text`?"), "{d}");
}
