//! Client commands: keyword, arguments and what reply shape they call for (RFC 1939, 2449,
//! 2595, 5034, 6856).

use std::fmt;

use zeroize::Zeroizing;

/// Bytes that must not be shown or stored by default: a password, an APOP digest, a SASL
/// initial response. `Debug` and `Display` print only a length-keeping mask.
/// The bytes are wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Takes ownership of `bytes`; they are wiped when the `Secret` is dropped (copies the
    /// caller made before are its own to wipe).
    ///
    /// ```
    /// use popscope_core::Secret;
    ///
    /// let password = Secret::new(b"hunter2".to_vec());
    /// assert_eq!(format!("{password:?}"), "Secret(7 octets)");
    /// assert_eq!(password.expose(), b"hunter2");
    /// ```
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(Zeroizing::new(bytes))
    }
    /// The secret itself, for code that must send or decode it. Do not log or store it.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    /// Length in octets; safe to show (masks keep it).
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// The secret is zero octets long.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} octets)", self.0.len())
    }
}

/// Command keywords popscope knows. Anything else is [`Keyword::Other`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Keyword {
    /// `USER name` (RFC 1939 §7).
    User,
    /// `PASS password`, after `USER +OK` (RFC 1939 §7).
    Pass,
    /// `APOP name digest` (RFC 1939 §7).
    Apop,
    /// `AUTH [mechanism [initial-response]]` (RFC 5034).
    Auth,
    /// `QUIT`: ends the session, entering UPDATE from TRANSACTION (RFC 1939 §6).
    Quit,
    /// `STAT`: message count and size (RFC 1939 §5).
    Stat,
    /// `LIST [msg]`: scan listings (RFC 1939 §5).
    List,
    /// `RETR msg`: a whole message (RFC 1939 §5).
    Retr,
    /// `DELE msg`: marks a message deleted (RFC 1939 §5).
    Dele,
    /// `NOOP` (RFC 1939 §5).
    Noop,
    /// `RSET`: unmarks deleted messages (RFC 1939 §5).
    Rset,
    /// `TOP msg n`: headers and the first `n` body lines (RFC 1939 §7).
    Top,
    /// `UIDL [msg]`: unique-id listings (RFC 1939 §7).
    Uidl,
    /// `CAPA`: the capability list (RFC 2449 §5).
    Capa,
    /// `STLS`: upgrade to TLS (RFC 2595 §4).
    Stls,
    /// `UTF8`: UTF-8 mode (RFC 6856 §2).
    Utf8,
    /// `LANG [range]`: reply language (RFC 6856 §3).
    Lang,
    /// Any other keyword (an extension such as `LAST` or `XTND`, or a typo); the verb as sent
    /// is in [`Command::verb`].
    Other,
}

impl Keyword {
    /// Every known keyword, [`Keyword::Other`] excepted, in the order above.
    pub const ALL: [Keyword; 17] = [
        Keyword::User,
        Keyword::Pass,
        Keyword::Apop,
        Keyword::Auth,
        Keyword::Quit,
        Keyword::Stat,
        Keyword::List,
        Keyword::Retr,
        Keyword::Dele,
        Keyword::Noop,
        Keyword::Rset,
        Keyword::Top,
        Keyword::Uidl,
        Keyword::Capa,
        Keyword::Stls,
        Keyword::Utf8,
        Keyword::Lang,
    ];

    /// The keyword `word` names, case-insensitively (RFC 1939 §3); [`Keyword::Other`] if none.
    ///
    /// ```
    /// use popscope_core::Keyword;
    ///
    /// assert_eq!(Keyword::parse(b"retr"), Keyword::Retr);
    /// assert_eq!(Keyword::parse(b"XTND"), Keyword::Other);
    /// ```
    pub fn parse(word: &[u8]) -> Keyword {
        Keyword::ALL
            .into_iter()
            .find(|k| k.as_str().as_bytes().eq_ignore_ascii_case(word))
            .unwrap_or(Keyword::Other)
    }

