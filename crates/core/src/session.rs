//! What the engine knows about the session so far: the flags of rules.md §1.1, the
//! capability lists per security context, and the maildrop as the server described it.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::ser::SerializeMap;

use super::capability::Capabilities;
use super::command::Keyword;
use super::event::Time;
use super::oauth::{ChallengeDecode, ClientMessage, Mechanism, MessageKind};
use super::response::ResponseCode;
use super::state::{AuthStep, Security, State};

/// Capability lists, kept per state and security context (principle 2 of rules.md: a
/// condition on what the server advertises is judged only against a list from the same
/// context).
#[derive(Clone, Debug, Default, Serialize)]
pub struct CapsRecord {
    /// The last AUTHORIZATION list taken before an STLS upgrade.
    pub pre_tls: Option<Capabilities>,
    /// The last AUTHORIZATION list in the current security context.
    pub auth: Option<Capabilities>,
    /// The last TRANSACTION list.
    pub trans: Option<Capabilities>,
}

/// One message as the server described it: a view of what [`Maildrop`] keeps for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MessageInfo<'a> {
    /// Size from a scan listing.
    pub size: Option<u64>,
    /// Unique id from a UIDL listing, raw (RFC 1939 §7: 1 to 70 printable characters).
    pub uid: Option<&'a [u8]>,
    /// `DELE` was answered `+OK` and no `RSET` since.
    pub deleted: bool,
    /// Octets RETR delivered (CRLF line ends, unstuffed, without the terminator).
    pub retr_octets: Option<u64>,
}

/// Beyond this many messages the maildrop map stops growing (memory stays bounded however
/// large a LIST a server sends); checks on further messages are skipped.
pub const MAX_TRACKED_MESSAGES: usize = 2_000_000;

/// Octets of unique ids kept in all: a valid uid has at most 70, so this holds one for every
/// tracked message; a server sending longer ones fills it sooner and its further uids are
/// not kept (the map is then [`Maildrop::saturated`]).
pub const MAX_UID_OCTETS: usize = MAX_TRACKED_MESSAGES * 72;

/// A set of small numbers, one bit each.
#[derive(Clone, Debug, Default)]
pub(crate) struct Bits {
    words: Vec<u64>,
}

impl Bits {
    pub(crate) fn get(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    pub(crate) fn set(&mut self, i: usize, on: bool) {
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        if word >= self.words.len() {
            if !on {
                return;
            }
            self.words.resize(word + 1, 0);
        }
        if let Some(w) = self.words.get_mut(word) {
            if on { *w |= bit } else { *w &= !bit }
        }
    }

    pub(crate) fn clear(&mut self) {
        self.words.clear();
    }

    /// The members, ascending.
    pub(crate) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let mut rest = w;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let b = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    i * 64 + b
                })
            })
        })
    }
}

/// Values by message index, with which of them are known; grown only when one is set, so a
/// session that never RETRs keeps no RETR column. Four octets a value: the rare one of 4 GiB
/// or more (a hostile size, mostly) is kept aside.
#[derive(Clone, Debug, Default)]
struct Column {
    values: Vec<u32>,
    known: Bits,
    /// Values of [`u32::MAX`] and above, by index (`values` holds [`u32::MAX`] for them).
    large: BTreeMap<usize, u64>,
}

impl Column {
    fn get(&self, i: usize) -> Option<u64> {
        if !self.known.get(i) {
            return None;
        }
        match self.values.get(i).copied()? {
            u32::MAX => self.large.get(&i).copied(),
            v => Some(u64::from(v)),
        }
    }

    fn set(&mut self, i: usize, v: u64, expected: usize) {
        grow(&mut self.values, i, expected, 0);
        if let Some(slot) = self.values.get_mut(i) {
            *slot = u32::try_from(v).unwrap_or(u32::MAX);
            if *slot == u32::MAX {
                self.large.insert(i, v);
            } else {
                self.large.remove(&i);
            }
            self.known.set(i, true);
        }
    }
}

/// Makes `v[i]` exist. The count STAT or LIST gave sizes the vector once, instead of
/// doubling it (and briefly holding both copies) all the way up.
fn grow<T: Clone>(v: &mut Vec<T>, i: usize, expected: usize, fill: T) {
    if i < v.len() {
        return;
    }
    if i < expected && v.capacity() < expected {
        v.reserve_exact(expected - v.len());
    }
    v.resize(i + 1, fill);
}

