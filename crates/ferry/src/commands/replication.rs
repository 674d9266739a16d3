//! `ferry replication create|update|delete|list|pause|resume|validate`, with the influx CLI's
//! flags plus Ferry's (measurement filter, rate limit, added tags, backfill, batch size). Holds
//! the subcommands' flags ([`ReplicationCmd`], [`ReplicationExtras`]) and what each does.

use clap::{Args, Subcommand};
use ferry_server::api;
use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::client::{Client, ClientArgs, ClientError};
use crate::output::{json_of, parse_seconds, table};

/// Settings of `ferry replication create` and `update` beyond InfluxDB's.
#[derive(Debug, Args, Clone, Default)]
pub struct ReplicationExtras {
    /// Replicate only this measurement (repeatable; default all).
    #[arg(long = "measurement")]
    pub measurement: Vec<String>,
    /// Bandwidth limit, e.g. 5MB/s, 500kB/s, 30MB/min (uncompressed line protocol; kB =
    /// 1024 bytes, MB = 1024², as in `influx write --rate-limit`).
    #[arg(long = "rate-limit")]
    pub rate_limit: Option<String>,
    /// Tag added to every replicated point, key=value (repeatable), e.g. _instance_id=edge-7.
    #[arg(long = "add-tag")]
    pub add_tag: Vec<String>,
    /// Largest batch sent, in bytes of line protocol (default 500000).
    #[arg(long = "max-batch-bytes")]
    pub max_batch_bytes: Option<u64>,
}

/// `ferry replication ...` (the influx CLI's flags, plus Ferry's).
#[derive(Debug, Subcommand)]
pub enum ReplicationCmd {
    /// Create a replication.
    Create {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Replication name.
        #[arg(long, short = 'n')]
        name: String,
        /// Free text listed with the replication (empty by default).
        #[arg(long, short = 'd', default_value = "")]
        description: String,
        /// Remote to write to.
        #[arg(long = "remote-id")]
        remote_id: String,
        /// Local bucket to replicate: its ID (16 hex digits) or its name. An ID of an existing
        /// bucket is taken as that bucket; any other value as a name.
        #[arg(long = "local-bucket", visible_alias = "local-bucket-id")]
        local_bucket: String,
        /// Remote bucket: 16 hex digits are sent as its ID, anything else as its name (`db/rp`
        /// or `db` for 1.x remotes).
        #[arg(
            long = "remote-bucket",
            required_unless_present_any = ["remote_bucket_id", "remote_bucket_name"],
            conflicts_with_all = ["remote_bucket_id", "remote_bucket_name"]
        )]
        remote_bucket: Option<String>,
        /// Remote bucket, by ID.
        #[arg(long = "remote-bucket-id")]
        remote_bucket_id: Option<String>,
        /// Remote bucket, by name (even one that looks like an ID).
        #[arg(long = "remote-bucket-name")]
        remote_bucket_name: Option<String>,
        /// Bytes the stream may hold back before it records a gap (at least 33554430).
        #[arg(long = "max-queue-bytes", default_value_t = 67_108_860)]
        max_queue_bytes: i64,
        /// Drop lines the remote refuses as bad (400) instead of stopping on them.
        #[arg(
            long = "drop-non-retryable-data",
            conflicts_with = "no_drop_non_retryable_data"
        )]
        drop_non_retryable_data: bool,
        /// Do not drop lines the remote refuses (the default).
        #[arg(long = "no-drop-non-retryable-data")]
        no_drop_non_retryable_data: bool,
        /// Oldest unsent data held back: seconds or a duration like 7d (0 = no limit; else 60s to 60d).
        #[arg(long = "max-age", default_value = "604800")]
        max_age: String,
        /// Also send the data already in the bucket from this time (RFC3339).
        #[arg(long = "backfill-from")]
        backfill_from: Option<String>,
        /// Ferry's extra settings.
        #[command(flatten)]
        extras: ReplicationExtras,
        /// Check first that the remote accepts writes (an empty write).
        #[arg(long)]
        validate: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a replication.
    Update {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Replication ID.
        #[arg(long, short = 'i')]
        id: String,
        /// New name.
        #[arg(long, short = 'n')]
        name: Option<String>,
        /// New description.
        #[arg(long, short = 'd')]
        description: Option<String>,
        /// ID of the remote to write to from now on.
        #[arg(long = "remote-id")]
        remote_id: Option<String>,
        /// New remote bucket: 16 hex digits are sent as its ID, anything else as its name.
        #[arg(
            long = "remote-bucket",
            conflicts_with_all = ["remote_bucket_id", "remote_bucket_name"]
        )]
        remote_bucket: Option<String>,
        /// New remote bucket, by ID.
        #[arg(long = "remote-bucket-id")]
        remote_bucket_id: Option<String>,
        /// New remote bucket, by name (even one that looks like an ID).
        #[arg(long = "remote-bucket-name")]
        remote_bucket_name: Option<String>,
        /// New queue bound in bytes.
        #[arg(long = "max-queue-bytes")]
        max_queue_bytes: Option<i64>,
        /// Drop lines the remote refuses as bad.
        #[arg(
            long = "drop-non-retryable-data",
            conflicts_with = "no_drop_non_retryable_data"
        )]
        drop_non_retryable_data: bool,
        /// Stop dropping lines the remote refuses.
        #[arg(long = "no-drop-non-retryable-data")]
        no_drop_non_retryable_data: bool,
        /// New age bound: seconds or a duration (0 = no limit).
        #[arg(long = "max-age")]
        max_age: Option<String>,
        /// Ferry's extra settings (`--measurement` replaces the list, `--rate-limit none` removes the limit, `--add-tag` replaces the tags).
        #[command(flatten)]
        extras: ReplicationExtras,
        /// Replicate every measurement again.
        #[arg(long = "all-measurements", conflicts_with = "measurement")]
        all_measurements: bool,
        /// Remove the added tags.
        #[arg(long = "no-add-tags", conflicts_with = "add_tag")]
        no_add_tags: bool,
        /// Check first that the remote accepts writes.
        #[arg(long)]
        validate: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a replication (its unsent data is no longer kept for it).
    Delete {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Replication ID.
        #[arg(long, short = 'i')]
        id: String,
    },
    /// List replications with their status.
    #[command(alias = "ls", alias = "find")]
    List {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Only the replication with this name.
        #[arg(long, short = 'n')]
        name: Option<String>,
        /// Only replications to this remote.
        #[arg(long = "remote-id")]
        remote_id: Option<String>,
        /// Only replications of this local bucket.
        #[arg(long = "local-bucket-id")]
        local_bucket_id: Option<String>,
        /// Print JSON (every field).
        #[arg(long)]
        json: bool,
    },
    /// Pause a replication: nothing is sent; the node keeps its data (up to the queue bounds).
    Pause {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Replication ID.
        #[arg(long, short = 'i')]
        id: String,
    },
    /// Resume a paused (or stopped on an error) replication.
    Resume {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Replication ID.
        #[arg(long, short = 'i')]
        id: String,
    },
    /// Check that the remote accepts the replication's writes (an empty write).
    Validate {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Replication ID.
        #[arg(long, short = 'i')]
        id: String,
    },
}

