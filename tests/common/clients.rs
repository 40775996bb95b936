//! Running the real mail clients the tests drive (fetchmail, mpop, curl, getmail6, neomutt,
//! Python's poplib): each in a throwaway HOME with its own configuration, none global.

use std::path::Path;
use std::process::{Command, Output};

use popscope_core::server::maildrop;

/// Whether `client` is installed; a missing one passes outside CI and fails in it.
pub fn installed(client: &str) -> bool {
    let found = Command::new(client)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success() || !o.stdout.is_empty() || !o.stderr.is_empty());
    if !found {
        assert!(
            std::env::var("CI").is_err(),
            "CI=true but {client} is not installed: scripts/test.sh installs it"
        );
        eprintln!("{client} is not installed (apt-get install {client}): skipped");
    }
    found
}

/// `program args…` with `home` as HOME, killed after a minute so that a client that hangs
/// fails the test.
pub fn run(program: &str, args: &[&str], home: &Path) -> Output {
    Command::new("timeout")
        .arg("60")
        .arg(program)
        .args(args)
        .env("HOME", home)
        .env_remove("SSLKEYLOGFILE")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// What a client printed, stdout then stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The sample maildrop as a client that delivers to a program stores it: the messages in
/// order, each with LF line ends (the server sends CRLF; mpop and fetchmail hand the MDA LF).
pub fn maildrop_with_lf() -> Vec<u8> {
    sample_with_lf().concat()
}

/// The sample maildrop's messages one by one, LF line ends (a Maildir holds them so).
pub fn sample_with_lf() -> Vec<Vec<u8>> {
    maildrop::sample()
        .iter()
        .map(|m| m.data.iter().copied().filter(|&b| b != b'\r').collect())
        .collect()
}

/// A private file (the clients refuse a configuration others can read).
pub fn private(path: &Path, contents: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// The messages of a Maildir (new and cur), sorted: Maildir names carry no order.
pub fn maildir_messages(dir: &Path) -> Vec<Vec<u8>> {
    let mut messages: Vec<Vec<u8>> = ["new", "cur"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(dir.join(sub)).ok())
        .flatten()
        .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
        .collect();
    messages.sort();
    messages
}

/// An empty Maildir at `dir`.
pub fn make_maildir(dir: &Path) {
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
}
