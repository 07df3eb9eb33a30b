//! The deterministic cluster simulator (architecture.md §4): named scenarios for the
//! two-node stories of behaviour spec §4.5–§4.11, seed sweeps with every fault enabled,
//! and a determinism check.
//!
//! Invariants, checked after every event unless noted:
//! * **S1** with STONITH: no group has resources up on two running machines, ever. Without
//!   STONITH: no group is up on two nodes that hear each other (each sees the other up or
//!   active) for longer than `S1_GRACE` (30 s: detection plus the loser's stop with its
//!   retries); the grace is suspended while a holder has a hung script, because v1 runs
//!   resource operations one at a time without timeouts.
//! * **S2** a forged (bad digest, garbage, bit-flipped) or replayed (already accepted)
//!   datagram changes no state and causes no action (a replayed `NS_rexmit` may resend
//!   history verbatim).
//! * **S3** resources start left to right and stop right to left (checked at each job).
//! * **L1** (at heal + `L1_BOUND` = 120 s, and again 20 s later) every group is fully up on
//!   exactly one node and partly up nowhere else, the core agrees it runs, every node runs
//!   and sees every other node active; with `auto_failback on`/`legacy` and no admin moves
//!   or start failures in the run, each group is on its home node.
//! * **T1** a crash watched by a comm-up peer that is not stalled (nor resumed from a stall
//!   within the last dead time + 2 s: it judges from replayed packets) is declared dead within
//!   deadtime (+2 s if the victim was in its first 5 s) + keepalive + 60 ms of delivery;
//!   the takeover (or the fence that precedes it) is decided in the same step.
//!
//! * **L0** a seed with more than `MAX_EVENTS` events is a livelock and fails.
//!
//! Sweeps draw the cluster shape and fault plan from the seed (crashes, stalls, partitions
//! one-way or full, admin commands, forged and replayed packets, slow/failing/hanging
//! scripts, fence failures) and, from a second stream, the issue #8 features: one or two
//! ping nodes, built-in ipfail, `fence_delay` 0/5/15 s with STONITH, and ping loss per
//! node (with or without losing the peer too: isolation). `HB_SIM_CLASSIC=1` leaves the
//! second stream out.
//!
//! `HB_SIM_SEEDS=N` runs N sweep seeds (default 500), `HB_SIM_SEED_START=s` moves the
//! window, `HB_SIM_SEED=n` runs one seed with its trace printed, `HB_SIM_BLESS=1` rewrites
//! the scenario trace snapshots.

mod scenarios;
mod sweep;
mod world;
