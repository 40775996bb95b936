//! A TestBackend's screen as text, one line a row, trailing blanks cut: what the snapshots of
//! tests/tui.rs and tests/tui_proxy.rs compare.

use ratatui::Terminal;
use ratatui::backend::TestBackend;

pub fn text_of(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A screen that showed hostile bytes: none reached it raw, each shown escaped.
pub fn assert_escaped(s: &str) {
    assert!(!s.contains('\x1b') && !s.contains('\x07'), "{s:?}");
    assert!(s.contains("\\x1b"), "{s}");
}
