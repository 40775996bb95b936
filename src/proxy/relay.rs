//! One client connection: the upstream leg opened for it, then both directions relayed at
//! once through its [`Judge`]. Memory is bounded per connection: one read buffer per
//! direction and at most [`QUEUED`] reads on their way to the client; a side that stops
//! reading holds up only its own connection, and for at most `--timeout`.
//!
//! With `--offer-stls` the relay runs in phases: an STLS the proxy accepts ends the phase
//! once the replies before it and the `+OK` have reached the client; the handshake with the
//! client follows on the same sockets (the upstream leg untouched), then the next phase.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc, watch};

use super::ProxyOptions;
use super::judge::{Judge, with};
use super::spool::Spool;
use super::starttls::StlsError;
use crate::report::ConnectionReport;
use popscope_core::TransportEvent;

/// Octets read at a time from either side.
const CHUNK: usize = 64 << 10;

/// Octets read at a time from the client.
const CLIENT_CHUNK: usize = 16 << 10;

/// Reads from the server (or proxy answers) waiting to be written to the client.
const QUEUED: usize = 4;

/// Commands unanswered before the client is read no faster than the server answers: what the
/// engine follows of one connection stays bounded, however much a client pipelines (100,000
/// CAPA took a worker for minutes, and the other connections with it).
const MAX_PIPELINED: usize = 1000;

/// Why a direction ended, for the report (none when it simply closed).
type Ended = Option<String>;

/// Relays one client connection until either side ends it or `stop` turns true; the report
/// says what the engine found.
pub(crate) async fn serve(
    number: u64,
    client: TcpStream,
    peer: SocketAddr,
    opts: Arc<ProxyOptions>,
    mut stop: watch::Receiver<bool>,
) -> ConnectionReport {
    let recording = Spool::default();
    let observer = opts.observer(number, peer, &recording);
    let judge = Judge::new(super::engine_config(&opts), observer).with_fault(opts.inject);
    let judge = Mutex::new(judge);
    let error = match client_leg(client, &judge, &opts).await {
        Ok(client) => session(client, peer, &judge, &opts, &mut stop).await,
        Err(e) => Some(e),
    };
    finish(number, peer, opts, judge, recording, error).await
}

/// The client's side of a connection, plain or TLS, before and after its STLS.
pub(crate) trait ClientIo: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> ClientIo for T {}
type Client = Box<dyn ClientIo>;

/// The upstream leg opened for a client whose own leg is ready, then the relay, phase by
/// phase.
async fn session(
    mut client: Client,
    peer: SocketAddr,
    judge: &Mutex<Judge>,
    opts: &ProxyOptions,
    stop: &mut watch::Receiver<bool>,
) -> Ended {
    let connected = tokio::select! {
        c = opts.upstream.connect(judge) => c,
        () = stopped(stop) => return Some("the proxy was stopped".into()),
    };
    match connected {
        Ok(server) => {
            let tls = server.is_tls();
            // One injector for the whole connection: a case may span the client's STLS.
            let tls_from_start = opts.client_tls.is_some() && !opts.offer_stls;
            let who = super::inject::Client {
                logins: opts.login_times.clone(),
                ip: peer.ip(),
            };
            let mut server = super::inject::wrap(server, opts.inject, tls_from_start, who);
            let client_tls = server.client_tls_signal();
            loop {
                match relay(&mut client, &mut server, tls, judge, opts, stop).await {
                    Phase::Ended(ended) => break ended,
                    Phase::ClientStls => match client_handshake(client, judge, opts).await {
                        Ok(upgraded) => {
                            client = upgraded;
                            if let Some(signal) = &client_tls {
                                signal.store(true, std::sync::atomic::Ordering::Release);
                            }
                        }
                        Err(e) => break Some(e),
                    },
                }
            }
        }
        Err(e) => {
            // The client hears why in one line, as a server that cannot serve would say it.
            let why = match &e {
                StlsError::Transport(e) => format!("the server cannot be reached: {e}"),
                refused => refused.to_string(),
            };
            let line = format!(
                "-ERR popscope proxy: {}\r\n",
                popscope_core::sanitize::display(why.as_bytes(), 400)
            );
            let _ = tokio::time::timeout(opts.timeout, async {
                client.write_all(line.as_bytes()).await?;
                client.flush().await
            })
            .await;
            Some(e.to_string())
        }
    }
}

