//! Command history, per user, under the XDG data directory. Lines arrive here already stripped
//! of secrets (App::remember); this file only stores and loads them.
//!
//! The file is private: created 0600 (an existing looser one is made 0600 when it is loaded or
//! appended to), appended to only, and never read or written through a symbolic link. Writing
//! it is best effort: a history that cannot be written is not worth interrupting a session for.

use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::private_file::{self, Existing};

/// `$XDG_DATA_HOME/popscope/history`, or `~/.local/share/popscope/history`.
pub(crate) fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(base.join("popscope").join("history"))
}

/// At most this much of the end of the file is read (1,000 lines of commands fit many times).
const MAX_LOAD: u64 = 4 << 20;

/// The last 1,000 lines; nothing when the file is missing, a symbolic link or not a file, or
/// its folder is a symbolic link or someone else's.
pub fn load(path: &Path) -> Vec<String> {
    if path
        .parent()
        .is_some_and(|d| private_file::check_dir(d).is_err())
    {
        return Vec::new();
    }
    let Ok(mut f) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    else {
        return Vec::new();
    };
    let Ok(meta) = f.metadata() else {
        return Vec::new();
    };
    if !meta.is_file() {
        return Vec::new();
    }
    if meta.permissions().mode() & 0o077 != 0 {
        let _ = f.set_permissions(std::fs::Permissions::from_mode(0o600));
    }
    let skip = meta.len().saturating_sub(MAX_LOAD);
    if skip > 0 {
        use std::io::Seek;
        let _ = f.seek(std::io::SeekFrom::Start(skip));
    }
    let mut bytes = Vec::new();
    let _ = f.take(MAX_LOAD).read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    if skip > 0 && !lines.is_empty() {
        // The first line was cut by the seek.
        lines.remove(0);
    }
    let skip = lines.len().saturating_sub(1000);
    lines.into_iter().skip(skip).map(str::to_owned).collect()
}

/// Appends one line (best effort): the folder is made 0700 if missing, the file 0600. A
/// folder or file that is a symbolic link (or not a regular file, or not writable) is left
/// alone and the answer is one line for the UI ("history not saved: PATH is a symbolic
/// link"), to be said once: the session goes on without a history file.
pub(crate) fn append(path: &Path, line: &str) -> Result<(), String> {
    let why = |p: &Path, e: &std::io::Error| {
        let link = std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink());
        if link {
            let shown = popscope_core::sanitize::display(p.as_os_str().as_encoded_bytes(), 200);
            format!("history not saved: {shown} is a symbolic link")
        } else {
            format!("history not saved: {}", private_file::explain(p, e))
        }
    };
    if let Some(dir) = path.parent() {
        private_file::create_dir(dir).map_err(|e| why(dir, &e))?;
    }
    // Not a regular file (a FIFO would block the UI on every command): not ours to write.
    private_file::check(path, Existing::Append).map_err(|e| why(path, &e))?;
    let mut f = private_file::open(path, Existing::Append).map_err(|e| why(path, &e))?;
    writeln!(f, "{line}").map_err(|e| why(path, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_history_and_its_folder_are_private() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("data/popscope/history");
        append(&p, "CAPA").unwrap();
        append(&p, "STAT").unwrap();
        assert_eq!(mode(&p), 0o600);
        assert_eq!(mode(p.parent().unwrap()), 0o700);
        assert_eq!(load(&p), ["CAPA", "STAT"]);
    }

    #[test]
    fn a_loose_history_becomes_0600_on_load_and_on_append() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("history");
        std::fs::write(&p, "LIST\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(load(&p), ["LIST"]);
        assert_eq!(mode(&p), 0o600);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        append(&p, "UIDL").unwrap();
        assert_eq!(mode(&p), 0o600);
        // Appended, never truncated.
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "LIST\nUIDL\n");
    }

    #[test]
    fn a_history_that_is_a_symlink_is_neither_written_nor_read() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
        let p = d.path().join("history");
        std::os::unix::fs::symlink(&victim, &p).unwrap();
        let e = append(&p, "RETR 1").unwrap_err();
        assert_eq!(
            e,
            format!("history not saved: {} is a symbolic link", p.display())
        );
        assert!(load(&p).is_empty());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        assert_eq!(mode(&victim), 0o644);
    }

    #[test]
    fn a_history_folder_that_is_a_symlink_is_neither_written_nor_read() {
        let d = tempfile::tempdir().unwrap();
        let elsewhere = d.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("history"), "LIST\n").unwrap();
        let dir = d.path().join("popscope");
        std::os::unix::fs::symlink(&elsewhere, &dir).unwrap();
        let p = dir.join("history");
        let e = append(&p, "RETR 1").unwrap_err();
        assert_eq!(
            e,
            format!("history not saved: {} is a symbolic link", dir.display())
        );
        assert!(load(&p).is_empty());
        assert_eq!(
            std::fs::read_to_string(elsewhere.join("history")).unwrap(),
            "LIST\n"
        );
    }

    #[test]
    fn a_history_that_is_a_fifo_blocks_nothing() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("history");
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let start = std::time::Instant::now();
        assert!(
            append(&p, "NOOP")
                .unwrap_err()
                .contains("not a regular file")
        );
        assert!(load(&p).is_empty());
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn a_huge_history_loads_its_last_lines_only() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("history");
        let mut text = String::new();
        for i in 0..400_000 {
            text.push_str(&format!("NOOP {i}\n"));
        }
        std::fs::write(&p, &text).unwrap();
        let h = load(&p);
        assert_eq!(h.len(), 1000);
        assert_eq!(h.last().map(String::as_str), Some("NOOP 399999"));
        assert_eq!(h[0], "NOOP 399000");
    }
}
