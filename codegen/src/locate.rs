//! Source positions for diagnostics: a second, position-aware parse of the YAML text that maps
//! each YAML path (`sources[0].columns.id.type`) to its line and column.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A position in the mapping file, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// YAML path → position of the key (for mapping entries) or of the value (for sequence items).
#[derive(Debug, Default)]
pub struct Locations {
    map: HashMap<String, Pos>,
}

impl Locations {
    pub fn parse(text: &str) -> Locations {
        let mut rx = Receiver { stack: Vec::new(), out: HashMap::new() };
        let mut parser = Parser::new_from_str(text);
        // A syntax error is reported by serde; positions are best effort.
        let _ = parser.load(&mut rx, false);
        Locations { map: rx.out }
    }

    /// The position of `path`, or of its nearest ancestor that has one.
    pub fn find(&self, path: &str) -> Option<(Pos, String)> {
        let mut p = path.to_string();
        loop {
            if let Some(pos) = self.map.get(&p) {
                return Some((*pos, p));
            }
            let cut = p.rfind(['.', '['])?;
            p.truncate(cut);
        }
    }
}

enum Frame {
    /// In a mapping: the path of the mapping, and the pending key (None: next scalar is a key).
    Map {
        path: String,
        key: Option<String>,
    },
    Seq {
        path: String,
        index: usize,
    },
}

struct Receiver {
    stack: Vec<Frame>,
    out: HashMap<String, Pos>,
}

fn pos(m: Marker) -> Pos {
    Pos { line: m.line(), column: m.col() + 1 }
}

fn join(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_string()
    } else {
        format!("{base}.{key}")
    }
}

impl Receiver {
    /// Called when a value (scalar or collection start) begins: returns its path.
    fn value_path(&mut self, mark: Marker) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Map { path, key }) => key.take().map(|k| join(path, &k)),
            Some(Frame::Seq { path, index }) => {
                let p = format!("{path}[{index}]");
                *index += 1;
                self.out.insert(p.clone(), pos(mark));
                Some(p)
            }
        }
    }

    /// Whether the next scalar in the current mapping is a key.
    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }
}

impl MarkedEventReceiver for Receiver {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(value, ..) => {
                if self.expecting_key() {
                    if let Some(Frame::Map { path, key }) = self.stack.last_mut() {
                        self.out.insert(join(path, &value), pos(mark));
                        *key = Some(value);
                    }
                } else {
                    let _ = self.value_path(mark);
                }
            }
            Event::MappingStart(..) => {
                let path = self.value_path(mark).unwrap_or_default();
                self.out.entry(path.clone()).or_insert(pos(mark));
                self.stack.push(Frame::Map { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.value_path(mark).unwrap_or_default();
                self.out.entry(path.clone()).or_insert(pos(mark));
                self.stack.push(Frame::Seq { path, index: 0 });
            }
            // An alias (`*name`) is a value like any other; its contents are located at the anchor.
            Event::Alias(_) => {
                let _ = self.value_path(mark);
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_and_items() {
        let text = "a:\n  b: 1\n  c:\n    - x\n    - {d: 2}\n";
        let l = Locations::parse(text);
        assert_eq!(l.find("a.b").unwrap().0, Pos { line: 2, column: 3 });
        assert_eq!(l.find("a.c[1].d").unwrap().0, Pos { line: 5, column: 8 });
        assert_eq!(l.find("a.c[1].zzz").unwrap().1, "a.c[1]");
    }

    #[test]
    fn aliases_do_not_shift_later_keys() {
        let text = "a: &x {b: 1}\nc: *x\nd: 2\n";
        let l = Locations::parse(text);
        assert_eq!(l.find("d").unwrap().0, Pos { line: 3, column: 1 });
    }
}
