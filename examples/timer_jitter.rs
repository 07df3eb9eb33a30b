//! How late the edge wakes for a periodic timer (the keepalive send), the main part of the
//! "heartbeat send-time jitter" figure of issue 5, before the daemon exists.
//!
//!     cargo run --release --example timer_jitter -- [INTERVAL_MS] [SECONDS] [--realtime]
//!
//! Prints p50 / p99 / max lateness in microseconds. `--realtime` first switches to
//! SCHED_FIFO (priority 50) with locked memory, as the daemon does unless `realtime off`.

use heartbeat_rs::sys::clock::{Clock, poll_timeout};
use heartbeat_rs::sys::daemon::{make_realtime, rt_priority};
use heartbeat_rs::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let realtime = args.iter().any(|a| a == "--realtime");
    let mut nums = args.iter().filter_map(|a| a.parse::<u64>().ok());
    let interval = Duration::from_millis(nums.next().unwrap_or(100));
    let seconds = nums.next().unwrap_or(10);
    if realtime {
        for (level, text) in make_realtime(rt_priority(None)) {
            eprintln!("{level}: {text}");
        }
    }
    let mut poll = mio::Poll::new().expect("poll");
    let mut events = mio::Events::with_capacity(1);
    let clock = Clock::new();
    let mut next = clock.now() + interval;
    let rounds = seconds * 1000 / interval.as_millis().max(1);
    let mut late = Vec::with_capacity(rounds as usize);
    while (late.len() as u64) < rounds {
        let _ = poll.poll(&mut events, poll_timeout(clock.now(), Some(next)));
        let now = clock.now();
        if now >= next {
            late.push(now.saturating_since(next).as_micros());
            next += interval;
        }
    }
    late.sort_unstable();
    let pct = |p: usize| late[(late.len() - 1) * p / 100];
    println!(
        "interval {} ms, {} wake-ups, realtime {}: lateness p50 {} us, p99 {} us, max {} us",
        interval.as_millis(),
        late.len(),
        if realtime { "on" } else { "off" },
        pct(50),
        pct(99),
        late.last().copied().unwrap_or(0)
    );
}
