//! The rule catalog as implemented: one row per rule of `rules.md`, same IDs, same severities.

use serde::Serialize;

/// How bad a finding is. Ordered: `Info < Warning < Violation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing is wrong (or the evidence is only reply text).
    Info,
    /// Allowed, or not clearly forbidden, but likely to break clients.
    Warning,
    /// The server breaks a MUST of the RFCs, shown by what it did.
    Violation,
}

impl Severity {
    /// The lower-case name, as in JSON and on the command line: "info", "warning", "violation".
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Violation => "violation",
        }
    }
    /// The one-cell mark people see beside a finding of this severity: ✖, ⚠ or ℹ.
    pub fn marker(self) -> &'static str {
        match self {
            Severity::Violation => "✖",
            Severity::Warning => "⚠",
            Severity::Info => "ℹ",
        }
    }
    /// Reads a severity name in any case; "warn" and "error" are accepted for warning and
    /// violation. `None` for anything else.
    pub fn parse(s: &str) -> Option<Severity> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Some(Severity::Info),
            "warning" | "warn" => Some(Severity::Warning),
            "violation" | "error" => Some(Severity::Violation),
            _ => None,
        }
    }
}

/// How a rule can be judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// From one session by watching it.
    Passive,
    /// Watching one session finds it when the session happens to contain the evidence; the
    /// active probe named in `probe` provokes it.
    PassiveAndProbe,
    /// Needs an active probe.
    Probe,
    /// Needs two sessions (the live multi-session check).
    CrossSession,
    /// A general statement whose breaches are reported under the more specific rules named in
    /// `see`.
    Umbrella,
}

/// One rule of the catalog (rules.md §3). Rule IDs are a contract: they never change meaning.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    /// The rule's ID, e.g. "GEN-001": the area's prefix and a number.
    pub id: &'static str,
    /// The catalog's severity: the highest this rule reports by default.
    pub severity: Severity,
    /// RFC and section, e.g. "RFC 1939 §3".
    pub rfc: &'static str,
    /// The rule in one sentence.
    pub summary: &'static str,
    /// How the rule can be judged: by watching, by probing, across sessions.
    pub scope: Scope,
    /// Active probes of rules.md §4 that provoke it, or the specific rules an umbrella uses.
    pub see: &'static str,
}

macro_rules! rules {
    ($( $name:ident = $id:literal, $sev:ident, $scope:ident, $see:literal, $rfc:literal, $summary:literal; )*) => {
        $(
        #[doc = concat!("The catalog row of ", $id, ": its severity, RFC, summary and scope.")]
        pub static $name: RuleInfo = RuleInfo {
            id: $id, severity: Severity::$sev, rfc: $rfc, summary: $summary,
            scope: Scope::$scope, see: $see,
        }; )*
        /// Every rule, in catalog order.
        pub static CATALOG: &[&RuleInfo] = &[ $( &$name ),* ];
    };
}

