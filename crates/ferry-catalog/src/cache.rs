//! Answers of the catalog's hot lookups (a request's token, a query's `db`/`rp`, an org by
//! ID or name, a bucket by name or ID: what every Flux query looks up; a database's DBRP
//! mappings: what every 1.x write and SHOW looks up), kept in memory while the catalog is
//! unchanged.
//!
//! Validity: an entry holds while the connection's count of changed rows
//! (`sqlite3_total_changes`) is the one read *before* the entry was loaded; any INSERT,
//! UPDATE or DELETE through the connection (the server's only one; nothing else writes the
//! file while it runs) moves the count and empties the cache on the next lookup. An entry
//! loaded while a write ran is therefore dropped at the next lookup, never served stale.

use parking_lot::{Mutex, MutexGuard};
use std::collections::HashMap;
use std::hash::Hash;

use crate::{Authorization, Bucket, CatalogError, Dbrp, Org};

/// Most entries per map; past it the map starts over (unknown tokens must not grow it).
const MAX_ENTRIES: usize = 1024;

/// The column an org is looked up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum OrgColumn {
    Id,
    Name,
}

#[derive(Default)]
struct Maps {
    changes: u64,
    auth: HashMap<String, Option<Authorization>>,
    dbrp: HashMap<(String, String, String), Option<Bucket>>,
    org: HashMap<(OrgColumn, String), Option<Org>>,
    bucket_by_name: HashMap<(String, String), Option<Bucket>>,
    bucket_by_id: HashMap<String, Option<Bucket>>,
    dbrps: HashMap<(String, Option<String>), Vec<Dbrp>>,
}

/// See the module documentation.
#[derive(Default)]
pub(crate) struct ReadCache {
    maps: Mutex<Maps>,
}

impl ReadCache {
    /// The entries of one map, emptied first when the catalog changed since they were read.
    fn maps(&self, changes: u64) -> MutexGuard<'_, Maps> {
        let mut m = self.maps.lock();
        if m.changes != changes {
            m.auth.clear();
            m.dbrp.clear();
            m.org.clear();
            m.bucket_by_name.clear();
            m.bucket_by_id.clear();
            m.dbrps.clear();
            m.changes = changes;
        }
        m
    }

    /// `key`'s entry in the map `pick` chooses, loaded with `load` on a miss. `changes` is
    /// the connection's change count read before this call.
    fn lookup<K: Hash + Eq, V: Clone>(
        &self,
        changes: u64,
        pick: fn(&mut Maps) -> &mut HashMap<K, V>,
        key: K,
        load: impl FnOnce() -> Result<V, CatalogError>,
    ) -> Result<V, CatalogError> {
        if let Some(v) = pick(&mut self.maps(changes)).get(&key) {
            return Ok(v.clone());
        }
        let v = load()?; // without the lock: loading takes the connection
        let mut m = self.maps(changes);
        let map = pick(&mut m);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, v.clone());
        Ok(v)
    }

    /// The authorization of a clear token, from the cache or `load`.
    pub fn authorization(
        &self,
        changes: u64,
        token: &str,
        load: impl FnOnce() -> Result<Option<Authorization>, CatalogError>,
    ) -> Result<Option<Authorization>, CatalogError> {
        self.lookup(changes, |m| &mut m.auth, token.to_string(), load)
    }

    /// The bucket an org's `db`/`rp` resolves to, from the cache or `load`.
    pub fn dbrp(
        &self,
        changes: u64,
        (org, db, rp): (&str, &str, &str),
        load: impl FnOnce() -> Result<Option<Bucket>, CatalogError>,
    ) -> Result<Option<Bucket>, CatalogError> {
        let key = (org.to_string(), db.to_string(), rp.to_string());
        self.lookup(changes, |m| &mut m.dbrp, key, load)
    }

    /// The org whose `column` is `value`, from the cache or `load`.
    pub fn org(
        &self,
        changes: u64,
        (column, value): (OrgColumn, &str),
        load: impl FnOnce() -> Result<Option<Org>, CatalogError>,
    ) -> Result<Option<Org>, CatalogError> {
        self.lookup(changes, |m| &mut m.org, (column, value.to_string()), load)
    }

    /// The bucket of org `org_id` called `name`, from the cache or `load`.
    pub fn bucket_by_name(
        &self,
        changes: u64,
        (org_id, name): (&str, &str),
        load: impl FnOnce() -> Result<Option<Bucket>, CatalogError>,
    ) -> Result<Option<Bucket>, CatalogError> {
        let key = (org_id.to_string(), name.to_string());
        self.lookup(changes, |m| &mut m.bucket_by_name, key, load)
    }

    /// The bucket with ID `id` (`None`: no such bucket), from the cache or `load`.
    pub fn bucket_by_id(
        &self,
        changes: u64,
        id: &str,
        load: impl FnOnce() -> Result<Option<Bucket>, CatalogError>,
    ) -> Result<Option<Bucket>, CatalogError> {
        self.lookup(changes, |m| &mut m.bucket_by_id, id.to_string(), load)
    }

    /// The DBRP mappings of org `org_id` (every org's for `""`), of one database or all,
    /// from the cache or `load`.
    pub fn dbrps(
        &self,
        changes: u64,
        (org_id, database): (&str, Option<&str>),
        load: impl FnOnce() -> Result<Vec<Dbrp>, CatalogError>,
    ) -> Result<Vec<Dbrp>, CatalogError> {
        let key = (org_id.to_string(), database.map(str::to_string));
        self.lookup(changes, |m| &mut m.dbrps, key, load)
    }
}
