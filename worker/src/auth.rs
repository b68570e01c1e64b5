//! The admin key: `Authorization: Bearer <ADMIN_KEY>`, compared in constant time.
//!
//! The key is never logged nor echoed. A Worker without a non-empty `ADMIN_KEY` secret (or var)
//! refuses every admin request (fail closed).

use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No `ADMIN_KEY` configured, or an empty one: 503.
    NotConfigured,
    /// No `Authorization` header: 401.
    Missing,
    /// Not `Bearer`, or the wrong key: 401.
    Invalid,
}

impl AuthError {
    pub fn status(self) -> u16 {
        match self {
            AuthError::NotConfigured => 503,
            AuthError::Missing | AuthError::Invalid => 401,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            AuthError::NotConfigured => "the admin API is disabled: no ADMIN_KEY secret is configured",
            AuthError::Missing => "missing `Authorization: Bearer <admin key>` header",
            AuthError::Invalid => "invalid credentials",
        }
    }
}

/// Equality of two byte strings whose running time depends on neither content nor length:
/// both are hashed first, then the digests are compared without an early exit.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let da = Sha256::digest(a);
    let db = Sha256::digest(b);
    let mut diff = 0u8;
    for (x, y) in da.iter().zip(db.iter()) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// Checks an `Authorization` header value against the configured key.
pub fn check(configured: Option<&str>, header: Option<&str>) -> Result<(), AuthError> {
    let key = match configured {
        Some(k) if !k.is_empty() => k,
        _ => return Err(AuthError::NotConfigured),
    };
    let header = header.map(str::trim).filter(|h| !h.is_empty()).ok_or(AuthError::Missing)?;
    let (scheme, token) = header.split_once([' ', '\t']).ok_or(AuthError::Invalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Invalid);
    }
    let token = token.trim();
    if token.is_empty() || !constant_time_eq(token.as_bytes(), key.as_bytes()) {
        return Err(AuthError::Invalid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        assert_eq!(check(None, Some("Bearer k")), Err(AuthError::NotConfigured));
        assert_eq!(check(Some(""), Some("Bearer ")), Err(AuthError::NotConfigured));
        assert_eq!(check(Some("k"), None), Err(AuthError::Missing));
        assert_eq!(check(Some("k"), Some("  ")), Err(AuthError::Missing));
        assert_eq!(check(Some("k"), Some("Bearer")), Err(AuthError::Invalid));
        assert_eq!(check(Some("k"), Some("Bearer ")), Err(AuthError::Invalid));
        assert_eq!(check(Some("k"), Some("Basic k")), Err(AuthError::Invalid));
        assert_eq!(check(Some("k"), Some("k")), Err(AuthError::Invalid));
        assert_eq!(check(Some("k"), Some("Bearer kk")), Err(AuthError::Invalid));
        assert_eq!(check(Some("k"), Some("Bearer k")), Ok(()));
        assert_eq!(check(Some("k"), Some("bearer   k ")), Ok(()));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
