//! The edge: every OS interaction (sockets, serial, signals, processes, files, logging,
//! watchdog). No protocol decision is made here.
pub mod arp;
pub mod netaddr;
pub mod script;
