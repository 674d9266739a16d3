//! `ferry task import-cq`: its flags and help, reading InfluxDB 1.x continuous queries (from a
//! server or a file), translating each into a query task, creating it and the per-CQ report.

use std::collections::HashMap;

use clap::Args;
use ferry_server::api;
use ferry_sync::source::{Source, SourceConfig};
use ferry_sync::SourceArgs;
use ferry_tasks::cq::{
    parse_cq, quote_ident, split_statements, translate, BucketMap, ContinuousQuery,
};
use reqwest::Method;
use serde_json::{json, Value};

use crate::client::{Client, ClientArgs, ClientError};
use crate::output::{json as print_json, s};

/// The long help of `ferry task import-cq`.
pub(super) const IMPORT_CQ_HELP: &str = "\
Import InfluxDB 1.x continuous queries (CQs) as Ferry query tasks.

Reads the CQs from a running 1.x server (SHOW CONTINUOUS QUERIES, with --source-url) or from a
file of CREATE CONTINUOUS QUERY statements (--file), translates each into a query task on the
Ferry node (--host/--token or the active config) and reports, per CQ, the task it created or
why the CQ could not be translated. Nothing is created for a CQ that cannot be translated; a
task that already exists under the same name is left alone, so running the import again after
fixing something is safe. The exit code is 1 when any CQ was not imported.

How a CQ becomes a task:

  CREATE CONTINUOUS QUERY <cq> ON <db> [RESAMPLE [EVERY <e>] [FOR <f>]]
  BEGIN SELECT <aggregates> INTO [<db2>.[<rp2>].]<m2> FROM [<db>.<rp>.]<m> [WHERE <cond>]
        GROUP BY time(<i>[, <o>])[, <tags> | *] [fill(...)] END

  * a query task named \"<db>.<cq>\" that runs every <e> (default: every <i>);
  * it reads the bucket mapped from <db>/<rp> (a DBRP mapping, else a bucket named \"<db>/<rp>\",
    or \"<db>\" for the default policy) with the CQ's SELECT without INTO, over the run's range:
      SELECT <aggregates> FROM \"<m>\" WHERE (<cond>) AND time >= :start: AND time < :stop:
        GROUP BY time(<i>[, <o>]) ...
  * each run computes the <i> windows that closed since the last run (spec window/windowOffset),
    so each window is written once, from all of its data; with FOR, the <f> - <i> before them
    are recomputed on every run (spec lateness), for late points, as the CQ does;
  * the rows go to the bucket mapped from <db2>/<rp2> (the source's bucket when INTO names only
    a measurement), into measurement <m2> (INTO :MEASUREMENT = <m>), tags as in GROUP BY.

A new task starts at the current window, as a new CQ does; --start-from also computes every
window since that time (a backfill, like running the CQ's SELECT ... INTO by hand).

Not translated, with the reason in the report: FROM /regex/, several measurements or a
subquery (Ferry's InfluxQL reads one measurement per query; write one CQ per measurement),
hence INTO :MEASUREMENT over such a FROM; functions Ferry's InfluxQL does not have (e.g.
holt_winters); a time condition in WHERE; no GROUP BY time(); and 1.x databases / retention
policies with no Ferry bucket (create the bucket, or map one with `ferry v1 dbrp create`,
and import again).

Examples:
  ferry task import-cq --source-url http://influx1:8086 -u admin -p secret --dry-run
  ferry task import-cq --source-url http://influx1:8086 --source-db telegraf
  ferry task import-cq --file cqs.influxql --start-from 2024-05-01T00:00:00Z";

/// `ferry task import-cq`.
#[derive(Debug, Args)]
pub struct ImportCqArgs {
    /// Client connection flags (the Ferry node the tasks are created on).
    #[command(flatten)]
    pub client: ClientArgs,
    /// Read the CQs from this InfluxDB 1.x server (SHOW CONTINUOUS QUERIES), e.g. http://influx1:8086.
    #[arg(long = "source-url", conflicts_with = "file")]
    pub source_url: Option<String>,
    /// Username on --source-url.
    #[arg(long, short = 'u')]
    pub username: Option<String>,
    /// Password on --source-url.
    #[arg(
        long,
        short = 'p',
        env = "FERRY_SOURCE_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
    /// Skip TLS certificate verification of --source-url.
    #[arg(long = "source-insecure")]
    pub source_insecure: bool,
    /// Read the CQs from this file instead (`-`: stdin): CREATE CONTINUOUS QUERY ... END statements.
    #[arg(long, short = 'f')]
    pub file: Option<String>,
    /// Only the CQs of this 1.x database (repeat for several).
    #[arg(long = "source-db")]
    pub source_db: Vec<String>,
    /// Only the CQ with this name (repeat for several).
    #[arg(long = "cq")]
    pub cq: Vec<String>,
    /// Print the tasks that would be created, create nothing.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Also compute every window since this time (RFC3339) instead of starting now.
    #[arg(long = "start-from")]
    pub start_from: Option<String>,
    /// Create the tasks inactive.
    #[arg(long)]
    pub inactive: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What the import did with one CQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// A task was created.
    Created,
    /// `--dry-run`: a task would be created.
    WouldCreate,
    /// A task of that name exists; left as it is.
    Exists,
    /// The CQ cannot be translated (the problems say why).
    Untranslatable,
    /// The node refused the translated task.
    Refused,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::WouldCreate => "would-create",
            Outcome::Exists => "exists",
            Outcome::Untranslatable => "untranslatable",
            Outcome::Refused => "refused",
        }
    }
}

