//! Connection and credential options shared by `check`, `send` and the TUI.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use clap::builder::TypedValueParser;

use crate::check::{PlaintextLogin, WalkOptions};
use crate::session::login::{Credentials, Method};
use crate::session::{ConnectOptions, Note, Observer};
use crate::transport::{Scheme, Target, TlsSettings, TransportError};
use popscope_core::oauth::SaslForm;
use popscope_core::{Config, Secret, Time};

use super::CliError;
pub(crate) use crate::transcript::jsonl::RecordFile;

#[derive(Clone, Debug, Default, Args)]
pub struct ConnArgs {
    /// Upgrade a pop3:// connection with STLS (RFC 2595); stops before any credential if STLS
    /// is not offered or fails.
    #[arg(long)]
    pub starttls: bool,
    /// Trust the CA certificates in this PEM file (besides the system's).
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Do not verify the server certificate (shown loudly everywhere).
    #[arg(long)]
    pub insecure: bool,
    /// The TLS server name to send and verify (default: the host).
    #[arg(long, value_name = "NAME")]
    pub sni: Option<String>,
    /// Present this client certificate (PEM), e.g. for SASL EXTERNAL.
    #[arg(long, value_name = "PEM", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, value_name = "PEM", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// Seconds to wait for the connection and the TLS handshake.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, allow_hyphen_values = true,
          value_parser = super::numbers::timeout_seconds())]
    pub connect_timeout: u64,
    /// Seconds to wait for each reply.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, allow_hyphen_values = true,
          value_parser = super::numbers::timeout_seconds())]
    pub timeout: u64,
    /// Log in as this user.
    #[arg(long)]
    pub user: Option<String>,
    /// Read the password from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Read the password from the first line of this file.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// How to log in.
    #[arg(long, value_enum, default_value_t = Method::Auto)]
    pub login: Method,
    /// Read an OAuth 2.0 bearer token (XOAUTH2, OAUTHBEARER) from this environment variable.
    #[arg(long, value_name = "VAR", group = "token")]
    pub token_env: Option<String>,
    /// Read the bearer token from the first line of this file.
    #[arg(long, value_name = "FILE", group = "token")]
    pub token_file: Option<PathBuf>,
    /// Run this command (split at blanks, no shell; stdin closed; 30 s at most) and take its
    /// first output line as the bearer token, e.g. `pizauth show NAME`.
    #[arg(long, value_name = "CMD", group = "token")]
    pub token_command: Option<String>,
    /// Where a token's initial response goes (RFC 5034 §4).
    #[arg(long, value_name = "FORM", default_value = "auto", value_parser = sasl_forms())]
    pub sasl_form: SaslForm,
    /// Record the session as JSON Lines, streamed and flushed as it goes (secrets redacted).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Keep passwords and SASL data in the recording (the header says so).
    #[arg(long, requires = "record")]
    pub record_secrets: bool,
    /// Keep at most this many octets of each message body in the recording (a marker says
    /// how many were left out; the checks still see every octet).
    #[arg(long, value_name = "BYTES", requires = "record", allow_hyphen_values = true,
          value_parser = super::numbers::in_range(0u64, u64::MAX, "octets"))]
    pub max_body: Option<u64>,
    /// Replace the --record file (with `check --targets`, also the --junit file) if it
    /// exists; a symbolic link is still refused.
    // Not `requires = "record"`: `check --targets --junit FILE --force` replaces a file
    // without recording, so which file it needs is told by `force_needs` below.
    #[arg(long)]
    pub force: bool,
}

/// `--sasl-form`'s spellings, each with what it does.
fn sasl_forms() -> impl TypedValueParser<Value = SaslForm> {
    use clap::builder::{PossibleValue, PossibleValuesParser};
    PossibleValuesParser::new([
        PossibleValue::new("auto").help(
            "On the AUTH line when that stays within 255 octets (RFC 5034 §4), else on its own line",
        ),
        PossibleValue::new("one-line").help("On the AUTH line: AUTH MECH <base64>"),
        PossibleValue::new("two-line")
            .help("AUTH MECH, then the response after the server's `+ ` (what Office 365 wants)"),
    ])
    .map(|s| SaslForm::parse(&s).unwrap_or_default())
}

