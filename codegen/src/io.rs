//! Reading released migrations and writing or checking `generated/`. The only module that
//! touches the file system; every file is written through [`atomic`].

pub mod atomic;

use std::fs;
use std::path::{Path, PathBuf};

use crate::config::Error;
use crate::evolve::Snapshot;
use crate::{Generated, Released};

/// Reads `migrations/NNNN_<name>.{sql,json}` from a generated folder.
pub fn read_released(generated_dir: &Path) -> Result<Vec<Released>, String> {
    let dir = generated_dir.join("migrations");
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(&dir) else { return Ok(out) };
    let mut names: Vec<String> =
        entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    for name in names {
        let Some(stem) = name.strip_suffix(".json") else { continue };
        let (num, mname) =
            stem.split_once('_').ok_or_else(|| format!("{}: expected NNNN_<name>.json", dir.join(&name).display()))?;
        let version: i64 =
            num.parse().map_err(|_| format!("{}: expected NNNN_<name>.json", dir.join(&name).display()))?;
        let snap_text =
            fs::read_to_string(dir.join(&name)).map_err(|e| format!("{}: {e}", dir.join(&name).display()))?;
        let snapshot: Snapshot = serde_json::from_str(&snap_text)
            .map_err(|e| format!("{}: not a kv2sql snapshot: {e}", dir.join(&name).display()))?;
        let sql_path = dir.join(format!("{stem}.sql"));
        let sql = fs::read_to_string(&sql_path).map_err(|e| format!("{}: {e}", sql_path.display()))?;
        out.push(Released { version, name: mname.to_string(), sql, snapshot });
    }
    Ok(out)
}

fn stale(generated_dir: &Path, g: &Generated) -> Vec<PathBuf> {
    let dir = generated_dir.join("migrations");
    let Ok(entries) = fs::read_dir(&dir) else { return Vec::new() };
    let prefix = g.owned_prefix.trim_start_matches("migrations/");
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix) && !g.files.contains_key(&format!("migrations/{n}")))
        .map(|n| dir.join(n))
        .collect()
}

/// Writes the files whose contents changed (so that builds do not loop), each atomically, and
/// removes stale files of the migration being generated. Returns the paths written and the paths
/// removed. The error names the file and what happened to it.
pub fn write(generated_dir: &Path, g: &Generated) -> Result<(Vec<PathBuf>, Vec<PathBuf>), Error> {
    let mut written = Vec::new();
    for (rel, contents) in &g.files {
        let path = generated_dir.join(rel);
        if fs::read_to_string(&path).ok().as_deref() == Some(contents.as_str()) {
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| Error::io(parent, format!("cannot create the directory {}: {e}", parent.display())))?;
        }
        atomic::write_file(&path, contents.as_bytes()).map_err(|e| Error::io(&path, e.to_string()))?;
        written.push(path);
    }
    let mut removed = Vec::new();
    for path in stale(generated_dir, g) {
        fs::remove_file(&path)
            .map_err(|e| Error::io(&path, format!("cannot remove the stale file {}: {e}", path.display())))?;
        removed.push(path);
    }
    Ok((written, removed))
}

/// Compares the generated files with the ones on disk; on a difference, returns a readable
/// unified diff per stale file.
pub fn check(generated_dir: &Path, g: &Generated) -> Result<(), String> {
    let mut report = String::new();
    for (rel, contents) in &g.files {
        let path = generated_dir.join(rel);
        let on_disk = fs::read_to_string(&path).unwrap_or_default();
        if on_disk != *contents {
            let diff = similar::TextDiff::from_lines(&on_disk, contents);
            report.push_str(&format!(
                "{}",
                diff.unified_diff().context_radius(2).header(
                    &format!("{} (on disk)", path.display()),
                    &format!("{} (from the mapping)", path.display())
                )
            ));
        }
    }
    for path in stale(generated_dir, g) {
        report.push_str(&format!("{} is stale and would be removed\n", path.display()));
    }
    if report.is_empty() {
        Ok(())
    } else {
        Err(report)
    }
}
