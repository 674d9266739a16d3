//! One memory budget for the batches all replication streams hold at once.
//!
//! A stream keeps up to `SEND_DEPTH` batches of up to `max_batch_bytes` (500 KB by default) in
//! flight, plus their compressed copies. One stream is a few MiB; a hundred streams catching up
//! at once held 300–470 MiB in the status page bench, which is more than a small device has.
//! Each batch therefore holds a share of this budget from before it is read until its answer
//! is settled. A stream that holds nothing waits for its share; a stream that already holds
//! batches only takes a share that is free now and otherwise settles what it holds first, so no
//! stream waits while holding (no deadlock), and a stream always gets at least one batch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget's unit: permits are KiB.
const UNIT: u64 = 1024;

/// The budget, shared by the streams.
#[derive(Debug)]
pub struct SendBudget {
    permits: Arc<Semaphore>,
    total_units: u32,
    held: AtomicU64,
    peak: AtomicU64,
}

/// A batch's share; given back when dropped.
#[derive(Debug)]
pub struct Share {
    _permit: OwnedSemaphorePermit,
    bytes: u64,
    budget: Arc<SendBudget>,
}

impl Drop for Share {
    fn drop(&mut self) {
        self.budget.held.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// What `/metrics` shows of the budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BudgetFigures {
    /// Bytes the streams' batches hold now.
    pub held: u64,
    /// The most they held at once since the node started.
    pub peak: u64,
    /// The budget.
    pub limit: u64,
}

impl SendBudget {
    /// A budget of `bytes` (at least one KiB; 0 means no limit).
    pub fn new(bytes: u64) -> Arc<SendBudget> {
        let units = if bytes == 0 {
            Semaphore::MAX_PERMITS.min(u32::MAX as usize) as u64
        } else {
            (bytes / UNIT).max(1)
        };
        let total_units = units.min(u64::from(u32::MAX)) as u32;
        Arc::new(SendBudget {
            permits: Arc::new(Semaphore::new(total_units as usize)),
            total_units,
            held: AtomicU64::new(0),
            peak: AtomicU64::new(0),
        })
    }

    fn units(&self, bytes: usize) -> u32 {
        ((bytes as u64).div_ceil(UNIT).max(1)).min(u64::from(self.total_units)) as u32
    }

    fn granted(self: &Arc<Self>, permit: OwnedSemaphorePermit, units: u32) -> Share {
        let bytes = u64::from(units) * UNIT;
        let now = self.held.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(now, Ordering::Relaxed);
        Share {
            _permit: permit,
            bytes,
            budget: self.clone(),
        }
    }

    /// A share for a batch of up to `bytes`, waiting until it is free (for a stream that holds
    /// no other share).
    pub async fn wait_for(self: &Arc<Self>, bytes: usize) -> Share {
        let units = self.units(bytes);
        let permit = self
            .permits
            .clone()
            .acquire_many_owned(units)
            .await
            .expect("the budget's semaphore is never closed");
        self.granted(permit, units)
    }

    /// A share for a batch of up to `bytes` if it is free now (for a stream that already holds
    /// shares: it settles those instead of waiting).
    pub fn try_take(self: &Arc<Self>, bytes: usize) -> Option<Share> {
        let units = self.units(bytes);
        let permit = self.permits.clone().try_acquire_many_owned(units).ok()?;
        Some(self.granted(permit, units))
    }

    /// The figures `/metrics` shows.
    pub fn figures(&self) -> BudgetFigures {
        BudgetFigures {
            held: self.held.load(Ordering::Relaxed),
            peak: self.peak.load(Ordering::Relaxed),
            limit: u64::from(self.total_units) * UNIT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shares_are_bounded_and_given_back() {
        let b = SendBudget::new(2 * 1024 * 1024);
        let first = b.wait_for(1_000_000).await;
        let second = b.try_take(1_000_000).expect("fits");
        assert!(b.try_take(500_000).is_none(), "the budget is spent");
        assert_eq!(b.figures().held, 2 * 977 * 1024);
        drop(first);
        assert!(b.try_take(500_000).is_some());
        drop(second);
        assert_eq!(b.figures().held, 0);
        assert_eq!(b.figures().peak, 2 * 977 * 1024);
        // a batch larger than the whole budget still gets the whole budget (never stuck)
        let all = b.wait_for(10 * 1024 * 1024).await;
        assert_eq!(all.bytes, 2 * 1024 * 1024);
    }

    #[tokio::test]
    async fn a_waiting_stream_gets_its_share_when_one_is_given_back() {
        let b = SendBudget::new(1024 * 1024);
        let held = b.wait_for(1024 * 1024).await;
        let b2 = b.clone();
        let waiter = tokio::spawn(async move { b2.wait_for(4096).await.bytes });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        drop(held);
        assert_eq!(waiter.await.unwrap(), 4096);
    }
}
