//! A target file (`check --targets`) is hostile input: the reader never panics, every error
//! is one line naming its line, and every target it yields is shown without a control
//! character.
#![no_main]

use libfuzzer_sys::fuzz_target;
use popscope::fleet::targets::{Shard, Targets};

fuzz_target!(|data: &[u8]| {
    let (shard, text) = match data.split_first() {
        Some((&b, rest)) => {
            let n = usize::from(b % 5) + 1;
            let k = usize::from(b / 5) % n + 1;
            (Shard::parse(&format!("{k}/{n}")).unwrap_or(Shard::ALL), rest)
        }
        None => (Shard::ALL, data),
    };
    for item in Targets::new(text, "fuzz", shard) {
        match item {
            Ok(t) => {
                assert!(t.line >= 1);
                assert!(!t.shown.chars().any(char::is_control), "{:?}", t.shown);
            }
            Err(e) => {
                let message = e.to_string();
                assert!(message.starts_with(&format!("fuzz line {}: ", e.line)));
                assert!(!message.chars().any(char::is_control), "{message:?}");
            }
        }
    }
});