/// One CQ's outcome in the import report.
struct CqReport {
    database: String,
    name: String,
    status: Outcome,
    task_id: Option<String>,
    body: Option<Value>,
    source_bucket: Option<String>,
    notes: Vec<String>,
    problems: Vec<String>,
    text: String,
}

impl CqReport {
    fn new(database: &str, name: &str, text: &str) -> CqReport {
        CqReport {
            database: database.to_string(),
            name: name.to_string(),
            status: Outcome::Untranslatable,
            task_id: None,
            body: None,
            source_bucket: None,
            notes: Vec::new(),
            problems: Vec::new(),
            text: text.to_string(),
        }
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "database": self.database,
            "name": self.name,
            "status": self.status.as_str(),
            "query": self.text,
            "problems": self.problems,
            "notes": self.notes,
        });
        if let Some(id) = &self.task_id {
            v["taskID"] = json!(id);
        }
        if let Some(b) = &self.body {
            v["task"] = b.clone();
        }
        if let Some(b) = &self.source_bucket {
            v["sourceBucket"] = json!(b);
        }
        v
    }

    fn print(&self) {
        let who = format!(
            "{}.{}",
            quote_ident(&self.database),
            quote_ident(&self.name)
        );
        let body = self.body.as_ref();
        let spec = body.map(|b| &b["spec"]);
        let sched = |b: &Value| {
            let sp = &b["spec"];
            let mut v = vec![
                format!("every {}", s(b, "every")),
                format!("window {}", s(sp, "window")),
            ];
            for k in ["windowOffset", "lateness"] {
                if sp.get(k).is_some() {
                    v.push(format!("{k} {}", s(sp, k)));
                }
            }
            v.join(", ")
        };
        let task = |b: &Value| format!("{:?} ({})", s(b, "name"), sched(b));
        match (self.status, body) {
            (Outcome::Created, Some(b)) => println!(
                "CQ {who}: created task {} {}",
                self.task_id.as_deref().unwrap_or("?"),
                task(b)
            ),
            (Outcome::WouldCreate, Some(b)) => {
                println!("CQ {who}: would create task {} [dry run]", task(b))
            }
            (Outcome::Exists, Some(b)) => println!(
                "CQ {who}: task {:?} already exists (ID {}), left as it is",
                s(b, "name"),
                self.task_id.as_deref().unwrap_or("?")
            ),
            (Outcome::Refused, Some(b)) => {
                println!("CQ {who}: NOT imported: the node refused task {}", task(b))
            }
            _ => {
                println!("CQ {who}: NOT imported");
                println!("    {}", self.text);
            }
        }
        if let Some(sp) = spec {
            println!(
                "    reads   bucket {:?}: {}",
                self.source_bucket.as_deref().unwrap_or_default(),
                s(sp, "query")
            );
            println!(
                "    writes  bucket {:?}, measurement {:?}",
                s(&sp["destination"], "bucket"),
                s(sp, "measurement")
            );
        }
        for n in &self.notes {
            println!("    note    {n}");
        }
        for p in &self.problems {
            println!("    - {p}");
        }
    }
}

