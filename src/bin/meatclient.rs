//! `meatclient -c NODE [-w]`: the operator confirms that NODE was power-cycled, releasing a
//! pending manual fence (meatware). Compatible with cluster-glue's command of the same name
//! (see `sys::fence::meatclient_main`).

fn main() {
    let stdin = std::io::stdin();
    let rc = heartbeat_rs::sys::fence::meatclient_main(
        std::env::args_os().skip(1),
        &mut stdin.lock(),
        &mut std::io::stderr(),
    );
    std::process::exit(rc);
}
