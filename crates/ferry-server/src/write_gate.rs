//! Admission of writes against the node's write memory: what every bucket's buffers hold
//! (active and persisting) plus what the requests being written hold (their bodies and
//! parsed points). A bucket persists its buffer past `--buffer-bytes`, but a persist takes a
//! while, and a load faster than the disk used to grow the buffers without bound (58 MB
//! under a 4-connection load with a 16 MiB limit, and more on a slower disk). Past the gate's
//! limit a write waits for persists to free memory (a slower write, not a lost one) and, if
//! none does within [`WAIT`], answers 503 with `Retry-After` (InfluxDB 2's answer when it
//! cannot take a write now; its clients and Telegraf retry it).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// The longest a write waits for memory before it is refused: below the usual client
/// timeouts (Telegraf 5 s, the Python client 10 s), so the client sees the 503.
pub const WAIT: Duration = Duration::from_secs(3);

/// What a request's body is taken to cost, per byte, before it is read (see [`held_by`]).
pub const BODY_FACTOR: usize = 5;

/// What a write of `body` holds until it is applied: the body (logged as is) and its parse
/// ([`ferry_lp::ParsedLines`]: 24 bytes a line, 16 a tag, 24 a field, and room for its
/// vectors' growth), taken as 32 bytes a line and 32 per `=` (every tag and field has one).
/// Measured: a 153-byte `cpu` line parses into 203 bytes (a `Point` per line took ~700).
pub fn held_by(body: &[u8]) -> usize {
    let lines = memchr::memchr_iter(b'\n', body).count() + 1;
    let names = memchr::memchr_iter(b'=', body).count();
    body.len()
        .saturating_add(lines.saturating_mul(32))
        .saturating_add(names.saturating_mul(32))
}

/// The write memory's gate.
#[derive(Debug)]
pub struct WriteGate {
    /// Bytes that buffers and admitted requests may hold together; 0: no limit.
    limit: usize,
    /// What the admitted requests hold now.
    in_flight: AtomicUsize,
    /// Rung when memory was freed: a persist finished, a request was done.
    freed: Notify,
    /// Rung when a write waits: the node should persist now, not at its next check.
    pressed: Notify,
    /// How long a write waits for memory ([`WAIT`]).
    wait: Duration,
}

/// The write could not get memory within [`WAIT`].
#[derive(Debug, thiserror::Error)]
#[error("the node's write memory is full ({used} of {limit} bytes in buffers and writes in progress) and persisting did not free enough within {wait:?}: retry the write later")]
pub struct WriteMemoryFull {
    /// Bytes held when the write gave up.
    pub used: usize,
    /// The limit.
    pub limit: usize,
    /// How long the write waited.
    pub wait: Duration,
}

/// Memory a request holds until it is dropped.
#[derive(Debug)]
pub struct WritePermit<'a> {
    gate: &'a WriteGate,
    bytes: usize,
}

impl WriteGate {
    /// A gate letting buffers and requests hold `limit` bytes together (0: no limit).
    pub fn new(limit: usize) -> WriteGate {
        WriteGate {
            limit,
            in_flight: AtomicUsize::new(0),
            freed: Notify::new(),
            pressed: Notify::new(),
            wait: WAIT,
        }
    }

    /// The gate with writes waiting `wait` instead of [`WAIT`].
    pub fn with_wait(mut self, wait: Duration) -> WriteGate {
        self.wait = wait;
        self
    }

    /// The limit (0: none).
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// What admitted requests hold now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Admits a request that will hold `bytes` once `buffered()` (what the buffers hold now)
    /// leaves room, waiting up to [`WAIT`] (by default) for persists to make it. A request alone is
    /// always admitted when nothing else is in flight, so a body larger than the room left
    /// by the buffers waits for them only.
    pub async fn admit<F, Fut>(
        &self,
        bytes: usize,
        buffered: F,
    ) -> Result<WritePermit<'_>, WriteMemoryFull>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = usize>,
    {
        if self.limit == 0 {
            return Ok(self.permit(bytes));
        }
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            // Register before looking, so a persist finishing in between still wakes us.
            let freed = self.freed.notified();
            let held = buffered().await;
            let in_flight = self.in_flight.load(Ordering::Acquire);
            let fits = held.saturating_add(in_flight).saturating_add(bytes) <= self.limit;
            if fits || (in_flight == 0 && held < self.limit) {
                return Ok(self.permit(bytes));
            }
            self.pressed.notify_one();
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                return Err(WriteMemoryFull {
                    used: held.saturating_add(in_flight),
                    limit: self.limit,
                    wait: self.wait,
                });
            }
        }
    }

    fn permit(&self, bytes: usize) -> WritePermit<'_> {
        self.in_flight.fetch_add(bytes, Ordering::AcqRel);
        WritePermit { gate: self, bytes }
    }

    /// Wakes waiting writes to look again: call after memory was freed (a persist).
    pub fn memory_freed(&self) {
        self.freed.notify_waiters();
    }

    /// Resolves when a write is waiting for memory (for the persisting loop).
    pub async fn pressed(&self) {
        self.pressed.notified().await
    }
}

