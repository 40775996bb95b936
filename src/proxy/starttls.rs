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
use popscope_core::response::StatusLine;
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
    /// How far the reply in `buf` was looked through.
    scan: Scan,
}

impl Replies {
    fn new(timeout: Duration) -> Replies {
        Replies {
            buf: Vec::new(),
            timeout,
            scan: Scan::default(),
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
            if let Some(end) = reply_end(&self.buf, multiline, &mut self.scan) {
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

/// How far a reply was looked through, so that each read looks only at what it added (a
/// CAPA sent an octet at a time would otherwise be searched again for every octet).
#[derive(Clone, Copy, Debug, Default)]
struct Scan {
    /// Where the line being looked at starts.
    line: usize,
    /// Where the search for its line feed goes on.
    searched: usize,
    /// The status line was `+OK` to a multi-line command: the lines up to `.` follow.
    body: bool,
}

/// Where the first whole reply in `buf` ends (`scan` is where the last call left off, reset
/// once a reply is whole): a multi-line one is `+OK` as the engine reads a status (`+ok`
/// too: read as one line, its capabilities would be taken for the next reply).
fn reply_end(buf: &[u8], multiline: bool, scan: &mut Scan) -> Option<usize> {
    loop {
        let from = scan.searched.max(scan.line);
        let Some(lf) = memchr::memchr(b'\n', buf.get(from..)?) else {
            scan.searched = buf.len();
            return None;
        };
        let end = from + lf + 1;
        let line = buf.get(scan.line..end)?.trim_ascii_end();
        let ended = if scan.body {
            line == b"."
        } else {
            !multiline || StatusLine::parse(line).status != Status::Ok
        };
        if ended {
            *scan = Scan::default();
            return Some(end);
        }
        *scan = Scan {
            line: end,
            searched: end,
            body: true,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::{Scan, reply_end};

    fn whole(buf: &[u8], multiline: bool) -> Option<usize> {
        reply_end(buf, multiline, &mut Scan::default())
    }

    #[test]
    fn a_reply_ends_at_its_line_or_its_terminator() {
        assert_eq!(whole(b"+OK hi\r\nmore", false), Some(8));
        assert_eq!(whole(b"+OK\r\nSTLS\r\n", true), None);
        assert_eq!(whole(b"+OK\r\nSTLS\r\n.\r\n+OK", true), Some(14));
        assert_eq!(whole(b"-ERR no\r\n", true), Some(9));
        assert_eq!(whole(b"+OK", false), None);
        assert_eq!(whole(b"+ok\r\nSTLS\r\n.\r\n", true), Some(14));
        assert_eq!(whole(b"+ok\r\nSTLS\r\n", true), None);
        assert_eq!(whole(b"-err no\r\n", true), Some(9));
    }

    /// Read an octet at a time, a reply ends where it ends read whole.
    #[test]
    fn a_reply_read_in_pieces_ends_where_it_ends_whole() {
        let replies: &[&[u8]] = &[
            b"+OK\r\nSTLS\r\nUSER\r\n.\r\n",
            b"-ERR no\r\n",
            b"+OK Begin TLS\r\n",
        ];
        let all = replies.concat();
        let (mut scan, mut at, mut ends) = (Scan::default(), 0, Vec::new());
        for n in 1..=all.len() {
            let multiline = ends.is_empty();
            if let Some(end) = reply_end(&all[at..n], multiline, &mut scan) {
                at += end;
                ends.push(at);
            }
        }
        assert_eq!(ends, [20, 29, 44]);
    }
}
