//! Secrets in client lines, replaced by markers of the same length: the PASS argument, the
//! APOP digest, AUTH initial responses and SASL response lines. For SASL PLAIN the
//! authorization and authentication identities are kept and only the password is masked, and
//! the result is still valid base64 of the same length, so a redacted transcript replays
//! through the engine exactly like the original.

use super::auth;
use super::command::{Command, Keyword};

const MASK: u8 = b'*';
/// An APOP digest must stay 32 hex digits to replay like the original (GEN-006 checks it).
const HEX_MASK: u8 = b'0';

/// The redacted form of one client line (without its line end), or None if it holds no secret.
/// `sasl_mechanism` is set while the line answers a SASL challenge.
pub fn client_line(line: &[u8], sasl_mechanism: Option<&str>) -> Option<Vec<u8>> {
    if let Some(mech) = sasl_mechanism {
        return (line != b"*").then(|| sasl_payload(line, mech));
    }
    let cmd = Command::parse(line, line.len() + 2);
    let Some(secret) = cmd.secret.as_ref() else {
        // ` PASS x`, `PASS\tx`: no PASS to the engine, but a login to a lenient server.
        let text = std::str::from_utf8(line).ok()?;
        typed_secret_start(text)?;
        return Some(typed_form(text).into_bytes());
    };
    let start = line.len() - secret.len();
    let masked = match cmd.keyword {
        Keyword::Pass => vec![MASK; secret.len()],
        Keyword::Apop => vec![HEX_MASK; secret.len()],
        Keyword::Auth if secret.expose() == b"=" => return None,
        Keyword::Auth => sasl_payload(secret.expose(), cmd.mechanism().as_deref().unwrap_or("")),
        _ => return None,
    };
    let mut out = line[..start].to_vec();
    out.extend_from_slice(&masked);
    Some(out)
}

/// The tokens of a typed line as a lenient server reads them: leading white space skipped,
/// any run of spaces and tabs one separator. Each token with its char offset.
fn lenient_tokens(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None;
    for (ci, (bi, c)) in line.char_indices().enumerate() {
        match (c == ' ' || c == '\t', start) {
            (true, Some((cs, bs))) => {
                out.push((cs, &line[bs..bi]));
                start = None;
            }
            (false, None) => start = Some((ci, bi)),
            _ => {}
        }
    }
    if let Some((cs, bs)) = start {
        out.push((cs, &line[bs..]));
    }
    out
}

/// The keyword of a typed line as a lenient server reads it (leading white space skipped).
pub fn typed_keyword(line: &str) -> Keyword {
    lenient_tokens(line)
        .first()
        .map_or(Keyword::Other, |t| Keyword::parse(t.1.as_bytes()))
}

/// The char offset where the secret of a typed line begins, read as leniently as a server
/// might (` PASS x` and `PASS\tx` are logins too): the rest of the line after PASS, the
/// digest of APOP and whatever follows it, an AUTH initial response (but not `=`) and what
/// follows it. None when the line holds no secret.
pub fn typed_secret_start(line: &str) -> Option<usize> {
    let tokens = lenient_tokens(line);
    let (at, verb) = *tokens.first()?;
    match Keyword::parse(verb.as_bytes()) {
        // The password is the rest of the line: after the one separator following PASS.
        Keyword::Pass => {
            let after = at + verb.chars().count() + 1;
            (line.chars().count() >= after).then_some(after)
        }
        Keyword::Apop => tokens.get(2).map(|t| t.0),
        Keyword::Auth => match tokens.get(2..) {
            Some([(_, "=")]) => None,
            Some([first, ..]) => Some(first.0),
            _ => None,
        },
        _ => None,
    }
}

/// A typed line as it may be shown: the secret (see [`typed_secret_start`]) masked with `*`
/// char for char, every other character kept, so a cursor over it stays where it was.
pub fn typed_form(line: &str) -> String {
    match typed_secret_start(line) {
        Some(at) => line
            .chars()
            .enumerate()
            .map(|(i, c)| if i >= at { '*' } else { c })
            .collect(),
        None => line.to_owned(),
    }
}

