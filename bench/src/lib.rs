//! Benchmarks of kv2sql: the generated migration against a hand-written loader of the same
//! tables, idempotent re-runs, a phase breakdown, peak memory and codegen time. The figures are
//! printed by the `kv2sql-bench` binary (see BENCHMARKS.md); nothing here asserts a timing.

pub mod handwritten;

use std::path::Path;
use std::time::{Duration, Instant};

use kv2sql_generated as generated;
use kv2sql_runtime::json::Cx;
use kv2sql_runtime::sqlite::Sqlite;
use kv2sql_runtime::KvSnapshot;
use rusqlite::Connection;

/// The median of some durations (the mean of the middle two for an even count).
pub fn median(samples: &[Duration]) -> Duration {
    let mut s = samples.to_vec();
    s.sort();
    match s.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2,
    }
}

/// CPU time this process has used, every thread (`CLOCK_PROCESS_CPUTIME_ID`): the migration
/// extracts on a second thread while the calling one runs SQLite. Less sensitive than wall time
/// to other load on the machine (it leaves out waiting for the disk and for a core).
pub fn cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec to write to.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Wall and CPU time of `f`.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration, Duration) {
    let (w, c) = (Instant::now(), cpu_time());
    let out = f();
    (out, w.elapsed(), cpu_time().saturating_sub(c))
}

/// Opens a database file the way `kv2sql` does (`kv2sql_runtime::sqlite::open`), deleting any
/// previous file and its journal first.
pub fn fresh_db(path: &Path) -> rusqlite::Result<Connection> {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(&p);
    }
    kv2sql_runtime::sqlite::open(path)
}

/// The data tables of a database (not `kv2sql_migrations`), by name.
pub fn tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut st = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name NOT IN ('kv2sql_migrations', 'kv2sql_lifecycle', 'kv2sql_changes') ORDER BY name",
    )?;
    let names = st.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
    Ok(names)
}

/// Row count of every data table.
pub fn row_counts(conn: &Connection) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut out = Vec::new();
    for t in tables(conn)? {
        let n: i64 = conn.query_row(&format!("SELECT count(*) FROM \"{t}\""), [], |r| r.get(0))?;
        out.push((t, n));
    }
    Ok(out)
}

/// For every data table, the number of rows that are in one database and not in the other
/// (`EXCEPT` both ways, every column compared with its SQLite type). All zero = same data.
pub fn differing_rows(conn: &Connection, other: &Path) -> rusqlite::Result<Vec<(String, i64)>> {
    conn.execute("ATTACH DATABASE ?1 AS other", [other.to_string_lossy()])?;
    let mut out = Vec::new();
    let result = (|| {
        for t in tables(conn)? {
            let n: i64 = conn.query_row(
                &format!(
                    "SELECT (SELECT count(*) FROM (SELECT * FROM main.\"{t}\" EXCEPT SELECT * FROM other.\"{t}\")) + \
                     (SELECT count(*) FROM (SELECT * FROM other.\"{t}\" EXCEPT SELECT * FROM main.\"{t}\"))"
                ),
                [],
                |r| r.get(0),
            )?;
            out.push((t, n));
        }
        Ok(out)
    })();
    conn.execute("DETACH DATABASE other", [])?;
    result
}

/// Where the time of one generated migration goes (fresh database, one transaction), with
/// extraction and writing run one after the other instead of overlapped.
#[derive(Debug, Clone, Default)]
pub struct Breakdown {
    /// `apply_schema`: the CREATE TABLE script.
    pub schema: Duration,
    /// For reference, not part of the migration: a whole-tree `serde_json` parse of the
    /// `roadmap:items` value (the generated code parses it one element at a time instead).
    pub parse_items: Duration,
    /// For reference: `kv2sql_roadmap::v1::upgrade_items` on that whole tree.
    pub upgrade_items: Duration,
    /// `extract_all` of every source: parsing (element by element for the big arrays), the
    /// upgrade hook, checks and row structs, in chunks.
    pub extract: Duration,
    /// `Writers::load_all`: reading the stored rows.
    pub load: Duration,
    /// `Writers::write` of every chunk: comparing, binding and executing the INSERTs.
    pub write: Duration,
    /// `Writers::finish`: retiring and deleting rows the sources no longer have.
    pub remove: Duration,
    pub commit: Duration,
}

impl Breakdown {
    pub fn total(&self) -> Duration {
        self.schema + self.extract + self.load + self.write + self.remove + self.commit
    }
}

/// Runs the generated migration phase by phase through the generated crate's public API (the
/// steps `kv2sql_generated::migrate` overlaps, one after the other) and times each phase.
pub fn breakdown(conn: &mut Connection, kv: &KvSnapshot) -> Result<Breakdown, String> {
    let e = |e: kv2sql_runtime::Error| e.to_string();
    let mut b = Breakdown::default();
    // A whole-tree parse and upgrade, on the side, for reference.
    if let Some(entry) = kv.get("roadmap:items") {
        let t = Instant::now();
        let v = kv2sql_runtime::json::parse(&entry.key, &entry.value).map_err(e)?;
        b.parse_items = t.elapsed();
        let t = Instant::now();
        let v = kv2sql_roadmap::v1::upgrade_items(v, &Cx { kv_key: &entry.key }).map_err(|e| e.to_string())?;
        b.upgrade_items = t.elapsed();
        drop(v);
    }
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    {
        let mut db = Sqlite::new(&tx);
        let t = Instant::now();
        generated::apply_schema(&mut db).map_err(e)?;
        b.schema = t.elapsed();

        let t = Instant::now();
        let mut chunks = Vec::new();
        generated::extract_all(kv, &mut |chunk| {
            chunks.push(chunk);
            Ok(())
        })
        .map_err(e)?;
        b.extract = t.elapsed();

        let t = Instant::now();
        let mut writers = generated::Writers::default();
        writers.load_all(&mut db).map_err(e)?;
        b.load = t.elapsed();

        let t = Instant::now();
        let opts = generated::MigrateOptions::default();
        for chunk in chunks {
            writers.write(&mut db, chunk, &opts).map_err(e)?;
        }
        b.write = t.elapsed();

        let t = Instant::now();
        writers.finish(&mut db, false).map_err(e)?;
        b.remove = t.elapsed();
    }
    let t = Instant::now();
    tx.commit().map_err(|e| e.to_string())?;
    b.commit = t.elapsed();
    Ok(b)
}

/// `VmHWM` (peak resident set) and `VmRSS` of this process, in KiB.
pub fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Resets this process's peak RSS to its current RSS (`echo 5 > /proc/self/clear_refs`, Linux
/// 4.0+). Returns whether it worked.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// A migration as `kv2sql::migrate` ran it before the divergence guard: the generated migration
/// in one transaction, no lifecycle bookkeeping, no check. The baseline of the guard's cost.
pub fn migrate_unguarded(conn: &mut Connection, kv: &kv2sql_runtime::KvSnapshot) -> Result<u64, String> {
    let before = conn.total_changes();
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    kv2sql_generated::migrate(&mut kv2sql_runtime::sqlite::Sqlite::new(&tx), kv, &Default::default())
        .map_err(|e| e.to_string())?;
    let written = tx.total_changes() - before;
    tx.commit().map_err(|e| e.to_string())?;
    Ok(written)
}