/// The messages as the server described them: sizes, unique ids and deletions, gathered from
/// STAT, LIST, UIDL, RETR and DELE replies. Bounded: see [`MAX_TRACKED_MESSAGES`] and
/// [`MAX_UID_OCTETS`].
///
/// Kept as columns indexed by message number - 1 (servers number 1..N, RFC 1939 §3) and one
/// arena of uid octets: a LIST and a UIDL of a million messages cost 8 octets a message
/// plus the uid and its length octet, against 56 plus an allocation per uid as one struct a
/// message.
#[derive(Clone, Debug, Default)]
pub struct Maildrop {
    /// Messages something was said about.
    present: Bits,
    sizes: Column,
    retr: Column,
    deleted: Bits,
    /// What `deleted` holds, kept as it changes: STAT and LIST ask after every DELE, and a
    /// walk of the set each time made n DELEs cost n².
    deleted_sum: DeletedSum,
    /// Where message i's uid is in `uid_octets`, plus one; 0: none.
    uid_starts: Vec<u32>,
    /// Each uid after its length: one octet below 255, else 255 and four octets (LE).
    uid_octets: Vec<u8>,
    /// Number of messages when the maildrop was opened (first STAT or LIST).
    pub initial_count: Option<u64>,
    /// Size of the maildrop in octets when it was opened, if STAT said.
    pub initial_octets: Option<u64>,
    /// The latest STAT answer.
    pub last_stat: Option<(u64, u64)>,
    /// The map is full; further messages (or uids) are not tracked.
    pub saturated: bool,
}

/// The messages marked deleted: how many, their known sizes added up, and how many have no
/// size known.
#[derive(Clone, Copy, Debug, Default)]
struct DeletedSum {
    count: usize,
    /// Sizes are u64: a sum of up to [`MAX_TRACKED_MESSAGES`] of them fits in u128.
    octets: u128,
    size_unknown: usize,
}

/// The messages as a map from number to description, as a reader of the JSON expects.
impl Serialize for Maildrop {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown<'a> {
            messages: Messages<'a>,
            initial_count: Option<u64>,
            initial_octets: Option<u64>,
            last_stat: Option<(u64, u64)>,
            saturated: bool,
        }
        struct Messages<'a>(&'a Maildrop);
        impl Serialize for Messages<'_> {
            fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
                let mut map = ser.serialize_map(None)?;
                for (n, m) in self.0.iter() {
                    map.serialize_entry(&n, &m)?;
                }
                map.end()
            }
        }
        Shown {
            messages: Messages(self),
            initial_count: self.initial_count,
            initial_octets: self.initial_octets,
            last_stat: self.last_stat,
            saturated: self.saturated,
        }
        .serialize(ser)
    }
}

