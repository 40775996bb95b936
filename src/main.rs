use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use popscope::cli::{self, Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Demo(args) => cli::serve::demo(args),
        Command::Check(args) => cli::check::run(args),
        Command::Send(args) => cli::send::run(args),
        Command::Serve(args) => cli::serve::serve(args),
        Command::Rules(args) => cli::rules::run(args),
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "popscope",
                &mut std::io::stdout(),
            );
            Ok(cli::exit::OK)
        }
        Command::Man => clap_mangen::Man::new(Cli::command())
            .render(&mut std::io::stdout())
            .map(|_| cli::exit::OK)
            .map_err(|e| cli::CliError::usage(format!("cannot write the man page: {e}"))),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("popscope: {e}");
            ExitCode::from(e.code)
        }
    }
}