/// The CQs of a 1.x server: `SHOW CONTINUOUS QUERIES` (one series per database: name,
/// query), and each database's default retention policy.
async fn cqs_from_source(
    a: &ImportCqArgs,
    url: &str,
) -> Result<(Vec<(String, String)>, HashMap<String, String>), ClientError> {
    let cfg = SourceConfig::from_args(&SourceArgs {
        source_url: Some(url.to_string()),
        source_user: a.username.clone(),
        source_password: a.password.clone(),
        source_insecure: a.source_insecure,
        // SHOW statements name their database themselves
        source_db: Some(String::new()),
        ..Default::default()
    });
    let src = cfg
        .and_then(Source::new)
        .map_err(|e| ClientError::Usage(e.to_string()))?;
    let failed = |what: &str, e: ferry_sync::source::ReadError| {
        ClientError::Usage(format!("{url}: {what}: {e}"))
    };
    let chunk = src
        .query("SHOW CONTINUOUS QUERIES", false)
        .await
        .map_err(|e| failed("SHOW CONTINUOUS QUERIES", e))?;
    let mut statements = Vec::new();
    let mut dbs = Vec::new();
    for series in chunk.results.iter().flat_map(|r| r.series.iter()) {
        dbs.push(series.name.clone());
        let col = |c: &str| series.columns.iter().position(|x| x == c);
        let qi = col("query").unwrap_or(1);
        for row in &series.values {
            if let Some(q) = row.get(qi).and_then(Value::as_str) {
                statements.push((series.name.clone(), q.to_string()));
            }
        }
    }
    // default retention policies, so INTO db.<default rp>.m also finds the bucket of `db`
    let mut defaults = HashMap::new();
    for db in dbs {
        let q = format!("SHOW RETENTION POLICIES ON {}", quote_ident(&db));
        let c = src.query(&q, false).await.map_err(|e| failed(&q, e))?;
        for series in c.results.iter().flat_map(|r| r.series.iter()) {
            let name = series.columns.iter().position(|x| x == "name");
            let default = series.columns.iter().position(|x| x == "default");
            if let (Some(n), Some(d)) = (name, default) {
                for row in &series.values {
                    if row.get(d).and_then(Value::as_bool) == Some(true) {
                        if let Some(rp) = row.get(n).and_then(Value::as_str) {
                            defaults.insert(db.clone(), rp.to_string());
                        }
                    }
                }
            }
        }
    }
    Ok((statements, defaults))
}

/// The node's buckets and DBRP mappings, for [`BucketMap`].
async fn bucket_map(c: &Client, org_id: &str) -> Result<BucketMap, ClientError> {
    let b: api::BucketList = c
        .typed(
            c.request(Method::GET, "/api/v2/buckets")
                .query(&[("orgID", org_id)]),
        )
        .await?;
    let d: api::DbrpList = c
        .typed(
            c.request(Method::GET, "/api/v2/dbrps")
                .query(&[("orgID", org_id)]),
        )
        .await?;
    Ok(BucketMap {
        buckets: b.buckets.into_iter().map(|x| (x.id, x.name)).collect(),
        dbrps: d
            .content
            .into_iter()
            .map(|x| (x.database, x.retention_policy, x.default, x.bucket_id))
            .collect(),
        default_rps: HashMap::new(),
    })
}

/// The CQ statements to import, each with the database it was listed under (empty when read
/// from a file), and the source's default retention policy per database.
async fn load_statements(
    a: &ImportCqArgs,
) -> Result<(Vec<(String, String)>, HashMap<String, String>), ClientError> {
    match (&a.source_url, &a.file) {
        (Some(url), None) => cqs_from_source(a, url).await,
        (None, Some(f)) => {
            let text = if f == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(f).map_err(|e| ClientError::Usage(format!("{f}: {e}")))?
            };
            let v = split_statements(&text).map_err(|e| ClientError::Usage(format!("{f}: {e}")))?;
            Ok((
                v.into_iter().map(|q| (String::new(), q)).collect(),
                HashMap::new(),
            ))
        }
        _ => Err(ClientError::Usage(
            "give --source-url (a running InfluxDB 1.x) or --file (CREATE CONTINUOUS QUERY \
             statements)"
                .into(),
        )),
    }
}

