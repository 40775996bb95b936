//! The file `--record` writes: shared by every connection of a run, and the observer that
//! tells the first write error while the run goes on.

use std::io::Write;

use popscope_core::Time;

use super::write::Recorder;

/// A shared, append-only file for `--record`: every connection of a run writes its session
/// (header first) into it. The first write error is kept: the recorders stop writing at it
/// (the session goes on), and [`RecordFile::finish`] reports it at the end of the run.
#[derive(Clone)]
pub(crate) struct RecordFile(std::sync::Arc<std::sync::Mutex<RecordState>>);

struct RecordState {
    file: std::fs::File,
    path: std::path::PathBuf,
    /// The first write error, sticky: nothing more is written after it.
    error: Option<std::io::Error>,
    /// The error was told while the run went on ([`RecordFile::take_failure`]).
    told: bool,
    /// Octets written, and how many of them the disk was asked to start writing out.
    written: u64,
    kicked: u64,
}

/// Every this many octets, the disk is asked to start writing out what came before them.
const WRITE_BEHIND: u64 = 8 << 20;

impl RecordFile {
    /// Creates `path` private (0600), never through a symbolic link; an existing file is
    /// refused unless `replace` (--force). The error is one line naming the file.
    pub(crate) fn create(path: &std::path::Path, replace: bool) -> Result<RecordFile, String> {
        use crate::private_file::{self, Existing};
        let how = if replace {
            Existing::Replace
        } else {
            Existing::Refuse
        };
        let file = private_file::open(path, how).map_err(|e| private_file::explain(path, &e))?;
        Ok(RecordFile(std::sync::Arc::new(std::sync::Mutex::new(
            RecordState {
                file,
                path: path.to_path_buf(),
                error: None,
                told: false,
                written: 0,
                kicked: 0,
            },
        ))))
    }

    /// Ends the recording: the first write error of the run if there was one, else the file
    /// flushed to disk (a regular file's `fsync`; a device has none). One line on failure.
    pub(crate) fn finish(&self) -> Result<(), String> {
        let mut st = self
            .0
            .lock()
            .map_err(|_| "the record file's lock was poisoned".to_owned())?;
        let st = &mut *st;
        if st.error.is_none() {
            let synced = st.file.flush().and_then(|()| match st.file.metadata() {
                Ok(m) if m.is_file() => st.file.sync_all(),
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            });
            st.error = synced.err();
        }
        match st.failure() {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    /// The first write error, once: the first call after it happened returns it (one line
    /// naming the file), every other call None. For a UI to say it while the session goes on;
    /// [`RecordFile::finish`] still reports it at the end.
    pub(crate) fn take_failure(&self) -> Option<String> {
        let mut st = self.0.lock().ok()?;
        if st.told {
            return None;
        }
        let e = st.failure()?;
        st.told = true;
        Some(e)
    }

    /// An observer that tells `tell` the first write error as soon as a write failed (it
    /// looks after every read and write of the session): put it after the recorders.
    pub(crate) fn watcher(
        &self,
        tell: Box<dyn FnMut(Time, String) + Send>,
    ) -> Box<dyn crate::session::Observer> {
        Box::new(Watcher {
            file: self.clone(),
            tell,
        })
    }

    /// A recorder that keeps at most `max_body` octets of each message body.
    pub(crate) fn recorder_with(
        &self,
        target: &str,
        keep_secrets: bool,
        max_body: Option<u64>,
    ) -> Box<dyn crate::session::Observer> {
        Box::new(
            Recorder::new(Box::new(self.clone()), target, keep_secrets).with_max_body(max_body),
        )
    }
}

impl RecordState {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        self.file.write_all(buf)?;
        self.written += buf.len() as u64;
        if self.written - self.kicked >= WRITE_BEHIND {
            self.write_behind();
        }
        Ok(())
    }

    /// Starts the disk writing out what was written since the last call, without waiting
    /// for it: the fsync at the end then finds little left to do, and a recording of 1 GB
    /// does not end with a second of disk writes the session has to wait for.
    #[cfg(target_os = "linux")]
    fn write_behind(&mut self) {
        use std::os::fd::AsRawFd;
        let (from, len) = (self.kicked, self.written - self.kicked);
        if let (Ok(from), Ok(len)) = (libc::off64_t::try_from(from), libc::off64_t::try_from(len)) {
            // SAFETY: a plain system call on a descriptor this struct owns; it reads no memory
            // of ours. Its failure (a pipe, a device) only means no early write-out.
            unsafe {
                libc::sync_file_range(
                    self.file.as_raw_fd(),
                    from,
                    len,
                    libc::SYNC_FILE_RANGE_WRITE,
                );
            }
        }
        self.kicked = self.written;
    }

    #[cfg(not(target_os = "linux"))]
    fn write_behind(&mut self) {
        self.kicked = self.written;
    }

    fn failure(&self) -> Option<String> {
        let e = self.error.as_ref()?;
        Some(format!(
            "{}; the recording is incomplete",
            crate::private_file::explain(&self.path, e)
        ))
    }
}

/// See [`RecordFile::watcher`].
struct Watcher {
    file: RecordFile,
    tell: Box<dyn FnMut(Time, String) + Send>,
}

impl crate::session::Observer for Watcher {
    fn settled(&mut self, at: Time) {
        if let Some(e) = self.file.take_failure() {
            (self.tell)(at, e);
        }
    }
}

impl RecordFile {
    /// Runs `op` on the file unless a write failed before; its error becomes the sticky one.
    fn sticky<T>(
        &self,
        op: impl FnOnce(&mut RecordState) -> std::io::Result<T>,
    ) -> std::io::Result<T> {
        let again = |e: &std::io::Error| std::io::Error::new(e.kind(), e.to_string());
        let mut st = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("record file lock poisoned"))?;
        if let Some(e) = &st.error {
            return Err(again(e));
        }
        op(&mut st).map_err(|e| {
            let told = again(&e);
            st.error = Some(e);
            told
        })
    }
}

impl std::io::Write for RecordFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.sticky(|st| st.write(buf).map(|()| buf.len()))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.sticky(|st| std::io::Write::flush(&mut st.file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watcher_tells_the_first_write_error_once_and_finish_still_fails() {
        let file = RecordFile::create(std::path::Path::new("/dev/full"), true).unwrap();
        let told = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = told.clone();
        let mut w = file.watcher(Box::new(move |_, e| seen.lock().unwrap().push(e)));
        w.settled(Time(1));
        assert!(told.lock().unwrap().is_empty(), "nothing failed yet");
        let _rec = file.recorder_with("pop3://x", false, None);
        w.settled(Time(2));
        w.settled(Time(3));
        let told = told.lock().unwrap().clone();
        assert_eq!(told.len(), 1, "{told:?}");
        assert!(told[0].contains("/dev/full"), "{told:?}");
        assert!(file.finish().is_err());
    }
}
