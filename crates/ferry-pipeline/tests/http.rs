//! The writer and the send policy against an in-process HTTP server that records requests and
//! answers per script.

use std::io::Read as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use ferry_lp::RemoteKind;
use ferry_pipeline::{
    send_with_policy, BodyCompression, RemoteWriter, SendHooks, SendOptions, SendResult,
    WriteOutcome, WriteTarget,
};

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    /// Body, decoded when `Content-Encoding` is gzip or zstd.
    body: String,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    delay: Duration,
}

fn reply(status: u16) -> Reply {
    Reply {
        status,
        headers: vec![],
        body: String::new(),
        delay: Duration::ZERO,
    }
}

impl Reply {
    fn body(mut self, b: &str) -> Reply {
        self.body = b.to_string();
        self
    }
    fn header(mut self, k: &'static str, v: impl Into<String>) -> Reply {
        self.headers.push((k, v.into()));
        self
    }
}

type Script = dyn Fn(&Req) -> Reply + Send + Sync;

#[derive(Clone)]
struct Srv {
    log: Arc<Mutex<Vec<Req>>>,
    script: Arc<Script>,
}

async fn handle(
    State(s): State<Srv>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
        let mut out = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut out)
            .expect("gzip body");
        out
    } else if headers.get("content-encoding").is_some_and(|v| v == "zstd") {
        String::from_utf8(zstd::decode_all(&body[..]).expect("zstd body")).unwrap()
    } else {
        String::from_utf8_lossy(&body).into_owned()
    };
    let req = Req {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        headers,
        body,
    };
    let r = (s.script)(&req);
    s.log.lock().unwrap().push(req);
    if !r.delay.is_zero() {
        tokio::time::sleep(r.delay).await;
    }
    let mut resp = (StatusCode::from_u16(r.status).unwrap(), r.body).into_response();
    for (k, v) in r.headers {
        resp.headers_mut().insert(k, v.parse().unwrap());
    }
    resp
}

/// Starts a server answering per `script`; returns its base URL and the request log.
async fn server(
    script: impl Fn(&Req) -> Reply + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<Req>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new().fallback(handle).with_state(Srv {
        log: log.clone(),
        script: Arc::new(script),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), log)
}

fn writer(
    kind: RemoteKind,
    base: &str,
    bucket: &str,
    f: impl FnOnce(&mut WriteTarget),
) -> RemoteWriter {
    let mut t = WriteTarget::new(kind, base, bucket);
    f(&mut t);
    RemoteWriter::new(t).unwrap()
}

fn reqs(log: &Arc<Mutex<Vec<Req>>>) -> Vec<Req> {
    log.lock().unwrap().clone()
}

const BATCH: &[u8] = b"cpu,host=a usage=1 1000000000\ncpu,host=b usage=2 1000000001\n";