/// The client leg as `--listen` says: plain TCP (with or without an STLS to come), or TLS
/// from the first byte (the handshake bounded by `--timeout`, before any upstream
/// connection is opened for it); the engine hears whether the client showed a certificate.
async fn client_leg(
    client: TcpStream,
    judge: &Mutex<Judge>,
    opts: &ProxyOptions,
) -> Result<Client, String> {
    match &opts.client_tls {
        Some(acceptor) if !opts.offer_stls => {
            let (client, client_cert) = accept(acceptor, Box::new(client), opts).await?;
            with(judge, |j| j.client_leg_tls(client_cert));
            Ok(client)
        }
        _ => Ok(Box::new(client)),
    }
}

/// The handshake with the client after the proxy's `+OK` to its STLS; the engine hears how
/// it went (and of what the client sent behind the STLS).
async fn client_handshake(
    client: Client,
    judge: &Mutex<Judge>,
    opts: &ProxyOptions,
) -> Result<Client, String> {
    let Some(acceptor) = &opts.client_tls else {
        return Err("the proxy accepted STLS without a certificate to show".into());
    };
    let upgraded = accept(acceptor, client, opts).await;
    with(judge, |j| match &upgraded {
        Ok((_, client_cert)) => j.client_leg_stls(true, *client_cert),
        Err(_) => {
            j.client_leg_stls(false, false);
            j.transport(TransportEvent::ClientClosed);
        }
    });
    upgraded
        .map(|(client, _)| client)
        .map_err(|e| format!("after STLS, {e}"))
}

/// The handshake with the client, and whether it presented a certificate (asked for, not
/// verified: see `ca::asking_for_client_certs`).
async fn accept(
    acceptor: &tokio_rustls::TlsAcceptor,
    client: Client,
    opts: &ProxyOptions,
) -> Result<(Client, bool), String> {
    match tokio::time::timeout(opts.timeout, acceptor.accept(client)).await {
        Ok(Ok(tls)) => {
            let client_cert = tls
                .get_ref()
                .1
                .peer_certificates()
                .is_some_and(|certs| !certs.is_empty());
            Ok((Box::new(tls), client_cert))
        }
        Ok(Err(e)) => Err(format!("the client's TLS handshake failed: {e}")),
        Err(_) => Err(format!(
            "the client did not finish its TLS handshake in {} s",
            opts.timeout.as_secs()
        )),
    }
}

async fn finish(
    number: u64,
    peer: SocketAddr,
    opts: Arc<ProxyOptions>,
    judge: Mutex<Judge>,
    recording: Spool,
    error: Ended,
) -> ConnectionReport {
    let mut judge = judge.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut notes = notes(&judge);
    let (session, opened) = judge.session();
    let again = opts
        .logins
        .lock()
        .map(|mut last| last.judge(peer.ip(), opened, session))
        .ok()
        .flatten();
    judge.findings.extend(again);
    // Copying a long session's spool is file work: off the threads that relay.
    let upstream = opts.upstream.url();
    let saved = tokio::task::spawn_blocking(move || opts.save_recording(&recording)).await;
    match saved {
        Ok(Ok(())) => {}
        Ok(Err(e)) => notes.push(e),
        Err(e) => notes.push(format!(
            "the recording of this connection was not saved: {e}"
        )),
    }
    ConnectionReport {
        number,
        client: peer,
        upstream: Some(upstream),
        upstream_tls: judge
            .tls
            .as_ref()
            .map(|t| popscope_core::sanitize::display(t.summary().as_bytes(), 300)),
        final_state: judge.state(),
        findings: judge.findings,
        findings_left_out: judge.findings_left_out,
        notes,
        error,
    }
}

