//! InfluxDB 1.x continuous queries → Ferry query tasks (`ferry task import-cq`).
//!
//! A CQ is `CREATE CONTINUOUS QUERY <name> ON <db> [RESAMPLE [EVERY <e>] [FOR <f>]] BEGIN
//! SELECT … INTO <target> FROM <source> [WHERE …] GROUP BY time(<i>[, <o>])[, …] … END`.
//! `ferry-influxql` parses SELECTs but not `INTO` nor the CQ wrapper, so this module scans the
//! wrapper and the INTO clause with the InfluxQL lexer, removes INTO, and hands the remaining
//! SELECT (plus the run's time range) to the existing parser; the task runs it with the
//! existing executor.
//!
//! The translation ([`translate`]) is a query task that behaves like the CQ:
//!
//! | CQ | task |
//! | --- | --- |
//! | `ON db` + `FROM [db.rp.]m` | `database` = the Ferry bucket mapped from db/rp, `FROM "m"` |
//! | `INTO [db.[rp].]m` | `destination.bucket` = the bucket mapped from the INTO db/rp (the source's when only a measurement is named), `measurement` = m |
//! | `GROUP BY time(i, o)` | `window` = i, `windowOffset` = o: a run computes the windows that closed since the last one |
//! | `RESAMPLE EVERY e` | `every` = e (default i) |
//! | `RESAMPLE FOR f` | `lateness` = f − i: the windows f before each run's end are recomputed |
//!
//! What cannot be translated is reported with the reason: no INTO, `FROM /regex/`, several
//! measurements or a subquery in FROM (Ferry's InfluxQL reads one measurement per query), an
//! INTO `:MEASUREMENT` back-reference over such a FROM, functions Ferry's engine lacks, a time
//! condition in WHERE, no `GROUP BY time()`, and databases with no Ferry bucket.

mod parse;
mod tokens;
mod translate;