/// What the import needs from the node.
struct ImportTarget {
    client: Client,
    org_id: String,
    buckets: BucketMap,
    /// Existing tasks: name → ID.
    existing: HashMap<String, String>,
}

/// Translates one CQ and creates its task (unless it exists, or on a dry run).
async fn import_one(a: &ImportCqArgs, t: &ImportTarget, cq: &ContinuousQuery) -> CqReport {
    let mut r = CqReport::new(&cq.database, &cq.name, &cq.text);
    let tr = match translate(cq, &t.buckets) {
        Ok(tr) => tr,
        Err(u) => {
            r.problems = u.reasons;
            return r;
        }
    };
    let mut body = tr.task_body();
    body["orgID"] = json!(t.org_id);
    body["status"] = json!(if a.inactive { "inactive" } else { "active" });
    if let Some(from) = &a.start_from {
        body["latestCompleted"] = json!(from);
    }
    r.source_bucket = Some(tr.source_bucket);
    r.notes = tr.notes;
    if let Some(id) = t.existing.get(&tr.name) {
        r.status = Outcome::Exists;
        r.task_id = Some(id.clone());
    } else if a.dry_run {
        r.status = Outcome::WouldCreate;
    } else {
        let c = &t.client;
        match c
            .json(c.request(Method::POST, "/api/v2/tasks").json(&body))
            .await
        {
            Ok(created) => {
                r.status = Outcome::Created;
                r.task_id = Some(s(&created, "id"));
            }
            Err(e) => {
                r.status = Outcome::Refused;
                r.problems.push(format!("the node refused the task: {e}"));
            }
        }
    }
    r.body = Some(body);
    r
}

/// Runs `ferry task import-cq`.
pub(super) async fn run(a: ImportCqArgs) -> Result<(), ClientError> {
    let (statements, defaults) = load_statements(&a).await?;
    let client = Client::new(&a.client)?;
    let org_id = client.org_id().await?;
    let mut buckets = bucket_map(&client, &org_id).await?;
    buckets.default_rps = defaults;
    let existing = client
        .typed::<api::TaskList>(
            client
                .request(Method::GET, "/api/v2/tasks")
                .query(&[("orgID", org_id.as_str())]),
        )
        .await?
        .tasks
        .into_iter()
        .map(|t| (t.name, t.id))
        .collect();
    let target = ImportTarget {
        client,
        org_id,
        buckets,
        existing,
    };
    let wanted = |db: &str, name: Option<&str>| {
        (a.source_db.is_empty() || db.is_empty() || a.source_db.iter().any(|d| d == db))
            && (a.cq.is_empty() || name.is_none_or(|n| a.cq.iter().any(|c| c == n)))
    };
    let mut reports: Vec<CqReport> = Vec::new();
    for (i, (db, text)) in statements.iter().enumerate() {
        match parse_cq(text) {
            Ok(cq) if wanted(&cq.database, Some(&cq.name)) => {
                reports.push(import_one(&a, &target, &cq).await)
            }
            Ok(_) => {}
            Err(e) if wanted(db, None) => {
                let mut r = CqReport::new(db, &format!("statement {}", i + 1), text);
                r.problems.push(e.to_string());
                reports.push(r);
            }
            Err(_) => {}
        }
    }

    let count = |o: Outcome| reports.iter().filter(|r| r.status == o).count();
    let not_imported = count(Outcome::Untranslatable) + count(Outcome::Refused);
    if a.json {
        print_json(&json!(reports
            .iter()
            .map(CqReport::to_json)
            .collect::<Vec<_>>()));
    } else {
        for r in &reports {
            r.print();
        }
        println!(
            "{} continuous quer{}: {} {}, {} already existed, {} not translated, {} refused by the node",
            reports.len(),
            if reports.len() == 1 { "y" } else { "ies" },
            count(Outcome::Created) + count(Outcome::WouldCreate),
            if a.dry_run { "would be created (dry run)" } else { "created" },
            count(Outcome::Exists),
            count(Outcome::Untranslatable),
            count(Outcome::Refused),
        );
    }
    if not_imported > 0 {
        return Err(ClientError::Usage(format!(
            "{not_imported} of {} continuous queries were not imported (see the report above)",
            reports.len()
        )));
    }
    Ok(())
}
