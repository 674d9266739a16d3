//! ferry-log
