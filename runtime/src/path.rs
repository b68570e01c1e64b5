//! JSON locations, built on the stack while extracting and rendered (as an RFC 6901 JSON
//! pointer) only when an error needs them.

use std::fmt;

/// A location inside a KV value: a chain of segments back to the root.
#[derive(Clone, Copy)]
pub struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    seg: Seg<'a>,
}

#[derive(Clone, Copy)]
enum Seg<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

impl Path<'static> {
    /// The root of a value (pointer `""`, shown as `/`).
    pub const ROOT: Path<'static> = Path { parent: None, seg: Seg::Root };
}

impl<'a> Path<'a> {
    pub fn key(&'a self, key: &'a str) -> Path<'a> {
        Path { parent: Some(self), seg: Seg::Key(key) }
    }

    pub fn index(&'a self, index: usize) -> Path<'a> {
        Path { parent: Some(self), seg: Seg::Index(index) }
    }

    /// The RFC 6901 pointer, with `~` and `/` escaped; `/` for the root itself.
    pub fn pointer(&self) -> String {
        let mut segs = Vec::new();
        let mut cur = Some(self);
        while let Some(p) = cur {
            match p.seg {
                Seg::Root => {}
                Seg::Key(k) => segs.push(k.replace('~', "~0").replace('/', "~1")),
                Seg::Index(i) => segs.push(i.to_string()),
            }
            cur = p.parent;
        }
        if segs.is_empty() {
            return "/".to_string();
        }
        let mut out = String::new();
        for s in segs.iter().rev() {
            out.push('/');
            out.push_str(s);
        }
        out
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pointer())
    }
}

impl fmt::Debug for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Path({})", self.pointer())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_escapes_and_nests() {
        let root = Path::ROOT;
        assert_eq!(root.pointer(), "/");
        let items = root.key("items");
        let i17 = items.index(17);
        let r = i17.key("ratings");
        let r2 = r.index(2);
        assert_eq!(r2.key("score").pointer(), "/items/17/ratings/2/score");
        let repos = root.key("repos");
        assert_eq!(repos.key("a/b~c").pointer(), "/repos/a~1b~0c");
    }
}
