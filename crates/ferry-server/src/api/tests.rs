//! Each type read from a real answer of the node (`answers.json`, captured from a running
//! node) serializes back to the same bytes: no field lost, none added, keys in the order the
//! node has always sent them (sorted, as `serde_json` maps sort them).

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::*;

fn answers() -> Value {
    serde_json::from_str(include_str!("answers.json")).unwrap()
}

/// Reads the answer named `name` as `T`, and checks that `T` writes it back byte for byte.
fn round_trip<T: Serialize + DeserializeOwned>(name: &str) -> T {
    let want = answers()[name].clone();
    assert!(want.is_object(), "no answer {name}");
    let typed: T = serde_json::from_value(want.clone()).unwrap();
    let got = serde_json::to_string(&typed).unwrap();
    assert_eq!(got, serde_json::to_string(&want).unwrap(), "{name}");
    typed
}

#[test]
fn orgs() {
    let list: OrgList = round_trip("OrgList");
    assert_eq!(list.orgs[0].name, "o");
    assert_eq!(list.links.self_, "/api/v2/orgs");
    let o: Org = round_trip("Org");
    assert!(o.links.buckets.is_some());
}

#[test]
fn buckets() {
    let list: BucketList = round_trip("BucketList");
    assert!(list.buckets.iter().any(|b| b.retention_seconds() > 0));
    assert!(list.buckets.iter().any(|b| b.retention_seconds() == 0));
    let b: Bucket = round_trip("Bucket");
    assert_eq!(b.description, "bucket two");
}

#[test]
fn authorizations() {
    let list: AuthorizationList = round_trip("AuthorizationList");
    assert!(list.authorizations.iter().all(|a| a.token.is_none()));
    let a: Authorization = round_trip("Authorization");
    assert!(a.permissions.iter().any(|p| p.resource.id.is_some()));
    let allowed: SetupAllowed = round_trip("SetupAllowed");
    assert!(!allowed.allowed, "captured from a node that is set up");
    let s: SetupResult = round_trip("SetupResult");
    assert!(s.auth.token.is_some());
    assert_eq!(s.user.id, s.auth.id);
}

#[test]
fn dbrps() {
    let list: DbrpList = round_trip("DbrpList");
    assert!(list.content.iter().any(|d| d.default));
    let one: DbrpOne = round_trip("DbrpOne");
    assert_eq!(one.content.retention_policy, "autogen");
}

#[test]
fn remotes() {
    let list: RemoteList = round_trip("RemoteList");
    assert!(list.remotes.iter().any(|r| r.remote_org_id.is_none()));
    assert!(list.remotes.iter().any(|r| r.remote_username.is_some()));
    let r: Remote = round_trip("Remote");
    assert!(r.ca_cert_file.is_some() && r.allow_insecure_tls);
}

#[test]
fn replications() {
    let list: ReplicationList = round_trip("ReplicationList");
    assert!(list.replications.iter().any(|r| r.backfill_from.is_some()));
    assert!(list.replications.iter().any(|r| r.paused));
    let r: Replication = round_trip("Replication");
    assert_eq!(r.remote_bucket_name, "zz");
    assert_eq!(r.rate_limit_bytes_per_second, None);
}

#[test]
fn tasks_runs_and_logs() {
    let list: TaskList = round_trip("TaskList");
    assert!(list.tasks.iter().any(|t| t.spec.is_object()));
    let t: Task = round_trip("Task");
    assert!(t.every.is_some() && t.status == "inactive");
    let runs: RunList = round_trip("RunList");
    assert!(!runs.runs[0].log.is_empty());
    let logs: LogList = round_trip("LogList");
    assert!(!logs.events.is_empty());
    let keys: SecretKeys = round_trip("SecretKeys");
    assert_eq!(keys.secrets, ["k1"]);
}

/// A fully set value of each type with optional fields serializes in sorted key order too
/// (the answers above leave some out).
#[test]
fn every_field_is_in_key_order() {
    fn sorted<T: Serialize>(t: &T) {
        let direct = serde_json::to_string(t).unwrap();
        let via_map = serde_json::to_string(&serde_json::to_value(t).unwrap()).unwrap();
        assert_eq!(direct, via_map);
    }
    let s = || Some("x".to_string());
    sorted(&Links {
        buckets: s(),
        logs: s(),
        org: s(),
        runs: s(),
        self_: "x".into(),
        task: s(),
        write: s(),
    });
    sorted(&Resource {
        id: s(),
        org_id: s(),
        kind: "buckets".into(),
    });
    sorted(&Replication {
        backfill_from: s(),
        latest_error_message: s(),
        latest_response_code: Some(500),
        ..Replication::default()
    });
    sorted(&Task {
        cron: s(),
        every: s(),
        flux: s(),
        last_run_error: s(),
        last_run_status: s(),
        latest_completed: s(),
        next_run: s(),
        org: s(),
        ..Task::default()
    });
    sorted(&Run {
        error: s(),
        finished_at: s(),
        range_start: s(),
        range_stop: s(),
        requested_at: s(),
        ..Run::default()
    });
    sorted(&Remote {
        ca_cert_file: s(),
        description: "d".into(),
        remote_username: s(),
        ..Remote::default()
    });
    sorted(&Org {
        description: "d".into(),
        ..Org::default()
    });
    sorted(&Bucket {
        description: "d".into(),
        retention_rules: vec![RetentionRule::default()],
        ..Bucket::default()
    });
    sorted(&Authorization {
        token: s(),
        ..Authorization::default()
    });
    sorted(&Dbrp::default());
    sorted(&SetupResult::default());
    sorted(&SetupAllowed::default());
}
