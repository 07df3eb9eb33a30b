//! The edge: every OS interaction (sockets, serial, signals, processes, files, logging,
//! watchdog). No protocol decision is made here.

pub mod daemon;
pub mod log;
pub mod notify;
pub mod pidfile;
pub mod ping;
pub mod reboot;
pub mod serial;
pub mod signals;
pub mod state;
pub mod udp;
pub mod watchdog;