/// A table that fits a terminal: the influx CLI's 14 columns run to ~240 characters, so the
/// queue is one `current / max` column, the route one `local bucket -> remote bucket` column,
/// and IDs of orgs and remotes are left to `--json` (which has every field).
fn print(list: &[api::Replication], as_json: bool) {
    if as_json {
        json_of(&list);
        return;
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| {
            let remote_bucket = match r.remote_bucket_id.as_deref() {
                None | Some("") => &r.remote_bucket_name,
                Some(id) => id,
            };
            vec![
                r.id.clone(),
                r.name.clone(),
                r.state.clone(),
                lag(r.lag_seconds),
                format!(
                    "{} / {}",
                    bytes(r.current_queue_size_bytes),
                    bytes(u64::try_from(r.max_queue_size_bytes).unwrap_or(0))
                ),
                r.latest_response_code
                    .map_or_else(|| "-".into(), |c| c.to_string()),
                format!("{} -> {remote_bucket}", r.local_bucket_id),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "Name",
            "State",
            "Lag",
            "Queue",
            "Last Status",
            "Local Bucket -> Remote Bucket",
        ],
        &rows,
    );
}

/// Bytes for people: `0 B`, `512 B`, `1.5 KiB`, `64 MiB`.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    let text = format!("{v:.1}");
    format!("{} {}", text.trim_end_matches(".0"), UNITS[unit])
}

/// Lag for people: `0s`, `4.2s`, `3m12s`, `2h5m`.
fn lag(secs: f64) -> String {
    if secs < 60.0 {
        let r = (secs * 10.0).round() / 10.0;
        return if r.fract() == 0.0 {
            format!("{}s", r as u64)
        } else {
            format!("{r:.1}s")
        };
    }
    let s = secs as u64;
    if s < 3600 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{}h{}m", s / 3600, s % 3600 / 60)
    }
}

