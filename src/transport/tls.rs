//! TLS client configuration and what a handshake revealed, for people.
//!
//! Verification is on by default (native roots plus `--ca-file`). `--insecure` swaps in a
//! verifier that still checks handshake signatures and still computes the verdict it would have
//! given, so the report can say what was skipped. The certificate chain is captured before
//! verification, so a failure can be explained with the names the certificate does have.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use popscope_core::sanitize::display;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use serde::Serialize;

use super::error::TransportError;

/// TLS options from the command line.
#[derive(Clone, Debug, Default)]
pub struct TlsSettings {
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) insecure: bool,
    pub(crate) sni: Option<String>,
    pub(crate) client_cert: Option<PathBuf>,
    pub(crate) client_key: Option<PathBuf>,
}

/// One certificate, as a person reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CertInfo {
    pub subject: String,
    pub(crate) issuer: String,
    /// The first names of the subjectAltName list (at most 64), shown safely.
    pub sans: Vec<String>,
    /// How many names the list holds in all.
    #[serde(default)]
    pub(crate) sans_total: usize,
    pub(crate) not_before: String,
    pub(crate) not_after: String,
    pub(crate) sha256: String,
    pub(crate) self_signed: bool,
}

/// What the handshake negotiated and what was verified.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TlsDetails {
    pub(crate) version: String,
    pub(crate) cipher: String,
    pub(crate) group: Option<String>,
    pub alpn: Option<String>,
    pub cert_requested: bool,
    pub client_cert_sent: bool,
    pub chain: Vec<CertInfo>,
    pub verdict: Verdict,
    pub insecure: bool,
}

/// What verification of the server's certificate said. Shown and recorded as one string
/// (`verified`, `not verified`, `recorded`, or the reason it failed), so recordings made before
/// it was a type read back the same.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(into = "String", from = "String")]
pub enum Verdict {
    /// The chain verified for the name against the trusted roots.
    Verified,
    /// Verification failed, and why (with `--insecure` the session went on anyway).
    Failed(String),
    /// The verifier was never asked.
    NotVerified,
    /// A replayed handshake whose recording keeps no details (the text format).
    Recorded,
}

impl Verdict {
    const VERIFIED: &str = "verified";
    const NOT_VERIFIED: &str = "not verified";
    const RECORDED: &str = "recorded";

    pub fn is_verified(&self) -> bool {
        *self == Verdict::Verified
    }

    pub(crate) fn is_recorded(&self) -> bool {
        *self == Verdict::Recorded
    }

    /// The verdict with a recorded reason made safe by `f` (the other verdicts are the tool's
    /// own words).
    pub(crate) fn map_reason(&self, f: impl FnOnce(&str) -> String) -> Verdict {
        match self {
            Verdict::Failed(why) => Verdict::Failed(f(why)),
            other => other.clone(),
        }
    }
}

/// A recording without a verdict reads as an empty one, shown as it always was.
impl Default for Verdict {
    fn default() -> Self {
        Verdict::Failed(String::new())
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Verified => Verdict::VERIFIED,
            Verdict::NotVerified => Verdict::NOT_VERIFIED,
            Verdict::Recorded => Verdict::RECORDED,
            Verdict::Failed(why) => why,
        })
    }
}

impl From<Verdict> for String {
    fn from(v: Verdict) -> String {
        v.to_string()
    }
}

impl From<String> for Verdict {
    fn from(s: String) -> Verdict {
        match s.as_str() {
            Verdict::VERIFIED => Verdict::Verified,
            Verdict::NOT_VERIFIED => Verdict::NotVerified,
            Verdict::RECORDED => Verdict::Recorded,
            _ => Verdict::Failed(s),
        }
    }
}