    /// The keyword in upper case as the RFCs spell it; `?` for [`Keyword::Other`].
    pub fn as_str(self) -> &'static str {
        match self {
            Keyword::User => "USER",
            Keyword::Pass => "PASS",
            Keyword::Apop => "APOP",
            Keyword::Auth => "AUTH",
            Keyword::Quit => "QUIT",
            Keyword::Stat => "STAT",
            Keyword::List => "LIST",
            Keyword::Retr => "RETR",
            Keyword::Dele => "DELE",
            Keyword::Noop => "NOOP",
            Keyword::Rset => "RSET",
            Keyword::Top => "TOP",
            Keyword::Uidl => "UIDL",
            Keyword::Capa => "CAPA",
            Keyword::Stls => "STLS",
            Keyword::Utf8 => "UTF8",
            Keyword::Lang => "LANG",
            Keyword::Other => "?",
        }
    }

    /// Commands RFC 1939 §5 allows only in TRANSACTION (TOP and UIDL by §7).
    pub(crate) fn is_transaction_only(self) -> bool {
        matches!(
            self,
            Keyword::Stat
                | Keyword::List
                | Keyword::Retr
                | Keyword::Dele
                | Keyword::Noop
                | Keyword::Rset
                | Keyword::Top
                | Keyword::Uidl
        )
    }

    /// Commands that try to log in.
    pub(crate) fn is_authentication(self) -> bool {
        matches!(self, Keyword::Pass | Keyword::Apop | Keyword::Auth)
    }

    /// Commands that take no argument at all.
    pub(crate) fn takes_no_argument(self) -> bool {
        matches!(
            self,
            Keyword::Quit
                | Keyword::Stat
                | Keyword::Noop
                | Keyword::Rset
                | Keyword::Capa
                | Keyword::Stls
                | Keyword::Utf8
        )
    }
}

impl fmt::Display for Keyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed client command line. Secret arguments are kept apart from the others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// What the verb was read as.
    pub keyword: Keyword,
    /// The keyword exactly as typed (case kept: GEN-009 compares `stat` with `STAT`).
    pub verb: Vec<u8>,
    /// Arguments split on single spaces; for PASS the whole rest of the line is the one secret
    /// and this is empty; for APOP only the name; for AUTH only the mechanism.
    pub args: Vec<Vec<u8>>,
    /// PASS password, APOP digest or SASL initial response.
    pub secret: Option<Secret>,
    /// Length of the line on the wire including its line end (GEN-010, SASL-011).
    pub wire_len: usize,
    /// The text after the keyword was not made of single-space separated tokens.
    pub irregular_spacing: bool,
}

impl Command {
    /// Parses one command line, `content` without its line end, as a lenient server would
    /// (`wire_len` is the line's length on the wire, line end included, and is only
    /// recorded). Never fails: an unknown verb is [`Keyword::Other`], odd spacing sets
    /// [`Command::irregular_spacing`].
    ///
    /// ```
    /// use popscope_core::{Command, Keyword};
    ///
    /// let cmd = Command::parse(b"PASS my secret", 16);
    /// assert_eq!(cmd.keyword, Keyword::Pass);
    /// assert_eq!(cmd.redacted(), "PASS *********");
    /// assert!(Command::parse(b"LIST", 6).expects_multiline());
    /// assert!(!Command::parse(b"LIST 1", 8).expects_multiline());
    /// ```
    pub fn parse(content: &[u8], wire_len: usize) -> Command {
        if let Some(auth) = Self::lenient_auth(content, wire_len) {
            return auth;
        }
        let (verb, rest) = match memchr::memchr(b' ', content) {
            Some(i) => (&content[..i], Some(&content[i + 1..])),
            None => (content, None),
        };
        let keyword = Keyword::parse(verb);
        let mut args: Vec<Vec<u8>> = Vec::new();
        let mut secret = None;
        let mut irregular_spacing = false;
        if let Some(rest) = rest {
            if keyword == Keyword::Pass {
                // RFC 1939 §7: the password is the rest of the line and may contain spaces.
                secret = Some(Secret::new(rest.to_vec()));
            } else {
                let mut tokens: Vec<&[u8]> = rest.split(|&b| b == b' ').collect();
                if tokens.iter().any(|t| t.is_empty()) {
                    irregular_spacing = true;
                    tokens.retain(|t| !t.is_empty());
                }
                let secret_at = match keyword {
                    Keyword::Apop => Some(1),
                    Keyword::Auth => Some(1),
                    _ => None,
                };
                for (i, t) in tokens.into_iter().enumerate() {
                    if Some(i) == secret_at {
                        secret = Some(Secret::new(t.to_vec()));
                    } else {
                        args.push(t.to_vec());
                    }
                }
            }
        }
        Command {
            keyword,
            verb: verb.to_vec(),
            args,
            secret,
            wire_len,
            irregular_spacing,
        }
    }

