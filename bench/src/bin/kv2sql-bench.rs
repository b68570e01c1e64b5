//! `kv2sql-bench [--size small|medium|large|all]… [--seed N] [--runs K] [--no-memory] [--no-codegen]
//! [--no-breakdown]`
//!
//! Prints, for each size: the generated data; the generated migration's time (median of K runs,
//! each on a fresh temp-file database) against a hand-written rusqlite loader of the same tables;
//! an idempotent re-run; where the time goes; and peak memory (in a child process). Then codegen
//! time and a no-op `cargo build -p kv2sql-generated`, and a markdown summary for BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use kv2sql_bench::{
    breakdown, differing_rows, fresh_db, handwritten, median, memory_kib, reset_peak, row_counts, timed,
};
use kv2sql_datagen::{Options, Size};
use kv2sql_runtime::KvSnapshot;

/// A migration allocates rows on its extraction thread and frees them on the writing thread;
/// mimalloc does that without the system allocator's lock traffic between the two.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: kv2sql-bench [--size small|medium|large|tiny|all]... [--seed N] [--runs K] \
[--no-memory] [--no-codegen] [--no-breakdown] [--no-guard]

  --size S        a data size; repeat or comma-separate for several (default: small,medium,large)
  --seed N        datagen seed (default 1)
  --runs K        timed runs per measurement; the median is printed (default 5)
  --no-memory     skip the peak-RSS child processes
  --no-codegen    skip codegen and no-op cargo build timings
  --no-breakdown  skip the per-phase timing of the generated migration
  --no-guard      skip the divergence guard's cost (guarded vs unguarded, first run and re-run)";

struct Args {
    sizes: Vec<Size>,
    seed: u64,
    runs: usize,
    memory: bool,
    codegen: bool,
    breakdown: bool,
    guard: bool,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut a = Args { sizes: Vec::new(), seed: 1, runs: 5, memory: true, codegen: true, breakdown: true, guard: true };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next().cloned()).ok_or_else(|| format!("{flag} needs a value"));
        match flag {
            "--size" => {
                for s in value()?.split(',') {
                    if s == "all" {
                        a.sizes.extend([Size::Small, Size::Medium, Size::Large]);
                    } else {
                        a.sizes.push(Size::parse(s).ok_or_else(|| format!("--size: unknown size {s:?}"))?);
                    }
                }
            }
            "--seed" => a.seed = value()?.parse().map_err(|_| "--seed: expected an unsigned integer".to_string())?,
            "--runs" => {
                a.runs = value()?.parse().map_err(|_| "--runs: expected a positive integer".to_string())?;
                if a.runs == 0 {
                    return Err("--runs must be at least 1".into());
                }
            }
            "--no-memory" => a.memory = false,
            "--no-codegen" => a.codegen = false,
            "--no-breakdown" => a.breakdown = false,
            "--no-guard" => a.guard = false,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.sizes.is_empty() {
        a.sizes = vec![Size::Small, Size::Medium, Size::Large];
    }
    Ok(a)
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2} s")
    } else {
        format!("{:.1} ms", s * 1e3)
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// One size's figures, for the summary table.
struct SizeResult {
    size: Size,
    input_bytes: u64,
    items: usize,
    rows: i64,
    generated: Duration,
    generated_cpu: Duration,
    /// The generated migration with `MigrateOptions::single_thread`.
    one_thread: Duration,
    handwritten: Duration,
    handwritten_cpu: Duration,
    same_data: bool,
    rerun: Duration,
    rerun_written: u64,
    memory: Option<Memory>,
}

struct Memory {
    idle_kib: u64,
    generated: ChildMemory,
    handwritten: ChildMemory,
    parse: ChildMemory,
    rerun: ChildMemory,
}

/// What a `--child-migrate` run reports.
struct ChildMemory {
    /// RSS with the snapshot loaded, just before the migration.
    before_kib: u64,
    /// Peak RSS during the migration (peak reset just before it).
    peak_kib: u64,
    reset: bool,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child-migrate") {
        return child(&args[1..]);
    }
    let a = match parse_args(&args) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("kv2sql-bench: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kv2sql-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn now_unix() -> i64 {
    kv2sql::now_unix()
}

fn workdir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("kv2sql-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

fn run(a: &Args) -> Result<(), String> {
    let dir = workdir()?;
    println!("# kv2sql-bench: seed {}, {} run(s) per measurement, databases in {}", a.seed, a.runs, dir.display());
    machine();
    let mut results = Vec::new();
    for &size in &a.sizes {
        results.push(bench_size(a, size, &dir)?);
    }
    let codegen = if a.codegen { Some(bench_codegen()?) } else { None };
    summary(a, &results, codegen.as_ref());
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn machine() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name").map(|r| r.trim_start_matches([' ', '\t', ':']).to_string()))
        })
        .unwrap_or_else(|| "?".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string()))
        .and_then(|kb| kb.parse::<u64>().ok())
        .unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!(
        "machine: {cpus} CPU(s), {cpu}, {:.1} GiB RAM, load average {}",
        mem as f64 / 1048576.0,
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
}

