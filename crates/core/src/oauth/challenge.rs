//! The error challenge of RFC 7628 §3.2.2: when a token is refused the server answers `+ `
//! with base64 of a JSON object (`status`, optional `scope` and `openid-configuration`;
//! XOAUTH2 servers add `schemes`) before failing the exchange.

use crate::sanitize::display;

/// How much of a server-sent value an explanation shows, in characters.
const SHOWN: usize = 200;

/// The members of an error challenge. Values are the server's, raw: show them through
/// [`crate::sanitize::display`] (as [`ErrorChallenge::explain`] does). A number where a
/// string is expected (`"status": 401`) is kept as its JSON text; other non-string values
/// are left out.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct ErrorChallenge {
    /// `status`: REQUIRED by RFC 7628 §3.2.2; an RFC 6750 §3.1 error code
    /// (`invalid_token`, `insufficient_scope`) or, from XOAUTH2 servers, an HTTP status.
    pub status: Option<String>,
    /// `scope`: the scope the server wants (one scope is RECOMMENDED; may be a
    /// space-separated list).
    pub scope: Option<String>,
    /// `schemes`: the HTTP authentication schemes, as Google's XOAUTH2 sends them.
    pub schemes: Option<String>,
    /// `openid-configuration`: the URL of the server's OpenID discovery document.
    pub openid_configuration: Option<String>,
    /// The names of the other members, in the order sent (RFC 7628 lets a server add its own).
    pub other_keys: Vec<String>,
}

/// What a `+ ` challenge turned out to hold.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChallengeDecode {
    /// Not standard padded base64.
    NotBase64,
    /// Base64, but its octets are not JSON.
    NotJson,
    /// JSON, but not an object (an array, a string, a number...).
    NotObject,
    /// A JSON object: the error challenge.
    Object(ErrorChallenge),
}

/// How deeply nested a JSON challenge popscope reads: an error result is one object of
/// strings, and below serde_json's own limit (128) a deeper one is told apart from bad
/// syntax ([`nested_too_deep`]).
pub const MAX_JSON_DEPTH: usize = 100;

