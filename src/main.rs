use std::io::Write as _;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use popscope::cli::{self, Cli, Command};

/// Bad usage in one line (clap's own message without its usage block), exit 2; help and
/// version print as clap prints them.
fn parse() -> Result<Cli, ExitCode> {
    Cli::try_parse().map_err(|e| {
        use clap::error::ErrorKind;
        if matches!(
            e.kind(),
            ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        ) {
            e.exit()
        }
        let message = cli::one_line_usage_error(&e.render().to_string());
        // A monitoring plugin's bad usage is UNKNOWN (3), said on stdout, where the
        // monitoring system reads the one status line.
        if std::env::args_os().any(|a| a == "--nagios") {
            let _ = writeln!(
                std::io::stdout(),
                "POP3 UNKNOWN - {}",
                message.replace('|', "/")
            );
            return ExitCode::from(3);
        }
        eprintln!("popscope: {message}");
        ExitCode::from(cli::exit::USAGE)
    })
}

fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    // Every command but these may hold a password, a SASL payload or a recording with secrets:
    // no core dump of it.
    if !matches!(
        cli.command,
        Some(Command::Man(_) | Command::Completions { .. } | Command::Rules(_))
    ) && let Err(e) = popscope::session::login::forbid_core_dumps()
    {
        eprintln!("popscope: warning: cannot turn core dumps off: {e}");
    }
    let result = match &cli.command {
        None => match &cli.url {
            Some(url) => cli
                .conn
                .force_needs("--record", false)
                .and_then(|()| cli::interactive::run(url, &cli.conn, &cli.ui)),
            None => {
                let _ = Cli::command().print_help();
                Err(cli::CliError::usage(
                    "give a URL to open the UI, or a subcommand (see above)",
                ))
            }
        },
        Some(Command::Demo(args)) => cli::serve::demo(args),
        Some(Command::Check(args)) => cli::check::run(args),
        Some(Command::Send(args)) => cli::send::run(args),
        Some(Command::Serve(args)) => cli::serve::serve(args),
        Some(Command::Proxy(args)) => cli::proxy::run(args),
        Some(Command::Replay(args)) => cli::interactive::replay(args),
        Some(Command::Import(args)) => cli::convert::import(args),
        Some(Command::Export(args)) => cli::convert::export(args),
        Some(Command::Rules(args)) => cli::rules::run(args),
        Some(Command::Completions { shell }) => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "popscope",
                &mut std::io::stdout(),
            );
            Ok(cli::exit::OK)
        }
        Some(Command::Man(args)) => cli::man::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // Not eprintln!: it panics when stderr is a terminal that has gone away.
            let _ = writeln!(std::io::stderr(), "popscope: {e}");
            ExitCode::from(e.code)
        }
    }
}
