//! Schema evolution: a snapshot of each released schema, and the migration from the previous
//! snapshot to the current mapping. Renames are declared (`renamed_from:`), never guessed;
//! destruction (dropping a table or column, changing a column's type) must be allowed in
//! `schema.allow`. A type change, a changed column constraint (a CHECK, NOT NULL, a default), a
//! dropped column or a changed key rebuilds the table: the rows are set aside in
//! `kv2sql_old_<table>` (the released column types, no constraints), the table is dropped and
//! created again under its own name, and the rows are copied back. Dropping and re-creating under the same name (rather
//! than SQLite's create-new-then-rename) keeps the deferred foreign-key count of the child
//! tables exact: the drop counts their rows as orphans, the copy back counts them as resolved,
//! so a commit under `PRAGMA foreign_keys = ON` succeeds, and still fails on a real orphan.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::diag::Diagnostic;
use crate::ir::{Field, Model, Origin, Rows, Table};
use crate::sql::{self, q};

/// The schema as released at one version, committed as `migrations/NNNN_<name>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: i64,
    pub name: String,
    pub tables: Vec<TableSnap>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSnap {
    pub name: String,
    pub columns: Vec<ColSnap>,
    pub primary_key: Vec<String>,
    pub foreign_key: Option<FkSnap>,
    pub indexes: Vec<IndexSnap>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColSnap {
    pub name: String,
    /// The mapping type (`text`, `integer`, …, `shape`).
    #[serde(rename = "type")]
    pub ty: String,
    /// The column definition after its name: `TEXT NOT NULL CHECK (…)`.
    pub decl: String,
    pub nullable: bool,
    pub has_default: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FkSnap {
    pub columns: Vec<String>,
    pub parent: String,
    pub parent_columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexSnap {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
}

fn decl_of(def: &str, name: &str) -> String {
    def[q(name).len()..].trim_start().to_string()
}

/// The snapshot of the current model.
pub fn snapshot(m: &Model) -> Snapshot {
    Snapshot {
        version: m.schema_version,
        name: m.schema_name.clone(),
        tables: m.tables.iter().map(|t| table_snap(m, t)).collect(),
    }
}

fn table_snap(m: &Model, t: &Table) -> TableSnap {
    TableSnap {
        name: t.name.clone(),
        columns: t
            .columns
            .iter()
            .map(|c| ColSnap {
                name: c.name.clone(),
                ty: c.ty.name().to_string(),
                decl: decl_of(&sql::column_def(c), &c.name),
                nullable: c.sql_nullable,
                has_default: c.default.is_some(),
            })
            .collect(),
        primary_key: t.primary_key.iter().map(|&c| t.columns[c].name.clone()).collect(),
        foreign_key: t.parent.filter(|_| !t.foreign_key.is_empty()).map(|p| FkSnap {
            columns: t.foreign_key.iter().map(|(c, _)| t.columns[*c].name.clone()).collect(),
            parent: m.tables[p].name.clone(),
            parent_columns: t.foreign_key.iter().map(|(_, pc)| m.tables[p].columns[*pc].name.clone()).collect(),
        }),
        indexes: t
            .indexes
            .iter()
            .map(|i| IndexSnap {
                name: i.name.clone(),
                columns: i.columns.iter().map(|&c| t.columns[c].name.clone()).collect(),
                unique: i.unique,
            })
            .collect(),
    }
}

fn create_table_sql(t: &TableSnap) -> String {
    let mut lines: Vec<String> = t.columns.iter().map(|c| format!("{} {}", q(&c.name), c.decl)).collect();
    let cols = |v: &[String]| v.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ");
    lines.push(format!("PRIMARY KEY ({})", cols(&t.primary_key)));
    if let Some(fk) = &t.foreign_key {
        lines.push(format!(
            "FOREIGN KEY ({}) REFERENCES {} ({})",
            cols(&fk.columns),
            q(&fk.parent),
            cols(&fk.parent_columns)
        ));
    }
    format!("CREATE TABLE {} (\n  {}\n) STRICT;", q(&t.name), lines.join(",\n  "))
}

fn create_index_sql(table: &str, i: &IndexSnap) -> String {
    format!(
        "CREATE {}INDEX {} ON {} ({});",
        if i.unique { "UNIQUE " } else { "" },
        q(&i.name),
        q(table),
        i.columns.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ")
    )
}

/// A migration: its statements and a one-line summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub statements: Vec<String>,
    pub summary: Vec<String>,
}

impl Migration {
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }
}

/// The statements that take a database from `prev` (None: empty) to the current model.
#[allow(clippy::too_many_lines)]
pub fn diff(prev: Option<&Snapshot>, m: &Model) -> Result<Migration, Vec<Diagnostic>> {
    let cur = snapshot(m);
    let mut diags = Vec::new();
    let mut st = Vec::new();
    let mut summary = Vec::new();
    let empty = Snapshot { version: 0, name: String::new(), tables: Vec::new() };
    let prev = prev.unwrap_or(&empty);
    let prev_by_name: HashMap<&str, &TableSnap> = prev.tables.iter().map(|t| (t.name.as_str(), t)).collect();
    let cur_names: HashSet<&str> = cur.tables.iter().map(|t| t.name.as_str()).collect();
    let mut consumed: HashSet<String> = HashSet::new();
    let mut needs_defer = false;

    for (ti, t) in cur.tables.iter().enumerate() {
        let model_t = &m.tables[ti];
        let mut old_name = None;
        if prev_by_name.contains_key(t.name.as_str()) {
            old_name = Some(t.name.clone());
        } else if let Some(r) = &model_t.renamed_from {
            if prev_by_name.contains_key(r.as_str()) && !cur_names.contains(r.as_str()) {
                st.push(format!("ALTER TABLE {} RENAME TO {};", q(r), q(&t.name)));
                summary.push(format!("rename table {r} to {}", t.name));
                old_name = Some(r.clone());
            } else if !prev_by_name.contains_key(r.as_str()) && m.schema_version > 1 && !prev.tables.is_empty() {
                diags.push(
                    Diagnostic::new(
                        format!("{}.renamed_from", model_t.yaml_path),
                        format!("`renamed_from: {r}`, but the released schema has no table `{r}`"),
                    )
                    .help("remove `renamed_from` once the rename is released"),
                );
            }
        }
        let Some(old_name) = old_name else {
            st.push(create_table_sql(t));
            for i in &t.indexes {
                st.push(create_index_sql(&t.name, i));
            }
            summary.push(format!("create table {}", t.name));
            continue;
        };
        consumed.insert(old_name.clone());
        let old = prev_by_name[old_name.as_str()];

        // Map columns old → new.
        let old_cols: HashMap<&str, &ColSnap> = old.columns.iter().map(|c| (c.name.as_str(), c)).collect();
        let cur_col_names: HashSet<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
        let mut mapping: Vec<(String, String)> = Vec::new(); // (old, new)
        let mut renames = Vec::new();
        let mut added = Vec::new();
        let mut changed = false;
        for (ci, c) in t.columns.iter().enumerate() {
            let mc = &model_t.columns[ci];
            let from = if old_cols.contains_key(c.name.as_str()) {
                Some(c.name.clone())
            } else {
                mc.renamed_from
                    .as_ref()
                    .filter(|r| old_cols.contains_key(r.as_str()) && !cur_col_names.contains(r.as_str()))
                    .cloned()
            };
            match from {
                Some(o) => {
                    let oc = old_cols[o.as_str()];
                    if o != c.name {
                        renames.push((o.clone(), c.name.clone()));
                    }
                    if oc.ty != c.ty {
                        let key = format!("{}.{}", t.name, c.name);
                        if !m.allow.type_changes.contains(&key) {
                            diags.push(
                                Diagnostic::new(format!("{}.type", mc.yaml_path), format!("the type of `{key}` changes from {} to {}", oc.ty, c.ty))
                                    .help(format!("a type change rebuilds the table and fails on values that do not convert; allow it with `schema: {{allow: {{type_changes: [{key}]}}}}`")),
                            );
                        }
                        changed = true;
                    } else if oc.decl != c.decl {
                        changed = true;
                    }
                    mapping.push((o, c.name.clone()));
                }
                None => {
                    if let Some(r) = &mc.renamed_from {
                        let why = if cur_col_names.contains(r.as_str()) {
                            format!("`{r}` is still a column of `{}`", t.name)
                        } else {
                            format!("the released table `{old_name}` has no column `{r}`")
                        };
                        diags.push(
                            Diagnostic::new(
                                format!("{}.renamed_from", mc.yaml_path),
                                format!("`renamed_from: {r}` on `{}.{}`, but {why}", t.name, c.name),
                            )
                            .help("name the column as the released schema has it (see generated/schema.sql), or remove `renamed_from` once the rename is released"),
                        );
                    }
                    // Companion columns get the value that is true of rows written before the
                    // field was mapped: absent (the field, if any, is in `extra_fields`).
                    let backfill = backfill(m, ti, ci, prev, &old_cols);
                    if !c.nullable && !c.has_default && backfill.is_none() {
                        let help = if c.ty == "shape" {
                            "existing rows do not have it: make the new object group or child table `optional: true` (existing rows then record it as absent)"
                        } else {
                            "make it `optional: true` (or `nullable: true`), or give it a `default:`"
                        };
                        diags.push(
                            Diagnostic::new(mc.yaml_path.clone(), format!("the new column `{}.{}` is NOT NULL with no default, so existing rows would have no value", t.name, c.name))
                                .help(help),
                        );
                    }
                    let decl = match backfill {
                        Some(d) => decl_of(
                            &sql::column_def(&crate::ir::Column { default: Some(d.to_string()), ..mc.clone() }),
                            &c.name,
                        ),
                        None => c.decl.clone(),
                    };
                    added.push((c.clone(), decl, backfill));
                }
            }
        }
        let mapped_old: HashSet<&str> = mapping.iter().map(|(o, _)| o.as_str()).collect();
        let mut dropped = Vec::new();
        for oc in &old.columns {
            if !mapped_old.contains(oc.name.as_str()) {
                let key = format!("{}.{}", t.name, oc.name);
                if !m.allow.drop_columns.contains(&key) {
                    diags.push(
                        Diagnostic::new(model_t.yaml_path.clone() + ".columns", format!("the column `{key}` was removed from the mapping"))
                            .help(format!("to drop it and its data, add `schema: {{allow: {{drop_columns: [{key}]}}}}`; to rename it, give the new column `renamed_from: {}`", oc.name)),
                    );
                }
                dropped.push(oc.name.clone());
            }
        }
        let rename_col =
            |n: &String| renames.iter().find(|(o, _)| o == n).map(|(_, nn)| nn.clone()).unwrap_or_else(|| n.clone());
        let old_pk: Vec<String> = old.primary_key.iter().map(rename_col).collect();
        let old_fk = old
            .foreign_key
            .as_ref()
            .map(|f| FkSnap { columns: f.columns.iter().map(rename_col).collect(), ..f.clone() });
        let fk_changed = match (&old_fk, &t.foreign_key) {
            (Some(a), Some(b)) => {
                a.columns != b.columns
                    || a.parent_columns != b.parent_columns
                    || (a.parent != b.parent && !renamed_parent(m, &a.parent, &b.parent))
            }
            (None, None) => false,
            _ => true,
        };
        let rebuild = changed || !dropped.is_empty() || old_pk != t.primary_key || fk_changed;

        if rebuild {
            // Not SQLite's create-new/drop/rename: with foreign keys on, dropping a parent
            // counts every child row as an orphan, and renaming the new table in its place
            // never uncounts them, so the commit fails. Copying the rows back into a table
            // created under the old name does uncount them (see the module documentation).
            needs_defer = true;
            let tmp = format!("kv2sql_old_{}", t.name);
            // A renamed table was renamed above, so the rows are under the new name; the
            // columns still have their old names and types.
            let mut tmp_t = old.clone();
            tmp_t.name = tmp.clone();
            tmp_t.foreign_key = None;
            tmp_t.indexes.clear();
            // Only the type: the rows are held, not checked. A released CHECK the change
            // replaces may fail on rows it should pass (json_valid(NULL) before SQLite 3.45).
            for c in &mut tmp_t.columns {
                c.decl = c.decl.split_whitespace().next().unwrap_or_default().to_string();
            }
            st.push(create_table_sql(&tmp_t));
            let all_old: Vec<String> = old.columns.iter().map(|c| q(&c.name)).collect();
            st.push(format!(
                "INSERT INTO {} ({}) SELECT {} FROM {};",
                q(&tmp),
                all_old.join(", "),
                all_old.join(", "),
                q(&t.name)
            ));
            st.push(format!("DROP TABLE {};", q(&t.name)));
            st.push(create_table_sql(t));
            // Every released column is copied; a column added in the same release gets its
            // backfill (a NOT NULL `_absent`/`_shape` companion has no default in the new table).
            let mut new_cols: Vec<String> = mapping.iter().map(|(_, n)| q(n)).collect();
            let mut old_cols_sel: Vec<String> = mapping.iter().map(|(o, _)| q(o)).collect();
            for (c, _, fill) in &added {
                if let Some(v) = fill {
                    new_cols.push(q(&c.name));
                    old_cols_sel.push((*v).to_string());
                }
            }
            st.push(format!(
                "INSERT INTO {} ({}) SELECT {} FROM {};",
                q(&t.name),
                new_cols.join(", "),
                old_cols_sel.join(", "),
                q(&tmp)
            ));
            st.push(format!("DROP TABLE {};", q(&tmp)));
            for i in &t.indexes {
                st.push(create_index_sql(&t.name, i));
            }
            summary.push(format!("rebuild table {} (copying every row)", t.name));
            continue;
        }
        for (o, n) in &renames {
            st.push(format!("ALTER TABLE {} RENAME COLUMN {} TO {};", q(&t.name), q(o), q(n)));
            summary.push(format!("rename column {}.{o} to {n}", t.name));
        }
        for (c, decl, _) in &added {
            st.push(format!("ALTER TABLE {} ADD COLUMN {} {};", q(&t.name), q(&c.name), decl));
            summary.push(format!("add column {}.{}", t.name, c.name));
        }
        // Indexes.
        let old_ix: HashMap<&str, IndexSnap> = old
            .indexes
            .iter()
            .map(|i| (i.name.as_str(), IndexSnap { columns: i.columns.iter().map(rename_col).collect(), ..i.clone() }))
            .collect();
        let cur_ix: HashSet<&str> = t.indexes.iter().map(|i| i.name.as_str()).collect();
        for i in &old.indexes {
            if !cur_ix.contains(i.name.as_str()) {
                st.push(format!("DROP INDEX {};", q(&i.name)));
                summary.push(format!("drop index {}", i.name));
            }
        }
        for i in &t.indexes {
            match old_ix.get(i.name.as_str()) {
                Some(o) if o == i => {}
                Some(_) => {
                    st.push(format!("DROP INDEX {};", q(&i.name)));
                    st.push(create_index_sql(&t.name, i));
                    summary.push(format!("change index {}", i.name));
                }
                None => {
                    st.push(create_index_sql(&t.name, i));
                    summary.push(format!("add index {}", i.name));
                }
            }
        }
    }
    for t in prev.tables.iter().rev() {
        if consumed.contains(&t.name) {
            continue;
        }
        if m.allow.drop_tables.contains(&t.name) {
            needs_defer = true;
            st.push(format!("DROP TABLE {};", q(&t.name)));
            summary.push(format!("drop table {}", t.name));
        } else {
            diags.push(
                Diagnostic::new("sources", format!("the table `{}` was removed from the mapping", t.name))
                    .help(format!("to drop it and its rows, add `schema: {{allow: {{drop_tables: [{}]}}}}`; to rename a table, give the new one `renamed_from: {}`", t.name, t.name)),
            );
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    if needs_defer {
        st.insert(0, "PRAGMA defer_foreign_keys = ON;".to_string());
    }
    Ok(Migration { statements: st, summary })
}

fn renamed_parent(m: &Model, old: &str, new: &str) -> bool {
    m.tables.iter().any(|t| t.name == new && t.renamed_from.as_deref() == Some(old))
}

/// The value an added NOT NULL companion column takes in existing rows, when kv2sql knows it:
/// an `_absent` column of a newly mapped field is 1 (the rows never had it mapped); a
/// `_shape` column is `'absent'` for a new object group or child table, `'present'` for one
/// that was already mapped (it was required until now).
fn backfill(
    m: &Model,
    ti: usize,
    ci: usize,
    prev: &Snapshot,
    old_cols: &HashMap<&str, &ColSnap>,
) -> Option<&'static str> {
    let t = &m.tables[ti];
    let existed = |c: usize| {
        let col = &t.columns[c];
        old_cols.contains_key(col.name.as_str())
            || col.renamed_from.as_deref().is_some_and(|r| old_cols.contains_key(r))
    };
    match &t.columns[ci].origin {
        Origin::Absent(vc) => (!existed(*vc)).then_some("1"),
        Origin::Shape { allowed } => {
            let was_mapped = shape_owner_existed(m, t, ci, prev, &existed)?;
            let v = if was_mapped { "present" } else { "absent" };
            allowed.contains(&v).then_some(if was_mapped { "'present'" } else { "'absent'" })
        }
        _ => None,
    }
}

/// Whether the object group or child table whose shape column `ci` records was in the released
/// schema; None when the owner is not found.
fn shape_owner_existed(
    m: &Model,
    t: &Table,
    ci: usize,
    prev: &Snapshot,
    existed: &dyn Fn(usize) -> bool,
) -> Option<bool> {
    for &child in &t.children {
        let ct = &m.tables[child];
        if let Rows::Array(c) | Rows::Entries(c) = &ct.rows {
            if c.shape_column == Some(ci) {
                let names = [Some(ct.name.as_str()), ct.renamed_from.as_deref()];
                return Some(prev.tables.iter().any(|p| names.contains(&Some(p.name.as_str()))));
            }
        }
    }
    fn scalars(fields: &[Field], out: &mut Vec<usize>) {
        for f in fields {
            match f {
                Field::Scalar { column, .. } => out.push(*column),
                Field::Object { fields, .. } => scalars(fields, out),
                Field::Child { .. } => {}
            }
        }
    }
    fn find(fields: &[Field], ci: usize) -> Option<&[Field]> {
        for f in fields {
            if let Field::Object { shape_column, fields, .. } = f {
                if *shape_column == Some(ci) {
                    return Some(fields);
                }
                if let Some(x) = find(fields, ci) {
                    return Some(x);
                }
            }
        }
        None
    }
    let group = find(&t.fields, ci)?;
    let mut cols = Vec::new();
    scalars(group, &mut cols);
    Some(cols.into_iter().any(existed))
}
