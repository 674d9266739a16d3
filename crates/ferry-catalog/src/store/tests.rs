use super::*;

fn setup() -> (Catalog, SetupResult) {
    let c = Catalog::open_in_memory().unwrap();
    let s = c
        .setup("acme", "default", 0, Some("secret-token".into()))
        .unwrap();
    (c, s)
}

#[test]
fn setup_happens_once_and_token_authenticates() {
    let (c, s) = setup();
    assert!(c.is_set_up().unwrap());
    assert!(matches!(
        c.setup("x", "y", 0, None),
        Err(CatalogError::Conflict { .. })
    ));
    let auth = c.authorize("secret-token").unwrap().expect("token known");
    assert_eq!(auth.id, s.auth.id);
    assert!(auth.token.is_none(), "clear token is never read back");
    assert!(auth.allows(Action::Write, "buckets", &s.org.id, Some(&s.bucket.id)));
    assert!(c.authorize("wrong").unwrap().is_none());
}

#[test]
fn tokens_are_stored_hashed() {
    let (c, _) = setup();
    let stored: String = c
        .conn()
        .query_row("SELECT token_sha256 FROM authorizations", [], |r| r.get(0))
        .unwrap();
    assert_ne!(stored, "secret-token");
    assert_eq!(stored.len(), 64);
}

#[test]
fn scoped_token_allows_only_its_bucket_and_action() {
    let (c, s) = setup();
    let other = c.create_bucket(&s.org.id, "other", "", 3600).unwrap();
    let a = c
        .create_authorization(NewAuthorization {
            org_id: s.org.id.clone(),
            description: "reader".into(),
            permissions: vec![Permission {
                action: Action::Read,
                resource_type: "buckets".into(),
                org_id: Some(s.org.id.clone()),
                id: Some(other.id.clone()),
            }],
            token: None,
        })
        .unwrap();
    let a = c.authorize(a.token.as_deref().unwrap()).unwrap().unwrap();
    assert!(a.allows(Action::Read, "buckets", &s.org.id, Some(&other.id)));
    assert!(!a.allows(Action::Write, "buckets", &s.org.id, Some(&other.id)));
    assert!(!a.allows(Action::Read, "buckets", &s.org.id, Some(&s.bucket.id)));
    c.set_authorization_status(&a.id, "inactive").unwrap();
    let a = c.authorization_by_id(&a.id).unwrap();
    assert!(!a.allows(Action::Read, "buckets", &s.org.id, Some(&other.id)));
}

