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
        /// Report what would change, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Extract and write on one thread (by default a second thread extracts rows while
        /// the first writes them).
        #[arg(long)]
        single_thread: bool,
    },
    /// Rebuild the v1 KV values from the database, as a bulk dump.
    Export {
        #[arg(long)]
        db: PathBuf,
        /// Output file.
        #[arg(long)]
        kv: PathBuf,
    },
    /// Exit 0 if the database holds exactly the (upgraded) dump; else print each difference.
    Verify {
        #[arg(long)]
        kv: PathBuf,
        #[arg(long)]
        db: PathBuf,
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

fn fail(format: Format, e: &Error) -> ExitCode {
    progress_done();
    match format {
        Format::Json => println!("{}", serde_json::json!({ "ok": false, "error": e.to_json() })),
        Format::Text => eprintln!("error: {e}\nnothing was written."),
    }
    ExitCode::FAILURE
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = cli.format;
    match cli.command {
        Command::Migrate { kv, db, dry_run, single_thread } => {
            progress(&format!("reading {}", kv.display()));
            let snap = match kv2sql::read_dump(&kv) {
                Ok(s) => s,
                Err(e) => return fail(format, &e),
            };
            progress(&format!("migrating {} KV entries into {}", snap.entries().len(), db.display()));
            let mut conn = match kv2sql::open_db(&db) {
                Ok(c) => c,
                Err(e) => return fail(format, &e),
            };
            let opts = kv2sql::MigrateOptions { dry_run, progress: Some(progress_bar), single_thread };
            match kv2sql::migrate_with(&mut conn, &snap, &opts) {
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
                Err(e) => fail(format, &e),
            }
        }
        Command::Export { db, kv } => {
            let mut conn = match kv2sql::open_db(&db) {
                Ok(c) => c,
                Err(e) => return fail(format, &e),
            };
            match kv2sql::export_to_file(&mut conn, &kv) {
                Ok(snap) => {
                    match format {
                        Format::Json => {
                            println!("{}", serde_json::json!({"ok": true, "entries": snap.entries().len(), "file": kv}))
                        }
                        Format::Text => println!("exported {} KV entries to {}", snap.entries().len(), kv.display()),
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format, &e),
            }
        }
        Command::Verify { kv, db } => {
            let snap = match kv2sql::read_dump(&kv) {
                Ok(s) => s,
                Err(e) => return fail(format, &e),
            };
            let mut conn = match kv2sql::open_db(&db) {
                Ok(c) => c,
                Err(e) => return fail(format, &e),
            };
            match kv2sql::verify(&mut conn, &snap) {
                Ok(diffs) => {
                    match format {
                        Format::Json => {
                            let list: Vec<serde_json::Value> = diffs
                                .iter()
                                .map(|d| serde_json::json!({"key": d.key, "pointer": d.difference.pointer, "expected": d.difference.left, "found": d.difference.right}))
                                .collect();
                            println!("{}", serde_json::json!({"ok": diffs.is_empty(), "differences": list}));
                        }
                        Format::Text => {
                            for d in &diffs {
                                let show = |v: &Option<serde_json::Value>| {
                                    v.as_ref().map_or("(absent)".to_string(), |v| v.to_string())
                                };
                                println!(
                                    "{} {}: expected {}, found {}",
                                    d.key,
                                    d.difference.pointer,
                                    show(&d.difference.left),
                                    show(&d.difference.right)
                                );
                            }
                            if diffs.is_empty() {
                                println!(
                                    "ok: the database holds exactly the upgraded dump ({} KV entries)",
                                    snap.entries().iter().filter(|e| kv2sql_generated::is_mapped(&e.key)).count()
                                );
                            } else {
                                println!("{} difference(s)", diffs.len());
                            }
                        }
                    }
                    if diffs.is_empty() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => fail(format, &e),
            }
        }
        Command::Generate { mapping, out, check } => {
            let (name, text) = match read_mapping(&mapping) {
                Ok(t) => t,
                Err(c) => return c,
            };
            let released = match kv2sql_codegen::io::read_released(&out) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let generated = match kv2sql_codegen::generate(&name, &text, &released) {
                Ok(g) => g,
                Err(d) => {
                    eprintln!("{d}");
                    return ExitCode::FAILURE;
                }
            };
            if check {
                match kv2sql_codegen::io::check(&out, &generated) {
                    Ok(()) => {
                        println!("{} is up to date with {}", out.display(), mapping.display());
                        ExitCode::SUCCESS
                    }
                    Err(diff) => {
                        print!("{diff}");
                        eprintln!(
                            "error: {} is stale: run `cargo build` (or `kv2sql generate`) and commit the result",
                            out.display()
                        );
                        ExitCode::FAILURE
                    }
                }
            } else {
                match kv2sql_codegen::io::write(&out, &generated) {
                    Ok(changed) => {
                        for p in &changed {
                            println!("wrote {}", p.display());
                        }
                        if changed.is_empty() {
                            println!("{} is up to date", out.display());
                        }
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        ExitCode::FAILURE
                    }
                }
            }
        }
        Command::Plan { mapping, db } => {
            let model = match load_model(&mapping) {
                Ok(m) => m,
                Err(c) => return c,
            };
            println!("{}", kv2sql_codegen::emit_sql::plan_text(&model));
            let path = db.unwrap_or_else(|| PathBuf::from(":memory:"));
            let mut conn = match kv2sql::open_db(&path) {
                Ok(c) => c,
                Err(e) => return fail(format, &e),
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
                Err(e) => fail(format, &e),
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
                Err(e) => fail(format, &Error::Dump(e.0)),
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
