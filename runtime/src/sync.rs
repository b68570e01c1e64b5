//! Writing a table: compare the rows extracted from KV with the rows already stored, and write
//! only the difference. A second run over unchanged data therefore writes nothing.
//!
//! Rows arrive in chunks, parents before their children ([`TableSync::write`] inserts and
//! updates each chunk at once), so that foreign keys hold at every step; after the last chunk,
//! stored rows the source no longer has are retired ([`TableSync::retire`]) and then deleted
//! from children to parents ([`TableSync::remove`]).

use std::collections::HashMap;
use std::hash::Hash;

use crate::error::Error;
use crate::report::TableReport;
use crate::value::{SqlRef, SqlValue};
use crate::SqlExecutor;

/// What happens to stored rows that the source no longer has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnMissing {
    /// The table mirrors the source: such rows are deleted.
    Delete,
    /// Append-only history: such rows stay, with their `position` set to NULL ("retired") so
    /// that an export rebuilds exactly the current KV value.
    Keep,
}

/// A row struct generated for one table.
pub trait Row: Sized + Clone + PartialEq {
    type Key: Eq + Hash + Clone + std::fmt::Debug;
    const TABLE: &'static str;
    /// `SELECT <every column> FROM <table>` in column order.
    const SELECT: &'static str;
    /// `INSERT INTO <table> (<columns>) VALUES (?1, …)`, parameters in column order.
    const INSERT: &'static str;
    /// `INSERT INTO <table> (<columns>)`: [`TableSync`] adds the VALUES of several rows.
    const INSERT_INTO: &'static str;
    /// The number of columns (and of [`Row::params`]).
    const COLUMNS: usize;
    /// `UPDATE <table> SET <non-key columns> WHERE <key>`, parameters in column order.
    const UPDATE: &'static str;
    /// `DELETE FROM <table> WHERE <key>`, parameters: the key.
    const DELETE: &'static str;
    /// `UPDATE <table> SET position = NULL WHERE <key>` for `on_missing: keep` tables.
    const RETIRE: Option<&'static str>;

    fn key(&self) -> Self::Key;
    /// The key, borrowed for binding (DELETE and RETIRE parameters).
    fn key_params(&self) -> Vec<SqlRef<'_>>;
    /// Every column, borrowed for binding (INSERT and UPDATE parameters).
    fn params(&self) -> Vec<SqlRef<'_>>;
    fn from_row(values: Vec<SqlValue>) -> Result<Self, crate::DbError>;
    /// For `on_missing: keep` tables: whether the row is no longer in the source.
    fn is_retired(&self) -> bool {
        false
    }
    /// The same row, retired.
    fn retired(&self) -> Self {
        self.clone()
    }
}

/// How many extracted rows travel together from extraction to writing. Small enough that a
/// chunk's rows stay a small part of memory, large enough that handing a chunk over costs
/// nothing measurable.
pub const CHUNK_ROWS: usize = 4096;

/// Keeps one table in step with its source while the source's rows arrive in chunks.
///
/// [`TableSync::load`] reads the stored rows; [`TableSync::write`] compares each chunk with
/// them and writes the difference at once; after the last chunk, the stored rows no chunk had
/// are retired ([`TableSync::retire`], `on_missing: keep`) or deleted ([`TableSync::remove`]).
/// A source's rows have unique keys (the extractor checks), so a stored row is matched once.
#[derive(Debug)]
pub struct TableSync<R: Row> {
    source: &'static str,
    on_missing: OnMissing,
    stored: HashMap<R::Key, R>,
    source_rows: usize,
    inserted: usize,
    updated: usize,
    unchanged: usize,
    deleted: usize,
    retained: usize,
    /// The INSERT of several rows, built once: (rows, SQL).
    insert_many: Option<(usize, String)>,
}

/// The most rows one INSERT statement writes.
pub const MAX_ROWS_PER_INSERT: usize = 32;

/// `INSERT INTO <table> (<columns>) VALUES (?1, …), (…), …` for `rows` rows.
fn insert_many_sql<R: Row>(rows: usize) -> String {
    let mut sql = String::from(R::INSERT_INTO);
    sql.push_str(" VALUES ");
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..R::COLUMNS {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("?{}", r * R::COLUMNS + c + 1));
        }
        sql.push(')');
    }
    sql
}

impl<R: Row> TableSync<R> {
    /// Reads the stored rows of `R`'s table.
    pub fn load(db: &mut dyn SqlExecutor, source: &'static str, on_missing: OnMissing) -> Result<Self, Error> {
        let mut stored: HashMap<R::Key, R> = HashMap::new();
        for values in db.query(R::SELECT, &[])? {
            let row = R::from_row(values)?;
            stored.insert(row.key(), row);
        }
        Ok(TableSync {
            source,
            on_missing,
            stored,
            source_rows: 0,
            inserted: 0,
            updated: 0,
            unchanged: 0,
            deleted: 0,
            retained: 0,
            insert_many: None,
        })
    }