    /// `AUTH` typed with leading blanks or tabs (` AUTH PLAIN`, `AUTH\tPLAIN`), as a lenient
    /// server reads it: an AUTH with irregular spacing. A server that takes it opens a SASL
    /// exchange, and the lines that follow are its responses (secrets), not commands.
    fn lenient_auth(content: &[u8], wire_len: usize) -> Option<Command> {
        let blank = |b: &u8| *b == b' ' || *b == b'\t';
        let strict = content.split(|&b| b == b' ').next().unwrap_or_default();
        let mut tokens = content.split(blank).filter(|t| !t.is_empty());
        let verb = tokens.next()?;
        if Keyword::parse(strict) == Keyword::Auth || Keyword::parse(verb) != Keyword::Auth {
            return None;
        }
        let mut args: Vec<Vec<u8>> = Vec::new();
        let mut secret = None;
        for (i, t) in tokens.enumerate() {
            if i == 1 {
                secret = Some(Secret::new(t.to_vec()));
            } else {
                args.push(t.to_vec());
            }
        }
        Some(Command {
            keyword: Keyword::Auth,
            verb: verb.to_vec(),
            args,
            secret,
            wire_len,
            irregular_spacing: true,
        })
    }

    /// Argument `i` (from 0), if the client gave that many; the secret is not among them.
    pub fn arg(&self, i: usize) -> Option<&[u8]> {
        self.args.get(i).map(Vec::as_slice)
    }

    /// Number of arguments as the client typed them (the secret counts as one).
    pub fn arg_count(&self) -> usize {
        self.args.len() + usize::from(self.secret.is_some())
    }

    /// The SASL mechanism of an `AUTH mech` command, upper-cased.
    pub fn mechanism(&self) -> Option<String> {
        if self.keyword != Keyword::Auth {
            return None;
        }
        self.arg(0)
            .map(|m| String::from_utf8_lossy(m).to_ascii_uppercase())
    }

    /// The command's reply is multi-line when positive (rules.md §1.2, "Response shape"):
    /// CAPA, RETR, TOP always; LIST, UIDL, LANG and AUTH without an argument.
    pub fn expects_multiline(&self) -> bool {
        match self.keyword {
            Keyword::Capa | Keyword::Retr | Keyword::Top => true,
            Keyword::List | Keyword::Uidl | Keyword::Lang | Keyword::Auth => self.arg_count() == 0,
            _ => false,
        }
    }

    /// The keyword is case-insensitive (RFC 1939 §3); was it typed other than upper case?
    pub(crate) fn verb_is_lowercase(&self) -> bool {
        self.verb.iter().any(u8::is_ascii_lowercase)
    }

    /// The command line as it may be shown: secrets masked with `*`, keeping their length
    /// (SASL's empty response `=` is shown as it is). Arguments are raw bytes made text
    /// lossily: still pass the result through [`crate::sanitize::display`], or better, pass
    /// [`Command::redacted_bytes`], which keeps invalid UTF-8 for it to show as `\xff`.
    pub fn redacted(&self) -> String {
        String::from_utf8_lossy(&self.redacted_bytes()).into_owned()
    }

