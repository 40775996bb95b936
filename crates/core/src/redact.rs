//! Secrets in client lines, replaced by markers of the same length: the PASS argument, the
//! APOP digest, AUTH initial responses and SASL response lines. For SASL PLAIN the
//! authorization and authentication identities are kept and only the password is masked, and
//! the result is still valid base64 of the same length, so a redacted transcript replays
//! through the engine exactly like the original. For XOAUTH2 and OAUTHBEARER (RFC 7628) the
//! same holds: the token is masked, the user (`user=`, the GS2 `a=`), `host=`, `port=` and
//! the `^A` framing are kept, and the dummy response `AQ==` stays as it was.

use super::auth;
use super::command::{Command, Keyword};
use super::oauth::{Mechanism, grammar};

const MASK: u8 = b'*';
/// An APOP digest must stay 32 hex digits to replay like the original (GEN-006 checks it).
const HEX_MASK: u8 = b'0';

/// The redacted form of one client line (without its line end), or None if it holds no secret.
/// `sasl_mechanism` is set while the line answers a SASL challenge.
///
/// Only the secret token is masked, where it stands: every other octet of the line (the
/// keyword, the user name, the mechanism, any extra argument, the spacing) is kept, and the
/// line keeps its length, so the recording still says what was sent.
pub fn client_line(line: &[u8], sasl_mechanism: Option<&str>) -> Option<Vec<u8>> {
    if let Some(mech) = sasl_mechanism {
        // The cancel and the OAuth dummy responses carry nothing to mask.
        return (line != b"*" && !crate::oauth::is_dummy_response(line))
            .then(|| sasl_payload(line, mech));
    }
    let (keyword, span) = secret_span(line)?;
    let secret = &line[span.clone()];
    let masked = match keyword {
        Keyword::Pass => vec![MASK; secret.len()],
        Keyword::Apop => vec![HEX_MASK; secret.len()],
        Keyword::Auth if secret == b"=" => return None,
        Keyword::Auth => {
            let mech = tokens(line)
                .nth(1)
                .map(|r| String::from_utf8_lossy(&line[r]).to_ascii_uppercase())
                .unwrap_or_default();
            sasl_payload(secret, &mech)
        }
        _ => return None,
    };
    let mut out = line.to_vec();
    out.splice(span, masked);
    Some(out)
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The blank-separated tokens of a line, as ranges.
fn tokens(line: &[u8]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let from = at + line.get(at..)?.iter().position(|&b| !is_blank(b))?;
        let to = line[from..]
            .iter()
            .position(|&b| is_blank(b))
            .map_or(line.len(), |i| from + i);
        at = to;
        Some(from..to)
    })
}

/// Where the secret of a PASS, APOP or AUTH line stands, with the command's keyword: the rest
/// of the line after `PASS ` (a password may hold spaces, RFC 1939 §7), the second argument
/// of APOP (the digest) and of AUTH (the initial response). Leading blanks and tabs between
/// tokens are tolerated (a server may accept ` PASS x` or `PASS\tx`): a secret is masked even
/// when the line is malformed.
pub fn secret_span(line: &[u8]) -> Option<(Keyword, std::ops::Range<usize>)> {
    let mut toks = tokens(line);
    let verb = toks.next()?;
    let keyword = Keyword::parse(&line[verb.clone()]);
    let span = match keyword {
        // RFC 1939 §7: the password is everything after the one separator.
        Keyword::Pass if verb.end < line.len() => verb.end + 1..line.len(),
        Keyword::Apop | Keyword::Auth => toks.nth(1)?,
        _ => return None,
    };
    (!span.is_empty()).then_some((keyword, span))
}

/// The keyword of a typed line as a lenient server reads it (leading blanks skipped).
pub fn typed_keyword(line: &str) -> Keyword {
    let b = line.as_bytes();
    tokens(b)
        .next()
        .map_or(Keyword::Other, |r| Keyword::parse(&b[r]))
}

/// The octet offset where the secret of a line begins (see [`secret_span`]; `AUTH mech =`
/// holds none), or None. While a line is typed everything from there on is secret: the user
/// has not finished it.
fn secret_start(line: &[u8]) -> Option<usize> {
    let (keyword, span) = secret_span(line)?;
    let empty_sasl = keyword == Keyword::Auth && line.get(span.clone()) == Some(&b"="[..]);
    (!empty_sasl).then_some(span.start)
}

