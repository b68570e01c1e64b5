//! What a migration did, per KV source and per table.

use serde::{Deserialize, Serialize};

use crate::lifecycle::{describe, Divergence};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub dry_run: bool,
    /// The schema version of the database after the run.
    pub schema_version: i64,
    /// Schema migrations applied by this run.
    pub schema_migrations_applied: Vec<i64>,
    pub sources: Vec<SourceReport>,
    /// KV keys no source maps: reported, never silently skipped.
    pub unmapped_keys: Vec<String>,
    pub tables: Vec<TableReport>,
    /// Rows SQLite wrote, as the front end measured it (rusqlite's `total_changes()`, the
    /// Durable Object's cursors): 0 for a re-run over unchanged data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_written: Option<u64>,
    /// Rows written to kv2sql's own bookkeeping tables (the lifecycle row, the guard's change
    /// log), apart from `rows_written`: 2 on a `--full` re-run over unchanged data, 0 on a
    /// skipped one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bookkeeping_writes: Option<u64>,
    /// Tables written outside a migration since the previous one: a dry run shows them, and a
    /// forced run (`forced`) overwrote them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diverged: Vec<Divergence>,
    /// The run was forced (`--force`, `?force=1`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forced: bool,
    /// Sources found unchanged since the last migration and skipped (not read from the
    /// tables, not extracted, not written); `--full` never skips.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceReport {
    /// The KV key, or the key pattern (`app:cache:{id}`).
    pub source: String,
    /// How many KV entries matched it.
    pub kv_entries: usize,
    /// Bytes of value text read.
    pub bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableReport {
    pub table: String,
    pub source: String,
    /// Rows the KV values hold for this table.
    pub source_rows: usize,
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub deleted: usize,
    /// Stored rows no longer in the source, kept (`on_missing: keep`).
    pub retained: usize,
}

impl Report {
    /// Rows inserted, updated or deleted.
    pub fn rows_changed(&self) -> usize {
        self.tables.iter().map(|t| t.inserted + t.updated + t.deleted).sum()
    }

    /// The divergence line: what a forced run overwrote, or what a dry run found.
    fn render_divergence(&self) -> String {
        if self.diverged.is_empty() {
            return String::new();
        }
        let what = describe(&self.diverged);
        if self.dry_run {
            format!("diverged since the last migration ({what}): a migration would refuse; --force overwrites\n")
        } else if self.forced {
            format!("forced: overwrote rows written outside a migration ({what})\n")
        } else {
            format!("diverged: {what}\n")
        }
    }

    /// A plain-text table for terminals.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        if self.dry_run {
            out.push_str("dry run: nothing was written\n");
        }
        out.push_str(&format!("schema version {}", self.schema_version));
        if let Some(w) = self.rows_written {
            out.push_str(&format!(", rows written {w}"));
        }
        if !self.schema_migrations_applied.is_empty() {
            let v: Vec<String> = self.schema_migrations_applied.iter().map(|v| format!("{v:04}")).collect();
            out.push_str(&format!(" (applied {})", v.join(", ")));
        }
        out.push('\n');
        if let Some(b) = self.bookkeeping_writes {
            out.push_str(&format!("bookkeeping rows written {b} (the lifecycle state, not data)\n"));
        }
        out.push_str(&self.render_divergence());
        if !self.skipped.is_empty() {
            out.push_str(&format!(
                "unchanged since the last migration, skipped: {} (--full compares them anyway)\n",
                self.skipped.join(", ")
            ));
        }
        out.push('\n');
        let w = self.sources.iter().map(|s| s.source.len()).max().unwrap_or(6).max(6);
        out.push_str(&format!("{:<w$}  {:>7}  {:>10}\n", "source", "entries", "bytes"));
        for s in &self.sources {
            out.push_str(&format!("{:<w$}  {:>7}  {:>10}\n", s.source, s.kv_entries, s.bytes));
        }
        if !self.unmapped_keys.is_empty() {
            out.push_str(&format!("\nnot mapped (left in KV, not migrated): {}\n", self.unmapped_keys.join(", ")));
        }
        out.push('\n');
        let tw = self.tables.iter().map(|t| t.table.len()).max().unwrap_or(5).max(5);
        out.push_str(&format!(
            "{:<tw$}  {:>8}  {:>8}  {:>8}  {:>9}  {:>8}  {:>8}\n",
            "table", "source", "inserted", "updated", "unchanged", "deleted", "retained"
        ));
        for t in &self.tables {
            out.push_str(&format!(
                "{:<tw$}  {:>8}  {:>8}  {:>8}  {:>9}  {:>8}  {:>8}\n",
                t.table, t.source_rows, t.inserted, t.updated, t.unchanged, t.deleted, t.retained
            ));
        }
        out
    }
}
