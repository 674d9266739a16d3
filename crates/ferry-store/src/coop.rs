//! Cooperation points for long reads, and the limits a query runs under.
//!
//! A caller that runs a read on a thread it must not hold for long (the HTTP server runs a
//! short query on its async worker itself, which spares it two thread wake-ups) installs a
//! hook with [`with_hook`]; the store and the query engine call [`point`] between bounded
//! pieces of work (a data file, a record batch, a few hundred buffered series, a result
//! series), and the hook decides whether the read has run long enough to move off the
//! thread's other duties (the server calls `tokio::task::block_in_place` once).
//!
//! The same points enforce a query's [`Limits`] ([`guarded`]): its deadline, its cancel
//! flag (`KILL QUERY`), and its memory budget, which the engine charges with [`charge`] as
//! it builds state that grows with the data (scanned series, window grids, answers) — per
//! query and for all queries of the process together. A query past a limit is unwound
//! from the point where it was found (with `resume_unwind`, which runs no panic hook)
//! back to [`guarded`], which returns the [`Interrupted`] reason; everything it held is
//! dropped on the way. Reads hold no lock across a point that a writer could need, and
//! the store's locks are not poisoned by a reader unwinding.
//!
//! Without a hook or limits, [`point`] is two thread-local reads.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

thread_local! {
    static HOOK: RefCell<Option<Box<dyn FnMut()>>> = const { RefCell::new(None) };
    static GUARD: RefCell<Option<Guard>> = const { RefCell::new(None) };
    /// Bytes charged by the innermost [`scoped`] call so far (released when it returns).
    static SCOPE: Cell<usize> = const { Cell::new(0) };
}

/// Bytes charged by every guarded query of the process (see [`Limits::total_memory_bytes`]).
static TOTAL_CHARGED: AtomicUsize = AtomicUsize::new(0);

/// What a query may use. Zero means no limit.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// When it must have ended.
    pub deadline: Option<Instant>,
    /// Bytes its state may take (as the engine estimates them).
    pub memory_bytes: usize,
    /// Bytes the state of all queries running at once may take.
    pub total_memory_bytes: usize,
    /// Set to stop it (`KILL QUERY`, a client gone).
    pub cancel: Arc<AtomicBool>,
    /// Series it may read (InfluxDB 1.x's `max-select-series`).
    pub max_series: usize,
    /// Points it may read (InfluxDB 1.x's `max-select-point`).
    pub max_points: usize,
    /// GROUP BY time windows one group may have (InfluxDB 1.x's `max-select-buckets`).
    pub max_buckets: usize,
}

/// Why a guarded query stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interrupted {
    /// It ran past [`Limits::deadline`].
    Timeout,
    /// Its [`Limits::cancel`] flag was set.
    Killed,
    /// Its state would have passed [`Limits::memory_bytes`].
    Memory {
        /// The limit, bytes.
        limit: usize,
    },
    /// The state of all queries would have passed [`Limits::total_memory_bytes`].
    TotalMemory {
        /// The limit, bytes.
        limit: usize,
    },
    /// It would read more series than [`Limits::max_series`].
    Series {
        /// Series read so far.
        n: usize,
        /// The limit.
        limit: usize,
    },
    /// It would read more points than [`Limits::max_points`].
    Points {
        /// Points read so far.
        n: usize,
        /// The limit.
        limit: usize,
    },
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // InfluxDB 1.x's texts where it has the limit
            Interrupted::Timeout => f.write_str("query-timeout limit exceeded"),
            Interrupted::Killed => f.write_str("query interrupted"),
            Interrupted::Memory { limit } => write!(
                f,
                "query-memory limit exceeded: the query needs more than {} MiB; narrow its time range, its series or its GROUP BY time windows",
                limit >> 20
            ),
            Interrupted::TotalMemory { limit } => write!(
                f,
                "queries-memory limit exceeded: the queries running now would need more than {} MiB together; try again shortly",
                limit >> 20
            ),
            Interrupted::Series { n, limit } => {
                write!(f, "max-select-series limit exceeded: ({n}/{limit})")
            }
            Interrupted::Points { n, limit } => {
                write!(f, "max-select-point limit exceeded: ({n}/{limit})")
            }
        }
    }
}

