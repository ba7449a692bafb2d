//! The CPU a run's measured window cost a server process and Redis, read at
//! its start and at its end: the process's from `/proc/PID/stat`, so any
//! process can be measured (the api-server, the Node relay baseline, a
//! purchase worker), and Redis's from `INFO cpu`, when the run knows where
//! Redis is.
//!
//! Divided by the work done (stock events delivered, pushes sent), it is
//! what each unit costs with everything around it counted in. That travels
//! between machines far better than a rate on shared cores.
//!
//! The process's user-space share is kept apart too: on loopback the
//! kernel's part of every send includes the receiving client's TCP work, a
//! floor any server pays, so the user-space figure is the one a server's
//! own code moves.

use anyhow::{Context, Result};

/// CPU used so far, in seconds, by the server, by Redis and by this load
/// generator itself.
struct Reading {
    server: Option<ProcessCpu>,
    redis: Option<f64>,
    generator: ProcessCpu,
}

/// A process's CPU so far, in seconds.
#[derive(Clone, Copy, Debug)]
struct ProcessCpu {
    user: f64,
    system: f64,
}

/// What the window cost, in CPU seconds; `None` for what was not measured.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CpuUse {
    /// User plus system.
    pub(crate) server_s: Option<f64>,
    /// User space alone.
    pub(crate) server_user_s: Option<f64>,
    pub(crate) redis_s: Option<f64>,
    /// This process's own, user plus system: on a machine it shares with
    /// the server, what it takes is the server's to lack.
    pub(crate) generator_s: Option<f64>,
}

/// The readings at the start of the window, and where to take the next.
pub(crate) struct CpuMeter {
    server_pid: Option<u32>,
    redis_urls: Vec<String>,
    start: Reading,
}

impl CpuMeter {
    /// Starts the window. `redis_url` may be a comma-separated list of
    /// nodes: their CPU is summed. A Redis that cannot be read now fails the
    /// run before it begins, as a wrong flag should.
    pub(crate) async fn start(server_pid: Option<u32>, redis_url: Option<&str>) -> Result<Self> {
        let redis_urls: Vec<String> = redis_url
            .map(|urls| urls.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        let start = Reading {
            server: server_pid.map(process_cpu_s).transpose()?,
            redis: redis_cpu_s(&redis_urls).await?,
            generator: process_cpu_s(std::process::id())?,
        };
        Ok(Self {
            server_pid,
            redis_urls,
            start,
        })
    }

    /// Ends the window. A figure that can no longer be read (the server
    /// died, Redis went away) is left out, said on stderr, rather than
    /// losing the run's report.
    pub(crate) async fn stop(self) -> CpuUse {
        let server = self.server_pid.map(process_cpu_s).transpose();
        let redis = redis_cpu_s(&self.redis_urls).await;
        let server = ended(server, "the server's").zip(self.start.server);
        let redis = ended(redis, "Redis's").zip(self.start.redis);
        CpuUse {
            server_s: server.map(|(end, start)| end.total() - start.total()),
            server_user_s: server.map(|(end, start)| end.user - start.user),
            redis_s: redis.map(|(end, start)| end - start),
            generator_s: ended(process_cpu_s(std::process::id()).map(Some), "flashload's")
                .map(|end| end.total() - self.start.generator.total()),
        }
    }
}

/// A reading taken at the end of the window, or `None`, said on stderr.
fn ended<T>(end: Result<Option<T>>, what: &str) -> Option<T> {
    end.unwrap_or_else(|e| {
        eprintln!("{what} CPU left out: {e:#}");
        None
    })
}

impl ProcessCpu {
    fn total(self) -> f64 {
        self.user + self.system
    }
}

/// The user and system CPU of process `pid` (all its threads), in seconds.
fn process_cpu_s(pid: u32) -> Result<ProcessCpu> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading the CPU of process {pid}"))?;
    // The command name, field 2, is in parentheses and may hold spaces or
    // parentheses itself; the fields after its last `)` are plain. utime
    // and stime are fields 14 and 15, so the 12th and 13th after it.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("no command name in /proc/PID/stat")?;
    let mut fields = after_name.split_whitespace().skip(11);
    let mut ticks = || -> Result<u64> {
        fields
            .next()
            .and_then(|v| v.parse().ok())
            .context("no utime and stime in /proc/PID/stat")
    };
    let hz = rustix::param::clock_ticks_per_second() as f64;
    Ok(ProcessCpu {
        user: ticks()? as f64 / hz,
        system: ticks()? as f64 / hz,
    })
}

/// `used_cpu_user` plus `used_cpu_sys` of every node in `urls`, summed, in
/// seconds; `None` without any.
async fn redis_cpu_s(urls: &[String]) -> Result<Option<f64>> {
    let mut total = None;
    for url in urls {
        let mut conn = redis::Client::open(url.as_str())?
            .get_multiplexed_async_connection()
            .await
            .with_context(|| format!("reaching Redis at {url} for its CPU"))?;
        let info: String = redis::cmd("INFO").arg("cpu").query_async(&mut conn).await?;
        let field = |name: &str| -> Result<f64> {
            info.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.trim().parse().ok())
                .with_context(|| format!("no {name} in Redis's INFO cpu"))
        };
        *total.get_or_insert(0.0) += field("used_cpu_user")? + field("used_cpu_sys")?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_of_a_busy_process_grows() {
        let pid = std::process::id();
        let before = process_cpu_s(pid).unwrap().total();
        // Busy until the kernel has counted a tick more, however loaded the
        // machine; seconds of it would mean the reading never moves.
        let spin = std::time::Instant::now();
        while process_cpu_s(pid).unwrap().total() <= before {
            assert!(
                spin.elapsed().as_secs() < 10,
                "the CPU read stays at {before}"
            );
        }
    }
}
