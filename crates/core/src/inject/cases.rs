//! The cases of rules.md §3.19 as data: one [`CaseInfo`] row per [`Case`] in [`CASES`], with
//! what the client is served, what a safe client does, and the client rules a client that
//! falls for it breaks. The [`Injector`](super::Injector) reads the rows; the demo server's
//! `--quirk` and the proxy's `--inject` parse their names here.

/// A way of misbehaving toward the client; its row is [`Case::info`]. The variants are in
/// [`CASES`]' order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Case {
    /// STLS removed from CAPA.
    StripStls,
    /// `-ERR` to STLS.
    StlsRefused,
    /// Plaintext `+OK` lines right after the STLS `+OK`, in the same write.
    StlsResponseInjection,
    /// `-ERR` to CAPA.
    NoCapa,
    /// After TLS, every login but AUTH EXTERNAL gets `-ERR already authenticated`.
    PreAuth,
    /// The CAPA before TLS lists SASL mechanisms the one after TLS does not.
    CapaDiffersAfterTls,
    /// A bearer token gets a valid JSON error challenge, then `-ERR`, whatever the token.
    OauthError,
    /// Every reply held back for some seconds.
    SlowReplies,
    /// The connection closed in the middle of a RETR body.
    DropMidRetr,
    /// Every login gets `-ERR [IN-USE]`.
    InUse,
    /// CAPA advertises LOGIN-DELAY; a login too soon after the last one is refused.
    LoginDelay,
    /// UIDs of 70 octets, stable per message.
    LongUidl,
}

/// What a case needs of the client's leg to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leg {
    /// Any leg: plain, STLS or implicit TLS.
    Any,
    /// Plain with STLS offered: the case acts around the upgrade.
    Starttls,
    /// TLS (implicit, or after STLS).
    Tls,
}

/// Everything about one case, as rules.md §3.19's table has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaseInfo {
    /// The case this row describes.
    pub case: Case,
    /// The name on the command line (`--inject NAME`, `--quirk NAME`).
    pub name: &'static str,
    /// What the client is served.
    pub served: &'static str,
    /// What a safe client does about it.
    pub safe_client: &'static str,
    /// The rules a client that falls for it breaks (UIDL-002 is the server rule a client
    /// must not enforce on 70-octet UIDs; `-` when no rule judges it).
    pub rules: &'static [&'static str],
    /// The leg the case needs to show.
    pub leg: Leg,
    /// The number the case takes after `=` (`slow-replies=N`), and its default.
    pub default_seconds: Option<u32>,
}

/// How long `slow-replies` holds each reply back unless told (`slow-replies=N`).
pub const SLOW_REPLIES_DEFAULT: u32 = 3;

/// The LOGIN-DELAY `login-delay` advertises unless told (`login-delay=N`).
pub const LOGIN_DELAY_DEFAULT: u32 = 60;

/// The octets of every UID `long-uidl` serves (FastMail's limit, RFC 1939 §7's maximum).
pub const LONG_UID_LEN: usize = 70;