impl std::error::Error for Interrupted {}

struct Guard {
    limits: Limits,
    /// Bytes this query has charged and not released.
    charged: usize,
    /// Series and points it has read.
    read: (usize, usize),
}

/// Runs `f` with `hook` called at every [`point`] reached on this thread until `f` returns
/// (or panics); the hook that was installed before is then back in place.
pub fn with_hook<R>(hook: Box<dyn FnMut()>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Box<dyn FnMut()>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            HOOK.with(|h| *h.borrow_mut() = prev);
        }
    }
    let prev = HOOK.with(|h| h.borrow_mut().replace(hook));
    let _restore = Restore(prev);
    f()
}

/// Runs the query `f` under `limits` on this thread: `Err` with the reason when a limit
/// stopped it at a [`point`] or [`charge`]. Its charges are released when it ends. A
/// panic that is not a limit's goes on unwinding. Guards do not nest: an inner call
/// runs `f` under the outer query's limits.
pub fn guarded<R>(limits: Limits, f: impl FnOnce() -> R) -> Result<R, Interrupted> {
    if GUARD.with(|g| g.borrow().is_some()) {
        return Ok(f());
    }
    struct Remove;
    impl Drop for Remove {
        fn drop(&mut self) {
            if let Some(g) = GUARD.with(|g| g.borrow_mut().take()) {
                TOTAL_CHARGED.fetch_sub(g.charged, Ordering::Relaxed);
            }
            SCOPE.with(|s| s.set(0));
        }
    }
    GUARD.with(|g| {
        *g.borrow_mut() = Some(Guard {
            limits,
            charged: 0,
            read: (0, 0),
        })
    });
    let _remove = Remove;
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => Ok(r),
        Err(p) => match p.downcast::<Interrupted>() {
            Ok(why) => Err(*why),
            Err(p) => std::panic::resume_unwind(p),
        },
    }
}

/// Runs `f`, then releases what it [`charge`]d (also when a limit unwinds it): for state
/// that `f` builds and drops, such as one statement of a query.
pub fn scoped<R>(f: impl FnOnce() -> R) -> R {
    struct Release(usize);
    impl Drop for Release {
        fn drop(&mut self) {
            let inner = SCOPE.with(|s| s.replace(self.0));
            release(inner);
        }
    }
    let _release = Release(SCOPE.with(|s| s.replace(0)));
    f()
}

fn release(bytes: usize) {
    GUARD.with(|g| {
        if let Some(g) = g.borrow_mut().as_mut() {
            let bytes = bytes.min(g.charged);
            g.charged -= bytes;
            TOTAL_CHARGED.fetch_sub(bytes, Ordering::Relaxed);
        }
    });
}

/// Charges `bytes` of state to the running query (none: nothing happens); past its limit
/// the query stops here. The charge lasts until the enclosing [`scoped`] call returns,
/// or the query ends.
pub fn charge(bytes: usize) {
    let why = GUARD.with(|g| {
        let mut g = g.borrow_mut();
        let g = g.as_mut()?;
        g.charged = g.charged.saturating_add(bytes);
        let total = TOTAL_CHARGED
            .fetch_add(bytes, Ordering::Relaxed)
            .saturating_add(bytes);
        SCOPE.with(|s| s.set(s.get().saturating_add(bytes)));
        let l = &g.limits;
        if l.memory_bytes > 0 && g.charged > l.memory_bytes {
            return Some(Interrupted::Memory {
                limit: l.memory_bytes,
            });
        }
        if l.total_memory_bytes > 0 && total > l.total_memory_bytes {
            return Some(Interrupted::TotalMemory {
                limit: l.total_memory_bytes,
            });
        }
        None
    });
    if let Some(why) = why {
        std::panic::resume_unwind(Box::new(why));
    }
}

/// Counts `series` and `points` read by the running query (none: nothing happens); past
/// its `max_series` or `max_points` the query stops here.
pub fn count_read(series: usize, points: usize) {
    let why = GUARD.with(|g| {
        let mut g = g.borrow_mut();
        let g = g.as_mut()?;
        g.read.0 = g.read.0.saturating_add(series);
        g.read.1 = g.read.1.saturating_add(points);
        let l = &g.limits;
        if l.max_series > 0 && g.read.0 > l.max_series {
            return Some(Interrupted::Series {
                n: g.read.0,
                limit: l.max_series,
            });
        }
        if l.max_points > 0 && g.read.1 > l.max_points {
            return Some(Interrupted::Points {
                n: g.read.1,
                limit: l.max_points,
            });
        }
        None
    });
    if let Some(why) = why {
        std::panic::resume_unwind(Box::new(why));
    }
}

