//! `ferry_flux::parse` (and `parse_with` without source text); on what parses, the AST's
//! libflux JSON (`serde_json::to_string`) must read back (`serde_json::from_str::<File>`) to
//! the same AST when serde_json's own recursion limit lets it, and the scalar evaluator
//! (`Evaluator::new(&NoRegex).eval_file(&file, Scope::universe())`, 64 MiB memory limit)
//! runs on it; the values it returns are printed and dropped.
#![no_main]

use ferry_flux::ast::File;
use ferry_flux::eval::NoRegex;
use ferry_flux::{parse, parse_with, Evaluator, ParseOptions, Scope};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(init: common::report_stack_overflows(), |data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let full = parse(s);
    let lean = parse_with(s, ParseOptions { source_text: false });
    assert_eq!(full.is_ok(), lean.is_ok(), "verdict depends on source_text");
    let file = match full {
        Ok(f) => f,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let json = serde_json::to_string(&file).expect("AST does not serialize");
    // serde_json refuses nesting deeper than 128 levels when reading: not a Ferry bug.
    match serde_json::from_str::<File>(&json) {
        Ok(back) => assert!(back == file, "JSON round trip changed the AST: {json}"),
        Err(e) => assert!(
            e.to_string().contains("recursion limit"),
            "AST JSON does not read back: {e}: {json}"
        ),
    }
    // 64 MiB keeps runs fast; the limit's logic is the same at the default 256 MiB.
    let mut ev = Evaluator::new(&NoRegex).with_memory_limit(64 << 20);
    if let Ok(out) = ev.eval_file(&file, Scope::universe()) {
        // Printing and dropping recurse through nested values (finding F2).
        for v in &out.values {
            let _ = v.to_string();
        }
    }
});
