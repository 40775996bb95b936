//! `--upstream-starttls`: the proxy upgrades the server leg by STLS itself, before it relays
//! a byte: the greeting, CAPA (STLS must be listed), STLS, the handshake verified as `check`
//! verifies it, and CAPA again inside TLS. Never a fallback to plaintext: any failure ends
//! the connection before the client is relayed anything.
//!
//! The engine is fed this exchange as the first exchanges of the session, the proxy as their
//! client: the server rules judge the upstream's STLS as they judge `check`'s (TLS-003's
//! plaintext after the `+OK`, the capabilities across the upgrade: CAPA-004, SASL-010), and
//! the proxy's CAPA inside TLS leaves the client rules nothing to blame on the real client,
//! which joins after it (it is relayed the greeting, kept for it, and then the session).

use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::judge::{Judge, with};
use crate::transport::{self, Stream, Tcp, TlsSettings, TransportError};
use popscope_core::response::{ReplyEnd, StatusLine};
use popscope_core::{Direction, Status, TransportEvent};

/// The longest reply the proxy reads for itself (a CAPA list): more is not a POP3 server.
const MAX_REPLY: usize = 64 << 10;

/// How long plaintext after the `+OK` to STLS is waited for, to be judged (TLS-003) and
/// kept out of the handshake (as `check` does).
const LINGER: Duration = Duration::from_millis(50);

/// Why the upstream's STLS did not give a TLS leg.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StlsError {
    #[error("{0}")]
    Transport(#[from] TransportError),
    #[error("--upstream-starttls: {0}; nothing was relayed in plaintext")]
    Refused(String),
}

/// One reply as read: its octets, and whether it was `+OK`.
struct Reply {
    bytes: Vec<u8>,
    ok: bool,
}

/// The upgraded server leg to `host` (its certificate verified with `tls`, each step within
/// `timeout`), and the greeting for the client.
pub(crate) async fn upgrade(
    mut tcp: Tcp,
    host: &str,
    tls: &TlsSettings,
    timeout: Duration,
    judge: &Mutex<Judge>,
) -> Result<(Stream, Vec<u8>), StlsError> {
    let mut reader = Replies::new(timeout);
    let greeting = reader.next(&mut tcp, judge, false).await?;
    if !greeting.ok {
        return Err(refused("the server's greeting is not +OK", &greeting));
    }
    let capa = exchange(&mut tcp, &mut reader, judge, b"CAPA\r\n", true).await?;
    // The engine has read that CAPA: its list is the one the checks judge.
    let lists_stls = capa.ok
        && with(judge, |j| {
            let caps = &j.session().0.caps.auth;
            caps.as_ref().is_some_and(|c| c.has("STLS"))
        });
    if !lists_stls {
        return Err(StlsError::Refused("the server's CAPA lists no STLS".into()));
    }
    let stls = exchange(&mut tcp, &mut reader, judge, b"STLS\r\n", false).await?;
    if !stls.ok {
        return Err(refused("the server refused STLS", &stls));
    }
    // Plaintext after the +OK is not the handshake's: the engine judges it and drops it.
    let mut extra = std::mem::take(&mut reader.buf);
    let mut chunk = [0u8; 4096];
    if let Ok(Ok(n)) = tokio::time::timeout(LINGER, tcp.read(&mut chunk)).await {
        extra.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    with(judge, |j| j.feed_as_is(Direction::Server, &extra));
    let (mut stream, details) = match transport::handshake(tcp, host, tls, timeout).await {
        Ok(done) => done,
        Err(e) => {
            let reason = e.tls_failure();
            with(judge, |j| j.transport(TransportEvent::TlsFailed { reason }));
            return Err(e.into());
        }
    };
    with(judge, |j| j.tls_established(&details));
    // RFC 2595 §4: the list from before TLS is void; the proxy asks again, as a client must.
    exchange(&mut stream, &mut reader, judge, b"CAPA\r\n", true).await?;
    let greeting = greeting.bytes;
    Ok((stream, greeting))
}

fn refused(what: &str, reply: &Reply) -> StlsError {
    let first = reply
        .bytes
        .split(|&b| b == b'\n')
        .next()
        .unwrap_or_default();
    let said = popscope_core::sanitize::display(first.trim_ascii(), 120);
    StlsError::Refused(format!("{what} (it said \"{said}\")"))
}

/// Sends the proxy's own command and reads its reply, both fed to the engine.
async fn exchange(
    io: &mut (impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin),
    reader: &mut Replies,
    judge: &Mutex<Judge>,
    command: &[u8],
    multiline: bool,
) -> Result<Reply, StlsError> {
    with(judge, |j| j.feed_as_is(Direction::Client, command));
    let sent = async {
        io.write_all(command).await?;
        io.flush().await
    };
    match tokio::time::timeout(reader.timeout, sent).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(TransportError::io("sending", e).into()),
        Err(_) => {
            return Err(TransportError::WriteTimeout {
                secs: reader.timeout.as_secs(),
                sent: 0,
                total: command.len() as u64,
            }
            .into());
        }
    }
    reader.next(io, judge, multiline).await
}

/// Reads whole replies, holding what came after the last one.
struct Replies {
    buf: Vec<u8>,
    timeout: Duration,
    /// The reply in `buf`, framed as far as it was read.
    framing: ReplyEnd,
}

impl Replies {
    fn new(timeout: Duration) -> Replies {
        Replies {
            buf: Vec::new(),
            timeout,
            framing: ReplyEnd::new(MAX_REPLY),
        }
    }

    /// The next reply (a status line; with `multiline` and `+OK`, on to the `.` line), fed
    /// to the engine as it stands.
    async fn next(
        &mut self,
        io: &mut (impl tokio::io::AsyncRead + Unpin),
        judge: &Mutex<Judge>,
        multiline: bool,
    ) -> Result<Reply, StlsError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            if let Some(end) = self.framing.end(&self.buf, multiline) {
                let bytes: Vec<u8> = self.buf.drain(..end).collect();
                with(judge, |j| j.feed_as_is(Direction::Server, &bytes));
                // As the engine reads a status (`+ok` too), not as the bytes are spelled.
                let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
                let ok = StatusLine::parse(first.trim_ascii_end()).status == Status::Ok;
                return Ok(Reply { bytes, ok });
            }
            if self.buf.len() > MAX_REPLY {
                return Err(StlsError::Refused(format!(
                    "a reply longer than {} KiB",
                    MAX_REPLY >> 10
                )));
            }
            let mut chunk = [0u8; 4096];
            let read = tokio::time::timeout_at(deadline, io.read(&mut chunk)).await;
            match read {
                Ok(Ok(0)) => {
                    return Err(TransportError::Closed {
                        context: "before the proxy's STLS was done".into(),
                    }
                    .into());
                }
                Ok(Ok(n)) => self
                    .buf
                    .extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Ok(Err(e)) => return Err(TransportError::io("reading", e).into()),
                Err(_) => {
                    let secs = self.timeout.as_secs();
                    let start = self.buf.get(..40.min(self.buf.len())).unwrap_or_default();
                    let late = TransportError::late(
                        "the upstream STLS",
                        secs,
                        self.buf.len() as u64,
                        start,
                        "",
                    );
                    return Err(late.into());
                }
            }
        }
    }
}
