//! `send_arp`: heartbeat-compatible gratuitous ARP sender (see `sys::send_arp`), for the
//! resource-agents scripts that call `$HA_BIN/send_arp` and for our own IPaddr scripts.
//! Called as `send_ua` (a link to it), it sends IPv6 unsolicited neighbour advertisements
//! with resource-agents' `send_ua` command line (see `sys::ndp`).

fn main() {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    let name = std::path::Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rc = if name == "send_ua" {
        heartbeat_rs::sys::ndp::send_ua_main(args)
    } else {
        heartbeat_rs::sys::send_arp::send_arp_main(args)
    };
    std::process::exit(rc);
}
