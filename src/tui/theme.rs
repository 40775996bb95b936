//! Themes: named styles grouped by meaning; call sites ask for `theme.violation`, never for a
//! colour. Built-in themes are the TOML files of `themes/`, embedded; `--theme` also takes a
//! path. `NO_COLOR` keeps emphasis (bold, reverse) and drops colours.

use ratatui::style::{Color, Modifier, Style};

pub(crate) const BUILT_IN: [(&str, &str); 3] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

macro_rules! theme {
    ($($field:ident),* $(,)?) => {
        #[derive(Clone, Debug, PartialEq)]
        pub struct Theme {
            pub(crate) name: String,
            /// Made without colours (NO_COLOR): a theme loaded later is made so too.
            pub(crate) colourless: bool,
            $(pub $field: Style,)*
        }

        const KEYS: &[&str] = &[$(stringify!($field)),*];

        impl Theme {
            fn set(&mut self, key: &str, style: Style) -> bool {
                match key {
                    $(stringify!($field) => self.$field = style,)*
                    _ => return false,
                }
                true
            }

            fn map(mut self, f: impl Fn(Style) -> Style) -> Theme {
                $(self.$field = f(self.$field);)*
                self
            }
        }
    };
}

theme!(
    header,
    border,
    border_focused,
    title,
    client,
    server,
    note,
    time,
    dim,
    violation,
    warning,
    info,
    state_current,
    state_visited,
    state_pending,
    unlawful,
    selection,
    prompt,
    input,
    hint,
    fold,
    search,
);

/// A TOML document, or an error saying where: `LINE: message` (a line number from 1).
/// Every TOML file popscope reads (themes, config.toml, keys.toml) reports errors this way.
pub(crate) fn parse_toml(text: &str) -> Result<toml::Table, String> {
    text.parse::<toml::Table>().map_err(|e| {
        let line = e.span().map_or(1, |r| {
            text[..r.start.min(text.len())].matches('\n').count() + 1
        });
        format!("{line}: {}", e.message().trim_end())
    })
}

impl Theme {
    fn blank(name: &str) -> Theme {
        let s = Style::default();
        Theme {
            name: name.to_owned(),
            colourless: false,
            header: s,
            border: s,
            border_focused: s,
            title: s,
            client: s,
            server: s,
            note: s,
            time: s,
            dim: s,
            violation: s,
            warning: s,
            info: s,
            state_current: s,
            state_visited: s,
            state_pending: s,
            unlawful: s,
            selection: s,
            prompt: s,
            input: s,
            hint: s,
            fold: s,
            search: s,
        }
    }

    /// A built-in theme by name, or a TOML file by path. Errors name the file and the key.
    pub fn load(name_or_path: &str) -> Result<Theme, String> {
        if let Some((_, text)) = BUILT_IN.iter().find(|(n, _)| *n == name_or_path) {
            return Theme::parse(text, &format!("built-in theme '{name_or_path}'"));
        }
        let path = std::path::Path::new(name_or_path);
        if !path.exists() {
            let names: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "no theme '{name_or_path}' (built in: {}; or give a path to a .toml file)",
                names.join(", ")
            ));
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("theme {}: {e}", path.display()))?;
        Theme::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Theme, String> {
        let doc: toml::Table = parse_toml(text).map_err(|e| format!("theme {origin}:{e}"))?;
        let name = doc.get("name").and_then(|v| v.as_str()).unwrap_or("custom");
        // Start from the dark theme so a user file may set only some styles.
        let mut theme = if name == "dark" {
            Theme::blank(name)
        } else {
            Theme::load("dark").unwrap_or_else(|_| Theme::blank(name))
        };
        theme.name = name.to_owned();
        let Some(styles) = doc.get("styles") else {
            return Err(format!("theme {origin}: no [styles] table"));
        };
        let styles = styles
            .as_table()
            .ok_or_else(|| format!("theme {origin}: 'styles' must be a table"))?;
        for (key, value) in styles {
            let style =
                style_of(value).map_err(|e| format!("theme {origin}: styles.{key}: {e}"))?;
            if !theme.set(key, style) {
                return Err(format!(
                    "theme {origin}: styles.{key}: unknown style (known: {})",
                    KEYS.join(", ")
                ));
            }
        }
        Ok(theme)
    }

    /// `next`, to replace this theme: without colours if this one is (NO_COLOR was read once,
    /// at start, and holds for the whole session).
    pub(crate) fn succeeded_by(&self, next: Theme) -> Theme {
        if self.colourless {
            next.without_colour()
        } else {
            next
        }
    }

    /// The same theme without colours (for NO_COLOR), keeping bold, reverse and the like.
    pub fn without_colour(mut self) -> Theme {
        self.colourless = true;
        self.map(|s| Style {
            fg: None,
            bg: None,
            underline_color: None,
            ..s
        })
        .emphasise_without_colour()
    }

    fn emphasise_without_colour(mut self) -> Theme {
        self.state_current = self
            .state_current
            .add_modifier(Modifier::REVERSED | Modifier::BOLD);
        self.selection = self.selection.add_modifier(Modifier::REVERSED);
        self.header = self.header.add_modifier(Modifier::REVERSED);
        self.search = self.search.add_modifier(Modifier::REVERSED);
        self
    }
}

