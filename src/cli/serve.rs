//! `popscope serve` and `popscope demo`.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::private_file::Existing;
use crate::server::{self, ServeOptions, TlsMode};
use crate::session::login::{Credentials, Method};
use crate::transport::{Scheme, Target};
use popscope_core::inject::{Fault, Leg};
use popscope_core::server::{Login, Quirk, QuirkInfo, Transport};

use super::connect::ConnArgs;
use super::{CliError, DemoArgs, ServeArgs, exit, quirk};
use crate::check::{self, WalkOptions};

pub(crate) const DEMO_USER: &str = "demo";
pub(crate) const DEMO_PASSWORD: &str = "demo";

pub fn serve(args: &ServeArgs) -> Result<u8, CliError> {
    if args.list_quirks {
        print!("{}", server::quirk_table());
        return Ok(exit::OK);
    }
    let existing = if args.force {
        Existing::Replace
    } else {
        Existing::Refuse
    };
    if let Some(dir) = &args.write_maildir {
        server::write_maildir(dir, existing)
            .map_err(|e| CliError::usage(format!("--write-maildir {}: {e}", dir.display())))?;
        println!(
            "wrote {} messages to {}",
            popscope_core::server::maildrop::sample().len(),
            dir.display()
        );
        return Ok(exit::OK);
    }
    if let Some(dir) = &args.write_certs {
        let files = server::certs::make(dir, DEMO_USER, existing)
            .map_err(|e| CliError::usage(format!("--write-certs {}: {e}", dir.display())))?;
        println!(
            "wrote {} (CA), server.pem, server-key.pem, {} and {}",
            files.files.ca.display(),
            files.files.client_cert.display(),
            files.files.client_key.display()
        );
        return Ok(exit::OK);
    }
    let (q, inject) = quirk_or_case(args.quirk.as_deref())?;
    let rt = super::runtime()?;
    rt.block_on(async {
        // Listen for the signals before the folder exists: a kill right after the CA path is
        // printed must still find the handlers, return here and drop the server with it.
        let mut stop = Stop::new()?;
        let (reports, mut judged) = tokio::sync::mpsc::unbounded_channel();
        let reports = args.check_client.then_some(reports);
        let (running, _, _) =
            start_demo(args.port, args.tls, q, inject, reports, args.timeout).await?;
        // Under --json stdout carries the reports alone.
        let mut out: Box<dyn Write> = if args.json {
            Box::new(std::io::stderr().lock())
        } else {
            Box::new(std::io::stdout().lock())
        };
        let _ = write!(out, "{}", server::describe(&running));
        if let Some(q) = q {
            let _ = writeln!(out, "quirk: {} — {}", q.name(), q.description());
        }
        if let Some(f) = inject {
            let row = f.case.info();
            let _ = writeln!(
                out,
                "client case: {} — {}; a safe client {}",
                f.label(),
                row.served,
                row.safe_client
            );
            if let Some(need) = leg_missing(row.leg, args.tls) {
                let _ = writeln!(out, "note: {} acts {need}", f.label());
            }
        }
        let _ = writeln!(
            out,
            "try: popscope check {} --user demo --password-env DEMO_PASSWORD{}",
            running.url(),
            ca_hint(&running)
        );
        if tokens_offered(args.tls, q) {
            // The token goes under TLS only: on the STLS port, after STLS.
            let starttls = if args.tls == TlsMode::Starttls {
                " --starttls"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                " or: popscope check {} --user demo --token-env DEMO_TOKEN{starttls}{}",
                running.url(),
                ca_hint(&running)
            );
        }
        if args.check_client {
            let _ = writeln!(
                out,
                "judging every client that connects{}",
                if args.once { " (one connection)" } else { "" }
            );
        }
        let _ = writeln!(out, "Ctrl-C stops the server.");
        let _ = out.flush();
        drop(out);
        // Ctrl-C, SIGTERM and SIGHUP are the ways a server is stopped: exit 0, and the
        // certificate folder goes with `running`.
        let code = loop {
            tokio::select! {
                _ = stop.wait() => break exit::OK,
                Some(report) = judged.recv() => {
                    report.print(args.json);
                    if args.once {
                        break if report.client_violated() { exit::VIOLATIONS } else { exit::OK };
                    }
                }
            }
        };
        drop(running);
        Ok(code)
    })
}

/// Ctrl-C, SIGTERM and SIGHUP, caught so that the demo server and its certificate folder are
/// dropped on the way out instead of the process dying where it stands.
pub(crate) struct Stop {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl Stop {
    /// Installs the handlers (inside the runtime).
    pub(crate) fn new() -> Result<Stop, CliError> {
        let on = |kind: SignalKind| {
            signal(kind).map_err(|e| CliError::usage(format!("cannot handle signals: {e}")))
        };
        Ok(Stop {
            int: on(SignalKind::interrupt())?,
            term: on(SignalKind::terminate())?,
            hup: on(SignalKind::hangup())?,
        })
    }

