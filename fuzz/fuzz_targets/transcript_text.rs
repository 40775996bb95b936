//! The text transcript reader, then the engine over whatever it accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use popscope_core::Config;
use popscope::transcript::{replay, text};

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = text::parse(data) {
        let _ = replay(&entries, Config::default());
    }
});
