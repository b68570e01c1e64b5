//! `kv2sql-datagen --seed N --size tiny|small|medium|large [--legacy] [--now UNIX]`
//!
//! Writes a seeded v1 KV data set to stdout in the `wrangler kv bulk put` JSON format.

use std::io::Write;
use std::process::ExitCode;

use kv2sql_datagen::{snapshot, Options, Size};
use kv2sql_runtime::dump::write_dump;

const USAGE: &str = "usage: kv2sql-datagen --seed N --size tiny|small|medium|large [--legacy] [--now UNIX]

Writes seeded v1 KV data (every roadmap:* key) to stdout as a `wrangler kv bulk put` JSON file.
  --seed N     the seed (an unsigned 64-bit integer); required
  --size S     tiny (~3 items), small (~30), medium (~2.5 MiB of items), large (~25 MiB); required
  --legacy     the items blob may be at any persisted version (1-7, 10), not only 10
  --now UNIX   agent-cache entries expire at UNIX + 1..3600 s (default: the current time)";

fn parse(args: &[String]) -> Result<Options, String> {
    let mut seed: Option<u64> = None;
    let mut size: Option<Size> = None;
    let mut legacy = false;
    let mut now: Option<i64> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline.clone().or_else(|| it.next().cloned()).ok_or_else(|| format!("{name} needs a value"))
        };
        match flag {
            "--seed" => {
                let v = value("--seed")?;
                seed = Some(v.parse().map_err(|_| format!("--seed: not an unsigned 64-bit integer: {v:?}"))?);
            }
            "--size" => {
                let v = value("--size")?;
                size = Some(
                    Size::parse(&v)
                        .ok_or_else(|| format!("--size: expected tiny, small, medium or large, got {v:?}"))?,
                );
            }
            "--legacy" => {
                if inline.is_some() {
                    return Err("--legacy takes no value".into());
                }
                legacy = true;
            }
            "--now" => {
                let v = value("--now")?;
                now = Some(v.parse().map_err(|_| format!("--now: not an integer (Unix seconds): {v:?}"))?);
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let seed = seed.ok_or("--seed is required")?;
    let size = size.ok_or("--size is required")?;
    let now_unix = match now {
        Some(n) => n,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(kv2sql_datagen::DEFAULT_NOW_UNIX),
    };
    Ok(Options { seed, size, legacy_versions: legacy, now_unix })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse(&args) {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("kv2sql-datagen: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let text = write_dump(&snapshot(&opts));
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("kv2sql-datagen: writing stdout: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
