//! Checks a parsed mapping and resolves it into the [`Model`]. Every mistake is collected (not
//! just the first), each with the YAML path of the offending node and a hint on how to fix it.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_yaml_ng::Value;

use crate::diag::Diagnostic;
use crate::ir::*;
use crate::mapping::{ColumnSpec, MappingFile, TableSpec};

/// The Durable Object's limits (and SQLite's, where lower).
pub const MAX_COLUMNS: usize = 100;
pub const MAX_PARAMS: usize = 100;
pub const MAX_STATEMENT_BYTES: usize = 100_000;

/// Names the generated Rust uses for its own locals; columns may not take them.
pub const RESERVED_LOCALS: &[&str] = &["cx", "obj", "at", "out", "parent", "extra", "row", "kids", "this"];

/// The column that keeps unknown JSON fields.
pub const EXTRA_COLUMN: &str = "extra_fields";

const RUST_KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for", "if", "impl", "in",
    "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super",
    "trait", "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn", "abstract", "become", "box",
    "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen", "union",
];

/// Builds the model, or returns every mistake found.
pub fn build(file: &MappingFile) -> Result<Model, Vec<Diagnostic>> {
    let mut v = V::default();
    v.file(file);
    if v.diags.is_empty() {
        Ok(Model {
            schema_version: v.schema_version,
            schema_name: v.schema_name,
            allow: v.allow,
            sources: v.sources,
            tables: v.tables,
        })
    } else {
        Err(v.diags)
    }
}

#[derive(Default)]
struct V {
    diags: Vec<Diagnostic>,
    schema_version: i64,
    schema_name: String,
    allow: Allow,
    sources: Vec<Source>,
    tables: Vec<Table>,
    table_names: HashMap<String, String>,
    struct_names: HashMap<String, String>,
    index_names: HashSet<String>,
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn suggest(word: &str, options: &[&str]) -> Option<String> {
    options
        .iter()
        .map(|o| (edit_distance(word, o), *o))
        .filter(|(d, o)| *d <= 2.max(o.len() / 3))
        .min()
        .map(|(_, o)| o.to_string())
}

fn join(base: &str, key: &str) -> String {
    format!("{base}.{key}")
}

fn camel(name: &str) -> String {
    use heck::ToUpperCamelCase;
    name.to_upper_camel_case()
}

impl V {
    fn err(&mut self, path: impl Into<String>, msg: impl Into<String>, help: impl Into<String>) {
        let help = help.into();
        let mut d = Diagnostic::new(path, msg);
        if !help.is_empty() {
            d = d.help(help);
        }
        self.diags.push(d);
    }

    fn unknown_keys(&mut self, path: &str, unknown: &BTreeMap<String, Value>, allowed: &[&str], what: &str) {
        for k in unknown.keys() {
            let help = match suggest(k, allowed) {
                Some(s) => format!("did you mean `{s}`? {what} takes: {}", allowed.join(", ")),
                None => format!("{what} takes: {}", allowed.join(", ")),
            };
            let p = if path.is_empty() { k.clone() } else { join(path, k) };
            self.err(p, format!("unknown key `{k}` in {what}"), help);
        }
    }

    /// A SQL and Rust identifier: `[a-z_][a-z0-9_]*`, not a Rust keyword, not reserved by SQLite
    /// or the Durable Object.
    fn ident(&mut self, path: &str, name: &str, what: &str) -> bool {
        let valid = !name.is_empty()
            && name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            self.err(
                path,
                format!("{what} `{name}` is not a valid identifier"),
                "use lowercase ASCII letters, digits and `_`, starting with a letter or `_` (it becomes a SQL and a Rust name)",
            );
            return false;
        }
        if RUST_KEYWORDS.contains(&name) {
            self.err(path, format!("{what} `{name}` is a Rust keyword"), format!("rename it, e.g. `{name}_`"));
            return false;
        }
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("sqlite_") || lower.starts_with("_cf_") || lower.starts_with("kv2sql_") {
            self.err(
                path,
                format!("{what} `{name}` uses a reserved prefix"),
                "names starting with `sqlite_` (SQLite), `_cf_` (Durable Objects) or `kv2sql_` (kv2sql) are reserved",
            );
            return false;
        }
        if name.contains("__") {
            self.err(
                path,
                format!("{what} `{name}` contains `__`"),
                "double underscores are reserved for names the generator makes",
            );
            return false;
        }
        true
    }