/// What the proxy did on its own, for the report.
fn notes(judge: &Judge) -> Vec<String> {
    let mut notes = Vec::new();
    if judge.stls_refused > 0 {
        let why = if judge.offers_stls() {
            "out of place (its leg was TLS already, or it had logged in)"
        } else {
            "without --offer-stls, the proxy offers no STLS to clients"
        };
        notes.push(format!(
            "the client sent STLS {} time(s) that the proxy answered -ERR: {why}",
            judge.stls_refused
        ));
    }
    if judge.client_cert_shown {
        // The proxy asks for one only as evidence for the client rules (CL-003).
        notes.push("client certificate presented, not verified".into());
    }
    if judge.stls_accepted > 0 {
        notes.push(
            "the client's leg was upgraded by STLS, answered by the proxy (the server never saw it)"
                .into(),
        );
    }
    notes
}

/// How a phase of the relay ended.
enum Phase {
    Ended(Ended),
    /// The proxy accepted the client's STLS, and the `+OK` reached the client.
    ClientStls,
}

/// Why the client's direction stopped reading.
enum Upward {
    Ended(Ended),
    /// Behind an STLS the proxy accepted: the handshake's octets are not for the relay.
    Stls,
}

/// Why the server's direction stopped reading.
enum Downward {
    Ended(Ended),
    /// The `+OK` to the client's STLS is on its way: the server waits for the next phase.
    Stls,
}

/// One phase of the relay (until the connection ends, or until the client's STLS is
/// answered); `tls`: the server leg is TLS.
async fn relay(
    client: &mut Client,
    server: &mut (impl AsyncRead + AsyncWrite + Send + Unpin),
    tls: bool,
    judge: &Mutex<Judge>,
    opts: &ProxyOptions,
    stop: &mut watch::Receiver<bool>,
) -> Phase {
    let (client_read, client_write) = tokio::io::split(client);
    let (server_read, server_write) = tokio::io::split(server);
    let (to_client, queue) = mpsc::channel(QUEUED);
    // The proxy's own answers go out through the server's direction, in their place.
    let answers = Notify::new();
    let upward = client_to_server(client_read, server_write, judge, &answers, opts);
    let downward = async {
        let reader = server_to_client(server_read, judge, to_client, &answers, tls, opts.timeout);
        let writer = write_client(client_write, queue, opts.timeout);
        tokio::pin!(reader, writer);
        tokio::select! {
            read = &mut reader => {
                let written = writer.await;
                match read {
                    Downward::Ended(read) => Downward::Ended(read.or(written)),
                    Downward::Stls if written.is_some() => Downward::Ended(written),
                    Downward::Stls => Downward::Stls,
                }
            }
            // A client that went away or stopped reading ends the connection, however
            // quiet the server is; the report says the session is closed.
            written = &mut writer => {
                if written.is_some() {
                    with(judge, |j| j.transport(TransportEvent::ClientClosed));
                }
                Downward::Ended(written)
            }
        }
    };
    tokio::pin!(upward, downward);
    let ended = tokio::select! {
        down = &mut downward => match down {
            // The +OK went out before the client's direction saw its own STLS through.
            Downward::Stls => match tokio::time::timeout(opts.timeout, &mut upward).await {
                Ok(Upward::Stls) => return Phase::ClientStls,
                Ok(Upward::Ended(up)) => Downward::Ended(up),
                Err(_) => Downward::Ended(Some("the server read nothing before the client's STLS".into())),
            },
            down => down,
        },
        up = &mut upward => {
            // The client is done (it sent QUIT, or went away; or STLS, which waits for the
            // replies before it): the server gets the write timeout to answer.
            let tail = tokio::time::timeout(opts.timeout, &mut downward).await;
            let tail = tail.unwrap_or_else(|_| {
                with(judge, |j| j.transport(TransportEvent::ClientClosed));
                Downward::Ended(None)
            });
            match (up, tail) {
                (Upward::Stls, Downward::Stls) => return Phase::ClientStls,
                (Upward::Ended(up), Downward::Ended(down)) => Downward::Ended(up.or(down)),
                (_, down) => down,
            }
        }
        () = stopped(stop) => {
            with(judge, |j| j.transport(TransportEvent::ClientClosed));
            Downward::Ended(Some("the proxy was stopped".into()))
        }
    };
    match ended {
        Downward::Ended(ended) => Phase::Ended(ended),
        Downward::Stls => Phase::ClientStls,
    }
}

