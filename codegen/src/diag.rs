//! Diagnostics: every mistake in a mapping, located by file, line and column.

use std::fmt;

use crate::locate::{Locations, Pos};

/// One mistake in the mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// YAML path of the offending node (`sources[0].columns.id.type`); empty for the file.
    pub path: String,
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// Filled in by [`Diagnostics::locate`].
    pub pos: Option<Pos>,
}

impl Diagnostic {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic { path: path.into(), message: message.into(), help: None, pos: None }
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// All the mistakes found in one mapping file, rendered like a compiler's errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    pub file: String,
    pub source: String,
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new(file: &str, source: &str, items: Vec<Diagnostic>) -> Self {
        let mut d = Diagnostics { file: file.to_string(), source: source.to_string(), items };
        d.locate();
        d
    }

    fn locate(&mut self) {
        let locs = Locations::parse(&self.source);
        for d in &mut self.items {
            if d.pos.is_none() {
                d.pos = locs.find(&d.path).map(|(p, _)| p);
            }
        }
        self.items.sort_by_key(|d| d.pos.map(|p| (p.line, p.column)).unwrap_or((0, 0)));
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<&str> = self.source.lines().collect();
        for d in &self.items {
            writeln!(f, "error: {}", d.message)?;
            // The gutter is as wide as the line number, as in rustc's messages.
            let pad = " ".repeat(d.pos.map_or(1, |p| p.line.to_string().len()));
            match d.pos {
                Some(p) => {
                    let at = if d.path.is_empty() { String::new() } else { format!(" ({})", d.path) };
                    writeln!(f, "{pad}--> {}:{}:{}{}", self.file, p.line, p.column, at)?;
                    if let Some(line) = lines.get(p.line.saturating_sub(1)) {
                        writeln!(f, "{pad} |")?;
                        writeln!(f, "{} | {line}", p.line)?;
                        writeln!(f, "{pad} | {}^", " ".repeat(p.column.saturating_sub(1)))?;
                    }
                }
                None => {
                    let at = if d.path.is_empty() { String::new() } else { format!(" ({})", d.path) };
                    writeln!(f, "{pad}--> {}{}", self.file, at)?;
                }
            }
            if let Some(h) = &d.help {
                writeln!(f, "{pad} = help: {h}")?;
            }
            writeln!(f)?;
        }
        let n = self.items.len();
        write!(f, "{n} error{} in {}", if n == 1 { "" } else { "s" }, self.file)
    }
}

impl std::error::Error for Diagnostics {}