    /// [`Command::redacted`] as the octets were sent (the secret masked), for
    /// [`crate::sanitize::display`].
    pub fn redacted_bytes(&self) -> Vec<u8> {
        let mut s = self.verb.clone();
        // "=" is SASL's empty initial response (RFC 5034 §4): nothing to hide.
        let secret_mask = self.secret.as_ref().map(|x| {
            if x.expose() == b"=" {
                b"=".to_vec()
            } else {
                vec![b'*'; x.len()]
            }
        });
        let parts: Vec<&[u8]> = match self.keyword {
            Keyword::Pass => secret_mask.iter().map(Vec::as_slice).collect(),
            _ => {
                let mut parts: Vec<&[u8]> = self.args.iter().map(Vec::as_slice).collect();
                if let Some(m) = &secret_mask {
                    parts.insert(1.min(parts.len()), m);
                }
                parts
            }
        };
        for p in parts {
            s.push(b' ');
            s.extend_from_slice(p);
        }
        s
    }
}

/// The keyword of popscope's own unknown-command probe (rules.md §4, P5): it cannot be a real
/// extension, so `+OK` to it is a violation rather than a warning.
pub(crate) const PROBE_UNKNOWN_KEYWORD: &[u8] = b"XYZZY";

/// What is wrong with a command line's syntax, if anything (RFC 1939 §3, §5, §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Syntax {
    Fine,
    /// A keyword popscope does not know: maybe an extension (LAST, XTND, X-…).
    UnknownKeyword,
    /// popscope's made-up probe keyword.
    ProbeKeyword,
    MissingArgument,
    MalformedArgument,
    /// Arguments where the command takes none, or too many.
    ExtraArgument,
    /// The message number is missing, zero or not decimal (MSG-009).
    BadMessageNumber,
    /// TOP's line count is missing, negative or not decimal (TOP-002).
    BadLineCount,
}

impl Command {
    pub(crate) fn syntax(&self) -> Syntax {
        let n = self.arg_count();
        match self.keyword {
            Keyword::Other if self.verb.eq_ignore_ascii_case(PROBE_UNKNOWN_KEYWORD) => {
                Syntax::ProbeKeyword
            }
            Keyword::Other => Syntax::UnknownKeyword,
            k if k.takes_no_argument() && n > 0 => Syntax::ExtraArgument,
            Keyword::User | Keyword::Pass if n == 0 => Syntax::MissingArgument,
            Keyword::Apop if n < 2 => Syntax::MissingArgument,
            Keyword::Apop if n > 2 => Syntax::ExtraArgument,
            Keyword::Apop => match &self.secret {
                Some(d) if d.len() == 32 && d.expose().iter().all(u8::is_ascii_hexdigit) => {
                    Syntax::Fine
                }
                _ => Syntax::MalformedArgument,
            },
            Keyword::Retr | Keyword::Dele | Keyword::Top if n == 0 => Syntax::BadMessageNumber,
            Keyword::Retr | Keyword::Dele | Keyword::List | Keyword::Uidl | Keyword::Top
                if n > 0 && self.arg(0).and_then(parse_msg_number).is_none() =>
            {
                Syntax::BadMessageNumber
            }
            Keyword::Retr | Keyword::Dele | Keyword::List | Keyword::Uidl | Keyword::Lang
                if n > 1 =>
            {
                Syntax::ExtraArgument
            }
            Keyword::Top if self.arg(1).and_then(parse_decimal).is_none() => Syntax::BadLineCount,
            Keyword::Top if n > 2 => Syntax::ExtraArgument,
            _ => Syntax::Fine,
        }
    }
}

