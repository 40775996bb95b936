//! Frame render time with a 1,000,000-row transcript: the cost must depend on what is visible,
//! not on how long the session was. `cargo bench --bench render`.

use criterion::{Criterion, criterion_group, criterion_main};
use popscope::tui::transcript::{Fold, Row, RowKind};
use popscope::tui::{App, Theme, keys, ui};
use popscope_core::{Severity, Time};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::hint::black_box;

fn big_app(rows: usize) -> App {
    let theme = Theme::load("dark").unwrap_or_else(|e| panic!("{e}"));
    let mut app = App::new(
        "pop3s://mail.example.net:995".into(),
        theme,
        keys::defaults(),
    );
    for i in 0..rows {
        let kind = if i % 2 == 0 {
            RowKind::Client
        } else {
            RowKind::Server
        };
        let mut row = Row::new(
            Time(i as u64 * 1000),
            kind,
            format!("RETR {i} a line of a long session with some text in it"),
            (i / 2) as u32,
        );
        if i % 97 == 0 {
            row.severity = Some(Severity::Warning);
            row.rules.push("MSG-006");
        }
        if i % 50 == 1 {
            row.fold = Some(Box::new(Fold {
                lines: vec!["body line".into(); 20],
                total_lines: 20,
                octets: 400,
                complete: true,
                done: true,
                expanded: i % 100 == 1,
            }));
        }
        app.transcript.push(row);
    }
    app.transcript.cursor = rows - 1;
    app
}

fn render(c: &mut Criterion) {
    let mut app = big_app(1_000_000);
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap_or_else(|e| panic!("{e}"));
    let mut g = c.benchmark_group("render");
    g.sample_size(50);
    g.bench_function("frame_1m_rows_follow_200x60", |b| {
        b.iter(|| {
            term.draw(|f| ui::draw(f, black_box(&app)))
                .unwrap_or_else(|e| panic!("{e}"));
        })
    });
    app.transcript.follow = false;
    app.transcript.cursor = 500_000;
    g.bench_function("frame_1m_rows_middle_200x60", |b| {
        b.iter(|| {
            term.draw(|f| ui::draw(f, black_box(&app)))
                .unwrap_or_else(|e| panic!("{e}"));
        })
    });
    let mut small = Terminal::new(TestBackend::new(80, 24)).unwrap_or_else(|e| panic!("{e}"));
    g.bench_function("frame_1m_rows_middle_80x24", |b| {
        b.iter(|| {
            small
                .draw(|f| ui::draw(f, black_box(&app)))
                .unwrap_or_else(|e| panic!("{e}"));
        })
    });
    g.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
