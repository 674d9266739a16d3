//! `ferry_server::body::gunzip_limited` and `ferry_server::body::unzstd_limited` with a 1 MiB
//! and a 1 KiB limit. Property: an `Ok` output is never longer than the limit.
#![no_main]

use ferry_server::body::{gunzip_limited, unzstd_limited};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const LIMITS: [usize; 2] = [1 << 20, 1 << 10];

fuzz_target!(init: common::report_stack_overflows(), |data: &[u8]| {
    for limit in LIMITS {
        if let Ok(out) = gunzip_limited(data, limit) {
            assert!(out.len() <= limit, "gunzip: {} > {limit}", out.len());
        }
        if let Ok(out) = unzstd_limited(data, limit) {
            assert!(out.len() <= limit, "unzstd: {} > {limit}", out.len());
        }
    }
});