/// A parsed command as it may be shown: [`Command::redacted`], and when the engine read no
/// secret in it, the secret a lenient server would read (` PASS x`) masked all the same.
pub fn shown(cmd: &Command) -> String {
    if cmd.secret.is_some() {
        return cmd.redacted();
    }
    let mut raw = cmd.verb.clone();
    for a in &cmd.args {
        raw.push(b' ');
        raw.extend_from_slice(a);
    }
    typed_form(&String::from_utf8_lossy(&raw))
}

/// What a command history may keep of a typed line: PASS, APOP and AUTH lose their secrets
/// entirely (not even a masked length is worth storing). Read leniently, as a server might.
pub fn history_form(line: &str) -> String {
    let tokens = lenient_tokens(line);
    let normal = tokens.iter().map(|t| t.1).collect::<Vec<_>>().join(" ");
    let cmd = Command::parse(normal.as_bytes(), 0);
    match cmd.keyword {
        Keyword::Pass => "PASS".to_owned(),
        Keyword::Apop => format!(
            "APOP {}",
            String::from_utf8_lossy(cmd.arg(0).unwrap_or_default())
        ),
        Keyword::Auth => match cmd.mechanism() {
            Some(m) => format!("AUTH {m}"),
            None => "AUTH".to_owned(),
        },
        _ => line.to_owned(),
    }
}

/// A parsed command as a redacted line that replays like the original.
pub fn command_line(cmd: &Command) -> Vec<u8> {
    let mut raw = cmd.verb.clone();
    for a in cmd.args.iter().take(1) {
        raw.push(b' ');
        raw.extend_from_slice(a);
    }
    if let Some(s) = &cmd.secret {
        raw.push(b' ');
        raw.extend_from_slice(s.expose());
    }
    for a in cmd.args.iter().skip(1) {
        raw.push(b' ');
        raw.extend_from_slice(a);
    }
    let raw = if cmd.keyword == Keyword::Pass {
        let mut r = cmd.verb.clone();
        if let Some(s) = &cmd.secret {
            r.push(b' ');
            r.extend_from_slice(s.expose());
        }
        r
    } else {
        raw
    };
    client_line(&raw, None).unwrap_or(raw)
}

