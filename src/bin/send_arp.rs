//! `send_arp`: heartbeat-compatible gratuitous ARP sender (see `sys::arp`), for the
//! resource-agents scripts that call `$HA_BIN/send_arp` and for our own IPaddr scripts.

fn main() {
    std::process::exit(heartbeat_rs::sys::arp::send_arp_main(
        std::env::args_os().skip(1),
    ));
}