impl ConnArgs {
    pub(crate) fn tls(&self) -> TlsSettings {
        TlsSettings {
            ca_file: self.ca_file.clone(),
            insecure: self.insecure,
            sni: self.sni.clone(),
            client_cert: self.client_cert.clone(),
            client_key: self.client_key.clone(),
        }
    }

    pub fn options(&self, target: &Target, scheme: Scheme, engine: Config) -> ConnectOptions {
        ConnectOptions {
            target: target.clone(),
            scheme,
            tls: self.tls(),
            connect_timeout: Duration::from_secs(self.connect_timeout.max(1)),
            read_timeout: Duration::from_secs(self.timeout.max(1)),
            engine,
        }
    }

    /// The options of a walk of `target` with these arguments: how to connect, STLS, the
    /// login; what the walk does at its defaults (active probes and their connections, RETR,
    /// no DELE, no watcher, a login in the clear allowed).
    pub fn walk(
        &self,
        target: &Target,
        scheme: Scheme,
        engine: Config,
        creds: Option<Credentials>,
    ) -> WalkOptions {
        WalkOptions {
            connect: self.options(target, scheme, engine),
            starttls: self.starttls,
            login: self.login,
            creds,
            passive: false,
            probe_connections: true,
            no_retr: false,
            allow_delete: false,
            extra: Vec::new(),
            injection_wait: Duration::from_secs(2),
            watch: None,
            plaintext_login: PlaintextLogin::Allow,
        }
    }

    /// The credentials, if a login was asked for. Passwords never come from argv.
    pub(crate) fn credentials(&self) -> Result<Option<Credentials>, CliError> {
        // A CR, LF or NUL in a credential would end its line early: the rest would be a command.
        if let Some(u) = &self.user
            && u.contains(['\r', '\n', '\0'])
        {
            return Err(CliError::usage(format!(
                "--user '{}': a CR, LF or NUL would end the POP3 line early and send the rest as a command",
                popscope_core::sanitize::display(u.as_bytes(), 60)
            )));
        }
        if self.login == Method::External {
            // EXTERNAL needs no user name: the client certificate says who (`AUTH EXTERNAL =`).
            return Ok(Some(Credentials {
                user: self.user.clone().unwrap_or_default(),
                ..Credentials::default()
            }));
        }
        let token = self.token()?;
        let Some(user) = self.user.clone() else {
            if token.is_some() {
                return Err(CliError::usage(
                    "a token needs --user: the user name goes into the XOAUTH2 and OAUTHBEARER response",
                ));
            }
            return Ok(None);
        };
        let password_given = self.password_env.is_some() || self.password_file.is_some();
        if token.is_some() && !password_given {
            return Ok(Some(Credentials {
                user,
                token,
                sasl_form: self.sasl_form,
                ..Credentials::default()
            }));
        }
        let password = if let Some(var) = &self.password_env {
            let v = std::env::var(var).map_err(|_| {
                CliError::usage(format!("--password-env {var}: the variable is not set"))
            })?;
            v.into_bytes()
        } else if let Some(path) = &self.password_file {
            let text = std::fs::read(path)
                .map_err(|e| CliError::usage(format!("--password-file {}: {e}", path.display())))?;
            let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
            first.strip_suffix(b"\r").unwrap_or(first).to_vec()
        } else if std::io::stdin().is_terminal() {
            rpassword::prompt_password(format!("password for {user}: "))
                .map_err(|e| CliError::usage(format!("cannot read the password: {e}")))?
                .into_bytes()
        } else {
            return Err(CliError::usage(
                "--user needs a password: --password-env VAR, --password-file FILE, or run in a terminal to be asked",
            ));
        };
        if password.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            // Never shown: it is the password.
            return Err(CliError::usage(
                "the password holds a CR, LF or NUL: it would end the POP3 line early and send the rest as a command",
            ));
        }
        Ok(Some(Credentials {
            user,
            password: Some(Secret::new(password)),
            token,
            sasl_form: self.sasl_form,
        }))
    }

    /// The bearer token, if a --token-* option names one; `--login xoauth2|oauthbearer`
    /// without one is a usage error (there is no prompt for a token).
    fn token(&self) -> Result<Option<Secret>, CliError> {
        let token = if let Some(var) = &self.token_env {
            Some(super::token::from_env(var)?)
        } else if let Some(path) = &self.token_file {
            Some(super::token::from_file(path)?)
        } else if let Some(cmd) = &self.token_command {
            Some(super::token::from_command(
                cmd,
                super::token::COMMAND_TIMEOUT,
            )?)
        } else {
            None
        };
        if token.is_none() && self.login.mechanism().is_some() {
            return Err(CliError::usage(format!(
                "--login {}: a token is needed (--token-env VAR, --token-file FILE or --token-command CMD)",
                self.login
                    .label()
                    .trim_start_matches("AUTH ")
                    .to_lowercase()
            )));
        }
        Ok(token)
    }
}

