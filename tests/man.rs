//! `popscope man`: every page the main page names exists, with the sections clap does not make.

mod common;
use common::popscope;

fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("popscope-man-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn every_page_the_main_page_names_is_written() {
    let dir = scratch("all");
    let o = popscope(&["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let main = std::fs::read_to_string(dir.join("popscope.1")).unwrap();
    // Every `popscope-NAME(1)` the main page mentions, in SUBCOMMANDS and SEE ALSO.
    let mut named = Vec::new();
    for part in main
        .split("popscope\\-")
        .skip(1)
        .chain(main.split("popscope-").skip(1))
    {
        let name: String = part
            .chars()
            .take_while(|c| c.is_ascii_lowercase())
            .collect();
        if !name.is_empty() && part[name.len()..].replace("\\fR", "").starts_with("(1)") {
            named.push(name);
        }
    }
    named.sort();
    named.dedup();
    for want in [
        "check", "send", "serve", "replay", "import", "export", "demo", "rules",
    ] {
        assert!(
            named.iter().any(|n| n == want),
            "{want} not named: {named:?}"
        );
    }
    for name in &named {
        let page = dir.join(format!("popscope-{name}.1"));
        let text = std::fs::read_to_string(&page)
            .unwrap_or_else(|e| panic!("{} is named but missing: {e}", page.display()));
        for section in [
            ".SH NAME",
            ".SH \"EXIT STATUS\"",
            ".SH \"ENVIRONMENT\"",
            ".SH \"FILES\"",
        ] {
            assert!(text.contains(section), "{name}: no {section}");
        }
        assert!(text.contains("SSLKEYLOGFILE") && text.contains("NO_COLOR"));
        assert!(text.contains("XDG_CONFIG_HOME") && text.contains("XDG_DATA_HOME"));
    }
    for section in [
        "\"EXIT STATUS\"",
        "\"ENVIRONMENT\"",
        "\"FILES\"",
        "\"SEE ALSO\"",
    ] {
        assert!(
            main.contains(&format!(".SH {section}")),
            "main page: no {section}"
        );
    }
    // Written again without --force: refused, the pages kept.
    let again = popscope(&["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let forced = popscope(&["man", "--dir", dir.to_str().unwrap(), "--force"]);
    assert_eq!(forced.status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn one_subcommand_page_goes_to_stdout_and_an_unknown_one_is_a_usage_error() {
    let o = popscope(&["man", "check"]);
    assert_eq!(o.status.code(), Some(0));
    let page = String::from_utf8_lossy(&o.stdout);
    assert!(
        page.contains("popscope\\-check") && page.contains("\\-\\-transcript"),
        "{page}"
    );
    assert!(page.contains(".SH \"EXIT STATUS\""));
    let bad = popscope(&["man", "nosuch"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("check"), "{err}");
}

#[test]
fn every_argument_of_every_subcommand_has_help_text() {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: &str, blank: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            if arg.is_hide_set() || ["help", "version"].contains(&arg.get_id().as_str()) {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                blank.push(format!("{path} {}", arg.get_id()));
            }
            // Every value of an enumerated option says what it does (`--login plain`); not a
            // flag's implicit true/false, nor clap_complete's shell names (bash, zsh...).
            let enumerated = arg.get_action().takes_values() && arg.get_id() != "shell";
            for value in arg.get_possible_values().iter().filter(|_| enumerated) {
                if !value.is_hide_set() && value.get_help().is_none() {
                    blank.push(format!("{path} {} {}", arg.get_id(), value.get_name()));
                }
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), blank);
        }
    }
    let mut blank = Vec::new();
    walk(&popscope::cli::Cli::command(), "popscope", &mut blank);
    assert!(
        blank.is_empty(),
        "arguments or values without help: {blank:?}"
    );
}

/// `man --dir D --force` with one page planted as a link: refused in one line, and no page
/// written (not even the ones before it); an existing page without --force: the same.
#[test]
fn a_refused_page_leaves_every_page_unwritten() {
    let dir = scratch("refused");
    std::fs::create_dir_all(&dir).unwrap();
    let victim = dir.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, dir.join("popscope-send.1")).unwrap();
    let o = popscope(&["man", "--dir", dir.to_str().unwrap(), "--force"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("popscope-send.1") && err.contains("symbolic link"),
        "{err}"
    );
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["popscope-send.1", "victim"]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");

    std::fs::remove_file(dir.join("popscope-send.1")).unwrap();
    std::fs::write(dir.join("popscope-send.1"), "mine").unwrap();
    let o = popscope(&["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    assert!(!dir.join("popscope.1").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
