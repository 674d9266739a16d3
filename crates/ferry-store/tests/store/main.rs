//! Integration tests of the bucket store, on real files in temporary directories: one test
//! binary, a module per part of the store.

mod common;
mod compaction;
mod deletions;
mod files;
mod scans;
mod writes;