/// What the divergence guard costs: `kv2sql::migrate` (guarded: lifecycle check, flag,
/// triggers created after the first run, run recorded) against the same migration without any
/// of it ([`kv2sql_bench::migrate_unguarded`]), on a fresh database and on a re-run over
/// unchanged data, interleaved (guarded, unguarded, …) so that both see the same load.
fn guard_cost(kv: &KvSnapshot, dir: &Path, size: Size, runs: usize) -> Result<(), String> {
    let (guarded_db, plain_db) =
        (dir.join(format!("guarded-{}.sqlite", size.name())), dir.join(format!("plain-{}.sqlite", size.name())));
    // (wall, CPU) per run: on a loaded machine CPU time is the steadier of the two.
    let (mut first_g, mut first_p, mut re_g, mut re_p) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut written = (0, 0);
    for _ in 0..runs {
        let mut g = fresh_db(&guarded_db).map_err(|e| e.to_string())?;
        let (r, w, c) = timed(|| kv2sql::migrate(&mut g, kv, false));
        r.map_err(|e| e.to_string())?;
        first_g.push((w, c));
        let mut p = fresh_db(&plain_db).map_err(|e| e.to_string())?;
        let (r, w, c) = timed(|| kv2sql_bench::migrate_unguarded(&mut p, kv));
        r?;
        first_p.push((w, c));
        let (r, w, c) = timed(|| kv2sql::migrate(&mut g, kv, false));
        let r = r.map_err(|e| e.to_string())?;
        written.0 = written.0.max(r.rows_written.unwrap_or(0));
        re_g.push((w, c));
        let (r, w, c) = timed(|| kv2sql_bench::migrate_unguarded(&mut p, kv));
        written.1 = written.1.max(r?);
        re_p.push((w, c));
    }
    let med = |v: &[(Duration, Duration)]| {
        (median(&v.iter().map(|x| x.0).collect::<Vec<_>>()), median(&v.iter().map(|x| x.1).collect::<Vec<_>>()))
    };
    let line = |what: &str, g: &[(Duration, Duration)], p: &[(Duration, Duration)]| {
        let ((gw, gc), (pw, pc)) = (med(g), med(p));
        format!(
            "{what}: guarded {} vs unguarded {} wall ({:.2}x), CPU {} vs {} ({:.2}x)",
            secs(gw),
            secs(pw),
            gw.as_secs_f64() / pw.as_secs_f64(),
            secs(gc),
            secs(pc),
            gc.as_secs_f64() / pc.as_secs_f64()
        )
    };
    println!("divergence guard (medians of {runs}, interleaved):");
    println!("  {}", line("first run", &first_g, &first_p));
    println!("  {}", line("re-run", &re_g, &re_p));
    println!("  re-run data rows written: guarded {}, unguarded {} (must be 0)", written.0, written.1);
    let d = lifecycle_digest_time(kv);
    println!("  of which the KV digest (sha256 of the mapped entries): {}", secs(d));
    Ok(())
}

fn lifecycle_digest_time(kv: &KvSnapshot) -> Duration {
    let mut samples = Vec::new();
    for _ in 0..5 {
        let (_, w, _) = timed(|| kv2sql_runtime::lifecycle::kv_digest(kv, kv2sql_generated::is_mapped));
        samples.push(w);
    }
    median(&samples)
}

