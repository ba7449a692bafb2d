//! What the test's Redis did: commands by name, its slowest calls and its
//! memory, summed over every server. For specifications bounded by a count
//! (how many commands an audit issues), not by a stopwatch.

use std::collections::BTreeMap;

use super::TestEngine;

/// Calls per command name (`evalsha`, `hscan`, …), over every server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandCalls(pub BTreeMap<String, u64>);

impl CommandCalls {
    /// Calls of every command.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    pub fn of(&self, command: &str) -> u64 {
        self.0.get(command).copied().unwrap_or(0)
    }
}

impl TestEngine {
    /// Clears every server's command counts and slow log, and logs each call
    /// slower than `slow_us` from now on.
    pub async fn reset_stats(&self, slow_us: u64) {
        for mut conn in self.each_server().await {
            let _: () = redis::cmd("CONFIG")
                .arg("RESETSTAT")
                .query_async(&mut conn)
                .await
                .expect("CONFIG RESETSTAT");
            let _: () = redis::cmd("SLOWLOG")
                .arg("RESET")
                .query_async(&mut conn)
                .await
                .expect("SLOWLOG RESET");
            let _: () = redis::cmd("CONFIG")
                .arg("SET")
                .arg("slowlog-log-slower-than")
                .arg(slow_us)
                .query_async(&mut conn)
                .await
                .expect("CONFIG SET slowlog-log-slower-than");
        }
    }

    /// Commands run since the last [`TestEngine::reset_stats`]; a script's
    /// own calls count too (Redis counts them under their names).
    pub async fn command_calls(&self) -> CommandCalls {
        let mut calls = CommandCalls::default();
        for mut conn in self.each_server().await {
            let info: String = redis::cmd("INFO")
                .arg("commandstats")
                .query_async(&mut conn)
                .await
                .expect("INFO commandstats");
            for line in info.lines() {
                let Some((name, stats)) = line
                    .strip_prefix("cmdstat_")
                    .and_then(|rest| rest.split_once(':'))
                else {
                    continue;
                };
                let count = stats
                    .split(',')
                    .find_map(|field| field.strip_prefix("calls="))
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
                *calls.0.entry(name.to_owned()).or_default() += count;
            }
        }
        calls
    }

    /// The calls the slow logs kept (each slower than the threshold of
    /// [`TestEngine::reset_stats`]): their commands and microseconds.
    pub async fn slow_calls(&self) -> Vec<(String, u64)> {
        let mut slow = Vec::new();
        for mut conn in self.each_server().await {
            let entries: Vec<redis::Value> = redis::cmd("SLOWLOG")
                .arg("GET")
                .arg(128)
                .query_async(&mut conn)
                .await
                .expect("SLOWLOG GET");
            for entry in entries {
                let redis::Value::Array(fields) = entry else {
                    continue;
                };
                let micros = match fields.get(2) {
                    Some(redis::Value::Int(us)) => *us as u64,
                    _ => 0,
                };
                let command = match fields.get(3) {
                    Some(redis::Value::Array(args)) => args
                        .first()
                        .and_then(|a| redis::from_redis_value::<String>(a.clone()).ok())
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                slow.push((command, micros));
            }
        }
        slow
    }
}
