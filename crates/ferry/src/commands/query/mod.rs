//! `ferry query`: Flux through `/api/v2/query` (as the influx CLI's `influx query`) or
//! InfluxQL through `/query`, the language told by the text or by `--flux`/`--influxql`.

mod args;
mod flux;
mod influxql;

use std::io::Read;

use crate::client::{Client, ClientError};

pub use args::QueryArgs;

/// The first words of InfluxQL statements; Flux has no statement that starts with one.
const INFLUXQL_KEYWORDS: &[&str] = &[
    "SELECT", "SHOW", "CREATE", "DROP", "DELETE", "ALTER", "GRANT", "REVOKE", "KILL", "EXPLAIN",
];

/// Runs `ferry query`.
pub async fn run(a: QueryArgs) -> Result<(), ClientError> {
    let text = query_text(&a)?;
    if text.trim().is_empty() {
        return Err(ClientError::Usage("the query is empty".into()));
    }
    let c = Client::new(&a.client)?;
    if is_influxql(&text, &a) {
        influxql::run(&c, &text, &a).await
    } else {
        if a.db.is_some() || a.rp.is_some() || a.epoch.is_some() || a.format != "table" {
            return Err(ClientError::Usage(
                "--db, --rp, --epoch and --format are for InfluxQL; Flux prints tables, or \
                 annotated CSV with --raw (add --influxql if the query is InfluxQL)"
                    .into(),
            ));
        }
        flux::run(&c, &text, a.raw).await
    }
}

/// The query from the argument, `--file`, or stdin (`-` for either).
fn query_text(a: &QueryArgs) -> Result<String, ClientError> {
    let from_stdin = || {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        Ok(s)
    };
    match (&a.query, &a.file) {
        (Some(q), _) if q == "-" => from_stdin(),
        (Some(q), _) => Ok(q.clone()),
        (None, Some(f)) if f.as_os_str() == "-" => from_stdin(),
        (None, Some(f)) => std::fs::read_to_string(f).map_err(|e| {
            ClientError::Usage(format!("cannot read query file {}: {e}", f.display()))
        }),
        (None, None) => Err(ClientError::Usage(
            "give the query as an argument, with --file, or `-` for stdin".into(),
        )),
    }
}

/// InfluxQL when asked, when a database is named, or when the text starts with an InfluxQL
/// statement's keyword; Flux otherwise.
fn is_influxql(text: &str, a: &QueryArgs) -> bool {
    if a.flux || a.influxql {
        return a.influxql;
    }
    if a.db.is_some() || a.rp.is_some() {
        return true;
    }
    let first = text
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("");
    let after = text.trim_start()[first.len()..].chars().next();
    INFLUXQL_KEYWORDS
        .iter()
        .any(|k| k.eq_ignore_ascii_case(first))
        && after.is_none_or(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> QueryArgs {
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            q: QueryArgs,
        }
        let mut argv = vec!["ferry", "x"];
        argv.extend_from_slice(extra);
        Wrap::parse_from(argv).q
    }

    #[test]
    fn tells_the_language_by_the_first_word() {
        let a = args(&[]);
        assert!(is_influxql("SELECT * FROM cpu", &a));
        assert!(is_influxql("  show databases", &a));
        assert!(is_influxql("drop measurement cpu", &a));
        assert!(!is_influxql("from(bucket: \"b\") |> range(start: -1h)", &a));
        assert!(!is_influxql("import \"strings\"\nbuckets()", &a));
        // a Flux identifier that starts like a keyword is not one
        assert!(!is_influxql("selected = 1\nselected", &a));
        assert!(!is_influxql("show(x: 1)", &a));
        assert!(is_influxql("buckets()", &args(&["--influxql"])));
        assert!(!is_influxql("SELECT 1", &args(&["--flux"])));
        assert!(is_influxql("x", &args(&["--db", "d"])));
    }
}