fn basic(user: &str, pass: &str) -> String {
    // base64 of "user:pass" without a dependency: tiny encoder
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{pass}").into_bytes();
    let mut out = String::new();
    for c in input.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

#[tokio::test]
async fn success_per_kind() {
    let (base, log) = server(|r| {
        if r.path.contains("v3") || r.path.starts_with("/influxdb") {
            reply(200).body("{}")
        } else {
            reply(204)
        }
    })
    .await;

    // v2 with a path prefix, org and token
    let w = writer(
        RemoteKind::V2,
        &format!("{base}/pre/fix/"),
        "my bucket",
        |t| {
            t.token = Some("tok2".into());
            t.org = Some("acme".into());
        },
    );
    assert_eq!(
        w.write(BATCH, &[("X-Ferry-Origin", "n1".into())]).await,
        WriteOutcome::Success { status: 204 }
    );
    // v1 db/rp with Basic auth
    let w = writer(RemoteKind::V1, &base, "db/rp", |t| {
        t.username = Some("u".into());
        t.password = Some("p".into());
        t.token = Some("ignored".into());
    });
    assert!(w.write(BATCH, &[]).await.is_success());
    // v1 db with a token
    let w = writer(RemoteKind::V1, &base, "db", |t| {
        t.token = Some("tok1".into())
    });
    assert!(w.write(BATCH, &[]).await.is_success());
    // v3 bearer, 200 counts
    let w = writer(RemoteKind::V3, &base, "db3", |t| {
        t.token = Some("tok3".into())
    });
    assert_eq!(
        w.write(BATCH, &[]).await,
        WriteOutcome::Success { status: 200 }
    );
    // TDengine Basic, 200 counts
    let w = writer(RemoteKind::Tdengine, &base, "tdb", |t| {
        t.username = Some("root".into());
        t.password = Some("taosdata".into());
    });
    assert_eq!(
        w.write(BATCH, &[]).await,
        WriteOutcome::Success { status: 200 }
    );

    let r = reqs(&log);
    assert_eq!(r.len(), 5);
    for q in &r {
        assert_eq!(q.method, "POST");
        assert_eq!(q.header("content-encoding"), Some("gzip"));
        assert_eq!(q.body.as_bytes(), BATCH);
    }
    assert_eq!(r[0].path, "/pre/fix/api/v2/write");
    assert_eq!(r[0].query, "org=acme&bucket=my+bucket&precision=ns");
    assert_eq!(r[0].header("authorization"), Some("Token tok2"));
    assert_eq!(r[0].header("x-ferry-origin"), Some("n1"));
    assert_eq!(r[1].path, "/write");
    assert_eq!(r[1].query, "db=db&rp=rp&precision=ns");
    assert_eq!(r[1].header("authorization"), Some(basic("u", "p").as_str()));
    assert_eq!(r[2].query, "db=db&precision=ns");
    assert_eq!(r[2].header("authorization"), Some("Token tok1"));
    assert_eq!(r[3].path, "/api/v3/write_lp");
    assert_eq!(r[3].query, "db=db3&precision=nanosecond");
    assert_eq!(r[3].header("authorization"), Some("Bearer tok3"));
    assert_eq!(r[4].path, "/influxdb/v1/write");
    assert_eq!(r[4].query, "db=tdb&precision=ns");
    assert_eq!(
        r[4].header("authorization"),
        Some(basic("root", "taosdata").as_str())
    );
}

#[tokio::test]
async fn validate_and_probe() {
    let (base, log) = server(|r| {
        if r.path == "/ping" {
            reply(204).header("X-Ferry-Node-Id", "node-42")
        } else {
            reply(204)
        }
    })
    .await;
    let w = writer(RemoteKind::V2, &base, "b", |_| {});
    assert!(w.validate().await.is_success());
    assert_eq!(w.probe().await.as_deref(), Some("node-42"));
    let r = reqs(&log);
    assert_eq!(r[0].body, "");
    assert_eq!(r[1].method, "GET");

    let (base, _) = server(|_| reply(204)).await;
    let w = writer(RemoteKind::V2, &base, "b", |_| {});
    assert_eq!(w.probe().await, None);
}

#[tokio::test]
async fn zstd_only_to_remotes_that_accept_it_and_gzip_again_after_415() {
    // A Ferry remote lists zstd in /ping's Accept-Encoding: batches go as zstd.
    let (base, log) = server(|r| match r.path.as_str() {
        "/ping" => reply(204)
            .header("X-Ferry-Node-Id", "n1")
            .header("Accept-Encoding", "gzip, zstd"),
        _ => reply(204),
    })
    .await;
    let w = writer(RemoteKind::V2, &base, "b", |_| {});
    assert_eq!(w.encoding(), "gzip", "gzip until the remote says otherwise");
    assert_eq!(w.probe().await.as_deref(), Some("n1"));
    assert_eq!(w.encoding(), "zstd");
    assert!(w.write(b"m v=1 1\n", &[]).await.is_success());
    let r = reqs(&log);
    assert_eq!(r[1].header("content-encoding"), Some("zstd"));
    assert_eq!(r[1].body, "m v=1 1\n");

    // A remote that advertises zstd but refuses it (415): the batch is sent again with gzip
    // at once, and gzip is kept.
    let (base, log) = server(|r| match (r.path.as_str(), r.header("content-encoding")) {
        ("/ping", _) => reply(204).header("Accept-Encoding", "zstd"),
        (_, Some("zstd")) => reply(415).body("no zstd here"),
        _ => reply(204),
    })
    .await;
    let w = writer(RemoteKind::V2, &base, "b", |_| {});
    assert_eq!(w.probe().await, None);
    assert!(w.write(b"m v=2 2\n", &[]).await.is_success());
    assert_eq!(w.encoding(), "gzip");
    assert!(w.write(b"m v=3 3\n", &[]).await.is_success());
    let r = reqs(&log);
    let encodings: Vec<_> = r[1..]
        .iter()
        .map(|q| q.header("content-encoding"))
        .collect();
    assert_eq!(encodings, [Some("zstd"), Some("gzip"), Some("gzip")]);
    assert_eq!(r[2].body, "m v=2 2\n");

    // An InfluxDB (no Accept-Encoding on /ping) gets gzip.
    let (base, log) = server(|_| reply(204)).await;
    let w = writer(RemoteKind::V2, &base, "b", |_| {});
    w.probe().await;
    assert!(w.write(b"m v=4 4\n", &[]).await.is_success());
    assert_eq!(reqs(&log)[1].header("content-encoding"), Some("gzip"));
}

#[tokio::test]
async fn explicit_compression_overrides_the_probe() {
    // A Ferry remote that accepts zstd: `None` still sends plain bodies without a
    // Content-Encoding header, `Gzip` still sends gzip.
    for (compression, expected) in [
        (BodyCompression::None, None),
        (BodyCompression::Gzip, Some("gzip")),
        (BodyCompression::Auto, Some("zstd")),
    ] {
        let (base, log) = server(|r| match r.path.as_str() {
            "/ping" => reply(204).header("Accept-Encoding", "gzip, zstd"),
            _ => reply(204),
        })
        .await;
        let w = writer(RemoteKind::V1, &base, "db", |_| {}).with_compression(compression);
        w.probe().await;
        assert!(w.write(b"m v=1 1\n", &[]).await.is_success());
        let r = reqs(&log);
        assert_eq!(r[1].header("content-encoding"), expected, "{compression:?}");
        assert_eq!(r[1].body, "m v=1 1\n", "{compression:?}");
    }
    assert_eq!("none".parse::<BodyCompression>(), Ok(BodyCompression::None));
    assert!("brotli"
        .parse::<BodyCompression>()
        .unwrap_err()
        .contains("auto, gzip or none"));
}

#[tokio::test]
async fn bulk_copies_send_plain_bodies_to_this_machine_unless_told_otherwise() {
    // The test server is on 127.0.0.1 and lists zstd: a bulk copy's `Auto` sends plain
    // bodies there; `Gzip` still compresses; a replication stream's `Auto` still negotiates.
    for (bulk, compression, expected) in [
        (true, BodyCompression::Auto, None),
        (true, BodyCompression::Gzip, Some("gzip")),
        (false, BodyCompression::Auto, Some("zstd")),
    ] {
        let (base, log) = server(|r| match r.path.as_str() {
            "/ping" => reply(204).header("Accept-Encoding", "gzip, zstd"),
            _ => reply(204),
        })
        .await;
        let w = writer(RemoteKind::V1, &base, "db", |_| {});
        assert!(w.is_loopback(), "{base}");
        let w = if bulk {
            w.with_bulk_compression(compression)
        } else {
            w.with_compression(compression)
        };
        w.probe().await;
        assert!(w.write(b"m v=1 1\n", &[]).await.is_success());
        let r = reqs(&log);
        assert_eq!(r[1].header("content-encoding"), expected, "{compression:?}");
        assert_eq!(r[1].body, "m v=1 1\n");
    }
    for (url, local) in [
        ("http://localhost:8086", true),
        ("http://[::1]:8086", true),
        ("http://127.3.0.1:8086", true),
        ("http://10.0.0.7:8086", false),
        ("https://eu-central-1.aws.cloud2.influxdata.com", false),
    ] {
        let w = writer(RemoteKind::V1, url, "db", |_| {});
        assert_eq!(w.is_loopback(), local, "{url}");
    }
}

#[tokio::test]
async fn retry_answers() {
    let (base, _) =
        server(
            |r| match r.query.split('&').find_map(|kv| kv.strip_prefix("bucket=")) {
                Some("b429") => reply(429)
                    .header("Retry-After", "7")
                    .body(r#"{"message":"slow down"}"#),
                Some("b503") => {
                    let at = chrono::Utc::now() + chrono::Duration::seconds(60);
                    reply(503).header(
                        "Retry-After",
                        at.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
                    )
                }
                Some("b500") => reply(500).body("internal error"),
                Some("garbage") => reply(200).body("<html>hotel wifi login</html>"),
                _ => reply(204),
            },
        )
        .await;
    let w = |b: &str| writer(RemoteKind::V2, &base, b, |_| {});
    match w("b429").write(BATCH, &[]).await {
        WriteOutcome::Retry {
            status: Some(429),
            after: Some(d),
            message,
            unreachable: false,
        } => {
            assert_eq!(d, Duration::from_secs(7));
            assert_eq!(message, "slow down");
        }
        o => panic!("{o:?}"),
    }
    match w("b503").write(BATCH, &[]).await {
        WriteOutcome::Retry {
            status: Some(503),
            after: Some(d),
            ..
        } => {
            assert!(
                d > Duration::from_secs(55) && d <= Duration::from_secs(60),
                "{d:?}"
            );
        }
        o => panic!("{o:?}"),
    }
    assert!(matches!(
        w("b500").write(BATCH, &[]).await,
        WriteOutcome::Retry {
            status: Some(500),
            after: None,
            ..
        }
    ));
    match w("garbage").write(BATCH, &[]).await {
        WriteOutcome::Retry {
            status: Some(200),
            message,
            ..
        } => assert!(message.contains("hotel"), "{message}"),
        o => panic!("{o:?}"),
    }
    // send_with_policy hands Retry back without sleeping
    let start = std::time::Instant::now();
    let r = send_with_policy(
        &w("b429"),
        BATCH,
        &SendOptions::default(),
        &mut Hooks::default(),
    )
    .await;
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(
            r,
            SendResult::Retry {
                after: Some(_),
                status: Some(429),
                handled: 0,
                ..
            }
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn connection_refused_and_timeout() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let w = writer(
        RemoteKind::V2,
        &format!("http://127.0.0.1:{port}"),
        "b",
        |_| {},
    );
    assert!(matches!(
        w.write(BATCH, &[]).await,
        WriteOutcome::Retry {
            status: None,
            unreachable: true,
            ..
        }
    ));

    let (base, _) = server(|_| Reply {
        delay: Duration::from_secs(3),
        ..reply(204)
    })
    .await;
    let w = writer(RemoteKind::V2, &base, "b", |t| {
        t.timeout = Duration::from_millis(300)
    });
    let start = std::time::Instant::now();
    match w.write(BATCH, &[]).await {
        WriteOutcome::Retry {
            status: None,
            message,
            unreachable: false,
            ..
        } => assert!(message.contains("no answer"), "{message}"),
        o => panic!("{o:?}"),
    }
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn needs_attention() {
    let (base, _) =
        server(
            |r| match r.query.split('&').find_map(|kv| kv.strip_prefix("bucket=")) {
                Some("b401") => {
                    reply(401).body(r#"{"code":"unauthorized","message":"unauthorized access"}"#)
                }
                _ => reply(404).body(r#"{"code":"not found","message":"bucket \"x\" not found"}"#),
            },
        )
        .await;
    let w = writer(RemoteKind::V2, &base, "b401", |_| {});
    assert_eq!(
        w.write(BATCH, &[]).await,
        WriteOutcome::NeedsAttention {
            status: 401,
            message: "unauthorized access".into()
        }
    );
    let w404 = writer(RemoteKind::V2, &base, "x", |_| {});
    assert!(matches!(
        w404.write(BATCH, &[]).await,
        WriteOutcome::NeedsAttention { status: 404, .. }
    ));
    let r = send_with_policy(
        &w,
        BATCH,
        &SendOptions {
            drop_bad_lines: true,
            ..Default::default()
        },
        &mut Hooks::default(),
    )
    .await;
    assert!(matches!(
        r,
        SendResult::NeedsAttention {
            status: 401,
            handled: 0,
            ..
        }
    ));
}

#[derive(Default)]
struct Hooks {
    rejected: Vec<(String, u16, String)>,
    sent_lines: usize,
}

impl SendHooks for Hooks {
    fn rejected(&mut self, _at: usize, line: &[u8], status: u16, message: &str) {
        self.rejected.push((
            String::from_utf8_lossy(line).into_owned(),
            status,
            message.to_string(),
        ));
    }
    fn sent(&mut self, _bytes: usize, lines: usize) {
        self.sent_lines += lines;
    }
}

fn lines(n: usize, bad: &[usize]) -> Vec<u8> {
    (0..n)
        .flat_map(|i| {
            let m = if bad.contains(&i) { "bad" } else { "m" };
            format!("{m},i={i} v={i}i {i}\n").into_bytes()
        })
        .collect()
}

fn accepted(log: &Arc<Mutex<Vec<Req>>>, ok: impl Fn(&Req) -> bool) -> String {
    reqs(log)
        .iter()
        .filter(|r| ok(r))
        .map(|r| r.body.clone())
        .collect()
}

#[tokio::test]
async fn too_large_splits_until_batches_fit() {
    let max = 3;
    let fits = move |r: &Req| r.body.lines().count() <= max;
    let (base, log) = server(move |r| {
        if fits(r) {
            reply(204)
        } else {
            reply(413).body(r#"{"code":"request too large","message":"too big"}"#)
        }
    })
    .await;
    let w = writer(RemoteKind::V2, &base, "b", |_| {});
    let lp = lines(20, &[]);
    let mut hooks = Hooks::default();
    let r = send_with_policy(&w, &lp, &SendOptions::default(), &mut hooks).await;
    assert_eq!(
        r,
        SendResult::Done {
            sent_bytes: lp.len() as u64,
            sent_lines: 20,
            rejected_lines: 0
        }
    );
    assert_eq!(hooks.sent_lines, 20);
    // what the server accepted is the batch, in order, in parts of at most 3 lines
    assert_eq!(accepted(&log, fits).as_bytes(), &lp[..]);
    assert!(reqs(&log).iter().filter(|r| fits(r)).count() >= 7);

    // a single line larger than the remote takes: refused as "line too large"
    let (base, log) = server(|r| {
        if r.body.len() <= 60 {
            reply(204)
        } else {
            reply(413)
        }
    })
    .await;
    let w = writer(RemoteKind::V2, &base, "b", |_| {});
    let long = format!("m,i=long v=\"{}\" 1\n", "x".repeat(100));
    let lp = format!("m v=1 1\n{long}m v=2 2\n");
    let mut hooks = Hooks::default();
    let r = send_with_policy(
        &w,
        lp.as_bytes(),
        &SendOptions {
            drop_bad_lines: true,
            ..Default::default()
        },
        &mut hooks,
    )
    .await;
    assert_eq!(
        r,
        SendResult::Done {
            sent_bytes: 16,
            sent_lines: 2,
            rejected_lines: 1
        }
    );
    assert_eq!(hooks.rejected.len(), 1);
    assert_eq!(hooks.rejected[0].0, long.trim_end());
    assert_eq!(hooks.rejected[0].1, 413);
    assert!(hooks.rejected[0].2.contains("line too large"));
    assert_eq!(accepted(&log, |r| r.body.len() <= 60), "m v=1 1\nm v=2 2\n");
}

#[tokio::test]
async fn bad_data_bisects_to_exactly_the_bad_lines() {
    let (base, log) = server(|r| {
        if r.body.contains("bad") {
            reply(400).body(r#"{"code":"invalid","message":"unable to parse 'bad'"}"#)
        } else {
            reply(204)
        }
    })
    .await;
    let w = writer(RemoteKind::V2, &base, "b", |_| {});
    let bad = [0usize, 7, 8, 30];
    let lp = lines(33, &bad);
    let mut hooks = Hooks::default();
    let opts = SendOptions {
        drop_bad_lines: true,
        ..Default::default()
    };
    let r = send_with_policy(&w, &lp, &opts, &mut hooks).await;
    let good: String = String::from_utf8(lp.clone())
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("bad"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        r,
        SendResult::Done {
            sent_bytes: good.len() as u64,
            sent_lines: 29,
            rejected_lines: 4
        }
    );
    let rejected: Vec<String> = hooks.rejected.iter().map(|r| r.0.clone()).collect();
    let expect: Vec<String> = bad
        .iter()
        .map(|i| format!("bad,i={i} v={i}i {i}"))
        .collect();
    assert_eq!(rejected, expect);
    assert!(hooks
        .rejected
        .iter()
        .all(|r| r.1 == 400 && r.2 == "unable to parse 'bad'"));
    assert_eq!(accepted(&log, |r| !r.body.contains("bad")), good);
    let n = reqs(&log).len();
    assert!(n < 40, "{n} requests");

    // into a rejected-lines file
    let dir = tempfile::tempdir().unwrap();
    let mut file = ferry_pipeline::RejectedLinesFile::new(dir.path().join("x/rejected.lp"));
    let r = send_with_policy(&w, &lp, &opts, &mut file).await;
    assert!(matches!(
        r,
        SendResult::Done {
            rejected_lines: 4,
            ..
        }
    ));
    assert_eq!(file.count(), 4);
    let text = std::fs::read_to_string(file.path()).unwrap();
    assert_eq!(text.lines().filter(|l| l.starts_with("bad,")).count(), 4);
    assert_eq!(text.matches("status=400 unable to parse 'bad'").count(), 4);

    // not dropping: stop at once, no bisection
    let before = reqs(&log).len();
    let r = send_with_policy(&w, &lp, &SendOptions::default(), &mut Hooks::default()).await;
    assert_eq!(
        r,
        SendResult::Stopped {
            status: 400,
            line: None,
            message: "unable to parse 'bad'".into(),
            handled: 0
        }
    );
    assert_eq!(reqs(&log).len(), before + 1);
    let r = send_with_policy(
        &w,
        b"bad v=1 1\n",
        &SendOptions::default(),
        &mut Hooks::default(),
    )
    .await;
    assert!(matches!(r, SendResult::Stopped { line: Some(l), .. } if l == b"bad v=1 1"));
}

#[tokio::test]
async fn partial_progress_is_reported() {
    // 413 above two lines; a transient 500 for any part holding "boom"
    let (base, log) = server(|r| {
        if r.body.lines().count() > 2 {
            reply(413)
        } else if r.body.contains("boom") {
            reply(500)
        } else {
            reply(204)
        }
    })
    .await;
    let w = writer(RemoteKind::V2, &base, "b", |_| {});
    let lp = b"a v=1 1\nb v=1 1\nc v=1 1\nboom v=1 1\ne v=1 1\nf v=1 1\n";
    let r = send_with_policy(&w, lp, &SendOptions::default(), &mut Hooks::default()).await;
    let SendResult::Retry {
        status: Some(500),
        handled,
        ..
    } = r
    else {
        panic!("{r:?}")
    };
    let stored = accepted(&log, |r| {
        r.body.lines().count() <= 2 && !r.body.contains("boom")
    });
    assert_eq!(stored.as_bytes(), &lp[..handled]);
    assert!(lp[handled..].starts_with(b"c v=1") || lp[handled..].starts_with(b"boom"));
}

#[tokio::test]
async fn tdengine_500_is_bad_data() {
    let (base, _) = server(|r| {
        if r.body.contains("bad") {
            reply(500).body(r#"{"code":9750,"desc":"invalid column type"}"#)
        } else {
            reply(204)
        }
    })
    .await;
    let w = writer(RemoteKind::Tdengine, &base, "d", |_| {});
    let lp = lines(5, &[2]);
    let mut hooks = Hooks::default();
    let r = send_with_policy(
        &w,
        &lp,
        &SendOptions {
            drop_bad_lines: true,
            ..Default::default()
        },
        &mut hooks,
    )
    .await;
    assert!(
        matches!(
            r,
            SendResult::Done {
                sent_lines: 4,
                rejected_lines: 1,
                ..
            }
        ),
        "{r:?}"
    );
    assert_eq!(hooks.rejected[0].1, 500);
    assert_eq!(hooks.rejected[0].2, "invalid column type");
}