/// Decodes the text of a `+ ` challenge (surrounding blanks ignored). Any input gives an
/// answer; nothing is refused by length (the engine bounds line lengths). JSON nested deeper
/// than [`MAX_JSON_DEPTH`] is [`ChallengeDecode::NotJson`].
///
/// ```
/// use popscope_core::oauth::{ChallengeDecode, challenge::decode};
/// let ChallengeDecode::Object(e) = decode(b"eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=") else { panic!() };
/// assert_eq!(e.status.as_deref(), Some("invalid_token"));
/// ```
pub fn decode(challenge: &[u8]) -> ChallengeDecode {
    let Some(octets) = crate::auth::b64decode(challenge.trim_ascii()) else {
        return ChallengeDecode::NotBase64;
    };
    if too_deep(&octets) {
        return ChallengeDecode::NotJson;
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&octets) else {
        return ChallengeDecode::NotJson;
    };
    let serde_json::Value::Object(members) = value else {
        return ChallengeDecode::NotObject;
    };
    let mut e = ErrorChallenge::default();
    for (key, value) in members {
        let text = match value {
            serde_json::Value::String(s) => Some(s),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        match key.as_str() {
            "status" => e.status = text,
            "scope" => e.scope = text,
            "schemes" => e.schemes = text,
            "openid-configuration" => e.openid_configuration = text,
            _ => e.other_keys.push(key),
        }
    }
    ChallengeDecode::Object(e)
}

/// Whether `challenge` is base64 of JSON nested deeper than [`MAX_JSON_DEPTH`]: the reason
/// [`decode`] calls it [`ChallengeDecode::NotJson`], when it is the reason.
pub fn nested_too_deep(challenge: &[u8]) -> bool {
    crate::auth::b64decode(challenge.trim_ascii()).is_some_and(|octets| too_deep(&octets))
}

/// Brackets and braces outside strings open deeper than [`MAX_JSON_DEPTH`] somewhere in
/// `json`. One pass, no allocation: the text need not be valid JSON otherwise.
fn too_deep(json: &[u8]) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in json {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

impl ErrorChallenge {
    /// What the status means for a person, or None for a status with no known meaning.
    pub fn meaning(&self) -> Option<&'static str> {
        match self.status.as_deref()? {
            "401" | "invalid_token" => Some("the token was refused"),
            "403" | "insufficient_scope" => Some("the token lacks the scope the server wants"),
            // Gmail's XOAUTH2 answers 400 for an expired, revoked or wrong-scope token too
            // (MailKit#27, go-imap#213), not only for a malformed request.
            "400" => Some(
                "the token was refused (Gmail sends 400 for an expired, revoked or wrong-scope token as well as for a malformed request)",
            ),
            "invalid_request" => Some("the server found the request malformed"),
            _ => None,
        }
    }

    /// A sentence for a person, every server-sent part sanitized and cut: "status 401: the
    /// token was refused; the server wants scope mail". Always
    /// [`crate::sanitize::is_clean`].
    ///
    /// ```
    /// use popscope_core::oauth::ErrorChallenge;
    /// let e = ErrorChallenge { status: Some("invalid_token".into()), scope: Some("mail".into()), ..Default::default() };
    /// assert_eq!(e.explain(), "status invalid_token: the token was refused; the server wants scope mail");
    /// ```
    pub fn explain(&self) -> String {
        let mut out = match (&self.status, self.meaning()) {
            (Some(s), Some(m)) => format!("status {}: {m}", display(s.as_bytes(), SHOWN)),
            (Some(s), None) => format!("status {}", display(s.as_bytes(), SHOWN)),
            (None, _) => "no status given".to_owned(),
        };
        if let Some(scope) = &self.scope {
            out.push_str("; the server wants scope ");
            out.push_str(&display(scope.as_bytes(), SHOWN));
        }
        if let Some(url) = &self.openid_configuration {
            out.push_str("; discovery document at ");
            out.push_str(&display(url.as_bytes(), SHOWN));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::b64encode;
    use crate::sanitize::is_clean;

    fn object(challenge: &[u8]) -> ErrorChallenge {
        match decode(challenge) {
            ChallengeDecode::Object(e) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dovecots_xoauth2_error() {
        let b64 = b64encode(br#"{"status":"401","schemes":"bearer","scope":"mail"}"#);
        assert_eq!(
            b64,
            "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJtYWlsIn0="
        );
        let e = object(b64.as_bytes());
        assert_eq!(e.status.as_deref(), Some("401"));
        assert_eq!(e.schemes.as_deref(), Some("bearer"));
        assert_eq!(e.scope.as_deref(), Some("mail"));
        assert_eq!(
            e.explain(),
            "status 401: the token was refused; the server wants scope mail"
        );
    }

    #[test]
    fn dovecots_oauthbearer_error() {
        let e = object(b"eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=");
        assert_eq!(
            e,
            ErrorChallenge {
                status: Some("invalid_token".into()),
                ..Default::default()
            }
        );
        assert_eq!(e.explain(), "status invalid_token: the token was refused");
    }

    #[test]
    fn scope_discovery_and_unknown_keys() {
        let json = br#"{"status":"insufficient_scope","scope":"https://outlook.office.com/POP.AccessAsUser.All","openid-configuration":"https://login.example/.well-known/openid-configuration","x-extra":[1],"status2":null}"#;
        let e = object(b64encode(json).as_bytes());
        assert_eq!(e.other_keys, ["x-extra", "status2"]);
        assert_eq!(
            e.explain(),
            "status insufficient_scope: the token lacks the scope the server wants; the server wants scope https://outlook.office.com/POP.AccessAsUser.All; discovery document at https://login.example/.well-known/openid-configuration"
        );
    }

    #[test]
    fn numbers_are_kept_other_types_dropped() {
        let e = object(b64encode(br#"{"status":401,"scope":["a","b"]}"#).as_bytes());
        assert_eq!(e.status.as_deref(), Some("401"));
        assert_eq!(e.scope, None);
        assert_eq!(
            object(b64encode(b"{}").as_bytes()).explain(),
            "no status given"
        );
        let odd = object(b64encode(br#"{"status":"teapot"}"#).as_bytes());
        assert_eq!(odd.meaning(), None);
        assert_eq!(odd.explain(), "status teapot");
    }

    #[test]
    fn the_three_failures_are_told_apart() {
        assert_eq!(decode(b"not base64!"), ChallengeDecode::NotBase64);
        assert_eq!(decode(b"eyJzdGF0dXMi"), ChallengeDecode::NotJson); // {"status" cut
        assert_eq!(
            decode(b64encode(b"\xff\xfe").as_bytes()),
            ChallengeDecode::NotJson
        );
        assert_eq!(
            decode(b64encode(b"[1,2]").as_bytes()),
            ChallengeDecode::NotObject
        );
        assert_eq!(
            decode(b64encode(b"\"401\"").as_bytes()),
            ChallengeDecode::NotObject
        );
        let deep = "[".repeat(100_000);
        assert_eq!(
            decode(b64encode(deep.as_bytes()).as_bytes()),
            ChallengeDecode::NotJson
        );
        assert_eq!(decode(&vec![b'A'; 1 << 20]), ChallengeDecode::NotJson);
        // An empty challenge is base64 of nothing: not JSON.
        assert_eq!(decode(b""), ChallengeDecode::NotJson);
        assert!(matches!(
            decode(b"  eyJ9  "),
            ChallengeDecode::NotBase64 | ChallengeDecode::NotJson
        ));
    }

    /// Gmail answers 400 for an expired token (tests/fixtures/rules/oauth-003.google.trace),
    /// a revoked one or one of the wrong scope (MailKit#27, go-imap#213): not only for a
    /// malformed request.
    #[test]
    fn gmails_400_is_a_refused_token() {
        let e = object(b"eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==");
        let said = e.explain();
        assert!(
            said.starts_with("status 400: the token was refused"),
            "{said}"
        );
        assert!(
            said.contains("expired, revoked or wrong-scope token"),
            "{said}"
        );
        assert!(!said.contains("found the request malformed"), "{said}");
        let request = object(b64encode(br#"{"status":"invalid_request"}"#).as_bytes());
        assert_eq!(
            request.meaning(),
            Some("the server found the request malformed")
        );
    }

    #[test]
    fn nesting_is_read_to_a_depth_and_told_apart() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let at_limit = b64encode(nested(MAX_JSON_DEPTH).as_bytes());
        assert_eq!(decode(at_limit.as_bytes()), ChallengeDecode::NotObject);
        assert!(!nested_too_deep(at_limit.as_bytes()));
        for deeper in [MAX_JSON_DEPTH + 1, 5000] {
            let b64 = b64encode(nested(deeper).as_bytes());
            assert_eq!(decode(b64.as_bytes()), ChallengeDecode::NotJson);
            assert!(nested_too_deep(b64.as_bytes()));
        }
        // Brackets inside strings, escaped quotes included, are text.
        let text = format!(
            r#"{{"status":"\"{}","scope":"{}"}}"#,
            "[".repeat(500),
            "{".repeat(500)
        );
        let e = object(b64encode(text.as_bytes()).as_bytes());
        assert!(e.status.is_some_and(|s| s.len() == 501));
        assert!(!nested_too_deep(b64encode(text.as_bytes()).as_bytes()));
        assert!(!nested_too_deep(b"eyJzdGF0dXMi") && !nested_too_deep(b"not base64!"));
    }

    #[test]
    fn hostile_values_are_sanitized_and_cut() {
        let json = format!(
            r#"{{"status":"\u001b]0;owned\u0007","scope":"{}\u202e"}}"#,
            "x".repeat(100_000)
        );
        let e = object(b64encode(json.as_bytes()).as_bytes());
        let shown = e.explain();
        assert!(is_clean(&shown), "{shown}");
        assert!(shown.contains("\\x1b]0;owned\\x07"), "{shown}");
        assert!(shown.len() < 600, "{}", shown.len());
    }
}
