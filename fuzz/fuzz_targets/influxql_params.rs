//! `ferry_influxql::Params::from_json` (the `params` of `/query`), and the Display of its
//! errors.
#![no_main]

use ferry_influxql::Params;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(init: common::report_stack_overflows(), |data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match Params::from_json(s) {
        Ok(p) => {
            let _ = p.is_empty();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
