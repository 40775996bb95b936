//! What a JWT access token says about itself, read **without verifying** its signature: the
//! server verifies; popscope only explains why it may have refused ("expired 3 min ago",
//! "issued for IMAP.AccessAsUser.All, not POP"). Opaque tokens (Google's `ya29.…`) are not
//! JWTs and say nothing.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::sanitize::display;

/// How much of a claim an explanation shows, in characters.
const SHOWN: usize = 120;

/// The claims popscope reads from a JWT (RFC 7519 §4.1; `scp` is Microsoft's, `scope` RFC
/// 8693 §4.2's). Strings are the token's, raw: show them through
/// [`crate::sanitize::display`]. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Claims {
    /// `exp`: when the token stops being valid.
    pub exp: Option<i64>,
    /// `iat`: when it was issued.
    pub iat: Option<i64>,
    /// `nbf`: before when it is not valid yet.
    pub nbf: Option<i64>,
    /// `aud`: the audiences (a string or an array of strings in the token).
    pub aud: Vec<String>,
    /// `scp` and `scope`: the scopes, space-separated or an array in the token.
    pub scopes: Vec<String>,
    /// `iss`: who issued the token.
    pub iss: Option<String>,
}

/// Where a token stands in time at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Expired this many seconds ago (`exp` <= now).
    Expired(u64),
    /// Valid for this many more seconds.
    ExpiresIn(u64),
    /// Not valid for this many more seconds (`nbf` is in the future).
    NotYetValid(u64),
}

/// Whether a token's scopes allow POP3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeFit {
    /// A scope covers POP: Microsoft's `POP.AccessAsUser.All`, Google's
    /// `https://mail.google.com/`.
    Pop,
    /// IMAP is granted and POP is not (Microsoft `IMAP.AccessAsUser.All` alone): the
    /// "the same token works on IMAP" case.
    ImapOnly,
    /// No scope that says either way (or no scopes at all).
    Unknown,
}

fn part(text: &[u8]) -> Option<Value> {
    // Some issuers pad their base64url; RFC 7515 §2 says not to, so both are read.
    let unpadded = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    let octets = URL_SAFE_NO_PAD.decode(unpadded).ok()?;
    serde_json::from_slice(&octets).ok()
}

fn time(v: Option<&Value>) -> Option<i64> {
    let v = v?;
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
}