/// What goes to the client: the server's octets (with the proxy's answers in their place).
enum ToClient {
    Bytes(Vec<u8>),
    /// The server leg ended: the client leg is closed after what came before.
    End,
    /// The `+OK` to the client's STLS went before: the client leg stays open for the
    /// handshake.
    Stls,
}

async fn client_to_server(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    judge: &Mutex<Judge>,
    answers: &Notify,
    opts: &ProxyOptions,
) -> Upward {
    let mut buf = vec![0u8; CHUNK];
    // A client silent on its turn for --timeout (one that connects and sends nothing, say)
    // is ended, as a server's autologout would end it: it cannot hold a connection forever.
    let (tick, mut silent, mut idle) = (
        opts.timeout.min(Duration::from_secs(1)),
        Duration::ZERO,
        None,
    );
    loop {
        while with(judge, |j| j.unanswered()) >= MAX_PIPELINED {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // A client sends commands, not bodies: a read holds at most a few thousand, and
        // near the bound, a few hundred.
        let room = if with(judge, |j| j.unanswered()) > MAX_PIPELINED / 2 {
            1 << 10
        } else {
            CLIENT_CHUNK
        };
        let read = from.read(buf.get_mut(..room).unwrap_or_default());
        let n = match tokio::time::timeout(tick, read).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => n,
            Err(_) => {
                silent = if with(judge, |j| j.server_owes()) {
                    Duration::ZERO
                } else {
                    silent + tick
                };
                if silent >= opts.timeout {
                    idle = Some(format!(
                        "the client sent nothing for {} s",
                        opts.timeout.as_secs()
                    ));
                    break;
                }
                continue;
            }
        };
        silent = Duration::ZERO;
        let Some(split) = with(judge, |j| {
            Some(j.client_bytes(buf.get(..n).unwrap_or_default()))
        }) else {
            break;
        };
        if split.flooded {
            return Upward::Ended(Some(
                "the client sent STLS more than 1000 times before the answers could go out: the connection ends (its answers would pile up without bound)".into(),
            ));
        }
        if split.answered {
            answers.notify_one();
        }
        if !split.forward.is_empty() {
            // A TLS upstream takes the octets but may keep their record until flushed (when
            // the socket was full at the write): a QUIT held there is never answered.
            let written = async {
                to.write_all(&split.forward).await?;
                to.flush().await
            };
            match tokio::time::timeout(opts.timeout, written).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Upward::Ended(Some(format!("writing to the server: {e}"))),
                Err(_) => {
                    return Upward::Ended(Some(format!(
                        "the server read nothing for {} s",
                        opts.timeout.as_secs()
                    )));
                }
            }
        }
        if split.upgrade {
            return Upward::Stls;
        }
    }
    // A client that leaves while the server owes it nothing ends the session; one that
    // leaves after QUIT (or any command) waits for the answer, and the server's close
    // after it is the server's.
    with(judge, |j| {
        if !j.server_owes() {
            j.transport(TransportEvent::ClientClosed)
        }
    });
    let _ = tokio::time::timeout(opts.timeout, to.shutdown()).await;
    Upward::Ended(idle)
}

