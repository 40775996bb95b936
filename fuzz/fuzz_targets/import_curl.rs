//! The curl importer never panics, and the engine runs over whatever it accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use popscope_core::Config;
use popscope::transcript::{import, replay};

fuzz_target!(|data: &[u8]| {
    let imported = import::curl(&String::from_utf8_lossy(data));
    if let Ok(i) = imported {
        let _ = replay(&i.entries, Config::default());
    }
});
