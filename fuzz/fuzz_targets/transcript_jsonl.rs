//! The JSON Lines reader, then the engine over every session it accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use popscope_core::Config;
use popscope::transcript::{jsonl, replay};

fuzz_target!(|data: &[u8]| {
    let (sessions, _) = jsonl::read(data);
    for s in sessions {
        let _ = replay(&s.entries, Config::default());
    }
});
