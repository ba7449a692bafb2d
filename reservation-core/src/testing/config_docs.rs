//! The configuration reference (`docs/configuration.md`) is generated from
//! each binary's own clap arguments, and each binary's tests check that the
//! page says what the arguments do: a flag added, renamed or given a new
//! default fails the check until the page is generated again.
//!
//! Regenerate with `FLASHSALE_UPDATE_DOCS=1 cargo test the_configuration_reference`.

use std::path::Path;

/// The page, from the repository root.
pub const CONFIGURATION_PAGE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md");

/// The table of every setting of `command`: its environment variable, its
/// flag, its default and its help, in the order clap lists them.
pub fn settings_table(command: &clap::Command) -> String {
    let mut table = String::from("| env | flag | default | what it does |\n|---|---|---|---|\n");
    for arg in command.get_arguments() {
        let Some(flag) = arg.get_long() else {
            continue;
        };
        if arg.is_hide_set() || matches!(flag, "help" | "version") {
            continue;
        }
        let env = arg
            .get_env()
            .map(|env| format!("`{}`", env.to_string_lossy()))
            .unwrap_or_default();
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|value| value.to_string_lossy().into_owned())
            .collect();
        let default = if matches!(arg.get_action(), clap::ArgAction::SetTrue) {
            "off".to_owned()
        } else if defaults.is_empty() {
            "none".to_owned()
        } else {
            format!("`{}`", defaults.join(","))
        };
        let help = arg
            .get_long_help()
            .or_else(|| arg.get_help())
            .map(|help| help.to_string().replace('\n', " ").replace('|', "\\|"))
            .unwrap_or_default();
        table.push_str(&format!("| {env} | `--{flag}` | {default} | {help} |\n"));
    }
    table
}

/// Checks that the page's block for `binary` (between its two marker
/// comments) is `generated`; with `FLASHSALE_UPDATE_DOCS=1`, writes it there
/// instead. Panics with what to run when they differ.
pub fn check_generated_block(page: &Path, binary: &str, generated: &str) {
    let begin = format!("<!-- {binary}: generated from its arguments -->\n");
    let end = format!("<!-- end of {binary} -->");
    let text =
        std::fs::read_to_string(page).unwrap_or_else(|e| panic!("read {}: {e}", page.display()));
    let start = text
        .find(&begin)
        .unwrap_or_else(|| panic!("{} has no block {begin:?}", page.display()))
        + begin.len();
    let stop = start
        + text[start..]
            .find(&end)
            .unwrap_or_else(|| panic!("{} has no end {end:?}", page.display()));
    if &text[start..stop] == generated {
        return;
    }
    if std::env::var("FLASHSALE_UPDATE_DOCS").is_ok_and(|v| v == "1") {
        let updated = format!("{}{generated}{}", &text[..start], &text[stop..]);
        std::fs::write(page, updated).unwrap_or_else(|e| panic!("write {}: {e}", page.display()));
        return;
    }
    panic!(
        "{} does not say what {binary}'s arguments do; regenerate it with \
         FLASHSALE_UPDATE_DOCS=1 cargo test -p {binary} the_configuration_reference",
        page.display()
    );
}