async fn server_to_client(
    mut from: impl AsyncRead + Unpin,
    judge: &Mutex<Judge>,
    to: mpsc::Sender<ToClient>,
    answers: &Notify,
    tls: bool,
    silence: Duration,
) -> Downward {
    let mut buf = vec![0u8; CHUNK];
    // The engine is told of a silence once; the next octets start the watch again.
    let mut silence_told = false;
    // Judged already (the greeting the proxy read for its upstream STLS): relayed as it is.
    let first = with(judge, Judge::take_relay_first);
    if !first.is_empty() && to.send(ToClient::Bytes(first)).await.is_err() {
        return Downward::Ended(None);
    }
    // What the server sent while the client's TLS was set up, first.
    let held = with(judge, Judge::take_after_upgrade);
    if !held.is_empty() {
        let bytes = with(judge, |j| j.server_bytes(&held));
        if !bytes.is_empty() && to.send(ToClient::Bytes(bytes)).await.is_err() {
            return Downward::Ended(None);
        }
    }
    // How the stream ended, met while [`read_ready`] gathered octets: told after them.
    let mut end_held = None;
    let (close_notify, ended) = loop {
        if with(judge, |j| j.awaits_client_handshake()) {
            let _ = to.send(ToClient::Stls).await;
            return Downward::Stls;
        }
        let owes = !silence_told && with(judge, |j| j.server_owes());
        let read = if let Some(end) = end_held.take() {
            end
        } else {
            tokio::select! {
            read = from.read(&mut buf) => read,
            () = tokio::time::sleep(silence), if owes => {
                // The relay goes on: the client decides whether to wait longer.
                with(judge, |j| j.transport(TransportEvent::Timeout));
                silence_told = true;
                continue;
            }
            () = answers.notified() => {
                let ready = with(judge, Judge::take_ready);
                if !ready.is_empty() && to.send(ToClient::Bytes(ready)).await.is_err() {
                    break (false, None);
                }
                continue;
            }
            }
        };
        match read {
            // Under TLS a clean end is the close_notify alert; a bare TCP close is an error.
            Ok(0) => break (tls, None),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break (false, None),
            Err(e) => {
                break (
                    false,
                    Some(crate::transport::explain_session_error(&e).to_string()),
                );
            }
            Ok(n) => {
                silence_told = false;
                let (n, end) = read_ready(&mut from, &mut buf, n).await;
                end_held = end;
                let bytes = with(judge, |j| j.server_bytes(buf.get(..n).unwrap_or_default()));
                if !bytes.is_empty() && to.send(ToClient::Bytes(bytes)).await.is_err() {
                    break (false, None);
                }
            }
        }
    };
    with(judge, |j| {
        j.transport(TransportEvent::ServerClosed { close_notify })
    });
    let _ = to.send(ToClient::End).await;
    Downward::Ended(ended)
}

/// Adds to `buf` (its first `filled` octets read) what `from` has ready now, without waiting:
/// a TLS stream hands over about one record a read (4 KiB from Dovecot), and each read costs
/// the engine, the queue and a write to the client; a full buffer costs them once. Returns the
/// octets in `buf`, and the end of the stream (EOF or an error) if a read met it.
async fn read_ready(
    from: &mut (impl AsyncRead + Unpin),
    buf: &mut [u8],
    mut filled: usize,
) -> (usize, Option<std::io::Result<usize>>) {
    use std::task::Poll;
    while filled < buf.len() {
        let ready = std::future::poll_fn(|cx| {
            let mut more = tokio::io::ReadBuf::new(buf.get_mut(filled..).unwrap_or_default());
            Poll::Ready(
                match std::pin::Pin::new(&mut *from).poll_read(cx, &mut more) {
                    Poll::Ready(Ok(())) => Some(Ok(more.filled().len())),
                    Poll::Ready(Err(e)) => Some(Err(e)),
                    // Nothing more for now: the caller's next read waits.
                    Poll::Pending => None,
                },
            )
        })
        .await;
        match ready {
            Some(Ok(0)) | Some(Err(_)) => return (filled, ready),
            Some(Ok(n)) => filled += n,
            None => break,
        }
    }
    (filled, None)
}

