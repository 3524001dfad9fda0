//! The optional bearer token.
//!
//! With a token configured, every route except `GET /v1/health` requires the header
//! `Authorization: Bearer <token>`; a missing or wrong token is answered 401 with
//! `WWW-Authenticate: Bearer` and the error code `unauthorized`. The health route stays open so that a
//! supervisor can tell a live process from a dead one without holding the secret.
//!
//! The token is compared in constant time (`subtle`) over its bytes. Only its length can leak through
//! timing, which is why tokens should be long random strings of a fixed length.

use std::fmt;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use subtle::ConstantTimeEq;

/// A configured bearer token. Its `Debug` output never shows the secret.
#[derive(Clone)]
pub struct BearerToken(String);

impl BearerToken {
    /// A token; `None` for an empty string (an empty token would let anyone in).
    pub fn new(token: impl Into<String>) -> Option<Self> {
        let token = token.into();
        (!token.is_empty()).then_some(Self(token))
    }

    /// Whether `headers` carry this token as `Authorization: Bearer <token>`.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(presented) = headers.get(AUTHORIZATION).and_then(|v| bearer(v.as_bytes())) else {
            return false;
        };
        presented.ct_eq(self.0.as_bytes()).into()
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// The credentials of an `Authorization` value with the `Bearer` scheme (case-insensitive).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    const SCHEME: &[u8] = b"bearer ";
    let scheme = value.get(..SCHEME.len())?;
    scheme.eq_ignore_ascii_case(SCHEME).then(|| value.get(SCHEME.len()..)).flatten().map(<[u8]>::trim_ascii)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn admits_only_the_exact_token() {
        let token = BearerToken::new("s3cret-token").unwrap();
        assert!(token.admits(&headers("Bearer s3cret-token")));
        assert!(token.admits(&headers("bearer s3cret-token")));
        assert!(!token.admits(&headers("Bearer s3cret-tokeN")));
        assert!(!token.admits(&headers("Bearer s3cret-token2")));
        assert!(!token.admits(&headers("Basic s3cret-token")));
        assert!(!token.admits(&headers("Bearer")));
        assert!(!token.admits(&HeaderMap::new()));
        assert!(BearerToken::new("").is_none());
        assert_eq!(format!("{token:?}"), "BearerToken(<redacted>)");
    }
}
