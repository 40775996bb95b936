//! `popscope import` and `popscope export`, and the offline re-check behind
//! `check --transcript` and `replay --headless`. Recordings are read as a stream: memory stays
//! bounded whatever the file's size.

use std::io::Write;
use std::path::Path;

use crate::private_file::{self, Existing};
use crate::report;
use crate::transcript::lines::LineWalker;
use crate::transcript::source::{self, Checking};
use crate::transcript::text::Entry;
use crate::transcript::{export as exp, import as imp, jsonl};
use popscope_core::{Config, Tally};

use super::{CliError, ExportArgs, ExportFormat, ImportArgs, ImportFormat, exit};

/// Where output goes: standard output, or a file written whole or not at all
/// ([`private_file::Atomic`]: a private temporary file, 0600, never through a symbolic link,
/// renamed over the target only when everything was written; never over an existing file
/// unless `--force`). A write error is one line and exit 2, at the end too, and leaves the
/// target as it was; a closed standard output (`| head`) just stops the output.
struct Output {
    w: Box<dyn Write>,
    file: Option<(std::path::PathBuf, std::io::BufWriter<private_file::Atomic>)>,
    closed: bool,
}

impl Output {
    fn open(path: Option<&Path>, force: bool) -> Result<Output, CliError> {
        let Some(p) = path else {
            return Ok(Output {
                w: Box::new(std::io::BufWriter::with_capacity(
                    1 << 16,
                    std::io::stdout().lock(),
                )),
                file: None,
                closed: false,
            });
        };
        let how = if force {
            Existing::Replace
        } else {
            Existing::Refuse
        };
        let f = private_file::Atomic::create(p, how)
            .map_err(|e| CliError::usage(private_file::explain(p, &e)))?;
        Ok(Output {
            w: Box::new(std::io::sink()),
            file: Some((
                p.to_path_buf(),
                std::io::BufWriter::with_capacity(1 << 16, f),
            )),
            closed: false,
        })
    }

    fn writer(&mut self) -> &mut dyn Write {
        match &mut self.file {
            Some((_, w)) => w,
            None => &mut self.w,
        }
    }

    fn fail(&mut self, e: std::io::Error) -> Result<(), CliError> {
        match &self.file {
            Some((p, _)) => Err(CliError::usage(private_file::explain(p, &e))),
            None if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            None => Err(CliError::usage(format!(
                "cannot write standard output: {e}"
            ))),
        }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), CliError> {
        if self.closed {
            return Ok(());
        }
        match self.writer().write_all(bytes) {
            Ok(()) => Ok(()),
            Err(e) => self.fail(e),
        }
    }

    /// Writes one entry as text-format lines (numbered and redacted when a walker is given).
    fn entry(&mut self, e: &Entry, walker: Option<&mut LineWalker>) -> Result<(), CliError> {
        if self.closed {
            return Ok(());
        }
        match exp::write_entry(self.writer(), e, walker) {
            Ok(()) => Ok(()),
            Err(e) => self.fail(e),
        }
    }

    /// The error for an input damaged at `d`. A file is written whole or not at all: dropped,
    /// the target stays as it was; standard output keeps what was exported before the damage.
    fn damaged(self, path: &str, d: &jsonl::Damage) -> CliError {
        let kept = match &self.file {
            Some((p, _)) => format!(
                "{} was not written",
                popscope_core::sanitize::display(p.as_os_str().as_encoded_bytes(), 200)
            ),
            None => "everything before it was exported".to_owned(),
        };
        let flushed = match self.file {
            Some(_) => Ok(()),
            None => self.finish(),
        };
        flushed
            .err()
            .unwrap_or_else(|| CliError::usage(format!("{path}: {d} ({kept})")))
    }

    /// Flushes the output; a file is put in place of its target only now.
    fn finish(mut self) -> Result<(), CliError> {
        if let Some((p, w)) = self.file.take() {
            return w
                .into_inner()
                .map_err(|e| e.into_error())
                .and_then(private_file::Atomic::commit)
                .map_err(|e| CliError::usage(private_file::explain(&p, &e)));
        }
        if self.closed {
            return Ok(());
        }
        match self.w.flush() {
            Ok(()) => Ok(()),
            Err(e) => self.fail(e),
        }
    }
}

