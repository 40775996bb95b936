//! The README's claims, held against the binary: the worked example, the JSON example's
//! locations, the quirk table and the rule count.

mod common;
use common::popscope;
use popscope_core::server::QUIRKS;

fn readme() -> String {
    std::fs::read_to_string("README.md").unwrap_or_else(|e| panic!("README.md: {e}"))
}

fn block_after<'a>(text: &'a str, start: &str) -> &'a str {
    let at = text
        .find(start)
        .unwrap_or_else(|| panic!("README has no {start:?}"));
    let rest = &text[at..];
    &rest[..rest.find("```").unwrap_or(rest.len())]
}

#[test]
fn the_worked_example_is_what_check_prints() {
    let text = readme();
    let block = block_after(
        &text,
        "$ popscope check --transcript tests/fixtures/rules/st-009.fire.trace",
    );
    let o = popscope(&[
        "check",
        "--transcript",
        "tests/fixtures/rules/st-009.fire.trace",
    ]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut lines = out.lines();
    for want in block.lines().skip(1).filter(|l| l.trim() != "...") {
        assert!(
            lines.any(|got| got == want),
            "README line {want:?} is not in the output (in order):\n{out}"
        );
    }
}

#[test]
fn the_json_example_locates_the_finding_as_check_does() {
    let text = readme();
    let block = block_after(&text, "\"rule\": \"ST-009\"");
    let field = |name: &str| -> u64 {
        let at = block.find(&format!("\"{name}\": ")).unwrap() + name.len() + 4;
        block[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let o = popscope(&[
        "check",
        "--transcript",
        "tests/fixtures/rules/st-009.fire.trace",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "ST-009" && f["severity"] == "violation")
        .unwrap();
    for name in ["exchange", "offset", "line"] {
        assert_eq!(Some(field(name)), f[name].as_u64(), "README's {name}");
    }
}

/// `serve --list-quirks` prints the quirk table's rows, and the README has a row for each with
/// the same rules.
#[test]
fn the_quirk_table_lists_every_quirk_with_its_rules() {
    let text = readme();
    let o = popscope(&["serve", "--list-quirks"]);
    let all = String::from_utf8_lossy(&o.stdout).into_owned();
    // The client cases follow the quirks, after a blank line.
    let list = all.split("\n\n").next().unwrap_or_default();
    assert_eq!(list.lines().count(), QUIRKS.len(), "{all}");
    for (q, line) in QUIRKS.iter().zip(list.lines()) {
        let rules = q.expected_rules.join(", ");
        assert!(
            line.split_whitespace().next() == Some(q.name) && line.ends_with(&format!("[{rules}]")),
            "--list-quirks line for {}: {line}",
            q.name
        );
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", q.name)))
            .unwrap_or_else(|| panic!("README's quirk table has no row for {}", q.name));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells[3], rules, "README row for {}: {row}", q.name);
    }
}

#[test]
fn the_rule_count_is_the_catalogs() {
    let o = popscope(&["rules", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let n = v
        .as_array()
        .map(Vec::len)
        .or_else(|| v["rules"].as_array().map(Vec::len))
        .unwrap();
    let text = readme();
    assert!(
        text.contains(&format!("catalog of\n{n} rules"))
            || text.contains(&format!("catalog of {n} rules")),
        "README does not say {n} rules"
    );
    assert!(
        text.contains(&format!("lists all {n} rules")),
        "README does not say {n} rules"
    );
}