impl TlsDetails {
    /// One line for transcripts and headers: `TLS 1.3 TLS13_AES_256_GCM_SHA384 X25519 · verified`.
    pub(crate) fn summary(&self) -> String {
        let mut s = format!("{} {}", self.version, self.cipher);
        if let Some(g) = &self.group {
            s.push(' ');
            s.push_str(g);
        }
        if let Some(leaf) = self.chain.first() {
            s.push_str(&format!(" · {}", leaf.subject));
        }
        s.push_str(&format!(" · {}", self.verdict));
        if self.insecure {
            s.push_str(" (--insecure: NOT VERIFIED)");
        }
        if self.client_cert_sent {
            s.push_str(" · client certificate sent");
        } else if self.cert_requested {
            s.push_str(" · client certificate requested");
        }
        s
    }
}

/// What the verifier and the certificate resolver saw during one handshake.
#[derive(Debug, Default)]
pub(crate) struct Observed {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    /// The verdict of real verification (also computed under `--insecure`).
    pub(crate) verdict: Option<Result<(), rustls::Error>>,
    pub(crate) cert_requested: bool,
    pub(crate) client_cert_sent: bool,
}

pub(crate) type Shared = Arc<Mutex<Observed>>;

pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds a client configuration; the `Shared` record fills in during the handshake.
pub(crate) fn client_config(
    settings: &TlsSettings,
) -> Result<(Arc<ClientConfig>, Shared), TransportError> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(ca) = &settings.ca_file {
        let certs = load_certs(ca)?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(TransportError::Config(format!(
                "--ca-file {}: no usable certificate in it",
                ca.display()
            )));
        }
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| TransportError::Config(format!("no trusted roots: {e} (use --ca-file)")))?;
    let shared: Shared = Arc::default();
    let verifier = Arc::new(RecordingVerifier {
        inner: webpki,
        insecure: settings.insecure,
        algorithms: provider.signature_verification_algorithms,
        seen: shared.clone(),
    });
    let client_key = match (&settings.client_cert, &settings.client_key) {
        (Some(c), Some(k)) => {
            let chain = load_certs(c)?;
            let key = PrivateKeyDer::from_pem_file(k).map_err(|e| {
                TransportError::Config(format!("--client-key {}: {e}", k.display()))
            })?;
            let signing = provider.key_provider.load_private_key(key).map_err(|e| {
                TransportError::Config(format!("--client-key {}: {e}", k.display()))
            })?;
            Some(Arc::new(CertifiedKey::new(chain, signing)))
        }
        (None, None) => None,
        _ => {
            return Err(TransportError::Config(
                "--client-cert and --client-key go together".into(),
            ));
        }
    };
    let resolver = Arc::new(RecordingResolver {
        key: client_key,
        seen: shared.clone(),
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_cert_resolver(resolver);
    // SSLKEYLOGFILE, when set, lets Wireshark decrypt the session.
    config.key_log = Arc::new(rustls::KeyLogFile::new());
    config.alpn_protocols = vec![b"pop3".to_vec()];
    Ok((Arc::new(config), shared))
}

pub(crate) fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| TransportError::Config(format!("{}: {e}", path.display())))?
        .collect();
    let certs = certs.map_err(|e| TransportError::Config(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(TransportError::Config(format!(
            "{}: no PEM certificate in it",
            path.display()
        )));
    }
    Ok(certs)
}

pub(crate) fn server_name(
    host: &str,
    sni: Option<&str>,
) -> Result<ServerName<'static>, TransportError> {
    let name = sni.unwrap_or(host).to_owned();
    ServerName::try_from(name.clone())
        .map_err(|_| TransportError::Config(format!("'{name}' is not a valid TLS server name")))
}

