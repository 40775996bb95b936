//! `proxy --inject CASE`: the upstream stream wrapped so that a healthy server misbehaves
//! toward the client as one case of rules.md §3.19 says. What the relay writes (the client's
//! octets) passes through the core's [`Injector`]; what it reads is the injector's output:
//! octets, a pause (a timer inside `poll_read`), a close (EOF). The relay and the judge see
//! only the wrapped stream, so the engine judges what the client saw.
//!
//! One wrapper lives as long as the connection, across the client's STLS (`--offer-stls`):
//! the relay tells it when the client's leg becomes TLS ([`Injected::client_tls_signal`]),
//! which `capa-differs-after-tls` and `pre-auth` turn on. The client's STLS itself is the
//! proxy's to answer (`super::judge`: `stls-refused`, `stls-response-injection`; and
//! `strip-stls` is --offer-stls turned off).

use std::collections::VecDeque;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use popscope_core::inject::{Action, Fault, Injector, Start};

use crate::session::logins::Logins;

/// Octets read from the upstream at a time.
const CHUNK: usize = 16 << 10;

/// Who the client is, for `login-delay`: the proxy's memory of when each client last logged
/// in, and this client's address.
pub(crate) struct Client {
    pub(crate) logins: Arc<Logins>,
    pub(crate) ip: IpAddr,
}

/// `server` as the client should see it under `fault`; with none, unchanged. `client_tls`:
/// the client's leg is TLS from its first octet (`--listen pop3s://`); the upstream's
/// security is not the client's.
pub(crate) fn wrap<S>(
    server: S,
    fault: Option<Fault>,
    client_tls: bool,
    client: Client,
) -> Injected<S> {
    let start = Start {
        client_tls,
        since_last_login: client.logins.since(client.ip),
    };
    Injected {
        inner: server,
        injection: fault.map(|f| {
            Box::new(Injection {
                injector: Injector::new(f, start),
                ready: VecDeque::new(),
                forward: Vec::new(),
                pause: None,
                eof: false,
                scratch: vec![0; CHUNK],
                reader: None,
                client_tls: Arc::new(AtomicBool::new(false)),
                told_tls: false,
                taken: None,
                client: Some(client),
            })
        }),
    }
}

/// The upstream stream with a fault injected (see the module docs).
pub(crate) struct Injected<S> {
    inner: S,
    injection: Option<Box<Injection>>,
}

struct Injection {
    injector: Injector,
    /// What the client gets next, in order.
    ready: VecDeque<Action>,
    /// Client octets accepted but not yet written upstream.
    forward: Vec<u8>,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The injector closed the connection, or the upstream did.
    eof: bool,
    scratch: Vec<u8>,
    /// The reader to wake when the write side queues an answer of the injector's own.
    reader: Option<Waker>,
    client_tls: Arc<AtomicBool>,
    told_tls: bool,
    /// The length of a write the injector took whose forwarding is still under way.
    taken: Option<usize>,
    /// Told of this connection's first login, then none.
    client: Option<Client>,
}

impl Injection {
    fn tell_tls(&mut self) {
        if !self.told_tls && self.client_tls.load(Ordering::Acquire) {
            self.told_tls = true;
            self.injector.on_client_tls();
        }
    }
}

impl<S> Injected<S> {
    /// Set it when the client's leg has completed its TLS handshake after STLS (none when
    /// no fault is injected).
    pub(crate) fn client_tls_signal(&self) -> Option<Arc<AtomicBool>> {
        self.injection.as_ref().map(|i| i.client_tls.clone())
    }
}

