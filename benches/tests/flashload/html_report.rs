//! `--html`: the report as one self-contained page with its plots and
//! nothing to fetch.

use std::path::PathBuf;

use super::{reserve_with_setup, scratch_dir};

#[tokio::test(flavor = "multi_thread")]
async fn the_html_report_is_one_self_contained_page_with_plots() {
    let dir = scratch_dir("flashload-html");
    let page: PathBuf = dir.join("report.html");
    reserve_with_setup(&[
        "--duration",
        "1s",
        "--concurrency",
        "2",
        "--html",
        page.to_str().unwrap(),
    ])
    .await;
    let html = std::fs::read_to_string(&page).unwrap();
    for part in [
        "<svg",
        "latency over time",
        "latency by percentile",
        "audit_clean",
    ] {
        assert!(html.contains(part), "{part}");
    }
    assert!(
        !html.contains("<script") && !html.contains("src="),
        "nothing to fetch"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
