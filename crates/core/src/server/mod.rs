//! The demo server's POP3 side, sans-IO: it is fed client lines and transport facts and says
//! what to send. `src/server/` owns the sockets. Conformant by default; a [`Quirk`] makes it
//! misbehave in one specific, documented way (its row's [`Behaviour`]).

pub mod maildrop;
pub(crate) mod oauth;
pub mod quirks;

use maildrop::StoredMessage;
pub use quirks::{Behaviour, Login, QUIRKS, Quirk, QuirkInfo, Transport};

use super::auth;
use super::command::{Command, Keyword, Syntax, parse_decimal};
use crate::oauth::Mechanism;

/// What the connection should do next. The driver carries out a call's outputs in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Write these octets to the client.
    Send(Vec<u8>),
    /// Start the TLS handshake now, after the preceding `Send`s are flushed, and give the
    /// session no input until it completes; then call [`ServerSession::on_tls`] (which deals
    /// with the plaintext that came behind STLS) and carry out what it returns.
    StartTls,
    /// Remove these messages (by uid) from the shared maildrop: UPDATE after QUIT.
    Commit(Vec<String>),
    /// Flush and close the connection; the session takes no more input.
    Close,
}

/// One connection's settings.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The one user who may log in.
    pub user: String,
    /// That user's password (also the APOP and CRAM-MD5 secret).
    pub password: String,
    /// That user's bearer token, for XOAUTH2 and OAUTHBEARER.
    pub token: String,
    /// The port the client connected to, which OAUTHBEARER's `port=` must name; None takes
    /// any.
    pub port: Option<u16>,
    /// Offer STLS on the plain port; plaintext logins are then refused until TLS is up.
    pub offer_stls: bool,
    /// The misbehaviour, if any; `None` is the conformant server.
    pub quirk: Option<Quirk>,
    /// The APOP timestamp for this connection's greeting; the shell makes it unique.
    pub timestamp: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Authorization,
    Transaction,
    Closed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Sasl {
    Plain,
    LoginUser,
    LoginPassword(Vec<u8>),
    Cram(Vec<u8>),
    External,
    /// XOAUTH2 or OAUTHBEARER: the client's message.
    Token(Mechanism),
    /// The error challenge was sent: the client's dummy response, then failure.
    TokenRefused,
}

/// Lines longer than this are refused with -ERR (RFC 2449 §4 asks for at least 255).
pub(crate) const MAX_COMMAND_LINE: usize = 8192;

/// One connection of the demo server: send [`greeting`](Self::greeting) first (after
/// [`on_tls`](Self::on_tls) on an implicit-TLS port), then give [`receive`](Self::receive)
/// every octet the client sends, carrying out the [`Output`]s in order, until one is
/// [`Output::Close`]. The socket shell (`src/server`) and the paired tests drive it alike.
pub struct ServerSession {
    cfg: ServerConfig,
    wire: Behaviour,
    /// Client octets not yet handled: a partial line, or what came behind STLS.
    input: Vec<u8>,
    /// STLS was accepted: input waits for [`on_tls`](Self::on_tls).
    awaiting_tls: bool,
    /// A line grew past [`MAX_COMMAND_LINE`]: its octets are dropped until its end, which
    /// gets one `-ERR` (a reply per command line, in its place).
    skipping_long_line: bool,
    phase: Phase,
    user: Option<Vec<u8>>,
    tls: bool,
    client_cn: Option<String>,
    messages: Vec<(StoredMessage, bool)>,
    sasl: Option<Sasl>,
}

impl ServerSession {
    /// A session in AUTHORIZATION over a copy of the maildrop (`messages`, numbered from 1).
    pub fn new(cfg: ServerConfig, messages: Vec<StoredMessage>) -> Self {
        ServerSession {
            wire: cfg
                .quirk
                .map_or(Behaviour::CONFORMANT, |q| q.info().behaviour),
            input: Vec::new(),
            awaiting_tls: false,
            skipping_long_line: false,
            cfg,
            phase: Phase::Authorization,
            user: None,
            tls: false,
            client_cn: None,
            messages: messages.into_iter().map(|m| (m, false)).collect(),
            sasl: None,
        }
    }

