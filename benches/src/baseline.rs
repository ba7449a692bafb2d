//! `flashload baseline`: the physical limit of the reserve path on this
//! machine. `redis-benchmark` sends the engine's own reserve script by
//! `EVALSHA` (the same keys and arguments, one unit, a new request and
//! customer each time) from `--clients` connections, one request per round
//! trip. Nothing the project adds can be faster than Redis running its script,
//! so reserve rates are reported as ratios to this one, measured in the same
//! run.

use anyhow::{Context, Result, bail};
use redis::{ConnectionAddr, IntoConnectionInfo};
use reservation_core::{Engine, EngineConfig, NewProduct, RedisConfig, Sku};
use serde::Serialize;

use crate::cli::BaselineArgs;
use crate::setup::run_id;

/// Enough units that the run never sells out.
const STOCK: i64 = 1_000_000_000_000;

#[derive(Debug, Serialize)]
pub struct BaselineReport {
    pub command: &'static str,
    pub sku: String,
    pub clients: usize,
    pub requests: u64,
    /// Reserves per second.
    pub achieved_rate: f64,
    /// As redis-benchmark reports them.
    pub latency_ms: BenchmarkLatency,
    /// Units the product holds after the run: every request must have reserved one.
    pub units_reserved: i64,
    pub passed: bool,
}

#[derive(Debug, Default, Serialize)]
pub struct BenchmarkLatency {
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

pub async fn run(args: BaselineArgs) -> Result<bool> {
    let (host, port) = match args
        .redis_url
        .as_str()
        .into_connection_info()
        .context("--redis-url")?
        .addr()
    {
        ConnectionAddr::Tcp(host, port) => (host.clone(), *port),
        other => bail!("redis-benchmark needs a TCP address, not {other:?}"),
    };
    let engine = Engine::connect(&RedisConfig::new(&args.redis_url), EngineConfig::default())
        .await
        .context("connecting to Redis")?;
    let sku = Sku::new(format!("baseline-{}", run_id()))?;
    engine
        .create_product(&NewProduct::new(sku.clone(), "baseline", 100, STOCK))
        .await?;
    let command = engine.raw_reserve_command(&sku);
    let client = redis::Client::open(args.redis_url.as_str())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let _: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(command.script)
        .query_async(&mut conn)
        .await
        .context("loading the reserve script")?;

    eprintln!(
        "flashload baseline: redis-benchmark, {} reserves of {sku} by EVALSHA from {} clients",
        args.requests, args.clients
    );
    let output = tokio::process::Command::new(&args.redis_benchmark)
        .args(["-h", &host, "-p", &port.to_string()])
        .args(["-c", &args.clients.to_string()])
        .args(["-n", &args.requests.to_string()])
        // __rand_int__ draws below this; the widest random() gives.
        .args(["-r", "2147483647", "--csv"])
        .args(&command.args)
        .output()
        .await
        .with_context(|| format!("running {}", args.redis_benchmark.display()))?;
    if !output.status.success() {
        bail!(
            "redis-benchmark failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let (rate, latency) = parse_csv(&String::from_utf8_lossy(&output.stdout))?;

    // redis-benchmark counts error replies as answers: the books say whether
    // each request really reserved a unit.
    let units_reserved = engine.product(&sku).await?.stock.held;
    let passed = units_reserved == args.requests as i64;
    let report = BaselineReport {
        command: "baseline",
        sku: sku.to_string(),
        clients: args.clients,
        requests: args.requests,
        achieved_rate: rate,
        latency_ms: latency,
        units_reserved,
        passed,
    };
    println!(
        "baseline: {rate:.0} reserves/s (redis-benchmark, EVALSHA, {} clients, no pipelining); \
         p50 {:.3} ms, p99 {:.3} ms; {units_reserved} of {} requests reserved a unit",
        args.clients, report.latency_ms.p50, report.latency_ms.p99, args.requests
    );
    if !passed {
        println!("FAILED: some requests did not reserve (script errors count as answers)");
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(passed)
}

/// Reads redis-benchmark's `--csv`: a header, then one row for the command.
fn parse_csv(csv: &str) -> Result<(f64, BenchmarkLatency)> {
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let unquote = |line: &str| -> Vec<String> {
        line.split(',')
            .map(|f| f.trim().trim_matches('"').to_owned())
            .collect()
    };
    let header = unquote(lines.next().context("redis-benchmark printed nothing")?);
    let row = unquote(
        lines
            .next_back()
            .context("redis-benchmark printed no result")?,
    );
    let field = |name: &str| -> Result<f64> {
        let at = header
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("no {name} column in redis-benchmark's output"))?;
        row.get(at)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("redis-benchmark's {name} is not a number"))
    };
    Ok((
        field("rps")?,
        BenchmarkLatency {
            mean: field("avg_latency_ms")?,
            p50: field("p50_latency_ms")?,
            p95: field("p95_latency_ms")?,
            p99: field("p99_latency_ms")?,
            max: field("max_latency_ms")?,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_row_gives_rate_and_latency() {
        let csv = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\
                   \"EVALSHA abc 6 k\",\"41666.67\",\"1.100\",\"0.200\",\"1.000\",\"1.500\",\"2.000\",\"9.000\"\n";
        let (rate, latency) = parse_csv(csv).unwrap();
        assert_eq!(rate, 41666.67);
        assert_eq!((latency.p50, latency.p99, latency.max), (1.0, 2.0, 9.0));
    }
}