    fn file(&mut self, f: &MappingFile) {
        self.unknown_keys("", &f.unknown, &["schema", "sources"], "the mapping file");
        match &f.schema {
            None => self.err(
                "",
                "the mapping has no `schema:` section",
                "add `schema: {version: 1, name: initial}`; bump the version for each released schema change",
            ),
            Some(s) => {
                self.unknown_keys("schema", &s.unknown, &["version", "name", "allow"], "`schema`");
                match s.version {
                    Some(v) if (1..=9999).contains(&v) => self.schema_version = v,
                    _ => self.err(
                        "schema.version",
                        "`schema.version` must be a whole number from 1 to 9999",
                        "start at `version: 1` and add one for each released schema change",
                    ),
                }
                match &s.name {
                    Some(n) if self.ident("schema.name", n, "schema name") => self.schema_name = n.clone(),
                    Some(_) => {}
                    None => self.err(
                        "schema",
                        "`schema.name` is missing",
                        "name the migration this release generates, e.g. `initial`",
                    ),
                }
                if let Some(a) = &s.allow {
                    self.unknown_keys(
                        "schema.allow",
                        &a.unknown,
                        &["drop_tables", "drop_columns", "type_changes"],
                        "`schema.allow`",
                    );
                    self.allow = Allow {
                        drop_tables: a.drop_tables.clone(),
                        drop_columns: a.drop_columns.clone(),
                        type_changes: a.type_changes.clone(),
                    };
                }
            }
        }
        if f.sources.is_empty() {
            self.err("sources", "the mapping has no sources", "add at least one KV key under `sources:`");
        }
        let mut keys: Vec<(KeyPattern, String)> = Vec::new();
        for (i, s) in f.sources.iter().enumerate() {
            let path = format!("sources[{i}]");
            self.source(s, &path, &mut keys);
        }
    }

    fn source(&mut self, s: &TableSpec, path: &str, keys: &mut Vec<(KeyPattern, String)>) {
        let key = match &s.key {
            None => {
                self.err(path, "a source needs `key:`", "the KV key (`app:items`) or a key pattern (`app:cache:{id}`)");
                None
            }
            Some(k) => self.key_pattern(&join(path, "key"), k),
        };
        if let Some(k) = &key {
            for (other, other_path) in keys.iter() {
                let clash = match (k, other) {
                    (KeyPattern::Exact(a), KeyPattern::Exact(b)) => a == b,
                    (KeyPattern::Exact(a), KeyPattern::Prefix { prefix, .. })
                    | (KeyPattern::Prefix { prefix, .. }, KeyPattern::Exact(a)) => a.starts_with(prefix.as_str()),
                    (KeyPattern::Prefix { prefix: a, .. }, KeyPattern::Prefix { prefix: b, .. }) => {
                        a.starts_with(b.as_str()) || b.starts_with(a.as_str())
                    }
                };
                if clash {
                    self.err(
                        join(path, "key"),
                        format!("the KV key `{}` overlaps with `{}` ({other_path})", k.display(), other.display()),
                        "every KV key must feed exactly one source",
                    );
                }
            }
            keys.push((k.clone(), path.to_string()));
        }
        if let Some(u) = &s.upgrade {
            if syn::parse_str::<syn::Path>(u).is_err() || u.trim() != u {
                self.err(
                    join(path, "upgrade"),
                    format!("`{u}` is not a Rust path"),
                    "name a function like `my_crate::module::function` with the signature fn(serde_json::Value, &Cx) -> Result<serde_json::Value, DataError>",
                );
            }
        }
        let unknown = match s.unknown_fields.as_deref() {
            None | Some("keep") => UnknownFields::Keep,
            Some("reject") => UnknownFields::Reject,
            Some(other) => {
                self.err(
                    join(path, "unknown_fields"),
                    format!("`unknown_fields: {other}` is not `keep` or `reject`"),
                    "`keep` (the default) keeps unknown JSON fields in `extra_fields`; `reject` fails on them",
                );
                UnknownFields::Keep
            }
        };
        let src = self.sources.len();
        let capture = match &key {
            Some(KeyPattern::Prefix { capture, .. }) => Some(capture.clone()),
            _ => None,
        };
        if let Some(root) = self.table(s, path, src, None, unknown, capture.as_deref()) {
            if let Some(key) = key {
                self.sources.push(Source { key, upgrade: s.upgrade.clone(), root });
            }
        }
    }

    fn key_pattern(&mut self, path: &str, k: &str) -> Option<KeyPattern> {
        if k.is_empty() {
            self.err(path, "the KV key is empty", "write the KV key, e.g. `app:items`");
            return None;
        }
        match (k.find('{'), k.find('}')) {
            (None, None) => Some(KeyPattern::Exact(k.to_string())),
            (Some(open), Some(close))
                if close == k.len() - 1 && open < close && k[..open].find(['{', '}']).is_none() =>
            {
                let capture = &k[open + 1..close];
                if open == 0 {
                    self.err(
                        path,
                        format!("the key pattern `{k}` has no fixed prefix"),
                        "a pattern reads keys by prefix: write `prefix:{name}`",
                    );
                    return None;
                }
                if !self.ident(path, capture, "key capture") {
                    return None;
                }
                Some(KeyPattern::Prefix { prefix: k[..open].to_string(), capture: capture.to_string() })
            }
            _ => {
                self.err(
                    path,
                    format!("the key pattern `{k}` is malformed"),
                    "a pattern has one capture, at the end: `app:cache:{id}`",
                );
                None
            }
        }
    }