async fn write_client(
    mut to: impl AsyncWrite + Unpin,
    mut queue: mpsc::Receiver<ToClient>,
    timeout: Duration,
) -> Ended {
    loop {
        let bytes = match queue.recv().await {
            Some(ToClient::Bytes(bytes)) => bytes,
            Some(ToClient::Stls) => return None,
            Some(ToClient::End) | None => break,
        };
        // A TLS client leg may hold a record back until flushed.
        let written = async {
            to.write_all(&bytes).await?;
            to.flush().await
        };
        match tokio::time::timeout(timeout, written).await {
            Ok(Ok(())) => {}
            // The client went away: the server leg ends with it.
            Ok(Err(e)) => return Some(format!("writing to the client: {e}")),
            Err(_) => {
                return Some(format!(
                    "the client read nothing for {} s",
                    timeout.as_secs()
                ));
            }
        }
    }
    let _ = tokio::time::timeout(timeout, to.shutdown()).await;
    None
}

/// Resolves once the proxy is told to stop.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard wait_for returns is not Send: dropped at once.
    let _ = stop.wait_for(|s| *s).await;
}

#[cfg(test)]
mod tests {
    use super::read_ready;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn read_ready_gathers_what_is_there_and_holds_the_end_for_after_it() {
        let (mut server, mut proxy) = tokio::io::duplex(1 << 16);
        for part in [&b"+OK 12 octets\r\n"[..], b"hello\r\n", b"world\r\n.\r\n"] {
            server
                .write_all(part)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let mut buf = vec![0u8; 64];
        let first = proxy
            .read(&mut buf[..4])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // What is there comes in one piece, and with nothing more it does not wait.
        let gathered = read_ready(&mut proxy, &mut buf, first);
        let (n, end) = tokio::time::timeout(std::time::Duration::from_secs(5), gathered)
            .await
            .unwrap_or_else(|_| panic!("read_ready waited for more"));
        assert_eq!(&buf[..n], b"+OK 12 octets\r\nhello\r\nworld\r\n.\r\n");
        assert!(end.is_none());
        // The server's close after more octets: the octets, and the end held for later.
        server
            .write_all(b"bye\r\n")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        drop(server);
        let (n, end) = read_ready(&mut proxy, &mut buf, 0).await;
        assert_eq!(&buf[..n], b"bye\r\n");
        assert!(matches!(end, Some(Ok(0))), "{end:?}");
    }

    #[tokio::test]
    async fn read_ready_stops_at_a_full_buffer() {
        let (mut server, mut proxy) = tokio::io::duplex(1 << 16);
        server
            .write_all(&[b'x'; 100])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut buf = vec![0u8; 10];
        let (n, end) = read_ready(&mut proxy, &mut buf, 0).await;
        assert_eq!((n, end.is_none()), (10, true));
    }
}

/// The upstream leg a real TLS stream over a pipe of `cap` octets, the server busy for a
/// moment after PASS while the client pipelines `burst` commands and QUIT.
#[cfg(test)]
mod upstream_flush {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

