//! How a long data movement shows how far it is. The libraries count; the program that runs
//! them decides how to draw it (the `ferry` binary draws a bar on a terminal). Without a view,
//! the movements print a plain progress line every few seconds, which suits logs and pipes.

/// Where a movement reports its progress.
pub trait ProgressView: Send + Sync + std::fmt::Debug {
    /// The work begins: `total` units to do, when known (bytes of input for an import, a
    /// fraction out of 10 000 for a sync).
    fn start(&self, total: Option<u64>);
    /// `done` units so far, and a short status such as `1200 points, 540 lines/s`.
    fn update(&self, done: u64, status: &str);
    /// The work ended (or failed): clear what was drawn.
    fn finish(&self);
}