    #[allow(clippy::too_many_lines)]
    fn table(
        &mut self,
        s: &TableSpec,
        path: &str,
        src: usize,
        parent: Option<usize>,
        unknown: UnknownFields,
        capture: Option<&str>,
    ) -> Option<usize> {
        let is_root = parent.is_none();
        let mut allowed =
            vec!["table", "doc", "renamed_from", "columns", "primary_key", "indexes", "on_missing", "children"];
        if is_root {
            allowed.extend(["key", "upgrade", "unknown_fields"]);
        } else {
            allowed.extend(["array", "entries", "fan_out", "optional", "nullable", "shape_column"]);
        }
        let what = if is_root { "a source" } else { "a child table" };
        self.unknown_keys(path, &s.unknown, &allowed, what);
        for (present, key) in
            [(s.key.is_some(), "key"), (s.upgrade.is_some(), "upgrade"), (s.unknown_fields.is_some(), "unknown_fields")]
        {
            if present && !is_root {
                self.err(
                    join(path, key),
                    format!("`{key}` belongs on a source, not a child table"),
                    "a child table's rows come from its parent's value; move it to the source",
                );
            }
        }
        for (present, key) in [
            (s.array.is_some(), "array"),
            (s.entries.is_some(), "entries"),
            (s.fan_out.is_some(), "fan_out"),
            (s.optional.is_some(), "optional"),
            (s.nullable.is_some(), "nullable"),
            (s.shape_column.is_some(), "shape_column"),
        ] {
            if present && is_root {
                self.err(
                    join(path, key),
                    format!("`{key}` belongs on a child table, not a source"),
                    "a source's rows are its KV values; nest arrays under `children:`",
                );
            }
        }

        let name = match &s.table {
            Some(n) => n.clone(),
            None => {
                self.err(path, format!("{what} needs `table:`"), "name the SQL table its rows go to");
                return None;
            }
        };
        let name_path = join(path, "table");
        let name_ok = self.ident(&name_path, &name, "table name");
        if name_ok {
            if let Some(first) = self.table_names.get(&name) {
                let first = first.clone();
                self.err(
                    &name_path,
                    format!("the table `{name}` is defined twice (first at {first})"),
                    "table names must be unique",
                );
            } else {
                self.table_names.insert(name.clone(), name_path.clone());
            }
            let st = camel(&name);
            if let Some(first) = self.struct_names.get(&st) {
                if first != &name {
                    let first = first.clone();
                    self.err(
                        &name_path,
                        format!("the tables `{first}` and `{name}` would both generate the Rust struct `{st}Row`"),
                        "rename one",
                    );
                }
            } else {
                self.struct_names.insert(st, name.clone());
            }
        }

        // Where the rows come from.
        let kinds = [s.array.is_some(), s.entries.is_some(), s.fan_out.is_some()].iter().filter(|b| **b).count();
        if !is_root && kinds != 1 {
            self.err(
                path,
                format!("the child table `{name}` needs exactly one of `array:`, `entries:` or `fan_out:`"),
                "`array: field` (one row per element), `entries: field` (one row per object entry) or `fan_out:` (one row per variant)",
            );
        }
        let optional = s.optional.unwrap_or(false);
        let nullable = s.nullable.unwrap_or(false);
        let container = |json: &String| Container { json: json.clone(), optional, nullable, shape_column: None };
        let is_fan_out = s.fan_out.is_some();
        if is_fan_out && (optional || nullable) {
            self.err(
                path,
                "`optional`/`nullable` do not apply to `fan_out:`",
                "a fan-out row exists when any of its variant's fields is present",
            );
        }
        let mut rows = match (&s.array, &s.entries) {
            (Some(a), _) => Rows::Array(container(a)),
            (None, Some(e)) => Rows::Entries(container(e)),
            _ => Rows::Root,
        };

        let index = self.tables.len();
        self.tables.push(Table {
            name: name.clone(),
            doc: s.doc.clone(),
            renamed_from: s.renamed_from.clone(),
            source: src,
            parent,
            children: Vec::new(),
            rows: Rows::Root,
            columns: Vec::new(),
            fields: Vec::new(),
            value_column: None,
            primary_key: Vec::new(),
            foreign_key: Vec::new(),
            indexes: Vec::new(),
            on_missing: OnMissing::Delete,
            unknown,
            extra: None,
            position: None,
            track_keys: false,
            yaml_path: path.to_string(),
        });
        if let Some(r) = &s.renamed_from {
            self.ident(&join(path, "renamed_from"), r, "table name");
        }

        // Columns.
        let ctx = ColCtx {
            table: index,
            parent,
            is_root,
            is_fan_out,
            is_entries: matches!(rows, Rows::Entries(_)),
            capture: capture.map(str::to_string),
        };
        let mut cols: Vec<Column> = Vec::new();
        let mut fields: Vec<Field> = Vec::new();
        for (cname, cspec) in &s.columns {
            let cpath = join(&join(path, "columns"), cname);
            if let Some(f) = self.column(&ctx, cname, cspec, &cpath, "", false, &mut cols) {
                fields.push(f);
            }
        }
        if s.columns.is_empty() {
            self.err(path, format!("the table `{name}` has no columns"), "add `columns:`");
        }
        let value_cols: Vec<usize> =
            (0..cols.len()).filter(|&c| matches!(cols[c].origin, Origin::Value { .. })).collect();
        let value_column = value_cols.first().copied();
        if value_cols.len() > 1 {
            self.err(
                join(path, "columns"),
                format!("the table `{name}` has more than one `from: value` column"),
                "a plain value fills one column: keep one `from: value` column",
            );
        }
        if value_column.is_some() && !fields.is_empty() {
            self.err(
                join(path, "columns"),
                format!("the table `{name}` mixes `from: value` with `path:` columns"),
                "`from: value` is for arrays or objects of plain values; for objects, map their fields with `path:`",
            );
        }
        if value_column.is_some() && is_root {
            self.err(
                join(path, "columns"),
                "`from: value` is for child tables",
                "a source's value is an object: map its fields with `path:`, or the whole value with `type: json`",
            );
        }

        // Fan-out variants.
        if let Some(fo) = &s.fan_out {
            let fpath = join(path, "fan_out");
            self.unknown_keys(&fpath, &fo.unknown, &["variants"], "`fan_out`");
            let variant_column = (0..cols.len()).find(|&c| cols[c].origin == Origin::Variant);
            if variant_column.is_none() {
                self.err(
                    &fpath,
                    format!("the fan-out table `{name}` has no `from: variant` column"),
                    "add a text column with `from: variant`: it records which variant a row is",
                );
            }
            if fo.variants.is_empty() {
                self.err(&fpath, "`fan_out:` has no variants", "list `variant_name: {column: jsonKey, …}`");
            }
            let mut variants = Vec::new();
            let mut seen_keys: HashMap<String, String> = HashMap::new();
            for (vname, vmap) in &fo.variants {
                let vpath = join(&join(&fpath, "variants"), vname);
                let mut vfields = Vec::new();
                for (col, key) in vmap {
                    match cols.iter().position(|c| &c.name == col) {
                        Some(c) if cols[c].origin == Origin::VariantField => vfields.push((c, key.clone())),
                        Some(_) => self.err(
                            join(&vpath, col),
                            format!("the column `{col}` is not a variant field"),
                            "variant fields are columns with neither `path:` nor `from:`",
                        ),
                        None => {
                            let hint = suggest_col(col, &cols);
                            self.err(join(&vpath, col), format!("the table `{name}` has no column `{col}`"), hint)
                        }
                    }
                    if let Some(other) = seen_keys.insert(key.clone(), vname.clone()) {
                        self.err(
                            join(&vpath, col),
                            format!("the JSON key `{key}` is used by the variants `{other}` and `{vname}`"),
                            "each JSON key of the parent's object belongs to one variant",
                        );
                    }
                }
                if vfields.is_empty() {
                    self.err(
                        &vpath,
                        format!("the variant `{vname}` maps no fields"),
                        "map at least one variant field to a JSON key: `{column: jsonKey}`",
                    );
                }
                variants.push(Variant { name: vname.clone(), fields: vfields });
            }
            if let Some(vc) = variant_column {
                rows = Rows::FanOut { variant_column: vc, variants };
            }
        } else if cols.iter().any(|c| c.origin == Origin::VariantField) {
            // Reported in `column` already.
        }

        // Primary key.
        let mut primary_key = Vec::new();
        if s.primary_key.is_empty() {
            self.err(
                path,
                format!("the table `{name}` has no `primary_key`"),
                "rows are upserted by primary key: list its columns, e.g. `primary_key: [id]`",
            );
        }
        for (i, k) in s.primary_key.iter().enumerate() {
            let kpath = format!("{path}.primary_key[{i}]");
            match cols.iter().position(|c| &c.name == k) {
                None => self.err(
                    kpath,
                    format!("the primary key names `{k}`, which is not a column of `{name}`"),
                    suggest_col(k, &cols),
                ),
                Some(c) if cols[c].sql_nullable && cols[c].origin != Origin::Position => self.err(
                    kpath,
                    format!("the primary key column `{k}` can be NULL"),
                    "primary key columns must always have a value: drop `optional`/`nullable`, or key on other columns",
                ),
                Some(c) if primary_key.contains(&c) => {
                    self.err(kpath, format!("`{k}` appears twice in the primary key"), "list each column once")
                }
                Some(c) => primary_key.push(c),
            }
        }

        // Foreign key to the parent: the `from: parent.*` columns must cover its primary key.
        let mut foreign_key = Vec::new();
        if let Some(p) = parent {
            for (c, col) in cols.iter().enumerate() {
                if let Origin::Parent(pc) = col.origin {
                    foreign_key.push((c, pc));
                }
            }
            let ppk = self.tables[p].primary_key.clone();
            let covered: Vec<usize> = foreign_key.iter().map(|(_, pc)| *pc).collect();
            let missing: Vec<String> = ppk
                .iter()
                .filter(|pc| !covered.contains(pc))
                .map(|&pc| self.tables[p].columns[pc].name.clone())
                .collect();
            if !missing.is_empty() {
                let pname = self.tables[p].name.clone();
                let hint: Vec<String> =
                    missing.iter().map(|m| format!("`{pname}_{m}: {{from: parent.{m}}}`")).collect();
                self.err(
                    join(path, "columns"),
                    format!("the child table `{name}` does not link to its parent: the parent key column(s) {} of `{pname}` are not copied", missing.join(", ")),
                    format!("add {}", hint.join(" and ")),
                );
            }
            foreign_key.retain(|(_, pc)| ppk.contains(pc));
            foreign_key.sort_by_key(|(_, pc)| ppk.iter().position(|x| x == pc));
        }

        // Rows the source no longer has.
        let on_missing = match s.on_missing.as_deref() {
            None | Some("delete") => OnMissing::Delete,
            Some("keep") => OnMissing::Keep,
            Some(other) => {
                self.err(
                    join(path, "on_missing"),
                    format!("`on_missing: {other}` is not `delete` or `keep`"),
                    "`delete`: the table mirrors the source; `keep`: rows stay as history",
                );
                OnMissing::Delete
            }
        };
        let position = (0..cols.len()).find(|&c| cols[c].origin == Origin::Position);
        if on_missing == OnMissing::Keep {
            if !is_root && position.is_none() {
                self.err(
                    join(path, "on_missing"),
                    format!("`on_missing: keep` on `{name}` needs a `from: position` column"),
                    "kept rows get their position set to NULL so that an export rebuilds exactly the current KV value",
                );
            }
            if let Some(pc) = position {
                if primary_key.contains(&pc) {
                    self.err(
                        join(path, "on_missing"),
                        format!("`on_missing: keep` on `{name}`: the position cannot be part of the primary key"),
                        "key kept rows on their identity, e.g. `id`",
                    );
                }
                cols[pc].sql_nullable = true;
            }
        }
        if let Some(p) = parent {
            if self.tables[p].on_missing == OnMissing::Delete && on_missing == OnMissing::Keep {
                let pname = self.tables[p].name.clone();
                self.err(
                    join(path, "on_missing"),
                    format!("`{name}` keeps rows but its parent `{pname}` deletes them"),
                    format!("kept rows reference their parent: give `{pname}` `on_missing: keep` too"),
                );
            }
        }

        // Duplicate keys are impossible when the key includes the row's place in its source.
        let structural = primary_key.iter().any(|&c| {
            matches!(
                cols[c].origin,
                Origin::Position | Origin::EntryKey | Origin::Variant | Origin::KvKey | Origin::Capture
            )
        }) && foreign_key.iter().all(|(c, _)| primary_key.contains(c));
        let track_keys = !structural;

        {
            let t = &mut self.tables[index];
            t.rows = rows;
            t.columns = cols;
            t.fields = fields;
            t.value_column = value_column;
            t.primary_key = primary_key;
            t.foreign_key = foreign_key;
            t.on_missing = on_missing;
            t.position = position;
            t.track_keys = track_keys;
        }

        // Children, then the parent's columns recording their shape.
        for (i, c) in s.children.iter().enumerate() {
            let cpath = format!("{path}.children[{i}]");
            if let Some(child) = self.table(c, &cpath, src, Some(index), unknown, capture) {
                self.tables[index].children.push(child);
                self.attach_child(index, child, c, &cpath);
            }
        }

        // Unknown fields.
        let has_object_rows = value_column.is_none() && !is_fan_out;
        if unknown == UnknownFields::Keep && has_object_rows {
            if self.tables[index].column(EXTRA_COLUMN).is_some() {
                self.err(
                    join(path, "columns"),
                    format!("`{EXTRA_COLUMN}` is the column kv2sql adds to keep unknown JSON fields"),
                    "rename your column, or set `unknown_fields: reject` on the source",
                );
            } else {
                let t = &mut self.tables[index];
                t.extra = Some(t.columns.len());
                t.columns.push(Column {
                    name: EXTRA_COLUMN.to_string(),
                    ty: ColType::Json,
                    sql_nullable: true,
                    origin: Origin::Extra,
                    default: None,
                    doc: Some("JSON fields the mapping does not name, kept so that nothing is lost".into()),
                    renamed_from: None,
                    yaml_path: path.to_string(),
                });
            }
        }

        // Indexes.
        for (i, ix) in s.indexes.iter().enumerate() {
            let ipath = format!("{path}.indexes[{i}]");
            self.unknown_keys(&ipath, &ix.unknown, &["name", "columns", "unique"], "an index");
            let mut icols = Vec::new();
            for (j, c) in ix.columns.iter().enumerate() {
                match self.tables[index].column(c) {
                    Some(ci) => icols.push(ci),
                    None => {
                        let hint = suggest_col(c, &self.tables[index].columns);
                        self.err(
                            format!("{ipath}.columns[{j}]"),
                            format!("the index names `{c}`, which is not a column of `{name}`"),
                            hint,
                        )
                    }
                }
            }
            if ix.columns.is_empty() {
                self.err(&ipath, "the index has no columns", "list them: `columns: [a, b]`");
            }
            let iname = ix.name.clone().unwrap_or_else(|| format!("{name}_by_{}", ix.columns.join("_")));
            if self.ident(&ipath, &iname, "index name") && !self.index_names.insert(iname.clone()) {
                self.err(&ipath, format!("the index name `{iname}` is used twice"), "give one of them `name:`");
            }
            self.tables[index].indexes.push(Index { name: iname, columns: icols, unique: ix.unique.unwrap_or(false) });
        }

        self.limits(index, path);
        Some(index)
    }

