//! The deterministic cluster simulator (architecture.md §4): named scenarios for the
//! two-node stories of behaviour spec §4.5–§4.11, seed sweeps with every fault enabled,
//! and a determinism check.
//!
//! `HB_SIM_SEEDS=N` runs N sweep seeds (default 500), `HB_SIM_SEED=n` runs one seed with
//! its trace printed, `HB_SIM_BLESS=1` rewrites the scenario trace snapshots.

mod scenarios;
mod sweep;
mod world;
