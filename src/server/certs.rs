//! The demo server's certificates, made at start: a CA, a server certificate for localhost,
//! 127.0.0.1 and ::1, and a client certificate (CN=demo) for the client-certificate cases.
//!
//! The running demo writes them into a fresh private folder ([`temp_dir`]: 0700, a name nobody
//! can guess, removed when the server stops); `serve --write-certs DIR` into the user's folder.
//! Every file is created through [`crate::private_file`]: 0600, never through a symbolic link,
//! never over an existing file unless asked.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::private_file::{self, Existing};

/// Where the PEM files were written.
#[derive(Clone, Debug)]
pub struct CertFiles {
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

pub struct Certs {
    pub files: CertFiles,
    pub server_config: Arc<rustls::ServerConfig>,
}

fn err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// A fresh folder for the demo's certificates in the system's temporary directory: created
/// anew (never an existing one), with an unpredictable name, mode 0700; removed with everything
/// in it when the returned value is dropped.
pub fn temp_dir() -> std::io::Result<tempfile::TempDir> {
    let d = tempfile::Builder::new()
        .prefix("popscope-demo-")
        .tempdir()?;
    // tempfile makes it 0700 already; the umask must not matter either way.
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o700))?;
    Ok(d)
}

/// Writes one PEM file: created private, a symbolic link refused; the error names the file.
fn write_pem(path: &Path, pem: &[u8], existing: Existing) -> std::io::Result<()> {
    let named = |e: std::io::Error| std::io::Error::new(e.kind(), private_file::explain(path, &e));
    let mut f = private_file::open(path, existing).map_err(named)?;
    f.write_all(pem).map_err(named)?;
    f.sync_all().map_err(named)
}

/// The names a certificate for this machine's loopback carries.
pub(crate) const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A CA's parameters: named `cn`, signing certificates only. The same `cn` gives the same
/// parameters, so a kept CA key signs again as the CA it was made with (the proxy's CA).
pub(crate) fn ca_params(cn: &str) -> std::io::Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, cn);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

/// A TLS server certificate's parameters for `names` (host names or IP addresses; the first
/// is its CN).
pub(crate) fn server_params(names: Vec<String>) -> std::io::Result<CertificateParams> {
    let cn = names.first().cloned().unwrap_or_default();
    let mut params = CertificateParams::new(names).map_err(err)?;
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    Ok(params)
}

/// The files [`make`] writes into its folder.
const NAMES: [&str; 5] = [
    "ca.pem",
    "client.pem",
    "client-key.pem",
    "server.pem",
    "server-key.pem",
];

/// Makes the certificates and writes them into `dir` (created 0700 if missing; an existing
/// one must be a real folder of this user's). `existing` says what to do with files already
/// there: the demo's fresh folder has none, `--write-certs` refuses them unless `--force`.
pub fn make(dir: &Path, client_cn: &str, existing: Existing) -> std::io::Result<Certs> {
    let named =
        |p: &Path, e: std::io::Error| std::io::Error::new(e.kind(), private_file::explain(p, &e));
    // Every file is checked before any is written: a refusal leaves the folder as it was.
    private_file::check_dir(dir).map_err(|e| named(dir, e))?;
    for name in NAMES {
        let p = dir.join(name);
        private_file::check(&p, existing).map_err(|e| named(&p, e))?;
    }
    private_file::create_dir(dir).map_err(|e| named(dir, e))?;
    let ca_params = ca_params("popscope demo CA")?;
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(err)?).map_err(err)?;

    let server_params = server_params(LOOPBACK_NAMES.map(str::to_owned).to_vec())?;
    let server_key = KeyPair::generate().map_err(err)?;
    let server_cert = server_params.signed_by(&server_key, &ca).map_err(err)?;

    let mut client_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    client_params
        .distinguished_name
        .push(DnType::CommonName, client_cn);
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate().map_err(err)?;
    let client_cert = client_params.signed_by(&client_key, &ca).map_err(err)?;

    let files = CertFiles {
        dir: dir.to_path_buf(),
        ca: dir.join(NAMES[0]),
        client_cert: dir.join(NAMES[1]),
        client_key: dir.join(NAMES[2]),
    };
    write_pem(&files.ca, ca.pem().as_bytes(), existing)?;
    write_pem(&files.client_cert, client_cert.pem().as_bytes(), existing)?;
    write_pem(
        &files.client_key,
        client_key.serialize_pem().as_bytes(),
        existing,
    )?;
    // The server's own pair too, so another server (Dovecot in the tests) can use it.
    write_pem(
        &dir.join(NAMES[3]),
        format!("{}{}", server_cert.pem(), ca.pem()).as_bytes(),
        existing,
    )?;
    write_pem(
        &dir.join(NAMES[4]),
        server_key.serialize_pem().as_bytes(),
        existing,
    )?;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).map_err(err)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let chain: Vec<CertificateDer<'static>> = vec![server_cert.der().clone(), ca.der().clone()];
    let server_config = server_config(chain, key, Some(roots))?;
    Ok(Certs {
        files,
        server_config: Arc::new(server_config),
    })
}

