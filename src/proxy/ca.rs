//! The CA popscope makes once and keeps, for a TLS client leg without `--cert`/`--key`: its
//! certificate and key in a private folder of the user's (`$XDG_DATA_HOME/popscope/proxy-ca/`,
//! or `--ca-dir`), the certificate for the user to trust in the mail client, and a leaf for the
//! names the client connects by, issued afresh each run (its key never leaves memory).
//!
//! The folder is 0700 and the key 0600, written through [`crate::private_file`]; on reading, a
//! symbolic link is refused (O_NOFOLLOW), and so is a key others could read: whoever holds it
//! can read every session a client that trusts the CA sends through any such proxy.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rcgen::{CertifiedIssuer, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, pem::PemObject};

use crate::private_file::{self, Existing};
use crate::server::certs;

/// The CA's name: the same each run, so the kept key signs as the CA it was made as.
const CA_NAME: &str = "popscope proxy CA";
const CA_FILE: &str = "ca.pem";
const KEY_FILE: &str = "ca-key.pem";

/// The longest certificate or key file read (a PEM CA is a few KiB).
const MAX_FILE: u64 = 64 << 10;

/// The kept CA, ready to issue.
pub struct ProxyCa {
    /// The certificate to trust, in PEM.
    pub cert_path: PathBuf,
    /// Made in this run (else found from an earlier one).
    pub created: bool,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

/// `$XDG_DATA_HOME/popscope/proxy-ca`, or `~/.local/share/popscope/proxy-ca`.
pub fn default_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(base.join("popscope").join("proxy-ca"))
}

fn named(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
}

impl ProxyCa {
    /// The CA kept in `dir`, made there first if the folder holds none.
    pub fn open_or_create(dir: &Path) -> Result<ProxyCa, String> {
        private_file::create_dir(dir).map_err(|e| private_file::explain(dir, &e))?;
        let mode = std::fs::symlink_metadata(dir)
            .map_err(|e| named(dir, e))?
            .permissions()
            .mode();
        // Made 0700; one that others may write to could have its CA swapped under it.
        if mode & 0o022 != 0 {
            return Err(named(
                dir,
                format!(
                    "the CA's folder has mode {:04o}, writable by others: chmod 700 it",
                    mode & 0o777
                ),
            ));
        }
        let (cert_path, key_path) = (dir.join(CA_FILE), dir.join(KEY_FILE));
        let present = |p: &Path| std::fs::symlink_metadata(p).is_ok();
        match (present(&cert_path), present(&key_path)) {
            (false, false) => Self::create(cert_path, &key_path),
            (true, true) => Self::open(cert_path, &key_path),
            (has_cert, _) => {
                let (there, missing) = if has_cert {
                    (CA_FILE, KEY_FILE)
                } else {
                    (KEY_FILE, CA_FILE)
                };
                Err(named(
                    dir,
                    format!(
                        "{there} is there without {missing}: remove the folder for a new CA (and trust the new one)"
                    ),
                ))
            }
        }
    }

    fn create(cert_path: PathBuf, key_path: &Path) -> Result<ProxyCa, String> {
        let key = KeyPair::generate().map_err(|e| e.to_string())?;
        let params = certs::ca_params(CA_NAME).map_err(|e| e.to_string())?;
        let ca = CertifiedIssuer::self_signed(params, key).map_err(|e| e.to_string())?;
        // The key first: a folder with a certificate and no key is refused, not repaired.
        write_new(key_path, ca.key().serialize_pem().as_bytes())?;
        write_new(&cert_path, ca.pem().as_bytes())?;
        let cert_der = ca.der().clone();
        let key = KeyPair::from_pem(&ca.key().serialize_pem()).map_err(|e| e.to_string())?;
        Ok(ProxyCa {
            cert_path,
            created: true,
            cert_der,
            issuer: issuer(key)?,
        })
    }