impl WritePermit<'_> {
    /// Corrects what the request holds once its body is read (a compressed or chunked body's
    /// size is known only then). Never waits: the request is already admitted.
    pub fn resize(&mut self, bytes: usize) {
        if bytes > self.bytes {
            self.gate
                .in_flight
                .fetch_add(bytes - self.bytes, Ordering::AcqRel);
        } else {
            self.gate
                .in_flight
                .fetch_sub(self.bytes - bytes, Ordering::AcqRel);
        }
        self.bytes = bytes;
    }
}

impl Drop for WritePermit<'_> {
    fn drop(&mut self) {
        self.gate.in_flight.fetch_sub(self.bytes, Ordering::AcqRel);
        self.gate.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: Duration = Duration::from_millis(100);

    #[tokio::test]
    async fn a_write_past_the_limit_waits_for_a_persist_then_is_refused() {
        let gate = WriteGate::new(100).with_wait(SHORT);
        // Buffers hold 90: a 20-byte write does not fit, but alone in flight it is admitted.
        let alone = gate.admit(20, || async { 90 }).await.unwrap();
        assert_eq!(gate.in_flight(), 20);
        // A second one must wait; with nothing freed it gives up after WAIT.
        let started = tokio::time::Instant::now();
        let err = gate.admit(20, || async { 90 }).await.unwrap_err();
        assert!(started.elapsed() >= SHORT, "{:?}", started.elapsed());
        assert_eq!((err.used, err.limit), (110, 100));
        drop(alone);
        assert_eq!(gate.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_waiting_write_goes_on_when_a_persist_frees_memory() {
        let gate = std::sync::Arc::new(WriteGate::new(100).with_wait(Duration::from_secs(30)));
        let buffered = std::sync::Arc::new(AtomicUsize::new(95));
        let first = gate.admit(10, || async { 0 }).await.unwrap();
        let (g, b) = (gate.clone(), buffered.clone());
        let waiter = tokio::spawn(async move {
            let b = b.clone();
            g.admit(10, move || {
                let b = b.clone();
                async move { b.load(Ordering::Acquire) }
            })
            .await
            .map(|p| p.bytes)
        });
        // The waiter asks for a persist; the "persist" frees the buffers.
        tokio::time::timeout(Duration::from_secs(1), gate.pressed())
            .await
            .expect("a waiting write presses for a persist");
        buffered.store(0, Ordering::Release);
        gate.memory_freed();
        assert_eq!(waiter.await.unwrap().unwrap(), 10);
        drop(first);
    }

    #[test]
    fn a_body_is_charged_at_least_what_it_and_its_parse_hold() {
        let long = "cpu,host=host-0042,region=eu-central-1 usage_user=12.345,usage_system=1.5,usage_idle=3.0,usage_iowait=4.6,usage_steal=6.1,processes=2715i 1700000000000000000\n";
        let short = "load,host=h1,w=3 v=12345i,u=6172.5 1234567\n";
        let dense = "m a=1,b=2,c=3,d=4,e=5,f=6,g=7,h=8,i=9,j=0\n";
        let bodies = [
            long.repeat(5000),
            short.repeat(5000),
            dense.repeat(5000),
            // a short first line sizes the vectors too small: they grow
            format!("m v=1\n{}", dense.repeat(3000)),
            format!("m v=1\n{}", long.repeat(3000)),
        ];
        for body in &bodies {
            let lines =
                ferry_lp::ParsedLines::parse(body.as_bytes(), ferry_lp::Precision::Nanoseconds, 0)
                    .unwrap();
            let holds = body.len() + lines.heap_bytes();
            let charged = held_by(body.as_bytes());
            assert!(
                charged >= holds && charged <= 2 * holds,
                "charged {charged} for a body holding {holds}: {:?}",
                &body[..40]
            );
        }
    }

    #[tokio::test]
    async fn no_limit_admits_everything() {
        let gate = WriteGate::new(0);
        let mut p = gate
            .admit(usize::MAX / 2, || async { usize::MAX / 2 })
            .await
            .unwrap();
        p.resize(7);
        assert_eq!(gate.in_flight(), 7);
    }
}
