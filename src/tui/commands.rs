//! The `:` commands, as data: completion, the help screen and dispatch all read this table, so
//! a new command is one row here and one arm where it is carried out.

/// What a `:` command does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cmd {
    Save,
    SaveReplace,
    StartTls,
    Auth,
    Reconnect,
    Theme,
    Help,
    Quit,
}

pub struct AppCommand {
    pub name: &'static str,
    /// Other names it answers to (not completed, not listed).
    pub(crate) aliases: &'static [&'static str],
    /// What its argument is, for help ("FILE"); None when it takes none.
    pub(crate) arg: Option<&'static str>,
    pub(crate) desc: &'static str,
    /// Offered by Tab (`:save!` is not: replacing a file is typed on purpose).
    pub(crate) completes: bool,
    pub(crate) cmd: Cmd,
}

const fn c(
    name: &'static str,
    arg: Option<&'static str>,
    desc: &'static str,
    completes: bool,
    cmd: Cmd,
) -> AppCommand {
    AppCommand {
        name,
        aliases: &[],
        arg,
        desc,
        completes,
        cmd,
    }
}

pub const COMMANDS: &[AppCommand] = &[
    c(
        "save",
        Some("FILE"),
        "save (secrets redacted)",
        true,
        Cmd::Save,
    ),
    c(
        "save!",
        Some("FILE"),
        "save, replacing FILE",
        false,
        Cmd::SaveReplace,
    ),
    c(
        "starttls",
        None,
        "STLS and TLS handshake",
        true,
        Cmd::StartTls,
    ),
    c(
        "auth",
        Some("MECH"),
        "XOAUTH2 or OAUTHBEARER with the token",
        true,
        Cmd::Auth,
    ),
    c("reconnect", None, "a new connection", true, Cmd::Reconnect),
    c("theme", Some("NAME"), "colour theme", true, Cmd::Theme),
    c("help", None, "this screen", true, Cmd::Help),
    AppCommand {
        aliases: &["q"],
        ..c("quit", None, "leave", true, Cmd::Quit)
    },
];

impl AppCommand {
    /// As help and messages write it: `:save FILE`.
    pub fn usage(&self) -> String {
        match self.arg {
            Some(a) => format!(":{} {a}", self.name),
            None => format!(":{}", self.name),
        }
    }

    /// What Tab puts on the line: a space follows a command that takes an argument.
    pub(crate) fn completion(&self) -> String {
        format!(
            ":{}{}",
            self.name,
            if self.arg.is_some() { " " } else { "" }
        )
    }
}

/// The command typed as `name`, by its name or an alias.
pub(crate) fn find(name: &str) -> Option<&'static AppCommand> {
    COMMANDS
        .iter()
        .find(|c| c.name == name || c.aliases.contains(&name))
}

/// Every command's usage, for the message after an unknown one.
pub(crate) fn usages() -> String {
    COMMANDS
        .iter()
        .map(AppCommand::usage)
        .collect::<Vec<_>>()
        .join(", ")
}