    fn eol(&self) -> &'static [u8] {
        self.wire.line_end
    }

    fn status(&self, ok: bool, text: &str) -> Vec<u8> {
        let ind = match (ok, self.wire.lowercase_status) {
            (true, false) => "+OK",
            (false, false) => "-ERR",
            (true, true) => "+ok",
            (false, true) => "-err",
        };
        let mut v = if text.is_empty() {
            ind.as_bytes().to_vec()
        } else {
            format!("{ind} {text}").into_bytes()
        };
        v.extend_from_slice(self.eol());
        v
    }

    fn ok(&self, text: &str) -> Vec<Output> {
        vec![Output::Send(self.status(true, text))]
    }

    fn err(&self, text: &str) -> Vec<Output> {
        vec![Output::Send(self.status(false, text))]
    }

    /// A data block: lines dot-stuffed (unless the quirk says not to) and terminated.
    fn block(&self, first: &str, lines: &[&[u8]]) -> Vec<u8> {
        self.block_ending(first, lines, true)
    }

    fn block_ending(&self, first: &str, lines: &[&[u8]], terminate: bool) -> Vec<u8> {
        let mut v = self.status(true, first);
        for l in lines {
            if l.first() == Some(&b'.') && self.wire.dot_stuffing {
                v.push(b'.');
            }
            v.extend_from_slice(l);
            v.extend_from_slice(self.eol());
        }
        if terminate {
            v.push(b'.');
            v.extend_from_slice(self.eol());
        }
        v
    }

    /// The `+OK` greeting with this connection's APOP timestamp: the first octets to send.
    pub fn greeting(&self) -> Vec<u8> {
        let text = self
            .wire
            .greeting
            .unwrap_or("popscope demo POP3 server ready");
        self.status(true, &format!("{text} {}", self.cfg.timestamp))
    }

    /// The TLS handshake completed (implicit TLS before the greeting, or after
    /// [`Output::StartTls`]); `client_cn` is the CN of a verified client certificate. What
    /// came behind the STLS line was plaintext: a conformant server drops it, the injection
    /// quirk runs it now, and the outputs are its replies.
    pub fn on_tls(&mut self, client_cn: Option<String>) -> Vec<Output> {
        self.tls = true;
        if self.wire.preauth_by_client_cert && client_cn.is_some() {
            self.phase = Phase::Transaction;
            self.user = client_cn.clone().map(String::into_bytes);
        }
        self.client_cn = client_cn;
        self.awaiting_tls = false;
        if !self.wire.runs_plaintext_after_stls {
            self.input.clear();
        }
        self.receive(&[])
    }

    /// Octets from the client, split anywhere: every complete line (LF or CRLF) is handled in
    /// order. After [`Output::StartTls`] or [`Output::Close`] no more lines are handled (the
    /// rest waits for [`on_tls`](Self::on_tls), or is ignored). A line longer than 8192
    /// octets is dropped as it comes, and its end answered with one `-ERR`: an endless line
    /// costs no memory and gets no reply.
    pub fn receive(&mut self, bytes: &[u8]) -> Vec<Output> {
        self.input.extend_from_slice(bytes);
        let mut out = Vec::new();
        while !self.awaiting_tls && self.phase != Phase::Closed {
            let Some(nl) = self.input.iter().position(|&b| b == b'\n') else {
                break;
            };
            if self.skipping_long_line {
                self.input.drain(..=nl);
                self.skipping_long_line = false;
                out.push(Output::Send(b"-ERR command line too long\r\n".to_vec()));
                continue;
            }
            let line: Vec<u8> = self.input.drain(..=nl).collect();
            let line = line.strip_suffix(b"\n").unwrap_or(&line);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            for o in self.handle_line(line) {
                match o {
                    Output::StartTls => self.awaiting_tls = true,
                    Output::Close => self.phase = Phase::Closed,
                    _ => {}
                }
                out.push(o);
            }
        }
        if !self.awaiting_tls && (self.skipping_long_line || self.input.len() > MAX_COMMAND_LINE) {
            self.input.clear();
            self.skipping_long_line = true;
        }
        out
    }

    /// One line from the client (without its line end): what to do about it. Empty once
    /// closed.
    fn handle_line(&mut self, line: &[u8]) -> Vec<Output> {
        if self.phase == Phase::Closed {
            return Vec::new();
        }
        if let Some(step) = self.sasl.take() {
            return self.sasl_step(step, line);
        }
        let cmd = Command::parse(line, line.len() + 2);
        // The demo server reads the keyword strictly: ` AUTH PLAIN` and `AUTH\tPLAIN` (which
        // the parser takes for AUTH, as a lenient server would) are refused as before.
        let strict = line.split(|&b| b == b' ').next().unwrap_or_default();
        if cmd.keyword == Keyword::Auth && Keyword::parse(strict) != Keyword::Auth {
            return self.err("invalid arguments");
        }
        let in_trans = self.phase == Phase::Transaction;
        let trans_allowed = in_trans || !self.wire.login_required;
        match cmd.keyword {
            Keyword::Capa => vec![Output::Send(self.capa())],
            Keyword::Quit => self.quit(),
            Keyword::User | Keyword::Pass | Keyword::Apop | Keyword::Auth if in_trans => {
                self.err(if self.wire.preauth_by_client_cert {
                    "already authenticated"
                } else {
                    "already logged in"
                })
            }
            Keyword::User => self.user_cmd(&cmd),
            Keyword::Pass => self.pass(&cmd),
            Keyword::Apop => self.apop(&cmd),
            Keyword::Auth => self.auth(&cmd),
            Keyword::Stls => self.stls(),
            k if k.is_transaction_only() && !trans_allowed => self.err("log in first"),
            _ if cmd.syntax() != Syntax::Fine => self.err("invalid arguments"),
            Keyword::Stat => {
                let (n, size) = self
                    .live()
                    .fold((0, 0), |(n, s), (_, m)| (n + 1, s + m.data.len()));
                self.ok(&format!("{n} {size}"))
            }
            Keyword::List => self.list(&cmd),
            Keyword::Uidl => self.uidl(&cmd),
            Keyword::Retr => self.retr(&cmd),
            Keyword::Top => self.top(&cmd),
            Keyword::Dele => match self.msg_index(&cmd) {
                Some(i) => {
                    self.messages[i].1 = true;
                    self.ok(&format!("message {} deleted", i + 1))
                }
                None => self.err("no such message"),
            },
            Keyword::Noop => self.ok(""),
            Keyword::Rset => {
                for m in &mut self.messages {
                    m.1 = false;
                }
                self.ok("maildrop reset")
            }
            _ => self.err("unknown command"),
        }
    }

    /// Messages not marked deleted, with their 1-based numbers.
    fn live(&self) -> impl Iterator<Item = (usize, &StoredMessage)> {
        self.messages
            .iter()
            .enumerate()
            .filter(|(_, (_, d))| !d)
            .map(|(i, (m, _))| (i + 1, m))
    }

    /// The index of the message a command names, if it may be referred to.
    fn msg_index(&self, cmd: &Command) -> Option<usize> {
        let n = cmd.arg(0).and_then(super::command::parse_msg_number)? as usize;
        let (_, deleted) = self.messages.get(n.checked_sub(1)?)?;
        (!deleted || self.wire.serves_deleted).then_some(n - 1)
    }

    fn listed_size(&self, m: &StoredMessage) -> usize {
        m.data.len() + self.wire.list_size_excess
    }

    fn capa(&self) -> Vec<u8> {
        let plaintext_ok = self.tls || !self.cfg.offer_stls;
        let mut caps: Vec<String> = vec![
            "CAPA".into(),
            "TOP".into(),
            "UIDL".into(),
            "RESP-CODES".into(),
            "AUTH-RESP-CODE".into(),
            "PIPELINING".into(),
            "EXPIRE NEVER".into(),
        ];
        if plaintext_ok {
            caps.push("USER".into());
        }
        let mut sasl = Vec::new();
        if plaintext_ok {
            sasl.extend(["PLAIN", "LOGIN"]);
        }
        sasl.push("CRAM-MD5");
        if self.tls {
            sasl.push("EXTERNAL");
        }
        if self.tokens_offered() {
            sasl.extend(["XOAUTH2", "OAUTHBEARER"]);
        }
        caps.push(format!("SASL {}", sasl.join(" ")));
        if self.cfg.offer_stls && !self.tls && self.phase == Phase::Authorization {
            caps.push("STLS".into());
        }
        caps.push("IMPLEMENTATION popscope-demo".into());
        let lines: Vec<&[u8]> = caps.iter().map(|c| c.as_bytes()).collect();
        self.block("Capability list follows", &lines)
    }

    fn plaintext_refused(&self) -> bool {
        self.cfg.offer_stls && !self.tls
    }

    fn user_cmd(&mut self, cmd: &Command) -> Vec<Output> {
        if self.plaintext_refused() {
            return self.err(
                "[AUTH] Plaintext authentication disallowed on non-secure connections: use STLS",
            );
        }
        match cmd.arg(0) {
            Some(name) => {
                self.user = Some(name.to_vec());
                self.ok("")
            }
            None => self.err("USER needs a name"),
        }
    }

    fn pass(&mut self, cmd: &Command) -> Vec<Output> {
        let Some(user) = self.user.take() else {
            return self.err("USER first");
        };
        let pw = cmd
            .secret
            .as_ref()
            .map(|s| s.expose().to_vec())
            .unwrap_or_default();
        self.login(&user, &pw)
    }

    fn login(&mut self, user: &[u8], password: &[u8]) -> Vec<Output> {
        if user == self.cfg.user.as_bytes() && password == self.cfg.password.as_bytes() {
            self.logged_in()
        } else {
            self.err("[AUTH] invalid user name or password")
        }
    }

    fn logged_in(&mut self) -> Vec<Output> {
        self.phase = Phase::Transaction;
        let (n, size) = self
            .live()
            .fold((0, 0), |(n, s), (_, m)| (n + 1, s + m.data.len()));
        self.ok(&format!(
            "maildrop has {} ({})",
            super::plural(n, "message"),
            super::plural(size, "octet")
        ))
    }

    fn apop(&mut self, cmd: &Command) -> Vec<Output> {
        let (Some(name), Some(digest)) = (cmd.arg(0), cmd.secret.as_ref()) else {
            return self.err("APOP needs a name and a digest");
        };
        let want = auth::apop_digest(self.cfg.timestamp.as_bytes(), self.cfg.password.as_bytes());
        if name == self.cfg.user.as_bytes() && digest.expose() == want.as_bytes() {
            self.logged_in()
        } else {
            self.err("[AUTH] APOP authentication failed")
        }
    }

    fn auth(&mut self, cmd: &Command) -> Vec<Output> {
        let Some(mech) = cmd.mechanism() else {
            // Old-style mechanism discovery, as Dovecot answers it (SASL-012).
            let mut mechs: Vec<&[u8]> = vec![b"CRAM-MD5"];
            if !self.plaintext_refused() {
                mechs.extend([&b"PLAIN"[..], b"LOGIN"]);
            }
            if self.tokens_offered() {
                mechs.extend([&b"XOAUTH2"[..], b"OAUTHBEARER"]);
            }
            return vec![Output::Send(self.block("", &mechs))];
        };
        let ir = cmd.secret.as_ref().map(|s| s.expose().to_vec());
        if let Some(mechanism) = Mechanism::parse(&mech) {
            return self.auth_token(mechanism, ir.as_deref());
        }
        match mech.as_str() {
            "PLAIN" | "LOGIN" if self.plaintext_refused() => self.err(
                "[AUTH] Plaintext authentication disallowed on non-secure connections: use STLS",
            ),
            "PLAIN" => match ir {
                Some(r) => self.sasl_step(Sasl::Plain, &r),
                None => self.challenge(Sasl::Plain, b""),
            },
            "LOGIN" => match ir {
                Some(r) => self.sasl_step(Sasl::LoginUser, &r),
                None => self.challenge(Sasl::LoginUser, b"Username:"),
            },
            "CRAM-MD5" if ir.is_some() => self.err("CRAM-MD5 takes no initial response"),
            "CRAM-MD5" => {
                let ch = self.cfg.timestamp.clone().into_bytes();
                self.challenge(Sasl::Cram(ch.clone()), &ch)
            }
            "EXTERNAL" if self.tls => match ir {
                Some(r) => self.sasl_step(Sasl::External, &r),
                None => self.challenge(Sasl::External, b""),
            },
            _ => self.err("unsupported authentication mechanism"),
        }
    }

    fn challenge(&mut self, next: Sasl, data: &[u8]) -> Vec<Output> {
        self.sasl = Some(next);
        let mut line = b"+ ".to_vec();
        line.extend_from_slice(auth::b64encode(data).as_bytes());
        line.extend_from_slice(self.eol());
        vec![Output::Send(line)]
    }

    fn sasl_step(&mut self, step: Sasl, line: &[u8]) -> Vec<Output> {
        if step == Sasl::TokenRefused {
            return self.after_error_challenge(line);
        }
        if line == b"*" {
            return self.err("authentication cancelled");
        }
        let decoded = if line == b"=" {
            Some(Vec::new())
        } else {
            auth::b64decode(line)
        };
        let Some(data) = decoded else {
            return self.err("invalid base64");
        };
        match step {
            Sasl::Plain => match auth::parse_plain(&data) {
                Some((authz, user, pw)) if authz.is_empty() || authz == user => {
                    let (user, pw) = (user.to_vec(), pw.to_vec());
                    self.login(&user, &pw)
                }
                _ => self.err("[AUTH] authentication failed"),
            },
            Sasl::LoginUser => self.challenge(Sasl::LoginPassword(data), b"Password:"),
            Sasl::LoginPassword(user) => self.login(&user, &data),
            Sasl::Cram(ch) => {
                let want = {
                    let mut w = self.cfg.user.as_bytes().to_vec();
                    w.push(b' ');
                    w.extend_from_slice(
                        auth::hmac_md5_hex(self.cfg.password.as_bytes(), &ch).as_bytes(),
                    );
                    w
                };
                if data == want {
                    self.logged_in()
                } else {
                    self.err("[AUTH] authentication failed")
                }
            }
            Sasl::External => {
                let cn_ok = self.client_cn.as_deref() == Some(self.cfg.user.as_str());
                let authz_ok = data.is_empty() || data == self.cfg.user.as_bytes();
                if cn_ok && authz_ok {
                    self.logged_in()
                } else {
                    self.err("[AUTH] no acceptable client certificate")
                }
            }
            Sasl::Token(mechanism) => self.token_message(mechanism, &data),
            Sasl::TokenRefused => self.after_error_challenge(line),
        }
    }

    fn stls(&mut self) -> Vec<Output> {
        if self.tls {
            return self.err("Command not permitted when TLS active");
        }
        if !self.cfg.offer_stls {
            return self.err("STLS not available");
        }
        if self.phase == Phase::Transaction {
            // RFC 2595 §4: STLS only in AUTHORIZATION (TLS-001).
            return self.err("STLS only before login");
        }
        let mut reply = self.status(true, "Begin TLS negotiation now");
        if let Some(plaintext) = self.wire.after_stls_reply {
            // In the same write, so that a client reads it with the reply (NO STARTTLS).
            reply.extend_from_slice(plaintext);
        }
        vec![Output::Send(reply), Output::StartTls]
    }

    fn quit(&mut self) -> Vec<Output> {
        let in_trans = self.phase == Phase::Transaction;
        self.phase = Phase::Closed;
        let mut out = self.ok("popscope demo server signing off");
        if in_trans {
            let gone: Vec<String> = self
                .messages
                .iter()
                .filter(|(_, d)| *d)
                .map(|(m, _)| m.uid.clone())
                .collect();
            if !gone.is_empty() {
                out.push(Output::Commit(gone));
            }
        }
        out.push(Output::Close);
        out
    }

    fn list(&self, cmd: &Command) -> Vec<Output> {
        if cmd.arg_count() == 1 {
            return match self.msg_index(cmd) {
                Some(i) => self.ok(&format!(
                    "{} {}",
                    i + 1,
                    self.listed_size(&self.messages[i].0)
                )),
                None => self.err("no such message"),
            };
        }
        let entries: Vec<String> = if self.wire.serves_deleted {
            self.messages
                .iter()
                .enumerate()
                .map(|(i, (m, _))| format!("{} {}", i + 1, self.listed_size(m)))
                .collect()
        } else {
            self.live()
                .map(|(n, m)| format!("{n} {}", self.listed_size(m)))
                .collect()
        };
        let lines: Vec<&[u8]> = entries.iter().map(|e| e.as_bytes()).collect();
        vec![Output::Send(
            self.block(&super::plural(entries.len(), "message"), &lines),
        )]
    }

    fn uidl(&self, cmd: &Command) -> Vec<Output> {
        if cmd.arg_count() == 1 {
            return match self.msg_index(cmd) {
                Some(i) => self.ok(&format!("{} {}", i + 1, self.messages[i].0.uid)),
                None => self.err("no such message"),
            };
        }
        let entries: Vec<String> = self.live().map(|(n, m)| format!("{n} {}", m.uid)).collect();
        let lines: Vec<&[u8]> = entries.iter().map(|e| e.as_bytes()).collect();
        vec![Output::Send(self.block("", &lines))]
    }

    fn message_lines(data: &[u8]) -> Vec<&[u8]> {
        let body = data.strip_suffix(b"\r\n").unwrap_or(data);
        body.split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .collect()
    }

    fn retr(&self, cmd: &Command) -> Vec<Output> {
        let Some(i) = self.msg_index(cmd) else {
            return self.err("no such message");
        };
        let m = &self.messages[i].0;
        let lines = Self::message_lines(&m.data);
        let cut = !self.wire.retr_terminated;
        let mut out = vec![Output::Send(self.block_ending(
            &super::plural(m.data.len(), "octet"),
            &lines,
            !cut,
        ))];
        if cut {
            out.push(Output::Close);
        }
        out
    }

    fn top(&self, cmd: &Command) -> Vec<Output> {
        let Some(i) = self.msg_index(cmd) else {
            return self.err("no such message");
        };
        let n = cmd.arg(1).and_then(parse_decimal).unwrap_or(0) as usize;
        let lines = Self::message_lines(&self.messages[i].0.data);
        let header_end = lines
            .iter()
            .position(|l| l.is_empty())
            .unwrap_or(lines.len());
        let take = (header_end + 1 + n).min(lines.len());
        vec![Output::Send(
            self.block("top of message follows", &lines[..take]),
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The port the demo server is told it listens on (OAUTHBEARER's `port=` is checked
    /// against it).
    pub(super) const PORT: u16 = 1110;

    /// A demo server session for `demo`/`demo`/`demo-token`, with `quirk`, offering STLS or not.
    pub(super) fn server(quirk: Option<Quirk>, stls: bool) -> ServerSession {
        ServerSession::new(
            ServerConfig {
                user: "demo".into(),
                password: "demo".into(),
                token: "demo-token".into(),
                port: Some(PORT),
                offer_stls: stls,
                quirk,
                timestamp: "<1.2@popscope.demo>".into(),
            },
            maildrop::sample(),
        )
    }

    fn sent(out: &[Output]) -> String {
        out.iter()
            .filter_map(|o| {
                if let Output::Send(b) = o {
                    Some(String::from_utf8_lossy(b).into_owned())
                } else {
                    None
                }
            })
            .collect()
    }

    #[test]
    fn one_message_left_is_one_message() {
        let mut s = server(None, false);
        s.handle_line(b"USER demo");
        s.handle_line(b"PASS demo");
        for n in 1..=3 {
            assert!(sent(&s.handle_line(format!("DELE {n}").as_bytes())).starts_with("+OK"));
        }
        assert!(sent(&s.handle_line(b"LIST")).starts_with("+OK 1 message\r\n"));
    }

    #[test]
    fn login_and_walk() {
        let mut s = server(None, false);
        assert!(s.greeting().starts_with(b"+OK "));
        assert!(sent(&s.handle_line(b"STAT")).starts_with("-ERR"));
        assert!(sent(&s.handle_line(b"USER demo")).starts_with("+OK"));
        assert!(sent(&s.handle_line(b"PASS demo")).starts_with("+OK maildrop has 4 messages"));
        let retr = sent(&s.handle_line(b"RETR 2"));
        assert!(
            retr.contains("\r\n..hidden\r\n")
                && retr.contains("\r\n...two dots\r\n")
                && retr.contains("\r\n..\r\n")
        );
        assert!(retr.ends_with("\r\n.\r\n"));
        assert!(sent(&s.handle_line(b"DELE 1")).starts_with("+OK"));
        assert!(sent(&s.handle_line(b"RETR 1")).starts_with("-ERR"));
        let quit = s.handle_line(b"QUIT");
        assert!(quit.contains(&Output::Commit(vec!["popscope-demo-0001".into()])));
    }

    /// The demo server reads the keyword strictly, although the parser takes ` AUTH PLAIN`
    /// for an AUTH (as a lenient server would): no SASL exchange starts.
    #[test]
    fn auth_with_a_leading_blank_or_a_tab_is_refused() {
        for line in [&b" AUTH CRAM-MD5"[..], b"AUTH\tCRAM-MD5"] {
            let mut s = server(None, true);
            assert_eq!(sent(&s.handle_line(line)), "-ERR invalid arguments\r\n");
        }
        let mut s = server(None, true);
        assert!(sent(&s.handle_line(b"AUTH CRAM-MD5")).starts_with("+ "));
    }

    /// AUTH CRAM-MD5 as demo/demo, answered from the server's own challenge.
    fn log_in_by_cram_md5(s: &mut ServerSession) {
        let ch = sent(&s.handle_line(b"AUTH CRAM-MD5"));
        let ch =
            auth::b64decode(ch.trim_end().trim_start_matches("+ ").as_bytes()).unwrap_or_default();
        let r = auth::cram_md5_response(b"demo", b"demo", &ch);
        assert!(sent(&s.handle_line(r.as_bytes())).starts_with("+OK"));
    }

    #[test]
    fn apop_and_cram_md5() {
        let mut s = server(None, true);
        let d = auth::apop_digest(b"<1.2@popscope.demo>", b"demo");
        assert!(sent(&s.handle_line(format!("APOP demo {d}").as_bytes())).starts_with("+OK"));
        let mut s = server(None, true);
        log_in_by_cram_md5(&mut s);
    }

    #[test]
    fn plaintext_is_refused_until_tls_when_stls_is_offered() {
        let mut s = server(None, true);
        assert!(!sent(&s.handle_line(b"CAPA")).contains("USER"));
        assert!(sent(&s.handle_line(b"USER demo")).starts_with("-ERR [AUTH]"));
        let out = s.handle_line(b"STLS");
        assert_eq!(out.last(), Some(&Output::StartTls));
        assert_eq!(s.on_tls(None), []);
        assert!(sent(&s.handle_line(b"CAPA")).contains("SASL PLAIN LOGIN CRAM-MD5 EXTERNAL"));
        assert!(sent(&s.handle_line(b"AUTH PLAIN AGRlbW8AZGVtbw==")).starts_with("+OK"));
    }

    #[test]
    fn stls_after_login_is_refused() {
        let mut s = server(None, true);
        log_in_by_cram_md5(&mut s);
        let out = s.handle_line(b"STLS");
        assert!(sent(&out).starts_with("-ERR"), "{}", sent(&out));
        assert!(!out.contains(&Output::StartTls));
    }

    #[test]
    fn input_is_split_anywhere_and_an_overlong_line_is_refused() {
        let mut s = server(None, false);
        assert_eq!(s.receive(b"NO"), []);
        assert_eq!(
            sent(&s.receive(b"OP\r\nNOOP\nST")),
            "-ERR log in first\r\n".repeat(2)
        );
        assert_eq!(sent(&s.receive(b"AT\r\n")), "-ERR log in first\r\n");
        // An over-long line is dropped as it comes, however long, and its end gets one -ERR.
        let long = vec![b'x'; MAX_COMMAND_LINE + 1];
        for _ in 0..100 {
            assert_eq!(sent(&s.receive(&long)), "");
        }
        assert_eq!(
            sent(&s.receive(b"xx\r\nQUIT\r\nNOOP\r\n")),
            "-ERR command line too long\r\n+OK popscope demo server signing off\r\n"
        );
    }

    #[test]
    fn plaintext_behind_stls_is_dropped_unless_the_quirk_runs_it() {
        for (quirk, answered) in [
            (None, ""),
            (Some(Quirk::StlsCommandInjection), "-ERR log in first\r\n"),
        ] {
            let mut s = server(quirk, true);
            let out = s.receive(b"STLS\r\nNOOP\r\n");
            assert_eq!(out.last(), Some(&Output::StartTls));
            assert_eq!(sent(&s.on_tls(None)), answered, "{quirk:?}");
        }
    }

    #[test]
    fn the_seeds_quirk() {
        let mut s = server(Some(Quirk::TlsPreauth), false);
        assert_eq!(s.on_tls(Some("demo".into())), []);
        assert_eq!(
            sent(&s.handle_line(b"USER demo")),
            "-ERR already authenticated\r\n"
        );
        assert!(sent(&s.handle_line(b"STAT")).starts_with("+OK 4 "));
    }
}
