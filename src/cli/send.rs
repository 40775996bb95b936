//! `popscope send URL CMD...`: send commands in order and print the session with findings.

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::report;
use crate::session::Connection;
use crate::session::login;
use crate::transport::{Scheme, Target};
use popscope_core::{Command, Config, Keyword};

use super::connect::transport_error;
use super::printer::{Gathered, Printer};
use super::{CliError, SendArgs, exit, severity_overrides};
use crate::session::secure::prepare;

fn commands(args: &SendArgs) -> Result<Vec<String>, CliError> {
    let mut cmds = args.commands.clone();
    // The user insisted; say once what that costs. A --script file or --user with
    // --password-env keeps the secret out of the process list.
    // A line after a bare `AUTH mech` is that exchange's SASL response: a secret too.
    let after_auth = |i: usize| {
        i > 0 && {
            let prev = Command::parse(cmds[i - 1].trim().as_bytes(), 0);
            prev.keyword == Keyword::Auth && prev.arg_count() == 1
        }
    };
    if let Some(i) = (0..cmds.len()).find(|&i| {
        popscope_core::redact::history_form(&cmds[i]).trim() != cmds[i].trim() || after_auth(i)
    }) {
        let shown = if after_auth(i) {
            "a SASL response".to_owned()
        } else {
            format!("'{}'", popscope_core::redact::history_form(&cmds[i]))
        };
        eprintln!(
            "popscope: warning: {shown} puts a secret on the command line, where other users can read it (ps, /proc); use --user with --password-env or --script"
        );
    }
    if let Some(path) = &args.script {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::usage(format!("--script {}: {e}", path.display())))?;
        cmds.extend(
            text.lines()
                .map(str::trim_end)
                .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                .map(str::to_owned),
        );
    }
    if cmds.iter().any(|c| c.contains(['\r', '\n'])) {
        return Err(CliError::usage(
            "a command may not contain CR or LF; give one command per argument or line",
        ));
    }
    Ok(cmds)
}

/// After a bare `AUTH mech` has ended (refused before a challenge, or accepted before every
/// response it was given was asked for), the lines left over as its SASL responses are not sent
/// as commands (they hold the secret): the following lines that are no POP3 command are
/// skipped, and one line says so, masked.
fn skip_leftover_sasl_responses(
    cmd: &str,
    cmds: &mut std::iter::Peekable<std::slice::Iter<'_, String>>,
) {
    let auth = Command::parse(cmd.as_bytes(), 0);
    if auth.keyword != Keyword::Auth || auth.arg_count() != 1 {
        return;
    }
    let mut skipped = Vec::new();
    while let Some(line) =
        cmds.next_if(|l| Command::parse(l.as_bytes(), 0).keyword == Keyword::Other)
    {
        skipped.push("*".repeat(line.trim().len()));
    }
    if !skipped.is_empty() {
        eprintln!(
            "popscope: not sent: {} line(s) after '{}' meant as its SASL response ('{}'): the AUTH ended without asking for them",
            skipped.len(),
            popscope_core::sanitize::display(cmd.trim().as_bytes(), 80),
            skipped.join("', '")
        );
    }
}

