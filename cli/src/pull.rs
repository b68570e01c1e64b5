//! `kv2sql pull`: a `wrangler kv bulk` dump of a real namespace, made with wrangler itself.
//!
//! `wrangler kv key list` gives every key with its expiration and metadata; each value is then
//! read with `wrangler kv key get`, which writes the value's exact bytes (wrangler's `kv bulk
//! get` decodes values as UTF-8 text, which would change a binary value or drop a leading
//! byte-order mark). A value that is valid UTF-8 is written as a string, any other as base64
//! with `"base64": true`. The dump is written atomically: a temporary file beside the target,
//! fsync, rename (`kv2sql_codegen::io::atomic`, as every file kv2sql writes).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use base64::Engine;
use serde_json::{Map, Value};

/// Wrangler's local KV lists at most this many keys and does not page.
pub const LOCAL_LIST_LIMIT: usize = 1000;

/// Which namespace, and where it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Namespace {
    /// `--binding NAME` of the wrangler configuration.
    Binding(String),
    /// `--namespace-id ID`.
    Id(String),
}

/// Where the namespace is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The real namespace (`--remote`).
    Remote,
    /// Wrangler's local KV (`--local`), in its default folder or `--persist-to DIR`.
    Local(Option<PathBuf>),
}

/// What `kv2sql pull` runs.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// The wrangler command: a program and its leading arguments (`["npx", "wrangler"]`).
    pub wrangler: Vec<String>,
    pub namespace: Namespace,
    pub location: Location,
    /// The wrangler configuration file (`--config`), when not the one wrangler finds.
    pub config: Option<PathBuf>,
    /// Only keys with this prefix.
    pub prefix: Option<String>,
    /// How many `kv key get` run at once.
    pub jobs: usize,
}

/// Why a pull failed. Nothing is written when one is returned.
#[derive(Debug)]
pub struct PullError(pub String);

impl std::fmt::Display for PullError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PullError {}

/// One listed key: `wrangler kv key list` output.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub name: String,
    pub expiration: Option<i64>,
    pub metadata: Option<Value>,
}

impl PullOptions {
    /// The arguments naming the namespace and where it lives, shared by every wrangler call.
    fn target_args(&self) -> Vec<String> {
        let mut args = match &self.namespace {
            Namespace::Binding(b) => vec!["--binding".to_string(), b.clone()],
            Namespace::Id(id) => vec!["--namespace-id".to_string(), id.clone()],
        };
        match &self.location {
            Location::Remote => args.push("--remote".into()),
            Location::Local(dir) => {
                args.push("--local".into());
                if let Some(dir) = dir {
                    args.extend(["--persist-to".into(), dir.display().to_string()]);
                }
            }
        }
        if let Some(c) = &self.config {
            args.extend(["--config".into(), c.display().to_string()]);
        }
        args
    }

