//! A sleep with microsecond precision that runs on the async runtime.
//!
//! The open loop must send each reserve when it is due. tokio's timer fires
//! on whole milliseconds, which would make every send up to a millisecond
//! late and charge that wait to the server. A thread of its own that sleeps
//! to each due time is precise, but then every send wakes that thread and
//! hands the call over to a runtime thread. A Linux timerfd is precise too,
//! and the kernel wakes the runtime's own I/O driver at the due time, so
//! the open loop can run on a single runtime thread (`--threads 1`) and
//! take less of a machine it shares with the server.

use std::io;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::time::{
    Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
    timerfd_settime,
};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// One timer, set again for each wait.
pub struct Alarm {
    timer: AsyncFd<OwnedFd>,
}

impl Alarm {
    /// Must be called within a tokio runtime with I/O enabled.
    pub fn new() -> io::Result<Self> {
        let timer = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        // SAFETY: the descriptor is an `OwnedFd` that moves into the
        // `AsyncFd` and is never handed out, so it stays open, and stays the
        // same descriptor, for as long as the `AsyncFd` lives.
        let timer = unsafe { AsyncFd::register_with_interest(timer, Interest::READABLE) }?;
        Ok(Self { timer })
    }

    /// Returns at `deadline`, or at once when it has passed.
    pub async fn sleep_until(&mut self, deadline: Instant) -> io::Result<()> {
        let wait = deadline.saturating_duration_since(Instant::now());
        if wait.is_zero() {
            return Ok(());
        }
        timerfd_settime(
            self.timer.get_ref(),
            TimerfdTimerFlags::empty(),
            &Itimerspec {
                it_interval: timespec(Duration::ZERO),
                it_value: timespec(wait),
            },
        )?;
        loop {
            let mut ready = self.timer.readable().await?;
            // The timer's count of expiries; reading it clears readiness.
            let mut expiries = [0u8; 8];
            match ready.try_io(|timer| Ok(rustix::io::read(timer.get_ref(), &mut expiries)?)) {
                Ok(result) => return result.map(drop),
                Err(_would_block) => continue,
            }
        }
    }
}

fn timespec(duration: Duration) -> Timespec {
    Timespec {
        tv_sec: duration.as_secs() as _,
        tv_nsec: duration.subsec_nanos() as _,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn it_wakes_at_its_deadline_to_well_under_a_millisecond() {
        let mut alarm = Alarm::new().unwrap();
        let mut late = Vec::new();
        for _ in 0..50 {
            let deadline = Instant::now() + Duration::from_micros(300);
            alarm.sleep_until(deadline).await.unwrap();
            let now = Instant::now();
            assert!(now >= deadline, "woke {:?} early", deadline - now);
            late.push(now - deadline);
        }
        late.sort();
        // The median, so one preempted wakeup on a busy machine does not fail it.
        assert!(
            late[25] < Duration::from_micros(500),
            "median lateness {:?}",
            late[25]
        );
    }

    #[tokio::test]
    async fn a_deadline_already_past_returns_at_once() {
        let mut alarm = Alarm::new().unwrap();
        alarm
            .sleep_until(Instant::now() - Duration::from_millis(1))
            .await
            .unwrap();
    }
}