/// Every case, in the order of [`Case`]'s variants (checked at compile time).
pub const CASES: &[CaseInfo] = &[
    CaseInfo {
        case: Case::StripStls,
        name: "strip-stls",
        served: "STLS removed from CAPA",
        safe_client: "stops before any credential if it was told to require TLS",
        rules: &["CL-008"],
        leg: Leg::Starttls,
        default_seconds: None,
    },
    CaseInfo {
        case: Case::StlsRefused,
        name: "stls-refused",
        served: "-ERR to STLS",
        safe_client: "stops before any credential",
        rules: &["CL-008"],
        leg: Leg::Starttls,
        default_seconds: None,
    },
    CaseInfo {
        case: Case::StlsResponseInjection,
        name: "stls-response-injection",
        served: "plaintext +OK lines right after the STLS +OK, in the same write",
        safe_client: "ignores them; its next command waits for the real reply",
        rules: &["CL-009"],
        leg: Leg::Starttls,
        default_seconds: None,
    },
    CaseInfo {
        case: Case::NoCapa,
        name: "no-capa",
        served: "-ERR to CAPA",
        safe_client: "probes carefully; no credential in the clear if TLS was required",
        rules: &["CL-008"],
        leg: Leg::Any,
        default_seconds: None,
    },
    CaseInfo {
        case: Case::PreAuth,
        name: "pre-auth",
        served: "after TLS, USER/PASS/APOP/AUTH other than EXTERNAL get -ERR already authenticated",
        safe_client: "uses AUTH EXTERNAL or gives up; does not assume TRANSACTION",
        rules: &["CL-003"],
        leg: Leg::Tls,
        default_seconds: None,
    },
    CaseInfo {
        case: Case::CapaDiffersAfterTls,
        name: "capa-differs-after-tls",
        served: "CAPA before TLS lists SASL PLAIN and LOGIN; CAPA after TLS lists neither",
        safe_client: "uses only the post-TLS list",
        rules: &["CL-007"],
        leg: Leg::Starttls,
        default_seconds: None,
    },
    CaseInfo {
        case: Case::OauthError,
        name: "oauth-error",
        served: "a valid JSON error challenge to XOAUTH2/OAUTHBEARER, then -ERR, whatever the token",
        safe_client: "answers AQ== (or empty) / *, then reports the error",
        rules: &["CL-015"],
        leg: Leg::Any,
        default_seconds: None,
    },
    CaseInfo {
        case: Case::SlowReplies,
        name: "slow-replies",
        served: "each reply delayed by N seconds (slow-replies=N)",
        safe_client: "waits, or times out cleanly and says so",
        rules: &[],
        leg: Leg::Any,
        default_seconds: Some(SLOW_REPLIES_DEFAULT),
    },
    CaseInfo {
        case: Case::DropMidRetr,
        name: "drop-mid-retr",
        served: "the connection closed in the middle of a RETR body",
        safe_client: "does not mark the message retrieved; no DELE without a complete RETR",
        rules: &["CL-013"],
        leg: Leg::Any,
        default_seconds: None,
    },
    CaseInfo {
        case: Case::InUse,
        name: "in-use",
        served: "-ERR [IN-USE] to every login",
        safe_client: "backs off and says the maildrop is locked",
        rules: &[],
        leg: Leg::Any,
        default_seconds: None,
    },
    CaseInfo {
        case: Case::LoginDelay,
        name: "login-delay",
        served: "CAPA advertises LOGIN-DELAY N (login-delay=N); a login sooner than that after the client's last one gets -ERR [LOGIN-DELAY]",
        safe_client: "waits LOGIN-DELAY seconds between logins",
        rules: &["CL-016"],
        leg: Leg::Any,
        default_seconds: Some(LOGIN_DELAY_DEFAULT),
    },
    CaseInfo {
        case: Case::LongUidl,
        name: "long-uidl",
        served: "UIDs of 70 octets, the same in UIDL and UIDL n",
        safe_client: "treats them as opaque, retrieves each once",
        rules: &["UIDL-002"],
        leg: Leg::Any,
        default_seconds: None,
    },
];

// `Case::info` indexes CASES by the variant: the table must follow the enum's order.
const _: () = {
    let mut i = 0;
    while i < CASES.len() {
        assert!(CASES[i].case as usize == i, "CASES is out of Case's order");
        i += 1;
    }
    assert!(
        CASES.len() == Case::LongUidl as usize + 1,
        "a case has no row"
    );
};

impl Case {
    /// Every case, in table order.
    pub const ALL: [Case; CASES.len()] = {
        let mut all = [Case::StripStls; CASES.len()];
        let mut i = 0;
        while i < CASES.len() {
            all[i] = CASES[i].case;
            i += 1;
        }
        all
    };

    /// This case's row.
    pub fn info(self) -> &'static CaseInfo {
        &CASES[self as usize]
    }

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        self.info().name
    }
}

/// A case with its number: what `--inject` and `--quirk` parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fault {
    /// The case.
    pub case: Case,
    /// `slow-replies`' delay, `login-delay`'s LOGIN-DELAY; 0 for the cases without a number.
    pub seconds: u32,
}

impl Fault {
    /// The case with its default number.
    pub fn new(case: Case) -> Fault {
        Fault {
            case,
            seconds: case.info().default_seconds.unwrap_or(0),
        }
    }

    /// `NAME` or `NAME=SECONDS` (only for a case that takes a number; at most a day).
    ///
    /// ```
    /// use popscope_core::inject::{Case, Fault};
    ///
    /// assert_eq!(Fault::parse("slow-replies=1"), Ok(Fault { case: Case::SlowReplies, seconds: 1 }));
    /// assert_eq!(Fault::parse("no-capa").map(|f| f.case), Ok(Case::NoCapa));
    /// assert!(Fault::parse("no-capa=2").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Fault, String> {
        let (name, number) = match text.split_once('=') {
            Some((name, n)) => (name, Some(n)),
            None => (text, None),
        };
        let Some(row) = CASES.iter().find(|r| r.name == name) else {
            let names: Vec<&str> = CASES.iter().map(|r| r.name).collect();
            return Err(format!(
                "unknown case '{name}' (one of: {})",
                names.join(", ")
            ));
        };
        let seconds = match (number, row.default_seconds) {
            (None, default) => default.unwrap_or(0),
            (Some(_), None) => return Err(format!("{name} takes no number")),
            (Some(n), Some(_)) => match n.parse::<u32>() {
                Ok(s) if s <= 86_400 => s,
                _ => return Err(format!("{name}={n}: give whole seconds, 0 to 86400")),
            },
        };
        Ok(Fault {
            case: row.case,
            seconds,
        })
    }

    /// As it is written on the command line: `slow-replies=3`, `no-capa`.
    pub fn label(&self) -> String {
        match self.case.info().default_seconds {
            Some(_) => format!("{}={}", self.case.name(), self.seconds),
            None => self.case.name().to_owned(),
        }
    }
}
