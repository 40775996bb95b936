//! The conformance walk of `popscope check URL`: one session that exercises every command, and
//! the safe active probes of rules.md §4, each on its own connection where it needs one.
//! Nothing is deleted unless `--allow-delete`, and then RSET undoes it before QUIT.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::session::login::{self, Credentials, Method};
use crate::session::{Connection, Outcome};
use crate::transport::{Scheme, Target, TlsDetails, TransportError};
use popscope_core::probes;
use popscope_core::rules::cross;
use popscope_core::session::CapsRecord;
use popscope_core::{Config, Finding, Session, State};

use super::connect::ConnArgs;
use super::printer::{Gathered, Printer, Shared};
use crate::session::secure::secure;

/// Whether the walk may send a credential on a connection without TLS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PlaintextLogin {
    /// Log in as asked (a TLS transport, or the user said so).
    #[default]
    Allow,
    /// Log in as asked (an explicit pop3:// URL), but when the server offers STLS first say
    /// that the password is about to go in the clear: on stderr, or in the report's notes.
    Warn { stderr: bool },
    /// Do not log in when the server offers STLS, or `tls_elsewhere` (the host answers
    /// implicit TLS): a bare-host check picks its transports itself.
    Refuse { tls_elsewhere: bool },
}

/// The walk retrieves every message of at most this many octets (by LIST)…
pub const RETR_MAX_MESSAGE: u64 = 1 << 20;
/// …while the octets retrieved stay under this…
pub const RETR_BUDGET: u64 = 8 << 20;
/// …and looks at no more than this many messages (LIST n, UIDL n, RETR n or TOP n 0).
pub const WALK_MAX_MESSAGES: u64 = 100;

pub struct WalkOptions {
    pub target: Target,
    pub scheme: Scheme,
    pub conn: ConnArgs,
    pub creds: Option<Credentials>,
    pub engine: Config,
    pub passive: bool,
    /// With `passive` off: also open the extra probe connections (P2, P7, P8, P14, P18, P20).
    pub probe_connections: bool,
    pub no_retr: bool,
    pub allow_delete: bool,
    /// Extra commands to run in TRANSACTION after the walk (the demo uses them per quirk).
    pub extra: Vec<String>,
    /// How long probe P8 waits for injected replies after the handshake.
    pub injection_wait: Duration,
    /// Print the sessions as transcripts here.
    pub show: Option<Arc<Mutex<Box<dyn Write + Send>>>>,
    /// Record every connection into this file (--record).
    pub record: Option<super::connect::RecordFile>,
    /// Credentials on a plaintext connection.
    pub plaintext_login: PlaintextLogin,
}

/// Whether, and how, the walk sent the credentials.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LoginAttempt {
    /// No `--user`: nothing to log in with.
    #[default]
    NoCredentials,
    /// Credentials given but kept back on purpose: a plain connection of a host that offers
    /// TLS ([`PlaintextLogin::Refuse`]).
    Withheld,
    /// Sent with this method (`--login auto` resolved to what the server offered).
    Sent(Method),
}

/// What the walk found.
#[derive(Default)]
pub struct WalkResult {
    /// Findings with the index of the connection they came from.
    pub findings: Vec<(usize, Finding)>,
    pub connections: Vec<String>,
    pub tls: Option<TlsDetails>,
    pub caps: CapsRecord,
    pub final_state: Option<State>,
    pub logged_in: bool,
    /// How the main session's login went: the report's words depend on it.
    pub login: LoginAttempt,
    /// A probe connection that failed (the walk goes on without it).
    pub notes: Vec<String>,
    /// The main connection could not be walked: its first replies (CAPA, STLS, the login)
    /// did not complete in time. The report is still made; the run fails (exit 3).
    pub failure: Option<TransportError>,
}

struct SharedWriter(Arc<Mutex<Box<dyn Write + Send>>>);

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .flush()
    }
}

struct Walker {
    opts: WalkOptions,
    gathered: Shared,
    result: WalkResult,
    /// Message sizes from the walk's LIST (message number to octets).
    sizes: std::collections::HashMap<u32, u64>,
    /// The last wait that timed out (what was awaited, what arrived), on any connection.
    timed_out: Option<TransportError>,
}