pub use parse::{parse_cq, split_statements, ContinuousQuery, CqError};
pub use translate::{quote_ident, translate, BucketMap, Translation, Untranslatable};

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_influxql::functions;

    fn map() -> BucketMap {
        BucketMap {
            buckets: vec![
                ("1".into(), "tcq".into()),
                ("2".into(), "ds".into()),
                ("3".into(), "other".into()),
                ("4".into(), "ds/two".into()),
            ],
            dbrps: vec![("mapped".into(), "autogen".into(), true, "3".into())],
            default_rps: [("weekly".to_string(), "w1".to_string())].into(),
        }
    }

    #[test]
    fn parses_show_output() {
        let cq = parse_cq("CREATE CONTINUOUS QUERY \"cq 2\" ON tcq RESAMPLE EVERY 5s FOR 20s BEGIN SELECT max(f) AS fmax, count(i) AS n INTO tcq.autogen.cpu_stats FROM tcq.autogen.cpu WHERE dc = 'dTrue' AND host =~ /a|b/ GROUP BY time(10s, 2s), host fill(none) END").unwrap();
        assert_eq!(cq.name, "cq 2");
        assert_eq!(cq.database, "tcq");
        assert_eq!(cq.resample_every, Some(5_000_000_000));
        assert_eq!(cq.resample_for, Some(20_000_000_000));
        assert!(cq.select.starts_with("SELECT max(f)") && cq.select.ends_with("fill(none)"));
        let t = translate(&cq, &map()).unwrap();
        assert_eq!(t.name, "tcq.cq 2");
        assert_eq!(t.every, "5s");
        assert_eq!(
            t.spec.query,
            "SELECT max(f) AS fmax, count(i) AS n FROM \"cpu\" WHERE (dc = 'dTrue' AND host =~ /a|b/) AND time >= :start: AND time < :stop: GROUP BY time(10s, 2s), host fill(none)"
        );
        assert_eq!(t.spec.database, "tcq");
        assert_eq!(t.spec.measurement.as_deref(), Some("cpu_stats"));
        assert_eq!(t.spec.window.as_deref(), Some("10s"));
        assert_eq!(t.spec.window_offset.as_deref(), Some("2s"));
        assert_eq!(t.spec.lateness.as_deref(), Some("10s"));
        assert_eq!(t.spec.destination.bucket.as_deref(), Some("tcq"));
        assert_eq!(t.notes.len(), 2);
        t.spec.validate().unwrap();
    }

    #[test]
    fn into_other_database_and_defaults() {
        let cq = parse_cq("CREATE CONTINUOUS QUERY cq1 ON tcq BEGIN SELECT mean(*) INTO ds.autogen.cpu_mean FROM tcq.autogen.cpu GROUP BY time(5s), * END;").unwrap();
        let t = translate(&cq, &map()).unwrap();
        assert_eq!(t.every, "5s");
        assert_eq!(
            t.spec.query,
            "SELECT mean(*) FROM \"cpu\" WHERE time >= :start: AND time < :stop: GROUP BY time(5s), *"
        );
        assert_eq!(t.spec.destination.bucket.as_deref(), Some("ds"));
        assert_eq!(t.spec.lateness, None);
        assert_eq!(t.spec.window_offset, None);
        assert!(t.notes.is_empty());
        // written by hand: unqualified names, a back-reference with a single source
        let cq = parse_cq("create continuous query x on mapped begin select sum(v) into \"ds\".\"two\".:MEASUREMENT from m group by time(1h, -15m) end").unwrap();
        let t = translate(&cq, &map()).unwrap();
        assert_eq!(t.spec.database, "other");
        assert_eq!(t.spec.destination.bucket.as_deref(), Some("ds/two"));
        assert_eq!(t.spec.measurement.as_deref(), Some("m"));
        assert_eq!(t.spec.window_offset.as_deref(), Some("45m"));
        t.spec.validate().unwrap();
        // the source's default policy falls back to Ferry's default mapping
        let cq = parse_cq("CREATE CONTINUOUS QUERY y ON ds BEGIN SELECT mean(v) INTO weekly.w1.m FROM m GROUP BY time(1m) END").unwrap();
        let mut m = map();
        m.buckets.push(("5".into(), "weekly".into()));
        assert_eq!(
            translate(&cq, &m)
                .unwrap()
                .spec
                .destination
                .bucket
                .as_deref(),
            Some("weekly")
        );
    }

    #[test]
    fn reports_what_cannot_be_translated() {
        let bad = |s: &str| {
            translate(&parse_cq(s).unwrap(), &map())
                .unwrap_err()
                .reasons
        };
        let r = bad("CREATE CONTINUOUS QUERY cq3 ON tcq BEGIN SELECT mean(f) INTO ds.two.:MEASUREMENT FROM tcq.autogen./cpu.*/ GROUP BY time(1m) END");
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r[0].contains("regular expression") && r[1].contains(":MEASUREMENT"));
        // count_hll() is InfluxDB 1.8's, not 1.6's: Ferry does not answer it
        let r = bad("CREATE CONTINUOUS QUERY cq4 ON tcq BEGIN SELECT count_hll(f), mean(f) INTO tcq.autogen.x FROM tcq.autogen.cpu GROUP BY time(1m) END");
        assert!(
            r.len() == 1 && r[0].contains("count_hll()") && !r[0].contains("mean()"),
            "{r:?}"
        );
        let r = bad("CREATE CONTINUOUS QUERY cq5 ON tcq BEGIN SELECT mean(f) INTO tcq.autogen.\"select\" FROM tcq.autogen.cpu WHERE time > now() - 1h GROUP BY time(1m) END");
        assert!(r.len() == 1 && r[0].contains("time condition"), "{r:?}");
        let r = bad("CREATE CONTINUOUS QUERY cq6 ON tcq BEGIN SELECT mean(f) INTO tcq.autogen.x FROM tcq.autogen.cpu, tcq.autogen.mem GROUP BY time(1m) END");
        assert!(
            r.len() == 1 && r[0].contains("several measurements"),
            "{r:?}"
        );
        let r = bad("CREATE CONTINUOUS QUERY cq7 ON nodb BEGIN SELECT mean(f) INTO x FROM cpu GROUP BY time(1m) END");
        assert!(
            r.len() == 1 && r[0].contains("no Ferry bucket for database \"nodb\", its default"),
            "{r:?}"
        );
        let r = bad("CREATE CONTINUOUS QUERY cq8 ON tcq BEGIN SELECT mean(f) FROM cpu GROUP BY time(1m) END");
        assert!(r[0].contains("no INTO"), "{r:?}");
        let r = bad("CREATE CONTINUOUS QUERY cq9 ON tcq BEGIN SELECT mean(f) INTO x FROM cpu END");
        assert!(r[0].contains("GROUP BY time"), "{r:?}");
        let r = bad("CREATE CONTINUOUS QUERY c ON tcq RESAMPLE FOR 30s BEGIN SELECT mean(f) INTO ds.nope.x FROM cpu GROUP BY time(1m) END");
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r.iter().any(|m| m.contains("RESAMPLE FOR 30s")), "{r:?}");
        assert!(r.iter().any(|m| m.contains("ds/nope")), "{r:?}");
        assert!(parse_cq("SELECT 1").is_err());
        assert!(parse_cq(
            "CREATE CONTINUOUS QUERY a ON b BEGIN SELECT mean(x) INTO y FROM z GROUP BY time(1m)"
        )
        .is_err());
    }

    /// The executor answers every function its list ([`functions::supported`]) names: the
    /// list cannot claim a function the executor refuses without this test failing.
    #[test]
    fn supported_functions_are_the_executors() {
        use ferry_lp::{FieldValue, Point};
        use ferry_store::{BucketStore, StoreOptions};
        use std::sync::Arc;

        struct Ctx(Arc<BucketStore>);
        impl ferry_influxql::Context for Ctx {
            fn store(
                &self,
                _: &str,
                _: &str,
            ) -> Result<Arc<BucketStore>, ferry_influxql::ContextError> {
                Ok(self.0.clone())
            }
            fn databases(&self) -> Vec<String> {
                vec!["db".into()]
            }
            fn retention_policies(
                &self,
                _: &str,
            ) -> Result<Vec<ferry_influxql::RetentionPolicy>, ferry_influxql::ContextError>
            {
                Ok(vec![])
            }
            fn now_ns(&self) -> i64 {
                3_600_000_000_000
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let store = BucketStore::open(dir.path(), StoreOptions::default()).unwrap();
        let points: Vec<Point> = (0..10)
            .map(|k| Point {
                measurement: "m".into(),
                tags: vec![],
                fields: vec![("v".into(), FieldValue::Float(k as f64))],
                time: k * 60_000_000_000,
            })
            .collect();
        store.apply(1, &points);
        let ctx = Ctx(Arc::new(store));
        let run = |f: &str| {
            let (args, by) = match f {
                "percentile" => ("v, 50", ""),
                "top" | "bottom" | "moving_average" | "atan2" | "log" | "pow" | "sample" => {
                    ("v, 2", "")
                }
                "holt_winters" | "holt_winters_with_fit" => ("mean(v), 2, 1", " GROUP BY time(2m)"),
                f if f.contains("average") || f.contains("index") || f.contains("_ratio") => {
                    ("v, 2", "")
                }
                "triple_exponential_derivative" | "chande_momentum_oscillator" => ("v, 2", ""),
                _ => ("v", ""),
            };
            let q = format!("SELECT {f}({args}) FROM m WHERE time >= 0 AND time < 1h{by}");
            let stmt = ferry_influxql::parse_query(&q).unwrap().remove(0);
            ferry_influxql::execute(&stmt, 0, &ctx, Some("db"), None).error
        };
        for f in functions::supported().filter(|f| *f != "now") {
            assert_eq!(run(f), None, "{f}() should be supported");
        }
        for f in ["count_hll", "nosuch"] {
            assert!(run(f).is_some(), "{f}() is not implemented by the executor");
        }
    }

    #[test]
    fn splits_files() {
        let f = "-- exported\nCREATE CONTINUOUS QUERY a ON db BEGIN SELECT mean(v) INTO m1 FROM m GROUP BY time(1m) END;\n\n\
                 CREATE CONTINUOUS QUERY b ON db RESAMPLE EVERY 1h BEGIN\n  SELECT max(v) INTO m2 FROM m\n  GROUP BY time(10m)\nEND\n";
        let v = split_statements(f).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(
            parse_cq(&v[1]).unwrap().resample_every,
            Some(3_600_000_000_000)
        );
        assert!(split_statements("CREATE CONTINUOUS QUERY a ON db BEGIN SELECT").is_err());
        assert!(split_statements("SHOW DATABASES").is_err());
    }
}