impl Maildrop {
    /// What is known of message `n` (numbered from 1), if anything.
    pub fn get(&self, n: u32) -> Option<MessageInfo<'_>> {
        let i = (n as usize).checked_sub(1)?;
        self.present.get(i).then(|| self.at(i))
    }

    fn at(&self, i: usize) -> MessageInfo<'_> {
        MessageInfo {
            size: self.sizes.get(i),
            uid: self.uid_at(i),
            deleted: self.deleted.get(i),
            retr_octets: self.retr.get(i),
        }
    }

    fn uid_at(&self, i: usize) -> Option<&[u8]> {
        let start = (*self.uid_starts.get(i)? as usize).checked_sub(1)?;
        let (len, from) = match *self.uid_octets.get(start)? {
            255 => {
                let wide = self.uid_octets.get(start + 1..start + 5)?;
                (
                    u32::from_le_bytes(wide.try_into().ok()?) as usize,
                    start + 5,
                )
            }
            short => (usize::from(short), start + 1),
        };
        self.uid_octets.get(from..from + len)
    }

    /// The index of message `n`, marked present, if `n` is within the tracked range
    /// (message 0 does not exist and is never tracked).
    fn track(&mut self, n: u32) -> Option<usize> {
        let i = (n as usize).checked_sub(1)?;
        if i >= MAX_TRACKED_MESSAGES {
            self.saturated = true;
            return None;
        }
        self.present.set(i, true);
        Some(i)
    }

    fn expected(&self) -> usize {
        self.initial_count
            .unwrap_or(0)
            .min(MAX_TRACKED_MESSAGES as u64) as usize
    }

    pub(crate) fn set_size(&mut self, n: u32, size: u64) {
        let expected = self.expected();
        if let Some(i) = self.track(n) {
            if self.deleted.get(i) {
                let sum = &mut self.deleted_sum;
                match self.sizes.get(i) {
                    Some(old) => sum.octets -= u128::from(old),
                    None => sum.size_unknown = sum.size_unknown.saturating_sub(1),
                }
                sum.octets += u128::from(size);
            }
            self.sizes.set(i, size, expected);
        }
    }

    pub(crate) fn set_retr_octets(&mut self, n: u32, octets: u64) {
        let expected = self.expected();
        if let Some(i) = self.track(n) {
            self.retr.set(i, octets, expected);
        }
    }

    pub(crate) fn set_deleted(&mut self, n: u32) {
        if let Some(i) = self.track(n) {
            if self.deleted.get(i) {
                return;
            }
            self.deleted.set(i, true);
            let sum = &mut self.deleted_sum;
            sum.count += 1;
            match self.sizes.get(i) {
                Some(size) => sum.octets += u128::from(size),
                None => sum.size_unknown += 1,
            }
        }
    }

    /// RSET: nothing is marked deleted any more.
    pub(crate) fn undelete_all(&mut self) {
        self.deleted.clear();
        self.deleted_sum = DeletedSum::default();
    }

    /// How many messages are marked deleted.
    pub(crate) fn deleted_count(&self) -> usize {
        self.deleted_sum.count
    }

    /// Keeps `uid` as message `n`'s unless it has one already (the first one stays: a later
    /// different one is what MSG-007 and UIDL-006 report).
    pub(crate) fn set_uid(&mut self, n: u32, uid: &[u8]) {
        let expected = self.expected();
        let Some(i) = self.track(n) else { return };
        if uid.is_empty() || self.uid_at(i).is_some() {
            return;
        }
        let start = self.uid_octets.len();
        if start + uid.len() + 5 > MAX_UID_OCTETS {
            self.saturated = true;
            return;
        }
        grow(&mut self.uid_starts, i, expected, 0);
        if let Some(slot) = self.uid_starts.get_mut(i) {
            // Fits in u32: MAX_UID_OCTETS is below 2^32, and so is a uid's length.
            *slot = start as u32 + 1;
            match u8::try_from(uid.len()) {
                Ok(short) if short < 255 => self.uid_octets.push(short),
                _ => {
                    self.uid_octets.push(255);
                    self.uid_octets
                        .extend_from_slice(&(uid.len() as u32).to_le_bytes());
                }
            }
            self.uid_octets.extend_from_slice(uid);
        }
    }

    /// The messages described so far, in order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, MessageInfo<'_>)> {
        self.present.iter().map(|i| (i as u32 + 1, self.at(i)))
    }

    pub(crate) fn is_deleted(&self, n: u32) -> bool {
        (n as usize)
            .checked_sub(1)
            .is_some_and(|i| self.deleted.get(i))
    }

    pub(crate) fn deleted(&self) -> impl Iterator<Item = (u32, MessageInfo<'_>)> {
        self.deleted.iter().map(|i| (i as u32 + 1, self.at(i)))
    }

    /// Count and octets STAT should report now, when known.
    pub(crate) fn expected_stat(&self) -> Option<(u64, Option<u64>)> {
        let count = self.initial_count?;
        let sum = self.deleted_sum;
        let count = count.checked_sub(sum.count as u64)?;
        let octets = self.initial_octets.and_then(|o| {
            let gone = (sum.size_unknown == 0).then_some(sum.octets)?;
            o.checked_sub(u64::try_from(gone).ok()?)
        });
        Some((count, octets))
    }
}

/// How far an OAuth login got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OauthOutcome {
    /// Not answered yet (or never: the connection closed first).
    Pending,
    /// `+OK`: logged in.
    Accepted,
    /// `-ERR`.
    Refused,
}

