//! A scripted POP3 client, plain or TLS (with or without a client certificate), that reads
//! line by line and can upgrade by STLS: what tests/inject.rs and tests/proxy.rs drive.

#![allow(clippy::unwrap_used)] // helpers of tests: a panic there is a failed test

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use popscope::server::{Running, TlsMode};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

pub enum Wire {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

/// A scripted client, plain or TLS, that reads line by line and can upgrade by STLS.
pub struct Client {
    pub wire: Option<Wire>,
    /// Read but not yet taken.
    pub buf: Vec<u8>,
    pub tls: Arc<rustls::ClientConfig>,
}

pub fn tls_config(ca: &Path, cert: Option<(&Path, &Path)>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    Arc::new(match cert {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            builder
                .with_client_auth_cert(chain, PrivateKeyDer::from_pem_file(key).unwrap())
                .unwrap()
        }
        None => builder.with_no_client_auth(),
    })
}

impl Client {
    /// Connects (TLS from the first octet when `implicit`) and reads the greeting.
    pub fn to(port: u16, implicit: bool, tls: Arc<rustls::ClientConfig>) -> (Client, String) {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut c = Client {
            wire: Some(Wire::Plain(s)),
            buf: Vec::new(),
            tls,
        };
        if implicit {
            c.handshake();
        }
        let greeting = c.line();
        (c, greeting)
    }

    pub fn of(server: &Running) -> (Client, String) {
        let tls = tls_config(&server.certs.ca, None);
        Client::to(server.port(), server.tls == TlsMode::Implicit, tls)
    }

    pub fn with_cert(server: &Running) -> (Client, String) {
        let certs = &server.certs;
        let tls = tls_config(&certs.ca, Some((&certs.client_cert, &certs.client_key)));
        Client::to(server.port(), server.tls == TlsMode::Implicit, tls)
    }

    pub fn handshake(&mut self) {
        let Some(Wire::Plain(s)) = self.wire.take() else {
            panic!("TLS twice");
        };
        let name = ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(self.tls.clone(), name).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, s);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock).unwrap();
        }
        self.wire = Some(Wire::Tls(Box::new(tls)));
    }

    pub fn write(&mut self, bytes: &[u8]) {
        match self.wire.as_mut().unwrap() {
            Wire::Plain(s) => s.write_all(bytes).unwrap(),
            Wire::Tls(s) => {
                s.write_all(bytes).unwrap();
                s.flush().unwrap();
            }
        }
    }

    /// More octets; false at the end of the stream.
    pub fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        let n = match self.wire.as_mut().unwrap() {
            Wire::Plain(s) => s.read(&mut chunk),
            Wire::Tls(s) => s.read(&mut chunk),
        }
        .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// The next line, CRLF included; empty at the end of the stream.
    pub fn line(&mut self) -> String {
        loop {
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=nl).collect();
                return String::from_utf8_lossy(&line).into_owned();
            }
            if !self.fill() {
                return String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned();
            }
        }
    }

    /// Sends `line` and reads its one-line reply.
    pub fn cmd(&mut self, line: &str) -> String {
        self.write(format!("{line}\r\n").as_bytes());
        self.line()
    }

    /// Sends `line` and reads its reply, to the terminating `.` when it is positive (or to
    /// the end of the stream).
    pub fn multi(&mut self, line: &str) -> String {
        let mut reply = self.cmd(line);
        if !reply.starts_with("+OK") {
            return reply;
        }
        loop {
            let l = self.line();
            reply.push_str(&l);
            if l.is_empty() || l == ".\r\n" {
                return reply;
            }
        }
    }

    pub fn log_in(&mut self) {
        assert_eq!(self.cmd("USER demo"), "+OK\r\n");
        assert!(self.cmd("PASS demo").starts_with("+OK"));
    }

    /// STLS, and the handshake after its `+OK`; returns the plaintext read with the reply
    /// (a safe client drops it).
    pub fn starttls(&mut self) -> String {
        let reply = self.cmd("STLS");
        assert!(reply.starts_with("+OK"), "{reply}");
        let plaintext = String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned();
        self.handshake();
        plaintext
    }
}
