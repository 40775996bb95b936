//! The client leg asks the client for a certificate, and takes any it is shown.
//!
//! The proxy authenticates no one with it: the certificate is evidence for the client rules
//! (CL-003: a client that, after TLS with a certificate, sends STAT without logging in), so
//! "client certificate presented, not verified". A client without one is served as before
//! (the request is optional). The handshake signature is still checked, as rustls does for
//! any verifier: a client shows a certificate only with its key.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// `config`'s certificate and key, with the client asked for a certificate of its own
/// (optional, and accepted whoever issued it).
pub(crate) fn asking_for_client_certs(
    config: rustls::ServerConfig,
) -> Result<rustls::ServerConfig, rustls::Error> {
    let provider = crate::transport::tls::provider();
    let mut asking = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(Arc::new(AnyClientCert::of(&provider)))
        .with_cert_resolver(config.cert_resolver.clone());
    asking.alpn_protocols = config.alpn_protocols;
    asking.key_log = config.key_log;
    Ok(asking)
}

/// Asks for a client certificate, optional, and verifies nothing about who issued it.
#[derive(Debug)]
struct AnyClientCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AnyClientCert {
    fn of(provider: &CryptoProvider) -> AnyClientCert {
        AnyClientCert {
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
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
