//! Cooperation points for long reads.
//!
//! A caller that runs a read on a thread it must not hold for long (the HTTP server runs a
//! short query on its async worker itself, which spares it two thread wake-ups) installs a
//! hook with [`with_hook`]; the store and the query engine call [`point`] between bounded
//! pieces of work (a data file, a record batch, a few hundred buffered series, a result
//! series), and the hook decides whether the read has run long enough to move off the
//! thread's other duties (the server calls `tokio::task::block_in_place` once).
//!
//! Without a hook, [`point`] is one thread-local read.

use std::cell::RefCell;

thread_local! {
    static HOOK: RefCell<Option<Box<dyn FnMut()>>> = const { RefCell::new(None) };
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

/// A cooperation point: calls this thread's hook, if one is installed (a hook that reaches
/// a point itself is not called again from inside).
pub fn point() {
    HOOK.with(|h| {
        if let Ok(mut hook) = h.try_borrow_mut() {
            if let Some(hook) = hook.as_mut() {
                hook();
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

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
}
