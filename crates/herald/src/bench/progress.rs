//! Progress on stderr while a run goes on: operations, recent ops/s and errors, as a bar
//! towards the ops budget or the deadline.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

use super::control::RunControl;

/// How often the display is refreshed (and the ops/s rate measured over).
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// Whether to draw: never with `--quiet`; with `--json` only on a terminal, so a script
/// capturing stderr gets no control characters.
pub fn wanted(quiet: bool, json: bool, stderr_is_terminal: bool) -> bool {
    !quiet && (!json || stderr_is_terminal)
}

/// The running display; `finish` clears it.
pub struct Progress {
    bar: ProgressBar,
    updater: JoinHandle<()>,
}

impl Progress {
    pub fn start(control: Arc<RunControl>, quiet: bool, json: bool) -> Option<Progress> {
        if !wanted(quiet, json, std::io::stderr().is_terminal()) {
            return None;
        }
        let (bar, by_time) = match (control.ops_budget(), control.deadline()) {
            (Some(budget), _) => (ProgressBar::new(budget), false),
            (None, Some(deadline)) => {
                let total = deadline.saturating_duration_since(control.started());
                (ProgressBar::new(total.as_millis() as u64), true)
            }
            (None, None) => (ProgressBar::new_spinner(), false),
        };
        bar.set_draw_target(ProgressDrawTarget::stderr());
        let template = "{spinner} [{elapsed_precise}] {wide_bar} {msg}";
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        let updater = tokio::spawn(update(control, bar.clone(), by_time));
        Some(Progress { bar, updater })
    }

    /// The bar itself, to print around it (`suspend`).
    pub fn handle(&self) -> ProgressBar {
        self.bar.clone()
    }

    pub fn finish(self) {
        self.updater.abort();
        self.bar.finish_and_clear();
    }
}

async fn update(control: Arc<RunControl>, bar: ProgressBar, by_time: bool) {
    let mut ticker = tokio::time::interval(PROGRESS_INTERVAL);
    let mut last = (Instant::now(), control.completed());
    loop {
        ticker.tick().await;
        let now = Instant::now();
        let completed = control.completed();
        let seconds = now.saturating_duration_since(last.0).as_secs_f64();
        let rate = if seconds > 0.0 { (completed - last.1) as f64 / seconds } else { 0.0 };
        last = (now, completed);
        if by_time {
            bar.set_position(now.saturating_duration_since(control.started()).as_millis() as u64);
        } else {
            bar.set_position(completed);
        }
        bar.set_message(format!("{completed} ops  {rate:.0} ops/s  {} errors", control.errors()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_always_hides_and_json_hides_unless_on_a_terminal() {
        assert!(wanted(false, false, false));
        assert!(wanted(false, false, true));
        assert!(wanted(false, true, true));
        assert!(!wanted(false, true, false));
        assert!(!wanted(true, false, true));
        assert!(!wanted(true, true, true));
    }
}
