//! Sockets and TLS: plain TCP, implicit TLS (RFC 8314) and the STLS upgrade (RFC 2595).
//! No POP3 knowledge here; the session driver decides when to upgrade.

pub(crate) mod error;
pub(crate) mod target;
pub(crate) mod tls;

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub use error::TransportError;
pub use target::{Scheme, Target};
pub use tls::{TlsDetails, TlsSettings};

/// The first octets the server sent during a TLS handshake, kept to explain a failure
/// (a plaintext `+OK` means a plain POP3 port).
#[derive(Debug, Default)]
pub(crate) struct FirstBytes {
    bytes: Vec<u8>,
    /// Every octet read while capturing, counted (only the first 64 are kept).
    total: u64,
    capturing: bool,
}

/// A TCP stream that can remember the first octets read while a handshake runs.
#[derive(Debug)]
pub(crate) struct Tcp {
    inner: TcpStream,
    first: Arc<Mutex<FirstBytes>>,
    /// Under TLS: rustls asks for 4 KiB at a time, one system call each; reading 64 KiB
    /// and handing it out from here took popscope's TLS RETR from slower than curl to even.
    read_ahead: Option<ReadAhead>,
}

#[derive(Debug)]
struct ReadAhead {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

const READ_AHEAD: usize = 64 << 10;

impl Tcp {
    fn poll_read_ahead(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let Some(ra) = self.read_ahead.as_mut() else {
            return Pin::new(&mut self.inner).poll_read(cx, buf);
        };
        if ra.start == ra.end {
            let mut fill = ReadBuf::new(&mut ra.buf);
            match Pin::new(&mut self.inner).poll_read(cx, &mut fill) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
            ra.start = 0;
            ra.end = fill.filled().len();
        }
        let n = buf.remaining().min(ra.end - ra.start);
        buf.put_slice(ra.buf.get(ra.start..ra.start + n).unwrap_or_default());
        ra.start += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Tcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = this.poll_read_ahead(cx, buf);
        if let Ok(mut f) = this.first.lock()
            && f.capturing
        {
            let new = &buf.filled()[before..];
            f.total += new.len() as u64;
            let room = 64usize.saturating_sub(f.bytes.len());
            f.bytes.extend_from_slice(&new[..new.len().min(room)]);
        }
        r
    }
}

impl AsyncWrite for Tcp {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A connection, plain or under TLS.
pub(crate) enum Stream {
    Plain(Tcp),
    Tls(Box<tokio_rustls::client::TlsStream<Tcp>>),
}

impl Stream {
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Resolves and connects, trying every address of the host in turn.
pub(crate) async fn connect_tcp(
    target: &Target,
    port: u16,
    timeout: Duration,
) -> Result<Tcp, TransportError> {
    let addr = target.socket_addr(port);
    let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host(&addr)
        .await
        .map_err(|e| TransportError::Dns {
            host: target.host.clone(),
            reason: e.to_string(),
        })?
        .collect();
    if addrs.is_empty() {
        return Err(TransportError::Dns {
            host: target.host.clone(),
            reason: "no address".into(),
        });
    }
    let mut last = None;
    for a in addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(a)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(Tcp {
                    inner: s,
                    first: Arc::default(),
                    read_ahead: None,
                });
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                last = Some(TransportError::Refused {
                    addr: a.to_string(),
                })
            }
            Ok(Err(e)) => last = Some(TransportError::io(format!("connect to {a}"), e)),
            Err(_) => {
                last = Some(TransportError::ConnectTimeout {
                    addr: a.to_string(),
                    secs: timeout.as_secs(),
                })
            }
        }
    }
    Err(last.unwrap_or(TransportError::Refused { addr }))
}

