//! `:auth xoauth2|oauthbearer [one-line|two-line]`: a bearer-token login from the command
//! line's user and token, or a token typed at a masked prompt that never reaches history.
//! The session builds the messages and answers an error challenge ([`crate::session::login`]);
//! this only decides what to ask for.

use popscope_core::Secret;
use popscope_core::oauth::{Mechanism, SaslForm};

use super::{Action, App, Link};
use crate::session::task::OAuthLogin;

const MECHANISMS: [Mechanism; 2] = [Mechanism::XOauth2, Mechanism::OauthBearer];
const FORMS: [SaslForm; 2] = [SaslForm::OneLine, SaslForm::TwoLine];
const TOKEN_ROOM: usize = 8 << 10;
const USAGE: &str = "usage: :auth xoauth2|oauthbearer [one-line|two-line]";

impl App {
    pub(super) fn auth_command(&mut self, arg: &str) -> Vec<Action> {
        let mut words = arg.split_whitespace();
        let mechanism = words.next().and_then(Mechanism::parse);
        let form = words.next().map(SaslForm::parse);
        let (Some(mechanism), None | Some(Some(SaslForm::OneLine | SaslForm::TwoLine)), None) =
            (mechanism, form, words.next())
        else {
            return self.say(USAGE);
        };
        let form = form.flatten();
        let name = mechanism.name();
        if !self.configured.user {
            return self.say(&format!(
                "AUTH {name} needs a user name: start popscope with --user NAME"
            ));
        }
        if !matches!(self.link, Link::Up) {
            return self.say("not connected: :reconnect first");
        }
        if !self.state.is_authorization() {
            return self.say(&format!(
                "AUTH is for the AUTHORIZATION state; the session is in {}",
                self.state.name()
            ));
        }
        if self.secret_mode() {
            return self.say("an AUTH exchange is open: answer its challenge (or * to cancel)");
        }
        if !self.configured.token {
            self.token_prompt = Some((mechanism, form));
            // Room for a large token (Microsoft's pass 2 KB), so typing it never moves the
            // text and leaves a copy behind in freed memory.
            self.line.set(String::with_capacity(TOKEN_ROOM));
            self.message = Some((
                format!("the token for AUTH {name} (masked, never kept; Esc cancels)"),
                false,
            ));
            return Vec::new();
        }
        self.oauth_login(mechanism, form, None)
    }

    /// The line submitted at the token prompt: the token itself.
    pub(super) fn token_typed(&mut self, typed: String) -> Vec<Action> {
        let Some((mechanism, form)) = self.token_prompt.take() else {
            return Vec::new();
        };
        let token = Secret::new(typed.into_bytes());
        if token.is_empty() {
            return self.say("no token typed: nothing sent");
        }
        self.oauth_login(mechanism, form, Some(token))
    }

    fn oauth_login(
        &mut self,
        mechanism: Mechanism,
        form: Option<SaslForm>,
        token: Option<Secret>,
    ) -> Vec<Action> {
        // Lines typed before the exchange ends are secrets too, never commands.
        self.auth_pending = Some(None);
        vec![Action::OAuth(OAuthLogin {
            mechanism,
            form,
            token,
        })]
    }

    /// Leaves the token prompt, if it is open.
    pub(super) fn cancel_token_prompt(&mut self) {
        if self.token_prompt.take().is_some() {
            self.message = Some(("no token typed: nothing sent".into(), false));
        }
    }

    pub(crate) fn token_prompt_open(&self) -> bool {
        self.token_prompt.is_some()
    }

    fn say(&mut self, text: &str) -> Vec<Action> {
        self.message = Some((text.to_owned(), true));
        Vec::new()
    }
}

/// Completions of what follows `:auth `: a mechanism, then a form.
pub(super) fn candidates(rest: &str) -> Vec<String> {
    match rest.split_once(' ') {
        None => MECHANISMS
            .iter()
            .map(|m| m.name().to_ascii_lowercase())
            .filter(|m| m.starts_with(&rest.to_ascii_lowercase()))
            .map(|m| format!(":auth {m}"))
            .collect(),
        Some((mech, form)) if Mechanism::parse(mech).is_some() && !form.contains(' ') => FORMS
            .iter()
            .map(|f| f.as_str())
            .filter(|f| f.starts_with(form))
            .map(|f| format!(":auth {mech} {f}"))
            .collect(),
        Some(_) => Vec::new(),
    }
}
