//! The allocator (mimalloc), and how the process hands freed memory back to the OS.
//! The binary installs [`Allocator`] as its global allocator.
//!
//! mimalloc is faster than glibc malloc for the parser's many small strings and keeps no
//! per-thread arenas. But as built (its v3), it returns freed memory only after a delay of
//! 1 s, and only when some thread allocates again afterwards: under a 4-connection
//! line-protocol load the node peaked at 474 MB RSS and still held 459 MB 20 s after the
//! load ended, with its buffers empty. So:
//! - [`tune`] lowers the purge delay to 10 ms (mimalloc v2's default);
//! - [`collect_when_idle`], called by threads as they go idle (the runtimes' workers on
//!   park, the log's commit thread, the compactor; at most once a second per thread), and
//!   [`spawn_trimmer`], once a second, let mimalloc purge what has waited long enough even
//!   when nothing allocates any more, so a node settles back after a load;
//! - the crate is built with `no_thp`: otherwise mimalloc `madvise`s its 1 GiB arena for
//!   transparent huge pages, and an idle node took 24.8 MB instead of 16.7 MB.
//!
//! Called from a crate whose tests run on the system allocator, [`collect_when_idle`]
//! collects mimalloc's empty heap: harmless.

use std::cell::Cell;
use std::time::{Duration, Instant};

use libmimalloc_sys::{mi_collect, mi_option_set, mi_option_t};

/// The allocator: `#[global_allocator] static A: ferry_alloc::Allocator = ferry_alloc::Allocator;`.
pub use mimalloc::MiMalloc as Allocator;

/// `mi_option_purge_delay`: the same position in mimalloc v2's and v3's option enums
/// (libmimalloc-sys names no constant for it).
const PURGE_DELAY: mi_option_t = 15;

/// Milliseconds freed memory waits before it is returned to the OS.
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// How often one thread asks mimalloc to collect at most.
const COLLECT_EVERY: Duration = Duration::from_secs(1);

/// Sets the allocator's options; call first thing in `main`. A purge delay the operator
/// set in mimalloc's own environment variable (`MIMALLOC_PURGE_DELAY`, milliseconds) is kept.
pub fn tune() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    #[allow(unsafe_code)]
    // SAFETY: an FFI call with two integers; mimalloc's options may be set from any thread
    // at any time and take effect for later purges.
    unsafe {
        mi_option_set(PURGE_DELAY, PURGE_DELAY_MS);
    }
}

thread_local! {
    static LAST_COLLECT: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Lets mimalloc free this thread's retired pages and purge expired memory (process-wide),
/// unless this thread did so within the last [`COLLECT_EVERY`]. For the runtime's
/// `on_thread_park`: a worker that goes idle no longer holds its pages.
pub fn collect_when_idle() {
    let now = Instant::now();
    let due = LAST_COLLECT.with(|last| match last.get() {
        Some(t) if now.duration_since(t) < COLLECT_EVERY => false,
        _ => {
            last.set(Some(now));
            true
        }
    });
    if due {
        #[allow(unsafe_code)]
        // SAFETY: an FFI call without pointers; it collects the calling thread's own heap.
        unsafe {
            mi_collect(false)
        }
    }
}

/// A thread that asks mimalloc to purge expired memory once a second, for when no runtime
/// thread parks (a node busy only with persists and merges, which run on threads of their
/// own). Returns without a thread if the OS refuses one: collecting is an optimisation.
pub fn spawn_trimmer() {
    let _ = std::thread::Builder::new()
        .name("ferry-trim".into())
        .stack_size(64 * 1024)
        .spawn(|| loop {
            std::thread::sleep(COLLECT_EVERY);
            #[allow(unsafe_code)]
            // SAFETY: an FFI call without pointers; it collects this thread's own heap.
            unsafe {
                mi_collect(false)
            }
        });
}
