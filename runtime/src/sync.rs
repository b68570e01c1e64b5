//! Writing a table: compare the rows extracted from KV with the rows already stored, and write
//! only the difference. A second run over unchanged data therefore writes nothing.
//!
//! A run is planned per table ([`plan`]), then applied in two passes so that foreign keys hold
//! at every step: [`upsert`] for every table from parents to children, then [`remove`] from
//! children to parents.

use std::collections::HashMap;
use std::hash::Hash;

use crate::error::Error;
use crate::report::TableReport;
use crate::value::SqlValue;
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
    /// `UPDATE <table> SET <non-key columns> WHERE <key>`, parameters in column order.
    const UPDATE: &'static str;
    /// `DELETE FROM <table> WHERE <key>`, parameters: the key.
    const DELETE: &'static str;
    /// `UPDATE <table> SET position = NULL WHERE <key>` for `on_missing: keep` tables.
    const RETIRE: Option<&'static str>;

    fn key(&self) -> Self::Key;
    fn key_params(&self) -> Vec<SqlValue>;
    fn params(&self) -> Vec<SqlValue>;
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

/// The writes one table needs.
#[derive(Debug)]
pub struct Plan<R: Row> {
    pub source: String,
    pub source_rows: usize,
    pub inserts: Vec<R>,
    pub updates: Vec<R>,
    pub unchanged: usize,
    pub deletes: Vec<R>,
    pub retires: Vec<R>,
    pub retained: usize,
}

impl<R: Row> Plan<R> {
    pub fn report(&self) -> TableReport {
        TableReport {
            table: R::TABLE.to_string(),
            source: self.source.clone(),
            source_rows: self.source_rows,
            inserted: self.inserts.len(),
            updated: self.updates.len() + self.retires.len(),
            unchanged: self.unchanged,
            deleted: self.deletes.len(),
            retained: self.retained,
        }
    }
}

/// Reads the stored rows of `R`'s table and compares them with `rows` (whose keys are unique:
/// the extractor has checked).
pub fn plan<R: Row>(
    db: &mut dyn SqlExecutor,
    source: &str,
    rows: Vec<R>,
    on_missing: OnMissing,
) -> Result<Plan<R>, Error> {
    let mut stored: HashMap<R::Key, R> = HashMap::new();
    for values in db.query(R::SELECT, &[])? {
        let row = R::from_row(values)?;
        stored.insert(row.key(), row);
    }
    let mut plan = Plan {
        source: source.to_string(),
        source_rows: rows.len(),
        inserts: Vec::new(),
        updates: Vec::new(),
        unchanged: 0,
        deletes: Vec::new(),
        retires: Vec::new(),
        retained: 0,
    };
    for row in rows {
        match stored.remove(&row.key()) {
            None => plan.inserts.push(row),
            Some(old) if old == row => plan.unchanged += 1,
            Some(_) => plan.updates.push(row),
        }
    }
    let mut leftovers: Vec<R> = stored.into_values().collect();
    // Deterministic order of writes, whatever the hash map did.
    leftovers.sort_by_cached_key(|r| format!("{:?}", r.key()));
    for old in leftovers {
        match on_missing {
            OnMissing::Delete => plan.deletes.push(old),
            OnMissing::Keep => {
                plan.retained += 1;
                if !old.is_retired() {
                    plan.retires.push(old);
                }
            }
        }
    }
    Ok(plan)
}

/// Applies the inserts, updates and retirements of a plan.
pub fn upsert<R: Row>(db: &mut dyn SqlExecutor, plan: &Plan<R>) -> Result<(), Error> {
    for row in &plan.inserts {
        db.execute(R::INSERT, &row.params())?;
    }
    for row in &plan.updates {
        db.execute(R::UPDATE, &row.params())?;
    }
    if let Some(retire) = R::RETIRE {
        for row in &plan.retires {
            db.execute(retire, &row.key_params())?;
        }
    }
    Ok(())
}

/// Applies the deletes of a plan.
pub fn remove<R: Row>(db: &mut dyn SqlExecutor, plan: &Plan<R>) -> Result<(), Error> {
    for row in &plan.deletes {
        db.execute(R::DELETE, &row.key_params())?;
    }
    Ok(())
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
