//! What the manager tells a running stream (a leaf: the stream and its bounds keeper read it).

/// Pause or stop, sent through a watch channel.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Control {
    pub paused: bool,
    pub stop: bool,
}