    /// The first signal to arrive, as the error that ends an interrupted run: the shell's
    /// code for it (128 + the signal's number).
    pub(crate) async fn wait(&mut self) -> CliError {
        let (name, number) = tokio::select! {
            _ = self.int.recv() => ("SIGINT", libc::SIGINT),
            _ = self.term.recv() => ("SIGTERM", libc::SIGTERM),
            _ = self.hup.recv() => ("SIGHUP", libc::SIGHUP),
        };
        CliError {
            code: u8::try_from(128 + number).unwrap_or(u8::MAX),
            message: format!("stopped by {name}"),
        }
    }
}

/// `serve --quirk NAME`: a server quirk (its name wins: `stls-response-injection` is the
/// server's own quirk, which sends what the client case of that name does), else a client
/// case.
fn quirk_or_case(name: Option<&str>) -> Result<(Option<Quirk>, Option<Fault>), CliError> {
    let Some(name) = name else {
        return Ok((None, None));
    };
    if let Some(q) = Quirk::parse(name) {
        return Ok((Some(q), None));
    }
    Fault::parse(name)
        .map(|f| (None, Some(f)))
        .map_err(CliError::usage)
}

/// What a client case needs that `--tls` does not give it, if anything.
fn leg_missing(leg: Leg, tls: TlsMode) -> Option<&'static str> {
    match (leg, tls) {
        (Leg::Starttls, TlsMode::Starttls) | (Leg::Any, _) => None,
        (Leg::Tls, TlsMode::None) => Some("under TLS only: use --tls starttls or implicit"),
        (Leg::Tls, _) => None,
        (Leg::Starttls, _) => Some("around STLS: use --tls starttls"),
    }
}

/// Whether the demo server offers XOAUTH2 and OAUTHBEARER on this transport: under TLS, and
/// in the clear only with the quirk that does so.
fn tokens_offered(tls: TlsMode, q: Option<Quirk>) -> bool {
    tls != TlsMode::None || q.is_some_and(|q| q.info().login == Login::Token)
}

fn ca_hint(r: &server::Running) -> String {
    if r.tls == TlsMode::None {
        String::new()
    } else {
        format!(" --ca-file {}", r.certs.ca.display())
    }
}

/// How the demo reaches the server: the quirk's row, or STLS and a password for the
/// conformant one.
struct Setup {
    row: Option<&'static QuirkInfo>,
    tls: TlsMode,
    client_cert: bool,
    method: Method,
}

fn demo_setup(q: Option<Quirk>) -> Setup {
    let row = q.map(Quirk::info);
    Setup {
        row,
        tls: row.map_or(Transport::Starttls, |r| r.transport).into(),
        client_cert: row.is_some_and(|r| r.client_cert),
        method: row.map_or(Method::Auto, |r| r.login.into()),
    }
}

/// Starts the demo server on loopback (port 0: a free one); returns it with the URL to reach it.
async fn start_demo(
    port: u16,
    tls: TlsMode,
    q: Option<Quirk>,
    inject: Option<Fault>,
    reports: Option<tokio::sync::mpsc::UnboundedSender<crate::report::ConnectionReport>>,
    idle_seconds: Option<u64>,
) -> Result<(server::Running, Target, Scheme), CliError> {
    let opts = ServeOptions {
        port,
        tls,
        quirk: q,
        user: DEMO_USER.into(),
        password: DEMO_PASSWORD.into(),
    };
    let started = match idle_seconds {
        Some(secs) => server::start_idle(opts, inject, reports, Duration::from_secs(secs)).await,
        None => server::start_with(opts, inject, reports).await,
    };
    let running = started.map_err(|e| CliError {
        code: exit::CONNECT,
        message: format!("cannot start the demo server on port {port}: {e}"),
    })?;
    let target = Target::parse(&running.url()).map_err(CliError::usage)?;
    let scheme = target.scheme.unwrap_or(Scheme::Pop3);
    Ok((running, target, scheme))
}