fn style_of(v: &toml::Value) -> Result<Style, String> {
    let t = v
        .as_table()
        .ok_or("expected a table like { fg = \"cyan\", bold = true }")?;
    let mut s = Style::default();
    for (k, val) in t {
        match k.as_str() {
            "fg" => s = s.fg(colour(val)?),
            "bg" => s = s.bg(colour(val)?),
            flag => {
                let on = val
                    .as_bool()
                    .ok_or_else(|| format!("{flag} must be true or false"))?;
                let m = match flag {
                    "bold" => Modifier::BOLD,
                    "dim" => Modifier::DIM,
                    "italic" => Modifier::ITALIC,
                    "underlined" => Modifier::UNDERLINED,
                    "reversed" => Modifier::REVERSED,
                    other => {
                        return Err(format!(
                            "unknown attribute '{other}' (fg, bg, bold, dim, italic, underlined, reversed)"
                        ));
                    }
                };
                if on {
                    s = s.add_modifier(m);
                }
            }
        }
    }
    Ok(s)
}

fn colour(v: &toml::Value) -> Result<Color, String> {
    let name = v.as_str().ok_or("a colour is a string")?;
    name.parse::<Color>()
        .map_err(|_| format!("'{name}' is not a colour (a name like \"lightred\" or \"#rrggbb\")"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_themes_load() {
        for (name, _) in BUILT_IN {
            let t = Theme::load(name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(t.name, name);
            assert_ne!(t.violation, Style::default(), "{name}");
        }
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let e = Theme::parse(
            "[styles]\nclient = { fg = \"chartreuse-ish\" }\n",
            "my.toml",
        )
        .err()
        .unwrap_or_default();
        assert!(
            e.contains("my.toml") && e.contains("styles.client") && e.contains("chartreuse-ish"),
            "{e}"
        );
        let e = Theme::parse("[styles]\nclinet = { fg = \"red\" }\n", "my.toml")
            .err()
            .unwrap_or_default();
        assert!(
            e.contains("styles.clinet") && e.contains("unknown style"),
            "{e}"
        );
        let e = Theme::parse("[styles\n", "my.toml")
            .err()
            .unwrap_or_default();
        assert!(e.contains("my.toml"), "{e}");
        assert!(Theme::load("nope").is_err());
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let e = Theme::parse(
            "name = \"mine\"\n\n[styles]\nclient = { fg = \"red\" \n",
            "my.toml",
        )
        .err()
        .unwrap_or_default();
        assert!(e.starts_with("theme my.toml:4: "), "{e}");
        assert!(!e.contains('\n'), "one line: {e:?}");
        assert_eq!(
            parse_toml("a = 1\nb = = 2\n")
                .err()
                .as_deref()
                .map(|e| &e[..2]),
            Some("2:")
        );
    }

    #[test]
    fn no_color_keeps_emphasis() {
        let t = Theme::load("dark")
            .map(Theme::without_colour)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.violation.fg, None);
        assert!(t.state_current.add_modifier.contains(Modifier::REVERSED));
    }
}