/// Parses a bandwidth like `5MB/s`, `500kB/s`, `30MB/min`, `1000B/sec` or a plain number
/// (bytes per second) into bytes per second. `none`, `unlimited` and `0` give `None`.
/// Units are those of `influx write --rate-limit` (and `ferry write`): `kB` = 1024 bytes,
/// `MB` = 1024², `GB` = 1024³ (`KiB`/`MiB`/`GiB` say the same explicitly), so one value means
/// the same bandwidth on every Ferry command.
pub fn parse_rate(s: &str) -> Result<Option<u64>, String> {
    let t = s.trim();
    if t.is_empty()
        || t == "0"
        || t.eq_ignore_ascii_case("none")
        || t.eq_ignore_ascii_case("unlimited")
    {
        return Ok(None);
    }
    let bad =
        || format!("invalid rate {s:?}: use e.g. 5MB/s, 500kB/s, 30MB/min or bytes per second");
    let (amount, per) = match t.split_once('/') {
        Some((a, p)) => (a.trim(), p.trim()),
        None => (t, "s"),
    };
    let divisor = match per {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        _ => return Err(bad()),
    };
    let n = crate::output::parse_size(amount).map_err(|_| bad())?;
    let v = (n / divisor).round();
    if !v.is_finite() || v < 1.0 {
        return Err(format!("invalid rate {s:?}: less than 1 byte per second"));
    }
    Ok(Some(v as u64))
}

/// `--max-age`: integer seconds (the influx CLI's form) or a duration like `7d`.
fn parse_max_age(s: &str) -> Result<i64, ClientError> {
    if let Ok(n) = s.trim().parse::<i64>() {
        return Ok(n);
    }
    parse_seconds(s).map_err(ClientError::Usage)
}

fn parse_tags(tags: &[String]) -> Result<Map<String, Value>, ClientError> {
    tags.iter()
        .map(|t| match t.split_once('=') {
            Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k.to_string(), json!(v))),
            _ => Err(ClientError::Usage(format!(
                "--add-tag {t:?}: use key=value, e.g. _instance_id=edge-7"
            ))),
        })
        .collect()
}

/// Adds Ferry's settings to a request body; `update` sends only what was given.
fn add_extras(body: &mut Value, x: &ReplicationExtras) -> Result<(), ClientError> {
    if !x.measurement.is_empty() {
        body["measurements"] = json!(x.measurement);
    }
    if let Some(r) = &x.rate_limit {
        body["rateLimitBytesPerSecond"] = json!(parse_rate(r).map_err(ClientError::Usage)?);
    }
    if !x.add_tag.is_empty() {
        body["addTags"] = Value::Object(parse_tags(&x.add_tag)?);
    }
    if let Some(b) = x.max_batch_bytes {
        body["maxBatchBytes"] = json!(b);
    }
    Ok(())
}

/// The local bucket a `--local-bucket` value means, as (ID, name): the bucket with that ID
/// when the value is one (16 hex digits) and such a bucket exists in the org, else the bucket
/// of that name. The guide for InfluxDB 2.1 passes an ID there, today's influx CLI
/// (`--local-bucket-id`) too, Ferry's own examples a name.
async fn find_local_bucket(
    c: &Client,
    org_id: &str,
    value: &str,
) -> Result<(String, String), ClientError> {
    let find = |key: &'static str, v: String| async move {
        let list: api::BucketList = c
            .typed(
                c.request(Method::GET, "/api/v2/buckets")
                    .query(&[("orgID", org_id), (key, v.as_str())]),
            )
            .await?;
        Ok::<_, ClientError>(list.buckets.into_iter().next().map(|b| (b.id, b.name)))
    };
    if let Some(id) = ferry_catalog::parse_id(value) {
        if let Some(found) = find("id", id).await? {
            return Ok(found);
        }
    }
    find("name", value.to_string()).await?.ok_or_else(|| {
        ClientError::Usage(format!(
            "local bucket {value:?} not found: no bucket of the org has that ID or that name"
        ))
    })
}

/// Where the remote bucket flags go, as (`remoteBucketID`, `remoteBucketName`):
/// `--remote-bucket` by its shape (16 hex digits are an ID, as in the InfluxDB 2.1 guide,
/// anything else a name, as in today's influx CLI), `--remote-bucket-id` and
/// `--remote-bucket-name` as they say.
fn remote_bucket_fields(
    either: Option<String>,
    id: Option<String>,
    name: Option<String>,
) -> (Option<String>, Option<String>) {
    match either {
        Some(v) if ferry_catalog::parse_id(&v).is_some() => (Some(v), name),
        Some(v) => (id, Some(v)),
        None => (id, name),
    }
}

