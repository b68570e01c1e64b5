//! `kv2sql`: plan, run, export and verify a Workers KV → SQLite migration on a laptop, and
//! generate the code from `mapping.yaml`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use kv2sql_runtime::Error;

/// A migration allocates rows on its extraction thread and frees them on the writing thread;
/// mimalloc does that without the system allocator's lock traffic between the two.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "kv2sql", version, about = "Migrate Workers KV JSON into SQLite, declaratively (mapping.yaml).")]
struct Cli {
    /// Output format of reports and errors.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Create or upgrade the schema and migrate a KV dump into a database, in one transaction.
    Migrate {
        /// KV dump in the `wrangler kv bulk put` JSON format.
        #[arg(long)]
        kv: PathBuf,
        /// SQLite database file (created if missing).
        #[arg(long)]
        db: PathBuf,
        /// Count each `expiration_ttl` in the dump from this instant (Unix seconds), e.g. when
        /// the dump was taken; pass the same value on every run. Without it a TTL is refused.
        #[arg(long, value_name = "UNIX_SECONDS")]
        ttl_base: Option<i64>,
        /// Report what would change, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Extract and write on one thread (by default a second thread extracts rows while
        /// the first writes them).
        #[arg(long)]
        single_thread: bool,
        /// Overwrite rows written outside a migration since the last one (the report names
        /// them). Without it such a migration is refused. A cut-over database refuses anyway.
        #[arg(long)]
        force: bool,
        /// Compare every source even when its KV entries, the model and the tables are
        /// unchanged since the last migration (by default such a re-run skips them). Use it
        /// after changing an `upgrade` hook's code without a mapping or version change.
        #[arg(long)]
        full: bool,
    },
    /// Show the database's phase, its last migration (time, KV digest) and whether its tables
    /// were written outside a migration since. Reads only; never creates the file.
    Status {
        #[arg(long)]
        db: PathBuf,
    },
    /// Record the cutover to the app (which now owns the tables): from then on every migration is refused, even with --force.
    Cutover {
        #[arg(long)]
        db: PathBuf,
        /// Undo the cutover: migrations are allowed again (and still refuse to overwrite the
        /// app's writes without --force).
        #[arg(long)]
        undo: bool,
    },
    /// Rebuild the KV values from the database, as a bulk dump.
    Export {
        /// SQLite database file (must exist).
        #[arg(long)]
        db: PathBuf,
        /// Output file, written atomically (never a SQLite database; its directory must exist).
        #[arg(long)]
        kv: PathBuf,
    },
    /// Exit 0 if the database holds exactly the (upgraded) dump; else print each difference.
    Verify {
        #[arg(long)]
        kv: PathBuf,
        /// SQLite database file (must exist).
        #[arg(long)]
        db: PathBuf,
        /// Count each `expiration_ttl` in the dump from this instant (Unix seconds), e.g. when
        /// the dump was taken; pass the same value on every run. Without it a TTL is refused.
        #[arg(long, value_name = "UNIX_SECONDS")]
        ttl_base: Option<i64>,
        /// Also fail when the dump holds keys that no source maps (which are not verified).
        #[arg(long)]
        strict: bool,
    },
    /// Regenerate generated/ from mapping.yaml (what `cargo build` does), or check it is fresh.
    Generate {
        #[arg(long, default_value = "mapping.yaml")]
        mapping: PathBuf,
        #[arg(long, default_value = "generated")]
        out: PathBuf,
        /// Fail with a diff when the files on disk are stale; write nothing.
        #[arg(long)]
        check: bool,
    },
    /// Show what maps where, and the DDL that would run on a database.
    Plan {
        #[arg(long, default_value = "mapping.yaml")]
        mapping: PathBuf,
        /// The database to plan for (a new database when omitted).
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Check mapping.yaml and print every mistake with its location.
    Validate {
        #[arg(long, default_value = "mapping.yaml")]
        mapping: PathBuf,
    },
    /// Dump a real namespace with wrangler (`kv key list`, then `kv key get` per key): keys,
    /// exact values, expirations and metadata, written atomically as a `wrangler kv bulk` file.
    Pull {
        /// The namespace's binding in the wrangler configuration.
        #[arg(long, required_unless_present = "namespace_id", conflicts_with = "namespace_id")]
        binding: Option<String>,
        /// The namespace's id.
        #[arg(long)]
        namespace_id: Option<String>,
        /// Wrangler's local KV instead of the real namespace.
        #[arg(long)]
        local: bool,
        /// The local KV's folder (wrangler's `--persist-to`).
        #[arg(long, requires = "local")]
        persist_to: Option<PathBuf>,
        /// Only keys with this prefix.
        #[arg(long)]
        prefix: Option<String>,
        /// The wrangler configuration file (wrangler's `--config`).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The wrangler program (default: `npx wrangler`).
        #[arg(long)]
        wrangler: Option<PathBuf>,
        /// How many values are read at once.
        #[arg(long, default_value_t = 4)]
        jobs: usize,
        /// The dump file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

fn progress(msg: &str) {
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K{msg}");
    }
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
fn progress_bar(done: usize, total: usize, step: &str) {
    if std::io::stderr().is_terminal() {
        let width = 24;
        let filled = (done * width).checked_div(total).unwrap_or(width).min(width);
        eprint!("\r\x1b[2K[{}{}] {done}/{total} {step}", "#".repeat(filled), "-".repeat(width - filled));
    }
}

fn progress_done() {
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K");
    }
}

/// Reports an error; `after` says what became of the files, where the message does not.
fn fail(format: Format, e: &Error, after: Option<&str>) -> ExitCode {
    progress_done();
    match format {
        Format::Json => println!("{}", serde_json::json!({ "ok": false, "error": e.to_json() })),
        Format::Text => match after {
            Some(after) => eprintln!("error: {e}\n{after}"),
            None => eprintln!("error: {e}"),
        },
    }
    ExitCode::FAILURE
}

/// A failed migration rolled its transaction back.
const MIGRATE_FAILED: Option<&str> = Some("nothing was written.");

/// What a failed export did to its output file, when the error does not say it.
fn export_failed(e: &Error, out: &std::path::Path) -> Option<String> {
    match e {
        Error::File(_) => None,
        _ if out.exists() => Some(format!("{} was left as it was.", out.display())),
        _ => Some(format!("{} was not written.", out.display())),
    }
}

/// How many keys of the dump were verified, and which were not (mapped by no source).
fn unverified(snap: &kv2sql_runtime::KvSnapshot) -> (usize, Vec<&str>) {
    let (mapped, unmapped): (Vec<_>, Vec<_>) = snap.entries().iter().partition(|e| kv2sql_generated::is_mapped(&e.key));
    (mapped.len(), unmapped.into_iter().map(|e| e.key.as_str()).collect())
}

/// At most the first five keys, then how many more.
fn first_keys(keys: &[&str]) -> String {
    let shown: Vec<String> = keys.iter().take(5).map(|k| format!("{k:?}")).collect();
    match keys.len().saturating_sub(shown.len()) {
        0 => shown.join(", "),
        more => format!("{}, … and {more} more", shown.join(", ")),
    }
}

/// Prints `verify`'s result. Keys that no source maps are not verified: they are listed, and
/// fail the run under `--strict`.
fn report_verify(
    format: Format,
    diffs: &[kv2sql::KeyDifference],
    snap: &kv2sql_runtime::KvSnapshot,
    strict: bool,
) -> ExitCode {
    let (verified, skipped) = unverified(snap);
    let strict_fails = strict && !skipped.is_empty();
    let ok = diffs.is_empty() && !strict_fails;
    match format {
        Format::Json => {
            let list: Vec<serde_json::Value> = diffs
                .iter()
                .map(|d| serde_json::json!({"key": d.key, "pointer": d.difference.pointer, "expected": d.difference.left, "found": d.difference.right}))
                .collect();
            println!(
                "{}",
                serde_json::json!({"ok": ok, "differences": list, "verified": verified, "unverified": skipped, "strict": strict})
            );
        }
        Format::Text => {
            for d in diffs {
                let show = |v: &Option<serde_json::Value>| v.as_ref().map_or("(absent)".to_string(), |v| v.to_string());
                println!(
                    "{} {}: expected {}, found {}",
                    d.key,
                    d.difference.pointer,
                    show(&d.difference.left),
                    show(&d.difference.right)
                );
            }
            if !skipped.is_empty() {
                println!(
                    "not verified: {} KV key(s) that no source in mapping.yaml maps: {}",
                    skipped.len(),
                    first_keys(&skipped)
                );
            }
            if ok {
                println!("ok: the database holds exactly the upgraded dump ({verified} KV entries)");
            } else if !diffs.is_empty() {
                println!("{} difference(s)", diffs.len());
            }
            if strict_fails {
                eprintln!(
                    "error: --strict: {} key(s) of the dump were not verified (mapped by no source): map them in \
                     mapping.yaml, or remove them from the dump",
                    skipped.len()
                );
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The mapping file's text and its name as diagnostics show it.
fn read_mapping(path: &PathBuf) -> Result<(String, String), ExitCode> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        eprintln!("error: cannot read {}: {e}", path.display());
        ExitCode::FAILURE
    })?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok((name, text))
}

/// The validated mapping, or its diagnostics printed.
fn load_model(path: &PathBuf) -> Result<kv2sql_codegen::ir::Model, ExitCode> {
    let (name, text) = read_mapping(path)?;
    kv2sql_codegen::parse(&name, &text).map_err(|d| {
        eprintln!("{d}");
        ExitCode::FAILURE
    })
}

/// `kv2sql status` as text.
fn status_text(db: &std::path::Path, s: &kv2sql_runtime::lifecycle::Status) -> String {
    use kv2sql_runtime::lifecycle::{describe, Phase};
    let phase = match s.state.phase {
        Phase::NeverMigrated if !db.exists() => "never migrated (no database file)",
        Phase::NeverMigrated => "never migrated",
        Phase::Migrated => "migrated (catch-up migrations allowed)",
        Phase::CutOver => "cut over (migrations refused)",
    };
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let diverged = if s.diverged {
        format!("yes: {} (a migration refuses without --force)", describe(&s.diverged_tables))
    } else {
        "no".into()
    };
    format!(
        "phase           {phase}\nschema version  {}\nlast migration  {}\nkv digest       {}\ncut over at     {}\ndiverged        {diverged}\n",
        s.schema_version,
        or_dash(&s.state.last_migrated_at),
        or_dash(&s.state.kv_digest),
        or_dash(&s.state.cut_over_at),
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = cli.format;
    match cli.command {
        Command::Migrate { kv, db, ttl_base, dry_run, single_thread, force, full } => {
            if let Err(e) = kv2sql::files::check_dump_is_not_db(&kv, &db) {
                return fail(format, &e, MIGRATE_FAILED);
            }
            progress(&format!("reading {}", kv.display()));
            let snap = match kv2sql::read_dump_with(&kv, ttl_base) {
                Ok(s) => s,
                Err(e) => return fail(format, &e, MIGRATE_FAILED),
            };
            progress(&format!("migrating {} KV entries into {}", snap.entries().len(), db.display()));
            let mut conn = match kv2sql::open_db(&db) {
                Ok(c) => c,
                Err(e) => return fail(format, &e, MIGRATE_FAILED),
            };
            let opts = kv2sql::MigrateOptions { dry_run, progress: Some(progress_bar), single_thread };
            match kv2sql::migrate_run(&mut conn, &snap, &opts, force, full) {
                Ok(report) => {
                    progress_done();
                    match format {
                        Format::Json => {
                            println!("{}", serde_json::to_string_pretty(&report).expect("report serialises"))
                        }
                        Format::Text => print!("{}", report.render_text()),
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format, &e, MIGRATE_FAILED),
            }
        }
        Command::Status { db } => match kv2sql::status(&db) {
            Ok(status) => {
                match format {
                    Format::Json => println!("{}", serde_json::to_string_pretty(&status).expect("status serialises")),
                    Format::Text => print!("{}", status_text(&db, &status)),
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(format, &e, None),
        },
        Command::Cutover { db, undo } => match kv2sql::cutover(&db, undo) {
            Ok(state) => {
                match format {
                    Format::Json => println!("{}", serde_json::json!({ "ok": true, "state": state })),
                    Format::Text if undo => {
                        println!("cutover undone: {} is migrated again; migrations are allowed", db.display())
                    }
                    Format::Text => println!(
                        "cut over at {}: migrations into {} are refused until `kv2sql cutover --undo`",
                        state.cut_over_at.as_deref().unwrap_or("?"),
                        db.display()
                    ),
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(format, &e, None),
        },
        Command::Export { db, kv } => match kv2sql::export_to_file(&db, &kv) {
            Ok(snap) => {
                match format {
                    Format::Json => {
                        println!("{}", serde_json::json!({"ok": true, "entries": snap.entries().len(), "file": kv}))
                    }
                    Format::Text => println!("exported {} KV entries to {}", snap.entries().len(), kv.display()),
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(format, &e, export_failed(&e, &kv).as_deref()),
        },
        Command::Verify { kv, db, ttl_base, strict } => {
            if let Err(e) = kv2sql::files::check_dump_is_not_db(&kv, &db) {
                return fail(format, &e, None);
            }
            let snap = match kv2sql::read_dump_with(&kv, ttl_base) {
                Ok(s) => s,
                Err(e) => return fail(format, &e, None),
            };
            let mut conn = match kv2sql::open_existing_db(&db) {
                Ok(c) => c,
                Err(e) => return fail(format, &e, None),
            };
            match kv2sql::verify(&mut conn, &snap) {
                Ok(diffs) => report_verify(format, &diffs, &snap, strict),
                Err(e) => fail(format, &e, None),
            }
        }
        Command::Generate { mapping, out, check } => {
            let result = kv2sql_codegen::Config::new()
                .mapping(&mapping)
                .out_dir(&out)
                .check(check)
                .emit_rerun_if_changed(false)
                .generate();
            match result {
                Ok(report) if check => {
                    debug_assert!(report.written.is_empty() && report.removed.is_empty());
                    println!("{} is up to date with {}", out.display(), mapping.display());
                    ExitCode::SUCCESS
                }
                Ok(report) => {
                    for p in &report.written {
                        println!("wrote {}", p.display());
                    }
                    for p in &report.removed {
                        println!("removed {}", p.display());
                    }
                    if report.written.is_empty() && report.removed.is_empty() {
                        println!("{} is up to date", out.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(kv2sql_codegen::Error::Stale { out_dir, diff }) => {
                    print!("{diff}");
                    eprintln!(
                        "error: {} is stale: run `cargo build` (or `kv2sql generate`) and commit the result",
                        out_dir.display()
                    );
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("{}", e.to_string().trim_end());
                    ExitCode::FAILURE
                }
            }
        }
        Command::Plan { mapping, db } => {
            let model = match load_model(&mapping) {
                Ok(m) => m,
                Err(c) => return c,
            };
            println!("{}", kv2sql_codegen::emit_sql::plan_text(&model));
            let opened = match &db {
                Some(path) => kv2sql::open_existing_db(path),
                None => kv2sql::open_db(std::path::Path::new(":memory:")),
            };
            let mut conn = match opened {
                Ok(c) => c,
                Err(e) => return fail(format, &e, None),
            };
            match kv2sql::pending_sql(&mut conn) {
                Ok(p) if p.is_empty() => {
                    println!("the database is up to date: no DDL would run");
                    ExitCode::SUCCESS
                }
                Ok(p) => {
                    for (v, n, sql) in p {
                        println!("-- would apply migration {v:04}_{n}\n{sql}");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format, &e, None),
            }
        }
        Command::Pull { binding, namespace_id, local, persist_to, prefix, config, wrangler, jobs, out } => {
            use kv2sql::pull::{Location, Namespace, PullOptions};
            let opts = PullOptions {
                wrangler: match wrangler {
                    Some(p) => vec![p.display().to_string()],
                    None => vec!["npx".into(), "wrangler".into()],
                },
                namespace: match (binding, namespace_id) {
                    (Some(b), _) => Namespace::Binding(b),
                    (None, id) => Namespace::Id(id.unwrap_or_default()),
                },
                location: if local { Location::Local(persist_to) } else { Location::Remote },
                config,
                prefix,
                jobs,
            };
            progress("listing keys and reading values with wrangler");
            match kv2sql::pull::pull(&opts, &out) {
                Ok(n) => {
                    progress_done();
                    match format {
                        Format::Json => println!("{}", serde_json::json!({"ok": true, "entries": n, "file": out})),
                        Format::Text => println!("pulled {n} KV entries into {}", out.display()),
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format, &Error::Dump(e.0), None),
            }
        }
        Command::Validate { mapping } => match load_model(&mapping) {
            Ok(m) => {
                println!("{} is valid: {} sources, {} tables", mapping.display(), m.sources.len(), m.tables.len());
                ExitCode::SUCCESS
            }
            Err(c) => c,
        },
    }
}
