//! The demo server's sockets: listeners, the STLS upgrade and implicit TLS around the sans-IO
//! [`ServerSession`].

pub mod certs;
mod faults;
mod judge;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use popscope_core::inject::{Action, CASES, Fault};
use popscope_core::server::maildrop::{self, StoredMessage};
use popscope_core::server::{Output, QUIRKS, Quirk, ServerConfig, ServerSession, Transport};
use popscope_core::{TlsFailure, TransportEvent};

use crate::session::logins::Logins;
use faults::Faults;
use judge::Watch;

pub(crate) use certs::CertFiles;

/// How the listener speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain POP3, no STLS.
    None,
    /// Plain POP3 with STLS (RFC 2595).
    Starttls,
    /// TLS from the first byte (RFC 8314).
    Implicit,
}

impl From<Transport> for TlsMode {
    fn from(t: Transport) -> TlsMode {
        match t {
            Transport::Plain => TlsMode::None,
            Transport::Starttls => TlsMode::Starttls,
            Transport::Implicit => TlsMode::Implicit,
        }
    }
}

impl From<TlsMode> for Transport {
    fn from(t: TlsMode) -> Transport {
        match t {
            TlsMode::None => Transport::Plain,
            TlsMode::Starttls => Transport::Starttls,
            TlsMode::Implicit => Transport::Implicit,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// 0 picks a free port.
    pub port: u16,
    pub tls: TlsMode,
    pub quirk: Option<Quirk>,
    pub user: String,
    pub password: String,
}

/// The bearer token that logs the user in by XOAUTH2 or OAUTHBEARER (a demo has one, as it
/// has one user).
pub const DEMO_TOKEN: &str = "demo-token";

/// A running server. Dropping it stops accepting connections.
pub struct Running {
    pub addrs: Vec<SocketAddr>,
    pub tls: TlsMode,
    pub certs: CertFiles,
    pub user: String,
    pub password: String,
    /// [`DEMO_TOKEN`].
    pub token: String,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The private folder of `certs`: removed with its files when the server is dropped.
    _dir: tempfile::TempDir,
}

impl Running {
    pub fn port(&self) -> u16 {
        self.addrs.first().map_or(0, SocketAddr::port)
    }
    /// The URL a client uses (loopback IPv4).
    pub fn url(&self) -> String {
        let scheme = if self.tls == TlsMode::Implicit {
            "pop3s"
        } else {
            "pop3"
        };
        format!("{scheme}://127.0.0.1:{}", self.port())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

struct Shared {
    opts: ServeOptions,
    /// The port listened on (`opts.port` may be 0): what OAUTHBEARER's `port=` must say.
    port: u16,
    store: Mutex<Vec<StoredMessage>>,
    acceptor: TlsAcceptor,
    counter: AtomicU64,
    /// `serve --check-client`: where each judged connection's report goes.
    reports: Option<tokio::sync::mpsc::UnboundedSender<crate::report::ConnectionReport>>,
    /// Connections accepted, for the reports' numbers.
    connections: AtomicU64,
    /// `--quirk CASE`: the conformant session, made to misbehave toward the client.
    inject: Option<Fault>,
    /// When each client last logged in (`login-delay`).
    logins: Logins,
    /// `--check-client`: each client's last login, for CL-016.
    earlier_logins: Arc<Mutex<crate::session::logins::LastLogins>>,
    /// How long a client may be silent on its turn, or leave the answers unread.
    idle: Duration,
}

/// RFC 1939 §3: an autologout timer of at least ten minutes.
const IDLE_LIMIT: Duration = Duration::from_secs(600);

/// Binds on loopback (127.0.0.1, and ::1 when available) and serves until dropped.
pub async fn start(opts: ServeOptions) -> std::io::Result<Running> {
    start_with(opts, None, None).await
}

/// [`start`], judging every client that connects: each connection's report goes to `reports`
/// when it ends.
pub async fn start_judging(
    opts: ServeOptions,
    reports: tokio::sync::mpsc::UnboundedSender<crate::report::ConnectionReport>,
) -> std::io::Result<Running> {
    start_with(opts, None, Some(reports)).await
}

/// [`start`], with a client case (rules.md §3.19) injected into every connection when
/// `inject` names one, and judging every client when `reports` is given.
pub async fn start_with(
    opts: ServeOptions,
    inject: Option<Fault>,
    reports: Option<tokio::sync::mpsc::UnboundedSender<crate::report::ConnectionReport>>,
) -> std::io::Result<Running> {
    start_idle(opts, inject, reports, IDLE_LIMIT).await
}

/// [`start_with`], ending a connection whose client is silent on its turn, or leaves the
/// answers unread, for `idle` (`serve --check-client --timeout`) instead of [`IDLE_LIMIT`].
pub async fn start_idle(
    opts: ServeOptions,
    inject: Option<Fault>,
    reports: Option<tokio::sync::mpsc::UnboundedSender<crate::report::ConnectionReport>>,
    idle: Duration,
) -> std::io::Result<Running> {
    let listener = TcpListener::bind(("127.0.0.1", opts.port)).await?;
    let port = listener.local_addr()?.port();
    // One fresh private folder per server (several may run in one process or on one machine),
    // removed when the server is dropped: on every way out that unwinds the stack.
    let dir = certs::temp_dir()?;
    let certs = certs::make(
        dir.path(),
        &opts.user,
        crate::private_file::Existing::Refuse,
    )?;
    let mut listeners = vec![listener];
    if let Ok(v6) = TcpListener::bind(("::1", port)).await {
        listeners.push(v6);
    }
    let addrs = listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    let shared = Arc::new(Shared {
        store: Mutex::new(maildrop::sample()),
        acceptor: TlsAcceptor::from(certs.server_config.clone()),
        counter: AtomicU64::new(0),
        reports,
        connections: AtomicU64::new(0),
        inject,
        logins: Logins::default(),
        earlier_logins: Arc::default(),
        idle,
        port,
        opts: opts.clone(),
    });
    let tasks = listeners
        .into_iter()
        .map(|l| {
            let shared = shared.clone();
            tokio::spawn(async move {
                while let Ok((sock, client)) = l.accept().await {
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        let mut watch = match &shared.reports {
                            Some(reports) => Watch::on(
                                shared.connections.fetch_add(1, Ordering::Relaxed) + 1,
                                client,
                                shared.opts.tls == TlsMode::Implicit,
                                reports.clone(),
                            )
                            .remembering(shared.earlier_logins.clone()),
                            None => Watch::off(),
                        };
                        let _ = serve_connection(sock, client, shared, &mut watch).await;
                    });
                }
            })
        })
        .collect();
    Ok(Running {
        addrs,
        tls: opts.tls,
        certs: certs.files,
        user: opts.user,
        password: opts.password,
        token: DEMO_TOKEN.into(),
        tasks,
        _dir: dir,
    })
}

fn timestamp(shared: &Shared) -> String {
    let n = shared.counter.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("<{}.{n}.{nanos}@popscope.demo>", std::process::id())
}

async fn serve_connection(
    sock: TcpStream,
    client: SocketAddr,
    shared: Arc<Shared>,
    watch: &mut Watch,
) -> std::io::Result<()> {
    let _ = sock.set_nodelay(true);
    let snapshot = shared.store.lock().map(|s| s.clone()).unwrap_or_default();
    let cfg = ServerConfig {
        user: shared.opts.user.clone(),
        password: shared.opts.password.clone(),
        token: DEMO_TOKEN.into(),
        port: Some(shared.port),
        offer_stls: shared.opts.tls == TlsMode::Starttls,
        quirk: shared.opts.quirk,
        timestamp: timestamp(&shared),
    };
    let mut session = ServerSession::new(cfg, snapshot);
    let implicit = shared.opts.tls == TlsMode::Implicit;
    let mut faults = Faults::new(shared.inject, implicit, &shared.logins, client.ip());
    let mut conn = Connection {
        session: &mut session,
        shared: &shared,
        watch,
        faults: &mut faults,
    };
    if implicit {
        let mut tls = handshake(shared.acceptor.accept(sock).await, conn.watch)?;
        // Before the greeting nothing is held, so there is nothing to answer.
        let _ = conn
            .session
            .on_tls(certs::client_cn(tls.get_ref().1.peer_certificates()));
        let greeting = vec![Output::Send(conn.session.greeting())];
        conn.run(&mut tls, greeting).await?;
        return Ok(());
    }
    let mut plain = sock;
    let greeting = vec![Output::Send(conn.session.greeting())];
    if let Ended::Upgrade = conn.run(&mut plain, greeting).await? {
        let mut tls = handshake(shared.acceptor.accept(plain).await, conn.watch)?;
        conn.faults.on_client_tls();
        let behind_stls = conn
            .session
            .on_tls(certs::client_cn(tls.get_ref().1.peer_certificates()));
        conn.run(&mut tls, behind_stls).await?;
    }
    Ok(())
}

/// Tells the judge how the handshake went.
fn handshake<S>(
    result: std::io::Result<tokio_rustls::server::TlsStream<S>>,
    watch: &mut Watch,
) -> std::io::Result<tokio_rustls::server::TlsStream<S>> {
    match &result {
        Ok(tls) => watch.transport(TransportEvent::TlsEstablished {
            // The demo asks every client for a certificate (one is optional).
            cert_requested: true,
            client_cert: tls.get_ref().1.peer_certificates().is_some(),
        }),
        // The server cannot tell the client's reasons; it was the client that gave up.
        Err(_) => watch.transport(TransportEvent::TlsFailed {
            reason: TlsFailure::ClientAborted,
        }),
    }
    result
}

enum Ended {
    Closed,
    /// STLS was accepted: the handshake comes next.
    Upgrade,
}

/// One connection: the session, what it shares with the others, its judge and its faults.
struct Connection<'a> {
    session: &'a mut ServerSession,
    shared: &'a Shared,
    watch: &'a mut Watch,
    faults: &'a mut Faults<'a>,
}

impl Connection<'_> {
    /// Carries out `pending`, then the session's answers to what the client sends, until
    /// the session closes, asks for TLS, or the client goes.
    async fn run<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        s: &mut S,
        mut pending: Vec<Output>,
    ) -> std::io::Result<Ended> {
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            for out in pending.drain(..) {
                match out {
                    Output::Send(bytes) => {
                        let served = self.faults.served(bytes);
                        if let Some(ended) = self.carry_out(s, served).await? {
                            return Ok(ended);
                        }
                    }
                    Output::StartTls => {
                        s.flush().await?;
                        return Ok(Ended::Upgrade);
                    }
                    Output::Commit(uids) => {
                        if let Ok(mut store) = self.shared.store.lock() {
                            store.retain(|m| !uids.contains(&m.uid));
                        }
                    }
                    Output::Close => return self.close(s).await,
                }
            }
            let n = match tokio::time::timeout(self.shared.idle, s.read(&mut chunk)).await {
                Ok(r) => r?,
                // The autologout: the server is the one that closes.
                Err(_) => {
                    let secs = self.shared.idle.as_secs();
                    self.watch
                        .ended(format!("the client sent nothing for {secs} s"));
                    return self.close(s).await;
                }
            };
            if n == 0 {
                self.watch.transport(TransportEvent::ClientClosed);
                let _ = s.shutdown().await;
                return Ok(Ended::Closed);
            }
            self.watch.client(&chunk[..n]);
            let split = self.faults.handle_client(&chunk[..n]);
            if let Some(ended) = self.carry_out(s, split.to_client).await? {
                return Ok(ended);
            }
            pending = self.session.receive(&split.forward);
        }
    }

    /// What the client gets, in order; `Some` when the connection is over.
    async fn carry_out<S: AsyncWrite + Unpin>(
        &mut self,
        s: &mut S,
        actions: Vec<Action>,
    ) -> std::io::Result<Option<Ended>> {
        for action in actions {
            match action {
                Action::Send(bytes) => {
                    self.watch.server(&bytes);
                    // A client that never reads (pipelining without end) holds only its own
                    // connection, and not for ever.
                    let idle = self.shared.idle;
                    // Flushed too: a TLS stream takes the octets but may keep their record
                    // until flushed (when the socket was full), and the client would wait
                    // for the rest of a reply the server thinks it sent.
                    let sent = async {
                        s.write_all(&bytes).await?;
                        s.flush().await
                    };
                    match tokio::time::timeout(idle, sent).await {
                        Ok(sent) => sent?,
                        Err(_) => {
                            let secs = idle.as_secs();
                            self.watch
                                .ended(format!("the client read nothing for {secs} s"));
                            return Err(std::io::ErrorKind::TimedOut.into());
                        }
                    }
                }
                Action::Pause(seconds) => {
                    s.flush().await?;
                    tokio::time::sleep(Duration::from_secs(seconds.into())).await;
                }
                Action::Close => return self.close(s).await.map(Some),
            }
        }
        Ok(None)
    }

    async fn close<S: AsyncWrite + Unpin>(&mut self, s: &mut S) -> std::io::Result<Ended> {
        s.flush().await?;
        self.watch.server_closed();
        let _ = s.shutdown().await;
        Ok(Ended::Closed)
    }
}