/// Why an OAuth login was refused, as far as the `-ERR` tells: whether the refusal is a
/// verdict on the token and the form of the AUTH, or says nothing about them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Refusal {
    /// No response code, `[AUTH]` or another code: the server refused the login itself.
    Login,
    /// `[IN-USE]`: the credentials were fine and the maildrop is locked by another session
    /// (RFC 2449 §8.1.2).
    InUse,
    /// `[LOGIN-DELAY]`: the user logged in too recently (RFC 2449 §8.1.1).
    LoginDelay,
    /// `[SYS/TEMP]`, `[SYS/PERM]`: the server's own trouble (RFC 3206 §4).
    System,
    /// AUTH after a login (in TRANSACTION, or after a SASL success): refused for the state
    /// (RFC 5034 §4), whatever the token.
    WrongState,
}

impl Refusal {
    /// The reason of a `-ERR` with `code` to an AUTH sent in AUTHORIZATION, before any login
    /// (`in_authorization`): the codes as the USER rules read them too (USR-003).
    pub fn of(code: Option<&ResponseCode>, in_authorization: bool) -> Refusal {
        match code {
            _ if !in_authorization => Refusal::WrongState,
            Some(c) if c.is("IN-USE") => Refusal::InUse,
            Some(c) if c.is("LOGIN-DELAY") => Refusal::LoginDelay,
            Some(c) if c.is("SYS") => Refusal::System,
            _ => Refusal::Login,
        }
    }
}

/// A login the client tried (PASS, APOP or AUTH with a mechanism) and the server answered:
/// what [`crate::rules::cross::login_delay`] compares across the connections of one client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Login {
    /// When the answer came, on the connection's clock (the [`Time`]s its driver fed).
    pub answered: Time,
    /// The answer was `+OK`.
    pub accepted: bool,
    /// Why it was refused, as far as the `-ERR`'s response code tells.
    pub refusal: Option<Refusal>,
}

/// One `AUTH XOAUTH2` or `AUTH OAUTHBEARER` of the session, as far as it went: what the
/// check walk compares across sessions ([`crate::rules::cross::oauth_forms`],
/// [`crate::rules::cross::oauth_extra_keys`]) and the UI shows. It holds no token: only what
/// the client's message was and how the server answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OauthAttempt {
    /// The AUTH command's exchange number.
    pub exchange: u32,
    /// The mechanism.
    pub mechanism: Mechanism,
    /// The response was on the AUTH line (`AUTH XOAUTH2 <base64>`); false for the two-line
    /// form (`AUTH XOAUTH2`, the server's `+ `, then the response on its own line).
    pub one_line: bool,
    /// The AUTH line's length on the wire, line end included (over 255 octets breaks RFC 5034
    /// §4 and is why long tokens need the two-line form).
    pub auth_line_octets: usize,
    /// TLS was active when the AUTH was sent.
    pub tls: bool,
    /// The client's token message; None while it has not sent one (or never did: refused
    /// before the `+ `, or cancelled).
    pub message: Option<ClientMessage>,
    /// The server's error challenge after the token message, decoded; None if none came.
    pub error: Option<ChallengeDecode>,
    /// The error challenge was longer than the engine's line cap ([`crate::Config::max_line`]):
    /// `error` is what popscope made of the part it kept, not what the server meant.
    pub error_cut: bool,
    /// How the server answered the AUTH.
    pub outcome: OauthOutcome,
    /// Why, when the outcome is [`OauthOutcome::Refused`].
    pub refusal: Option<Refusal>,
}

impl OauthAttempt {
    /// The client's message carried a bearer token (not the dummy, not an empty `auth=`).
    pub fn carried_token(&self) -> bool {
        self.message.is_some_and(|m| m.kind == MessageKind::Token)
    }

    /// The client's message carried a key/value pair the mechanism does not define.
    pub fn extra_key(&self) -> bool {
        self.message.is_some_and(|m| m.unknown_key)
    }

    /// Refused with `-ERR` and no error challenge: the client learned nothing of why.
    pub fn refused_at_once(&self) -> bool {
        self.outcome == OauthOutcome::Refused && self.error.is_none()
    }

    /// What the answer says of the token and the AUTH form: Some(true) for `+OK`, Some(false)
    /// for a refusal of the login itself, None while unanswered or when the `-ERR` was for
    /// something else (a locked maildrop, the server's trouble: [`Refusal`]). Only verdicts
    /// are compared across sessions.
    pub fn verdict(&self) -> Option<bool> {
        match (self.outcome, self.refusal) {
            (OauthOutcome::Accepted, _) => Some(true),
            (OauthOutcome::Refused, Some(Refusal::Login)) => Some(false),
            _ => None,
        }
    }
}

