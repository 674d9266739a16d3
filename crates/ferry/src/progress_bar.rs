//! The terminal progress bar of `ferry write` and `ferry sync`: the libraries report through
//! [`ProgressView`], and this draws it with indicatif when stderr is a terminal. Off a terminal
//! there is no bar; the libraries print plain progress lines instead.

use std::io::IsTerminal;
use std::sync::Arc;

use ferry_pipeline::ProgressView;

/// An indicatif bar on stderr.
#[derive(Debug)]
struct TerminalBar {
    bar: indicatif::ProgressBar,
    template: &'static str,
}

/// Input bytes read, for an import.
pub const BYTES: &str =
    "{spinner} [{elapsed_precise}] [{wide_bar}] {bytes}/{total_bytes} {msg} ETA {eta}";
/// The share of the range copied, for a sync.
pub const PERCENT: &str = "{spinner} [{elapsed_precise}] {wide_bar} {percent}% {msg} ETA {eta}";

/// A bar drawn with `template`, or `None` when stderr is not a terminal.
pub fn on_terminal(template: &'static str) -> Option<Arc<dyn ProgressView>> {
    std::io::stderr().is_terminal().then(|| {
        Arc::new(TerminalBar {
            bar: indicatif::ProgressBar::hidden(),
            template,
        }) as Arc<dyn ProgressView>
    })
}

impl ProgressView for TerminalBar {
    fn start(&self, total: Option<u64>) {
        match total {
            Some(t) => self.bar.set_length(t),
            None => self.bar.unset_length(),
        }
        self.bar.set_style(
            indicatif::ProgressStyle::with_template(self.template)
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        self.bar
            .set_draw_target(indicatif::ProgressDrawTarget::stderr());
    }

    fn update(&self, done: u64, status: &str) {
        self.bar.set_position(done);
        self.bar.set_message(status.to_string());
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
