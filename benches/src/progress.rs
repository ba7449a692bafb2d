//! One line of progress per second: a progress bar on a terminal, plain
//! lines otherwise (CI logs, pipes).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

#[derive(Clone)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A run of `length` seconds.
    pub fn start(length: Duration) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(length.as_secs().max(1));
            bar.set_style(
                ProgressStyle::with_template("{bar:24} {pos:>3}/{len}s {msg}")
                    .expect("a valid progress template"),
            );
            bar
        });
        Self { bar }
    }

    /// Reports second `second` of the run.
    pub fn tick(&self, second: u64, line: &str) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(second);
                bar.set_message(line.to_owned());
            }
            None => eprintln!("{second:>4}s {line}"),
        }
    }

    /// A line that stays, whatever the output.
    pub fn say(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