/// Writes the sample maildrop as a Maildir (`cur/`, `new/`, `tmp/`), one file per message:
/// folders 0700, files 0600, never through a symbolic link; `existing` says what to do with a
/// message file already there (refused unless `--force`).
pub(crate) fn write_maildir(
    dir: &std::path::Path,
    existing: crate::private_file::Existing,
) -> std::io::Result<()> {
    use crate::private_file::{check, check_dir, create_dir, explain, open};
    use std::io::Write;
    let named = |p: &std::path::Path| {
        let p = p.to_path_buf();
        move |e: std::io::Error| std::io::Error::new(e.kind(), explain(&p, &e))
    };
    let sample = maildrop::sample();
    let path = |i: usize| {
        dir.join("cur").join(format!(
            "{}.popscope{}.localhost:2,S",
            1_700_000_000 + i,
            i + 1
        ))
    };
    // Every folder and file is checked before anything is written: a refusal writes nothing.
    check_dir(dir).map_err(named(dir))?;
    for sub in ["cur", "new", "tmp"] {
        let d = dir.join(sub);
        check_dir(&d).map_err(named(&d))?;
    }
    for i in 0..sample.len() {
        let p = path(i);
        check(&p, existing).map_err(named(&p))?;
    }
    for sub in ["cur", "new", "tmp"] {
        let d = dir.join(sub);
        create_dir(&d).map_err(named(&d))?;
    }
    for (i, m) in sample.iter().enumerate() {
        // Maildir files conventionally use LF line ends; the server adds the CR back.
        let lf: Vec<u8> = m.data.iter().copied().filter(|&b| b != b'\r').collect();
        let path = path(i);
        let mut f = open(&path, existing).map_err(named(&path))?;
        f.write_all(&lf).map_err(named(&path))?;
        f.sync_all().map_err(named(&path))?;
    }
    Ok(())
}