#[derive(Debug)]
struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    insecure: bool,
    algorithms: WebPkiSupportedAlgorithms,
    seen: Shared,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            .map(|_| ());
        if let Ok(mut seen) = self.seen.lock() {
            seen.chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.clone().into_owned())
                .collect();
            seen.verdict = Some(verdict.clone());
        }
        match verdict {
            Ok(()) => Ok(ServerCertVerified::assertion()),
            Err(_) if self.insecure => Ok(ServerCertVerified::assertion()),
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[derive(Debug)]
struct RecordingResolver {
    key: Option<Arc<CertifiedKey>>,
    seen: Shared,
}

impl ResolvesClientCert for RecordingResolver {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        // rustls asks only when the server sent a CertificateRequest.
        if let Ok(mut seen) = self.seen.lock() {
            seen.cert_requested = true;
            seen.client_cert_sent = self.key.is_some();
        }
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// The handshake's results, once it completed.
pub(crate) fn details(
    conn: &rustls::ClientConnection,
    seen: &Shared,
    insecure: bool,
) -> TlsDetails {
    let observed = seen.lock().map(|o| {
        (
            o.chain.clone(),
            o.verdict.clone(),
            o.cert_requested,
            o.client_cert_sent,
        )
    });
    let (chain, verdict, requested, sent) = observed.unwrap_or_default();
    TlsDetails {
        version: conn
            .protocol_version()
            .map(|v| match v {
                rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".to_owned(),
                rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".to_owned(),
                other => format!("{other:?}"),
            })
            .unwrap_or_default(),
        cipher: conn
            .negotiated_cipher_suite()
            .map(|c| format!("{:?}", c.suite()))
            .unwrap_or_default(),
        group: conn
            .negotiated_key_exchange_group()
            .map(|g| format!("{:?}", g.name())),
        alpn: conn
            .alpn_protocol()
            .map(|a| String::from_utf8_lossy(a).into_owned()),
        cert_requested: requested,
        client_cert_sent: sent,
        chain: chain.iter().map(|c| cert_info(c)).collect(),
        verdict: match &verdict {
            Some(Ok(())) => Verdict::Verified,
            Some(Err(e)) => Verdict::Failed(explain_cert_error(e, &chain)),
            None => Verdict::NotVerified,
        },
        insecure,
    }
}

/// Names of a certificate kept for display; the rest are counted.
const MAX_SANS_KEPT: usize = 64;
/// Names in a one-line error.
const MAX_SANS_IN_ERROR: usize = 6;

fn names_in_brief(leaf: &CertInfo) -> String {
    let mut s = leaf
        .sans
        .iter()
        .take(MAX_SANS_IN_ERROR)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let total = leaf.sans_total.max(leaf.sans.len());
    if total > MAX_SANS_IN_ERROR {
        s.push_str(&format!(" and {} more", total - MAX_SANS_IN_ERROR));
    }
    s
}

pub(crate) fn cert_info(der: &CertificateDer<'_>) -> CertInfo {
    let sha256 = ring::digest::digest(&ring::digest::SHA256, der.as_ref())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    match x509_parser::parse_x509_certificate(der.as_ref()) {
        Ok((_, cert)) => {
            // Certificate text comes from the server: shown through the same filter as
            // its POP3 text, and the name list kept short however long the server's is.
            let names = cert
                .subject_alternative_name()
                .ok()
                .flatten()
                .map(|ext| ext.value.general_names.as_slice())
                .unwrap_or_default();
            let sans = names
                .iter()
                .take(MAX_SANS_KEPT)
                .map(|n| match n {
                    x509_parser::extensions::GeneralName::DNSName(d) => {
                        format!("DNS:{}", display(d.as_bytes(), 255))
                    }
                    x509_parser::extensions::GeneralName::IPAddress(ip) => {
                        format!("IP:{}", ip_text(ip))
                    }
                    other => display(other.to_string().as_bytes(), 255),
                })
                .collect();
            let subject = display(cert.subject().to_string().as_bytes(), 512);
            let issuer = display(cert.issuer().to_string().as_bytes(), 512);
            CertInfo {
                self_signed: subject == issuer,
                subject,
                issuer,
                sans,
                sans_total: names.len(),
                not_before: cert.validity().not_before.to_string(),
                not_after: cert.validity().not_after.to_string(),
                sha256,
            }
        }
        Err(_) => CertInfo {
            subject: "(unparsable certificate)".into(),
            issuer: String::new(),
            sans: Vec::new(),
            sans_total: 0,
            not_before: String::new(),
            not_after: String::new(),
            sha256,
            self_signed: false,
        },
    }
}

fn ip_text(b: &[u8]) -> String {
    match b.len() {
        4 => std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => format!("{b:02x?}"),
    }
}

/// One line a person understands, for a certificate verification failure.
pub(crate) fn explain_cert_error(e: &rustls::Error, chain: &[CertificateDer<'_>]) -> String {
    let leaf = chain.first().map(|c| cert_info(c));
    match e {
        rustls::Error::InvalidCertificate(ce) => match ce {
            CertificateError::UnknownIssuer => match &leaf {
                Some(l) if l.self_signed => format!(
                    "the certificate is self-signed ({}); pass it with --ca-file to trust it",
                    l.subject
                ),
                Some(l) => format!(
                    "unknown issuer: nothing trusted signed {} (issuer {}); use --ca-file with the issuing CA",
                    l.subject, l.issuer
                ),
                None => "unknown issuer (use --ca-file with the issuing CA)".into(),
            },
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => format!(
                "the certificate has expired{}",
                leaf.map(|l| format!(" (valid until {})", l.not_after))
                    .unwrap_or_default()
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => format!(
                "the certificate is not valid yet{}",
                leaf.map(|l| format!(" (valid from {})", l.not_before))
                    .unwrap_or_default()
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!(
                    "name mismatch: the certificate is for {}; connect by one of those names or use --sni",
                    leaf.map(|l| if l.sans.is_empty() {
                        l.subject
                    } else {
                        names_in_brief(&l)
                    })
                    .unwrap_or_else(|| "other names".into())
                )
            }
            other => format!("certificate rejected: {other:?}"),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, KeyPair};

    fn cert(cn: &str, sans: &[&str], expired: bool) -> CertificateDer<'static> {
        let mut p = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap_or_else(|e| panic!("{e}"));
        p.distinguished_name.push(DnType::CommonName, cn);
        if expired {
            p.not_before = rcgen::date_time_ymd(2020, 1, 1);
            p.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
        p.self_signed(&key)
            .unwrap_or_else(|e| panic!("{e}"))
            .der()
            .clone()
    }

    fn explain(e: CertificateError, chain: &[CertificateDer<'_>]) -> String {
        explain_cert_error(&rustls::Error::InvalidCertificate(e), chain)
    }

    #[test]
    fn each_verification_failure_is_explained() {
        let self_signed = cert("mail.example.net", &["mail.example.net"], false);
        let s = explain(
            CertificateError::UnknownIssuer,
            std::slice::from_ref(&self_signed),
        );
        assert!(s.contains("self-signed") && s.contains("--ca-file"), "{s}");

        let expired = cert("old.example.net", &["old.example.net"], true);
        let s = explain(CertificateError::Expired, std::slice::from_ref(&expired));
        assert!(s.contains("expired") && s.contains("2021"), "{s}");

        let other = cert("pop.example.org", &["pop.example.org", "127.0.0.1"], false);
        let s = explain(
            CertificateError::NotValidForName,
            std::slice::from_ref(&other),
        );
        assert!(
            s.contains("name mismatch")
                && s.contains("DNS:pop.example.org")
                && s.contains("IP:127.0.0.1"),
            "{s}"
        );

        let s = explain(CertificateError::UnknownIssuer, &[]);
        assert!(s.contains("unknown issuer"), "{s}");
    }

    #[test]
    fn certificate_details_for_people() {
        let c = cert_info(&cert(
            "mail.example.net",
            &["mail.example.net", "::1"],
            false,
        ));
        assert_eq!(c.subject, "CN=mail.example.net");
        assert!(c.self_signed);
        assert_eq!(
            c.sans,
            vec!["DNS:mail.example.net".to_owned(), "IP:::1".to_owned()]
        );
        assert_eq!(c.sha256.len(), 32 * 3 - 1);
    }
}