/// Beyond this many OAuth logins in one session [`Session::oauth`] stops growing (and the
/// OAuth rules skip further attempts), so memory stays bounded.
pub const MAX_OAUTH_ATTEMPTS: usize = 64;

/// The session as the engine sees it. Drivers and views read it through
/// [`Engine::session`](crate::Engine::session); only the engine writes it, after each input,
/// before the `handle_*` call returns.
#[derive(Clone, Debug, Serialize)]
pub struct Session {
    /// The current state; the last [`Transition::to`](crate::Transition::to) emitted.
    pub state: State,
    /// How the connection is protected now.
    pub security: Security,
    /// The server asked for a client certificate (TLS CertificateRequest).
    pub cert_requested: bool,
    /// The client presented a certificate.
    pub client_cert: bool,
    /// The greeting line, once seen.
    pub greeting: Option<Vec<u8>>,
    /// The APOP timestamp of the greeting, `<…>` included.
    pub apop_timestamp: Option<Vec<u8>>,
    /// `+OK` to UTF8 (RFC 6856 §2).
    pub utf8_mode: bool,
    /// `+OK` to `LANG range`: reply text may now be UTF-8 (RFC 6856 §3).
    pub lang_changed: bool,
    /// The CAPA lists seen, per state and security context.
    pub caps: CapsRecord,
    /// How the session got to TRANSACTION, if it did.
    pub logged_in_by: Option<Keyword>,
    /// A SASL AUTH succeeded (no second one is allowed).
    pub sasl_done: bool,
    /// TRANSACTION was entered without any login (the server skipped AUTHORIZATION).
    pub skipped_login: bool,
    /// The last authentication attempt failed and no login has happened since.
    pub auth_failed: bool,
    /// STLS was answered `-ERR`.
    pub stls_refused: bool,
    /// The messages as the server described them.
    pub maildrop: Maildrop,
    /// When the client last finished sending a command (TMO-001).
    pub last_client_activity: Time,
    /// When the server last sent something.
    pub last_server_activity: Time,
    /// Commands sent so far (the next exchange number).
    pub commands_sent: u32,
    /// Commands sent since the last TLS handshake.
    pub commands_since_tls: u32,
    /// The XOAUTH2 and OAUTHBEARER logins so far, in order (at most [`MAX_OAUTH_ATTEMPTS`]).
    pub oauth: Vec<OauthAttempt>,
    /// The first login the client tried in this session, once answered.
    pub first_login: Option<Login>,
    /// The login that succeeded, if one did.
    pub accepted_login: Option<Login>,
}

impl Session {
    pub(crate) fn new(implicit_tls: bool) -> Self {
        Session {
            state: if implicit_tls {
                State::TlsHandshake
            } else {
                State::Greeting
            },
            security: Security::Plain,
            cert_requested: false,
            client_cert: false,
            greeting: None,
            apop_timestamp: None,
            utf8_mode: false,
            lang_changed: false,
            caps: CapsRecord::default(),
            logged_in_by: None,
            sasl_done: false,
            skipped_login: false,
            auth_failed: false,
            stls_refused: false,
            maildrop: Maildrop::default(),
            last_client_activity: Time::default(),
            last_server_activity: Time::default(),
            commands_sent: 0,
            commands_since_tls: 0,
            oauth: Vec::new(),
            first_login: None,
            accepted_login: None,
        }
    }

    /// What a later connection of the same client is judged against
    /// ([`crate::rules::cross::login_delay`]): the capability lists and the logins, nothing
    /// else, so a driver can keep one per client without keeping its maildrop.
    pub fn logins_only(&self) -> Session {
        Session {
            caps: self.caps.clone(),
            first_login: self.first_login,
            accepted_login: self.accepted_login,
            ..Session::new(false)
        }
    }

    /// The capability list of the current state and security context, if one was seen.
    pub fn current_caps(&self) -> Option<&Capabilities> {
        match self.state {
            State::Authorization(_) => self.caps.auth.as_ref(),
            State::Transaction | State::Update => self.caps.trans.as_ref(),
            _ => None,
        }
    }

    /// The OAuth login of exchange `exchange`, if it is recorded.
    pub fn oauth_attempt(&self, exchange: u32) -> Option<&OauthAttempt> {
        self.oauth.iter().rev().find(|a| a.exchange == exchange)
    }