    fn attach_child(&mut self, parent: usize, child: usize, spec: &TableSpec, cpath: &str) {
        let cname = self.tables[child].name.clone();
        let json = match &self.tables[child].rows {
            Rows::Array(c) | Rows::Entries(c) => {
                Some((c.json.clone(), c.optional || c.nullable, c.optional, c.nullable))
            }
            _ => None,
        };
        let Some((json, needs_shape, optional, nullable)) = json else { return };
        let dup = self.tables[parent].fields.iter().any(|f| match f {
            Field::Scalar { json: j, .. } | Field::Object { json: j, .. } | Field::Child { json: j, .. } => *j == json,
        });
        if dup {
            self.err(
                cpath,
                format!("the JSON field `{json}` is mapped twice in `{}`", self.tables[parent].name),
                "a JSON field feeds one column, group or child table",
            );
        }
        self.tables[parent].fields.push(Field::Child { json, table: child });
        if needs_shape {
            let shape_name = spec.shape_column.clone().unwrap_or_else(|| format!("{cname}_shape"));
            let spath = join(cpath, "shape_column");
            if self.ident(&spath, &shape_name, "column name") {
                if self.tables[parent].column(&shape_name).is_some() {
                    let pn = self.tables[parent].name.clone();
                    self.err(
                        spath,
                        format!("`{pn}` already has a column `{shape_name}`"),
                        "set `shape_column:` to another name",
                    );
                    return;
                }
                let mut allowed = vec!["present"];
                if nullable {
                    allowed.push("null");
                }
                if optional {
                    allowed.push("absent");
                }
                let t = &mut self.tables[parent];
                let col = t.columns.len();
                t.columns.push(Column {
                    name: shape_name,
                    ty: ColType::Shape,
                    sql_nullable: false,
                    origin: Origin::Shape { allowed },
                    default: None,
                    doc: Some(format!("whether the array/object feeding `{cname}` was present, null or absent")),
                    renamed_from: None,
                    yaml_path: cpath.to_string(),
                });
                if let Rows::Array(c) | Rows::Entries(c) = &mut self.tables[child].rows {
                    c.shape_column = Some(col);
                }
            }
        } else if spec.shape_column.is_some() {
            self.err(
                join(cpath, "shape_column"),
                "`shape_column` needs `optional: true` or `nullable: true`",
                "a required array or object is always present: remove `shape_column`",
            );
        }
    }

