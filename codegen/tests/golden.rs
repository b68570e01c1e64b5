//! Golden snapshots of the generator: one fixture folder per case under `tests/cases/<case>/`,
//! holding `mapping.yaml` and the expected output in `expected/` (the same relative paths as
//! `generated/`). `UPDATE_GOLDEN=1 cargo test -p kv2sql-codegen --test golden` rewrites them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn cases_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

/// Every case folder, sorted.
fn cases() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(cases_dir())
        .expect("tests/cases")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("mapping.yaml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Every file below `dir`, relative path → contents.
fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.filter_map(|e| e.ok()) {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).expect("below base").to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read_to_string(&p).expect("utf-8 file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn generate(case: &str) -> kv2sql_codegen::Generated {
    let text = std::fs::read_to_string(cases_dir().join(case).join("mapping.yaml")).expect("mapping.yaml");
    kv2sql_codegen::generate(case, &text, &[]).unwrap_or_else(|d| panic!("case `{case}` does not generate:\n{d}"))
}

/// Compares (or, with `UPDATE_GOLDEN=1`, rewrites) one case; returns the report of differences.
fn check_case(case: &str) -> String {
    let g = generate(case);
    let expected_dir = cases_dir().join(case).join("expected");
    if updating() {
        let _ = std::fs::remove_dir_all(&expected_dir);
        for (rel, contents) in &g.files {
            let path = expected_dir.join(rel);
            std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
            std::fs::write(&path, contents).expect("write golden file");
        }
        return String::new();
    }
    let on_disk = read_tree(&expected_dir);
    let mut report = String::new();
    for (rel, contents) in &g.files {
        match on_disk.get(rel) {
            None => report.push_str(&format!("{case}: expected/{rel} is missing\n")),
            Some(old) if old != contents => {
                let diff = similar::TextDiff::from_lines(old.as_str(), contents.as_str());
                report.push_str(&format!(
                    "{}",
                    diff.unified_diff().context_radius(3).header(
                        &format!("{case}/expected/{rel} (committed)"),
                        &format!("{case}/expected/{rel} (generated)")
                    )
                ));
            }
            Some(_) => {}
        }
    }
    for rel in on_disk.keys() {
        if !g.files.contains_key(rel) {
            report.push_str(&format!("{case}: expected/{rel} is no longer generated\n"));
        }
    }
    report
}

#[test]
fn golden_snapshots() {
    let cases = cases();
    assert!(cases.len() >= 8, "expected at least 8 golden cases, found {cases:?}");
    let report: String = cases.iter().map(|c| check_case(c)).collect();
    assert!(
        report.is_empty(),
        "generated output differs from the golden files (run with UPDATE_GOLDEN=1 to accept):\n{report}"
    );
}

#[test]
fn output_is_deterministic() {
    for case in cases() {
        let a = generate(&case);
        let b = generate(&case);
        assert_eq!(a.files, b.files, "case `{case}`: two runs differ");
    }
}

/// Every case's `src/lib.rs` parses as Rust and every case's migration executes in SQLite is
/// checked by `tests/tests/golden_compile.rs`; this makes sure that file includes every case.
#[test]
fn golden_compile_includes_every_case() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/tests/golden_compile.rs");
    let text = std::fs::read_to_string(&path).expect("tests/tests/golden_compile.rs");
    let mut missing = Vec::new();
    for case in cases() {
        let include = format!("#[path = \"../../codegen/tests/cases/{case}/expected/src/generated.rs\"]");
        let module = format!("pub mod {case};");
        if !text.contains(&include) || !text.contains(&module) {
            missing.push(case);
        }
    }
    assert!(
        missing.is_empty(),
        "tests/tests/golden_compile.rs does not compile these golden cases: {missing:?}; add\n{}",
        missing
            .iter()
            .map(|c| format!("#[path = \"../../codegen/tests/cases/{c}/expected/src/generated.rs\"]\npub mod {c};"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_golden_output_is_valid() {
    for case in cases() {
        let g = generate(&case);
        syn::parse_file(&g.files["src/generated.rs"])
            .unwrap_or_else(|e| panic!("case `{case}`: src/generated.rs: {e}"));
        assert!(g.files.contains_key("migrations/0001_initial.sql"), "case `{case}`: no first migration");
        assert!(g.files.contains_key("migrations/0001_initial.json"), "case `{case}`: no snapshot");
    }
}
