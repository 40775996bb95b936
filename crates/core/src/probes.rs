//! The safe active probes of rules.md §4, as data: what to send. popscope's conformance walk
//! decides when and on which connection; the engine judges the replies. A driver that sends
//! them sets [`Config::active_probes`](crate::Config::active_probes).

/// P1: TRANSACTION commands before login; each must get -ERR (ST-001).
pub const P1_BEFORE_LOGIN: [&str; 6] = ["STAT", "LIST", "RETR 1", "UIDL", "NOOP", "RSET"];

/// P2: PASS with no USER (ST-003).
pub const P2_PASS_WITHOUT_USER: &str = "PASS popscope-probe";

/// P4 (keywords in lower case, GEN-009) and P5 (malformed commands and bad message numbers:
/// GEN-006, MSG-009, TOP-002). `RETR <count+1>` is added by the walk, which knows the count.
pub const P4_P5_AFTER_LOGIN: [&str; 8] = [
    "capa", "stat", "XYZZY", "RETR", "RETR abc", "TOP 1", "TOP 1 -1", "RETR 0",
];

/// P22: an argument where the command takes none (GEN-006, warning).
pub const P22_EXTRA_ARGUMENT: &str = "NOOP extra";

/// P10: login commands and UTF8 after login (ST-002, SASL-001, UTF-001); STLS (TLS-001) goes
/// last on its own, since a wrong +OK would start a handshake.
pub const P10_AFTER_LOGIN: [&str; 3] = ["UTF8", "USER popscope-probe", "AUTH PLAIN"];

/// P12 with a test mailbox (--allow-delete): DELE, then every reference to the deleted
/// message (DEL-001, MSG-002, MSG-004); the walk's RSET undoes it.
pub const P12_DELETE: [&str; 7] = [
    "DELE 1", "RETR 1", "LIST 1", "UIDL 1", "DELE 1", "STAT", "LIST",
];

/// P13: single-message forms and TOP against RETR (MSG-005, UIDL-006, TOP-001).
pub const P13_COMPARE: [&str; 4] = ["LIST 1", "UIDL 1", "TOP 1 0", "TOP 1 5"];

/// P8: plaintext pipelined behind STLS in one write (TLS-004).
pub const P8_INJECTION: &[u8] = b"STLS\r\nCAPA\r\n";

/// P24 without `--user`: the name in the OAuth request for the error challenge (XOAUTH2 needs
/// one; the request carries no token, so no account is at risk).
pub const P24_USER: &str = "popscope-probe";

/// P25 (OAUTH-006): the key/value pair added to an OAUTHBEARER message to see that the server
/// ignores what it does not know, as RFC 7628 §3.1 requires. Its key is letters only: the
/// grammar there is `key = 1*(ALPHA)`, so `x-popscope` would be a malformed message.
pub const P25_UNKNOWN_KEY: &[u8] = b"xpopscope=probe";

/// P25: `message` (a raw OAUTHBEARER client message of
/// [`oauthbearer_message`](crate::oauth::oauthbearer_message)) with [`P25_UNKNOWN_KEY`] added
/// as one more key/value pair before `auth=`; `None` when it has no `auth=` pair. The result
/// holds the token: it is wiped when dropped.
///
/// ```
/// let m = popscope_core::oauth::oauthbearer_message(b"u", b"h", 995, b"t").unwrap();
/// let m = popscope_core::probes::with_unknown_key(&m).unwrap();
/// assert_eq!(&m[..], b"n,a=u,\x01host=h\x01port=995\x01xpopscope=probe\x01auth=Bearer t\x01\x01");
/// ```
pub fn with_unknown_key(message: &[u8]) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    let at = memchr::memmem::find(message, b"\x01auth=")? + 1;
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(
        message.len() + P25_UNKNOWN_KEY.len() + 1,
    ));
    out.extend_from_slice(&message[..at]);
    out.extend_from_slice(P25_UNKNOWN_KEY);
    out.push(1);
    out.extend_from_slice(&message[at..]);
    Some(out)
}
