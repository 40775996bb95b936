//! `popscope man`: one man page per subcommand, generated from the CLI definition, plus the
//! sections clap does not know (exit status, environment, files, see also). The main page names
//! `popscope-check(1)` and the others, so `--dir` writes every one of them.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use super::{Cli, CliError, ManArgs, exit};
use crate::private_file::{self, Existing};

const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "Done; no violation found."),
    ("1", "At least one violation was found."),
    (
        "2",
        "Usage, configuration or input error; one line on standard error names the problem.",
    ),
    (
        "3",
        "No connection, or it broke: refused, reset, DNS failure, timeout.",
    ),
    (
        "4",
        "TLS failed: certificate, plaintext on a TLS port, TLS 1.0/1.1 only, --starttls without STLS, or the TLS session broke off.",
    ),
];

const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "SSLKEYLOGFILE",
        "Write TLS session keys to this file, so Wireshark can decrypt a session.",
    ),
    (
        "NO_COLOR",
        "When set and not empty, the UI uses no colours (emphasis stays).",
    ),
    (
        "SSL_CERT_FILE, SSL_CERT_DIR",
        "Where the system's trusted CA certificates are read from (besides --ca-file).",
    ),
    (
        "XDG_CONFIG_HOME",
        "Where config.toml and keys.toml are looked for (default ~/.config).",
    ),
    (
        "XDG_DATA_HOME",
        "Where the command history is kept (default ~/.local/share).",
    ),
    (
        "HOME",
        "The base of the defaults above when the XDG variables are not set.",
    ),
];

const FILES: &[(&str, &str)] = &[
    (
        "$XDG_CONFIG_HOME/popscope/config.toml",
        "Settings: theme = \"light\", confirm_dele = false. A broken file, or a key it does not know, is an error naming its line.",
    ),
    (
        "$XDG_CONFIG_HOME/popscope/keys.toml",
        "Key bindings, e.g. \"transcript.quit\" = [\"q\", \"x\"].",
    ),
    (
        "$XDG_DATA_HOME/popscope/history",
        "The UI's command history (mode 0600; passwords, APOP digests and SASL data are never stored).",
    ),
];

/// Text for a roff line: backslashes doubled, a leading dot or quote made harmless.
fn roff_text(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

fn section(out: &mut Vec<u8>, title: &str, items: &[(&str, &str)]) {
    let _ = writeln!(out, ".SH \"{title}\"");
    for (term, text) in items {
        let _ = writeln!(out, ".TP\n\\fB{}\\fR\n{}", roff_text(term), roff_text(text));
    }
}

/// The whole page for `cmd` (the top-level command or one of its subcommands, already built).
fn page(cmd: &clap::Command, top: &clap::Command) -> Result<Vec<u8>, CliError> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render(&mut out)
        .map_err(|e| CliError::usage(format!("cannot render the man page: {e}")))?;
    section(&mut out, "EXIT STATUS", EXIT_STATUS);
    section(&mut out, "ENVIRONMENT", ENVIRONMENT);
    section(&mut out, "FILES", FILES);
    let see_also: Vec<String> = if std::ptr::eq(cmd, top) {
        visible(top)
            .map(|s| format!("\\fB{}\\fR(1)", page_name(s)))
            .collect()
    } else {
        vec!["\\fBpopscope\\fR(1)".to_owned()]
    };
    let _ = writeln!(out, ".SH \"SEE ALSO\"\n{}", see_also.join(", "));
    Ok(out)
}

fn visible(top: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    top.get_subcommands().filter(|s| !s.is_hide_set())
}

fn page_name(sub: &clap::Command) -> String {
    sub.get_display_name()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("popscope-{}", sub.get_name()))
}

fn built() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

pub fn run(args: &ManArgs) -> Result<u8, CliError> {
    let top = built();
    if let Some(dir) = &args.dir {
        return write_all(&top, dir, args.force);
    }
    let cmd = match &args.subcommand {
        None => &top,
        Some(name) => top.find_subcommand(name).ok_or_else(|| {
            let names: Vec<&str> = visible(&top).map(|s| s.get_name()).collect();
            CliError::usage(format!(
                "no subcommand '{}' (one of: {})",
                popscope_core::sanitize::display(name.as_bytes(), 40),
                names.join(", ")
            ))
        })?,
    };
    let bytes = page(cmd, &top)?;
    std::io::stdout()
        .lock()
        .write_all(&bytes)
        .map_err(|e| CliError::usage(format!("cannot write the man page: {e}")))?;
    Ok(exit::OK)
}

/// `popscope.1` and one `popscope-NAME.1` per subcommand, so every page the main one names exists.
fn write_all(top: &clap::Command, dir: &Path, force: bool) -> Result<u8, CliError> {
    let existing = if force {
        Existing::Replace
    } else {
        Existing::Refuse
    };
    let refused = |p: &Path, e: std::io::Error| CliError::usage(private_file::explain(p, &e));
    let mut pages = vec![("popscope".to_owned(), top)];
    pages.extend(visible(top).map(|s| (page_name(s), s)));
    // Every page is rendered and its file checked before any is written: a refusal writes none.
    let mut out = Vec::new();
    for (name, cmd) in pages {
        out.push((dir.join(format!("{name}.1")), page(cmd, top)?));
    }
    private_file::check_dir(dir).map_err(|e| refused(dir, e))?;
    for (path, _) in &out {
        private_file::check(path, existing).map_err(|e| refused(path, e))?;
    }
    private_file::create_dir(dir).map_err(|e| refused(dir, e))?;
    for (path, bytes) in out {
        private_file::open(&path, existing)
            .and_then(|mut f| f.write_all(&bytes).and_then(|_| f.sync_all()))
            .map_err(|e| refused(&path, e))?;
    }
    Ok(exit::OK)
}