/// Refuses an output file that is the input itself (the same device and inode, under any
/// name or link): `--force` would replace what is being read. Checked before anything is
/// opened for writing.
fn not_the_input(output: Option<&Path>, input: &Path) -> Result<(), CliError> {
    use std::os::unix::fs::MetadataExt;
    let Some(out) = output else {
        return Ok(());
    };
    let read = if input.as_os_str() == "-" {
        Path::new("/dev/stdin")
    } else {
        input
    };
    match (std::fs::metadata(out), std::fs::metadata(read)) {
        (Ok(o), Ok(i)) if o.is_file() && o.dev() == i.dev() && o.ino() == i.ino() => {
            let shown =
                |p: &Path| popscope_core::sanitize::display(p.as_os_str().as_encoded_bytes(), 200);
            Err(CliError::usage(format!(
                "{} is the input {}: popscope does not write over what it reads (choose another -o)",
                shown(out),
                shown(input)
            )))
        }
        _ => Ok(()),
    }
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

pub fn import(args: &ImportArgs) -> Result<u8, CliError> {
    not_the_input(args.output.as_deref(), &args.file)?;
    let path = args.file.display().to_string();
    let bytes = std::fs::read(&args.file)
        .map_err(|e| CliError::usage(format!("cannot read {path}: {e}")))?;
    let result = match args.from {
        ImportFormat::Curl => imp::curl(&String::from_utf8_lossy(&bytes)),
        ImportFormat::Openssl => imp::openssl(&String::from_utf8_lossy(&bytes)),
        ImportFormat::Pcap => imp::pcap(&bytes, args.port),
    };
    let mut imported = result.map_err(|e| CliError::usage(format!("{path}: {e}")))?;
    if !args.keep_secrets && imp::redact_imported(&mut imported) {
        imported.notes.push(
            "secrets (PASS, APOP digests, AUTH and SASL responses) are masked; --keep-secrets keeps them".into(),
        );
    }
    let mut text = format!(
        "# imported by popscope {} from {}\n",
        env!("CARGO_PKG_VERSION"),
        popscope_core::sanitize::display(path.as_bytes(), 200)
    );
    for n in &imported.notes {
        text.push_str(&format!("# note: {n}\n"));
    }
    text.push_str(&exp::to_text(&imported.entries));
    let mut out = Output::open(args.output.as_deref(), args.force)?;
    out.put(text.as_bytes())?;
    out.finish()?;
    Ok(exit::OK)
}

/// `export --to jsonl`: the recording as format 1, streamed.
fn export_jsonl(
    args: &ExportArgs,
    path: &str,
    input: impl std::io::BufRead,
) -> Result<u8, CliError> {
    let mut out = Output::open(args.output.as_deref(), args.force)?;
    let written = jsonl::format1::write(input, out.writer(), args.session);
    let (count, damage) = match written {
        Ok(done) => done,
        Err(e) => {
            // A closed standard output (`| head`) just ends the export.
            out.fail(e)?;
            return Ok(exit::OK);
        }
    };
    if let Some(d) = damage {
        return Err(out.damaged(path, &d));
    }
    out.finish()?;
    match args.session {
        Some(n) if n == 0 || n > count => Err(CliError::usage(format!(
            "{path}: it holds {}; --session {n} is not one of them",
            plural(count, "session")
        ))),
        _ => Ok(exit::OK),
    }
}

pub fn export(args: &ExportArgs) -> Result<u8, CliError> {
    not_the_input(args.output.as_deref(), &args.file)?;
    let path = args.file.display().to_string();
    let cannot = |e: std::io::Error| CliError::usage(format!("cannot read {path}: {e}"));
    let mut input = source::open(&args.file).map_err(cannot)?;
    if !source::is_jsonl(&mut input).map_err(cannot)?.0 {
        return Err(CliError::usage(format!(
            "{path}: export reads a JSON Lines recording (--record)"
        )));
    }
    let only = args.session;
    if args.to == ExportFormat::Jsonl {
        return export_jsonl(args, &path, input);
    }
    // A bundle begins with the findings: the engine re-checks the recording first (one
    // streaming pass), then the transcript is written in a second.
    let (mut checked, input) = match args.to {
        ExportFormat::Bundle => (
            Some(
                source::check(input, &Config::default(), only)
                    .map_err(|e| CliError::usage(format!("{path}: {e}")))?,
            ),
            source::open(&args.file).map_err(cannot)?,
        ),
        ExportFormat::Text | ExportFormat::Jsonl => (None, input),
    };
    let mut out = Output::open(args.output.as_deref(), args.force)?;
    let mut failed: Option<CliError> = None;
    let mut count = 0usize;
    let mut walker: Option<LineWalker> = None;
    let mut selected = false;
    let total = checked.as_ref().map(|c| c.count);
    let damage = jsonl::stream(input, |item| {
        if failed.is_some() {
            return;
        }
        let r = match item {
            jsonl::Streamed::Header {
                target, secrets, ..
            } => {
                let close = match (&checked, selected) {
                    (Some(_), true) => out.put(exp::BUNDLE_TAIL.as_bytes()),
                    _ => Ok(()),
                };
                count += 1;
                selected = only.is_none_or(|n| n == count);
                let head = if !selected {
                    Ok(())
                } else if let Some(c) = &mut checked {
                    let index = only.map_or(count, |_| 1) - 1;
                    walker = Some(LineWalker::new(true));
                    match c.sessions.get_mut(index) {
                        Some(s) => {
                            let head = exp::bundle_head(
                                &path,
                                s,
                                exp::Part {
                                    number: count,
                                    of: total.unwrap_or(count),
                                    first: index == 0,
                                },
                            );
                            // The head is all the bundle needs of the checked session: its
                            // maildrop goes before the walker builds one of its own.
                            std::mem::take(&mut s.replayed.session.maildrop);
                            out.put(head.as_bytes())
                        }
                        None => Ok(()),
                    }
                } else {
                    out.put(
                        format!(
                            "# {} session {count} recorded against {} (secrets {})\n",
                            popscope_core::sanitize::display(path.as_bytes(), 200),
                            jsonl::shown(&target, 200),
                            jsonl::shown(&secrets, 20),
                        )
                        .as_bytes(),
                    )
                };
                close.and(head)
            }
            jsonl::Streamed::Entry(e) if selected => out.entry(&e, walker.as_mut()),
            _ => Ok(()),
        };
        if let Err(e) = r {
            failed = Some(e);
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    if checked.is_some() && selected {
        out.put(exp::BUNDLE_TAIL.as_bytes())?;
    }
    if let Some(d) = damage {
        return Err(out.damaged(&path, &d));
    }
    out.finish()?;
    match only {
        Some(n) if n == 0 || n > count => Err(CliError::usage(format!(
            "{path}: it holds {}; --session {n} is not one of them",
            plural(count, "session")
        ))),
        Some(n) if count > 1 => {
            eprintln!(
                "popscope: {}: exported session {n} of {count}",
                popscope_core::sanitize::display(path.as_bytes(), 200)
            );
            Ok(exit::OK)
        }
        None if count > 1 => {
            eprintln!(
                "popscope: {}: holds {count} sessions; all are exported (--session N exports one)",
                popscope_core::sanitize::display(path.as_bytes(), 200)
            );
            Ok(exit::OK)
        }
        _ => Ok(exit::OK),
    }
}

/// `check --transcript FILE` (`-` is standard input) and `replay --headless FILE`: re-checks
/// the recording as it is read and prints the report. Returns the exit code: violations give
/// 1; an empty transcript is bad input (nothing was checked).
pub(crate) fn recheck(
    file: &Path,
    config: &Config,
    only: Option<usize>,
    json: bool,
) -> Result<u8, CliError> {
    let path = if file.as_os_str() == "-" {
        "(standard input)".to_owned()
    } else {
        file.display().to_string()
    };
    let input = source::open(file)
        .map_err(|e| CliError::usage(format!("cannot read transcript {path}: {e}")))?;
    let checking =
        source::check(input, config, only).map_err(|e| CliError::usage(format!("{path}: {e}")))?;
    if checking.data() == 0 {
        return Err(CliError::usage(match &checking.damage {
            Some(d) => format!("{path}: {d}"),
            None if checking.entries() > 0 => format!(
                "{path}: only events (tls, closed, ...), no client or server data: nothing to check"
            ),
            None => format!("{path}: no C:/S: lines or recorded data in it: nothing to check"),
        }));
    }
    let mut out = Output::open(None, false)?;
    out.put(render(&path, &checking, json)?.as_bytes())?;
    out.finish()?;
    if let Some(d) = checking.damage {
        return Err(CliError::usage(format!("{path}: {d}")));
    }
    let all = checking
        .sessions
        .iter()
        .fold(Tally::default(), |t, s| t.and(&s.replayed.tally()));
    Ok(exit::verdict(&all))
}

fn render(path: &str, c: &Checking, json: bool) -> Result<String, CliError> {
    if json {
        let mut all: Vec<serde_json::Value> = c
            .sessions
            .iter()
            .map(|s| {
                let mut v = report::transcript_json(path, &s.replayed);
                if let (Some(o), Some(target), Some(secrets)) =
                    (v.as_object_mut(), &s.target, &s.secrets)
                {
                    o.insert("target".into(), serde_json::json!(target));
                    o.insert("secrets".into(), serde_json::json!(secrets));
                }
                v
            })
            .collect();
        let v = if all.len() == 1 {
            all.remove(0)
        } else {
            serde_json::json!({ "sessions": all })
        };
        let s = serde_json::to_string_pretty(&v)
            .map_err(|e| CliError::usage(format!("cannot render JSON: {e}")))?;
        return Ok(format!("{s}\n"));
    }
    let mut text = String::new();
    for s in &c.sessions {
        if let Some(target) = &s.target {
            text.push_str(&format!(
                "# session recorded against {}\n",
                jsonl::shown(target, 200)
            ));
        }
        text.push_str(&report::transcript_text(path, &s.replayed, b""));
    }
    Ok(text)
}
