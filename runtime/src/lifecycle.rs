//! The lifecycle of a database and the divergence guard: a migration never overwrites rows that
//! something else (the app itself, `sqlite3`, a Durable Object route) wrote since the previous one.
//!
//! The state lives in two bookkeeping tables, generic over the tables a mapping declares:
//!
//! * `kv2sql_lifecycle`: one row: the phase (`migrated` or `cut_over`; no row: never migrated),
//!   the time and KV digest of the last migration, the time of the cutover, and a `migrating`
//!   flag that is 1 only inside a migration's transaction.
//! * `kv2sql_changes`: `(tbl, row_id)` of every row written while no migration was running.
//!   Three triggers per table (AFTER INSERT, UPDATE, DELETE) fill it unless the flag is set.
//!
//! A migration ([`begin`], the data sync, [`finish`], all in one transaction) refuses before
//! writing anything when the log is not empty ([`Error::Diverged`]) or the database is cut over
//! ([`Error::CutOver`]). A forced run overwrites and empties the log. Checking costs one indexed
//! query; the triggers are created after a migration's writes (and again after a schema
//! migration rebuilt a table), so a migration itself never pays for them.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::migrations::{self, table_exists, Migration};
use crate::value::{SqlRef, SqlValue};
use crate::{KvSnapshot, SqlExecutor};

pub const STATE_TABLE: &str = "kv2sql_lifecycle";
pub const CHANGES_TABLE: &str = "kv2sql_changes";
/// Every trigger the guard creates is named `kv2sql_guard_<table>_<insert|update|delete>`.
const TRIGGER_PREFIX: &str = "kv2sql_guard_";

/// Where a database is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// No migration has completed: no bookkeeping row yet.
    NeverMigrated,
    /// Migrated from KV; further (catch-up) migrations are allowed while nothing else writes.
    Migrated,
    /// The app owns the data: every migration is refused until the cutover is undone.
    CutOver,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::NeverMigrated => "never_migrated",
            Phase::Migrated => "migrated",
            Phase::CutOver => "cut_over",
        }
    }
}

/// How many rows of one table were written outside a migration (distinct rows touched: an
/// edit, an insert or a delete each count once per row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Divergence {
    pub table: String,
    pub rows: u64,
}

/// `items: 2 rows, events: 1 row`, for messages.
pub fn describe(tables: &[Divergence]) -> String {
    let one = |d: &Divergence| format!("{}: {} row{}", d.table, d.rows, if d.rows == 1 { "" } else { "s" });
    tables.iter().map(one).collect::<Vec<_>>().join(", ")
}

/// What the bookkeeping row holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub phase: Phase,
    /// When the last migration committed (ISO 8601, UTC).
    pub last_migrated_at: Option<String>,
    /// [`kv_digest`] of the KV entries the last migration read.
    pub kv_digest: Option<String>,
    /// When the database was cut over (while it is).
    pub cut_over_at: Option<String>,
}

impl State {
    /// The state of a database no migration has completed in.
    pub fn never_migrated() -> State {
        State { phase: Phase::NeverMigrated, last_migrated_at: None, kv_digest: None, cut_over_at: None }
    }
}

/// The state and the divergence since the last migration, as `status` shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub schema_version: i64,
    #[serde(flatten)]
    pub state: State,
    /// Whether any table was written outside a migration since the last one.
    pub diverged: bool,
    pub diverged_tables: Vec<Divergence>,
}

/// What [`begin`] found, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guard {
    /// Tables written outside a migration since the last one: a dry run shows them, a forced
    /// run overwrites them.
    pub diverged: Vec<Divergence>,
}

// ---------------------------------------------------------------------------------------------
// Reading.

fn text(v: &SqlValue) -> Option<String> {
    match v {
        SqlValue::Text(s) => Some(s.clone()),
        _ => None,
    }
}

