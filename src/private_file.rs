//! Every file popscope writes holds mail, server data or secrets: it is created private (0600),
//! never through a symbolic link, and never over an existing file unless the user said so.
//! All output files (recordings, `:save`, `import -o`, `export -o`, history, certificates) are
//! opened here and nowhere else.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// What to do when the file already exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Fail with [`io::ErrorKind::AlreadyExists`] (O_EXCL): the default for every output.
    Refuse,
    /// Replace it (`--force`, `:save!`): an existing regular file is unlinked and a new one
    /// created in its place, so a hard link to another file leaves that file alone; a device
    /// (`/dev/null`) is opened as it is; a symbolic link is still refused.
    Replace,
    /// Append to it (the history file).
    Append,
}

/// Opens `path` for writing: mode 0600 for a new file (an existing file replaced or appended to
/// is set to 0600 too), O_NOFOLLOW so a planted symbolic link is refused, O_EXCL unless
/// `existing` says otherwise. Errors are the system's, turned into a sentence by [`explain`].
pub(crate) fn open(path: &Path, existing: Existing) -> io::Result<File> {
    if existing == Existing::Replace {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(io::Error::from_raw_os_error(libc::ELOOP));
            }
            Ok(m) if m.is_file() => {
                // Truncating would rewrite every other name of the inode (a hard link).
                std::fs::remove_file(path)?;
                return open(path, Existing::Refuse);
            }
            _ => {}
        }
    }
    let mut o = OpenOptions::new();
    o.write(true).mode(0o600).custom_flags(libc::O_NOFOLLOW);
    match existing {
        Existing::Refuse => {
            o.create_new(true);
        }
        Existing::Replace => {
            o.create(true).truncate(true);
        }
        Existing::Append => {
            o.create(true).append(true);
        }
    }
    let f = o.open(path)?;
    let meta = f.metadata()?;
    // A device (`/dev/null`, `/dev/stdout`) keeps its mode; only regular files are ours to fix.
    if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(f)
}

/// Checks, writing nothing, that [`open`] with `existing` would accept `path` as one of a set
/// of files written together (`--write-certs`, `--write-maildir`, `man --dir`): a missing file
/// is fine; a symbolic link, a directory or an existing file without `--force` is refused with
/// the error `open` would give, and so is anything but a regular file (a device or a FIFO has
/// no place among them). Check every file first, then write: a refusal leaves nothing written.
pub(crate) fn check(path: &Path, existing: Existing) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if meta.file_type().is_symlink() {
        Err(io::Error::from_raw_os_error(libc::ELOOP))
    } else if meta.is_dir() {
        Err(io::Error::from_raw_os_error(libc::EISDIR))
    } else if existing == Existing::Refuse {
        Err(io::Error::from(io::ErrorKind::AlreadyExists))
    } else if !meta.is_file() {
        Err(io::Error::other("not a regular file"))
    } else {
        Ok(())
    }
}

/// Checks, writing nothing, that [`create_dir`] would accept `path`: missing, or a real
/// directory (not a symbolic link) of this user's.
pub(crate) fn check_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != uid {
        return Err(io::Error::other(
            "not a directory of this user's (a symbolic link, or someone else's)",
        ));
    }
    Ok(())
}

/// Creates a private directory (0700) and its parents; an existing directory is accepted only
/// when it is a real directory (not a symbolic link) owned by this user.
pub(crate) fn create_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
    {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    std::fs::symlink_metadata(path)?;
    check_dir(path)
}

/// Whether `path` itself (not what a link points to) is a directory.
pub(crate) fn is_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// A file written whole or not at all (`import -o`, `export -o`): the output goes to a private
/// temporary file in the target's directory (created by [`open`] with [`Existing::Refuse`]:
/// 0600, O_EXCL, O_NOFOLLOW, an unpredictable name), and [`Atomic::commit`] moves it over the
/// target in one rename. Until then the target is untouched; dropped without a commit (any
/// error on the way), the temporary file is removed and the target stays as it was.
///
/// With [`Existing::Refuse`] the commit links the new file in under the target's name, so a
/// file that appeared meanwhile is not overwritten either. A target that is a device
/// (`/dev/null`, `/dev/stdout`) cannot be renamed over: it is written directly.
pub(crate) struct Atomic {
    file: File,
    /// The temporary file, None when writing a device directly.
    temp: Option<std::path::PathBuf>,
    target: std::path::PathBuf,
    existing: Existing,
}

