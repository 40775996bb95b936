//! `popscope import` and `popscope export`.

use std::io::Write;

use crate::transcript::{export as exp, import as imp, jsonl};

use super::{CliError, ExportArgs, ExportFormat, ImportArgs, ImportFormat, exit};

fn emit(text: &str, output: Option<&std::path::Path>) -> Result<(), CliError> {
    match output {
        Some(p) => std::fs::write(p, text)
            .map_err(|e| CliError::usage(format!("cannot write {}: {e}", p.display()))),
        None => {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            Ok(())
        }
    }
}

pub fn import(args: &ImportArgs) -> Result<u8, CliError> {
    let path = args.file.display().to_string();
    let bytes = std::fs::read(&args.file)
        .map_err(|e| CliError::usage(format!("cannot read {path}: {e}")))?;
    let result = match args.from {
        ImportFormat::Curl => imp::curl(&String::from_utf8_lossy(&bytes)),
        ImportFormat::Openssl => imp::openssl(&String::from_utf8_lossy(&bytes)),
        ImportFormat::Pcap => imp::pcap(&bytes, args.port),
    };
    let imported = result.map_err(|e| CliError::usage(format!("{path}: {e}")))?;
    let mut text = format!(
        "# imported by popscope {} from {path}\n",
        env!("CARGO_PKG_VERSION")
    );
    for n in &imported.notes {
        text.push_str(&format!("# note: {n}\n"));
    }
    text.push_str(&exp::to_text(&imported.entries));
    emit(&text, args.output.as_deref())?;
    Ok(exit::OK)
}

pub fn export(args: &ExportArgs) -> Result<u8, CliError> {
    let path = args.file.display().to_string();
    let bytes = std::fs::read(&args.file)
        .map_err(|e| CliError::usage(format!("cannot read {path}: {e}")))?;
    if !jsonl::looks_like(&bytes) {
        return Err(CliError::usage(format!(
            "{path}: export reads a JSON Lines recording (--record)"
        )));
    }
    let (s, damage) = jsonl::session(&bytes, args.session)
        .map_err(|e| CliError::usage(format!("{path}: {e}")))?;
    let text = match args.to {
        ExportFormat::Text => format!(
            "# {} recorded against {} (secrets {})\n{}",
            path,
            s.target,
            s.secrets,
            exp::to_text(&s.entries)
        ),
        ExportFormat::Bundle => exp::bundle(&path, &s),
    };
    emit(&text, args.output.as_deref())?;
    match damage {
        Some(d) => Err(CliError::usage(format!(
            "{path}: {d} (everything before it was exported)"
        ))),
        None => Ok(exit::OK),
    }
}