impl Walker {
    async fn open(&mut self, label: &str) -> Result<Connection, TransportError> {
        let index = self.result.connections.len();
        self.result.connections.push(label.to_owned());
        let out = self
            .opts
            .show
            .as_ref()
            .map(|w| Box::new(SharedWriter(w.clone())) as Box<dyn Write + Send>);
        let printer = Printer::new(out, index, label, self.gathered.clone());
        let mut observers: Vec<Box<dyn crate::session::Observer>> = vec![Box::new(printer)];
        if let Some(rec) = &self.opts.record {
            let target = format!("{} ({label})", self.opts.target.url(self.opts.scheme));
            observers.push(rec.recorder_with(
                &target,
                self.opts.conn.record_secrets,
                self.opts.conn.max_body,
            ));
        }
        let engine = Config {
            active_probes: !self.opts.passive,
            ..self.opts.engine.clone()
        };
        let options = self
            .opts
            .conn
            .options(&self.opts.target, self.opts.scheme, engine);
        let (conn, _greeting) =
            Connection::open(&options, Box::new(crate::session::Tee(observers))).await?;
        Ok(conn)
    }

    /// Opens a probe connection; a failure becomes a note instead of ending the walk.
    async fn probe(&mut self, label: &str) -> Option<Connection> {
        match self.open(label).await {
            Ok(c) => Some(c),
            Err(e) => {
                self.result.notes.push(format!("{label}: {e}"));
                None
            }
        }
    }

    async fn login(&mut self, conn: &mut Connection) -> Result<bool, TransportError> {
        let Some(creds) = self.opts.creds.clone() else {
            return Ok(false);
        };
        let method = match self.opts.conn.login {
            Method::Auto => login::choose(conn, &creds),
            m => m,
        };
        if self.result.login == LoginAttempt::NoCredentials {
            self.result.login = LoginAttempt::Sent(method);
        }
        let out = login::login(conn, method, &creds).await?;
        self.stop_if_timed_out(conn, &out, "the login").await;
        if out.challenge.is_some() && !conn.is_closed() {
            let out = conn.sasl_response(out.exchange, b"*").await?;
            self.stop_if_timed_out(conn, &out, "the SASL cancel").await;
        }
        Ok(conn.engine().state() == State::Transaction)
    }

    /// Whether the main session may log in: on a plaintext connection, only as
    /// [`PlaintextLogin`] allows (a refusal is noted; a warning is said before the login).
    fn may_log_in(&mut self, c: &Connection) -> bool {
        if self.opts.creds.is_none() || c.tls.is_some() {
            return true;
        }
        let stls = login::offers_stls_in_the_clear(c);
        let url = self.opts.target.url(self.opts.scheme);
        match self.opts.plaintext_login {
            PlaintextLogin::Allow => true,
            PlaintextLogin::Warn { .. } if !stls => true,
            PlaintextLogin::Warn { stderr } => {
                let msg = login::in_the_clear(&url);
                if stderr {
                    eprintln!("popscope: warning: {msg}");
                } else {
                    self.result.notes.push(msg);
                }
                true
            }
            PlaintextLogin::Refuse { tls_elsewhere } if stls || tls_elsewhere => {
                let offer = match (stls, tls_elsewhere) {
                    (true, true) => "STLS and implicit TLS",
                    (true, false) => "STLS",
                    _ => "implicit TLS",
                };
                self.result.notes.push(format!(
                    "plain leg {url}: walked without logging in, so no credential went in the clear (the host offers {offer}; --allow-plaintext-login logs in anyway)"
                ));
                self.result.login = LoginAttempt::Withheld;
                false
            }
            PlaintextLogin::Refuse { .. } => true,
        }
    }

