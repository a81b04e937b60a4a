//! Progress of long native commands (eval, training, export, plot): a bar with ETA
//! when stderr is a terminal, and plain lines at a fixed cadence when it is not (a
//! log file, CI), so logs stay readable. Behind the `progress` feature: the web
//! bundle never carries it.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    label: String,
    total: u64,
    every: u64,
}

impl Progress {
    /// A task of `total` units; without a terminal, one line every `every` units and
    /// at the last.
    pub fn new(label: &str, total: u64, every: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new(total);
            let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} · {elapsed} (ETA {eta})")
                .expect("a valid template")
                .progress_chars("=> ");
            b.set_style(style);
            b.set_prefix(label.to_string());
            b
        });
        Progress { bar, label: label.to_string(), total, every: every.max(1) }
    }

    /// The total changed (the trainer refits its step count to the time budget).
    pub fn set_total(&mut self, total: u64) {
        self.total = total;
        if let Some(b) = &self.bar {
            b.set_length(total);
        }
    }

    /// `pos` units done; `msg` describes the state (built only when shown).
    pub fn update(&self, pos: u64, msg: impl FnOnce() -> String) {
        match &self.bar {
            Some(b) => {
                b.set_position(pos);
                b.set_message(msg());
            }
            None if pos.is_multiple_of(self.every) || pos == self.total => {
                eprintln!("{} {pos:>6}/{} {}", self.label, self.total, msg())
            }
            None => {}
        }
    }

    /// A line that stays (above the bar on a terminal).
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish();
        }
    }
}
