//! Helpers shared by the store's integration tests: points, scans, the `cpu` fixture.

pub(crate) use ferry_lp::{FieldType, FieldValue, Point};
pub(crate) use ferry_store::{BucketStore, ScanRequest, SeriesData, StoreOptions, TagPredicate};

pub(crate) const DAY: i64 = 86_400_000_000_000;

pub(crate) fn pt(
    m: &str,
    tags: &[(&str, &str)],
    fields: &[(&str, FieldValue)],
    time: i64,
) -> Point {
    let mut tags: Vec<(String, String)> = tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tags.sort();
    Point {
        measurement: m.to_string(),
        tags,
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        time,
    }
}

pub(crate) fn f(x: f64) -> FieldValue {
    FieldValue::Float(x)
}

pub(crate) fn all(m: &str) -> ScanRequest {
    ScanRequest {
        measurement: m.to_string(),
        start_ns: i64::MIN,
        end_ns: i64::MAX,
        tag_filter: None,
        fields: None,
    }
}

pub(crate) fn open(dir: &std::path::Path) -> BucketStore {
    BucketStore::open(dir, StoreOptions::default()).unwrap()
}

pub(crate) fn field<'a>(s: &'a SeriesData, name: &str) -> &'a [Option<FieldValue>] {
    &s.fields.iter().find(|(n, _)| n == name).unwrap().1
}

pub(crate) fn cpu_points() -> Vec<Point> {
    vec![
        pt(
            "cpu",
            &[("host", "a")],
            &[("usage", f(1.0)), ("idle", f(9.0))],
            10,
        ),
        pt(
            "cpu",
            &[("host", "a")],
            &[("usage", f(2.0)), ("idle", f(8.0))],
            20,
        ),
        pt(
            "cpu",
            &[("host", "b"), ("region", "eu")],
            &[("usage", f(3.0))],
            10,
        ),
        pt(
            "mem",
            &[("host", "a")],
            &[("free", FieldValue::Integer(5))],
            10,
        ),
    ]
}

pub(crate) fn check_cpu(store: &BucketStore) {
    let res = store.scan(&all("cpu")).unwrap();
    assert_eq!(res.len(), 2);
    assert_eq!(res[0].tags, vec![("host".to_string(), "a".to_string())]);
    assert_eq!(res[0].times, vec![10, 20]);
    assert_eq!(res[0].fields.len(), 2);
    assert_eq!(res[0].fields[0].0, "idle");
    assert_eq!(field(&res[0], "usage"), &[Some(f(1.0)), Some(f(2.0))]);
    assert_eq!(field(&res[0], "idle"), &[Some(f(9.0)), Some(f(8.0))]);
    assert_eq!(res[1].tags.len(), 2);
    assert_eq!(res[1].times, vec![10]);
    assert_eq!(field(&res[1], "usage"), &[Some(f(3.0))]);
    assert_eq!(field(&res[1], "idle"), &[None]);
}

pub(crate) fn walk(dir: &std::path::Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            n += walk(&e.path());
        } else if e.path().extension().is_some_and(|x| x == "parquet") {
            n += 1;
        }
    }
    n
}

pub(crate) fn del(
    m: &str,
    series: Option<&[&[(&str, &str)]]>,
    min: i64,
    max: i64,
) -> ferry_store::Deletion {
    ferry_store::Deletion {
        measurement: m.to_string(),
        series: series.map(|list| {
            list.iter()
                .map(|tags| {
                    let mut k: Vec<(String, String)> = tags
                        .iter()
                        .map(|(a, b)| (a.to_string(), b.to_string()))
                        .collect();
                    k.sort();
                    k
                })
                .collect()
        }),
        min_time: min,
        max_time: max,
    }
}

/// Times per host of a measurement, as a scan returns them.
pub(crate) fn times_by_host(store: &BucketStore, m: &str) -> Vec<(String, Vec<i64>)> {
    store
        .scan(&all(m))
        .unwrap()
        .into_iter()
        .map(|s| {
            let host = s
                .tags
                .iter()
                .find(|(k, _)| k == "host")
                .map(|t| t.1.clone());
            (host.unwrap_or_default(), s.times)
        })
        .collect()
}

pub(crate) fn hosts(store: &BucketStore, m: &str) -> Vec<String> {
    store
        .series_keys(m)
        .unwrap()
        .iter()
        .map(|k| k.iter().find(|(k, _)| k == "host").unwrap().1.clone())
        .collect()
}

pub(crate) fn usage(host: &str, t: i64) -> Point {
    pt("cpu", &[("host", host)], &[("usage", f(t as f64))], t)
}
