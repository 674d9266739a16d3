//! Measures stack use: parses the script on stdin on a thread with a stack of N KiB, then
//! serializes, evaluates (with `eval` as second argument) and drops the tree, and prints `ok` or
//! `err`. A stack overflow aborts the process.
//!
//! ```text
//! cargo run --release --example stackprobe -- 256 [eval] < script.flux
//! ```

use std::io::Read;

fn main() {
    let kib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .expect("usage: stackprobe KIB < script.flux");
    let eval = std::env::args().nth(2).is_some_and(|a| a == "eval");
    let mut src = String::new();
    std::io::stdin().read_to_string(&mut src).unwrap();
    let verdict = std::thread::Builder::new()
        .stack_size(kib * 1024)
        .spawn(move || match ferry_flux::parse(&src) {
            Ok(file) => {
                let json = serde_json::to_string(&file).unwrap();
                let value = eval.then(|| {
                    let mut ev = ferry_flux::Evaluator::new(&ferry_flux::eval::NoRegex);
                    match ev.eval_file(&file, ferry_flux::Scope::universe()) {
                        Ok(out) => format!("{:?}", out.values.last()),
                        Err(e) => e.to_string(),
                    }
                });
                drop(file);
                format!(
                    "ok ({} bytes of JSON) {}",
                    json.len(),
                    value.unwrap_or_default()
                )
            }
            Err(e) => format!("err {e}"),
        })
        .unwrap()
        .join()
        .unwrap();
    println!("{verdict}");
}
