//! `send_arp`: heartbeat-compatible gratuitous ARP sender (see `sys::send_arp`), for the
//! resource-agents scripts that call `$HA_BIN/send_arp` and for our own IPaddr scripts.

fn main() {
    std::process::exit(heartbeat_rs::sys::send_arp::send_arp_main(
        std::env::args_os().skip(1),
    ));
}
