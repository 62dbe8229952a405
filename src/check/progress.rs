//! The one thread that owns the terminal during `check`: workers send it
//! [`Event`]s; it draws the spinners on a TTY and prints each cell's result
//! and `-v` command lines.
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::mpsc;
use std::time::Duration;

use super::CheckOptions;
use crate::model::CellOutcome;

/// What workers tell the reporter.
pub(crate) enum Event {
    Start(String),
    Log(String),
    Done(Box<CellOutcome>),
}

pub(crate) fn report_events(rx: &mpsc::Receiver<Event>, total: usize, opts: &CheckOptions) {
    let tty = std::io::stderr().is_terminal() && !opts.quiet;
    let multi = indicatif::MultiProgress::with_draw_target(if tty {
        indicatif::ProgressDrawTarget::stderr()
    } else {
        indicatif::ProgressDrawTarget::hidden()
    });
    let style = indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
    let mut bars: BTreeMap<String, indicatif::ProgressBar> = BTreeMap::new();
    let mut done = 0;
    let mut err = anstream::stderr();
    for ev in rx {
        match ev {
            Event::Start(id) => {
                if tty {
                    let b = multi.add(indicatif::ProgressBar::new_spinner());
                    b.set_style(style.clone());
                    b.set_message(id.clone());
                    b.enable_steady_tick(Duration::from_millis(120));
                    bars.insert(id, b);
                }
            }
            Event::Log(line) => {
                let _ = multi.suspend(|| writeln!(err, "{line}"));
            }
            Event::Done(o) => {
                done += 1;
                if let Some(b) = bars.remove(&o.id) {
                    b.finish_and_clear();
                }
                if opts.quiet {
                    continue;
                }
                let status = crate::report::styled_status(o.status);
                let cached = if o.cached { " (cached)" } else { "" };
                let secs = o.duration_ms as f64 / 1000.0;
                let _ = multi.suspend(|| {
                    writeln!(
                        err,
                        "[{done}/{total}] {:<28} {status} {secs:.1}s{cached}",
                        o.id
                    )
                });
            }
        }
    }
}