impl Keyword {
    /// Whether RFC 1939 §3-§7 (and RFC 2449, 2595, 5034, 6856) allow the command in `state`.
    /// Optional commands count as allowed here whether or not the server advertises them.
    pub fn valid_in(self, state: super::state::State) -> bool {
        use super::state::{AuthStep, State};
        match state {
            State::Authorization(AuthStep::UserOk) => matches!(self, Keyword::Pass | Keyword::Quit),
            State::Authorization(AuthStep::Sasl | AuthStep::StlsHandshake) => false,
            State::Authorization(AuthStep::Idle) => matches!(
                self,
                Keyword::User
                    | Keyword::Apop
                    | Keyword::Auth
                    | Keyword::Quit
                    | Keyword::Capa
                    | Keyword::Stls
                    | Keyword::Utf8
                    | Keyword::Lang
            ),
            State::Transaction => {
                self.is_transaction_only()
                    || matches!(self, Keyword::Quit | Keyword::Capa | Keyword::Lang)
            }
            State::TlsHandshake | State::Greeting | State::Update | State::Closed => false,
        }
    }

    /// The CAPA tag that advertises an optional command (`TOP`, `SASL`, …), if it needs one.
    pub fn capability(self) -> Option<&'static str> {
        match self {
            Keyword::Top => Some("TOP"),
            Keyword::Uidl => Some("UIDL"),
            Keyword::Stls => Some("STLS"),
            Keyword::Utf8 => Some("UTF8"),
            Keyword::Lang => Some("LANG"),
            Keyword::Auth => Some("SASL"),
            Keyword::User | Keyword::Pass => Some("USER"),
            _ => None,
        }
    }

    /// Sets up or ends the session (login, STLS, QUIT) rather than working in it; replaying a
    /// session elsewhere does these its own way.
    pub fn is_session_control(self) -> bool {
        matches!(
            self,
            Keyword::User
                | Keyword::Pass
                | Keyword::Apop
                | Keyword::Auth
                | Keyword::Stls
                | Keyword::Quit
        )
    }

    /// Takes a message number as its first argument (optional for LIST and UIDL).
    pub fn takes_message_number(self) -> bool {
        matches!(
            self,
            Keyword::Retr | Keyword::Dele | Keyword::List | Keyword::Top | Keyword::Uidl
        )
    }
}

/// Keywords worth offering in `state`: valid there, and advertised when the command is
/// optional and a CAPA list of this context is known.
pub fn suggested_keywords(
    state: super::state::State,
    caps: Option<&super::capability::Capabilities>,
) -> Vec<Keyword> {
    Keyword::ALL
        .into_iter()
        .filter(|k| k.valid_in(state))
        .filter(|k| match (k.capability(), caps) {
            (Some(tag), Some(c)) => c.has(tag),
            _ => true,
        })
        .collect()
}

/// A message number as RFC 1939 §4 defines it: decimal, from 1.
pub(crate) fn parse_msg_number(arg: &[u8]) -> Option<u32> {
    let n = parse_decimal(arg)?;
    u32::try_from(n).ok().filter(|&n| n > 0)
}

