//! Differences between two JSON values, for `kv2sql verify`.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// RFC 6901 pointer.
    pub pointer: String,
    /// The value on the left (expected), `None` when absent.
    pub left: Option<Value>,
    /// The value on the right (found), `None` when absent.
    pub right: Option<Value>,
}

/// Every place where `left` and `right` differ. Object key order is not a difference; array
/// order is.
pub fn diff(left: &Value, right: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    walk(left, right, &mut String::new(), &mut out);
    out
}

fn escape(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

fn walk(l: &Value, r: &Value, at: &mut String, out: &mut Vec<Difference>) {
    match (l, r) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, av) in a {
                let len = at.len();
                at.push('/');
                at.push_str(&escape(k));
                match b.get(k) {
                    Some(bv) => walk(av, bv, at, out),
                    None => out.push(Difference { pointer: at.clone(), left: Some(av.clone()), right: None }),
                }
                at.truncate(len);
            }
            for (k, bv) in b {
                if !a.contains_key(k) {
                    out.push(Difference {
                        pointer: format!("{at}/{}", escape(k)),
                        left: None,
                        right: Some(bv.clone()),
                    });
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for i in 0..a.len().max(b.len()) {
                let len = at.len();
                at.push_str(&format!("/{i}"));
                match (a.get(i), b.get(i)) {
                    (Some(x), Some(y)) => walk(x, y, at, out),
                    (x, y) => out.push(Difference { pointer: at.clone(), left: x.cloned(), right: y.cloned() }),
                }
                at.truncate(len);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(Difference {
            pointer: if at.is_empty() { "/".into() } else { at.clone() },
            left: Some(a.clone()),
            right: Some(b.clone()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_absent_null_and_numeric_differences() {
        let a = json!({"a": 1, "b": null, "c": [1, 2], "d": 4});
        let b = json!({"a": 1, "c": [1], "d": 4.0, "e": "x"});
        let d = diff(&a, &b);
        let ptrs: Vec<&str> = d.iter().map(|d| d.pointer.as_str()).collect();
        assert_eq!(ptrs, vec!["/b", "/c/1", "/d", "/e"]);
        assert!(diff(&a, &a).is_empty());
    }
}
