//! `ferry_server::delete_predicate::DeletePredicate::parse` (the predicate of
//! `POST /api/v2/delete`), then its matchers on what parses.
#![no_main]

use ferry_server::delete_predicate::DeletePredicate;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(init: common::report_stack_overflows(), |data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match DeletePredicate::parse(s) {
        Ok(p) => {
            let _ = p.matches_measurement("cpu");
            let tags = vec![
                ("host".to_string(), "a".to_string()),
                ("region".to_string(), "eu".to_string()),
            ];
            let _ = p.matches_series(&tags);
            let _ = p.matches_series(&[]);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