    /// Compares a chunk of the source's rows with the stored ones and writes the inserts and
    /// updates (counts them only, when `dry_run`).
    pub fn write(&mut self, db: &mut dyn SqlExecutor, rows: Vec<R>, dry_run: bool) -> Result<(), Error> {
        self.source_rows += rows.len();
        // A new table (the first migration) has nothing to compare with.
        let inserts = if self.stored.is_empty() {
            rows
        } else {
            let mut inserts = Vec::new();
            for row in rows {
                match self.stored.remove(&row.key()) {
                    None => inserts.push(row),
                    Some(old) if old == row => self.unchanged += 1,
                    Some(_) => {
                        self.updated += 1;
                        if !dry_run {
                            db.execute(R::UPDATE, &row.params())?;
                        }
                    }
                }
            }
            inserts
        };
        self.inserted += inserts.len();
        if !dry_run {
            self.insert(db, &inserts)?;
        }
        Ok(())
    }

    /// Inserts rows several at a time: one statement per [`MAX_ROWS_PER_INSERT`] rows (fewer
    /// when the executor binds fewer parameters), the remainder one by one.
    fn insert(&mut self, db: &mut dyn SqlExecutor, rows: &[R]) -> Result<(), Error> {
        let per_statement = (db.max_params() / R::COLUMNS.max(1)).clamp(1, MAX_ROWS_PER_INSERT);
        let mut one_by_one = rows;
        if per_statement > 1 {
            let sql = match &self.insert_many {
                Some((n, sql)) if *n == per_statement => sql,
                _ => &self.insert_many.insert((per_statement, insert_many_sql::<R>(per_statement))).1,
            };
            let batches = rows.chunks_exact(per_statement);
            one_by_one = batches.remainder();
            let mut params = Vec::with_capacity(per_statement * R::COLUMNS);
            for batch in batches {
                params.clear();
                for row in batch {
                    params.extend(row.params());
                }
                db.execute(sql, &params)?;
            }
        }
        for row in one_by_one {
            db.execute(R::INSERT, &row.params())?;
        }
        Ok(())
    }

    /// The stored rows no chunk had, in a deterministic order (whatever the hash map did).
    fn leftovers(&mut self) -> Vec<R> {
        let mut rows: Vec<R> = self.stored.drain().map(|(_, r)| r).collect();
        rows.sort_by_cached_key(|r| format!("{:?}", r.key()));
        rows
    }

    /// After the last chunk, for `on_missing: keep`: keeps the stored rows the source no longer
    /// has, retired (position NULL) where the table has a position. Does nothing for
    /// `on_missing: delete`.
    pub fn retire(&mut self, db: &mut dyn SqlExecutor, dry_run: bool) -> Result<(), Error> {
        if self.on_missing != OnMissing::Keep {
            return Ok(());
        }
        for old in self.leftovers() {
            self.retained += 1;
            // A table without a position column keeps such rows as they are.
            let Some(retire) = R::RETIRE else { continue };
            if !old.is_retired() {
                self.updated += 1;
                if !dry_run {
                    db.execute(retire, &old.key_params())?;
                }
            }
        }
        Ok(())
    }

    /// After the last chunk, for `on_missing: delete`: deletes the stored rows the source no
    /// longer has. Run it from children to parents, after every table's [`TableSync::retire`].
    pub fn remove(&mut self, db: &mut dyn SqlExecutor, dry_run: bool) -> Result<(), Error> {
        if self.on_missing != OnMissing::Delete {
            return Ok(());
        }
        for old in self.leftovers() {
            self.deleted += 1;
            if !dry_run {
                db.execute(R::DELETE, &old.key_params())?;
            }
        }
        Ok(())
    }

    pub fn report(&self) -> TableReport {
        TableReport {
            table: R::TABLE.to_string(),
            source: self.source.to_string(),
            source_rows: self.source_rows,
            inserted: self.inserted,
            updated: self.updated,
            unchanged: self.unchanged,
            deleted: self.deleted,
            retained: self.retained,
        }
    }
}

/// The writer in `slot`, loaded by `load` first if it is not yet (a source's writer reads its
/// stored rows when the source's first chunk arrives).
pub fn loaded<W>(slot: &mut Option<W>, load: impl FnOnce() -> Result<W, Error>) -> Result<&mut W, Error> {
    match slot {
        Some(w) => Ok(w),
        None => Ok(slot.insert(load()?)),
    }
}

/// A row type that can be read back in source order, for export.
pub trait Ordered: Row {
    /// `SELECT` of every column, ordered by parent key and position.
    const SELECT_ORDERED: &'static str;
}

/// Every current row of a table (retired ones left out), in source order.
pub fn load<R: Ordered>(db: &mut dyn SqlExecutor) -> Result<Vec<R>, Error> {
    let mut out = Vec::new();
    for values in db.query(R::SELECT_ORDERED, &[])? {
        let row = R::from_row(values)?;
        if !row.is_retired() {
            out.push(row);
        }
    }
    Ok(out)
}

/// Every current row of a child table, grouped by the parent's key, in source order.
pub fn load_grouped<R: Ordered, K: Eq + Hash>(
    db: &mut dyn SqlExecutor,
    parent_key: impl Fn(&R) -> K,
) -> Result<HashMap<K, Vec<R>>, Error> {
    let mut out: HashMap<K, Vec<R>> = HashMap::new();
    for row in load::<R>(db)? {
        out.entry(parent_key(&row)).or_default().push(row);
    }
    Ok(out)
}
