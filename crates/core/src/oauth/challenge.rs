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

/// Decodes the text of a `+ ` challenge (surrounding blanks ignored). Any input gives an
/// answer; nothing is refused by length (the engine bounds line lengths).
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

impl ErrorChallenge {
    /// What the status means for a person, or None for a status with no known meaning.
    pub fn meaning(&self) -> Option<&'static str> {
        match self.status.as_deref()? {
            "401" | "invalid_token" => Some("the token was refused"),
            "403" | "insufficient_scope" => Some("the token lacks the scope the server wants"),
            "400" | "invalid_request" => Some("the server found the request malformed"),
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