/// The demo in the UI: the server in-process, the user at the command line.
fn demo_tui(args: &DemoArgs, q: Option<Quirk>) -> Result<u8, CliError> {
    let Setup {
        row,
        tls,
        client_cert,
        ..
    } = demo_setup(q);
    let theme = super::config::theme(&args.ui)?;
    let keys = super::config::key_table()?;
    let confirm_dele = super::config::confirm_dele()?;
    let rt = super::runtime()?;
    rt.block_on(async {
        let (running, target, scheme) = start_demo(0, tls, q, None, None, None).await?;
        let conn = ConnArgs {
            ca_file: Some(running.certs.ca.clone()),
            client_cert: client_cert.then(|| running.certs.client_cert.clone()),
            client_key: client_cert.then(|| running.certs.client_key.clone()),
            connect_timeout: 5,
            timeout: 10,
            ..ConnArgs::default()
        };
        let hint = match (row.and_then(|r| r.hint.map(|h| (r.name, h))), tls) {
            (Some((name, hint)), _) => format!("demo (quirk {name}): {hint}"),
            (None, TlsMode::Starttls) => "demo server: user demo, password demo — try CAPA, :starttls, USER demo, PASS demo, LIST, RETR 1, QUIT (? for help)".to_owned(),
            _ => "demo server: user demo, password demo — try CAPA, USER demo, PASS demo, LIST, RETR 1, QUIT (? for help)".to_owned(),
        };
        let opts = crate::tui::TuiOptions {
            label: format!("{} (demo{})", target.url(scheme), q.map(|q| format!(", quirk {}", q.name())).unwrap_or_default()),
            plan: crate::session::task::Plan {
                options: conn.options(&target, scheme, popscope_core::Config::default()),
                starttls: false,
                creds: None,
                method: Method::Auto,
            },
            theme,
            keys,
            greeting_hint: Some(hint),
            transcript_printer: super::printer::for_tui,
            confirm_dele,
            record: None,
        };
        crate::tui::run(opts).await.map_err(|e| CliError::usage(format!("terminal: {e}")))?;
        drop(running);
        Ok(exit::OK)
    })
}

/// Starts the demo server in-process and walks a session against it, printing the wire
/// transcript and then the findings. (The TUI takes this place once it exists.)
pub fn demo(args: &DemoArgs) -> Result<u8, CliError> {
    let q = quirk(args.quirk.as_deref())?;
    // A broken --theme (or config theme) is bad usage headless too, not silently ignored.
    super::config::theme(&args.ui)?;
    let interactive = !args.headless && super::config::require_terminal().is_ok();
    if interactive {
        return demo_tui(args, q);
    }
    let Setup {
        row,
        tls,
        client_cert,
        method,
    } = demo_setup(q);
    let rt = super::runtime()?;
    rt.block_on(async {
        let mut stop = Stop::new()?;
        let (running, target, scheme) = start_demo(0, tls, q, None, None, None).await?;
        println!(
            "# popscope demo: the built-in POP3 server on {}{}",
            running.url(),
            q.map(|q| format!(", quirk {} ({})", q.name(), q.description()))
                .unwrap_or_default()
        );
        let conn = ConnArgs {
            starttls: tls == TlsMode::Starttls,
            ca_file: Some(running.certs.ca.clone()),
            client_cert: client_cert.then(|| running.certs.client_cert.clone()),
            client_key: client_cert.then(|| running.certs.client_key.clone()),
            connect_timeout: 5,
            timeout: 10,
            user: Some(DEMO_USER.into()),
            login: method,
            ..ConnArgs::default()
        };
        let show: Arc<Mutex<Box<dyn Write + Send>>> =
            Arc::new(Mutex::new(Box::new(std::io::stdout())));
        let token = row.is_some_and(|r| r.login == Login::Token);
        let creds = Credentials {
            user: DEMO_USER.into(),
            password: Some(popscope_core::Secret::new(
                DEMO_PASSWORD.as_bytes().to_vec(),
            )),
            token: token
                .then(|| popscope_core::Secret::new(server::DEMO_TOKEN.as_bytes().to_vec())),
            ..Credentials::default()
        };
        let watchers = super::check::Watchers {
            show: Some(show),
            record: None,
            record_secrets: false,
            max_body: None,
        };
        let walk = check::walk::run(WalkOptions {
            probe_connections: row.is_some_and(|r| r.injection_probe),
            // A DELE among them is undone by the walk's RSET, and only touches the demo's own
            // maildrop.
            extra: row
                .map(|r| r.extra.iter().map(|c| c.to_string()).collect())
                .unwrap_or_default(),
            injection_wait: Duration::from_millis(500),
            watch: Some(Arc::new(watchers)),
            ..conn.walk(
                &target,
                scheme,
                popscope_core::Config::default(),
                Some(creds),
            )
        });
        // A signal ends the walk here, so the server and its folder are dropped on the way out.
        let result = tokio::select! {
            r = walk => r.map_err(super::connect::transport_error)?,
            e = stop.wait() => return Err(e),
        };
        let transport = match tls {
            TlsMode::Implicit => popscope_core::Security::ImplicitTls,
            TlsMode::Starttls => popscope_core::Security::Stls,
            TlsMode::None => popscope_core::Security::Plain,
        };
        let runs = [crate::report::LiveRun {
            url: target.url(scheme),
            transport,
            result: &result,
        }];
        print!("\n{}", crate::report::live_text(&runs, &[]));
        drop(running);
        // The exit-code contract of `check`: 1 when the walk found a violation.
        Ok(exit::verdict(&result.tally()))
    })
}