impl Atomic {
    /// Starts writing `path`: refused as [`open`] would refuse it (a symbolic link, a
    /// directory, an existing file unless `existing` is [`Existing::Replace`]).
    pub(crate) fn create(path: &Path, existing: Existing) -> io::Result<Atomic> {
        let direct = |existing| {
            Ok(Atomic {
                file: open(path, existing)?,
                temp: None,
                target: path.to_path_buf(),
                existing,
            })
        };
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(io::Error::from_raw_os_error(libc::ELOOP));
            }
            Ok(m) if m.is_dir() => return Err(io::Error::from_raw_os_error(libc::EISDIR)),
            Ok(_) if existing != Existing::Replace => {
                return Err(io::Error::from(io::ErrorKind::AlreadyExists));
            }
            Ok(m) if !m.is_file() => return direct(existing),
            _ => {}
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EISDIR))?;
        let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
        for _ in 0..16 {
            let mut tmp = std::ffi::OsString::from(".");
            tmp.push(name);
            tmp.push(format!(".{}.{:016x}.tmp", std::process::id(), nonce()));
            let temp = dir.join(tmp);
            match open(&temp, Existing::Refuse) {
                Ok(file) => {
                    return Ok(Atomic {
                        file,
                        temp: Some(temp),
                        target: path.to_path_buf(),
                        existing,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// Puts the written file in place of the target (see [`Atomic`]); on an error the
    /// temporary file is removed and the target is as it was.
    pub(crate) fn commit(mut self) -> io::Result<()> {
        io::Write::flush(&mut self.file)?;
        let Some(temp) = self.temp.take() else {
            return Ok(());
        };
        let placed = self.file.sync_all().and_then(|()| {
            if self.existing != Existing::Replace {
                match std::fs::hard_link(&temp, &self.target) {
                    // A file system without hard links: the target was absent a moment ago.
                    Err(e)
                        if e.kind() != io::ErrorKind::AlreadyExists
                            && std::fs::symlink_metadata(&self.target)
                                .is_err_and(|m| m.kind() == io::ErrorKind::NotFound) =>
                    {
                        std::fs::rename(&temp, &self.target)
                    }
                    r => r,
                }
            } else {
                std::fs::rename(&temp, &self.target)
            }
        });
        let _ = std::fs::remove_file(&temp);
        placed
    }
}

impl io::Write for Atomic {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for Atomic {
    fn drop(&mut self) {
        if let Some(t) = self.temp.take() {
            let _ = std::fs::remove_file(t);
        }
    }
}

/// A number nobody can guess, for a temporary file's name (O_EXCL makes a clash harmless).
fn nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// One line for a person: what went wrong with `path`, and what to do about it.
pub(crate) fn explain(path: &Path, e: &io::Error) -> String {
    let p = popscope_core::sanitize::display(path.as_os_str().as_encoded_bytes(), 200);
    // O_EXCL answers EEXIST for a planted link too: say what it is.
    let is_link = || std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if e.raw_os_error() == Some(libc::ELOOP)
        || (e.kind() == io::ErrorKind::AlreadyExists && is_link())
    {
        format!("{p} is a symbolic link: popscope does not write through one")
    } else if e.raw_os_error() == Some(libc::EISDIR)
        || (e.kind() == io::ErrorKind::AlreadyExists && is_dir(path))
    {
        format!("{p} is a directory: give a file name")
    } else if e.kind() == io::ErrorKind::AlreadyExists {
        format!("{p} exists: popscope does not overwrite files (add --force to replace it)")
    } else {
        format!("cannot write {p}: {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::FileTypeExt;

    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("popscope-pf-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn an_atomic_file_appears_whole_on_commit_and_never_otherwise() {
        let d = scratch("atomic");
        let t = d.join("out");
        // Dropped without a commit: nothing is left, not even the temporary file.
        let mut a = Atomic::create(&t, Existing::Refuse).unwrap();
        a.write_all(b"half").unwrap();
        assert!(!t.exists());
        drop(a);
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
        // Refuse: a file that appeared while writing is not overwritten.
        let mut a = Atomic::create(&t, Existing::Refuse).unwrap();
        a.write_all(b"new").unwrap();
        std::fs::write(&t, b"theirs").unwrap();
        assert_eq!(
            a.commit().map_err(|e| e.kind()),
            Err(io::ErrorKind::AlreadyExists)
        );
        assert_eq!(std::fs::read(&t).unwrap(), b"theirs");
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        assert!(Atomic::create(&t, Existing::Refuse).is_err());
        // Replace: the old content stays until the commit, then the new one is there, 0600.
        let mut a = Atomic::create(&t, Existing::Replace).unwrap();
        a.write_all(b"new").unwrap();
        assert_eq!(std::fs::read(&t).unwrap(), b"theirs");
        a.commit().unwrap();
        assert_eq!(std::fs::read(&t).unwrap(), b"new");
        assert_eq!(
            std::fs::metadata(&t).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        // A symbolic link or a directory is refused before anything is written.
        let link = d.join("link");
        std::os::unix::fs::symlink(&t, &link).unwrap();
        assert!(Atomic::create(&link, Existing::Replace).is_err());
        assert!(Atomic::create(&d, Existing::Replace).is_err());
        // A device is written as it is.
        let mut a = Atomic::create(Path::new("/dev/null"), Existing::Replace).unwrap();
        a.write_all(b"x").unwrap();
        a.commit().unwrap();
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_new_file_is_0600_and_an_existing_one_is_refused() {
        let d = scratch("new");
        let p = d.join("out");
        open(&p, Existing::Refuse).unwrap().write_all(b"x").unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let e = open(&p, Existing::Refuse).unwrap_err();
        assert!(explain(&p, &e).contains("--force"), "{}", explain(&p, &e));
        assert_eq!(std::fs::read(&p).unwrap(), b"x");
        open(&p, Existing::Replace)
            .unwrap()
            .write_all(b"y")
            .unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"y");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_planted_symlink_is_never_followed() {
        let d = scratch("link");
        let victim = d.join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let link = d.join("out");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        for how in [Existing::Refuse, Existing::Replace, Existing::Append] {
            let e = open(&link, how).unwrap_err();
            assert!(
                explain(&link, &e).contains("symbolic link")
                    || e.kind() == io::ErrorKind::AlreadyExists,
                "{how:?}: {e}"
            );
        }
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn replacing_a_hard_link_leaves_the_other_name_alone() {
        let d = scratch("hard");
        let other = d.join("other");
        std::fs::write(&other, b"precious").unwrap();
        std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o644)).unwrap();
        let p = d.join("out");
        std::fs::hard_link(&other, &p).unwrap();
        open(&p, Existing::Replace)
            .unwrap()
            .write_all(b"new")
            .unwrap();
        assert_eq!(std::fs::read(&other).unwrap(), b"precious");
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&other), 0o644);
        assert_eq!(mode(&p), 0o600);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_directory_is_called_a_directory() {
        let d = scratch("isdir");
        for how in [Existing::Refuse, Existing::Replace, Existing::Append] {
            let e = open(&d, how).unwrap_err();
            let line = explain(&d, &e);
            assert!(
                line.ends_with("is a directory: give a file name"),
                "{how:?}: {line}"
            );
        }
        assert!(d.is_dir());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn check_refuses_what_open_would_and_writes_nothing() {
        let d = scratch("check");
        let missing = d.join("missing");
        let file = d.join("file");
        std::fs::write(&file, b"x").unwrap();
        let link = d.join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        for how in [Existing::Refuse, Existing::Replace] {
            check(&missing, how).unwrap();
            assert!(!missing.exists());
            let e = check(&link, how).unwrap_err();
            assert!(explain(&link, &e).contains("symbolic link"), "{how:?}: {e}");
            let e = check(&d, how).unwrap_err();
            assert!(explain(&d, &e).contains("is a directory"), "{how:?}: {e}");
            let e = check(Path::new("/dev/null"), how).unwrap_err();
            assert!(
                explain(Path::new("/dev/null"), &e).contains("/dev/null"),
                "{e}"
            );
        }
        let e = check(&file, Existing::Refuse).unwrap_err();
        assert!(explain(&file, &e).contains("--force"), "{e}");
        check(&file, Existing::Replace).unwrap();
        check_dir(&d).unwrap();
        check_dir(&missing).unwrap();
        let dlink = d.join("dlink");
        std::os::unix::fs::symlink(&d, &dlink).unwrap();
        assert!(check_dir(&dlink).is_err());
        assert!(check_dir(&file).is_err());
        assert_eq!(std::fs::read(&file).unwrap(), b"x");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn replacing_a_device_opens_it_without_unlinking() {
        let p = Path::new("/dev/null");
        open(p, Existing::Replace).unwrap().write_all(b"x").unwrap();
        assert!(
            std::fs::symlink_metadata(p)
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }

    #[test]
    fn an_existing_loose_file_is_made_private_when_appended_to() {
        let d = scratch("loose");
        let p = d.join("history");
        std::fs::write(&p, b"a\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        open(&p, Existing::Append)
            .unwrap()
            .write_all(b"b\n")
            .unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"a\nb\n");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_private_dir_is_0700_and_a_symlinked_one_is_refused() {
        let d = scratch("dir");
        let sub = d.join("a/b");
        create_dir(&sub).unwrap();
        let mode = std::fs::metadata(&sub).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let link = d.join("l");
        std::os::unix::fs::symlink(&sub, &link).unwrap();
        assert!(create_dir(&link).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }
}
