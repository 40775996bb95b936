//! The conformance walk of `popscope check URL`: one session that exercises every command, and
//! the safe active probes of rules.md §4, each on its own connection where it needs one.
//! Nothing is deleted unless `--allow-delete`, and then RSET undoes it before QUIT.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::protocol::probes;
use crate::protocol::rules::cross;
use crate::protocol::session::CapsRecord;
use crate::protocol::{Config, Finding, Session, State};
use crate::session::Connection;
use crate::session::login::{self, Credentials, Method};
use crate::transport::{Scheme, Target, TlsDetails, TransportError};

use super::connect::{ConnArgs, secure};
use super::printer::{Gathered, Printer, Shared};

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
    /// A probe connection that failed (the walk goes on without it).
    pub notes: Vec<String>,
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
        let out = login::login(conn, self.opts.conn.login, &creds).await?;
        if out.challenge.is_some() {
            conn.sasl_response(out.exchange, b"*").await?;
        }
        Ok(conn.engine().state() == State::Transaction)
    }

    async fn main_session(&mut self) -> Result<Session, TransportError> {
        if !self.opts.passive {
            // P1 on a connection of its own: servers may hang up after a few refused commands
            // (Dovecot does after three), and the walk needs its connection.
            let mut p1 = self
                .open("probe P1: TRANSACTION commands before login")
                .await?;
            secure(&mut p1, self.opts.starttls()).await?;
            for cmd in probes::P1_BEFORE_LOGIN {
                let out = p1.command(cmd.as_bytes(), 0).await?;
                if p1.is_closed() || out.timed_out {
                    break;
                }
            }
            if !p1.is_closed() {
                p1.quit().await?;
            }
        }
        let mut c = self.open("walk").await?;
        secure(&mut c, self.opts.starttls()).await?;
        let logged_in = self.login(&mut c).await? || c.engine().state() == State::Transaction;
        self.result.logged_in = logged_in;
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

    async fn transaction(&mut self, c: &mut Connection) -> Result<(), TransportError> {
        let mut steps: Vec<String> =
            vec!["CAPA".into(), "STAT".into(), "LIST".into(), "UIDL".into()];
        let seq = probes::P13_COMPARE;
        for s in &steps.clone() {
            c.command(s.as_bytes(), 0).await?;
            if c.is_closed() {
                return Ok(());
            }
        }
        steps.clear();
        let count = c
            .engine()
            .session()
            .maildrop
            .last_stat
            .map_or(0, |(n, _)| n);
        if count > 0 {
            steps.extend(seq.iter().map(|s| s.to_string()));
            if !self.opts.no_retr {
                steps.push("RETR 1".into());
            }
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
        steps.push("RSET".into());
        if self.opts.allow_delete && count > 0 {
            steps.push("STAT".into());
        }
        for s in &steps {
            c.command(s.as_bytes(), 0).await?;
            if c.is_closed() {
                return Ok(());
            }
        }
        if !self.opts.passive {
            // P10: no login command, UTF8 or STLS once logged in. STLS last: a +OK would start TLS.
            for s in probes::P10_AFTER_LOGIN {
                let out = c.command(s.as_bytes(), 0).await?;
                if out.challenge.is_some() {
                    c.sasl_response(out.exchange, b"*").await?;
                }
                if c.is_closed() {
                    return Ok(());
                }
            }
            c.command(b"RSET", 0).await?;
            let out = c.command(b"STLS", 0).await?;
            if out.ok() {
                c.close().await;
            }
        }
        Ok(())
    }

    async fn probes(&mut self, first: &Session) -> Result<(), TransportError> {
        let starttls = self.opts.starttls();
        let stls_offered = first
            .caps
            .pre_tls
            .as_ref()
            .or(first.caps.auth.as_ref())
            .is_some_and(|c| c.has("STLS"));
        // P2: PASS with no USER.
        if let Some(mut c) = self.probe("probe P2: PASS without USER").await {
            if secure(&mut c, starttls).await.is_ok() && !c.is_closed() {
                c.command(probes::P2_PASS_WITHOUT_USER.as_bytes(), 0)
                    .await?;
                if !c.is_closed() {
                    c.quit().await?;
                }
            }
        }
        // P20: QUIT in AUTHORIZATION, then keep talking.
        if let Some(mut c) = self.probe("probe P20: QUIT in AUTHORIZATION").await {
            c.quit().await?;
            if !c.is_closed() {
                c.command(b"NOOP", 0).await?;
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
                    c.command(b"NOOP", 0).await?;
                    let again = c.command(b"STLS", 0).await?;
                    if again.ok() {
                        c.close().await;
                    } else {
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
            let out = c.command(b"STLS", 0).await?;
            if out.ok() {
                c.close().await;
            } else {
                c.quit().await?;
            }
        }
        // P14 and P18: a second session: fresh APOP timestamp, same uids.
        if let Some(mut c) = self.probe("probe P14/P18: second session").await {
            secure(&mut c, starttls).await?;
            let mut second_logged_in = false;
            if self.result.logged_in {
                second_logged_in = self.login(&mut c).await?;
                if second_logged_in {
                    c.command(b"LIST", 0).await?;
                    c.command(b"UIDL", 0).await?;
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
    };
    let first = w.main_session().await?;
    if !w.opts.passive && w.opts.probe_connections {
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