fn bench_size(a: &Args, size: Size, dir: &Path) -> Result<SizeResult, String> {
    let runs = a.runs;
    println!("\n## size {} (seed {})", size.name(), a.seed);

    // 1. Data.
    let t = Instant::now();
    let entries =
        kv2sql_datagen::generate(&Options { seed: a.seed, size, legacy_versions: false, now_unix: now_unix() });
    let kv = KvSnapshot::new(entries).map_err(|e| e.to_string())?;
    let gen_time = t.elapsed();
    let input_bytes: u64 = kv.entries().iter().map(|e| (e.key.len() + e.value.len()) as u64).sum();
    let items_bytes = kv.get("roadmap:items").map(|e| e.value.len()).unwrap_or(0);
    let items = kv
        .get("roadmap:items")
        .and_then(|e| serde_json::from_str::<serde_json::Value>(&e.value).ok())
        .and_then(|v| v.get("items").and_then(|i| i.as_array()).map(Vec::len))
        .unwrap_or(0);
    println!(
        "data: {} KV entries, {input_bytes} bytes ({:.2} MiB; roadmap:items {items_bytes} bytes, {items} items), generated in {}",
        kv.entries().len(),
        mib(input_bytes),
        secs(gen_time)
    );

    // 2 and 3. The generated migration and the hand-written loader, K fresh databases each,
    // interleaved so that both see the same load on the machine.
    let gen_db = dir.join(format!("generated-{}.sqlite", size.name()));
    let hw_db = dir.join(format!("handwritten-{}.sqlite", size.name()));
    let (mut gen_wall, mut gen_cpu, mut hw_wall, mut hw_cpu) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut one_wall, mut one_cpu) = (Vec::new(), Vec::new());
    let mut report = None;
    let mut hw_written = 0;
    for _ in 0..runs {
        let mut conn = fresh_db(&gen_db).map_err(|e| e.to_string())?;
        let (r, w, c) = timed(|| kv2sql::migrate(&mut conn, &kv, false));
        report = Some(r.map_err(|e| e.to_string())?);
        gen_wall.push(w);
        gen_cpu.push(c);
        drop(conn);
        let mut conn = fresh_db(&gen_db).map_err(|e| e.to_string())?;
        let one_thread = kv2sql::MigrateOptions { single_thread: true, ..Default::default() };
        let (r, w, c) = timed(|| kv2sql::migrate_with(&mut conn, &kv, &one_thread));
        r.map_err(|e| e.to_string())?;
        one_wall.push(w);
        one_cpu.push(c);
        drop(conn);
        let mut conn = fresh_db(&hw_db).map_err(|e| e.to_string())?;
        let (r, w, c) = timed(|| handwritten::load(&mut conn, &kv));
        hw_written = r?;
        hw_wall.push(w);
        hw_cpu.push(c);
    }
    let report = report.expect("runs >= 1");
    let (generated, generated_cpu) = (median(&gen_wall), median(&gen_cpu));
    let (handwritten, handwritten_cpu) = (median(&hw_wall), median(&hw_cpu));
    let (one_thread, one_thread_cpu) = (median(&one_wall), median(&one_cpu));
    // The last database written is the single-thread run's: migrate once more the default way,
    // so that the comparison below is of the default migration's rows.
    let mut conn = fresh_db(&gen_db).map_err(|e| e.to_string())?;
    kv2sql::migrate(&mut conn, &kv, false).map_err(|e| e.to_string())?;
    drop(conn);
    let conn = kv2sql_runtime::sqlite::open(&gen_db).map_err(|e| e.to_string())?;
    let counts = row_counts(&conn).map_err(|e| e.to_string())?;
    let rows: i64 = counts.iter().map(|(_, n)| n).sum();
    let child_rows: i64 = counts
        .iter()
        .filter(|(t, _)| t != "items" && !t.ends_with("_doc") && t != "mention_scan_state")
        .map(|(_, n)| n)
        .sum();
    println!(
        "rows: {rows} in {} tables (items {}, other child rows {child_rows}); report.rows_written {} (includes the kv2sql_migrations row)",
        counts.len(),
        counts.iter().find(|(t, _)| t == "items").map(|(_, n)| *n).unwrap_or(0),
        report.rows_written.unwrap_or(0)
    );
    println!("  per table: {}", counts.iter().map(|(t, n)| format!("{t} {n}")).collect::<Vec<_>>().join(", "));
    let throughput = |d: Duration| (rows as f64 / d.as_secs_f64(), input_bytes as f64 / 1e6 / d.as_secs_f64());
    let list = |v: &[Duration]| v.iter().map(|d| secs(*d)).collect::<Vec<_>>().join(", ");
    let (rps, mbps) = throughput(generated);
    println!(
        "generated migration (kv2sql::migrate): median {} of {runs} [{}]: {rps:.0} rows/s, {mbps:.2} MB/s; CPU time median {} [{}]",
        secs(generated),
        list(&gen_wall),
        secs(generated_cpu),
        list(&gen_cpu)
    );
    println!(
        "  the same on one thread (MigrateOptions::single_thread): median {} of {runs} [{}]; CPU time median {} [{}]; two threads are {:.2}x as fast",
        secs(one_thread),
        list(&one_wall),
        secs(one_thread_cpu),
        list(&one_cpu),
        one_thread.as_secs_f64() / generated.as_secs_f64()
    );
    let (hrps, hmbps) = throughput(handwritten);
    println!(
        "hand-written loader: median {} of {runs} [{}]: {hrps:.0} rows/s, {hmbps:.2} MB/s ({hw_written} rows written); CPU time median {} [{}]",
        secs(handwritten),
        list(&hw_wall),
        secs(handwritten_cpu),
        list(&hw_cpu)
    );
    let hw_conn = kv2sql_runtime::sqlite::open(&hw_db).map_err(|e| e.to_string())?;
    let hw_counts = row_counts(&hw_conn).map_err(|e| e.to_string())?;
    drop(hw_conn);
    let diffs = differing_rows(&conn, &hw_db).map_err(|e| e.to_string())?;
    let differing: i64 = diffs.iter().map(|(_, n)| n).sum();
    let same_counts = hw_counts == counts;
    println!(
        "  row counts equal: {}; rows differing (EXCEPT both ways, all columns): {differing}{}",
        if same_counts { "yes" } else { "NO" },
        if differing > 0 {
            format!(
                " ({})",
                diffs.iter().filter(|(_, n)| *n > 0).map(|(t, n)| format!("{t} {n}")).collect::<Vec<_>>().join(", ")
            )
        } else {
            String::new()
        }
    );
    if !same_counts {
        println!("  hand-written per table: {hw_counts:?}");
    }
    println!(
        "  generated / hand-written throughput: {:.2}x wall, {:.2}x CPU time (goal >= 0.90x)",
        handwritten.as_secs_f64() / generated.as_secs_f64(),
        handwritten_cpu.as_secs_f64() / generated_cpu.as_secs_f64()
    );
    drop(conn);

    // 4. Idempotent re-run on the filled database.
    let mut conn = kv2sql_runtime::sqlite::open(&gen_db).map_err(|e| e.to_string())?;
    let mut samples = Vec::new();
    let mut rerun_written = 0;
    for _ in 0..runs {
        let (r, w, _) = timed(|| kv2sql::migrate(&mut conn, &kv, false));
        let r = r.map_err(|e| e.to_string())?;
        samples.push(w);
        rerun_written = rerun_written.max(r.rows_written.unwrap_or(0));
    }
    let rerun = median(&samples);
    println!(
        "idempotent re-run on the filled database: median {} of {runs}, rows written {rerun_written} (must be 0), {:.2}x the first run's time",
        secs(rerun),
        rerun.as_secs_f64() / generated.as_secs_f64()
    );
    drop(conn);

    if a.guard {
        guard_cost(&kv, dir, size, runs)?;
    }

    println!(
        "KV2SQL_RESULT size={} rows={rows} median_s={:.4} handwritten_s={:.4} rerun_s={:.4}",
        size.name(),
        generated.as_secs_f64(),
        handwritten.as_secs_f64(),
        rerun.as_secs_f64()
    );

    // Where the time goes.
    if a.breakdown {
        let mut all = Vec::new();
        for _ in 0..runs {
            let mut conn = fresh_db(&gen_db).map_err(|e| e.to_string())?;
            all.push(breakdown(&mut conn, &kv)?);
        }
        let pick = |f: fn(&kv2sql_bench::Breakdown) -> Duration| median(&all.iter().map(f).collect::<Vec<_>>());
        let phases = [
            ("schema", pick(|b| b.schema)),
            ("parse + upgrade + extract", pick(|b| b.extract)),
            ("load stored rows", pick(|b| b.load)),
            ("compare + write", pick(|b| b.write)),
            ("retire + remove", pick(|b| b.remove)),
            ("commit", pick(|b| b.commit)),
        ];
        let total: Duration = phases.iter().map(|(_, d)| *d).sum();
        println!(
            "generated migration by phase (medians of {runs}; sum {}): {}",
            secs(total),
            phases
                .iter()
                .map(|(n, d)| format!("{n} {} ({:.0}%)", secs(*d), 100.0 * d.as_secs_f64() / total.as_secs_f64()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "  for reference, outside the migration: a whole-tree serde_json parse of roadmap:items takes {}, \
             upgrade_items on that tree {} (the generated code parses and upgrades it one element at a time, \
             inside extract)",
            secs(pick(|b| b.parse_items)),
            secs(pick(|b| b.upgrade_items))
        );
    }

    // 5. Peak memory in child processes.
    let memory = if a.memory { Some(bench_memory(&kv, size, dir, input_bytes)?) } else { None };
    let _ = std::fs::remove_file(&gen_db);
    let _ = std::fs::remove_file(&hw_db);

    Ok(SizeResult {
        size,
        input_bytes,
        items,
        rows,
        generated,
        generated_cpu,
        one_thread,
        handwritten,
        handwritten_cpu,
        same_data: same_counts && differing == 0,
        rerun,
        rerun_written,
        memory,
    })
}

fn bench_memory(kv: &KvSnapshot, size: Size, dir: &Path, input_bytes: u64) -> Result<Memory, String> {
    let dump = dir.join(format!("dump-{}.json", size.name()));
    std::fs::write(&dump, kv2sql_runtime::dump::write_dump(kv)).map_err(|e| format!("{}: {e}", dump.display()))?;
    let db = dir.join(format!("memory-{}.sqlite", size.name()));
    let idle = run_child("idle", &dump, &db)?;
    let handwritten = run_child("handwritten", &dump, &db)?;
    let parse = run_child("parse", &dump, &db)?;
    let generated = run_child("generated", &dump, &db)?;
    let rerun = run_child("rerun", &dump, &db)?;
    let _ = std::fs::remove_file(&dump);
    let _ = std::fs::remove_file(&db);
    let input_kib = input_bytes as f64 / 1024.0;
    println!(
        "peak RSS (child processes; input {:.1} MiB; idle child {:.1} MiB):",
        input_kib / 1024.0,
        idle.peak_kib as f64 / 1024.0
    );
    for (name, m) in [
        ("generated", &generated),
        ("generated, idempotent re-run (fresh process, filled database)", &rerun),
        ("hand-written", &handwritten),
        ("DOM parse + upgrade of roadmap:items only", &parse),
    ] {
        println!(
            "  {name}: RSS with the snapshot loaded {:.1} MiB; peak during the migration {:.1} MiB{}; \
             (peak - idle) / input = {:.2}x (goal < 3x); (peak - loaded) / input = {:.2}x",
            m.before_kib as f64 / 1024.0,
            m.peak_kib as f64 / 1024.0,
            if m.reset { "" } else { " (peak NOT reset after loading: includes loading the dump)" },
            (m.peak_kib.saturating_sub(idle.peak_kib)) as f64 / input_kib,
            (m.peak_kib.saturating_sub(m.before_kib)) as f64 / input_kib,
        );
    }
    Ok(Memory { idle_kib: idle.peak_kib, generated, handwritten, parse, rerun })
}

fn run_child(mode: &str, dump: &Path, db: &Path) -> Result<ChildMemory, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .arg("--child-migrate")
        .arg(mode)
        .arg(dump)
        .arg(db)
        .output()
        .map_err(|e| format!("child {mode}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("child {mode} failed: {}{}", text, String::from_utf8_lossy(&out.stderr)));
    }
    let get = |k: &str| {
        text.split_whitespace().find_map(|w| w.strip_prefix(k)).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
    };
    Ok(ChildMemory { before_kib: get("before_kib="), peak_kib: get("peak_kib="), reset: get("reset=") == 1 })
}

/// `--child-migrate MODE DUMP DB`: loads the dump, resets the peak RSS, runs one migration
/// (`generated` or `handwritten`; `idle` does nothing) and prints its peak RSS.
fn child(args: &[String]) -> ExitCode {
    let [mode, dump, db] = args else {
        eprintln!("--child-migrate MODE DUMP DB");
        return ExitCode::from(2);
    };
    if mode == "idle" {
        let (hwm, rss) = memory_kib();
        println!("before_kib={rss} peak_kib={hwm} reset=0");
        return ExitCode::SUCCESS;
    }
    let kv = match kv2sql::read_dump(Path::new(dump)) {
        Ok(kv) => kv,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // `rerun` migrates again into the database a `generated` child filled.
    let opened = if mode == "rerun" { kv2sql_runtime::sqlite::open(Path::new(db)) } else { fresh_db(Path::new(db)) };
    let mut conn = match opened {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let (_, before) = memory_kib();
    let reset = reset_peak();
    let result = match mode.as_str() {
        "generated" | "rerun" => kv2sql::migrate(&mut conn, &kv, false).map(|_| ()).map_err(|e| e.to_string()),
        "handwritten" => handwritten::load(&mut conn, &kv).map(|_| ()),
        // Only what every loader must do first: the `roadmap:items` DOM, parsed and upgraded.
        "parse" => kv
            .get("roadmap:items")
            .ok_or_else(|| "no roadmap:items".to_string())
            .and_then(|e| kv2sql_runtime::json::parse(&e.key, &e.value).map_err(|e| e.to_string()))
            .and_then(|v| {
                kv2sql_roadmap::v1::upgrade_items(v, &kv2sql_runtime::json::Cx { kv_key: "roadmap:items" })
                    .map_err(|e| e.to_string())
            })
            .map(drop),
        other => Err(format!("unknown mode {other}")),
    };
    let (peak, _) = memory_kib();
    if let Err(e) = result {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    println!("before_kib={before} peak_kib={peak} reset={}", u8::from(reset));
    ExitCode::SUCCESS
}

struct Codegen {
    generate: Duration,
    noop_build: Option<Duration>,
    rebuilt: bool,
    build_note: String,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("bench/ is in the workspace").to_path_buf()
}

fn bench_codegen() -> Result<Codegen, String> {
    println!("\n## codegen");
    let root = workspace_root();
    let mapping = root.join("mapping.yaml");
    let text = std::fs::read_to_string(&mapping).map_err(|e| format!("{}: {e}", mapping.display()))?;
    let released = kv2sql_codegen::io::read_released(&root.join("generated"))?;
    let mut samples = Vec::new();
    let mut files = 0;
    for _ in 0..20 {
        let t = Instant::now();
        let g = kv2sql_codegen::generate("mapping.yaml", &text, &released).map_err(|d| d.to_string())?;
        samples.push(t.elapsed());
        files = g.files.len();
    }
    let generate = median(&samples);
    println!(
        "kv2sql_codegen::generate(mapping.yaml, {} bytes): median {} of 20 ({files} files)",
        text.len(),
        secs(generate)
    );

    // A no-op `cargo build -p kv2sql-generated` with this binary's target directory.
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).or_else(|| {
        std::env::current_exe().ok().and_then(|e| e.parent().and_then(Path::parent).map(Path::to_path_buf))
    });
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let build = |timed: bool| -> Result<(Duration, String), String> {
        let mut cmd = Command::new(&cargo);
        cmd.args(["build", "--release", "-p", "kv2sql-generated"]).current_dir(&root);
        if let Some(t) = &target {
            cmd.env("CARGO_TARGET_DIR", t);
        }
        let t = Instant::now();
        let out = cmd.output().map_err(|e| format!("cargo: {e}"))?;
        let d = t.elapsed();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        if !out.status.success() {
            return Err(format!(
                "cargo build -p kv2sql-generated failed{}: {err}",
                if timed { "" } else { " (warm-up)" }
            ));
        }
        Ok((d, err))
    };
    let (noop_build, rebuilt, build_note) = match build(false) {
        Err(e) => (None, false, e),
        Ok(_) => {
            let mut samples = Vec::new();
            let mut rebuilt = false;
            for _ in 0..5 {
                let (d, err) = build(true)?;
                rebuilt |= err.contains("Compiling");
                samples.push(d);
            }
            let m = median(&samples);
            println!(
                "no-op `cargo build --release -p kv2sql-generated` (target {}): median {} of 5; rebuilt anything: {}",
                target.as_deref().map(|p| p.display().to_string()).unwrap_or_else(|| "default".into()),
                secs(m),
                if rebuilt { "YES" } else { "no" }
            );
            (Some(m), rebuilt, String::new())
        }
    };
    if !build_note.is_empty() {
        println!("no-op cargo build not measured: {build_note}");
    }
    Ok(Codegen { generate, noop_build, rebuilt, build_note })
}

fn summary(a: &Args, results: &[SizeResult], codegen: Option<&Codegen>) {
    println!("\n## summary (markdown)\n");
    println!("Seed {}, median of {} run(s), each on a fresh temp-file database.\n", a.seed, a.runs);
    println!(
        "| size | input | items | rows | generated | rows/s | MB/s | one thread | hand-written | rows/s | gen/hand wall (goal >= 0.9x) | gen/hand CPU | same data | re-run (rows written) | peak RSS - idle | / input (goal < 3x) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in results {
        let rps = |d: Duration| r.rows as f64 / d.as_secs_f64();
        let (mem, ratio) = match &r.memory {
            Some(m) => {
                let over = m.generated.peak_kib.saturating_sub(m.idle_kib);
                (
                    format!("{:.1} MiB", over as f64 / 1024.0),
                    format!("{:.2}x", over as f64 * 1024.0 / r.input_bytes as f64),
                )
            }
            None => ("-".into(), "-".into()),
        };
        println!(
            "| {} | {:.2} MiB | {} | {} | {} | {:.0} | {:.2} | {} | {} | {:.0} | {:.2}x | {:.2}x | {} | {} ({}) | {mem} | {ratio} |",
            r.size.name(),
            mib(r.input_bytes),
            r.items,
            r.rows,
            secs(r.generated),
            rps(r.generated),
            r.input_bytes as f64 / 1e6 / r.generated.as_secs_f64(),
            secs(r.one_thread),
            secs(r.handwritten),
            rps(r.handwritten),
            r.handwritten.as_secs_f64() / r.generated.as_secs_f64(),
            r.handwritten_cpu.as_secs_f64() / r.generated_cpu.as_secs_f64(),
            if r.same_data { "yes" } else { "NO" },
            secs(r.rerun),
            r.rerun_written,
        );
    }
    if results.iter().any(|r| r.memory.is_some()) {
        println!(
            "\n| size | peak RSS, generated (loaded → peak) | generated re-run (loaded → peak) | hand-written (loaded → peak) | DOM parse + upgrade of roadmap:items only (loaded → peak) | idle child |"
        );
        println!("|---|---|---|---|---|---|");
        for r in results {
            if let Some(m) = &r.memory {
                println!(
                    "| {} | {:.1} → {:.1} MiB | {:.1} → {:.1} MiB | {:.1} → {:.1} MiB | {:.1} → {:.1} MiB | {:.1} MiB |",
                    r.size.name(),
                    m.generated.before_kib as f64 / 1024.0,
                    m.generated.peak_kib as f64 / 1024.0,
                    m.rerun.before_kib as f64 / 1024.0,
                    m.rerun.peak_kib as f64 / 1024.0,
                    m.handwritten.before_kib as f64 / 1024.0,
                    m.handwritten.peak_kib as f64 / 1024.0,
                    m.parse.before_kib as f64 / 1024.0,
                    m.parse.peak_kib as f64 / 1024.0,
                    m.idle_kib as f64 / 1024.0
                );
            }
        }
    }
    if let Some(c) = codegen {
        println!("\n| codegen | time |\n|---|---|");
        println!("| `kv2sql_codegen::generate` (median of 20) | {} |", secs(c.generate));
        match c.noop_build {
            Some(d) => println!(
                "| no-op `cargo build --release -p kv2sql-generated` (median of 5) | {}{} |",
                secs(d),
                if c.rebuilt { " (REBUILT something)" } else { "" }
            ),
            None => println!(
                "| no-op `cargo build -p kv2sql-generated` | not measured: {} |",
                c.build_note.lines().next().unwrap_or("")
            ),
        }
    }
}
