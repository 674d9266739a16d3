//! qclient -- the lean HTTP/1.1 timing client of bench/query.sh (std only; built by the bench
//! with `rustc -O`).
//!
//!     qclient RUNS HOST:PORT REQUEST_FILE [HOST:PORT REQUEST_FILE ...]
//!
//! Each REQUEST_FILE holds one complete HTTP/1.1 request (built by query_bench.py). The
//! client opens one keep-alive connection per target (TCP_NODELAY) and sends the requests
//! RUNS times, one target after the other in turn, timing each from the first byte sent to
//! the last byte of the answer read. It prints one line per request, `TARGET_INDEX NANOS`,
//! and writes each target's first answer body to REQUEST_FILE.body (for the caller to check
//! it against another client's). Only what the benchmarked servers send is understood:
//! Content-Length or chunked bodies, no trailers. Any status but 200/204 is an error.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

struct Conn {
    sock: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn fill(&mut self) {
        let mut chunk = [0u8; 65536];
        let n = self.sock.read(&mut chunk).expect("read");
        assert!(n > 0, "server closed the connection");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    fn find(&mut self, pat: &[u8]) -> usize {
        loop {
            if let Some(i) = self.buf.windows(pat.len()).position(|w| w == pat) {
                return i;
            }
            self.fill();
        }
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            self.fill();
        }
        self.buf.drain(..n).collect()
    }

    /// Reads one answer: (status, body).
    fn answer(&mut self) -> (u16, Vec<u8>) {
        let end = self.find(b"\r\n\r\n");
        let head = String::from_utf8_lossy(&self.take(end + 4)).to_ascii_lowercase();
        let status: u16 = head[9..12].parse().expect("status");
        let mut length = 0usize;
        let mut chunked = false;
        for line in head.split("\r\n").skip(1) {
            if let Some((name, value)) = line.split_once(':') {
                match name.trim() {
                    "content-length" => length = value.trim().parse().expect("length"),
                    "transfer-encoding" => chunked = value.contains("chunked"),
                    _ => {}
                }
            }
        }
        if !chunked {
            return (status, self.take(length));
        }
        let mut body = Vec::new();
        loop {
            let eol = self.find(b"\r\n");
            let line = String::from_utf8_lossy(&self.take(eol + 2)).to_string();
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap(), 16)
                .expect("chunk size");
            let data = self.take(size + 2);
            body.extend_from_slice(&data[..size]);
            if size == 0 {
                return (status, body);
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    assert!(args.len() >= 4 && args.len() % 2 == 0, "usage: qclient RUNS HOST:PORT REQUEST_FILE ...");
    let runs: usize = args[1].parse().expect("RUNS");
    let mut targets = Vec::new();
    for pair in args[2..].chunks(2) {
        let sock = TcpStream::connect(&pair[0]).expect("connect");
        sock.set_nodelay(true).expect("nodelay");
        let request = std::fs::read(&pair[1]).expect("request file");
        targets.push((Conn { sock, buf: Vec::new() }, request, format!("{}.body", pair[1])));
    }
    let mut out = String::new();
    for run in 0..runs {
        for (i, (conn, request, body_path)) in targets.iter_mut().enumerate() {
            let t = Instant::now();
            conn.sock.write_all(request).expect("write");
            let (status, body) = conn.answer();
            let ns = t.elapsed().as_nanos();
            assert!(status == 200 || status == 204, "HTTP {status}: {}", String::from_utf8_lossy(&body));
            if run == 0 {
                std::fs::write(&*body_path, &body).expect("body file");
            }
            out.push_str(&format!("{i} {ns}\n"));
        }
    }
    std::io::stdout().write_all(out.as_bytes()).expect("stdout");
}