impl ConnArgs {
    /// --force without a file it could replace is a mistake of the command line, told before
    /// anything connects: `others` is whether the command has another file it replaces.
    pub fn force_needs(&self, files: &str, others: bool) -> Result<(), CliError> {
        if self.force && self.record.is_none() && !others {
            return Err(CliError::usage(format!(
                "--force replaces an existing {files} file: give {files} FILE too"
            )));
        }
        Ok(())
    }

    /// The record file, if --record was given.
    pub(crate) fn record_file(&self) -> Result<Option<RecordFile>, CliError> {
        self.record
            .as_deref()
            .map(|p| {
                RecordFile::create(p, self.force)
                    .map_err(|e| CliError::usage(format!("--record: {e}")))
            })
            .transpose()
    }
}

/// Ends a run that recorded: its own result, unless the recording failed on the way (a full
/// disk, an I/O error, the final sync). Then exit 2 with one line, after the report was
/// printed: a recording that silently stops short is worse than none.
pub(crate) fn finish_record(
    record: Option<&RecordFile>,
    result: Result<u8, CliError>,
) -> Result<u8, CliError> {
    let Some(Err(e)) = record.map(RecordFile::finish) else {
        return result;
    };
    match result {
        Ok(_) => Err(CliError::usage(format!("--record: {e}"))),
        // The run's own failure keeps its exit code; the line says both.
        Err(mut run) => {
            run.message = format!("{}; and --record: {e}", run.message);
            Err(run)
        }
    }
}

/// Says a session's warnings ([`Note::Warning`]: a password about to go in the clear) as
/// they come, on stderr, and keeps them for a JSON report's `notes` (with `stderr` off, stdout
/// stays one JSON object and stderr stays quiet).
#[derive(Clone, Default)]
pub(crate) struct Warnings {
    pub(crate) stderr: bool,
    pub(crate) said: Arc<Mutex<Vec<String>>>,
}

impl Warnings {
    pub(crate) fn new(stderr: bool) -> Self {
        Warnings {
            stderr,
            said: Arc::default(),
        }
    }

    /// What was said so far.
    pub(crate) fn said(&self) -> Vec<String> {
        self.said.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Observer for Warnings {
    fn note(&mut self, _at: Time, note: &Note) {
        if let Note::Warning(text) = note {
            if self.stderr {
                eprintln!("popscope: warning: {text}");
            }
            if let Ok(mut v) = self.said.lock() {
                v.push(text.clone());
            }
        }
    }
}

/// Maps a transport failure to the one-line error and its exit code.
pub(crate) fn transport_error(e: TransportError) -> CliError {
    CliError {
        code: super::exit::of_failure(&e),
        message: e.to_string(),
    }
}
