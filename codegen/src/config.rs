//! The build API, for a crate's own `build.rs` (the shape of prost-build's):
//!
//! ```no_run
//! fn main() {
//!     let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
//!     let result = kv2sql_codegen::Config::new().mapping("mapping.yaml").out_dir(&dir).generate();
//!     if let Err(e) = result { eprintln!("{e}"); std::process::exit(1) }
//! }
//! ```
//!
//! [`Config::generate`] never exits the process and prints nothing but the cargo directives
//! (when asked); every failure is an [`Error`] value whose `Display` is the message to show.

// The example is a whole build.rs, `fn main` included.
#![allow(clippy::needless_doctest_main)]

use std::path::{Path, PathBuf};

use crate::io;

/// Why generating failed. Its `Display` is the whole message, ready to print, starting with
/// `error:` like a compiler's.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A required option is missing.
    #[error("error: kv2sql_codegen::Config: {0}")]
    Option(&'static str),
    /// Reading, writing or removing a file failed. `message` names `path` and says what happened.
    #[error("error: {message}")]
    Io { path: PathBuf, message: String },
    /// The mapping has mistakes: the rendered, located diagnostics (`file:line:col`).
    #[error("{0}")]
    Mapping(String),
    /// Check mode: the files on disk differ from what the mapping generates. Nothing was written.
    #[error(
        "{diff}error: {out_dir} is stale: regenerate it (`cargo build` or `kv2sql generate`) and commit the result"
    )]
    Stale { out_dir: PathBuf, diff: String },
    /// A released migration in `<out_dir>/migrations` cannot be read.
    #[error("error: released migrations: {0}; restore the file from version control")]
    Released(String),
}

impl Error {
    /// An I/O error about `path`; `message` names it and says what happened.
    pub(crate) fn io(path: &Path, message: String) -> Self {
        Error::Io { path: path.to_path_buf(), message }
    }
}

/// What one [`Config::generate`] did. Both lists are empty when everything was fresh.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerateReport {
    /// Files written because their contents changed.
    pub written: Vec<PathBuf>,
    /// Stale migration files removed.
    pub removed: Vec<PathBuf>,
}

/// Options for generating code from a mapping.
#[derive(Debug, Clone, Default)]
pub struct Config {
    mapping: Option<PathBuf>,
    out_dir: Option<PathBuf>,
    check: bool,
    emit_rerun_if_changed: bool,
    file_name: Option<String>,
}

impl Config {
    /// No mapping yet, output to `$OUT_DIR`, writing (not checking), printing the cargo
    /// `rerun-if-changed` directives.
    pub fn new() -> Self {
        Config { emit_rerun_if_changed: true, ..Config::default() }
    }

    /// The mapping file to read (required).
    pub fn mapping(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.mapping = Some(path.as_ref().to_path_buf());
        self
    }

    /// The folder to write into: `schema.sql`, `SCHEMA.md`, `src/generated.rs` and
    /// `migrations/`. Defaults to `$OUT_DIR`. It must exist.
    pub fn out_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Check mode: write nothing, and fail with [`Error::Stale`] (carrying a diff) when the
    /// files on disk differ from what the mapping generates.
    pub fn check(&mut self, check: bool) -> &mut Self {
        self.check = check;
        self
    }

    /// Whether to print `cargo:rerun-if-changed` for the mapping and the released migrations.
    pub fn emit_rerun_if_changed(&mut self, emit: bool) -> &mut Self {
        self.emit_rerun_if_changed = emit;
        self
    }

    /// The name used in the `@generated` header and in diagnostics (default: the mapping's
    /// file name).
    pub fn file_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.file_name = Some(name.into());
        self
    }

    /// Generates (or, in check mode, checks) the output folder.
    pub fn generate(&self) -> Result<GenerateReport, Error> {
        let mapping = self.mapping.as_deref().ok_or(Error::Option("call .mapping(path) before .generate()"))?;
        let out_dir = self.resolve_out_dir()?;
        if self.emit_rerun_if_changed {
            println!("cargo:rerun-if-changed={}", mapping.display());
            println!("cargo:rerun-if-changed={}", out_dir.join("migrations").display());
        }
        let text = std::fs::read_to_string(mapping)
            .map_err(|e| Error::io(mapping, format!("cannot read {}: {e}", mapping.display())))?;
        if !out_dir.is_dir() {
            return Err(Error::io(
                &out_dir,
                format!("the output directory {} does not exist: create it, or fix the path", out_dir.display()),
            ));
        }
        let released = io::read_released(&out_dir).map_err(Error::Released)?;
        let name = self.file_name.clone().unwrap_or_else(|| file_name_of(mapping));
        let generated = crate::generate(&name, &text, &released).map_err(|d| Error::Mapping(d.to_string()))?;
        if self.check {
            io::check(&out_dir, &generated).map_err(|diff| Error::Stale { out_dir: out_dir.clone(), diff })?;
            return Ok(GenerateReport::default());
        }
        let (written, removed) = io::write(&out_dir, &generated)?;
        Ok(GenerateReport { written, removed })
    }

    fn resolve_out_dir(&self) -> Result<PathBuf, Error> {
        match &self.out_dir {
            Some(d) => Ok(d.clone()),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or(Error::Option("call .out_dir(dir), or run from a build script (OUT_DIR is not set)")),
        }
    }
}

fn file_name_of(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