/// A base64 SASL payload with its secret masked, same length, still valid base64 when the
/// original was.
fn sasl_payload(b64: &[u8], mechanism: &str) -> Vec<u8> {
    let Some(decoded) = auth::b64decode(b64) else {
        return vec![MASK; b64.len()];
    };
    let masked = match (mechanism, auth::parse_plain(&decoded)) {
        ("PLAIN", Some((authz, authc, pw))) => {
            let mut m = authz.to_vec();
            m.push(0);
            m.extend_from_slice(authc);
            m.push(0);
            m.extend(std::iter::repeat_n(MASK, pw.len()));
            m
        }
        _ => vec![MASK; decoded.len()],
    };
    auth::b64encode(&masked).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keeps_no_secret() {
        assert_eq!(history_form("PASS hunter2"), "PASS");
        assert_eq!(
            history_form("APOP mrose c4c9334bac560ecc979e58001b3e22fb"),
            "APOP mrose"
        );
        assert_eq!(
            history_form("auth plain AGFsaWNlAHNlY3JldA=="),
            "AUTH PLAIN"
        );
        assert_eq!(history_form("RETR 1"), "RETR 1");
        // A lenient server reads these as logins too.
        assert_eq!(history_form(" PASS hunter2"), "PASS");
        assert_eq!(history_form("PASS\thunter2"), "PASS");
        assert_eq!(history_form("\tapop  mrose\tc4c9"), "APOP mrose");
    }

    #[test]
    fn typed_lines_mask_the_secret_where_it_is() {
        assert_eq!(typed_form("PASS hunter2 x"), "PASS *********");
        assert_eq!(typed_form(" PASS hunter2"), " PASS *******");
        assert_eq!(typed_form("PASS\thunter2"), "PASS\t*******");
        assert_eq!(typed_form("PASS"), "PASS");
        assert_eq!(typed_form("PASS "), "PASS ");
        assert_eq!(typed_form("APOP mrose c4c9 x"), "APOP mrose ******");
        assert_eq!(typed_form("AUTH PLAIN AGFs"), "AUTH PLAIN ****");
        assert_eq!(typed_form("AUTH\tPLAIN\tAGFs"), "AUTH\tPLAIN\t****");
        assert_eq!(typed_form("AUTH EXTERNAL ="), "AUTH EXTERNAL =");
        assert_eq!(typed_form("USER pässword"), "USER pässword");
        assert_eq!(typed_form("PASS pä ss"), "PASS *****");
    }

    #[test]
    fn pass_apop_and_auth() {
        assert_eq!(
            client_line(b"PASS my secret", None),
            Some(b"PASS *********".to_vec())
        );
        assert_eq!(client_line(b"USER alice", None), None);
        let apop =
            client_line(b"APOP mrose c4c9334bac560ecc979e58001b3e22fb", None).unwrap_or_default();
        assert_eq!(apop, [b"APOP mrose ".as_slice(), &[b'0'; 32]].concat());
        let cmd = Command::parse(b"APOP mrose c4c9334bac560ecc979e58001b3e22fb", 0);
        assert_eq!(command_line(&cmd), apop);
        assert_eq!(
            Command::parse(&apop, 0).syntax(),
            crate::protocol::command::Syntax::Fine
        );
        assert_eq!(client_line(b"AUTH EXTERNAL =", None), None);
        // What a lenient server reads as a login is masked in recordings too.
        assert_eq!(
            client_line(b" PASS hunter2", None),
            Some(b" PASS *******".to_vec())
        );
        assert_eq!(
            client_line(b"PASS\thunter2", None),
            Some(b"PASS\t*******".to_vec())
        );
        let cmd = Command::parse(b" PASS hunter2", 15);
        assert_eq!(command_line(&cmd), b" PASS *******".to_vec());
        assert_eq!(shown(&cmd), " PASS *******");
        assert_eq!(
            shown(&Command::parse(b"PASS\thunter2", 14)),
            "PASS\t*******"
        );
        assert_eq!(shown(&Command::parse(b"PASS hunter2", 14)), "PASS *******");
        assert_eq!(shown(&Command::parse(b"RETR 1", 8)), "RETR 1");
    }

    #[test]
    fn plain_keeps_the_identities() {
        let ir = auth::plain_response(b"", b"alice", b"s3cret");
        let line = format!("AUTH PLAIN {ir}");
        let red = client_line(line.as_bytes(), None).unwrap_or_default();
        assert_eq!(red.len(), line.len());
        let payload = &red["AUTH PLAIN ".len()..];
        let decoded = auth::b64decode(payload).unwrap_or_default();
        assert_eq!(decoded, b"\0alice\0******");
        // As a SASL response line too.
        let red = client_line(ir.as_bytes(), Some("PLAIN")).unwrap_or_default();
        assert_eq!(
            auth::b64decode(&red).unwrap_or_default(),
            b"\0alice\0******"
        );
    }

    #[test]
    fn other_sasl_lines_keep_length_and_validity() {
        let resp = auth::cram_md5_response(b"tim", b"tanstaaftanstaaf", b"<1@x>");
        let red = client_line(resp.as_bytes(), Some("CRAM-MD5")).unwrap_or_default();
        assert_eq!(red.len(), resp.len());
        assert!(auth::b64decode(&red).is_some());
        assert!(!String::from_utf8_lossy(&red).contains(&resp));
        assert_eq!(client_line(b"*", Some("LOGIN")), None);
        assert_eq!(client_line(b"!!!!", Some("LOGIN")), Some(b"****".to_vec()));
    }
}
