//! The conformance walk of `popscope check URL`: one session that exercises every command
//! (the safe active probes of rules.md §4 that need a connection of their own are in
//! [`super::probes`]). Nothing is deleted unless `allow_delete`, and then RSET undoes it
//! before QUIT.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::session::login::{self, Credentials, Method};
use crate::session::secure::secure;
use crate::session::{ConnectOptions, Connection, Observer, Outcome};
use crate::transport::{TlsDetails, TransportError};
use popscope_core::probes;
use popscope_core::session::CapsRecord;
use popscope_core::{Config, Event, Finding, Session, State, Tally, Time};

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
pub(crate) const RETR_MAX_MESSAGE: u64 = 1 << 20;
/// …while the octets retrieved stay under this…
pub(crate) const RETR_BUDGET: u64 = 8 << 20;
/// …and looks at no more than this many messages (LIST n, UIDL n, RETR n or TOP n 0).
pub(crate) const WALK_MAX_MESSAGES: u64 = 100;

/// Who watches each connection of a walk besides the walk itself (which gathers the
/// findings): a transcript printer, a recorder.
pub trait Watch: Send + Sync {
    /// The observers of connection `index` (from 0, in the order the walk opens them), called
    /// `label` ("walk", "probe P2: PASS without USER"), to `url`.
    fn observers(&self, index: usize, label: &str, url: &str) -> Vec<Box<dyn Observer>>;
}

/// What to walk, and how.
#[derive(Clone)]
pub struct WalkOptions {
    /// The server, the transport, TLS settings, timeouts and the engine's configuration (the
    /// walk turns the engine's active probes on unless `passive`).
    pub connect: ConnectOptions,
    /// Upgrade a pop3:// connection with STLS before anything else.
    pub starttls: bool,
    /// How to log in (`Auto`: what the server offers).
    pub login: Method,
    /// None: the walk stays in AUTHORIZATION (and says how to go further).
    pub creds: Option<Credentials>,
    /// Only watch: no active probe (P1, P4, P5, P10, P22 and the probe connections).
    pub passive: bool,
    /// With `passive` off: also open the extra probe connections (P2, P7, P8, P14, P18, P20).
    pub probe_connections: bool,
    /// TOP n 0 instead of RETR n.
    pub no_retr: bool,
    /// DELE in the walk (P12), undone by RSET before QUIT.
    pub allow_delete: bool,
    /// Extra commands to run in TRANSACTION after the walk (the demo uses them per quirk).
    pub extra: Vec<String>,
    /// How long probe P8 waits for injected replies after the handshake.
    pub injection_wait: Duration,
    /// Who else watches each connection.
    pub watch: Option<Arc<dyn Watch>>,
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
    /// The first [`crate::transcript::replay::MAX_KEPT`] findings, with the index of the
    /// connection they came from.
    pub findings: Vec<(usize, Finding)>,
    /// The findings beyond those, counted.
    pub findings_left_out: Tally,
    pub(crate) connections: Vec<String>,
    pub tls: Option<TlsDetails>,
    pub(crate) caps: CapsRecord,
    pub(crate) final_state: Option<State>,
    pub logged_in: bool,
    /// How the main session's login went: the report's words depend on it.
    pub(crate) login: LoginAttempt,
    /// A probe connection that failed (the walk goes on without it).
    pub notes: Vec<String>,
    /// The main connection could not be walked: its first replies (CAPA, STLS, the login)
    /// did not complete in time. The report is still made; the run fails (exit 3).
    pub(crate) failure: Option<TransportError>,
    /// The main connection's steps (the login included when it was tried).
    pub timings: crate::session::Timings,
}

/// The findings of every connection of a walk, in the order the engines reported them, each
/// with its connection's index.
type Gathered = Arc<Mutex<FindingLog>>;

/// Findings as a live session gathers them: the first
/// [`MAX_KEPT`](crate::transcript::replay::MAX_KEPT), each with its connection's index, and
/// the rest counted (a server that sends a findable line for ever must not make the report
/// grow without bound: 400,000 UIDL lines sharing a uid held 156 MB).
#[derive(Debug, Default)]
pub(crate) struct FindingLog {
    pub(crate) kept: Vec<(usize, Finding)>,
    pub(crate) left_out: Tally,
}

