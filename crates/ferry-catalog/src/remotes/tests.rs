use super::*;
use crate::SetupResult;

fn setup() -> (Catalog, SetupResult) {
    let c = Catalog::open_in_memory().unwrap();
    let s = c.setup("acme", "default", 0, Some("t".into())).unwrap();
    (c, s)
}

fn remote(c: &Catalog, org: &str, name: &str) -> Remote {
    c.create_remote(NewRemote {
        org_id: org.into(),
        name: name.into(),
        remote_url: "http://127.0.0.1:9/prefix".into(),
        remote_api_token: "remote-secret".into(),
        remote_org_id: Some("4444444444444444".into()),
        ..Default::default()
    })
    .unwrap()
}

fn new_rep(s: &SetupResult, remote_id: &str, name: &str) -> NewReplication {
    NewReplication {
        org_id: s.org.id.clone(),
        name: name.into(),
        remote_id: remote_id.into(),
        local_bucket_id: s.bucket.id.clone(),
        remote_bucket_name: Some("target".into()),
        ..Default::default()
    }
}

#[test]
fn remote_crud_and_name_unique_per_org() {
    let (c, s) = setup();
    let r = remote(&c, &s.org.id, "r1");
    assert_eq!(r.kind, RemoteKind::V2);
    assert_eq!(c.remote_by_id(&r.id).unwrap(), r);
    assert_eq!(
        c.remote_by_id(&r.id).unwrap().remote_api_token,
        "remote-secret"
    );
    assert!(matches!(
        c.create_remote(NewRemote {
            org_id: s.org.id.clone(),
            name: "r1".into(),
            remote_url: "http://x".into(),
            ..Default::default()
        }),
        Err(CatalogError::Conflict { .. })
    ));
    // the same name in another org is fine
    let other = c.create_org("other", "").unwrap();
    remote(&c, &other.id, "r1");
    remote(&c, &s.org.id, "r2");
    let all = c.list_remotes(&s.org.id, None, None).unwrap();
    assert_eq!(
        all.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["r1", "r2"]
    );
    assert_eq!(
        c.list_remotes(&s.org.id, Some("r2"), None).unwrap().len(),
        1
    );
    assert_eq!(
        c.list_remotes(&s.org.id, None, Some("http://127.0.0.1:9/prefix"))
            .unwrap()
            .len(),
        2
    );
    assert!(c
        .list_remotes(&s.org.id, None, Some("http://nope"))
        .unwrap()
        .is_empty());

    let u = c
        .update_remote(
            &r.id,
            RemoteUpdate {
                name: Some("r1b".into()),
                allow_insecure_tls: Some(true),
                remote_org_id: Some(None),
                kind: Some(RemoteKind::V1),
                remote_username: Some(Some("admin".into())),
                remote_password: Some(Some("pw".into())),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(u.name, "r1b");
    assert!(u.allow_insecure_tls);
    assert_eq!(u.remote_org_id, None);
    assert_eq!(u.kind, RemoteKind::V1);
    assert_eq!(c.remote_by_id(&r.id).unwrap(), u);
    assert!(matches!(
        c.update_remote(
            &r.id,
            RemoteUpdate {
                name: Some("r2".into()),
                ..Default::default()
            }
        ),
        Err(CatalogError::Conflict { .. })
    ));
    assert!(matches!(
        c.update_remote(
            &r.id,
            RemoteUpdate {
                remote_url: Some("ftp://x".into()),
                ..Default::default()
            }
        ),
        Err(CatalogError::Invalid(_))
    ));
    assert!(c.delete_remote(&r.id, false).unwrap().is_empty());
    assert!(matches!(
        c.remote_by_id(&r.id),
        Err(CatalogError::NotFound { .. })
    ));
    assert!(matches!(
        c.delete_remote(&r.id, false),
        Err(CatalogError::NotFound { .. })
    ));
}

#[test]
fn replication_crud_and_defaults() {
    let (c, s) = setup();
    let r = remote(&c, &s.org.id, "r1");
    let rep = c.create_replication(new_rep(&s, &r.id, "rep1")).unwrap();
    assert_eq!(rep.max_queue_size_bytes, DEFAULT_MAX_QUEUE_SIZE_BYTES);
    assert_eq!(rep.max_age_seconds, DEFAULT_MAX_AGE_SECONDS);
    assert_eq!(rep.max_batch_bytes, DEFAULT_MAX_BATCH_BYTES);
    assert_eq!(c.replication_by_id(&rep.id).unwrap(), rep);
    assert!(matches!(
        c.create_replication(new_rep(&s, &r.id, "rep1")),
        Err(CatalogError::Conflict { .. })
    ));
    let mut n = new_rep(&s, &r.id, "rep2");
    n.measurements = vec!["cpu".into(), "mem".into()];
    n.add_tags = vec![("_instance_id".into(), "edge-7".into())];
    n.rate_limit_bytes_per_sec = Some(5_000_000);
    n.backfill_from_ns = Some(1_700_000_000_000_000_000);
    n.remote_bucket_name = None;
    n.remote_bucket_id = Some("00000000000000AB".into());
    let rep2 = c.create_replication(n).unwrap();
    assert_eq!(c.replication_by_id(&rep2.id).unwrap(), rep2);

    let list = c.list_replications(&s.org.id, None, None, None).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        c.list_replications(&s.org.id, Some("rep2"), None, None)
            .unwrap(),
        vec![rep2.clone()]
    );
    assert_eq!(
        c.list_replications(&s.org.id, None, Some(&r.id), Some(&s.bucket.id))
            .unwrap()
            .len(),
        2
    );
    assert!(c
        .list_replications(&s.org.id, None, Some("0000000000000001"), None)
        .unwrap()
        .is_empty());

    // updating the bucket by name clears the id
    let u = c
        .update_replication(
            &rep2.id,
            ReplicationUpdate {
                remote_bucket_name: Some("other".into()),
                max_queue_size_bytes: Some(MIN_MAX_QUEUE_SIZE_BYTES),
                rate_limit_bytes_per_sec: Some(None),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(u.remote_bucket_id, None);
    assert_eq!(u.remote_bucket_name.as_deref(), Some("other"));
    assert_eq!(u.rate_limit_bytes_per_sec, None);
    assert_eq!(c.replication_by_id(&rep2.id).unwrap(), u);

    assert!(c.set_replication_paused(&rep.id, true).unwrap().paused);
    assert!(c.replication_by_id(&rep.id).unwrap().paused);
    assert!(!c.set_replication_paused(&rep.id, false).unwrap().paused);

    c.delete_replication(&rep.id).unwrap();
    assert!(matches!(
        c.replication_by_id(&rep.id),
        Err(CatalogError::NotFound { .. })
    ));
    assert!(matches!(
        c.delete_replication(&rep.id),
        Err(CatalogError::NotFound { .. })
    ));
}

#[test]
fn replication_bounds_and_references() {
    let (c, s) = setup();
    let r = remote(&c, &s.org.id, "r1");
    let bad = |f: &dyn Fn(&mut NewReplication)| {
        let mut n = new_rep(&s, &r.id, "x");
        f(&mut n);
        match c.create_replication(n) {
            Err(CatalogError::Invalid(m)) => m,
            other => panic!("expected Invalid, got {other:?}"),
        }
    };
    assert!(
        bad(&|n| n.max_queue_size_bytes = MIN_MAX_QUEUE_SIZE_BYTES - 1)
            .contains("maxQueueSizeBytes")
    );
    assert!(bad(&|n| n.max_age_seconds = 59).contains("maxAgeSeconds"));
    assert!(bad(&|n| n.max_age_seconds = MAX_MAX_AGE_SECONDS + 1).contains("maxAgeSeconds"));
    assert!(bad(&|n| n.max_age_seconds = -1).contains("maxAgeSeconds"));
    assert!(bad(&|n| n.remote_bucket_name = None).contains("remoteBucket"));
    assert!(bad(&|n| n.remote_id = "0000000000000001".into()).contains("remote"));
    assert!(bad(&|n| n.local_bucket_id = "0000000000000001".into()).contains("local bucket"));
    assert!(bad(&|n| n.rate_limit_bytes_per_sec = Some(0)).contains("rateLimit"));
    // a remote of another org is not usable
    let other = c.create_org("other", "").unwrap();
    let r_other = remote(&c, &other.id, "r1");
    assert!(bad(&|n| n.remote_id = r_other.id.clone()).contains("remote"));
    // the edges are fine
    for (q, a) in [
        (MIN_MAX_QUEUE_SIZE_BYTES, 0),
        (MIN_MAX_QUEUE_SIZE_BYTES, 60),
        (MIN_MAX_QUEUE_SIZE_BYTES, MAX_MAX_AGE_SECONDS),
    ] {
        let mut n = new_rep(&s, &r.id, &format!("ok{a}"));
        n.max_queue_size_bytes = q;
        n.max_age_seconds = a;
        c.create_replication(n).unwrap();
    }
    let rep = c
        .list_replications(&s.org.id, None, None, None)
        .unwrap()
        .remove(0);
    assert!(matches!(
        c.update_replication(
            &rep.id,
            ReplicationUpdate {
                max_age_seconds: Some(30),
                ..Default::default()
            }
        ),
        Err(CatalogError::Invalid(_))
    ));
    assert_eq!(
        c.replication_by_id(&rep.id).unwrap(),
        rep,
        "a refused update changes nothing"
    );
}

#[test]
fn remote_in_use_is_not_deleted_unless_asked() {
    let (c, s) = setup();
    let r = remote(&c, &s.org.id, "r1");
    let a = c.create_replication(new_rep(&s, &r.id, "a")).unwrap();
    let b = c.create_replication(new_rep(&s, &r.id, "b")).unwrap();
    match c.delete_remote(&r.id, false) {
        Err(CatalogError::InUse(m)) => {
            assert!(m.contains("\"a\"") && m.contains(&b.id), "{m}");
        }
        other => panic!("expected InUse, got {other:?}"),
    }
    assert!(c.remote_by_id(&r.id).is_ok());
    let mut gone = c.delete_remote(&r.id, true).unwrap();
    gone.sort();
    let mut want = vec![a.id, b.id];
    want.sort();
    assert_eq!(gone, want);
    assert!(c
        .list_replications(&s.org.id, None, None, None)
        .unwrap()
        .is_empty());
}

#[test]
fn deleting_a_bucket_deletes_its_replications() {
    let (c, s) = setup();
    let r = remote(&c, &s.org.id, "r1");
    let other = c.create_bucket(&s.org.id, "other", "", 0).unwrap();
    let a = c.create_replication(new_rep(&s, &r.id, "a")).unwrap();
    let mut n = new_rep(&s, &r.id, "b");
    n.local_bucket_id = other.id.clone();
    let b = c.create_replication(n).unwrap();
    let (bucket, gone) = c.delete_bucket_and_replications(&s.bucket.id).unwrap();
    assert_eq!(bucket.id, s.bucket.id);
    assert_eq!(gone, vec![a.id.clone()]);
    assert!(matches!(
        c.replication_by_id(&a.id),
        Err(CatalogError::NotFound { .. })
    ));
    assert!(c.replication_by_id(&b.id).is_ok());
    // plain delete_bucket cascades too
    c.delete_bucket(&other.id).unwrap();
    assert!(c.all_replications().unwrap().is_empty());
    // and deleting the org takes the remotes
    c.delete_org(&s.org.id).unwrap();
    assert!(c.list_remotes(&s.org.id, None, None).unwrap().is_empty());
}

#[test]
fn foreign_keys_hold_in_a_file_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let c = Catalog::open(&dir.path().join("c.sqlite"), &dir.path().join("k")).unwrap();
    let s = c.setup("acme", "default", 0, None).unwrap();
    let r = remote(&c, &s.org.id, "r1");
    c.create_replication(new_rep(&s, &r.id, "a")).unwrap();
    c.delete_bucket(&s.bucket.id).unwrap();
    c.delete_remote(&r.id, false).unwrap();
    let b = c.create_bucket(&s.org.id, "b2", "", 0).unwrap();
    let r = remote(&c, &s.org.id, "r2");
    let mut n = new_rep(&s, &r.id, "x");
    n.local_bucket_id = b.id;
    c.create_replication(n).unwrap();
    c.delete_org(&s.org.id).unwrap();
}

/// Remote credentials and secret values are sealed in the file, open with the key file,
/// not with another one; clear values of an older release are sealed on the next open.
#[test]
fn credentials_are_sealed_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (db, key) = (dir.path().join("c.sqlite"), dir.path().join("k"));
    let raw = |sql: &str| -> Vec<String> {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let mut st = conn.prepare(sql).unwrap();
        let rows = st.query_map([], |r| r.get::<_, String>(0)).unwrap();
        rows.map(Result::unwrap).collect()
    };
    let (org, rid) = {
        let c = Catalog::open(&db, &key).unwrap();
        let s = c.setup("acme", "default", 0, None).unwrap();
        let r = remote(&c, &s.org.id, "r1");
        c.put_secret(&s.org.id, "cloud", "SECRET-VALUE").unwrap();
        assert_eq!(
            c.remote_by_id(&r.id).unwrap().remote_api_token,
            "remote-secret"
        );
        assert_eq!(c.secret_value(&s.org.id, "cloud").unwrap(), "SECRET-VALUE");
        (s.org.id, r.id)
    };
    let stored = raw("SELECT remote_api_token FROM remotes UNION ALL SELECT value FROM secrets");
    assert!(
        stored.iter().all(|v| v.starts_with("sealed:v1:")),
        "{stored:?}"
    );
    // an older release's clear values
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute("UPDATE remotes SET remote_api_token = 'old-clear'", [])
            .unwrap();
        conn.execute("UPDATE secrets SET value = 'old-secret'", [])
            .unwrap();
    }
    let c = Catalog::open(&db, &key).unwrap();
    assert_eq!(c.remote_by_id(&rid).unwrap().remote_api_token, "old-clear");
    assert_eq!(c.secret_value(&org, "cloud").unwrap(), "old-secret");
    assert!(c.unopenable_credentials().unwrap().is_empty());
    drop(c);
    let stored = raw("SELECT remote_api_token FROM remotes UNION ALL SELECT value FROM secrets");
    assert!(
        stored.iter().all(|v| v.starts_with("sealed:v1:")),
        "{stored:?}"
    );
    // another key file: nothing opens, and the catalog says which
    let c = Catalog::open(&db, &dir.path().join("other-key")).unwrap();
    let e = c.remote_by_id(&rid).unwrap_err().to_string();
    assert!(e.contains("another key file"), "{e}");
    assert!(c.secret_value(&org, "cloud").is_err());
    assert_eq!(c.unopenable_credentials().unwrap().len(), 2);
    assert_eq!(
        c.list_remotes(&org, None, None).unwrap()[0].remote_api_token,
        ""
    );
}