/// Runs a TLS handshake over `tcp`. On failure the error says why in words.
pub(crate) async fn handshake(
    tcp: Tcp,
    host: &str,
    settings: &TlsSettings,
    timeout: Duration,
) -> Result<(Stream, TlsDetails), TransportError> {
    let (config, seen) = tls::client_config(settings)?;
    let name = tls::server_name(host, settings.sni.as_deref())?;
    let first = tcp.first.clone();
    if let Ok(mut f) = first.lock() {
        f.capturing = true;
        f.bytes.clear();
        f.total = 0;
    }
    let connector = tokio_rustls::TlsConnector::from(config);
    // From here on every octet is TLS: nothing plaintext can be left in the read-ahead.
    let mut tcp = tcp;
    tcp.read_ahead = Some(ReadAhead {
        buf: vec![0u8; READ_AHEAD].into_boxed_slice(),
        start: 0,
        end: 0,
    });
    let result = tokio::time::timeout(timeout, connector.connect(name, tcp)).await;
    let (captured, total) = first
        .lock()
        .map(|mut f| {
            f.capturing = false;
            (std::mem::take(&mut f.bytes), f.total)
        })
        .unwrap_or_default();
    let stream = match result {
        Err(_) => {
            // A TLS failure (exit 4), saying what arrived: a drip, plaintext, or nothing.
            return Err(TransportError::TlsTimeout {
                secs: timeout.as_secs(),
                received: received(total, &captured),
            });
        }
        Ok(Err(e)) => return Err(explain_handshake_error(e, &captured, &seen)),
        Ok(Ok(s)) => s,
    };
    let details = tls::details(stream.get_ref().1, &seen, settings.insecure);
    Ok((Stream::Tls(Box::new(stream)), details))
}

/// What a handshake got from the server, in words: `nothing arrived`, or the count and a
/// sanitized start.
fn received(total: u64, first: &[u8]) -> String {
    if total == 0 {
        "nothing arrived from the server".into()
    } else {
        format!(
            "{total} octet(s) arrived from the server, starting \"{}\"",
            popscope_core::sanitize::display(first, 40)
        )
    }
}

/// A TLS failure after the handshake (a read that rustls refused), in words.
pub(crate) fn explain_session_error(e: &io::Error) -> TransportError {
    let rustls_err = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let text = match rustls_err {
        Some(rustls::Error::AlertReceived(a)) => {
            format!("the server sent a fatal TLS alert ({a:?}) in the middle of the session")
        }
        Some(rustls::Error::DecryptError) => "a record from the server does not decrypt: \
             corrupted data, or plaintext (an unencrypted alert, say) written into the TLS stream"
            .into(),
        Some(other) => other.to_string(),
        None => e.to_string(),
    };
    TransportError::TlsSession(text)
}

fn explain_handshake_error(e: io::Error, captured: &[u8], seen: &tls::Shared) -> TransportError {
    let first_line = captured
        .split(|&b| b == b'\r' || b == b'\n')
        .next()
        .unwrap_or_default();
    if popscope_core::response::StatusLine::looks_like_status(first_line) {
        return TransportError::PlaintextOnTlsPort {
            first: popscope_core::sanitize::display(first_line, 40),
        };
    }
    let rustls_err = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .cloned();
    match rustls_err {
        Some(err @ rustls::Error::InvalidCertificate(_)) => {
            let chain = seen.lock().map(|s| s.chain.clone()).unwrap_or_default();
            TransportError::Certificate(tls::explain_cert_error(&err, &chain))
        }
        Some(rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion)) => {
            TransportError::OldTls {
                detail: "the server answered with a protocol_version alert".into(),
            }
        }
        Some(rustls::Error::PeerIncompatible(p)) => TransportError::OldTls {
            detail: format!("{p:?}"),
        },
        Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::HandshakePayloadTooLarge)) => {
            TransportError::Tls(
                "the server sent a handshake message over 64 KiB, more than rustls accepts \
                 (a certificate chain that large is broken or hostile)"
                    .into(),
            )
        }
        Some(other) => TransportError::Tls(other.to_string()),
        None if e.kind() == io::ErrorKind::UnexpectedEof => {
            TransportError::Tls("the server closed the connection during the handshake".into())
        }
        None => TransportError::io("TLS handshake", e),
    }
}