/// The TLS server side for `chain` and its `key`: the demo server's and the proxy's client
/// leg alike. `client_cas`: client certificates signed by them are asked for (optional to
/// the client); none asks for none.
pub(crate) fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_cas: Option<rustls::RootCertStore>,
) -> std::io::Result<rustls::ServerConfig> {
    let provider = crate::transport::tls::provider();
    let versions = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(err)?;
    let with_clients = match client_cas {
        Some(roots) => versions.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(err)?,
        ),
        None => versions.with_no_client_auth(),
    };
    with_clients.with_single_cert(chain, key).map_err(err)
}

/// The TLS server side from PEM files a user names (`proxy --cert FILE --key FILE`); the
/// error names the file at fault. No client certificate is asked for.
pub fn server_config_from_pem(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, String> {
    use rustls::pki_types::pem::PemObject;
    let chain = crate::transport::tls::load_certs(cert).map_err(|e| format!("--cert {e}"))?;
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("--key {}: {e}", key.display()))?;
    server_config(chain, key, None).map_err(|e| format!("--cert and --key do not go together: {e}"))
}

/// The CN of the first certificate a client presented.
pub(crate) fn client_cn(certs: Option<&[CertificateDer<'_>]>) -> Option<String> {
    let der = certs?.first()?;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_owned();
    Some(cn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    const FILES: [&str; 5] = [
        "ca.pem",
        "client.pem",
        "client-key.pem",
        "server.pem",
        "server-key.pem",
    ];

    #[test]
    fn the_demo_folder_is_fresh_private_and_removed_on_drop() {
        let a = temp_dir().unwrap();
        let b = temp_dir().unwrap();
        assert_ne!(a.path(), b.path());
        let name = a.path().file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("popscope-demo-"), "{name}");
        // No process id or port in the name: nothing another user could guess in advance.
        assert!(!name.contains(&std::process::id().to_string()), "{name}");
        assert_eq!(mode(a.path()), 0o700);
        let certs = make(a.path(), "demo", Existing::Refuse).unwrap();
        assert_eq!(certs.files.dir, a.path());
        for f in FILES {
            assert_eq!(mode(&a.path().join(f)), 0o600, "{f}");
        }
        let path = a.path().to_path_buf();
        drop(a);
        assert!(!path.exists(), "{} was left behind", path.display());
    }

    #[test]
    fn a_planted_symlink_is_refused_and_its_target_untouched() {
        let d = temp_dir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let certs = d.path().join("certs");
        std::fs::create_dir(&certs).unwrap();
        std::os::unix::fs::symlink(&victim, certs.join("ca.pem")).unwrap();
        for how in [Existing::Refuse, Existing::Replace] {
            let e = make(&certs, "demo", how).err().unwrap();
            assert!(e.to_string().contains("ca.pem"), "{how:?}: {e}");
            assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        }
        // A folder that is itself a link is refused too.
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&certs, &link).unwrap();
        assert!(make(&link, "demo", Existing::Replace).is_err());
    }

    #[test]
    fn write_certs_refuses_existing_files_unless_replacing() {
        let d = temp_dir().unwrap();
        let dir = d.path().join("new/certs");
        make(&dir, "demo", Existing::Refuse).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let first = std::fs::read(dir.join("ca.pem")).unwrap();
        let e = make(&dir, "demo", Existing::Refuse).err().unwrap();
        assert!(e.to_string().contains("--force"), "{e}");
        assert_eq!(std::fs::read(dir.join("ca.pem")).unwrap(), first);
        std::fs::set_permissions(
            dir.join("server-key.pem"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        make(&dir, "demo", Existing::Replace).unwrap();
        assert_ne!(std::fs::read(dir.join("ca.pem")).unwrap(), first);
        for f in FILES {
            assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
        }
    }
}
