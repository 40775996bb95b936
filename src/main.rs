use std::process::ExitCode;

use clap::Parser;
use popscope::cli::{self, Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Check(args) => cli::check::run(args),
        Command::Rules(args) => cli::rules::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("popscope: {e}");
            ExitCode::from(e.code)
        }
    }
}
