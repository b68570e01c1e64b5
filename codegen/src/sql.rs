//! SQL text for one table: DDL and the statements the generated code runs. Identifiers are
//! validated (`[a-z_][a-z0-9_]*`) and also always double-quoted.

use crate::ir::{ColType, Column, Index, Model, Origin, Table};

pub fn q(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn cols(t: &Table, which: &[usize]) -> String {
    which.iter().map(|&c| q(&t.columns[c].name)).collect::<Vec<_>>().join(", ")
}

fn all(t: &Table) -> Vec<usize> {
    (0..t.columns.len()).collect()
}

pub fn select_sql(t: &Table) -> String {
    format!("SELECT {} FROM {}", cols(t, &all(t)), q(&t.name))
}

pub fn insert_sql(t: &Table) -> String {
    let params: Vec<String> = (1..=t.columns.len()).map(|i| format!("?{i}")).collect();
    format!("{} VALUES ({})", insert_into_sql(t), params.join(", "))
}

/// `INSERT INTO t (columns)`, to which the runtime adds the VALUES of several rows.
pub fn insert_into_sql(t: &Table) -> String {
    format!("INSERT INTO {} ({})", q(&t.name), cols(t, &all(t)))
}

fn key_where(t: &Table, numbered_by_column: bool) -> String {
    t.primary_key
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let n = if numbered_by_column { c + 1 } else { i + 1 };
            format!("{} = ?{n}", q(&t.columns[c].name))
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Parameters are every column in order (the same as INSERT); key columns are only in WHERE.
pub fn update_sql(t: &Table) -> String {
    let set: Vec<String> = (0..t.columns.len())
        .filter(|c| !t.primary_key.contains(c))
        .map(|c| format!("{} = ?{}", q(&t.columns[c].name), c + 1))
        .collect();
    if set.is_empty() {
        // Every column is in the key: a changed row is a different row; nothing to update.
        return format!("SELECT 1 FROM {} WHERE {}", q(&t.name), key_where(t, true));
    }
    format!("UPDATE {} SET {} WHERE {}", q(&t.name), set.join(", "), key_where(t, true))
}

pub fn delete_sql(t: &Table) -> String {
    format!("DELETE FROM {} WHERE {}", q(&t.name), key_where(t, false))
}

pub fn retire_sql(t: &Table) -> Option<String> {
    let p = t.position?;
    if t.on_missing != crate::ir::OnMissing::Keep {
        return None;
    }
    Some(format!("UPDATE {} SET {} = NULL WHERE {}", q(&t.name), q(&t.columns[p].name), key_where(t, false)))
}

fn sql_str_list(items: &[&str]) -> String {
    items.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ")
}

/// `"name" TYPE NOT NULL DEFAULT … CHECK (…)`
pub fn column_def(c: &Column) -> String {
    let n = q(&c.name);
    let mut s = format!("{n} {}", c.ty.sql());
    if !c.sql_nullable {
        s.push_str(" NOT NULL");
    }
    if let Some(d) = &c.default {
        s.push_str(&format!(" DEFAULT {d}"));
    }
    if let Some(check) = check_expr(c) {
        s.push_str(&format!(" CHECK ({check})"));
    }
    s
}

/// The column's CHECK expression. A CHECK passes when its expression is true or NULL and fails
/// when it is false, so on a NULL value each one must be NULL or true on every SQLite that can
/// open the database (3.37+, for STRICT):
/// - `x IN (…)` is NULL on NULL: passes;
/// - `typeof(x)` is `'null'` on NULL: listed when the column is nullable;
/// - `json_valid(NULL)` is 0 before SQLite 3.45 (NULL since): a nullable `json` column says
///   `x IS NULL OR json_valid(x)`, or SQLite 3.40 reports every NULL as a CHECK failure and
///   refuses to restore a `.dump` of the table.
fn check_expr(c: &Column) -> Option<String> {
    let n = q(&c.name);
    let null = if c.sql_nullable { ", 'null'" } else { "" };
    match (&c.ty, &c.origin) {
        (ColType::Boolean, _) => Some(format!("{n} IN (0, 1)")),
        (ColType::Number, _) => Some(format!("typeof({n}) IN ('integer', 'real'{null})")),
        (ColType::Any, _) => Some(format!("typeof({n}) IN ('text', 'integer', 'real'{null})")),
        (ColType::Json, _) if c.sql_nullable => Some(format!("{n} IS NULL OR json_valid({n})")),
        (ColType::Json, _) => Some(format!("json_valid({n})")),
        (ColType::Shape, Origin::Shape { allowed }) => Some(format!("{n} IN ({})", sql_str_list(allowed))),
        _ => None,
    }
}

/// One comment line: where the column's value comes from.
pub fn column_comment(m: &Model, t: &Table, c: &Column) -> String {
    let origin = match &c.origin {
        Origin::Json => {
            let mut path = String::new();
            json_path_of(t, c, &mut path);
            format!("JSON {path}")
        }
        Origin::KvKey => "the KV key".into(),
        Origin::Capture => "the captured part of the KV key".into(),
        Origin::Parent(pc) => {
            let p = &m.tables[t.parent.expect("parent")];
            format!("parent {}.{}", p.name, p.columns[*pc].name)
        }
        Origin::Position => "position in the source array".into(),
        Origin::EntryKey => "the object entry's key".into(),
        Origin::Value { .. } => "the element / entry value itself".into(),
        Origin::Expiration => "the KV entry's expiration (Unix seconds)".into(),
        Origin::Variant => "which fan-out variant the row is".into(),
        Origin::VariantField => "the variant's field (see fan_out)".into(),
        // These carry their own explanation in `doc`.
        Origin::Shape { .. } | Origin::Absent(_) | Origin::Extra => {
            return c.doc.as_deref().map(inline).unwrap_or_default();
        }
    };
    match &c.doc {
        Some(d) => format!("{origin}; {}", one_line(d)),
        None => origin,
    }
}

/// A doc string as one SQL comment line.
pub fn one_line(s: &str) -> String {
    inline(&s.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// A KV key or JSON field name quoted in a comment: line breaks and other control characters
/// are escaped (`\n`), so that the text stays on its comment line and keeps its meaning.
pub fn inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn json_path_of(t: &Table, c: &Column, out: &mut String) {
    // Find by column index.
    fn find(fields: &[crate::ir::Field], col: usize, at: &mut Vec<String>) -> bool {
        for f in fields {
            match f {
                crate::ir::Field::Scalar { json, column, .. } if *column == col => {
                    at.push(json.clone());
                    return true;
                }
                crate::ir::Field::Object { json, fields, .. } => {
                    at.push(json.clone());
                    if find(fields, col, at) {
                        return true;
                    }
                    at.pop();
                }
                _ => {}
            }
        }
        false
    }
    let idx = t.columns.iter().position(|x| x.name == c.name).unwrap_or(usize::MAX);
    let mut at = Vec::new();
    find(&t.fields, idx, &mut at);
    for seg in at {
        out.push('/');
        out.push_str(&inline(&seg.replace('~', "~0").replace('/', "~1")));
    }
}

pub fn create_table(t: &Table, m: &Model) -> String {
    let mut lines: Vec<String> = t.columns.iter().map(column_def).collect();
    lines.extend(table_constraints(t, m));
    format!("CREATE TABLE {} (\n  {}\n) STRICT;", q(&t.name), lines.join(",\n  "))
}

/// The table constraints after the column definitions: the primary key and the foreign key.
pub fn table_constraints(t: &Table, m: &Model) -> Vec<String> {
    let mut lines = vec![format!("PRIMARY KEY ({})", cols(t, &t.primary_key))];
    if let Some(p) = t.parent {
        if !t.foreign_key.is_empty() {
            let parent = &m.tables[p];
            let local: Vec<usize> = t.foreign_key.iter().map(|(c, _)| *c).collect();
            let remote: Vec<usize> = t.foreign_key.iter().map(|(_, pc)| *pc).collect();
            lines.push(format!(
                "FOREIGN KEY ({}) REFERENCES {} ({})",
                cols(t, &local),
                q(&parent.name),
                cols(parent, &remote)
            ));
        }
    }
    lines
}

pub fn create_index(t: &Table, ix: &Index) -> String {
    format!(
        "CREATE {}INDEX {} ON {} ({});",
        if ix.unique { "UNIQUE " } else { "" },
        q(&ix.name),
        q(&t.name),
        cols(t, &ix.columns)
    )
}
