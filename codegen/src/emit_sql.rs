//! The SQL and Markdown emitters, through minijinja templates.

use minijinja::{context, Environment};
use serde::Serialize;

use crate::ir::*;
use crate::sql::{self, q};

const SCHEMA_SQL: &str = include_str!("../templates/schema.sql.j2");
const MIGRATION_SQL: &str = include_str!("../templates/migration.sql.j2");
const SCHEMA_MD: &str = include_str!("../templates/schema.md.j2");

/// The templates, parsed once.
fn env() -> &'static Environment<'static> {
    static ENV: std::sync::OnceLock<Environment<'static>> = std::sync::OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        env.add_template("schema.sql", SCHEMA_SQL).expect("template parses");
        env.add_template("migration.sql", MIGRATION_SQL).expect("template parses");
        env.add_template("schema.md", SCHEMA_MD).expect("template parses");
        env
    })
}

/// Renders a template; the templates are part of the generator, so a failure is a bug.
fn render(template: &str, ctx: minijinja::Value) -> String {
    env().get_template(template).and_then(|t| t.render(ctx)).unwrap_or_else(|e| panic!("{template} renders: {e}"))
}

/// What schema.sql and SCHEMA.md are rendered from.
fn schema_ctx(m: &Model, file: &str) -> minijinja::Value {
    context! {
        file => file,
        version => m.schema_version,
        name => m.schema_name,
        sources => sources_ctx(m),
    }
}

#[derive(Serialize)]
struct SourceCtx {
    key: String,
    header: String,
    upgrade: Option<String>,
    tables: Vec<TableCtx>,
}

#[derive(Serialize)]
struct TableCtx {
    name: String,
    qname: String,
    summary: String,
    doc: Option<String>,
    on_missing: &'static str,
    rows: String,
    parent: Option<String>,
    edge: String,
    columns: Vec<ColCtx>,
    constraints: Vec<String>,
    indexes: Vec<String>,
    select: String,
    insert: String,
    update: String,
    delete: String,
    retire: Option<String>,
}

#[derive(Serialize)]
struct ColCtx {
    name: String,
    /// `def,  -- comment`
    line: String,
    comment: String,
    sql_type: &'static str,
    keys: String,
    mermaid: String,
}

fn rows_text(t: &Table) -> String {
    match &t.rows {
        Rows::Root => "one per KV value".into(),
        Rows::Array(c) => format!("one per element of `{}`", sql::inline(&c.json)),
        Rows::Entries(c) => format!("one per entry of `{}`", sql::inline(&c.json)),
        Rows::FanOut { variants, .. } => {
            let v: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
            format!("one per variant present ({})", v.join(", "))
        }
    }
}

fn table_ctx(m: &Model, t: &Table) -> TableCtx {
    let pk: Vec<usize> = t.primary_key.clone();
    let fk: Vec<usize> = t.foreign_key.iter().map(|(c, _)| *c).collect();
    let columns = t
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut keys = Vec::new();
            if pk.contains(&i) {
                keys.push("PK");
            }
            if fk.contains(&i) {
                keys.push("FK");
            }
            let comment = sql::column_comment(m, t, c);
            let def = sql::column_def(c);
            ColCtx {
                name: c.name.clone(),
                line: if comment.is_empty() { format!("{def},") } else { format!("{def},  -- {comment}") },
                mermaid: comment.replace('"', "'"),
                comment,
                sql_type: c.ty.sql(),
                keys: keys.join(", "),
            }
        })
        .collect();
    // One per line after the column definitions, comma-separated like them.
    let mut constraints = sql::table_constraints(t, m);
    let last = constraints.len().saturating_sub(1);
    for line in &mut constraints[..last] {
        line.push(',');
    }
    let src = &m.sources[t.source];
    let summary = match &t.rows {
        Rows::Root => format!("Table `{}`: one row per KV value of `{}`.", t.name, sql::inline(&src.key.display())),
        _ => {
            format!("Table `{}`: child of `{}`, {}.", t.name, m.tables[t.parent.expect("child")].name, rows_text(t))
        }
    };
    TableCtx {
        name: t.name.clone(),
        qname: q(&t.name),
        summary,
        doc: t.doc.as_deref().map(sql::one_line),
        on_missing: match t.on_missing {
            OnMissing::Delete => "deleted (the table mirrors the source)",
            OnMissing::Keep => "kept as history (position set to NULL)",
        },
        rows: rows_text(t),
        parent: t.parent.map(|p| m.tables[p].name.clone()),
        edge: match &t.rows {
            // A Mermaid label is a double-quoted string.
            Rows::Array(c) | Rows::Entries(c) => sql::inline(&c.json).replace('"', "'"),
            Rows::FanOut { .. } => "fan_out".into(),
            Rows::Root => String::new(),
        },
        columns,
        constraints,
        indexes: t.indexes.iter().map(|i| sql::create_index(t, i)).collect(),
        select: sql::select_sql(t),
        insert: sql::insert_sql(t),
        update: sql::update_sql(t),
        delete: sql::delete_sql(t),
        retire: sql::retire_sql(t),
    }
}

fn sources_ctx(m: &Model) -> Vec<SourceCtx> {
    m.sources
        .iter()
        .enumerate()
        .map(|(i, s)| SourceCtx {
            key: sql::inline(&s.key.display()),
            header: match &s.upgrade {
                Some(u) => format!("KV source `{}`, upgraded on read by `{u}`", sql::inline(&s.key.display())),
                None => format!("KV source `{}`", sql::inline(&s.key.display())),
            },
            upgrade: s.upgrade.clone(),
            tables: m.source_tables(i).into_iter().map(|t| table_ctx(m, &m.tables[t])).collect(),
        })
        .collect()
}

pub fn schema_sql(m: &Model, file: &str) -> String {
    render("schema.sql", schema_ctx(m, file))
}

pub fn schema_md(m: &Model, file: &str) -> String {
    render("schema.md", schema_ctx(m, file))
}

pub fn migration_sql(file: &str, version: i64, name: &str, statements: &[String], summary: &[String]) -> String {
    render(
        "migration.sql",
        context! {
            file => file,
            version => version,
            name => name,
            statements => statements,
            summary => summary,
        },
    )
}

/// What maps where, as plain text (`kv2sql plan`).
pub fn plan_text(m: &Model) -> String {
    let mut out = format!("mapping at schema version {} ({})\n", m.schema_version, m.schema_name);
    for (i, s) in m.sources.iter().enumerate() {
        out.push_str(&format!("\n{}", s.key.display()));
        if let Some(u) = &s.upgrade {
            out.push_str(&format!("  (upgraded by {u})"));
        }
        out.push('\n');
        for t in m.source_tables(i) {
            let t = &m.tables[t];
            let depth = {
                let mut d = 0;
                let mut p = t.parent;
                while let Some(x) = p {
                    d += 1;
                    p = m.tables[x].parent;
                }
                d
            };
            out.push_str(&format!(
                "  {}→ {} ({} columns; {}; missing rows {})\n",
                "  ".repeat(depth),
                t.name,
                t.columns.len(),
                rows_text(t),
                match t.on_missing {
                    OnMissing::Delete => "deleted",
                    OnMissing::Keep => "kept",
                }
            ));
        }
    }
    out
}
