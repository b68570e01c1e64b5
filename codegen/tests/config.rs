//! `kv2sql_codegen::Config`, the build API: generating into a folder, writing only what
//! changed, check mode, and errors returned as values (never an exit).

use std::path::{Path, PathBuf};

use kv2sql_codegen::{Config, Error};

fn case_mapping(case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases").join(case).join("mapping.yaml")
}

/// A fresh, empty folder under the system temp dir, unique to this test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kv2sql-config-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

fn config(mapping: &Path, out: &Path) -> Config {
    let mut c = Config::new();
    c.mapping(mapping).out_dir(out).emit_rerun_if_changed(false);
    c
}

#[test]
fn generates_the_golden_files_then_writes_nothing() {
    let out = temp_dir("fresh");
    // The golden files are generated with the case name as the file name.
    let report = config(&case_mapping("scalars"), &out).file_name("scalars").generate().expect("generates");
    let expected = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases/scalars/expected");
    for rel in ["schema.sql", "SCHEMA.md", "src/generated.rs", "migrations/0001_initial.sql"] {
        assert!(report.written.contains(&out.join(rel)), "{rel} not reported written: {report:?}");
        let golden = std::fs::read_to_string(expected.join(rel)).expect("golden file");
        let ours = std::fs::read_to_string(out.join(rel)).expect("written file");
        assert_eq!(ours, golden, "{rel} differs from the golden file");
    }
    let again = config(&case_mapping("scalars"), &out).file_name("scalars").generate().expect("generates again");
    assert!(again.written.is_empty() && again.removed.is_empty(), "second run wrote: {again:?}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn check_mode_passes_when_fresh_and_fails_with_a_diff_when_stale() {
    let out = temp_dir("check");
    config(&case_mapping("scalars"), &out).generate().expect("generates");
    let fresh = config(&case_mapping("scalars"), &out).check(true).generate().expect("fresh output checks");
    assert!(fresh.written.is_empty());

    let schema = out.join("schema.sql");
    std::fs::write(&schema, "-- edited by hand\n").expect("edit");
    let err = config(&case_mapping("scalars"), &out).check(true).generate().expect_err("stale output fails");
    match &err {
        Error::Stale { out_dir, diff } => {
            assert_eq!(out_dir, &out);
            assert!(diff.contains("-- edited by hand"), "diff does not show the old line:\n{diff}");
            assert!(diff.contains("CREATE TABLE"), "diff does not show the new lines:\n{diff}");
        }
        other => panic!("expected Error::Stale, got {other:?}"),
    }
    assert!(err.to_string().contains("is stale"), "{err}");
    assert_eq!(std::fs::read_to_string(&schema).unwrap(), "-- edited by hand\n", "check mode wrote a file");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_bad_mapping_is_an_error_value_with_located_diagnostics() {
    let out = temp_dir("bad");
    let mapping = out.join("bad.yaml");
    std::fs::write(&mapping, "schema:\n  version: 1\nsources:\n  - key: [unclosed\n").expect("write mapping");
    let err = config(&mapping, &out).generate().expect_err("a bad mapping fails");
    let Error::Mapping(text) = &err else { panic!("expected Error::Mapping, got {err:?}") };
    let located = text.lines().any(|l| l.contains("--> bad.yaml:") && l.matches(':').count() >= 2);
    assert!(located, "no file:line:col in:\n{text}");
    assert!(!out.join("schema.sql").exists(), "a bad mapping wrote files");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_missing_out_dir_is_an_io_error_naming_it() {
    let out = temp_dir("missing").join("does-not-exist");
    let err = config(&case_mapping("scalars"), &out).generate().expect_err("a missing out dir fails");
    let Error::Io { path, .. } = &err else { panic!("expected Error::Io, got {err:?}") };
    assert_eq!(path, &out);
    assert!(err.to_string().contains("does-not-exist"), "{err}");
}

#[test]
fn an_unwritable_out_dir_is_an_io_error_naming_the_file() {
    let out = temp_dir("unwritable");
    // A directory where a file must go cannot be replaced by the file.
    std::fs::create_dir_all(out.join("schema.sql")).expect("block schema.sql");
    let err = config(&case_mapping("scalars"), &out).generate().expect_err("an unwritable target fails");
    let Error::Io { path, .. } = &err else { panic!("expected Error::Io, got {err:?}") };
    assert_eq!(path, &out.join("schema.sql"));
    assert!(err.to_string().contains("schema.sql"), "{err}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_missing_mapping_is_an_io_error_naming_it() {
    let out = temp_dir("nomapping");
    let mapping = out.join("nope.yaml");
    let err = config(&mapping, &out).generate().expect_err("a missing mapping fails");
    let Error::Io { path, .. } = &err else { panic!("expected Error::Io, got {err:?}") };
    assert_eq!(path, &mapping);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn file_name_sets_the_generated_header() {
    let out = temp_dir("name");
    config(&case_mapping("scalars"), &out).file_name("my-app.yaml").generate().expect("generates");
    let rs = std::fs::read_to_string(out.join("src/generated.rs")).expect("generated.rs");
    assert!(rs.starts_with("// @generated by kv2sql from my-app.yaml."), "{}", &rs[..80.min(rs.len())]);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn without_a_mapping_it_says_what_to_call() {
    let err = Config::new().out_dir(std::env::temp_dir()).generate().expect_err("no mapping");
    assert!(err.to_string().contains(".mapping("), "{err}");
}
