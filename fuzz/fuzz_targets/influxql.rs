//! `ferry_influxql::parse_query` on the whole input and, when the input holds a NUL byte,
//! `ferry_influxql::parse_query_with(query, &Params::from_json(params))` with the text before
//! the first NUL as the params JSON and the text after it as the query.
//!
//! No round-trip property: `ferry_influxql::ast::Statement` has no `Display` (no way to print
//! a statement back as InfluxQL), so only "no panic, no overflow, no hang" is checked.
#![no_main]

use ferry_influxql::{parse_query, parse_query_with, Params};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(init: common::report_stack_overflows(), |data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match s.split_once('\0') {
        None => {
            if let Err(e) = parse_query(s) {
                let _ = e.to_string();
            }
        }
        Some((params, query)) => {
            let _ = parse_query(query);
            if let Ok(p) = Params::from_json(params) {
                if let Err(e) = parse_query_with(query, &p) {
                    let _ = e.to_string();
                }
            }
        }
    }
});