/// `line` with everything from its secret on masked, a `*` a character (a cursor over a typed
/// line stays where it was).
fn masked_from_secret(line: &[u8]) -> Vec<u8> {
    let Some(at) = secret_start(line) else {
        return line.to_vec();
    };
    let (kept, secret) = line.split_at(at.min(line.len()));
    let stars = String::from_utf8_lossy(secret).chars().count();
    [kept, &vec![b'*'; stars]].concat()
}

/// A typed line as it may be shown: the secret (where [`secret_span`] puts it; a bare
/// `AUTH mech =` holds none) masked with `*` char for char, every other character kept, so
/// a cursor over it stays where it was.
pub fn typed_form(line: &str) -> String {
    String::from_utf8_lossy(&masked_from_secret(line.as_bytes())).into_owned()
}

/// A parsed command as it may be shown, in octets for [`crate::sanitize::display`] (invalid
/// UTF-8 kept, to be shown as `\xff` as every other output shows it):
/// [`Command::redacted_bytes`], and when the engine read no secret in it, the secret a
/// lenient server would read (` PASS x`) masked all the same, as a typed line is.
pub fn shown(cmd: &Command) -> Vec<u8> {
    if cmd.secret.is_some() {
        return cmd.redacted_bytes();
    }
    let mut raw = cmd.verb.clone();
    for a in &cmd.args {
        raw.push(b' ');
        raw.extend_from_slice(a);
    }
    masked_from_secret(&raw)
}

/// What a command history may keep of a typed line: PASS, APOP and AUTH lose their secrets
/// entirely (not even a masked length is worth storing). Read leniently, as a server might.
pub fn history_form(line: &str) -> String {
    let b = line.as_bytes();
    let normal: Vec<&[u8]> = tokens(b).map(|r| &b[r]).collect();
    let cmd = Command::parse(&normal.join(&b' '), 0);
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
    let all_masked = || vec![MASK; b64.len()];
    // The decoded payload holds the password or token: wiped when dropped.
    let Some(decoded) = auth::b64decode(b64).map(zeroize::Zeroizing::new) else {
        return all_masked();
    };
    let oauth = Mechanism::parse(mechanism).and_then(|m| oauth_masked(&decoded, m));
    let masked = match (mechanism, auth::parse_plain(&decoded), oauth) {
        (_, _, Some(m)) => m,
        ("PLAIN", Some((authz, authc, pw)), _) => {
            let mut m = authz.to_vec();
            m.push(0);
            m.extend_from_slice(authc);
            m.push(0);
            m.extend(std::iter::repeat_n(MASK, pw.len()));
            m
        }
        _ => vec![MASK; decoded.len()],
    };
    let out = auth::b64encode(&masked).into_bytes();
    // Non-canonical base64 (no padding, say) would re-encode to another length.
    if out.len() == b64.len() {
        out
    } else {
        all_masked()
    }
}