/// For `serve --list-quirks` and help texts: the server quirks, then after a blank line the
/// client cases.
pub(crate) fn quirk_table() -> String {
    let mut s = String::new();
    for q in QUIRKS {
        s.push_str(&format!(
            "{:<24} {}  [{}]\n",
            q.name,
            q.description,
            q.expected_rules.join(", ")
        ));
    }
    s.push_str(
        "\nClient cases (testing a mail client), for serve --quirk CASE and proxy --inject CASE: what the client is served [the rules a client that falls for it breaks]\n",
    );
    for c in CASES {
        let alias = if Quirk::parse(c.name).is_some() {
            " (serve: the server quirk of that name)"
        } else {
            ""
        };
        let (name, default) = match c.default_seconds {
            Some(n) => (format!("{}[=N]", c.name), format!(", N {n} unless given")),
            None => (c.name.to_owned(), String::new()),
        };
        s.push_str(&format!(
            "{name:<24} {}{default}{alias}  [{}]\n",
            c.served,
            if c.rules.is_empty() {
                "-".to_owned()
            } else {
                c.rules.join(", ")
            }
        ));
    }
    s
}

/// Where the demo's files go, for messages.
pub(crate) fn describe(r: &Running) -> String {
    let mut s = String::new();
    for a in &r.addrs {
        s.push_str(&format!(
            "listening on {a} ({})\n",
            match r.tls {
                TlsMode::None => "plain POP3",
                TlsMode::Starttls => "plain POP3 with STLS",
                TlsMode::Implicit => "implicit TLS",
            }
        ));
    }
    s.push_str(&format!(
        "user: {}  password: {}  token: {}\n",
        r.user, r.password, r.token
    ));
    s.push_str(&format!(
        "CA certificate: {}   (popscope --ca-file {})\n",
        r.certs.ca.display(),
        r.certs.ca.display()
    ));
    s.push_str(&format!(
        "client certificate: {}  key: {}\n",
        r.certs.client_cert.display(),
        r.certs.client_key.display()
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ServeOptions {
        ServeOptions {
            port: 0,
            tls: TlsMode::Starttls,
            quirk: None,
            user: "demo".into(),
            password: "demo".into(),
        }
    }

    #[test]
    fn the_certificate_folder_goes_with_the_server_even_on_a_panic() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let r = rt.block_on(start(opts())).unwrap();
        let dir = r.certs.dir.clone();
        assert!(r.certs.ca.starts_with(&dir) && r.certs.client_key.starts_with(&dir));
        assert!(
            describe(&r).contains("\nuser: demo  password: demo  token: demo-token\n"),
            "{}",
            describe(&r)
        );
        assert!(dir.join("server-key.pem").exists());
        drop(r);
        assert!(!dir.exists(), "{} was left behind", dir.display());

        let seen = std::sync::Mutex::new(None);
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(async {
                let r = start(opts()).await.unwrap();
                *seen.lock().unwrap() = Some(r.certs.dir.clone());
                panic!("a bug in the demo");
            })
        }));
        assert!(unwound.is_err());
        let dir = seen.lock().unwrap().clone().unwrap();
        assert!(!dir.exists(), "{} survived the panic", dir.display());
    }
}