impl<S: AsyncWrite + Unpin> Injected<S> {
    /// Writes what the injector forwards until it is all upstream.
    fn drain_forward(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(inj) = &mut self.injection else {
            return Poll::Ready(Ok(()));
        };
        while !inj.forward.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &inj.forward))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            inj.forward.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Injected<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(inj) = &mut this.injection else {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        };
        loop {
            if let Some(pause) = &mut inj.pause {
                ready!(pause.as_mut().poll(cx));
                inj.pause = None;
            }
            match inj.ready.front_mut() {
                Some(Action::Send(bytes)) => {
                    let n = bytes.len().min(buf.remaining());
                    buf.put_slice(&bytes[..n]);
                    bytes.drain(..n);
                    if bytes.is_empty() {
                        inj.ready.pop_front();
                    }
                    return Poll::Ready(Ok(()));
                }
                Some(Action::Pause(seconds)) => {
                    let d = Duration::from_secs(u64::from(*seconds));
                    inj.pause = Some(Box::pin(tokio::time::sleep(d)));
                    inj.ready.pop_front();
                    continue;
                }
                Some(Action::Close) => {
                    inj.ready.clear();
                    inj.eof = true;
                }
                None => {}
            }
            if inj.eof {
                return Poll::Ready(Ok(()));
            }
            inj.tell_tls();
            let mut read = ReadBuf::new(&mut inj.scratch);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Pending => {
                    inj.reader = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) if read.filled().is_empty() => {
                    inj.eof = true;
                }
                Poll::Ready(Ok(())) => {
                    let actions = inj.injector.handle_server(read.filled());
                    inj.ready.extend(actions);
                    if inj.injector.logged_in()
                        && let Some(client) = inj.client.take()
                    {
                        client.logins.record(client.ip);
                    }
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Injected<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.injection.is_none() {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        // A write whose octets could not all go upstream at once was taken by the injector
        // already: the call that retries it (with the same octets, as write_all does)
        // finishes it instead of feeding them again.
        if let Some(taken) = this.injection.as_ref().and_then(|i| i.taken) {
            ready!(this.drain_forward(cx))?;
            if let Some(inj) = &mut this.injection {
                inj.taken = None;
            }
            return Poll::Ready(Ok(taken));
        }
        let Some(inj) = &mut this.injection else {
            return Poll::Ready(Ok(0));
        };
        inj.tell_tls();
        let split = inj.injector.handle_client(buf);
        inj.forward = split.forward;
        if !split.to_client.is_empty() {
            inj.ready.extend(split.to_client);
            if let Some(reader) = inj.reader.take() {
                reader.wake();
            }
        }
        match this.drain_forward(cx) {
            Poll::Ready(done) => Poll::Ready(done.map(|()| buf.len())),
            Poll::Pending => {
                if let Some(inj) = &mut this.injection {
                    inj.taken = Some(buf.len());
                }
                Poll::Pending
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain_forward(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain_forward(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client with no login remembered.
    fn nobody() -> Client {
        Client {
            logins: Arc::default(),
            ip: IpAddr::from([127, 0, 0, 1]),
        }
    }
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_local_answer_reaches_the_reader_and_the_server_never_sees_the_command() {
        rt().block_on(async {
            let (proxy_side, mut server) = tokio::io::duplex(1024);
            let mut s = wrap(proxy_side, Fault::parse("no-capa").ok(), false, nobody());
            server.write_all(b"+OK hi\r\n").await.unwrap();
            let mut buf = [0u8; 64];
            let n = s.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"+OK hi\r\n");
            s.write_all(b"CAPA\r\nNOOP\r\n").await.unwrap();
            s.flush().await.unwrap();
            let mut heard = [0u8; 6];
            server.read_exact(&mut heard).await.unwrap();
            assert_eq!(&heard, b"NOOP\r\n");
            server.write_all(b"+OK\r\n").await.unwrap();
            let mut got = Vec::new();
            while got.len() < 30 {
                let n = s.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, b"-ERR CAPA not available\r\n+OK\r\n");
        });
    }

    #[test]
    fn a_pause_is_a_timer_and_a_close_is_eof() {
        rt().block_on(async {
            let (proxy_side, mut server) = tokio::io::duplex(1024);
            let mut s = wrap(
                proxy_side,
                Fault::parse("slow-replies=1").ok(),
                false,
                nobody(),
            );
            server.write_all(b"+OK hi\r\n").await.unwrap();
            let mut buf = [0u8; 64];
            let n = s.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"+OK hi\r\n", "the greeting is not held");
            s.write_all(b"NOOP\r\n").await.unwrap();
            server.write_all(b"+OK\r\n").await.unwrap();
            let start = tokio::time::Instant::now();
            let n = s.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"+OK\r\n");
            assert!(start.elapsed() >= Duration::from_secs(1));

            let (proxy_side, mut server) = tokio::io::duplex(1024);
            let mut s = wrap(
                proxy_side,
                Fault::parse("drop-mid-retr").ok(),
                false,
                nobody(),
            );
            server.write_all(b"+OK hi\r\n").await.unwrap();
            let _ = s.read(&mut buf).await.unwrap();
            s.write_all(b"RETR 1\r\n").await.unwrap();
            server
                .write_all(b"+OK\r\nSubject: x\r\n\r\nbody\r\n.\r\n")
                .await
                .unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"+OK\r\nSubject: x\r\n\r\n");
        });
    }
}