/// An XOAUTH2 or OAUTHBEARER client message with its secrets masked, same length: the GS2
/// header, the keys and the `host`, `port` and (XOAUTH2's) `user` values kept, every other
/// value masked (`auth` keeps its scheme, `Bearer `; an unknown key may carry a secret too).
/// A message of `^A`s alone (the dummy response) holds nothing and is kept. None when
/// [`grammar::layout`] refuses the message: the caller then masks all of it, and the
/// all-`*` message is as malformed as the original, so the recording reads the same.
fn oauth_masked(decoded: &[u8], mechanism: Mechanism) -> Option<Vec<u8>> {
    if decoded.iter().all(|&b| b == 1) {
        return Some(decoded.to_vec());
    }
    let layout = grammar::layout(mechanism, decoded)?;
    let mut out = layout.head.to_vec();
    for (key, value) in layout.pairs {
        out.extend_from_slice(key);
        out.push(b'=');
        let kept = match key {
            b"host" | b"port" => value.len(),
            // A user name that holds `auth=` is a client's framing gone wrong, not a name;
            // OAUTHBEARER names its user in the GS2 header, and its `user=` is unknown.
            b"user"
                if mechanism == Mechanism::XOauth2 && !value.windows(5).any(|w| w == b"auth=") =>
            {
                value.len()
            }
            // `auth=Bearer TOKEN`: the scheme says what kind of secret it was.
            _ => value.iter().position(|&b| b == b' ').map_or(0, |sp| sp + 1),
        };
        out.extend_from_slice(&value[..kept]);
        out.extend(std::iter::repeat_n(MASK, value.len() - kept));
        out.push(1);
    }
    out.push(1);
    Some(out)
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
            crate::command::Syntax::Fine
        );
        assert_eq!(client_line(b"AUTH EXTERNAL =", None), None);
    }

    /// A shown command keeps the octets as sent, so the sanitizer shows invalid UTF-8 as
    /// `\xff`, as the exports do, while the secret stays masked a `*` a character.
    #[test]
    fn a_shown_command_keeps_invalid_utf8_for_the_sanitizer() {
        let noop = Command::parse(b"NOOP \xff\xfe", 0);
        assert_eq!(shown(&noop), b"NOOP \xff\xfe");
        let shown_text = crate::sanitize::display(&shown(&noop), 80);
        assert_eq!(shown_text, r"NOOP \xff\xfe");
        // A secret where a lenient server reads one: masked from there on, also past bad octets.
        let pass = Command::parse(b" PASS s\xffcr\xc3\xa9t", 0);
        assert_eq!(pass.secret, None);
        assert_eq!(shown(&pass), b" PASS ******");
        // The engine's own secret: masked by its length, the rest as sent.
        let apop = Command::parse(b"APOP m\xffrose c4c9334bac560ecc979e58001b3e22fb", 0);
        assert_eq!(
            shown(&apop),
            [b"APOP m\xffrose ".as_slice(), &[b'*'; 32]].concat()
        );
        assert_eq!(
            apop.redacted(),
            format!("APOP m\u{FFFD}rose {}", "*".repeat(32))
        );
        assert_eq!(
            shown(&Command::parse(b"AUTH EXTERNAL =", 0)),
            b"AUTH EXTERNAL ="
        );
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

    /// The issue's reproductions: the secret is masked where it stands, the rest is kept.
    #[test]
    fn the_secret_is_masked_where_it_stands() {
        let ir = "AGFsaWNlAExlYWszZFBhc3N3MHJk"; // \0alice\0Leak3dPassw0rd
        for dots in [8, 40] {
            let line = format!("AUTH PLAIN {ir} {}", ".".repeat(dots));
            let red = client_line(line.as_bytes(), None).unwrap_or_default();
            assert_eq!(red.len(), line.len());
            let red = String::from_utf8_lossy(&red).into_owned();
            assert!(red.starts_with("AUTH PLAIN "), "{red}");
            assert!(red.ends_with(&format!(" {}", ".".repeat(dots))), "{red}");
            let token = &red["AUTH PLAIN ".len().."AUTH PLAIN ".len() + ir.len()];
            assert_ne!(token, ir);
            assert_eq!(
                auth::b64decode(token.as_bytes()).unwrap_or_default(),
                b"\0alice\0**************"
            );
        }
        let digest = "c4c9334bac560ecc979e58001b3e22fb";
        let red = client_line(format!("APOP demo {digest} extra").as_bytes(), None);
        assert_eq!(
            red,
            Some(format!("APOP demo {} extra", "0".repeat(32)).into_bytes())
        );
        // Odd spacing and tabs: the secret is still found, the spacing kept.
        assert_eq!(
            client_line(b" PASS hunter2", None),
            Some(b" PASS *******".to_vec())
        );
        assert_eq!(
            client_line(b"PASS\thunter2", None),
            Some(b"PASS\t*******".to_vec())
        );
        assert_eq!(
            client_line(b"APOP  demo\tc4c9", None),
            Some(b"APOP  demo\t0000".to_vec())
        );
        // Unpadded base64 cannot be re-encoded to its length: all of it is masked.
        assert_eq!(
            client_line(b"AUTH PLAIN AGEAYg", None),
            Some(b"AUTH PLAIN ******".to_vec())
        );
    }

    /// A line made of a keyword, blanks and tokens, with the index of the token that is the
    /// secret (None for PASS: the rest of the line after the keyword and one blank).
    fn secret_line() -> impl Strategy<Value = (Vec<u8>, Option<usize>)> {
        let blank = prop::sample::select(vec![b" ".to_vec(), b"  ".to_vec(), b"\t".to_vec()]);
        let token = "[A-Za-z0-9+/=.<>@*-]{1,40}";
        (
            prop::sample::select(vec!["PASS", "pass", "APOP", "apop", "AUTH", "auth"]),
            prop::collection::vec((blank, token), 1..5),
            prop::bool::ANY,
        )
            .prop_map(|(verb, parts, lead)| {
                let mut line = if lead { b" ".to_vec() } else { Vec::new() };
                line.extend_from_slice(verb.as_bytes());
                for (b, t) in &parts {
                    line.extend_from_slice(b);
                    line.extend_from_slice(t.as_bytes());
                }
                let at = (!verb.eq_ignore_ascii_case("PASS")).then_some(2);
                (line, at)
            })
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Any line at all: the length is kept, and outside the secret every octet.
        #[test]
        fn any_line_keeps_its_length_and_the_rest(line in prop::collection::vec(any::<u8>(), 0..120)) {
            if let Some(red) = client_line(&line, None) {
                prop_assert_eq!(red.len(), line.len());
                let (_, span) = secret_span(&line).unwrap_or((Keyword::Other, 0..0));
                prop_assert!(!span.is_empty());
                for i in (0..line.len()).filter(|i| !span.contains(i)) {
                    prop_assert_eq!(red[i], line[i], "octet {}", i);
                }
            }
        }

        /// Any OAuth login, in either form: the token is gone, everything else kept, the line
        /// as long as before and still base64.
        #[test]
        fn oauth_logins_keep_all_but_the_token(
            user in "[ -~]{0,40}",
            host in "[a-z0-9.-]{0,30}",
            port in any::<u16>(),
            token in "[A-Za-z0-9._~+/-]{12,400}=*",
            bearer in any::<bool>(),
            one_line in any::<bool>(),
        ) {
            let mech = if bearer { Mechanism::OauthBearer } else { Mechanism::XOauth2 };
            let ir = crate::oauth::initial_response(mech, user.as_bytes(), host.as_bytes(), port, token.as_bytes())
                .map(|r| r.to_string())
                .unwrap_or_default();
            let line = if one_line { format!("AUTH {} {ir}", mech.name()) } else { ir.clone() };
            let red = client_line(line.as_bytes(), (!one_line).then_some(mech.name())).unwrap_or_default();
            prop_assert_eq!(red.len(), line.len());
            let payload = &red[line.len() - ir.len()..];
            let decoded = auth::b64decode(payload).unwrap_or_default();
            let original = auth::b64decode(ir.as_bytes()).unwrap_or_default();
            let masked = String::from_utf8_lossy(&original).replace(&token, &"*".repeat(token.len()));
            prop_assert_eq!(String::from_utf8_lossy(&decoded), masked);
            prop_assert!(!String::from_utf8_lossy(&red).contains(&auth::b64encode(token.as_bytes())));
        }

        /// Lines built with a known secret token: exactly that token is masked.
        #[test]
        fn the_known_secret_token_is_the_one_masked((line, at) in secret_line()) {
            let span = match at {
                Some(n) => tokens(&line).nth(n),
                None => {
                    let verb = tokens(&line).next().unwrap_or(0..0);
                    Some(verb.end + 1..line.len())
                }
            };
            let red = client_line(&line, None);
            // `AUTH mech =` is an empty initial response, no secret; an APOP digest `=` is one.
            let auth = tokens(&line).next().is_some_and(|v| line[v].eq_ignore_ascii_case(b"AUTH"));
            let empty_ir = |s: &std::ops::Range<usize>| auth && &line[s.clone()] == b"=";
            let Some(span) = span.filter(|s| !s.is_empty() && !empty_ir(s)) else {
                prop_assert!(red.is_none() || at.is_none());
                return Ok(());
            };
            let red = red.unwrap_or_default();
            prop_assert_eq!(red.len(), line.len());
            for i in (0..line.len()).filter(|i| !span.contains(i)) {
                prop_assert_eq!(red[i], line[i], "octet {}", i);
            }
            let masked = &red[span.clone()];
            if line[span.start..].starts_with(b"\t") || line[span.start..].starts_with(b" ") {
                return Ok(()); // PASS with two blanks: the second blank is part of the password.
            }
            let all = |m: u8| masked.iter().all(|&b| b == m);
            let plain_masked = || {
                auth::b64decode(masked)
                    .as_deref()
                    .and_then(auth::parse_plain)
                    .is_some_and(|(_, _, pw)| pw.iter().all(|&b| b == b'*'))
            };
            prop_assert!(all(b'*') || all(b'0') || plain_masked() || auth::b64decode(masked).is_some_and(|d| d.iter().all(|&b| b == b'*')),
                "{:?}", String::from_utf8_lossy(&red));
        }
    }

    const TOKEN: &[u8] = b"EwBwA8l6BAAUkj1oVeryS3cr3t-T0k3n_with.dots~+/";

    fn oauth_lines() -> Vec<(&'static str, String)> {
        let x =
            crate::oauth::initial_response(Mechanism::XOauth2, b"alice@example.com", b"", 0, TOKEN);
        let b = crate::oauth::initial_response(
            Mechanism::OauthBearer,
            b"a,b",
            b"pop.example",
            995,
            TOKEN,
        );
        vec![
            ("XOAUTH2", x.map(|r| r.to_string()).unwrap_or_default()),
            ("OAUTHBEARER", b.map(|r| r.to_string()).unwrap_or_default()),
        ]
    }

    fn assert_no_token(red: &[u8]) {
        let text = String::from_utf8_lossy(red);
        let decoded = auth::b64decode(red).unwrap_or_default();
        let token = String::from_utf8_lossy(TOKEN);
        assert!(!text.contains(&*token), "{text}");
        assert!(!text.contains(&auth::b64encode(TOKEN)), "{text}");
        assert!(
            !String::from_utf8_lossy(&decoded).contains(&*token),
            "{text}"
        );
    }

    #[test]
    fn oauth_tokens_are_masked_in_both_forms() {
        let stars = "*".repeat(TOKEN.len());
        let expected = [
            format!("user=alice@example.com\x01auth=Bearer {stars}\x01\x01"),
            format!("n,a=a=2Cb,\x01host=pop.example\x01port=995\x01auth=Bearer {stars}\x01\x01"),
        ];
        for ((mech, ir), want) in oauth_lines().into_iter().zip(expected) {
            // One line: AUTH MECH <base64>.
            let line = format!("AUTH {mech} {ir}");
            let red = client_line(line.as_bytes(), None).unwrap_or_default();
            assert_eq!(red.len(), line.len());
            let prefix = format!("AUTH {mech} ");
            assert!(red.starts_with(prefix.as_bytes()));
            let payload = &red[prefix.len()..];
            assert_no_token(payload);
            assert_eq!(
                auth::b64decode(payload).unwrap_or_default(),
                want.as_bytes()
            );
            // Two lines: the response on its own line, the mechanism in any case.
            for m in [mech.to_owned(), mech.to_ascii_lowercase()] {
                let red = client_line(ir.as_bytes(), Some(&m)).unwrap_or_default();
                assert_eq!(red.len(), ir.len());
                assert_no_token(&red);
                assert_eq!(auth::b64decode(&red).unwrap_or_default(), want.as_bytes());
            }
        }
    }

    #[test]
    fn oauth_dummies_and_discovery_stay_as_sent() {
        // The dummy response must replay as a dummy (OAUTH-004 looks for it): it holds no
        // secret, so it is kept as sent and not marked redacted.
        assert_eq!(client_line(b"AQ==", Some("OAUTHBEARER")), None);
        assert_eq!(client_line(b"AQ==", Some("XOAUTH2")), None);
        assert_eq!(client_line(b"", Some("XOAUTH2")), None);
        // P24's request without a token has nothing to mask.
        let ask = crate::oauth::initial_response(Mechanism::OauthBearer, b"u", b"h", 995, b"")
            .map(|r| r.to_string())
            .unwrap_or_default();
        assert_eq!(
            client_line(ask.as_bytes(), Some("OAUTHBEARER")),
            Some(ask.clone().into_bytes())
        );
    }

    #[test]
    fn odd_oauth_messages_are_masked_whole() {
        let t = String::from_utf8_lossy(TOKEN);
        for (mech, msg) in [
            // The token where a header or user belongs, no framing, a field without `=`.
            ("OAUTHBEARER", format!("n,a=u,auth=Bearer {t}")),
            ("OAUTHBEARER", format!("n,a=u,{t},\x01\x01")),
            ("OAUTHBEARER", format!("q,,\x01auth=Bearer {t}\x01\x01")),
            ("XOAUTH2", format!("user=u auth=Bearer {t}\x01\x01")),
            ("XOAUTH2", t.to_string()),
            ("XOAUTH2", format!("user=u\x01{t}\x01\x01")),
            // Keys the grammar refuses (`key = 1*ALPHA`), a control character or a space in
            // the token, no final `^A`: malformed, so masked whole and still malformed.
            (
                "OAUTHBEARER",
                format!("n,,\x01x-secret=1\x01auth=Bearer {t}\x01\x01"),
            ),
            ("OAUTHBEARER", format!("n,,\x01auth=Bearer {t}\x00\x01\x01")),
            ("XOAUTH2", format!("user=u\x01auth=Bearer {t} x\x01\x01")),
            ("XOAUTH2", format!("user=u\x01auth=Bearer {t}\x01")),
        ] {
            let b64 = auth::b64encode(msg.as_bytes());
            let red = client_line(b64.as_bytes(), Some(mech)).unwrap_or_default();
            assert_eq!(red.len(), b64.len());
            assert_no_token(&red);
            let decoded = auth::b64decode(&red).unwrap_or_default();
            assert!(decoded.iter().all(|&b| b == b'*'), "{mech} {msg:?}");
        }
        // Unknown keys may carry secrets: their values are masked, host and port kept.
        let msg = b"n,,\x01host=h\x01port=1\x01xsecret=abc\x01user=u\x01auth=Bearer t\x01\x01";
        let red = client_line(auth::b64encode(msg).as_bytes(), Some("OAUTHBEARER"));
        assert_eq!(
            auth::b64decode(&red.unwrap_or_default()).unwrap_or_default(),
            b"n,,\x01host=h\x01port=1\x01xsecret=***\x01user=*\x01auth=Bearer *\x01\x01"
        );
        // XOAUTH2's user is kept, unless it holds what looks like the token's pair.
        for (msg, want) in [
            (
                &b"user=u\x01auth=Bearer t\x01\x01"[..],
                &b"user=u\x01auth=Bearer *\x01\x01"[..],
            ),
            (
                b"user=auth=x\x01auth=Bearer t\x01\x01",
                b"user=******\x01auth=Bearer *\x01\x01",
            ),
        ] {
            let red = client_line(auth::b64encode(msg).as_bytes(), Some("XOAUTH2"));
            assert_eq!(
                auth::b64decode(&red.unwrap_or_default()).unwrap_or_default(),
                want
            );
        }
        // Unpadded or broken base64: all of it masked, as for PLAIN.
        assert_eq!(
            client_line(b"dXNlcj11AWF1dGg", Some("XOAUTH2")),
            Some(b"***************".to_vec())
        );
        assert_eq!(
            client_line(b"\xff\xfe", Some("XOAUTH2")),
            Some(b"**".to_vec())
        );
    }

    #[test]
    fn lenient_lines_are_secret_in_history_typing_and_display() {
        // A lenient server reads these as logins too.
        assert_eq!(history_form(" PASS hunter2"), "PASS");
        assert_eq!(history_form("PASS\thunter2"), "PASS");
        assert_eq!(history_form("\tapop  mrose\tc4c9"), "APOP mrose");
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
        assert_eq!(typed_keyword("\t pass x"), Keyword::Pass);
        let cmd = Command::parse(b" PASS hunter2", 15);
        assert_eq!(command_line(&cmd), b" PASS *******".to_vec());
        assert_eq!(shown(&cmd), b" PASS *******");
        assert_eq!(
            shown(&Command::parse(b"PASS\thunter2", 14)),
            b"PASS\t*******"
        );
        assert_eq!(shown(&Command::parse(b"PASS hunter2", 14)), b"PASS *******");
        assert_eq!(shown(&Command::parse(b"RETR 1", 8)), b"RETR 1");
    }
}
