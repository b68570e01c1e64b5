//! Blank lines between items, as rustfmt leaves them: prettyplease prints items back to back.
//!
//! A line-based pass over prettyplease's output. It tracks the braces (outside string and char
//! literals and block comments) to know whether a line is at the top level or directly inside a
//! `mod`, `impl` or `trait` block, where items live; there, a line that follows the end of an
//! item (`}` or `;`) starts a new item and gets a blank line before it. Consecutive `use` lines
//! stay together. Nothing inside a function body or a literal is touched.

/// What a `{` opened.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    /// A `mod`, `impl` or `trait` body: its lines are items.
    Items,
    /// Anything else (a function body, a struct literal, a match…).
    Other,
}

/// Where the scanner is at the end of a line.
#[derive(Default)]
struct Scan {
    blocks: Vec<Block>,
    in_string: bool,
    in_comment: bool,
}

/// prettyplease's output with a blank line between items.
pub fn space_items(src: &str) -> String {
    let mut out = String::with_capacity(src.len() + src.len() / 16);
    let mut scan = Scan::default();
    // Per brace depth: whether the last item started there was a `use`.
    let mut last_was_use: Vec<bool> = vec![false];
    let mut prev: Option<&str> = None;
    for line in src.lines() {
        let depth = scan.blocks.len();
        last_was_use.resize(depth + 1, false);
        let at_items = !scan.in_string && !scan.in_comment && scan.blocks.last().is_none_or(|b| *b == Block::Items);
        let t = line.trim();
        let after = prev.map(str::trim);
        if at_items && after.is_none_or(|p| ends_item(p) || p.ends_with('{')) && !closes(t) && !t.is_empty() {
            let is_use = starts_use(t);
            if after.is_some_and(ends_item) && !(is_use && last_was_use[depth]) {
                out.push('\n');
            }
            last_was_use[depth] = is_use;
        }
        out.push_str(line);
        out.push('\n');
        scan.line(line);
        prev = Some(line);
    }
    out
}

/// A `use` item, or the attribute the generator puts on one.
fn starts_use(line: &str) -> bool {
    line.starts_with("use ") || line.starts_with("pub use ") || line.starts_with("#[allow(unused_imports)]")
}

fn ends_item(line: &str) -> bool {
    line.ends_with('}') || line.ends_with(';')
}

fn closes(line: &str) -> bool {
    line.starts_with('}') || line.starts_with(')') || line.starts_with(']')
}

fn opens_items(line: &str) -> bool {
    let t = line.trim_start();
    let t = t.strip_prefix("pub(crate) ").or_else(|| t.strip_prefix("pub ")).unwrap_or(t);
    let t = t.strip_prefix("unsafe ").unwrap_or(t);
    t.starts_with("mod ") || t.starts_with("impl ") || t.starts_with("impl<") || t.starts_with("trait ")
}

impl Scan {
    fn line(&mut self, line: &str) {
        let kind = if opens_items(line) { Block::Items } else { Block::Other };
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            i += self.step(&chars, i, kind);
        }
    }

    /// Handles the character at `i`; returns how many characters it consumed.
    fn step(&mut self, c: &[char], i: usize, kind: Block) -> usize {
        let at = |k: usize| c.get(i + k).copied();
        if self.in_comment {
            if at(0) == Some('*') && at(1) == Some('/') {
                self.in_comment = false;
                return 2;
            }
            return 1;
        }
        if self.in_string {
            match at(0) {
                Some('\\') => return 2,
                Some('"') => self.in_string = false,
                _ => {}
            }
            return 1;
        }
        match at(0) {
            Some('/') if at(1) == Some('/') => c.len() - i,
            Some('/') if at(1) == Some('*') => {
                self.in_comment = true;
                2
            }
            Some('"') => {
                self.in_string = true;
                1
            }
            Some('\'') if at(1) == Some('\\') => c[i + 2..].iter().position(|&x| x == '\'').map_or(1, |p| p + 3),
            Some('\'') if at(2) == Some('\'') => 3,
            Some('{') => {
                self.blocks.push(kind);
                1
            }
            Some('}') => {
                self.blocks.pop();
                1
            }
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::space_items;

    #[test]
    fn items_are_spaced_bodies_and_literals_are_not() {
        let src = "use a::b;\nuse c::d;\nconst A: &str = \"x;\n}\";\nfn f() {\n    let a = 1;\n    let b = '}';\n}\npub mod m {\n    use x;\n    struct S;\n    impl S {\n        fn g() {}\n        fn h() {}\n    }\n}\n";
        let want = "use a::b;\nuse c::d;\n\nconst A: &str = \"x;\n}\";\n\nfn f() {\n    let a = 1;\n    let b = '}';\n}\n\npub mod m {\n    use x;\n\n    struct S;\n\n    impl S {\n        fn g() {}\n\n        fn h() {}\n    }\n}\n";
        assert_eq!(space_items(src), want);
    }
}
