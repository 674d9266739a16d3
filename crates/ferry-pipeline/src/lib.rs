//! The sinks every Ferry data movement shares: replication streams now, migration import/sync
//! and tasks later.
//!
//! * [`WriteTarget`] says where and how to write (one of the four remote kinds).
//! * [`RemoteWriter`] sends one gzip-compressed batch and classifies the answer.
//! * [`WriteOutcome`] and [`Backoff`] are THE retry policy: one place decides what is retried,
//!   split, dropped or handed to an operator, and how long to wait.
//! * [`send_with_policy`] sends a batch with that policy (split on 413, bisect on 400) and never
//!   sleeps: the caller owns the schedule.
//! * [`batch`] splits line protocol at line boundaries; [`RateLimiter`] caps bytes per second
//!   with the `influx write --rate-limit` grammar.
//! * [`ProgressView`] is how a movement reports progress to whoever draws it.

pub mod batch;
mod error;
pub mod progress;
pub mod ratelimit;
pub mod retry;
pub mod sendbatch;
pub mod target;
pub mod writer;

pub use error::SinkError;
pub use progress::ProgressView;
pub use ratelimit::{parse_rate_limit, RateLimiter};
pub use retry::{classify, parse_retry_after, Backoff, WriteOutcome};
pub use sendbatch::{
    send_with_policy, NoHooks, RejectedLinesFile, SendHooks, SendOptions, SendResult,
};
pub use target::WriteTarget;
pub use writer::{error_chain, BodyCompression, RemoteWriter, NODE_ID_HEADER, ORIGIN_HEADER};