impl FindingLog {
    pub(crate) fn push(&mut self, connection: usize, f: &Finding) {
        if self.kept.len() < crate::transcript::replay::MAX_KEPT {
            self.kept.push((connection, f.clone()));
        } else {
            self.left_out.add(f.severity);
        }
    }

    /// The counts of every finding, those left out included.
    pub(crate) fn tally(&self) -> Tally {
        counted(&self.kept, &self.left_out)
    }
}

fn counted(kept: &[(usize, Finding)], left_out: &Tally) -> Tally {
    Tally::of(kept.iter().map(|(_, f)| f)).and(left_out)
}

impl WalkResult {
    /// The counts of every finding, those left out included.
    pub(crate) fn tally(&self) -> Tally {
        counted(&self.findings, &self.findings_left_out)
    }

    /// Credentials were sent and the server did not let the walk into TRANSACTION.
    pub(crate) fn login_refused(&self) -> bool {
        matches!(self.login, LoginAttempt::Sent(_)) && !self.logged_in
    }

    /// Whether the server listed STLS before TLS (in the walk's last AUTHORIZATION CAPA).
    pub(crate) fn offers_stls(&self) -> bool {
        self.caps
            .auth
            .as_ref()
            .or(self.caps.pre_tls.as_ref())
            .is_some_and(|c| c.has("STLS"))
    }
}

struct Gatherer {
    connection: usize,
    gathered: Gathered,
}

impl Observer for Gatherer {
    fn event(&mut self, _at: Time, ev: &Event<'_>) {
        if let Event::Finding(f) = ev
            && let Ok(mut g) = self.gathered.lock()
        {
            g.push(self.connection, f);
        }
    }
}

pub(super) struct Walker {
    pub(super) opts: WalkOptions,
    gathered: Gathered,
    pub(super) result: WalkResult,
    /// Message sizes from the walk's LIST (message number to octets).
    sizes: std::collections::HashMap<u32, u64>,
    /// The last wait that timed out (what was awaited, what arrived), on any connection.
    timed_out: Option<TransportError>,
}

impl Walker {
    pub(super) async fn open(&mut self, label: &str) -> Result<Connection, TransportError> {
        let index = self.result.connections.len();
        self.result.connections.push(label.to_owned());
        let mut observers: Vec<Box<dyn Observer>> = vec![Box::new(Gatherer {
            connection: index,
            gathered: self.gathered.clone(),
        })];
        if let Some(watch) = &self.opts.watch {
            let url = self.opts.connect.target.url(self.opts.connect.scheme);
            observers.extend(watch.observers(index, label, &url));
        }
        let options = ConnectOptions {
            engine: Config {
                active_probes: !self.opts.passive,
                ..self.opts.connect.engine.clone()
            },
            ..self.opts.connect.clone()
        };
        let (conn, _greeting) =
            Connection::open(&options, Box::new(crate::session::Tee(observers))).await?;
        Ok(conn)
    }

    /// Opens a probe connection; a failure becomes a note instead of ending the walk.
    pub(super) async fn probe(&mut self, label: &str) -> Option<Connection> {
        match self.open(label).await {
            Ok(c) => Some(c),
            Err(e) => {
                self.result.notes.push(format!("{label}: {e}"));
                None
            }
        }
    }

    pub(super) async fn login(&mut self, conn: &mut Connection) -> Result<bool, TransportError> {
        let Some(creds) = self.opts.creds.clone() else {
            return Ok(false);
        };
        let method = login::resolve(conn, &creds, self.opts.login)?;
        if self.result.login == LoginAttempt::NoCredentials {
            self.result.login = LoginAttempt::Sent(method);
        }
        let started = tokio::time::Instant::now();
        let out = login::login(conn, method, &creds).await?;
        conn.timings.login = Some(started.elapsed());
        self.result.notes.extend(out.token_refusal.clone());
        self.stop_if_timed_out(conn, &out, "the login").await;
        self.cancel_if_challenged(conn, &out).await?;
        Ok(conn.engine().state() == State::Transaction)
    }

