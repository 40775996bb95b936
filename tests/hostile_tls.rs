//! Hostile TLS servers, scripted: an alert in the middle of a session, a close without
//! close_notify, and certificates with thousands of names. popscope must explain each in one
//! line (or a finding), keep what it received, and never panic or hang.

mod common;
use common::popscope;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

#[derive(Clone)]
enum Step {
    Send(&'static [u8]),
    ReadLine,
    /// A fatal TLS alert record written to the socket as is (handshake_failure), the way a
    /// broken TLS terminator aborts a session.
    RawAlert,
    /// TCP close with no close_notify first.
    Close,
    /// close_notify, then TCP close.
    CloseNotify,
}

fn rcgen_failed<T>(e: rcgen::Error) -> T {
    panic!("rcgen: {e}")
}

/// A CA (written to `dir/ca.pem`) and a server configuration whose certificate names `sans`.
fn server_config(dir: &std::path::Path, sans: Vec<String>) -> Arc<rustls::ServerConfig> {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap_or_else(rcgen_failed);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "hostile test CA");
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap_or_else(rcgen_failed))
            .unwrap_or_else(rcgen_failed);
    let params = CertificateParams::new(sans).unwrap_or_else(rcgen_failed);
    let key = KeyPair::generate().unwrap_or_else(rcgen_failed);
    let cert = params.signed_by(&key, &ca).unwrap_or_else(rcgen_failed);
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap_or_else(|e| panic!("{e}"));
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone()];
    // A resolver rather than with_single_cert, which refuses a certificate webpki cannot
    // parse: the point is to see what the client makes of it.
    let key =
        rustls::crypto::ring::sign::any_supported_type(&key).unwrap_or_else(|e| panic!("{e}"));
    let certified = Arc::new(rustls::sign::CertifiedKey::new(chain, key));
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap_or_else(|e| panic!("{e}"))
    .with_no_client_auth()
    .with_cert_resolver(Arc::new(Fixed(certified)));
    Arc::new(cfg)
}

#[derive(Debug)]
struct Fixed(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for Fixed {
    fn resolve(
        &self,
        _: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// A one-connection implicit-TLS server that plays `steps`. Returns its port.
fn scripted_tls(cfg: Arc<rustls::ServerConfig>, steps: Vec<Step>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
    std::thread::spawn(move || {
        let Ok((mut sock, _)) = l.accept() else {
            return;
        };
        let Ok(mut conn) = rustls::ServerConnection::new(cfg) else {
            return;
        };
        for step in steps {
            let mut tls = rustls::Stream::new(&mut conn, &mut sock);
            let ok = match step {
                Step::Send(b) => tls.write_all(b).and_then(|()| tls.flush()).is_ok(),
                Step::ReadLine => read_line(&mut tls),
                Step::RawAlert => {
                    let _ = tls.flush();
                    let _ = sock.write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    false
                }
                Step::Close => false,
                Step::CloseNotify => {
                    conn.send_close_notify();
                    let _ = conn.write_tls(&mut sock);
                    false
                }
            };
            if !ok {
                break;
            }
        }
        let _ = sock.shutdown(std::net::Shutdown::Both);
    });
    port
}

fn read_line(tls: &mut rustls::Stream<'_, rustls::ServerConnection, TcpStream>) -> bool {
    let mut b = [0u8; 1];
    loop {
        match tls.read(&mut b) {
            Ok(1) if b[0] == b'\n' => return true,
            Ok(1) => {}
            _ => return false,
        }
    }
}

fn dir(name: &str) -> PathBuf {
    common::scratch_path(&format!(
        "popscope-hostile-tls-{}-{name}",
        std::process::id()
    ))
}

fn localhost() -> Vec<String> {
    vec!["localhost".into(), "127.0.0.1".into()]
}

/// `popscope send` to the scripted server on `port`, trusting the CA in `dir`.
fn send_tls(port: u16, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let url = format!("pop3s://127.0.0.1:{port}");
    let ca = dir.join("ca.pem").display().to_string();
    let mut all = vec![
        "send",
        url.as_str(),
        "--ca-file",
        ca.as_str(),
        "--timeout",
        "5",
    ];
    all.extend_from_slice(args);
    popscope(&all)
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim_end().to_owned()
}

#[test]
fn a_tls_alert_mid_session_is_explained_and_what_came_before_is_kept() {
    let d = dir("alert");
    let port = scripted_tls(
        server_config(&d, localhost()),
        vec![
            Step::Send(b"+OK ready\r\n"),
            Step::ReadLine,
            Step::Send(b"+OK 1 100\r\n"),
            Step::ReadLine,
            Step::RawAlert,
        ],
    );
    let rec = d.join("alert.jsonl");
    let o = send_tls(
        port,
        &d,
        &["--record", &rec.display().to_string(), "STAT", "NOOP"],
    );
    let err = stderr(&o);
    println!("{err}");
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("TLS session broke off"), "{err}");
    assert!(err.contains("does not decrypt"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("+OK 1 100"), "{out}");
    let recorded = std::fs::read_to_string(&rec).unwrap_or_default();
    assert!(recorded.contains("+OK 1 100"), "{recorded}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_close_without_close_notify_after_quit_is_itls_006_and_with_it_silent() {
    for (close, fires) in [(Step::Close, true), (Step::CloseNotify, false)] {
        let d = dir(if fires { "noclose" } else { "notify" });
        let port = scripted_tls(
            server_config(&d, localhost()),
            vec![
                Step::Send(b"+OK ready\r\n"),
                Step::ReadLine,
                Step::Send(b"+OK bye\r\n"),
                close,
            ],
        );
        let o = send_tls(port, &d, &["--json", "QUIT"]);
        let v = common::json(&o);
        let rules = common::rule_ids(&v);
        assert_eq!(
            rules.iter().any(|r| r == "ITLS-006"),
            fires,
            "{rules:?} {} {}",
            stderr(&o),
            String::from_utf8_lossy(&o.stdout)
        );
        assert!(!stderr(&o).contains("panicked"));
        let _ = std::fs::remove_dir_all(&d);
    }
}

#[test]
fn a_certificate_with_10000_names_fails_in_one_line_without_hanging() {
    let d = dir("san10k");
    let mut sans = localhost();
    sans.extend((0..10_000).map(|i| format!("host{i}.example.net")));
    let port = scripted_tls(server_config(&d, sans), vec![Step::Send(b"+OK ready\r\n")]);
    let o = send_tls(port, &d, &["NOOP"]);
    let err = stderr(&o);
    println!("{err}");
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("over 64 KiB"), "{err}");
    assert!(err.len() < 400, "{} octets: {err}", err.len());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_name_mismatch_lists_a_bounded_number_of_names() {
    let d = dir("san1k");
    let sans: Vec<String> = (0..1_000).map(|i| format!("h{i}.example.net")).collect();
    let port = scripted_tls(server_config(&d, sans), vec![Step::Send(b"+OK ready\r\n")]);
    let o = send_tls(port, &d, &["--sni", "mail.example.org", "NOOP"]);
    let err = stderr(&o);
    println!("{err}");
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(err.contains("name mismatch"), "{err}");
    assert!(err.contains("DNS:h0.example.net"), "{err}");
    assert!(err.contains("and 994 more"), "{err}");
    assert!(err.len() < 400, "{} octets: {err}", err.len());
    let _ = std::fs::remove_dir_all(&d);
}
