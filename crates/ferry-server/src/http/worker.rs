//! Running a query on the async worker thread that received its request (`/query` and
//! `/api/v2/query`; docs/ARCHITECTURE.md, "Queries on the worker").

/// How long a query runs on the async worker that received it before the worker hands its
/// other tasks to another thread.
const INLINE_BUDGET: std::time::Duration = std::time::Duration::from_micros(500);

/// Runs a (blocking) query on this async worker thread itself. Most dashboard queries take
/// well under a millisecond, and running them where the request arrived spares the two
/// thread wake-ups of a hand-off (to a blocking thread and back), which on a small machine
/// cost about as much as the query (docs/ARCHITECTURE.md, "Queries on the worker"). So that
/// a long query does not hold up the requests queued behind it, the store and the engine
/// reach [`ferry_store::coop::point`]s between bounded pieces of work; at the first one
/// after [`INLINE_BUDGET`] the worker becomes a blocking thread (`block_in_place`: the
/// runtime moves its other tasks to a fresh worker) and the query runs on to the end.
pub(crate) fn run_on_this_worker<R>(handle: tokio::runtime::Handle, run: impl FnOnce() -> R) -> R {
    let started = std::time::Instant::now();
    let mut handed_off = false;
    let hook = Box::new(move || {
        if !handed_off && started.elapsed() >= INLINE_BUDGET {
            handed_off = true;
            hand_off_worker(&handle);
        }
    });
    ferry_store::coop::with_hook(hook, run)
}

/// Makes this worker thread a blocking one for the rest of the task it is running: its
/// scheduler core (the other tasks, the I/O driver) goes to a fresh thread. Returns once
/// that thread runs: `block_in_place` would take the core back if it returned before the
/// new thread had taken it, so it waits for a task spawned meanwhile to run (which needs a
/// core: with one worker, the one handed over; with several, perhaps another, which is
/// as good). Gives up waiting after 100 ms.
fn hand_off_worker(handle: &tokio::runtime::Handle) {
    tokio::task::block_in_place(|| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
        handle.spawn(async move {
            let _ = tx.send(());
        });
        let _ = rx.recv_timeout(std::time::Duration::from_millis(100));
    });
}