/// Says on stderr (stdout may be JSON) which remote bucket the replication writes to.
fn say_remote_bucket(id: &Option<String>, name: &Option<String>) {
    match (id, name) {
        (Some(i), Some(n)) => eprintln!("Remote bucket: ID {i}, name {n:?}"),
        (Some(i), None) => eprintln!("Remote bucket: ID {i}"),
        (None, Some(n)) => eprintln!("Remote bucket: name {n:?}"),
        (None, None) => {}
    }
}

fn validate_query(validate: bool) -> Vec<(&'static str, &'static str)> {
    if validate {
        vec![("validate", "true")]
    } else {
        vec![]
    }
}

/// Runs a replication command.
pub async fn run(cmd: ReplicationCmd) -> Result<(), ClientError> {
    match cmd {
        ReplicationCmd::Create {
            client,
            name,
            description,
            remote_id,
            local_bucket,
            remote_bucket: either,
            remote_bucket_id,
            remote_bucket_name,
            max_queue_bytes,
            drop_non_retryable_data,
            no_drop_non_retryable_data: _,
            max_age,
            backfill_from,
            extras,
            validate,
            json,
        } => {
            let c = Client::new(&client)?;
            let org_id = c.org_id().await?;
            let (local_bucket_id, local_name) =
                find_local_bucket(&c, &org_id, &local_bucket).await?;
            eprintln!("Local bucket: {local_name:?} (ID {local_bucket_id})");
            let (remote_bucket_id, remote_bucket_name) =
                remote_bucket_fields(either, remote_bucket_id, remote_bucket_name);
            say_remote_bucket(&remote_bucket_id, &remote_bucket_name);
            let mut body = json!({
                "orgID": org_id,
                "name": name,
                "description": description,
                "remoteID": remote_id,
                "localBucketID": local_bucket_id,
                "maxQueueSizeBytes": max_queue_bytes,
                "dropNonRetryableData": drop_non_retryable_data,
                "maxAgeSeconds": parse_max_age(&max_age)?,
            });
            if let Some(id) = remote_bucket_id {
                body["remoteBucketID"] = json!(id);
            }
            if let Some(n) = remote_bucket_name {
                body["remoteBucketName"] = json!(n);
            }
            if let Some(t) = backfill_from {
                body["backfillFrom"] = json!(t);
            }
            add_extras(&mut body, &extras)?;
            let r = c
                .typed(
                    c.request(Method::POST, "/api/v2/replications")
                        .query(&validate_query(validate))
                        .json(&body),
                )
                .await?;
            print(&[r], json);
        }
        ReplicationCmd::Update {
            client,
            id,
            name,
            description,
            remote_id,
            remote_bucket: either,
            remote_bucket_id,
            remote_bucket_name,
            max_queue_bytes,
            drop_non_retryable_data,
            no_drop_non_retryable_data,
            max_age,
            extras,
            all_measurements,
            no_add_tags,
            validate,
            json,
        } => {
            let c = Client::new(&client)?;
            let mut body = json!({});
            if let Some(v) = name {
                body["name"] = json!(v);
            }
            if let Some(v) = description {
                body["description"] = json!(v);
            }
            if let Some(v) = remote_id {
                body["remoteID"] = json!(v);
            }
            let (remote_bucket_id, remote_bucket_name) =
                remote_bucket_fields(either, remote_bucket_id, remote_bucket_name);
            say_remote_bucket(&remote_bucket_id, &remote_bucket_name);
            if let Some(v) = remote_bucket_id {
                body["remoteBucketID"] = json!(v);
            }
            if let Some(v) = remote_bucket_name {
                body["remoteBucketName"] = json!(v);
            }
            if let Some(v) = max_queue_bytes {
                body["maxQueueSizeBytes"] = json!(v);
            }
            if drop_non_retryable_data {
                body["dropNonRetryableData"] = json!(true);
            } else if no_drop_non_retryable_data {
                body["dropNonRetryableData"] = json!(false);
            }
            if let Some(v) = max_age {
                body["maxAgeSeconds"] = json!(parse_max_age(&v)?);
            }
            add_extras(&mut body, &extras)?;
            if all_measurements {
                body["measurements"] = json!([]);
            }
            if no_add_tags {
                body["addTags"] = json!({});
            }
            let r = c
                .typed(
                    c.request(Method::PATCH, &format!("/api/v2/replications/{id}"))
                        .query(&validate_query(validate))
                        .json(&body),
                )
                .await?;
            print(&[r], json);
        }
        ReplicationCmd::Delete { client, id } => {
            let c = Client::new(&client)?;
            c.send(c.request(Method::DELETE, &format!("/api/v2/replications/{id}")))
                .await?;
            println!("Replication {id} deleted.");
        }
        ReplicationCmd::List {
            client,
            name,
            remote_id,
            local_bucket_id,
            json,
        } => {
            let c = Client::new(&client)?;
            let mut rb = c
                .request(Method::GET, "/api/v2/replications")
                .query(&[("orgID", c.org_id().await?)]);
            for (k, v) in [
                ("name", name),
                ("remoteID", remote_id),
                ("localBucketID", local_bucket_id),
            ] {
                if let Some(v) = v {
                    rb = rb.query(&[(k, v)]);
                }
            }
            let list: api::ReplicationList = c.typed(rb).await?;
            print(&list.replications, json);
        }
        ReplicationCmd::Pause { client, id } => {
            let c = Client::new(&client)?;
            c.send(c.request(Method::POST, &format!("/api/v2/replications/{id}/pause")))
                .await?;
            println!("Replication {id} paused.");
        }
        ReplicationCmd::Resume { client, id } => {
            let c = Client::new(&client)?;
            c.send(c.request(Method::POST, &format!("/api/v2/replications/{id}/resume")))
                .await?;
            println!("Replication {id} resumed.");
        }
        ReplicationCmd::Validate { client, id } => {
            let c = Client::new(&client)?;
            c.send(c.request(Method::POST, &format!("/api/v2/replications/{id}/validate")))
                .await?;
            println!("Replication {id} is valid: the remote accepts its writes.");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("5MB/s"), Ok(Some(5 * 1_048_576)));
        assert_eq!(parse_rate("500kB/s"), Ok(Some(512_000)));
        assert_eq!(parse_rate("500 kB / sec"), Ok(Some(512_000)));
        assert_eq!(parse_rate("30MB/min"), Ok(Some(524_288)));
        assert_eq!(parse_rate("60B/m"), Ok(Some(1)));
        assert_eq!(parse_rate("1.5MB/s"), Ok(Some(1_572_864)));
        assert_eq!(parse_rate("1000"), Ok(Some(1000)));
        assert_eq!(parse_rate("1MiB/s"), Ok(Some(1_048_576)));
        // The same value means the same bandwidth as `ferry write --rate-limit`.
        for v in ["5MB/s", "500kB/s", "30MB/min", "60B/m", "1.5MB/s"] {
            let ours = parse_rate(v).unwrap().unwrap() as f64;
            let write = ferry_pipeline::parse_rate_limit(v).unwrap();
            assert!((ours - write).abs() <= 1.0, "{v}: {ours} vs {write}");
        }
        assert_eq!(parse_rate("none"), Ok(None));
        assert!(parse_rate("5MB/fortnight").is_err());
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("5XB/s").is_err());
    }

    #[test]
    fn lags() {
        assert_eq!(lag(0.0), "0s");
        assert_eq!(lag(4.24), "4.2s");
        assert_eq!(lag(192.0), "3m12s");
        assert_eq!(lag(7500.0), "2h5m");
    }

    #[test]
    fn remote_bucket_by_shape() {
        let some = |v: &str| Some(v.to_string());
        // The InfluxDB 2.1 guide's `--remote-bucket <bucket ID>`.
        assert_eq!(
            remote_bucket_fields(some("0a1B2c3D4e5F6789"), None, None),
            (some("0a1B2c3D4e5F6789"), None)
        );
        assert_eq!(
            remote_bucket_fields(some("telegraf"), None, None),
            (None, some("telegraf"))
        );
        assert_eq!(
            remote_bucket_fields(some("edge/autogen"), None, None),
            (None, some("edge/autogen"))
        );
        // 15 or 17 digits, or not hex: a name.
        assert_eq!(
            remote_bucket_fields(some("0a1b2c3d4e5f678"), None, None),
            (None, some("0a1b2c3d4e5f678"))
        );
        assert_eq!(
            remote_bucket_fields(some("0a1b2c3d4e5f678g"), None, None),
            (None, some("0a1b2c3d4e5f678g"))
        );
        // The explicit flags say which.
        assert_eq!(
            remote_bucket_fields(None, None, some("0a1b2c3d4e5f6789")),
            (None, some("0a1b2c3d4e5f6789"))
        );
        assert_eq!(
            remote_bucket_fields(None, some("0a1b2c3d4e5f6789"), some("t")),
            (some("0a1b2c3d4e5f6789"), some("t"))
        );
    }

    #[test]
    fn max_age_forms() {
        assert_eq!(parse_max_age("604800").unwrap(), 604_800);
        assert_eq!(parse_max_age("7d").unwrap(), 604_800);
        assert_eq!(parse_max_age("0").unwrap(), 0);
    }
}