#[test]
fn bucket_names_unique_per_org_and_validated() {
    let (c, s) = setup();
    assert!(matches!(
        c.create_bucket(&s.org.id, "default", "", 0),
        Err(CatalogError::Conflict { .. })
    ));
    assert!(matches!(
        c.create_bucket(&s.org.id, "_system", "", 0),
        Err(CatalogError::Invalid(_))
    ));
    let org2 = c.create_org("other-org", "").unwrap();
    c.create_bucket(&org2.id, "default", "", 0).unwrap();
    let b = c.bucket_by_name(&s.org.id, "default").unwrap();
    let b = c
        .update_bucket(
            &b.id,
            BucketUpdate {
                name: Some("renamed".into()),
                retention_seconds: Some(60),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!((b.name.as_str(), b.retention_seconds), ("renamed", 60));
    c.delete_bucket(&b.id).unwrap();
    assert!(matches!(
        c.bucket_by_id(&b.id),
        Err(CatalogError::NotFound { .. })
    ));
    assert!(
        c.list_dbrps(&s.org.id, None).unwrap().is_empty(),
        "mappings go with the bucket"
    );
}

#[test]
fn dbrp_resolution() {
    let (c, s) = setup();
    // setup maps default/autogen to the default bucket
    assert_eq!(
        c.resolve_dbrp(&s.org.id, "default", "")
            .unwrap()
            .unwrap()
            .id,
        s.bucket.id
    );
    let b2 = c
        .create_bucket(&s.org.id, "telegraf-weekly", "", 0)
        .unwrap();
    let m = c
        .create_dbrp(&s.org.id, &b2.id, "telegraf", "weekly", false)
        .unwrap();
    assert!(m.default, "first mapping of a database is its default");
    let b3 = c.create_bucket(&s.org.id, "telegraf-daily", "", 0).unwrap();
    c.create_dbrp(&s.org.id, &b3.id, "telegraf", "daily", true)
        .unwrap();
    assert_eq!(
        c.resolve_dbrp(&s.org.id, "telegraf", "")
            .unwrap()
            .unwrap()
            .id,
        b3.id
    );
    assert_eq!(
        c.resolve_dbrp(&s.org.id, "telegraf", "weekly")
            .unwrap()
            .unwrap()
            .id,
        b2.id
    );
    assert!(c
        .resolve_dbrp(&s.org.id, "telegraf", "nope")
        .unwrap()
        .is_none());
    // a bucket named db/rp is found without a mapping
    let b4 = c
        .create_bucket(&s.org.id, "factory/autogen", "", 0)
        .unwrap();
    assert_eq!(
        c.resolve_dbrp(&s.org.id, "factory", "")
            .unwrap()
            .unwrap()
            .id,
        b4.id
    );
    assert!(matches!(
        c.create_dbrp(&s.org.id, &b4.id, "telegraf", "daily", false),
        Err(CatalogError::Conflict { .. })
    ));
}

#[test]
fn survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.sqlite");
    let id = {
        let c = Catalog::open(&path, &dir.path().join("k")).unwrap();
        c.setup("o", "b", 0, Some("t".into())).unwrap().bucket.id
    };
    let c = Catalog::open(&path, &dir.path().join("k")).unwrap();
    assert!(c.is_set_up().unwrap());
    assert_eq!(c.bucket_by_id(&id).unwrap().name, "b");
    assert!(c.authorize("t").unwrap().is_some());
}

/// The cached token and db/rp lookups follow every change: a deactivated or deleted token
/// stops authenticating at once, a new mapping or bucket is seen at once, a removed one is
/// gone at once.
#[test]
fn cached_lookups_follow_changes() {
    let (c, s) = setup();
    let t = c
        .create_authorization(NewAuthorization {
            org_id: s.org.id.clone(),
            description: "t".into(),
            permissions: all_access(Some(&s.org.id)),
            token: Some("second-token".into()),
        })
        .unwrap();
    assert_eq!(
        c.authorize("second-token").unwrap().unwrap().status,
        "active"
    );
    c.set_authorization_status(&t.id, "inactive").unwrap();
    assert_eq!(
        c.authorize("second-token").unwrap().unwrap().status,
        "inactive"
    );
    c.delete_authorization(&t.id).unwrap();
    assert!(c.authorize("second-token").unwrap().is_none());
    assert!(c.authorize("secret-token").unwrap().is_some());

    let org = s.org.id.as_str();
    assert!(c.resolve_dbrp(org, "telegraf", "").unwrap().is_none());
    let b = c.create_bucket(org, "tg", "", 0).unwrap();
    let m = c
        .create_dbrp(org, &b.id, "telegraf", "autogen", true)
        .unwrap();
    assert_eq!(
        c.resolve_dbrp(org, "telegraf", "").unwrap().unwrap().id,
        b.id
    );
    c.delete_dbrp(&m.id).unwrap();
    assert!(c.resolve_dbrp(org, "telegraf", "").unwrap().is_none());
    let named = c.create_bucket(org, "telegraf", "", 0).unwrap();
    assert_eq!(
        c.resolve_dbrp(org, "telegraf", "").unwrap().unwrap().id,
        named.id
    );
    c.delete_bucket(&named.id).unwrap();
    assert!(c.resolve_dbrp(org, "telegraf", "").unwrap().is_none());
}

/// The cached org and bucket lookups (by ID and by name: every Flux query makes them) follow
/// every change: a renamed bucket answers under its new name only, a retention change is
/// seen at once, a deleted bucket or org is gone at once.
#[test]
fn cached_org_and_bucket_lookups_follow_changes() {
    let (c, s) = setup();
    let org = s.org.id.as_str();
    assert_eq!(c.org_by_name("acme").unwrap().id, org);
    assert_eq!(c.org_by_id(org).unwrap().name, "acme");
    assert!(c.org_by_name("other").is_err());
    assert!(c.bucket_by_name(org, "b").is_err());
    let b = c.create_bucket(org, "b", "", 0).unwrap();
    assert_eq!(c.bucket_by_name(org, "b").unwrap().id, b.id);
    let upd = |u: BucketUpdate| c.update_bucket(&b.id, u).unwrap();
    upd(BucketUpdate {
        retention_seconds: Some(3600),
        ..Default::default()
    });
    assert_eq!(c.bucket_by_name(org, "b").unwrap().retention_seconds, 3600);
    upd(BucketUpdate {
        name: Some("renamed".into()),
        ..Default::default()
    });
    assert!(c.bucket_by_name(org, "b").is_err());
    assert_eq!(c.bucket_by_name(org, "renamed").unwrap().id, b.id);
    c.delete_bucket(&b.id).unwrap();
    assert!(c.bucket_by_name(org, "renamed").is_err());
    let other = c.create_org("other", "").unwrap();
    assert_eq!(c.org_by_name("other").unwrap().id, other.id);
    c.delete_org(&other.id).unwrap();
    assert!(c.org_by_name("other").is_err());
    assert!(c.org_by_id(&other.id).is_err());
}

/// The cached bucket-by-ID and DBRP-list lookups (every 1.x write and SHOW makes them)
/// follow every change: a new mapping is listed at once, a retention change is seen at once,
/// a deleted mapping or bucket is gone at once, and an ID asked before it existed is found
/// once it does.
#[test]
fn cached_bucket_id_and_dbrp_lookups_follow_changes() {
    let (c, s) = setup();
    let org = s.org.id.as_str();
    let names = |db: Option<&str>| -> Vec<String> {
        c.list_dbrps(org, db)
            .unwrap()
            .into_iter()
            .map(|m| format!("{}/{}", m.database, m.retention_policy))
            .collect()
    };
    assert!(names(Some("telegraf")).is_empty());
    let b = c.create_bucket(org, "tw", "", 0).unwrap();
    assert_eq!(c.bucket_by_id(&b.id).unwrap().retention_seconds, 0);
    let m = c
        .create_dbrp(org, &b.id, "telegraf", "weekly", false)
        .unwrap();
    assert_eq!(names(Some("telegraf")), ["telegraf/weekly"]);
    assert!(names(None).contains(&"telegraf/weekly".to_string()));
    c.update_bucket(
        &b.id,
        BucketUpdate {
            retention_seconds: Some(7200),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(c.bucket_by_id(&b.id).unwrap().retention_seconds, 7200);
    c.delete_dbrp(&m.id).unwrap();
    assert!(names(Some("telegraf")).is_empty());
    c.delete_bucket(&b.id).unwrap();
    assert!(matches!(
        c.bucket_by_id(&b.id),
        Err(CatalogError::NotFound { .. })
    ));
    assert!(c.bucket_by_id("0000000000000001").is_err());
    let later = c.create_bucket(org, "later", "", 0).unwrap();
    assert_eq!(c.bucket_by_id(&later.id).unwrap().name, "later");
}