/// The bookkeeping row, without writing anything (a database without it: never migrated).
pub fn state(db: &mut dyn SqlExecutor) -> Result<State, Error> {
    if !table_exists(db, STATE_TABLE)? {
        return Ok(State::never_migrated());
    }
    let sql = format!("SELECT phase, last_migrated_at, kv_digest, cut_over_at FROM {STATE_TABLE} WHERE id = 1");
    let rows = db.query(&sql, &[])?;
    let Some(row) = rows.first() else { return Ok(State::never_migrated()) };
    let phase = match text(&row[0]).as_deref() {
        Some("migrated") => Phase::Migrated,
        Some("cut_over") => Phase::CutOver,
        Some("never_migrated") => Phase::NeverMigrated,
        other => return Err(Error::Schema(format!("{STATE_TABLE}.phase: unknown phase {other:?}"))),
    };
    Ok(State { phase, last_migrated_at: text(&row[1]), kv_digest: text(&row[2]), cut_over_at: text(&row[3]) })
}

/// Rows written outside a migration since the last one, per table, in table name order.
pub fn divergence(db: &mut dyn SqlExecutor) -> Result<Vec<Divergence>, Error> {
    if !table_exists(db, CHANGES_TABLE)? {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT tbl, COUNT(*) FROM {CHANGES_TABLE} GROUP BY tbl ORDER BY tbl");
    let mut out = Vec::new();
    for row in db.query(&sql, &[])? {
        if let [SqlValue::Text(table), SqlValue::Integer(n)] = row.as_slice() {
            out.push(Divergence { table: table.clone(), rows: *n as u64 });
        }
    }
    Ok(out)
}

/// Phase, last migration and divergence. Reads only: safe on a database another process uses.
pub fn status(db: &mut dyn SqlExecutor) -> Result<Status, Error> {
    let state = state(db)?;
    let diverged_tables = divergence(db)?;
    Ok(Status {
        schema_version: migrations::recorded_version(db)?,
        diverged: !diverged_tables.is_empty(),
        state,
        diverged_tables,
    })
}

// ---------------------------------------------------------------------------------------------
// Writing.

fn ensure_tables(db: &mut dyn SqlExecutor) -> Result<(), Error> {
    if table_exists(db, STATE_TABLE)? && table_exists(db, CHANGES_TABLE)? {
        return ensure_source_digests_column(db);
    }
    db.execute_script(&format!(
        "CREATE TABLE IF NOT EXISTS {STATE_TABLE} (\n  id INTEGER PRIMARY KEY CHECK (id = 1),\n  \
         phase TEXT NOT NULL,\n  migrating INTEGER NOT NULL DEFAULT 0,\n  last_migrated_at TEXT,\n  \
         kv_digest TEXT,\n  cut_over_at TEXT,\n  source_digests TEXT\n) STRICT;\n\
         CREATE TABLE IF NOT EXISTS {CHANGES_TABLE} (\n  tbl TEXT NOT NULL,\n  row_id INTEGER NOT NULL,\n  \
         PRIMARY KEY (tbl, row_id)\n) STRICT, WITHOUT ROWID;"
    ))?;
    Ok(())
}

/// Upgrades, in place, a bookkeeping table created before per-source digests were recorded:
/// the new column starts NULL, so the next run is a full one and records them.
fn ensure_source_digests_column(db: &mut dyn SqlExecutor) -> Result<(), Error> {
    let rows =
        db.query(&format!("SELECT 1 FROM pragma_table_info('{STATE_TABLE}') WHERE name = 'source_digests'"), &[])?;
    if rows.is_empty() {
        db.execute_script(&format!("ALTER TABLE {STATE_TABLE} ADD COLUMN source_digests TEXT;"))?;
    }
    Ok(())
}

/// Sets (or clears) the flag that keeps the triggers quiet, creating the row if needed.
fn set_migrating(db: &mut dyn SqlExecutor, on: bool) -> Result<(), Error> {
    db.execute(
        &format!(
            "INSERT INTO {STATE_TABLE} (id, phase, migrating) VALUES (1, 'never_migrated', ?1) \
             ON CONFLICT (id) DO UPDATE SET migrating = excluded.migrating"
        ),
        &[SqlRef::Integer(on as i64)],
    )?;
    Ok(())
}

/// The three triggers of one table. Table names come from the generated code (identifiers
/// the mapping validated), quoted; no value is spliced in.
fn trigger_sql(table: &str) -> String {
    let quiet = format!("WHEN NOT EXISTS (SELECT 1 FROM {STATE_TABLE} WHERE id = 1 AND migrating = 1)");
    let log = |rows: &str| format!("INSERT OR IGNORE INTO {CHANGES_TABLE} (tbl, row_id) VALUES {rows}");
    let t = table.replace('"', "\"\"");
    let lit = table.replace('\'', "''");
    format!(
        "CREATE TRIGGER IF NOT EXISTS \"{TRIGGER_PREFIX}{t}_insert\" AFTER INSERT ON \"{t}\" {quiet} \
         BEGIN {}; END;\n\
         CREATE TRIGGER IF NOT EXISTS \"{TRIGGER_PREFIX}{t}_update\" AFTER UPDATE ON \"{t}\" {quiet} \
         BEGIN {}; END;\n\
         CREATE TRIGGER IF NOT EXISTS \"{TRIGGER_PREFIX}{t}_delete\" AFTER DELETE ON \"{t}\" {quiet} \
         BEGIN {}; END;\n",
        log(&format!("('{lit}', NEW.rowid)")),
        log(&format!("('{lit}', OLD.rowid), ('{lit}', NEW.rowid)")),
        log(&format!("('{lit}', OLD.rowid)")),
    )
}

/// Creates the triggers a table lacks (all of them after a schema migration rebuilt it, which
/// drops its triggers with the old table). Returns the tables whose triggers were created.
pub fn ensure_triggers(db: &mut dyn SqlExecutor, tables: &[&str]) -> Result<Vec<String>, Error> {
    ensure_tables(db)?;
    let like = format!("{TRIGGER_PREFIX}%");
    let rows =
        db.query("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE ?1", &[SqlRef::Text(&like)])?;
    let present: std::collections::HashSet<String> = rows.iter().filter_map(|r| text(&r[0])).collect();
    let expected: std::collections::HashSet<String> = tables
        .iter()
        .flat_map(|t| ["insert", "update", "delete"].map(|k| format!("{TRIGGER_PREFIX}{t}_{k}")))
        .collect();
    let mut script = String::new();
    // A table renamed by a schema migration keeps triggers that log its old name.
    for stale in present.iter().filter(|n| !expected.contains(*n)) {
        script.push_str(&format!("DROP TRIGGER IF EXISTS \"{}\";\n", stale.replace('"', "\"\"")));
    }
    let mut created = Vec::new();
    for t in tables {
        let complete =
            ["insert", "update", "delete"].iter().all(|k| present.contains(&format!("{TRIGGER_PREFIX}{t}_{k}")));
        if !complete {
            script.push_str(&trigger_sql(t));
            created.push(t.to_string());
        }
    }
    if !script.is_empty() {
        db.execute_script(&script)?;
    }
    Ok(created)
}

/// Starts a migration, inside its transaction and before it writes anything: refuses a database
/// that is cut over (even when forced), refuses one written outside a migration unless `force`
/// or `dry_run` (which then only report it), and sets the flag that keeps the triggers quiet
/// while the migration writes.
pub fn begin(db: &mut dyn SqlExecutor, force: bool, dry_run: bool) -> Result<Guard, Error> {
    let state = state(db)?;
    if state.phase == Phase::CutOver {
        return Err(Error::CutOver { at: state.cut_over_at });
    }
    let diverged = divergence(db)?;
    if !diverged.is_empty() && !force && !dry_run {
        return Err(Error::Diverged { tables: diverged });
    }
    ensure_tables(db)?;
    set_migrating(db, true)?;
    Ok(Guard { diverged })
}

/// Ends a migration, in its transaction after its writes: creates missing triggers, empties the
/// change log (a forced run has just overwritten what it recorded), records the time and KV
/// digest, and clears the flag.
pub fn finish(
    db: &mut dyn SqlExecutor,
    tables: &[&str],
    guard: &Guard,
    kv_digest: &str,
    now: &str,
) -> Result<(), Error> {
    ensure_triggers(db, tables)?;
    if !guard.diverged.is_empty() {
        db.execute(&format!("DELETE FROM {CHANGES_TABLE}"), &[])?;
    }
    db.execute(
        &format!(
            "UPDATE {STATE_TABLE} SET phase = 'migrated', migrating = 0, last_migrated_at = ?1, kv_digest = ?2 \
             WHERE id = 1"
        ),
        &[SqlRef::Text(now), SqlRef::Text(kv_digest)],
    )?;
    Ok(())
}

/// Applies pending schema migrations with the triggers quiet (a table rebuild copies every
/// row), then re-creates the triggers a rebuild dropped. For front ends that upgrade the schema
/// outside a migration (a Durable Object, when it starts). Run it inside a transaction.
pub fn apply_schema(db: &mut dyn SqlExecutor, tables: &[&str], all: &[Migration]) -> Result<Vec<i64>, Error> {
    let migrated = state(db)?.phase != Phase::NeverMigrated;
    let pending = !migrations::pending(db, all)?.is_empty();
    if migrated && pending {
        set_migrating(db, true)?;
    }
    let applied = migrations::apply(db, all)?;
    if migrated {
        ensure_triggers(db, tables)?;
    }
    if migrated && pending {
        set_migrating(db, false)?;
    }
    Ok(applied)
}

/// Records the cutover: from now on every migration is refused, even a forced one. Refuses a
/// database that was never migrated; cutting over twice keeps the first time.
pub fn cutover(db: &mut dyn SqlExecutor, now: &str) -> Result<State, Error> {
    let s = state(db)?;
    match s.phase {
        Phase::NeverMigrated => {
            Err(Error::Lifecycle("the database was never migrated: run a migration before cutting over to it".into()))
        }
        Phase::CutOver => Ok(s),
        Phase::Migrated => {
            db.execute(
                &format!("UPDATE {STATE_TABLE} SET phase = 'cut_over', cut_over_at = ?1 WHERE id = 1"),
                &[SqlRef::Text(now)],
            )?;
            state(db)
        }
    }
}

/// Undoes the cutover: migrations are allowed again, and still refuse to overwrite what the app
/// wrote (the change log is kept) unless forced.
pub fn undo_cutover(db: &mut dyn SqlExecutor) -> Result<State, Error> {
    let s = state(db)?;
    match s.phase {
        Phase::CutOver => {
            db.execute(&format!("UPDATE {STATE_TABLE} SET phase = 'migrated', cut_over_at = NULL WHERE id = 1"), &[])?;
            state(db)
        }
        _ => {
            Err(Error::Lifecycle(format!("the database is not cut over (phase {}): nothing to undo", s.phase.as_str())))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Skipping a re-run of unchanged data.

/// The digests of every source at one run, one `source<TAB>digest` line each, in mapping
/// order; each digest covers the source's entries and the model fingerprint.
pub fn source_digests<'a>(
    kv: &KvSnapshot,
    sources: impl IntoIterator<Item = (&'a str, &'a dyn Fn(&str) -> bool)>,
    fingerprint: &str,
) -> String {
    let mut out = String::new();
    for (name, is_source) in sources {
        let entries = kv_digest(kv, is_source);
        let mut h = Sha256::new();
        h.update(fingerprint.as_bytes());
        h.update([0]);
        h.update(entries.as_bytes());
        let d: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        out.push_str(&format!("{name}\t{d}\n"));
    }
    out
}

/// A fingerprint of the code that turns KV into rows, as far as it can be seen: the schema
/// (every migration's SQL) and the generated crate's version. A change to an `upgrade`
/// hook's code without a mapping or version change is not seen: `--full` forces a comparison.
pub fn model_fingerprint(all: &[Migration], crate_version: &str) -> String {
    let mut h = Sha256::new();
    h.update(crate_version.as_bytes());
    for m in all {
        h.update(m.version.to_le_bytes());
        h.update(m.checksum().as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The per-source digests the last migration recorded (none before this was recorded).
pub fn recorded_source_digests(db: &mut dyn SqlExecutor) -> Result<Option<String>, Error> {
    if !table_exists(db, STATE_TABLE)? {
        return Ok(None);
    }
    let has =
        db.query(&format!("SELECT 1 FROM pragma_table_info('{STATE_TABLE}') WHERE name = 'source_digests'"), &[])?;
    if has.is_empty() {
        return Ok(None);
    }
    let rows = db.query(&format!("SELECT source_digests FROM {STATE_TABLE} WHERE id = 1"), &[])?;
    Ok(rows.first().and_then(|r| text(&r[0])))
}

/// Whether a run may skip every source: the database is migrated (not cut over), the digests
/// equal the recorded ones (same entries, same model), no table diverged and no schema
/// migration is pending. Reads only.
pub fn unchanged(db: &mut dyn SqlExecutor, digests: &str, tables: &[&str], all: &[Migration]) -> Result<bool, Error> {
    if state(db)?.phase != Phase::Migrated {
        return Ok(false);
    }
    if recorded_source_digests(db)?.as_deref() != Some(digests) {
        return Ok(false);
    }
    Ok(divergence(db)?.is_empty() && migrations::pending(db, all)?.is_empty() && triggers_complete(db, tables)?)
}

/// Whether every table has its three guard triggers (a table rebuilt outside a migration has
/// lost them, and only a full run re-creates them).
fn triggers_complete(db: &mut dyn SqlExecutor, tables: &[&str]) -> Result<bool, Error> {
    let like = format!("{TRIGGER_PREFIX}%");
    let rows =
        db.query("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE ?1", &[SqlRef::Text(&like)])?;
    let present: std::collections::HashSet<String> = rows.iter().filter_map(|r| text(&r[0])).collect();
    Ok(tables
        .iter()
        .all(|t| ["insert", "update", "delete"].iter().all(|k| present.contains(&format!("{TRIGGER_PREFIX}{t}_{k}")))))
}

/// Records the per-source digests of the migration that is committing (after [`finish`]).
pub fn record_source_digests(db: &mut dyn SqlExecutor, digests: &str) -> Result<(), Error> {
    ensure_tables(db)?;
    db.execute(
        &format!("UPDATE {STATE_TABLE} SET source_digests = ?1 WHERE id = 1 AND source_digests IS NOT ?1"),
        &[SqlRef::Text(digests)],
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Digest and time.

/// SHA-256 (hex) of the mapped entries in key order: each key, value and expiration, each
/// length-prefixed so that no two snapshots share a digest by moving bytes between fields.
pub fn kv_digest(kv: &KvSnapshot, is_mapped: impl Fn(&str) -> bool) -> String {
    let mut h = Sha256::new();
    for e in kv.entries().iter().filter(|e| is_mapped(&e.key)) {
        h.update((e.key.len() as u64).to_le_bytes());
        h.update(e.key.as_bytes());
        h.update((e.value.len() as u64).to_le_bytes());
        h.update(e.value.as_bytes());
        match e.expiration {
            Some(x) => {
                h.update([1]);
                h.update(x.to_le_bytes());
            }
            None => h.update([0]),
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Seconds since the Unix epoch as ISO 8601 UTC (`2026-12-06T04:39:56Z`).
pub fn iso8601(unix: i64) -> String {
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KvEntry;

    #[test]
    fn iso8601_formats_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_796_532_796), "2026-12-06T04:53:16Z");
    }

    #[test]
    fn the_digest_covers_mapped_keys_values_and_expirations_only() {
        let snap = |v: &str, x: Option<i64>| {
            KvSnapshot::new(vec![
                KvEntry { key: "a".into(), value: v.into(), expiration: x },
                KvEntry { key: "other".into(), value: "1".into(), expiration: None },
            ])
            .unwrap()
        };
        let mapped = |k: &str| k == "a";
        let base = kv_digest(&snap("1", None), mapped);
        assert_eq!(base.len(), 64);
        assert_eq!(base, kv_digest(&snap("1", None), mapped));
        assert_ne!(base, kv_digest(&snap("2", None), mapped));
        assert_ne!(base, kv_digest(&snap("1", Some(5)), mapped));
        assert_eq!(base, kv_digest(&snap("1", None), |k: &str| k == "a"));
        assert_ne!(base, kv_digest(&snap("1", None), |_: &str| true));
    }
}