    fn limits(&mut self, index: usize, path: &str) {
        let name = self.tables[index].name.clone();
        let n = self.tables[index].columns.len();
        let stmt_len = crate::sql::insert_sql(&self.tables[index]).len();
        if n > MAX_COLUMNS {
            self.err(
                path,
                format!("the table `{name}` has {n} columns; a Durable Object allows at most {MAX_COLUMNS}"),
                "move a group of fields into a `json` column or a child table",
            );
        }
        if n > MAX_PARAMS {
            self.err(path, format!("upserting `{name}` binds {n} parameters in one statement; a Durable Object allows at most {MAX_PARAMS}"), "reduce the number of columns");
        }
        if stmt_len > MAX_STATEMENT_BYTES {
            self.err(path, format!("the INSERT statement of `{name}` is {stmt_len} bytes; a Durable Object allows at most {MAX_STATEMENT_BYTES}"), "shorten column names or reduce columns");
        }
    }

    #[allow(clippy::too_many_arguments, clippy::too_many_lines)]
    fn column(
        &mut self,
        ctx: &ColCtx,
        name: &str,
        spec: &ColumnSpec,
        path: &str,
        prefix: &str,
        in_group_opt: bool,
        cols: &mut Vec<Column>,
    ) -> Option<Field> {
        let full = format!("{prefix}{name}");
        if !self.ident(path, name, "column name") {
            return None;
        }
        if RESERVED_LOCALS.contains(&full.as_str()) {
            self.err(
                path,
                format!("the column name `{full}` is reserved by the generated code"),
                format!("reserved: {}", RESERVED_LOCALS.join(", ")),
            );
            return None;
        }
        let mut push = |v: &mut V, col: Column| -> usize {
            if let Some(first) = cols.iter().find(|c| c.name == col.name) {
                v.err(
                    &col.yaml_path,
                    format!("the column `{}` is defined twice in this table (first at {})", col.name, first.yaml_path),
                    "columns of a group are named `<group>_<column>`; rename one",
                );
            }
            cols.push(col);
            cols.len() - 1
        };

        // A group of columns from an embedded object.
        if let Some(obj) = &spec.object {
            self.unknown_keys(
                path,
                &spec.unknown,
                &["object", "optional", "nullable", "columns", "doc"],
                "an `object:` group",
            );
            for (bad, key) in [
                (spec.ty.is_some(), "type"),
                (spec.path.is_some(), "path"),
                (spec.from.is_some(), "from"),
                (spec.default.is_some(), "default"),
                (spec.renamed_from.is_some(), "renamed_from"),
            ] {
                if bad {
                    self.err(
                        join(path, key),
                        format!("`{key}` does not apply to an `object:` group"),
                        "put it on the group's columns",
                    );
                }
            }
            if ctx.is_fan_out {
                self.err(
                    path,
                    "fan-out tables take no `object:` groups",
                    "a fan-out row's fields are listed in `fan_out.variants`",
                );
            }
            let optional = spec.optional.unwrap_or(false);
            let nullable = spec.nullable.unwrap_or(false);
            let shape_column = if optional || nullable {
                let mut allowed = vec!["present"];
                if nullable {
                    allowed.push("null");
                }
                // Inside an optional group, a group is also absent when its parent is.
                if optional || in_group_opt {
                    allowed.push("absent");
                }
                Some(push(
                    self,
                    Column {
                        name: format!("{full}_shape"),
                        ty: ColType::Shape,
                        sql_nullable: false,
                        origin: Origin::Shape { allowed },
                        default: None,
                        doc: Some(format!("whether `{obj}` was an object, null or absent")),
                        renamed_from: None,
                        yaml_path: path.to_string(),
                    },
                ))
            } else {
                None
            };
            let sub_opt = in_group_opt || optional || nullable;
            let mut fields = Vec::new();
            match &spec.columns {
                Some(c) if !c.is_empty() => {
                    let gpath = join(path, "columns");
                    for (sname, sspec) in c {
                        if let Some(f) =
                            self.column(ctx, sname, sspec, &join(&gpath, sname), &format!("{full}_"), sub_opt, cols)
                        {
                            fields.push(f);
                        }
                    }
                }
                _ => self.err(
                    path,
                    format!("the group `{name}` has no `columns:`"),
                    "list the object's fields, or map the whole object as one column with `type: json`",
                ),
            }
            return Some(Field::Object { json: obj.clone(), prefix: full, optional, nullable, shape_column, fields });
        }

        self.unknown_keys(
            path,
            &spec.unknown,
            &["type", "path", "from", "optional", "nullable", "default", "doc", "renamed_from"],
            "a column",
        );
        if spec.columns.is_some() {
            self.err(
                join(path, "columns"),
                "`columns:` belongs to an `object:` group",
                "add `object: <jsonField>` to make this a group",
            );
        }
        if let Some(r) = &spec.renamed_from {
            self.ident(&join(path, "renamed_from"), r, "column name");
        }
        let ty = match spec.ty.as_deref() {
            None => None,
            Some(t) => match ColType::parse(t) {
                Some(ty) => Some(ty),
                None => {
                    let names: Vec<&str> = ColType::NAMES.split(", ").collect();
                    // Type names from SQL, JSON Schema and Rust, and near-misses.
                    let alias = match t.to_ascii_lowercase().as_str() {
                        "string" | "str" | "varchar" | "char" => Some("text"),
                        "int" | "bigint" | "i64" | "long" => Some("integer"),
                        "float" | "double" | "f64" | "decimal" => Some("real"),
                        "bool" => Some("boolean"),
                        "object" | "array" | "map" => Some("json"),
                        _ => None,
                    };
                    let help = match alias.map(str::to_string).or_else(|| suggest(t, &names)) {
                        Some(s) => format!("did you mean `{s}`? the types are {}", ColType::NAMES),
                        None => format!("the types are {}", ColType::NAMES),
                    };
                    self.err(join(path, "type"), format!("unknown column type `{t}`"), help);
                    return None;
                }
            },
        };
        let optional = spec.optional.unwrap_or(false);
        let nullable = spec.nullable.unwrap_or(false);
        let mk = |ty: ColType, sql_nullable: bool, origin: Origin, default: Option<String>| Column {
            name: full.clone(),
            ty,
            sql_nullable,
            origin,
            default,
            doc: spec.doc.clone(),
            renamed_from: spec.renamed_from.clone(),
            yaml_path: path.to_string(),
        };

        match (&spec.path, &spec.from) {
            (Some(_), Some(_)) => {
                self.err(
                    path,
                    format!("the column `{full}` has both `path:` and `from:`"),
                    "a column takes its value from one place",
                );
                None
            }
            (Some(jkey), None) => {
                if ctx.is_fan_out {
                    self.err(
                        join(path, "path"),
                        "fan-out tables take their fields from `fan_out.variants`",
                        "remove `path:`",
                    );
                    return None;
                }
                if jkey.is_empty() {
                    self.err(join(path, "path"), "`path:` is empty", "name the JSON field");
                    return None;
                }
                let Some(ty) = ty else {
                    self.err(path, format!("the column `{full}` needs `type:`"), format!("one of {}", ColType::NAMES));
                    return None;
                };
                let default = self.default_literal(path, spec.default.as_ref(), ty);
                let sql_nullable = optional || nullable || in_group_opt;
                let column = push(self, mk(ty, sql_nullable, Origin::Json, default));
                let absent_column = if optional && nullable && ty != ColType::Json {
                    Some(push(
                        self,
                        Column {
                            name: format!("{full}_absent"),
                            ty: ColType::Boolean,
                            sql_nullable: false,
                            origin: Origin::Absent(column),
                            default: Some("0".into()),
                            doc: Some(format!("1 when `{jkey}` was absent (NULL in `{full}` is then not a JSON null)")),
                            renamed_from: None,
                            yaml_path: path.to_string(),
                        },
                    ))
                } else {
                    None
                };
                Some(Field::Scalar { json: jkey.clone(), column, optional, nullable, absent_column })
            }
            (None, None) => {
                if ctx.is_fan_out {
                    let Some(ty) = ty else {
                        self.err(
                            path,
                            format!("the column `{full}` needs `type:`"),
                            format!("one of {}", ColType::NAMES),
                        );
                        return None;
                    };
                    if !optional {
                        self.err(
                            path,
                            format!("the variant field `{full}` must be `optional: true`"),
                            "a variant's row exists when any of its fields is present, so each field may be absent",
                        );
                    }
                    let default = self.default_literal(path, spec.default.as_ref(), ty);
                    push(self, mk(ty, true, Origin::VariantField, default));
                } else {
                    self.err(path, format!("the column `{full}` has neither `path:` nor `from:`"), "`path: jsonField` reads a field of the row's object; `from:` takes kv_key, key_capture, parent.<column>, position, entry_key, value, expiration or variant");
                }
                None
            }
            (None, Some(from)) => {
                let fpath = join(path, "from");
                if !prefix.is_empty() {
                    self.err(&fpath, "columns inside an `object:` group read JSON fields", "use `path:`");
                    return None;
                }
                let (origin, inferred, sql_nullable) = match from.as_str() {
                    "kv_key" if ctx.is_root => (Origin::KvKey, ColType::Text, false),
                    "key_capture" if ctx.is_root && ctx.capture.is_some() => (Origin::Capture, ColType::Text, false),
                    "key_capture" if ctx.is_root => {
                        self.err(
                            &fpath,
                            "`from: key_capture` needs a key pattern with a capture",
                            "write the source key as `prefix:{name}`",
                        );
                        return None;
                    }
                    "expiration" if ctx.is_root => (Origin::Expiration, ColType::Integer, true),
                    "position" if !ctx.is_root && !ctx.is_fan_out => (Origin::Position, ColType::Integer, false),
                    "entry_key" if ctx.is_entries => (Origin::EntryKey, ColType::Text, false),
                    "variant" if ctx.is_fan_out => (Origin::Variant, ColType::Text, false),
                    "value" if !ctx.is_root && !ctx.is_fan_out => {
                        let Some(ty) = ty else {
                            self.err(
                                path,
                                format!("the column `{full}` needs `type:`"),
                                format!("one of {}", ColType::NAMES),
                            );
                            return None;
                        };
                        (Origin::Value { nullable }, ty, nullable)
                    }
                    p if p.starts_with("parent.") && !ctx.is_root => {
                        let pcol = &p["parent.".len()..];
                        let parent = ctx.parent.expect("child tables have a parent");
                        match self.tables[parent].column(pcol) {
                            Some(pc) => {
                                let pcolumn = &self.tables[parent].columns[pc];
                                (Origin::Parent(pc), pcolumn.ty, pcolumn.sql_nullable)
                            }
                            None => {
                                let pname = self.tables[parent].name.clone();
                                let hint = suggest_col(pcol, &self.tables[parent].columns);
                                self.err(&fpath, format!("the parent table `{pname}` has no column `{pcol}`"), hint);
                                return None;
                            }
                        }
                    }
                    other => {
                        let valid: &[&str] = if ctx.is_root {
                            &["kv_key", "key_capture", "expiration"]
                        } else if ctx.is_fan_out {
                            &["parent.<column>", "variant"]
                        } else if ctx.is_entries {
                            &["parent.<column>", "position", "entry_key", "value"]
                        } else {
                            &["parent.<column>", "position", "value"]
                        };
                        self.err(
                            &fpath,
                            format!("`from: {other}` does not apply here"),
                            format!("in this table `from:` takes {}", valid.join(", ")),
                        );
                        return None;
                    }
                };
                if let Some(t) = ty {
                    if t != inferred && !matches!(origin, Origin::Value { .. }) {
                        self.err(
                            join(path, "type"),
                            format!("`from: {from}` gives a {} value, not {}", inferred.name(), t.name()),
                            "drop `type:`: it is implied",
                        );
                    }
                }
                if optional || (nullable && !matches!(origin, Origin::Value { .. })) {
                    self.err(
                        path,
                        format!("`optional`/`nullable` do not apply to `from: {from}`"),
                        "they describe JSON fields (and `nullable` the values of `from: value`)",
                    );
                }
                let default = self.default_literal(path, spec.default.as_ref(), inferred);
                push(self, mk(inferred, sql_nullable, origin, default));
                None
            }
        }
    }