    /// After a command: a reply that did not come in time leaves the session out of step (a
    /// late or short reply would be read as the next one's), so the connection is closed and
    /// the walk goes on without it.
    async fn stop_if_timed_out(&mut self, c: &mut Connection, out: &Outcome, what: &str) {
        if !out.timed_out || c.is_closed() {
            return;
        }
        c.close().await;
        let label = self.result.connections.last().cloned().unwrap_or_default();
        let secs = self.opts.conn.timeout.max(1);
        self.timed_out = Some(out.timeout_error(
            format!("{label}: waiting for the answer to {what}"),
            secs,
            " (--timeout sets the wait)",
        ));
        self.result.notes.push(format!(
            "{label}: no complete reply to {what} within {} s; the connection was closed (later replies would have been out of step)",
            self.opts.conn.timeout.max(1)
        ));
    }

    /// Sends one walk command (never a secret) and closes the connection after a timeout.
    async fn step(&mut self, c: &mut Connection, line: &str) -> Result<Outcome, TransportError> {
        let out = c.command(line.as_bytes(), 0).await?;
        let what = line.split(' ').next().unwrap_or(line).to_owned();
        self.stop_if_timed_out(c, &out, &what).await;
        Ok(out)
    }

    async fn main_session(&mut self) -> Result<Session, TransportError> {
        if !self.opts.passive {
            // P1 on a connection of its own: servers may hang up after a few refused commands
            // (Dovecot does after three), and the walk needs its connection.
            let mut p1 = self
                .open("probe P1: TRANSACTION commands before login")
                .await?;
            self.secure(&mut p1).await?;
            for cmd in probes::P1_BEFORE_LOGIN {
                if p1.is_closed() {
                    break;
                }
                self.step(&mut p1, cmd).await?;
            }
            if !p1.is_closed() {
                p1.quit().await?;
            }
        }
        let mut c = self.open("walk").await?;
        self.timed_out = None;
        self.secure(&mut c).await?;
        let logged_in = (!c.is_closed() && self.may_log_in(&c) && self.login(&mut c).await?)
            || c.engine().state() == State::Transaction;
        self.result.logged_in = logged_in;
        if !logged_in && c.is_closed() {
            // Nothing of the walk could be done: a report of "0 violations" would say nothing.
            self.result.failure = self.timed_out.take();
        }
        if logged_in && !c.is_closed() {
            self.transaction(&mut c).await?;
        }
        if !c.is_closed() {
            c.quit().await?;
        }
        self.result.tls = c.tls.clone();
        self.result.caps = c.engine().session().caps.clone();
        self.result.final_state = Some(c.engine().state());
        Ok(c.engine().session().clone())
    }

    /// CAPA, and STLS when asked ([`secure`]); a CAPA that timed out closes the connection.
    async fn secure(&mut self, c: &mut Connection) -> Result<(), TransportError> {
        if let Some(out) = secure(c, self.opts.starttls()).await? {
            self.stop_if_timed_out(c, &out, "CAPA").await;
        }
        Ok(())
    }

    /// The commands that look at each message: LIST n and UIDL n, then RETR n while the budget
    /// lasts (message sizes by LIST), else TOP n 0.
    fn per_message(&mut self, count: u64) -> Vec<String> {
        let mut steps = Vec::new();
        let mut budget = RETR_BUDGET;
        let mut skipped = 0u64;
        for n in 1..=count.min(WALK_MAX_MESSAGES) {
            if n > 1 {
                steps.push(format!("LIST {n}"));
                steps.push(format!("UIDL {n}"));
            }
            let size = u32::try_from(n)
                .ok()
                .and_then(|k| self.last_maildrop_size(k));
            match size {
                Some(s) if !self.opts.no_retr && s <= RETR_MAX_MESSAGE && s <= budget => {
                    budget -= s;
                    steps.push(format!("RETR {n}"));
                }
                _ => {
                    if !self.opts.no_retr {
                        skipped += 1;
                    }
                    steps.push(format!("TOP {n} 0"));
                }
            }
        }
        if count > WALK_MAX_MESSAGES || skipped > 0 {
            self.result.notes.push(format!(
                "the walk retrieved {} of {} (RETR up to {} KiB each and {} MiB in all, {} messages at most; the rest by TOP n 0 or not at all)",
                count.min(WALK_MAX_MESSAGES) - skipped,
                popscope_core::plural(count, "message"),
                RETR_MAX_MESSAGE >> 10,
                RETR_BUDGET >> 20,
                WALK_MAX_MESSAGES
            ));
        }
        steps
    }

