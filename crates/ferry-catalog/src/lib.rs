//! Ferry's metadata catalog: orgs, buckets, tokens, DBRP mappings, remotes and replications in one SQLite file
//! (`catalog.sqlite` in the data dir), so an operator can inspect it with `sqlite3`.
//!
//! Guarantees: every mutating call is one SQLite transaction in WAL mode with
//! `synchronous=FULL`, so a call that returned `Ok` survives a crash. Tokens are stored only as
//! SHA-256 hashes; the clear token is returned once, by the call that creates it. Remote
//! tokens and passwords are stored in clear (the node must send them) and never returned by
//! the API.

mod cache;
mod error;
mod ids;
pub mod inspect;
mod model;
pub mod private_file;
mod remotes;
mod replication_model;
mod schema;
pub mod sealing;
mod sql;
mod store;
mod tasks;

pub use error::CatalogError;
pub use ids::{generate_token, new_id, parse_id};
pub use model::retention_cutoff_ns;
pub use model::{
    Action, Authorization, Bucket, BucketUpdate, Dbrp, NewAuthorization, Org, Permission,
    ResourceType, SetupResult,
};
pub use remotes::{
    NewRemote, NewReplication, RemoteUpdate, ReplicationUpdate, MAX_MAX_AGE_SECONDS,
    MIN_MAX_AGE_SECONDS,
};
pub use replication_model::{
    Remote, Replication, DEFAULT_MAX_AGE_SECONDS, DEFAULT_MAX_BATCH_BYTES,
    DEFAULT_MAX_QUEUE_SIZE_BYTES, MIN_MAX_QUEUE_SIZE_BYTES,
};
pub use store::{all_access, Catalog};
pub use tasks::{NewTask, Task, TaskRun, TaskUpdate, MAX_RUNS_KEPT};