    fn default_literal(&mut self, path: &str, v: Option<&Value>, ty: ColType) -> Option<String> {
        let v = v?;
        if matches!(v, Value::String(s) if s.contains('\0')) {
            self.err(
                join(path, "default"),
                "this default contains a NUL character",
                "SQLite reads SQL text only up to a NUL: remove it from the default",
            );
            return None;
        }
        let lit = match (ty, v) {
            (_, Value::Null) => Some("NULL".to_string()),
            (ColType::Text | ColType::Any, Value::String(s)) => Some(format!("'{}'", s.replace('\'', "''"))),
            (ColType::Json, v) => serde_json::to_string(v).ok().map(|s| format!("'{}'", s.replace('\'', "''"))),
            (ColType::Integer | ColType::Number | ColType::Any, Value::Number(n)) if n.is_i64() => Some(n.to_string()),
            (ColType::Real | ColType::Number | ColType::Any, Value::Number(n)) if n.is_f64() => Some(n.to_string()),
            (ColType::Boolean, Value::Bool(b)) => Some(if *b { "1" } else { "0" }.to_string()),
            _ => None,
        };
        if lit.is_none() {
            self.err(
                join(path, "default"),
                format!("this default does not fit type `{}`", ty.name()),
                "give a literal of the column's type",
            );
        }
        lit
    }
}

struct ColCtx {
    #[allow(dead_code)]
    table: usize,
    parent: Option<usize>,
    is_root: bool,
    is_fan_out: bool,
    is_entries: bool,
    capture: Option<String>,
}

fn suggest_col(name: &str, cols: &[Column]) -> String {
    let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
    match suggest(name, &names) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("the columns are: {}", names.join(", ")),
    }
}
