//! How both binaries write their logs: the `--log-format` flag they flatten,
//! and the one subscriber setup they share, so that an api-server and a
//! worker of one deployment log alike.
//!
//! `text` is for people: today's lines, coloured only on a terminal, since a
//! log file or collector would keep the escape codes as noise. `json` is for
//! collectors: one object per line, the event's fields at the top level.
//! `RUST_LOG` picks what is logged in both (default `info`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// A line of text per event; coloured only when stdout is a terminal.
    #[default]
    Text,
    /// A JSON object per line.
    Json,
}

/// The logging settings, as every binary takes them.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct LogArgs {
    /// How log lines are written to stdout: text (for people; coloured only
    /// on a terminal) or json (one object per line, for a log collector; the
    /// startup banner is left out, its addresses are in the log's fields).
    /// RUST_LOG picks what is logged (default info).
    #[arg(
        long,
        env = "FLASHSALE_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,
}

impl LogArgs {
    /// Installs the process's subscriber. Call once, before anything logs.
    pub fn init(&self) {
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
        let builder = tracing_subscriber::fmt().with_env_filter(filter);
        match self.log_format {
            LogFormat::Text => builder.with_ansi(std::io::stdout().is_terminal()).init(),
            LogFormat::Json => builder.json().flatten_event(true).init(),
        }
    }

    /// Whether lines meant for people (a startup banner) may go to stdout
    /// beside the logs: not when a collector reads it as JSON lines.
    pub fn for_people(&self) -> bool {
        self.log_format == LogFormat::Text
    }
}
