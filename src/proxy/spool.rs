//! One connection's recording on its way to the `--record` file: in memory up to [`SPILL`],
//! then in an unnamed temporary file (no path, so nothing else can open it; removed when
//! closed), appended to the record file whole when the connection ends. Sessions running at
//! once so never interleave in the file, and a long RETR costs disk, not memory.

use std::fs::File;
use std::io::{self, Seek, Write};
use std::sync::{Arc, Mutex};

/// Octets kept in memory before the spool moves to a temporary file.
const SPILL: usize = 1 << 20;

#[derive(Clone, Default)]
pub(crate) struct Spool(Arc<Mutex<Held>>);

#[derive(Default)]
struct Held {
    memory: Vec<u8>,
    file: Option<File>,
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut held = self
            .0
            .lock()
            .map_err(|_| io::Error::other("the spool's lock was poisoned"))?;
        let held = &mut *held;
        if held.file.is_none() && held.memory.len() + buf.len() > SPILL {
            let mut file = tempfile::tempfile()?;
            file.write_all(&held.memory)?;
            held.memory = Vec::new();
            held.file = Some(file);
        }
        match held.file.as_mut() {
            Some(f) => f.write_all(buf)?,
            None => held.memory.extend_from_slice(buf),
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Spool {
    /// Writes everything spooled to `out`, in order.
    pub(crate) fn append_to(&self, out: &mut impl Write) -> io::Result<()> {
        let mut held = self
            .0
            .lock()
            .map_err(|_| io::Error::other("the spool's lock was poisoned"))?;
        let held = &mut *held;
        match held.file.as_mut() {
            Some(f) => {
                f.rewind()?;
                io::copy(f, out).map(drop)
            }
            None => out.write_all(&held.memory),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the spool gives back of `pieces`, and whether it had moved them to a file.
    fn spooled_where(pieces: &[&[u8]]) -> (Vec<u8>, bool) {
        let mut s = Spool::default();
        for p in pieces {
            s.write_all(p).unwrap();
        }
        let in_file = s.0.lock().unwrap().file.is_some();
        let mut out = Vec::new();
        s.append_to(&mut out).unwrap();
        (out, in_file)
    }

    #[test]
    fn a_small_recording_stays_in_memory_and_comes_back_whole() {
        assert_eq!(spooled_where(&[b"a", b"b"]), (b"ab".to_vec(), false));
    }

    #[test]
    fn a_large_recording_moves_to_a_file_and_comes_back_in_order() {
        let big = vec![b'x'; SPILL];
        let (out, in_file) = spooled_where(&[b"head", &big, b"tail"]);
        assert!(in_file, "the spool never left memory");
        assert_eq!(out.len(), SPILL + 8);
        assert!(out.starts_with(b"headx") && out.ends_with(b"xtail"));
    }
}