    /// A command answered with a SASL challenge is cancelled: the walk sends no SASL data.
    pub(super) async fn cancel_if_challenged(
        &mut self,
        conn: &mut Connection,
        out: &Outcome,
    ) -> Result<(), TransportError> {
        if out.challenge.is_some() && !conn.is_closed() {
            let out = conn.cancel_sasl(out.exchange).await?;
            self.stop_if_timed_out(conn, &out, "the SASL cancel").await;
        }
        Ok(())
    }

    /// Whether the main session may log in: on a plaintext connection, only as
    /// [`PlaintextLogin`] allows (a refusal is noted; a warning is said before the login).
    fn may_log_in(&mut self, c: &Connection) -> bool {
        if self.opts.creds.is_none() || c.tls.is_some() {
            return true;
        }
        let stls = login::offers_stls_in_the_clear(c);
        let url = self.opts.connect.target.url(self.opts.connect.scheme);
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
    pub(super) async fn stop_if_timed_out(
        &mut self,
        c: &mut Connection,
        out: &Outcome,
        what: &str,
    ) {
        if !out.timed_out || c.is_closed() {
            return;
        }
        c.close().await;
        let label = self.result.connections.last().cloned().unwrap_or_default();
        let secs = self.opts.connect.read_timeout.as_secs().max(1);
        self.timed_out = Some(out.timeout_error(
            format!("{label}: waiting for the answer to {what}"),
            secs,
            " (--timeout sets the wait)",
        ));
        self.result.notes.push(format!(
            "{label}: no complete reply to {what} within {secs} s; the connection was closed (later replies would have been out of step)"
        ));
    }

    /// Sends one walk command (never a secret) and closes the connection after a timeout.
    pub(super) async fn step(
        &mut self,
        c: &mut Connection,
        line: &str,
    ) -> Result<Outcome, TransportError> {
        let out = c.command(line.as_bytes(), 0).await?;
        let what = line.split(' ').next().unwrap_or(line).to_owned();
        self.stop_if_timed_out(c, &out, &what).await;
        Ok(out)
    }

    async fn main_session(&mut self) -> Result<Session, TransportError> {
        if !self.opts.passive {
            self.before_login().await?;
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
        self.result.timings = c.timings;
        self.result.caps = c.engine().session().caps.clone();
        self.result.final_state = Some(c.engine().state());
        Ok(c.engine().session().clone())
    }

    /// CAPA, and STLS when asked ([`secure`]); a CAPA that timed out closes the connection.
    pub(super) async fn secure(&mut self, c: &mut Connection) -> Result<(), TransportError> {
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
            self.after_login(c).await?;
        }
        Ok(())
    }

    /// RSET. After a DELE, a RSET that fails leaves messages marked: QUIT would delete them
    /// (UPDATE), so the connection is closed without QUIT and the report says so. Returns
    /// whether the session goes on.
    pub(super) async fn reset(
        &mut self,
        c: &mut Connection,
        deleting: bool,
    ) -> Result<bool, TransportError> {
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
}

impl WalkOptions {
    fn starttls(&self) -> bool {
        self.starttls && self.connect.scheme == crate::transport::Scheme::Pop3
    }
}

/// Runs the walk and the probes. A failure to connect at all is an error; a failing probe
/// connection is noted and skipped.
pub async fn run(opts: WalkOptions) -> Result<WalkResult, TransportError> {
    let mut w = Walker {
        opts,
        gathered: Gathered::default(),
        result: WalkResult::default(),
        sizes: std::collections::HashMap::new(),
        timed_out: None,
    };
    let first = w.main_session().await?;
    // A server that does not answer in time on the walk would not answer the probes either.
    if !w.opts.passive
        && w.opts.probe_connections
        && w.result.failure.is_none()
        && let Err(e) = w.probes(&first).await
    {
        w.result.notes.push(format!("a probe stopped: {e}"));
    }
    let log = w
        .gathered
        .lock()
        .map(|mut g| std::mem::take(&mut *g))
        .unwrap_or_default();
    let mut findings = log.kept;
    findings.append(&mut w.result.findings);
    w.result.findings = findings;
    w.result.findings_left_out = log.left_out;
    Ok(w.result)
}