fn strings(v: Option<&Value>, split: bool) -> Vec<String> {
    match v {
        Some(Value::String(s)) if split => s.split_ascii_whitespace().map(str::to_owned).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// The claims of `token` if it is a JWS in compact form (three base64url parts, the first two
/// JSON objects), else None: an opaque token is not an error. Nothing is verified.
///
/// ```
/// // {"alg":"none"} . {"exp":1700000000,"scp":"POP.AccessAsUser.All"} . (no signature)
/// let t = b"eyJhbGciOiJub25lIn0.eyJleHAiOjE3MDAwMDAwMDAsInNjcCI6IlBPUC5BY2Nlc3NBc1VzZXIuQWxsIn0.";
/// let c = popscope_core::oauth::jwt::claims(t).unwrap();
/// assert_eq!(c.exp, Some(1_700_000_000));
/// assert!(popscope_core::oauth::jwt::claims(b"ya29.a0AfH6SMC").is_none());
/// ```
pub fn claims(token: &[u8]) -> Option<Claims> {
    let mut parts = token.split(|&b| b == b'.');
    let (header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None; // five parts: an encrypted JWE, unreadable
    }
    part(header)?.as_object()?;
    let payload = part(payload)?;
    let c = payload.as_object()?;
    let mut scopes = strings(c.get("scp"), true);
    scopes.extend(strings(c.get("scope"), true));
    Some(Claims {
        exp: time(c.get("exp")),
        iat: time(c.get("iat")),
        nbf: time(c.get("nbf")),
        aud: strings(c.get("aud"), false),
        scopes,
        iss: c.get("iss").and_then(Value::as_str).map(str::to_owned),
    })
}

/// A duration for a person: "45 s", "3 min", "5 h", "12 days".
pub fn human_duration(seconds: u64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 120 * 60 => format!("{} min", s / 60),
        s if s < 48 * 3600 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

fn has_scope(scopes: &[String], name: &str) -> bool {
    // Microsoft writes a scope bare or behind its resource: `https://outlook.office.com/POP.AccessAsUser.All`.
    scopes.iter().any(|s| {
        s.eq_ignore_ascii_case(name)
            || s.rsplit_once('/')
                .is_some_and(|(_, tail)| tail.eq_ignore_ascii_case(name))
    })
}

/// The first `most` of a token's strings, sanitized and cut, joined with `separator`.
fn shown(items: &[String], most: usize, separator: &str) -> String {
    let shown: Vec<String> = items
        .iter()
        .take(most)
        .map(|s| display(s.as_bytes(), SHOWN))
        .collect();
    shown.join(separator)
}

impl Claims {
    /// Where the token stands at `now` (Unix seconds), or None without `exp` and `nbf`.
    pub fn expiry(&self, now: i64) -> Option<Expiry> {
        if let Some(nbf) = self.nbf.filter(|&nbf| nbf > now) {
            return Some(Expiry::NotYetValid(nbf.abs_diff(now)));
        }
        let exp = self.exp?;
        Some(if exp <= now {
            Expiry::Expired(now.abs_diff(exp))
        } else {
            Expiry::ExpiresIn(exp.abs_diff(now))
        })
    }

    /// Whether the scopes allow POP3 (see [`ScopeFit`]).
    pub fn scope_fit(&self) -> ScopeFit {
        let google = self.scopes.iter().any(|s| s == "https://mail.google.com/");
        if google || has_scope(&self.scopes, "POP.AccessAsUser.All") {
            ScopeFit::Pop
        } else if has_scope(&self.scopes, "IMAP.AccessAsUser.All") {
            ScopeFit::ImapOnly
        } else {
            ScopeFit::Unknown
        }
    }

    /// A sentence for a person about the token at `now`: "expired 3 min ago", "expires in
    /// 58 min", and when the scopes grant IMAP but not POP, "issued for
    /// IMAP.AccessAsUser.All, not POP"; parts joined with "; ". Token strings are sanitized
    /// and cut, so the result is always [`crate::sanitize::is_clean`].
    pub fn describe(&self, now: i64) -> String {
        let mut parts = Vec::new();
        match self.expiry(now) {
            Some(Expiry::Expired(s)) => parts.push(format!("expired {} ago", human_duration(s))),
            Some(Expiry::ExpiresIn(s)) => parts.push(format!("expires in {}", human_duration(s))),
            Some(Expiry::NotYetValid(s)) => {
                parts.push(format!("not valid for another {}", human_duration(s)))
            }
            None => parts.push("no expiry time".to_owned()),
        }
        if self.scope_fit() == ScopeFit::ImapOnly {
            let scopes = shown(&self.scopes, 8, " ");
            parts.push(format!("issued for {scopes}, not POP"));
        }
        if !self.aud.is_empty() {
            parts.push(format!("audience {}", shown(&self.aud, 4, ", ")));
        }
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sanitize::is_clean;

    fn jwt(payload: &str) -> Vec<u8> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"RS256"}"#);
        let body = URL_SAFE_NO_PAD.encode(payload.as_bytes());
        format!("{header}.{body}.ZmFrZS1zaWduYXR1cmU").into_bytes()
    }

    const NOW: i64 = 1_764_633_600;

    /// A made-up token shaped like Microsoft's for Outlook, granted IMAP only.
    fn microsoft() -> Vec<u8> {
        jwt(&format!(
            r#"{{"aud":"https://outlook.office.com","iss":"https://sts.windows.net/0000/","iat":{},"nbf":{},"exp":{},"scp":"IMAP.AccessAsUser.All","upn":"alice@example.com"}}"#,
            NOW - 3780,
            NOW - 3780,
            NOW - 180
        ))
    }

    #[test]
    fn a_microsoft_token_for_imap_only() {
        let c = claims(&microsoft()).unwrap_or_default();
        assert_eq!(c.aud, ["https://outlook.office.com"]);
        assert_eq!(c.scopes, ["IMAP.AccessAsUser.All"]);
        assert_eq!(c.iss.as_deref(), Some("https://sts.windows.net/0000/"));
        assert_eq!(c.iat, Some(NOW - 3780));
        assert_eq!(c.expiry(NOW), Some(Expiry::Expired(180)));
        assert_eq!(c.scope_fit(), ScopeFit::ImapOnly);
        assert_eq!(
            c.describe(NOW),
            "expired 3 min ago; issued for IMAP.AccessAsUser.All, not POP; audience https://outlook.office.com"
        );
        assert_eq!(c.expiry(NOW - 3600), Some(Expiry::ExpiresIn(3420)));
        assert!(c.describe(NOW - 3600).starts_with("expires in 57 min"));
        assert_eq!(c.expiry(NOW - 4000), Some(Expiry::NotYetValid(220)));
    }

    #[test]
    fn scopes_that_cover_pop() {
        let both = jwt(
            r#"{"scp":"IMAP.AccessAsUser.All https://outlook.office.com/POP.AccessAsUser.All","aud":["a","b"]}"#,
        );
        let c = claims(&both).unwrap_or_default();
        assert_eq!(c.scopes.len(), 2);
        assert_eq!(c.aud, ["a", "b"]);
        assert_eq!(c.scope_fit(), ScopeFit::Pop);
        let google = claims(&jwt(r#"{"scope":["https://mail.google.com/"]}"#)).unwrap_or_default();
        assert_eq!(google.scope_fit(), ScopeFit::Pop);
        let none = claims(&jwt(r#"{"scope":"openid profile"}"#)).unwrap_or_default();
        assert_eq!(none.scope_fit(), ScopeFit::Unknown);
        assert_eq!(none.describe(NOW), "no expiry time");
    }

    #[test]
    fn not_jwts_are_none() {
        assert_eq!(claims(b"ya29.a0AfH6SMBx-opaque"), None);
        assert_eq!(claims(b"demo-token"), None);
        assert_eq!(claims(b""), None);
        assert_eq!(claims(b"a.b.c"), None);
        assert_eq!(claims(b"a.b.c.d.e"), None);
        let header = URL_SAFE_NO_PAD.encode(b"{}");
        let array = URL_SAFE_NO_PAD.encode(b"[1]");
        assert_eq!(claims(format!("{header}.{array}.x").as_bytes()), None);
        assert_eq!(claims(format!("{array}.{header}.x").as_bytes()), None);
        let bad_utf8 = URL_SAFE_NO_PAD.encode(b"{\"iss\":\"\xff\"}");
        assert_eq!(claims(format!("{header}.{bad_utf8}.x").as_bytes()), None);
        assert_eq!(claims(b"\xff\x00.\x01.\x02"), None);
    }

    #[test]
    fn padded_parts_and_odd_claim_types() {
        let header = base64::engine::general_purpose::URL_SAFE.encode(br#"{"alg":"none"}"#);
        let body =
            base64::engine::general_purpose::URL_SAFE.encode(br#"{"exp":1.5e9,"aud":7,"iss":3}"#);
        let c = claims(format!("{header}.{body}.").as_bytes()).unwrap_or_default();
        assert_eq!(c.exp, Some(1_500_000_000));
        assert!(c.aud.is_empty());
        assert_eq!(c.iss, None);
    }

    #[test]
    fn durations() {
        assert_eq!(human_duration(0), "0 s");
        assert_eq!(human_duration(59), "59 s");
        assert_eq!(human_duration(60), "1 min");
        assert_eq!(human_duration(7199), "119 min");
        assert_eq!(human_duration(7200), "2 h");
        assert_eq!(
            human_duration(u64::MAX),
            format!("{} days", u64::MAX / 86_400)
        );
        let c = Claims {
            exp: Some(i64::MIN),
            ..Default::default()
        };
        assert!(matches!(c.expiry(i64::MAX), Some(Expiry::Expired(_))));
    }

    #[test]
    fn huge_and_broken_tokens_are_none() {
        let mut huge = vec![b'A'; 4 << 20];
        huge[1 << 20] = b'.';
        huge[2 << 20] = b'.';
        assert_eq!(claims(&huge), None);
        assert_eq!(claims(&vec![b'.'; 1 << 16]), None);
        assert_eq!(claims(b"..."), None);
        let header = URL_SAFE_NO_PAD.encode(b"{}");
        let nested = URL_SAFE_NO_PAD.encode("[".repeat(10_000).as_bytes());
        assert_eq!(claims(format!("{header}.{nested}.x").as_bytes()), None);
    }

    #[test]
    fn hostile_claims_are_sanitized_and_cut() {
        let long = "y".repeat(50_000);
        let c = claims(&jwt(&format!(
            r#"{{"scp":"IMAP.AccessAsUser.All \u001b[2J{long}","aud":"\u202e{long}"}}"#
        )))
        .unwrap_or_default();
        let shown = c.describe(NOW);
        assert!(is_clean(&shown), "{shown}");
        assert!(shown.len() < 1000, "{}", shown.len());
    }
}