    fn open(cert_path: PathBuf, key_path: &Path) -> Result<ProxyCa, String> {
        let key_pem = read_private(key_path, true)?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| named(key_path, e))?;
        let cert_pem = read_private(&cert_path, false)?;
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| named(&cert_path, e))?;
        // The certificate must be the key's: a replaced one would be trusted for nothing.
        let (_, parsed) = x509_parser::parse_x509_certificate(cert_der.as_ref())
            .map_err(|e| named(&cert_path, e))?;
        if parsed.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(named(
                &cert_path,
                format!("not the certificate of {KEY_FILE}: remove the folder for a new CA"),
            ));
        }
        Ok(ProxyCa {
            cert_path,
            created: false,
            cert_der,
            issuer: issuer(key)?,
        })
    }

    /// The SHA-256 fingerprint of the CA certificate, as certificate managers show it.
    pub fn fingerprint(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, self.cert_der.as_ref());
        let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
        hex.join(":")
    }

    /// A TLS server side showing a fresh leaf for `names`, signed by this CA.
    pub fn server_config(&self, names: Vec<String>) -> Result<rustls::ServerConfig, String> {
        let params = certs::server_params(names).map_err(|e| e.to_string())?;
        let key = KeyPair::generate().map_err(|e| e.to_string())?;
        let leaf = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| e.to_string())?;
        let chain = vec![leaf.der().clone(), self.cert_der.clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        certs::server_config(chain, key, None).map_err(|e| e.to_string())
    }

    /// What the user does with the CA, one line each (for stderr).
    pub fn trust_lines(&self) -> Vec<String> {
        let ca = self.cert_path.display();
        let made = if self.created { "made now" } else { "kept" };
        vec![
            format!(
                "popscope proxy: clients are shown certificates of popscope's own CA ({made}): {ca} (SHA-256 {})",
                self.fingerprint()
            ),
            format!(
                "  Thunderbird: Settings > Privacy & Security > Certificates > Manage Certificates > Authorities > Import {ca}, tick \"This certificate can identify websites\""
            ),
            format!(
                "  Outlook/Windows: certutil -addstore Root {ca} (or the certificate manager, certmgr.msc: Trusted Root Certification Authorities > Import)"
            ),
            format!(
                "  fetchmail: sslcertck with sslcertfile {ca} in .fetchmailrc (or --sslcertck --sslcertfile {ca})"
            ),
        ]
    }
}

fn issuer(key: KeyPair) -> Result<Issuer<'static, KeyPair>, String> {
    let params = certs::ca_params(CA_NAME).map_err(|e| e.to_string())?;
    Ok(Issuer::new(params, key))
}

fn write_new(path: &Path, pem: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let explain = |e: std::io::Error| private_file::explain(path, &e);
    let mut f = private_file::open(path, Existing::Refuse).map_err(explain)?;
    f.write_all(pem).map_err(explain)?;
    f.sync_all().map_err(explain)
}

/// Reads a file of the CA's folder: never through a symbolic link, only a regular file of this
/// user's, and (`secret`) only one nobody else may read.
fn read_private(path: &Path, secret: bool) -> Result<String, String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| private_file::explain(path, &e))?;
    let meta = file.metadata().map_err(|e| named(path, e))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if !meta.is_file() || meta.uid() != uid {
        return Err(named(path, "not a regular file of this user's"));
    }
    let mode = meta.permissions().mode() & 0o777;
    if secret && mode & 0o077 != 0 {
        return Err(named(
            path,
            format!(
                "the CA's key has mode {mode:04o}, looser than 0600: chmod 600 it (or remove the folder for a new CA)"
            ),
        ));
    }
    let mut text = String::new();
    file.take(MAX_FILE)
        .read_to_string(&mut text)
        .map_err(|e| named(path, e))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_ca_is_made_once_private_and_kept() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("data/popscope/proxy-ca");
        let first = ProxyCa::open_or_create(&dir).unwrap();
        assert!(first.created);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(KEY_FILE)), 0o600);
        let again = ProxyCa::open_or_create(&dir).unwrap();
        assert!(!again.created);
        assert_eq!(again.fingerprint(), first.fingerprint());
        assert!(again.server_config(vec!["localhost".into()]).is_ok());
    }

    #[test]
    fn a_key_others_can_read_is_refused_in_one_line() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("ca");
        ProxyCa::open_or_create(&dir).unwrap();
        let key = dir.join(KEY_FILE);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = ProxyCa::open_or_create(&dir).err().unwrap();
        assert!(e.contains("0644") && e.contains("chmod 600"), "{e}");
        assert_eq!(e.lines().count(), 1);
    }

    #[test]
    fn a_planted_symlink_is_refused_and_its_target_untouched() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("ca");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join(KEY_FILE)).unwrap();
        assert!(ProxyCa::open_or_create(&dir).is_err());
        std::os::unix::fs::symlink(&victim, dir.join(CA_FILE)).unwrap();
        assert!(ProxyCa::open_or_create(&dir).is_err());
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        // A folder that is itself a link is refused too.
        let link = d.path().join("link");
        std::os::unix::fs::symlink(d.path().join("elsewhere"), &link).unwrap();
        assert!(ProxyCa::open_or_create(&link).is_err());
    }

    #[test]
    fn a_certificate_that_is_not_the_keys_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        ProxyCa::open_or_create(&a).unwrap();
        ProxyCa::open_or_create(&b).unwrap();
        std::fs::remove_file(a.join(CA_FILE)).unwrap();
        std::fs::copy(b.join(CA_FILE), a.join(CA_FILE)).unwrap();
        let e = ProxyCa::open_or_create(&a).err().unwrap();
        assert!(e.contains("not the certificate"), "{e}");
    }
}