    /// The commands the server heard, and whether the client got the answer to QUIT.
    async fn session(cap: usize, burst: usize) -> (Vec<String>, bool) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let certs =
            crate::server::certs::make(dir.path(), "demo", crate::private_file::Existing::Refuse)
                .unwrap_or_else(|e| panic!("{e}"));
        let settings = crate::transport::TlsSettings {
            ca_file: Some(certs.files.ca.clone()),
            insecure: false,
            sni: None,
            client_cert: None,
            client_key: None,
        };
        let (config, _) =
            crate::transport::tls::client_config(&settings).unwrap_or_else(|e| panic!("{e}"));
        let (proxy_end, server_end) = tokio::io::duplex(cap);
        let acceptor = tokio_rustls::TlsAcceptor::from(certs.server_config.clone());
        let heard = Arc::new(Mutex::new(Vec::<String>::new()));
        let server_heard = heard.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(server_end).await else {
                return;
            };
            let (r, mut w) = tokio::io::split(tls);
            let mut r = BufReader::new(r);
            let _ = w.write_all(b"+OK fake\r\n").await;
            let _ = w.flush().await;
            let mut line = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                    break;
                }
                let cmd = line.get(..4).unwrap_or("").to_ascii_uppercase();
                if let Ok(mut h) = server_heard.lock() {
                    h.push(cmd.clone());
                }
                let quit = cmd == "QUIT";
                let _ = w
                    .write_all(if quit { b"+OK bye\r\n" } else { b"+OK\r\n" })
                    .await;
                let _ = w.flush().await;
                if quit {
                    let _ = w.shutdown().await;
                    break;
                }
                if cmd == "PASS" {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        });
        let name =
            rustls_pki_types::ServerName::try_from("localhost").unwrap_or_else(|e| panic!("{e}"));
        let mut upstream = tokio_rustls::TlsConnector::from(config)
            .connect(name, proxy_end)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let opts = super::ProxyOptions {
            upstream: crate::proxy::Upstream {
                target: crate::transport::Target::parse("pop3s://localhost")
                    .unwrap_or_else(|e| panic!("{e}")),
                scheme: crate::transport::Scheme::Pop3s,
                tls: settings,
                connect_timeout: Duration::from_secs(2),
                starttls: false,
            },
            client_tls: None,
            offer_stls: false,
            timeout: Duration::from_secs(3),
            record: None,
            record_secrets: false,
            max_body: None,
            saving: Mutex::new(()),
            logins: Mutex::default(),
            login_times: Arc::default(),
            watch: None,
            inject: None,
        };
        let judge = Mutex::new(super::Judge::new(
            super::super::engine_config(&opts),
            Box::new(crate::session::Tee(Vec::new())),
        ));
        let (client_end, mut client) = tokio::io::duplex(1 << 20);
        let mut client_end: super::Client = Box::new(client_end);
        let (_stop_tx, mut stop) = tokio::sync::watch::channel(false);
        let relay = tokio::spawn(async move {
            let _ = super::relay(
                &mut client_end,
                &mut upstream,
                true,
                &judge,
                &opts,
                &mut stop,
            )
            .await;
        });
        let _ = client.write_all(b"USER demo\r\nPASS demo\r\n").await;
        let mut pipelined = b"NOOP 0123456789\r\n".repeat(burst);
        pipelined.extend_from_slice(b"QUIT\r\n");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = client.write_all(&pipelined).await;
        let (mut got, mut buf) = (Vec::new(), vec![0u8; 1 << 16]);
        let _ = tokio::time::timeout(Duration::from_secs(8), async {
            while !got.ends_with(b"+OK bye\r\n") {
                match client.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(buf.get(..n).unwrap_or_default()),
                }
            }
        })
        .await;
        relay.abort();
        let heard = heard.lock().map(|h| h.clone()).unwrap_or_default();
        (heard, got.ends_with(b"+OK bye\r\n"))
    }

    /// Without a flush after each write upstream, the last commands stayed in rustls while
    /// the 256-octet pipe was full, and the server never heard QUIT.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_quit_written_while_the_upstream_is_full_reaches_the_server() {
        let (heard, answered) = session(256, 40).await;
        assert!(heard.iter().any(|c| c == "QUIT"), "{heard:?}");
        assert!(answered);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_roomy_upstream_passes_either_way() {
        let (heard, answered) = session(1 << 20, 40).await;
        assert!(heard.iter().any(|c| c == "QUIT") && answered, "{heard:?}");
    }
}
