//! `kv2sql pull` against wrangler's local KV (`--local --persist-to`): the pulled dump holds
//! every key, value (exact bytes), expiration and metadata of the namespace, and pulled dump →
//! `kv2sql migrate` → `kv2sql export` gives the namespace back.
//!
//! Needs wrangler (worker/node_modules/.bin/wrangler, installed by scripts/setup.sh). Without it
//! the tests are skipped with a message, except under CI=true, where they fail.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use serde_json::{json, Value};

use common::{kv2sql, root};

fn wrangler() -> Option<PathBuf> {
    let path = root().join("worker/node_modules/.bin/wrangler");
    if path.exists() {
        return Some(path);
    }
    let msg = format!("{} is missing: run scripts/setup.sh (node and wrangler)", path.display());
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
    eprintln!("skipping: {msg}");
    None
}

fn config() -> String {
    root().join("worker/wrangler.toml").display().to_string()
}

/// `wrangler kv bulk put <file>` into the local namespace persisted in `kv`.
fn seed(wrangler: &Path, kv: &Path, file: &Path) {
    let out = Command::new(wrangler)
        .args(["kv", "bulk", "put", &file.display().to_string(), "--binding", "ROADMAP_KV", "--local"])
        .args(["--persist-to", &kv.display().to_string(), "--config", &config()])
        .env("WRANGLER_SEND_METRICS", "false")
        .output()
        .unwrap();
    assert!(out.status.success(), "seeding failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn pull(wrangler: &Path, kv: &Path, out: &Path, extra: &[&str]) -> Output {
    let (w, kv, out, config) =
        (wrangler.display().to_string(), kv.display().to_string(), out.display().to_string(), config());
    let mut args = vec!["pull", "--binding", "ROADMAP_KV", "--local", "--persist-to", &kv, "--config", &config];
    args.extend(["--wrangler", &w, "--jobs", "8", "--out", &out]);
    args.extend(extra);
    kv2sql(&args)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// `[key, expiration]` of each entry, in order.
fn keys_and_expirations(dump: &Value) -> Vec<(String, Option<i64>)> {
    dump.as_array().unwrap().iter().map(|e| (e["key"].as_str().unwrap().into(), e["expiration"].as_i64())).collect()
}

#[test]
fn pulled_dump_migrates_and_exports_back_to_the_namespace() {
    let Some(wrangler) = wrangler() else { return };
    let dir = common::scratch("pull", "roundtrip");
    let example = root().join("examples/v1-dump.json");
    seed(&wrangler, &dir.join("kv"), &example);

    let dump = dir.join("dump.json");
    let out = pull(&wrangler, &dir.join("kv"), &dump, &[]);
    assert!(out.status.success(), "pull failed: {}", String::from_utf8_lossy(&out.stderr));
    let pulled = read_json(&dump);

    // The namespace holds the example's entries, exactly (an entry already expired could not
    // have been put: it is left out of the comparison).
    let mut seeded: Vec<Value> = read_json(&example)
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["expiration"].as_i64().is_none_or(|x| x > now()))
        .cloned()
        .collect();
    seeded.sort_by(|a, b| a["key"].as_str().cmp(&b["key"].as_str()));
    assert!(!seeded.is_empty());
    assert_eq!(pulled, Value::Array(seeded.clone()));

    let db = dir.join("kv.db").display().to_string();
    let m = kv2sql(&["migrate", "--kv", &dump.display().to_string(), "--db", &db]);
    assert!(m.status.success(), "migrate failed: {}", String::from_utf8_lossy(&m.stderr));
    let exported = dir.join("export.json");
    let x = kv2sql(&["export", "--db", &db, "--kv", &exported.display().to_string()]);
    assert!(x.status.success(), "export failed: {}", String::from_utf8_lossy(&x.stderr));
    let exported = read_json(&exported);
    assert_eq!(keys_and_expirations(&exported), keys_and_expirations(&Value::Array(seeded.clone())));
    for (e, s) in exported.as_array().unwrap().iter().zip(&seeded) {
        let parse = |v: &Value| serde_json::from_str::<Value>(v["value"].as_str().unwrap()).unwrap();
        assert_eq!(parse(e), parse(s), "value of {}", s["key"]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn pull_keeps_exact_bytes_expirations_and_metadata() {
    let Some(wrangler) = wrangler() else { return };
    let dir = common::scratch("pull", "exact");
    let binary = [0xffu8, 0x00, 0x80, b'A', 0xc3];
    let b64 = base64::engine::general_purpose::STANDARD.encode(binary);
    let seed_entries = json!([
        {"key": "bom", "value": "\u{feff}{\"x\": 1}\r\n"},
        {"key": "exp:1", "value": "é ü 😀", "expiration": 2_100_000_000i64, "metadata": {"tag": "m"}},
    ]);
    let file = dir.join("seed.json");
    std::fs::write(&file, seed_entries.to_string()).unwrap();
    seed(&wrangler, &dir.join("kv"), &file);
    // Wrangler's local `kv bulk put` turns a base64 value into UTF-8 text (lossy): the binary
    // value is put from a file, byte for byte.
    let bin = dir.join("bin");
    std::fs::write(&bin, binary).unwrap();
    let out = Command::new(&wrangler)
        .args([
            "kv",
            "key",
            "put",
            "bin",
            "--path",
            &bin.display().to_string(),
            "--metadata",
            r#"{"a":1,"b":[true,null]}"#,
        ])
        .args(["--binding", "ROADMAP_KV", "--local", "--persist-to", &dir.join("kv").display().to_string()])
        .args(["--config", &config()])
        .env("WRANGLER_SEND_METRICS", "false")
        .output()
        .unwrap();
    assert!(out.status.success(), "seeding failed: {}", String::from_utf8_lossy(&out.stderr));

    let dump = dir.join("dump.json");
    let out = pull(&wrangler, &dir.join("kv"), &dump, &[]);
    assert!(out.status.success(), "pull failed: {}", String::from_utf8_lossy(&out.stderr));
    let expected = json!([
        {"key": "bin", "value": b64, "base64": true, "metadata": {"a": 1, "b": [true, null]}},
        {"key": "bom", "value": "\u{feff}{\"x\": 1}\r\n"},
        {"key": "exp:1", "value": "é ü 😀", "expiration": 2_100_000_000i64, "metadata": {"tag": "m"}},
    ]);
    assert_eq!(read_json(&dump), expected);

    let only = dir.join("only.json");
    let out = pull(&wrangler, &dir.join("kv"), &only, &["--prefix", "exp:"]);
    assert!(out.status.success(), "pull failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(read_json(&only), json!([expected[2]]));
    // Only the two dumps: no temporary file is left beside them.
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["bin", "dump.json", "kv", "only.json", "seed.json"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failing_wrangler_writes_nothing_and_says_why() {
    let Some(wrangler) = wrangler() else { return };
    let dir = common::scratch("pull", "fail");
    let dump = dir.join("dump.json");
    let (w, kv, out, config) =
        (wrangler.display().to_string(), dir.join("kv").display().to_string(), dump.display().to_string(), config());
    let o = kv2sql(&[
        "pull",
        "--binding",
        "NO_SUCH_BINDING",
        "--local",
        "--persist-to",
        &kv,
        "--config",
        &config,
        "--wrangler",
        &w,
        "--out",
        &out,
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("kv key list") && err.contains("NO_SUCH_BINDING"), "{err}");
    assert!(!dump.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