rules! {
    GEN_001 = "GEN-001", Violation, Passive, "", "RFC 1939 §3", "Every server line ends in CRLF; bare LF or CR is a fault.";
    GEN_002 = "GEN-002", Violation, Passive, "", "RFC 1939 §3, RFC 2449 §3", "The status indicator is exactly +OK or -ERR, upper case.";
    GEN_003 = "GEN-003", Violation, Passive, "", "RFC 2449 §3", "After the indicator comes CRLF or one space then text.";
    GEN_004 = "GEN-004", Violation, Passive, "", "RFC 1939 §3, RFC 2449 §4", "A response's first line is at most 512 octets including CRLF.";
    GEN_005 = "GEN-005", Violation, Passive, "", "RFC 2449 §3, RFC 6856 §2.1, §3.2", "Status text is printable ASCII (UTF-8 only after UTF8 or LANG).";
    GEN_006 = "GEN-006", Violation, PassiveAndProbe, "P5, P22", "RFC 1939 §3", "Unknown or malformed commands get -ERR.";
    GEN_007 = "GEN-007", Violation, Umbrella, "ST-001, ST-002, TLS-001, UTF-001, SASL-001", "RFC 1939 §3", "A command given in the wrong state gets -ERR.";
    GEN_008 = "GEN-008", Violation, Passive, "", "RFC 1939 §5, RFC 2449 §6.6", "Exactly one response per command, in order; nothing unsolicited.";
    GEN_009 = "GEN-009", Violation, PassiveAndProbe, "P4", "RFC 1939 §3", "Command keywords are case-insensitive.";
    GEN_010 = "GEN-010", Violation, PassiveAndProbe, "P6", "RFC 2449 §4", "A CAPA server accepts command lines up to 255 octets.";
    GEN_011 = "GEN-011", Violation, Passive, "", "RFC 1939 §4", "Message numbers and sizes are decimal.";
    GRT_001 = "GRT-001", Violation, Passive, "", "RFC 1939 §3, §4, RFC 8314 §3.1", "The greeting is one line; nothing precedes or follows it.";
    GRT_002 = "GRT-002", Violation, Passive, "", "RFC 1939 §4, RFC 2449 §3", "The greeting is a positive response.";
    GRT_003 = "GRT-003", Info, Passive, "", "RFC 1939 §3", "The greeting arrives promptly; the client does not talk first.";
    GRT_004 = "GRT-004", Violation, Passive, "", "RFC 1939 §7, RFC 2449 §3", "An APOP timestamp is one RFC 822 msg-id <local@domain>.";
    GRT_005 = "GRT-005", Violation, CrossSession, "P18", "RFC 1939 §7", "The APOP timestamp differs on every greeting.";
    GRT_006 = "GRT-006", Warning, Passive, "", "RFC 2449 §3, §8", "-ERR-only response codes do not belong in the greeting.";
    GRT_007 = "GRT-007", Violation, Passive, "", "RFC 2595 §4, RFC 1939 §5", "No new greeting after an STLS handshake.";
    ST_001 = "ST-001", Violation, PassiveAndProbe, "P1", "RFC 1939 §3, §5", "TRANSACTION commands before login get -ERR.";
    ST_002 = "ST-002", Violation, PassiveAndProbe, "P10", "RFC 1939 §3, §7", "USER, PASS and APOP in TRANSACTION get -ERR.";
    ST_003 = "ST-003", Violation, PassiveAndProbe, "P2", "RFC 1939 §7", "PASS is valid only right after a successful USER.";
    ST_004 = "ST-004", Warning, PassiveAndProbe, "P3", "RFC 1939 §7", "After USER +OK only PASS or QUIT may follow.";
    ST_005 = "ST-005", Violation, Passive, "", "RFC 1939 §4", "After a login +OK the session is in TRANSACTION.";
    ST_006 = "ST-006", Violation, Passive, "", "RFC 1939 §4, RFC 5034 §4", "After a failed login the session stays in AUTHORIZATION.";
    ST_007 = "ST-007", Violation, PassiveAndProbe, "P20", "RFC 1939 §4, §6", "QUIT: +OK then close; nothing after the QUIT reply.";
    ST_008 = "ST-008", Violation, CrossSession, "P14", "RFC 1939 §6", "Only QUIT enters UPDATE; a dropped session deletes nothing.";
    ST_009 = "ST-009", Violation, PassiveAndProbe, "P17", "RFC 8314 §3.1, RFC 1939 §3", "After implicit TLS the session is in AUTHORIZATION, even with a client certificate.";
    ST_010 = "ST-010", Violation, Passive, "", "RFC 2595 §4, RFC 1939 §3", "After STLS the session stays in AUTHORIZATION, even with a client certificate.";
    USR_001 = "USR-001", Warning, Passive, "", "RFC 2449 §6.2", "If USER is advertised, USER/PASS exist.";
    USR_002 = "USR-002", Warning, Passive, "", "RFC 2595 §2.3, §9, RFC 8314 §4.1", "No plaintext passwords offered on an unencrypted connection.";
    USR_003 = "USR-003", Info, PassiveAndProbe, "", "RFC 1939 §13", "-ERR to USER for unknown names reveals valid accounts.";
    APOP_001 = "APOP-001", Warning, Passive, "", "RFC 1939 §7", "APOP cannot succeed without a greeting timestamp.";
    APOP_002 = "APOP-002", Info, Probe, "credentials", "RFC 1939 §13", "A mailbox should not accept both PASS and APOP.";
    SASL_001 = "SASL-001", Violation, PassiveAndProbe, "P10, P16", "RFC 5034 §4", "AUTH only in AUTHORIZATION, and never again after a successful AUTH.";
    SASL_002 = "SASL-002", Violation, Passive, "", "RFC 5034 §4, §5", "A challenge is `+`, one space and base64, nothing else.";
    SASL_003 = "SASL-003", Violation, PassiveAndProbe, "P15", "RFC 5034 §4", "A client `*` cancels; the server answers -ERR.";
    SASL_004 = "SASL-004", Violation, PassiveAndProbe, "P15", "RFC 5034 §4", "A client response that is not base64 gets -ERR.";
    SASL_005 = "SASL-005", Violation, PassiveAndProbe, "P15", "RFC 5034 §4", "An initial response to a mechanism that takes none gets -ERR.";
    SASL_006 = "SASL-006", Violation, PassiveAndProbe, "P15", "RFC 5034 §4", "Client-first mechanism without initial response: the challenge is exactly `+ `.";
    SASL_007 = "SASL-007", Violation, PassiveAndProbe, "P15", "RFC 5034 §4", "An unsupported mechanism gets -ERR.";
    SASL_008 = "SASL-008", Info, Passive, "", "RFC 5034 §4", "AUTH success is a plain +OK: POP3 has no success data.";
    SASL_009 = "SASL-009", Info, Passive, "", "RFC 5034 §4, §5", "Client lines during SASL are responses, not commands.";
    SASL_010 = "SASL-010", Violation, Passive, "P11", "RFC 5034 §3, RFC 2449 §5", "The SASL capability stays after a successful AUTH.";
    SASL_011 = "SASL-011", Info, Passive, "", "RFC 5034 §3, §4", "Client: initial responses only with the SASL capability and within 255 octets.";
    SASL_012 = "SASL-012", Info, Passive, "P15", "RFC 5034", "Bare AUTH (mechanism discovery) is not standard.";
    SASL_013 = "SASL-013", Info, Passive, "", "RFC 5034 §4, RFC 2449 §5", "A negotiated SASL security layer starts after the success CRLF.";
    SASL_014 = "SASL-014", Info, Passive, "P17", "RFC 4422 App. A, RFC 8314 §4.2, §5.5", "EXTERNAL logs in with the TLS client identity.";
    CAPA_001 = "CAPA-001", Violation, Passive, "", "RFC 2595 §4", "A server that implements STLS implements CAPA.";
    CAPA_002 = "CAPA-002", Violation, Passive, "", "RFC 2449 §3, §5", "CAPA: one `tag *(SP param)` per line, at most 512 octets, then `.`.";
    CAPA_003 = "CAPA-003", Violation, PassiveAndProbe, "P11", "RFC 2449 §5, §6.9, RFC 2595 §4", "Capabilities of AUTHORIZATION are also announced in TRANSACTION.";
    CAPA_004 = "CAPA-004", Info, Passive, "P11", "RFC 2595 §4, §9", "Client: after STLS discard the old capabilities and ask again.";
    CAPA_005 = "CAPA-005", Warning, PassiveAndProbe, "P11", "RFC 2595 §4", "STLS is not advertised once TLS is active or in TRANSACTION.";
    CAPA_006 = "CAPA-006", Warning, Passive, "", "RFC 2449 §6, RFC 2595 §4, RFC 8314 §4", "Advertised optional commands work.";
    CAPA_007 = "CAPA-007", Violation, PassiveAndProbe, "P11", "RFC 2449 §6.5", "LOGIN-DELAY: integer seconds; TRANSACTION value not larger.";
    CAPA_008 = "CAPA-008", Violation, PassiveAndProbe, "P11", "RFC 2449 §6.7", "EXPIRE: integer days or NEVER; TRANSACTION value not smaller.";
    CAPA_009 = "CAPA-009", Violation, PassiveAndProbe, "P19", "RFC 2449 §6.6", "PIPELINING: pipelined commands answered one by one, in order.";
    CAPA_010 = "CAPA-010", Warning, Passive, "", "RFC 2449 §6.4, §8", "Response codes are used only with RESP-CODES advertised.";
    CAPA_011 = "CAPA-011", Warning, Passive, "", "RFC 3206 §5, §6", "AUTH-RESP-CODE: credential failures carry [AUTH].";
    CAPA_012 = "CAPA-012", Info, Passive, "", "RFC 2449 §6.9, §9", "IMPLEMENTATION and X- capabilities are informational.";
    CAPA_013 = "CAPA-013", Warning, Passive, "", "RFC 6856 §2, §3", "UTF8 takes no argument or USER; LANG takes none.";
    RC_001 = "RC-001", Violation, Passive, "", "RFC 2449 §3, §8", "A response code is `[level *(/level)]` right after the indicator.";
    RC_002 = "RC-002", Warning, Passive, "", "RFC 2449 §8.1, RFC 3206 §4, §5, RFC 6856 §5", "Registered response codes only where defined.";
    RC_003 = "RC-003", Warning, PassiveAndProbe, "probe with a random name", "RFC 3206 §5, RFC 2449 §8.1.1", "[AUTH] or [LOGIN-DELAY] on USER reveals that the user exists.";
    RC_004 = "RC-004", Info, Passive, "", "RFC 2449 §8.1.2", "[IN-USE]: credentials fine, maildrop locked; unregistered codes.";
    ML_001 = "ML-001", Violation, Passive, "", "RFC 1939 §3", "A multi-line response ends with a line holding only `.`.";
    ML_002 = "ML-002", Violation, Passive, "", "RFC 1939 §3, §5", "A data line starting with `.` is sent with one more `.`.";
    ML_003 = "ML-003", Violation, Passive, "", "RFC 1939 §3, §5, §7", "Single-line replies carry no data lines.";
    ML_004 = "ML-004", Violation, Passive, "", "RFC 1939 §5, §7, RFC 2449 §5", "+OK to CAPA, LIST, UIDL, RETR, TOP is multi-line.";
    ML_005 = "ML-005", Info, Passive, "", "RFC 1939 §5", "An empty list is +OK followed directly by `.`.";
    MSG_001 = "MSG-001", Violation, Passive, "", "RFC 1939 §5", "STAT +OK is `+OK count octets`.";
    MSG_002 = "MSG-002", Violation, Passive, "P12", "RFC 1939 §5", "STAT excludes deleted messages; RSET restores them.";
    MSG_003 = "MSG-003", Violation, Passive, "", "RFC 1939 §5", "A scan listing is `msg SP octets`.";
    MSG_004 = "MSG-004", Violation, Passive, "", "RFC 1939 §4, §5", "LIST lists each non-deleted message once, as many as STAT counts.";
    MSG_005 = "MSG-005", Violation, Passive, "P13", "RFC 1939 §5", "LIST n answers for n with the size of the full list.";
    MSG_006 = "MSG-006", Warning, Passive, "P13", "RFC 1939 §5, §11, RFC 6856 §2.1", "LIST sizes are the exact octets RETR delivers.";
    MSG_007 = "MSG-007", Violation, Passive, "P12", "RFC 1939 §4, §5", "Message numbers, sizes and uids do not change during a session.";
    MSG_008 = "MSG-008", Warning, Passive, "", "RFC 1939 §4", "No new mail appears during a session.";
    MSG_009 = "MSG-009", Violation, PassiveAndProbe, "P5", "RFC 1939 §3, §5", "Message number 0, too large, non-numeric or missing gets -ERR.";
    MSG_010 = "MSG-010", Info, Passive, "", "RFC 1939 §9", "Only STAT, LIST and UIDL replies carry significant numbers.";
    DEL_001 = "DEL-001", Violation, PassiveAndProbe, "P12", "RFC 1939 §5, §7", "A message marked deleted cannot be referred to.";
    DEL_002 = "DEL-002", Violation, PassiveAndProbe, "P12", "RFC 1939 §5", "RSET answers +OK and unmarks every deleted message.";
    DEL_003 = "DEL-003", Warning, CrossSession, "P14", "RFC 1939 §6", "UPDATE removes exactly the marked messages.";
    UIDL_001 = "UIDL-001", Violation, Passive, "", "RFC 1939 §7", "A unique-id listing is `msg SP uid`, nothing after.";
    UIDL_002 = "UIDL-002", Violation, Passive, "", "RFC 1939 §7", "A uid is 1 to 70 characters in 0x21-0x7E.";
    UIDL_003 = "UIDL-003", Violation, CrossSession, "P14", "RFC 1939 §7", "A uid persists across sessions.";
    UIDL_004 = "UIDL-004", Warning, Passive, "", "RFC 1939 §7", "uids are unique within a listing.";
    UIDL_005 = "UIDL-005", Warning, CrossSession, "P14", "RFC 1939 §7", "A uid is never reused for another message.";
    UIDL_006 = "UIDL-006", Violation, Passive, "P13", "RFC 1939 §7", "UIDL n returns the uid of the full listing.";
    RETR_001 = "RETR-001", Violation, Umbrella, "GEN-001, ML-001, ML-002, MSG-006, UTF-003", "RFC 1939 §5, §11", "RETR: the whole message, CRLF lines, dot-stuffed, then `.`.";
    TOP_001 = "TOP-001", Violation, Passive, "P13", "RFC 1939 §7", "TOP msg n: headers, blank line, then n body lines.";
    TOP_002 = "TOP-002", Violation, PassiveAndProbe, "P5", "RFC 1939 §7, §3", "TOP needs a non-negative line count.";
    TLS_001 = "TLS-001", Violation, PassiveAndProbe, "P10", "RFC 2595 §4, RFC 1939 §3", "STLS only in AUTHORIZATION.";
    TLS_002 = "TLS-002", Warning, Passive, "", "RFC 2595 §4, RFC 8314 §4", "STLS is advertised exactly when it works.";
    TLS_003 = "TLS-003", Violation, PassiveAndProbe, "P9", "RFC 2595 §4", "No plaintext after the STLS +OK (response injection).";
    TLS_004 = "TLS-004", Violation, PassiveAndProbe, "P8", "RFC 2595 §4", "Plaintext pipelined after STLS is not executed (command injection).";
    TLS_005 = "TLS-005", Violation, Umbrella, "ST-010, GRT-007, CAPA-004", "RFC 2595 §4", "After STLS: AUTHORIZATION, no greeting, maybe new capabilities.";
    TLS_006 = "TLS-006", Info, PassiveAndProbe, "P7", "RFC 2595 §4", "STLS when TLS is already active may get -ERR.";
    TLS_007 = "TLS-007", Violation, Passive, "", "RFC 2595 §4, §9", "After -ERR to STLS no handshake follows; the session stays plaintext.";
    TLS_008 = "TLS-008", Info, Passive, "", "RFC 6856 §2.1", "Client: STLS after UTF8 is forbidden.";
    ITLS_001 = "ITLS-001", Violation, Passive, "", "RFC 8314 §3.1", "On the TLS port the handshake starts at once; no plaintext.";
    ITLS_002 = "ITLS-002", Violation, Umbrella, "GRT-001, GRT-002, GRT-004", "RFC 8314 §3.1", "On the TLS port the greeting is the first application data.";
    ITLS_003 = "ITLS-003", Violation, Umbrella, "ST-009", "RFC 8314 §3.1", "AUTHORIZATION after the greeting even with a client certificate.";
    ITLS_004 = "ITLS-004", Warning, Passive, "P17", "RFC 8314 §4.2", "A server accepting client certificates offers SASL EXTERNAL.";
    ITLS_005 = "ITLS-005", Info, Passive, "", "RFC 8314 §4.2", "A server requests a client certificate only if it can use one.";
    ITLS_006 = "ITLS-006", Warning, Passive, "", "RFC 8314 §3.4", "TLS close_notify precedes the TCP close.";
    UTF_001 = "UTF-001", Violation, PassiveAndProbe, "P10, P21", "RFC 6856 §2, RFC 1939 §3", "UTF8 only in AUTHORIZATION.";
    UTF_002 = "UTF-002", Violation, Passive, "", "RFC 6856 §2.2", "With UTF8 USER: invalid UTF-8 credentials are rejected.";
    UTF_003 = "UTF-003", Violation, Passive, "", "RFC 6856 §2.1, §4, §5", "No raw non-ASCII headers before UTF-8 mode; never NUL.";
    UTF_004 = "UTF-004", Warning, Passive, "", "RFC 6856 §2.1", "In UTF-8 mode LIST sizes match RETR octets.";
    LANG_001 = "LANG-001", Violation, Passive, "P21", "RFC 6856 §3.1", "LANG works in AUTHORIZATION and TRANSACTION.";
    LANG_002 = "LANG-002", Violation, PassiveAndProbe, "P21", "RFC 6856 §3.2", "LANG range success is `+OK tag text`, tag matching the range, UTF-8 text.";
    LANG_003 = "LANG-003", Info, Passive, "P21", "RFC 6856 §3.2", "LANG failure keeps the previous language.";
    LANG_004 = "LANG-004", Warning, PassiveAndProbe, "P21", "RFC 6856 §3.2", "Bare LANG +OK is followed by a language list.";
    TMO_001 = "TMO-001", Violation, PassiveAndProbe, "P23", "RFC 1939 §3", "An autologout timer is at least 10 minutes.";
    TMO_002 = "TMO-002", Warning, Passive, "", "RFC 1939 §3", "Autologout closes without a reply and without UPDATE.";
    TMO_003 = "TMO-003", Warning, Passive, "", "RFC 1939 §3, §4", "No close while a command is outstanding.";
    TMO_004 = "TMO-004", Info, CrossSession, "", "RFC 2449 §6.5, §8.1.1", "LOGIN-DELAY: early logins may be refused.";
    OAUTH_001 = "OAUTH-001", Warning, Passive, "", "RFC 7628 §3, §5, RFC 6750 §5.3", "OAUTHBEARER and XOAUTH2 are offered only under TLS.";
    OAUTH_002 = "OAUTH-002", Warning, Passive, "", "RFC 7628 §3, §5", "A bearer token is not accepted on an unencrypted connection.";
    OAUTH_003 = "OAUTH-003", Violation, PassiveAndProbe, "P24", "RFC 7628 §3, §3.2.2, §3.2.3", "A refused token gets an error challenge (base64 JSON with `status`), then -ERR.";
    OAUTH_004 = "OAUTH-004", Violation, PassiveAndProbe, "P24", "RFC 7628 §3, §3.2.3, RFC 5034 §4", "After the dummy response `AQ==` or `*` the server answers -ERR, nothing else.";
    OAUTH_005 = "OAUTH-005", Warning, PassiveAndProbe, "P24", "RFC 7628 §3.2.2", "In the error challenge `openid-configuration` is https and `scope` one scope.";
    OAUTH_006 = "OAUTH-006", Info, CrossSession, "P25", "RFC 7628 §3.1, §3.2", "Unknown key/value pairs in the client response are ignored.";
    OAUTH_007 = "OAUTH-007", Violation, PassiveAndProbe, "P25", "RFC 5034 §4, RFC 2449 §4", "Both AUTH forms work: the response on the AUTH line, and on its own line after `+ `.";
    CL_001 = "CL-001", Warning, Passive, "", "RFC 1939 §3, §4", "Client: wait for the greeting before the first command.";
    CL_002 = "CL-002", Warning, Passive, "", "RFC 1939 §3-§7, RFC 2595 §4, RFC 5034 §4", "Client: TRANSACTION commands only after a login; USER, PASS, APOP, AUTH, STLS only before it.";
    CL_003 = "CL-003", Warning, Passive, "", "RFC 8314 §3.1, §4.2, RFC 2595 §4, RFC 1939 §3", "Client: a TLS client certificate does not log in; log in (AUTH EXTERNAL) before TRANSACTION commands.";
    CL_004 = "CL-004", Warning, Passive, "", "RFC 1939 §7", "Client: PASS only right after a USER that got +OK.";
    CL_005 = "CL-005", Warning, Passive, "", "RFC 2449 §5, §6.6, RFC 1939 §3", "Client: no command while another is unanswered, unless CAPA listed PIPELINING.";
    CL_006 = "CL-006", Violation, Passive, "", "RFC 2595 §4", "Client: nothing after STLS until its reply and the TLS handshake.";
    CL_007 = "CL-007", Violation, Passive, "", "RFC 2595 §4, §9", "Client: after STLS use only what the CAPA after TLS lists, not the cached list.";
    CL_008 = "CL-008", Violation, Passive, "", "RFC 7628 §3, RFC 6750 §5.3, RFC 2595 §2.3, §9, RFC 8314 §4.1", "Client: no password or bearer token on an unencrypted connection.";
    CL_009 = "CL-009", Violation, Passive, "", "RFC 2595 §4, §9, RFC 8314 §4", "Client: plaintext after the STLS +OK is discarded, never read as a reply (response injection).";
    CL_010 = "CL-010", Warning, Passive, "", "RFC 2449 §3, §4", "Client: command lines are at most 255 octets including CRLF.";
    CL_011 = "CL-011", Warning, Passive, "", "RFC 1939 §3, RFC 2449 §3", "Client: command lines end in CRLF; a 3-4 character keyword, one space before each argument.";
    CL_012 = "CL-012", Info, Passive, "", "RFC 2449 §5, §6", "Client: commands of optional capabilities only when the CAPA of the context lists them.";
    CL_013 = "CL-013", Warning, Passive, "", "RFC 1939 §6", "Client: end with QUIT; without it no UPDATE, and deletions are not made.";
    CL_014 = "CL-014", Warning, Passive, "", "RFC 1939 §3, §6", "Client: nothing after QUIT.";
    CL_015 = "CL-015", Violation, Passive, "", "RFC 7628 §3.2.3", "Client: after an OAuth error challenge send only the dummy (`AQ==`; XOAUTH2: an empty line) or `*`.";
    CL_016 = "CL-016", Warning, CrossSession, "", "RFC 2449 §6.5, §8.1.1", "Client: log in again no sooner than the LOGIN-DELAY the server advertised.";
    CL_017 = "CL-017", Warning, Passive, "", "RFC 2449 §6.7", "Client: do not leave retrieved mail on a server that advertised EXPIRE 0 (or past EXPIRE n days).";
}

impl RuleInfo {
    /// The rule judges the client, not the server (rules.md §3.18: the `CL-` rules). A
    /// finding's [`Location::direction`](crate::Location::direction) says only where its
    /// evidence is, so this is how a client finding is told from a server finding.
    pub fn judges_client(&self) -> bool {
        self.id.starts_with("CL-")
    }
}

/// Looks a rule up by ID (case-insensitive).
pub fn find(id: &str) -> Option<&'static RuleInfo> {
    CATALOG
        .iter()
        .copied()
        .find(|r| r.id.eq_ignore_ascii_case(id))
}