    fn last_maildrop_size(&self, n: u32) -> Option<u64> {
        self.sizes.get(&n).copied()
    }

    async fn transaction(&mut self, c: &mut Connection) -> Result<(), TransportError> {
        for s in ["CAPA", "STAT", "LIST", "UIDL"] {
            self.step(c, s).await?;
            if c.is_closed() {
                return Ok(());
            }
        }
        let count = c
            .engine()
            .session()
            .maildrop
            .last_stat
            .map_or(0, |(n, _)| n);
        self.sizes = c
            .engine()
            .session()
            .maildrop
            .iter()
            .take(WALK_MAX_MESSAGES as usize)
            .filter_map(|(n, m)| m.size.map(|s| (n, s)))
            .collect();
        let mut steps: Vec<String> = Vec::new();
        if count > 0 {
            steps.extend(probes::P13_COMPARE.iter().map(|s| s.to_string()));
            steps.extend(self.per_message(count));
        }
        steps.push("NOOP".into());
        if !self.opts.passive {
            // P4 lower case, P5 malformed and out-of-range numbers, P22 an argument too many.
            steps.extend(probes::P4_P5_AFTER_LOGIN.map(String::from));
            steps.push(format!("RETR {}", count + 1));
            steps.push(probes::P22_EXTRA_ARGUMENT.into());
        }
        if self.opts.allow_delete && count > 0 {
            // P12, undone by RSET before QUIT.
            steps.extend(probes::P12_DELETE.map(String::from));
        }
        steps.extend(self.opts.extra.iter().cloned());
        let mut deleting = false;
        for s in &steps {
            deleting |= s
                .split(' ')
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case("DELE"));
            self.step(c, s).await?;
            if c.is_closed() {
                return Ok(());
            }
        }
        if !self.reset(c, deleting).await? {
            return Ok(());
        }
        if self.opts.allow_delete && count > 0 {
            self.step(c, "STAT").await?;
            if c.is_closed() {
                return Ok(());
            }
        }
        if !self.opts.passive {
            // P10: no login command, UTF8 or STLS once logged in. STLS last: a +OK would start TLS.
            for s in probes::P10_AFTER_LOGIN {
                let out = self.step(c, s).await?;
                if out.challenge.is_some() && !c.is_closed() {
                    let out = c.sasl_response(out.exchange, b"*").await?;
                    self.stop_if_timed_out(c, &out, "the SASL cancel").await;
                }
                if c.is_closed() {
                    return Ok(());
                }
            }
            if !self.reset(c, false).await? {
                return Ok(());
            }
            let out = self.step(c, "STLS").await?;
            if out.ok() {
                c.close().await;
            }
        }
        Ok(())
    }

    /// RSET. After a DELE, a RSET that fails leaves messages marked: QUIT would delete them
    /// (UPDATE), so the connection is closed without QUIT and the report says so. Returns
    /// whether the session goes on.
    async fn reset(&mut self, c: &mut Connection, deleting: bool) -> Result<bool, TransportError> {
        let out = self.step(c, "RSET").await?;
        if deleting && !out.ok() {
            let why = match &out.reply {
                Some(r) => format!(
                    "was answered \"-ERR {}\"",
                    popscope_core::sanitize::display(&r.text, 200)
                ),
                None if out.timed_out => "got no reply in time".to_owned(),
                None => "got no reply".to_owned(),
            };
            c.close().await;
            self.result.notes.push(format!(
                "RSET after DELE {why}: the connection was closed without QUIT, so the server does not enter UPDATE and deletes nothing"
            ));
            return Ok(false);
        }
        Ok(!c.is_closed())
    }

    async fn probes(&mut self, first: &Session) -> Result<(), TransportError> {
        let stls_offered = first
            .caps
            .pre_tls
            .as_ref()
            .or(first.caps.auth.as_ref())
            .is_some_and(|c| c.has("STLS"));
        // P2: PASS with no USER.
        if let Some(mut c) = self.probe("probe P2: PASS without USER").await {
            if self.secure(&mut c).await.is_ok() && !c.is_closed() {
                self.step(&mut c, probes::P2_PASS_WITHOUT_USER).await?;
                if !c.is_closed() {
                    c.quit().await?;
                }
            }
        }
        // P20: QUIT in AUTHORIZATION, then keep talking.
        if let Some(mut c) = self.probe("probe P20: QUIT in AUTHORIZATION").await {
            c.quit().await?;
            if !c.is_closed() {
                self.step(&mut c, "NOOP").await?;
                c.close().await;
            }
        }
        if self.opts.scheme == Scheme::Pop3 && stls_offered {
            // P8 (command injection) and P7 (STLS inside TLS), P9 on every upgrade.
            if let Some(mut c) = self
                .probe("probe P8: plaintext pipelined behind STLS")
                .await
            {
                c.send_raw(probes::P8_INJECTION).await?;
                let id = c.engine().session().commands_sent - 1;
                let out = c.await_exchange(id, 0).await?;
                if out.ok() && c.upgrade().await.is_ok() {
                    c.linger(self.opts.injection_wait).await?;
                    self.step(&mut c, "NOOP").await?;
                    let again = if c.is_closed() {
                        None
                    } else {
                        Some(self.step(&mut c, "STLS").await?)
                    };
                    if again.is_some_and(|a| a.ok()) {
                        c.close().await;
                    } else if !c.is_closed() {
                        c.quit().await?;
                    }
                } else {
                    c.close().await;
                }
            }
        }
        if self.opts.scheme == Scheme::Pop3s
            && let Some(mut c) = self.probe("probe P7: STLS on the implicit-TLS port").await
        {
            let out = self.step(&mut c, "STLS").await?;
            if out.ok() {
                c.close().await;
            } else if !c.is_closed() {
                c.quit().await?;
            }
        }
        // P14 and P18: a second session: fresh APOP timestamp, same uids.
        if let Some(mut c) = self.probe("probe P14/P18: second session").await {
            self.secure(&mut c).await?;
            let mut second_logged_in = false;
            if self.result.logged_in && !c.is_closed() {
                second_logged_in = self.login(&mut c).await?;
                if second_logged_in {
                    self.step(&mut c, "LIST").await?;
                    if !c.is_closed() {
                        self.step(&mut c, "UIDL").await?;
                    }
                }
            }
            if !c.is_closed() {
                c.quit().await?;
            }
            let second = c.engine().session().clone();
            let apop = self.opts.conn.login == Method::Apop && self.result.logged_in;
            let index = self.result.connections.len() - 1;
            if let Some(f) = cross::repeated_timestamp(first, &second, apop) {
                self.result.findings.push((index, f));
            }
            if second_logged_in && !self.opts.allow_delete {
                for f in cross::uids_persist(first, &second) {
                    self.result.findings.push((index, f));
                }
            }
        }
        Ok(())
    }
}

impl WalkOptions {
    fn starttls(&self) -> bool {
        self.conn.starttls && self.scheme == Scheme::Pop3
    }
}

/// Runs the walk and the probes. A failure to connect at all is an error; a failing probe
/// connection is noted and skipped.
pub async fn run(opts: WalkOptions) -> Result<WalkResult, TransportError> {
    let mut w = Walker {
        opts,
        gathered: Arc::new(Mutex::new(Gathered::default())),
        result: WalkResult::default(),
        sizes: std::collections::HashMap::new(),
        timed_out: None,
    };
    let first = w.main_session().await?;
    // A server that does not answer in time on the walk would not answer the probes either.
    if !w.opts.passive && w.opts.probe_connections && w.result.failure.is_none() {
        if let Err(e) = w.probes(&first).await {
            w.result.notes.push(format!("a probe stopped: {e}"));
        }
    }
    let mut findings = w
        .gathered
        .lock()
        .map(|mut g| std::mem::take(&mut g.findings))
        .unwrap_or_default();
    findings.append(&mut w.result.findings);
    w.result.findings = findings;
    Ok(w.result)
}
