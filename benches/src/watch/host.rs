//! The machine a watch run shares with the server: room in this process for
//! every client's socket, and the server's resident memory, read before and
//! after the clients connect.

use anyhow::{Context, Result, bail};

/// Sockets beyond the clients: gRPC connections, stdio, the runtime's own.
const SPARE_FILES: u64 = 256;

/// Raises this process's open-file limit to fit `clients`, or says how.
pub(super) fn raise_file_limit(clients: usize) -> Result<()> {
    let needed = clients as u64 + SPARE_FILES;
    let got = rlimit::increase_nofile_limit(needed).context("raising the open-file limit")?;
    if got < needed {
        bail!(
            "{clients} clients need {needed} open files but the limit is {got}; \
             raise it (e.g. `ulimit -n {needed}`, or the hard limit in /etc/security/limits.conf) \
             or open fewer clients"
        );
    }
    Ok(())
}

/// The resident memory of process `pid`, in KB.
pub(super) fn resident_kb(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading the memory of process {pid}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/PID/status")
}