/// The running query's `max-select-buckets` (0: no limit, also outside a query).
pub fn max_buckets() -> usize {
    GUARD.with(|g| g.borrow().as_ref().map_or(0, |g| g.limits.max_buckets))
}

/// A cooperation point: calls this thread's hook, if one is installed (a hook that reaches
/// a point itself is not called again from inside), then stops a guarded query that is
/// past its deadline or was cancelled.
pub fn point() {
    HOOK.with(|h| {
        if let Ok(mut hook) = h.try_borrow_mut() {
            if let Some(hook) = hook.as_mut() {
                hook();
            }
        }
    });
    let why = GUARD.with(|g| {
        let g = g.borrow();
        let g = g.as_ref()?;
        if g.limits.cancel.load(Ordering::Relaxed) {
            return Some(Interrupted::Killed);
        }
        match g.limits.deadline {
            Some(at) if Instant::now() >= at => Some(Interrupted::Timeout),
            _ => None,
        }
    });
    if let Some(why) = why {
        std::panic::resume_unwind(Box::new(why));
    }
}

/// Bytes charged by the queries running in this process (for metrics and tests).
pub fn total_charged() -> usize {
    TOTAL_CHARGED.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;
    use std::time::Duration;

    #[test]
    fn points_call_the_innermost_hook_and_restore_the_outer_one() {
        let outer = Rc::new(Cell::new(0));
        let inner = Rc::new(Cell::new(0));
        point(); // no hook: nothing happens
        let (o, i) = (outer.clone(), inner.clone());
        with_hook(Box::new(move || o.set(o.get() + 1)), || {
            point();
            with_hook(Box::new(move || i.set(i.get() + 1)), || {
                point();
                point();
            });
            point();
        });
        point();
        assert_eq!((outer.get(), inner.get()), (2, 2));
    }

    #[test]
    fn a_panic_inside_restores_the_previous_hook() {
        let calls = Rc::new(Cell::new(0));
        let c = calls.clone();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            with_hook(Box::new(move || c.set(c.get() + 1)), || panic!("boom"))
        }));
        assert!(r.is_err());
        point();
        assert_eq!(calls.get(), 0, "the hook is gone after the panic");
    }

    fn limits(memory: usize) -> Limits {
        Limits {
            memory_bytes: memory,
            ..Limits::default()
        }
    }

    #[test]
    fn a_query_past_its_memory_stops_and_releases_its_charges() {
        let before = total_charged();
        let r = guarded(limits(1000), || {
            charge(600);
            scoped(|| charge(300));
            charge(300); // 900 after the scope released 300
            charge(200); // 1100 > 1000
            unreachable!("the charge above stops the query");
        });
        assert_eq!(r, Err(Interrupted::Memory { limit: 1000 }));
        assert_eq!(total_charged(), before);
        // charges outside a guarded query do nothing
        charge(usize::MAX);
        point();
    }

    #[test]
    fn cancel_and_deadline_stop_at_the_next_point() {
        let l = limits(0);
        let flag = l.cancel.clone();
        let r = guarded(l, || {
            point();
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
            point();
            1
        });
        assert_eq!(r, Err(Interrupted::Killed));
        let l = Limits {
            deadline: Some(Instant::now() + Duration::from_millis(20)),
            ..Limits::default()
        };
        let r = guarded(l, || loop {
            point();
            std::thread::sleep(Duration::from_millis(1));
        });
        assert_eq!(r, Err(Interrupted::Timeout));
        assert_eq!(guarded(limits(10), || 7), Ok(7));
    }

    #[test]
    fn other_panics_go_on_unwinding() {
        let r = std::panic::catch_unwind(|| guarded(limits(10), || panic!("a bug")));
        assert!(r.is_err());
        // the guard is gone: charges do nothing again
        charge(usize::MAX);
    }
}