    pub(crate) fn oauth_attempt_mut(&mut self, exchange: u32) -> Option<&mut OauthAttempt> {
        self.oauth.iter_mut().rev().find(|a| a.exchange == exchange)
    }

    /// Whether the current context's list advertises `tag`: `None` when no list was seen.
    pub(crate) fn advertises(&self, tag: &str) -> Option<bool> {
        self.current_caps().map(|c| c.has(tag))
    }

    /// Some capability list was seen in this session, in any context.
    pub(crate) fn any_caps(&self) -> Option<&Capabilities> {
        self.caps
            .trans
            .as_ref()
            .or(self.caps.auth.as_ref())
            .or(self.caps.pre_tls.as_ref())
    }

    pub(crate) fn in_authorization(&self) -> bool {
        self.state.is_authorization()
    }

    pub(crate) fn in_user_ok(&self) -> bool {
        self.state == State::Authorization(AuthStep::UserOk)
    }

    /// Non-ASCII status text is allowed (RFC 6856 §2.1, §3.2).
    pub(crate) fn utf8_text_allowed(&self) -> bool {
        self.utf8_mode || self.lang_changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compact_maildrop_keeps_what_it_was_told() {
        let mut m = Maildrop::default();
        let long = vec![b'x'; 300];
        m.set_size(1, 120);
        m.set_size(2, u64::MAX);
        m.set_size(3, u64::from(u32::MAX));
        m.set_uid(1, b"a");
        m.set_uid(2, &long);
        m.set_uid(2, b"later");
        m.set_retr_octets(3, 5);
        m.set_deleted(3);
        let got = |n| m.get(n).unwrap_or_default();
        assert_eq!((got(1).size, got(1).uid), (Some(120), Some(&b"a"[..])));
        assert_eq!((got(2).size, got(2).uid), (Some(u64::MAX), Some(&long[..])));
        assert_eq!(got(3).size, Some(u64::from(u32::MAX)));
        assert_eq!(
            (got(3).uid, got(3).retr_octets, got(3).deleted),
            (None, Some(5), true)
        );
        assert!(m.get(4).is_none());
        assert_eq!(m.iter().map(|(n, _)| n).collect::<Vec<_>>(), [1, 2, 3]);
        m.undelete_all();
        assert!(m.deleted().next().is_none());
        m.set_size(2, 7);
        assert_eq!(m.get(2).and_then(|x| x.size), Some(7));
    }

    /// What STAT should say after DELEs, from sums kept as they change, against a walk of the
    /// deleted set as it was computed before.
    #[test]
    fn the_expected_stat_follows_every_change() {
        let walked = |m: &Maildrop| {
            let count = m.initial_count? - m.deleted().count() as u64;
            let gone: Option<u128> = m.deleted().map(|(_, x)| x.size.map(u128::from)).sum();
            let octets = m
                .initial_octets
                .zip(gone)
                .and_then(|(o, g)| o.checked_sub(u64::try_from(g).ok()?));
            Some((count, octets))
        };
        let mut m = Maildrop {
            initial_count: Some(5),
            initial_octets: Some(1000),
            ..Maildrop::default()
        };
        for n in 1..=4 {
            m.set_size(n, u64::from(n) * 100);
        }
        let steps: [&dyn Fn(&mut Maildrop); 8] = [
            &|m| m.set_deleted(2),
            &|m| m.set_deleted(2),
            &|m| m.set_deleted(5),
            &|m| m.set_size(5, 50),
            &|m| m.set_size(2, 250),
            &|m| m.set_deleted(1),
            &|m| m.undelete_all(),
            &|m| m.set_deleted(4),
        ];
        let want = [
            (4, Some(800)),
            (4, Some(800)),
            (3, None),
            (3, Some(750)),
            (3, Some(700)),
            (2, Some(600)),
            (5, Some(1000)),
            (4, Some(600)),
        ];
        for (step, want) in steps.iter().zip(want) {
            step(&mut m);
            assert_eq!(m.expected_stat(), Some(want));
            assert_eq!(m.expected_stat(), walked(&m));
        }
        // Sizes a hostile server gave that add up past u64: no STAT octets, no overflow.
        m.set_size(1, u64::MAX);
        m.set_size(2, u64::MAX);
        m.set_deleted(1);
        m.set_deleted(2);
        assert_eq!(m.expected_stat(), Some((2, None)));
        assert_eq!(m.deleted_count(), 3);
    }
}