pub fn run(args: &SendArgs) -> Result<u8, CliError> {
    args.conn.force_needs("--record", false)?;
    let target = Target::parse(&args.url).map_err(CliError::usage)?;
    let Some(scheme) = target.scheme else {
        return Err(CliError::usage(format!(
            "'{}': send needs pop3:// or pop3s://",
            args.url
        )));
    };
    let cmds = commands(args)?;
    let overrides = severity_overrides(&args.severity)?;
    let creds = args.conn.credentials()?;
    let gathered = Arc::new(Mutex::new(Gathered::default()));
    let out: Option<Box<dyn Write + Send>> = if args.json {
        None
    } else {
        // Buffered: stdout would flush at every line; the printer flushes once per read.
        Some(Box::new(std::io::BufWriter::with_capacity(
            1 << 16,
            std::io::stdout(),
        )))
    };
    let printer = Printer::new(out, 0, "send", gathered.clone());
    let mut observers: Vec<Box<dyn crate::session::Observer>> = vec![Box::new(printer)];
    let warnings = super::connect::Warnings::new(!args.json);
    observers.push(Box::new(warnings.clone()));
    let record = args.conn.record_file()?;
    if let Some(rec) = &record {
        observers.push(rec.recorder_with(
            &target.url(scheme),
            args.conn.record_secrets,
            args.conn.max_body,
        ));
    }
    let engine = Config {
        severity_overrides: overrides,
        ..Config::default()
    };
    let options = args.conn.options(&target, scheme, engine);
    let starttls = args.conn.starttls && scheme == Scheme::Pop3;
    let rt = super::runtime()?;
    let mut login_refused = false;
    let result: Result<(), crate::transport::TransportError> = rt.block_on(async {
        let (mut c, _) =
            Connection::open(&options, Box::new(crate::session::Tee(observers))).await?;
        prepare(&mut c, starttls, creds.is_some()).await?;
        if let Some(creds) = &creds {
            let out = login::login(&mut c, args.conn.login, creds).await?;
            if out.challenge.is_some() {
                c.cancel_sasl(out.exchange).await?;
            }
            login_refused = c.engine().state() != popscope_core::State::Transaction;
            // A refused token has said why already (its error challenge, decoded).
            if login_refused && out.token_refusal.is_none() {
                c.warn(format!(
                    "the login as {} was refused: the commands after it ran in AUTHORIZATION",
                    popscope_core::sanitize::display(creds.user.as_bytes(), 60)
                ));
            }
        }
        let mut quit_sent = false;
        let mut cmds = cmds.iter().peekable();
        while let Some(cmd) = cmds.next() {
            if c.is_closed() {
                break;
            }
            let is_quit = Command::parse(cmd.as_bytes(), 0).keyword == Keyword::Quit;
            quit_sent |= is_quit;
            // QUIT waits for the server's close, so how it closes (close_notify?) is judged.
            let out = if is_quit {
                c.quit().await?
            } else {
                c.command(cmd.as_bytes(), 0).await?
            };
            let secs = args.conn.timeout.max(1);
            let hint = " (--timeout sets the wait)";
            if out.timed_out {
                // A late answer would be taken for the next command's: stop here.
                let what = match out.reply {
                    Some(_) => "the rest of the answer",
                    None => "the answer",
                };
                let shown = popscope_core::redact::history_form(cmd);
                return Err(out.timeout_error(
                    format!("waiting for {what} to {shown}"),
                    secs,
                    hint,
                ));
            }
            // While the server waits for a SASL response, the next line is that response (a
            // secret: the engine, the printer and the recorder know it as one), not a command.
            let mut pending = out;
            while pending.challenge.is_some() && !c.is_closed() {
                pending = match cmds.next() {
                    Some(line) => {
                        c.sasl_response(pending.exchange, line.trim().as_bytes())
                            .await?
                    }
                    // Nothing left to answer with.
                    None => c.cancel_sasl(pending.exchange).await?,
                };
                if pending.timed_out {
                    let shown = popscope_core::redact::history_form(cmd);
                    let what = format!("waiting for the answer to the SASL response of {shown}");
                    return Err(pending.timeout_error(what, secs, hint));
                }
            }
            skip_leftover_sasl_responses(cmd, &mut cmds);
        }
        if !args.no_quit && !quit_sent && !c.is_closed() {
            c.quit().await?;
        } else if !c.is_closed() {
            c.close().await;
        }
        Ok(())
    });
    let failure = result.err().map(transport_error);
    let log = gathered
        .lock()
        .map(|mut g| std::mem::take(&mut g.findings))
        .unwrap_or_default();
    let findings = &log.kept;
    if args.json {
        // The findings up to a failure are kept; the failure is said once, in the JSON too.
        let mut v = serde_json::json!({
            "popscope": env!("CARGO_PKG_VERSION"),
            "target": target.url(scheme),
            "summary": log.tally(),
            "findings": findings.iter().map(|(_, f)| report::finding_json(f, None)).collect::<Vec<_>>(),
            "findings_left_out": log.left_out.total(),
        });
        let notes = warnings.said();
        if !notes.is_empty() {
            v["notes"] = serde_json::json!(notes);
        }
        if let Some(f) = &failure {
            v["error"] = serde_json::json!({ "message": f.message, "exit": f.code });
        }
        let _ = writeln!(
            std::io::stdout(),
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        );
    }
    if let Some(f) = failure {
        return super::connect::finish_record(record.as_ref(), Err(f));
    }
    let verdict = exit::verdict(&log.tally()).max(exit::login(login_refused));
    super::connect::finish_record(record.as_ref(), Ok(verdict))
}
