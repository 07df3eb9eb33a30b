//! heartbeat-rs: a drop-in replacement for the Linux-HA Heartbeat 3.0.x daemon in v1 mode.
//!
//! The crate follows a sans-IO design (see `docs/architecture.md`):
//!
//! * [`config`], [`wire`], [`cluster`] and [`time`] are the **pure core**: they never open
//!   files or sockets, read a clock, spawn a process, log or sleep. Time, randomness and raw
//!   bytes come in as arguments; decisions go out as values. (`config::load` is the one
//!   exception: it reads the three configuration files and hands their text to the pure
//!   parsers.)
//! * [`sys`] is the **edge**: sockets, serial ttys, signals, child processes, the watchdog,
//!   syslog and files. It turns OS events into inputs and actions into syscalls and makes no
//!   protocol decision. It is the only module allowed `unsafe`, each use with a `// SAFETY:`.
//! * [`cli`] holds the command-line front ends of the `heartbeat` binary.
#![deny(unsafe_code)]

#[forbid(unsafe_code)]
pub mod api;
#[forbid(unsafe_code)]
pub mod cli;
#[forbid(unsafe_code)]
pub mod cluster;
#[forbid(unsafe_code)]
pub mod config;
pub mod sys;
#[forbid(unsafe_code)]
pub mod time;
#[forbid(unsafe_code)]
pub mod wire;