    /// Runs wrangler with `args`; its stdout, or an error with its stderr.
    fn run(&self, args: &[String]) -> Result<Vec<u8>, PullError> {
        let (program, lead) = self.wrangler.split_first().ok_or_else(|| PullError("--wrangler is empty".into()))?;
        let out = Command::new(program).args(lead).args(args).output().map_err(|e| {
            PullError(format!(
                "cannot run {program}: {e}; install wrangler (npm i -D wrangler) or pass --wrangler PATH"
            ))
        })?;
        if !out.status.success() {
            return Err(PullError(format!(
                "`{} {}` failed ({}): {}",
                self.wrangler.join(" "),
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(out.stdout)
    }
}

/// Parses `wrangler kv key list` output: `[{name, expiration?, metadata?}]`.
pub fn parse_list(stdout: &[u8]) -> Result<Vec<Listed>, PullError> {
    let text = String::from_utf8_lossy(stdout);
    // Anything wrangler prints before the JSON array (a banner) is skipped.
    let start = text.find('[').ok_or_else(|| PullError(format!("`kv key list` printed no JSON array: {text}")))?;
    let list: Vec<Value> = serde_json::from_str(text[start..].trim_end())
        .map_err(|e| PullError(format!("`kv key list` output is not a JSON array of keys: {e}")))?;
    list.into_iter()
        .map(|v| {
            let name = v
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| PullError(format!("`kv key list` gave an entry without a string `name`: {v}")))?;
            let expiration =
                match v.get("expiration") {
                    None | Some(Value::Null) => None,
                    Some(e) => Some(e.as_i64().ok_or_else(|| {
                        PullError(format!("key {name:?}: `expiration` is {e}, expected whole seconds"))
                    })?),
                };
            let metadata = v.get("metadata").filter(|m| !m.is_null()).cloned();
            Ok(Listed { name: name.to_string(), expiration, metadata })
        })
        .collect()
}

/// Lists the keys (with their expiration and metadata).
pub fn list(opts: &PullOptions) -> Result<Vec<Listed>, PullError> {
    let mut args = vec!["kv".to_string(), "key".into(), "list".into()];
    args.extend(opts.target_args());
    if let Some(p) = &opts.prefix {
        args.extend(["--prefix".into(), p.clone()]);
    }
    let keys = parse_list(&opts.run(&args)?)?;
    if opts.location != Location::Remote && keys.len() >= LOCAL_LIST_LIMIT {
        return Err(PullError(format!(
            "wrangler's local KV listed {} keys, its limit: some may be missing; pull in parts with --prefix",
            keys.len()
        )));
    }
    Ok(keys)
}

/// What `kv key get` prints for a key that is not there (on stdout, exit 0).
const NOT_FOUND: &[u8] = b"Value not found\n";

/// The exact bytes of one value.
pub fn get(opts: &PullOptions, key: &str) -> Result<Vec<u8>, PullError> {
    if key.starts_with('-') {
        return Err(PullError(format!(
            "key {key:?} starts with '-', which wrangler would read as an option; rename it or dump it by hand"
        )));
    }
    let mut args = vec!["kv".to_string(), "key".into(), "get".into(), key.to_string()];
    args.extend(opts.target_args());
    let bytes = opts.run(&args)?;
    if bytes == NOT_FOUND {
        return Err(PullError(format!(
            "key {key:?} was listed but is gone (deleted or expired meanwhile); run the pull again"
        )));
    }
    Ok(bytes)
}

/// Reads every value, `opts.jobs` at a time, in the order of `keys`.
pub fn get_all(opts: &PullOptions, keys: &[Listed]) -> Result<Vec<Vec<u8>>, PullError> {
    let next = AtomicUsize::new(0);
    let values: Mutex<Vec<Option<Vec<u8>>>> = Mutex::new(vec![None; keys.len()]);
    let failed: Mutex<Option<PullError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.clamp(1, 32) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= keys.len() || failed.lock().is_ok_and(|f| f.is_some()) {
                    return;
                }
                match get(opts, &keys[i].name) {
                    Ok(v) => values.lock().expect("no panics while locked")[i] = Some(v),
                    Err(e) => {
                        failed.lock().expect("no panics while locked").get_or_insert(e);
                    }
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().expect("no panics while locked") {
        return Err(e);
    }
    Ok(values.into_inner().expect("no panics while locked").into_iter().map(Option::unwrap_or_default).collect())
}

/// One dump entry: `{key, value, expiration?, metadata?, base64?}`.
pub fn entry(listed: &Listed, bytes: Vec<u8>) -> Value {
    let mut o = Map::new();
    o.insert("key".into(), listed.name.clone().into());
    match String::from_utf8(bytes) {
        Ok(text) => {
            o.insert("value".into(), text.into());
        }
        Err(e) => {
            o.insert("value".into(), base64::engine::general_purpose::STANDARD.encode(e.as_bytes()).into());
            o.insert("base64".into(), true.into());
        }
    }
    if let Some(exp) = listed.expiration {
        o.insert("expiration".into(), exp.into());
    }
    if let Some(m) = &listed.metadata {
        o.insert("metadata".into(), m.clone());
    }
    Value::Object(o)
}

/// Lists, reads every value and writes the dump to `out`; returns the number of entries.
pub fn pull(opts: &PullOptions, out: &Path) -> Result<usize, PullError> {
    let keys = list(opts)?;
    let values = get_all(opts, &keys)?;
    let entries: Vec<Value> = keys.iter().zip(values).map(|(k, v)| entry(k, v)).collect();
    let mut text = serde_json::to_string_pretty(&entries).map_err(|e| PullError(e.to_string()))?;
    text.push('\n');
    kv2sql_codegen::io::atomic::write_file(out, text.as_bytes()).map_err(|e| PullError(e.to_string()))?;
    Ok(entries.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_list_after_a_banner() {
        let out = b"banner\n[{\"name\":\"a\",\"expiration\":2100000000,\"metadata\":{\"m\":1}},{\"name\":\"b\"}]\n";
        let keys = parse_list(out).unwrap();
        assert_eq!(
            keys[0],
            Listed { name: "a".into(), expiration: Some(2_100_000_000), metadata: Some(json!({"m": 1})) }
        );
        assert_eq!(keys[1], Listed { name: "b".into(), expiration: None, metadata: None });
        assert!(parse_list(b"[{\"name\":\"a\",\"expiration\":1.5}]").unwrap_err().0.contains("whole seconds"));
        assert!(parse_list(b"[{\"key\":\"a\"}]").unwrap_err().0.contains("name"));
    }

    #[test]
    fn text_stays_text_and_bytes_become_base64() {
        let k = Listed { name: "k".into(), expiration: Some(5), metadata: Some(json!("x")) };
        assert_eq!(
            entry(&k, "\u{feff}é".into()),
            json!({"key": "k", "value": "\u{feff}é", "expiration": 5, "metadata": "x"})
        );
        let k = Listed { name: "b".into(), expiration: None, metadata: None };
        assert_eq!(entry(&k, vec![0xff, 0x00, 0x80]), json!({"key": "b", "value": "/wCA", "base64": true}));
    }
}