/// Plain decimal digits only: no sign, no hex, no separators (GEN-011).
pub(crate) fn parse_decimal(arg: &[u8]) -> Option<u64> {
    if arg.is_empty() || arg.len() > 19 || !arg.iter().all(u8::is_ascii_digit) {
        return None;
    }
    arg.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lenient server reads ` AUTH PLAIN` and `AUTH\tPLAIN` as AUTH: so does the engine (the
    /// lines that follow are SASL responses); nothing else changes.
    #[test]
    fn auth_with_leading_blanks_or_tabs_is_an_auth() {
        for line in [&b" AUTH PLAIN"[..], b"AUTH\tPLAIN", b"\t auth  plain"] {
            let c = Command::parse(line, 0);
            assert_eq!(c.keyword, Keyword::Auth, "{line:?}");
            assert_eq!(c.mechanism().as_deref(), Some("PLAIN"), "{line:?}");
            assert!(c.secret.is_none() && c.irregular_spacing, "{line:?}");
        }
        let c = Command::parse(b"AUTH\tPLAIN\tAGRlbW8A", 0);
        assert_eq!(
            c.secret.as_ref().map(|s| s.expose().to_vec()),
            Some(b"AGRlbW8A".to_vec())
        );
        assert_eq!(c.arg_count(), 2);
        assert!(!Command::parse(b"AUTH PLAIN", 0).irregular_spacing);
        assert_eq!(Command::parse(b" AUTHX PLAIN", 0).keyword, Keyword::Other);
        assert_eq!(Command::parse(b"PASS AUTH PLAIN", 0).keyword, Keyword::Pass);
    }

    #[test]
    fn pass_keeps_spaces_in_the_secret() {
        let c = Command::parse(b"PASS my secret pw", 19);
        assert_eq!(c.keyword, Keyword::Pass);
        assert!(c.args.is_empty());
        assert_eq!(
            c.secret.as_ref().map(Secret::expose),
            Some(&b"my secret pw"[..])
        );
        assert_eq!(c.redacted(), "PASS ************");
        assert!(!format!("{c:?}").contains("secret pw"));
    }

    #[test]
    fn apop_and_auth_hide_the_second_token() {
        let c = Command::parse(b"APOP mrose c4c9334bac560ecc979e58001b3e22fb", 0);
        assert_eq!(c.args, vec![b"mrose".to_vec()]);
        assert_eq!(c.redacted(), format!("APOP mrose {}", "*".repeat(32)));
        let c = Command::parse(b"auth PLAIN AGEAYg==", 0);
        assert_eq!(c.keyword, Keyword::Auth);
        assert_eq!(c.mechanism().as_deref(), Some("PLAIN"));
        assert_eq!(c.arg_count(), 2);
        assert!(!c.expects_multiline());
        assert!(Command::parse(b"AUTH", 0).expects_multiline());
    }

    #[test]
    fn shapes_follow_the_arguments() {
        assert!(Command::parse(b"LIST", 0).expects_multiline());
        assert!(!Command::parse(b"LIST 1", 0).expects_multiline());
        assert!(Command::parse(b"top 1 0", 0).expects_multiline());
        assert!(!Command::parse(b"XYZZY", 0).expects_multiline());
    }

    #[test]
    fn syntax_problems() {
        let syn = |l: &[u8]| Command::parse(l, 0).syntax();
        assert_eq!(syn(b"STAT"), Syntax::Fine);
        assert_eq!(syn(b"NOOP extra"), Syntax::ExtraArgument);
        assert_eq!(syn(b"RETR"), Syntax::BadMessageNumber);
        assert_eq!(syn(b"RETR abc"), Syntax::BadMessageNumber);
        assert_eq!(syn(b"TOP 1"), Syntax::BadLineCount);
        assert_eq!(syn(b"TOP 1 -1"), Syntax::BadLineCount);
        assert_eq!(syn(b"TOP 1 0"), Syntax::Fine);
        assert_eq!(syn(b"XYZZY"), Syntax::ProbeKeyword);
        assert_eq!(syn(b"LAST"), Syntax::UnknownKeyword);
        assert_eq!(syn(b"USER"), Syntax::MissingArgument);
        assert_eq!(
            syn(b"APOP mrose c4c9334bac560ecc979e58001b3e22fb"),
            Syntax::Fine
        );
        assert_eq!(syn(b"APOP mrose nothex"), Syntax::MalformedArgument);
        assert_eq!(syn(b"PASS two words"), Syntax::Fine);
        assert_eq!(syn(b"LIST"), Syntax::Fine);
    }

    #[test]
    fn message_numbers_are_plain_decimal() {
        assert_eq!(parse_msg_number(b"12"), Some(12));
        for bad in [&b"0"[..], b"+1", b"0x1", b"1,0", b"", b"-1", b"99999999999"] {
            assert_eq!(parse_msg_number(bad), None, "{bad:?}");
        }
    }
}
