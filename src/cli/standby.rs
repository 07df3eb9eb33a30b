//! `hb_standby` and `hb_takeover` (behaviour spec §8.4): heartbeat's argument handling and
//! texts, sent over the control socket instead of the FIFO; `--wait` (ours) waits for and
//! reports the outcome, which heartbeat's scripts never do.
//!
//! [`parse`] and [`report`] are pure; [`main`] is the shell around them.

use crate::api::{Hold, Outcome, Request, Response};

/// Which of the two tools was invoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Standby,
    Takeover,
}

/// What the tool prints and exits with when it stops early (usage errors).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub code: u8,
}

/// A valid invocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    pub request: Request,
    /// `Going standby [SET].` for hb_standby (logged via ha_log: stderr from a terminal,
    /// prefixed with the date); `None` for hb_takeover, which logs nothing.
    pub log: Option<String>,
}

fn usage(prog: &str, mut o: Output) -> Output {
    o.stdout.push_str("usage:\n");
    o.stderr
        .push_str(&format!("{prog} [all|foreign|local|failback]\n"));
    o.code = 1;
    o
}

/// Parses `ARGS` (program name `prog` excluded) as heartbeat's scripts do.
pub fn parse(tool: Tool, prog: &str, args: &[&str]) -> Result<Invocation, Output> {
    let wait = args.contains(&"--wait");
    let words: Vec<&str> = args.iter().copied().filter(|a| *a != "--wait").collect();
    if words.len() > 1 {
        let o = Output {
            stderr: format!("{prog}: too many arguments\n"),
            ..Output::default()
        };
        return Err(usage(prog, o));
    }
    let word = words.first().copied().unwrap_or("all");
    let Some(hold) = Hold::parse(word) else {
        let mut o = Output::default();
        if word != "--help" {
            o.stderr = format!("{prog}: wrong resources({word}).\n");
        }
        return Err(usage(prog, o));
    };
    Ok(match tool {
        Tool::Standby => {
            // hb_standby sends `failback` as `foreign`.
            let hold = if hold == Hold::Failback {
                Hold::Foreign
            } else {
                hold
            };
            Invocation {
                request: Request::Standby { hold, wait },
                log: Some(format!("Going standby [{}].", hold.as_str())),
            }
        }
        Tool::Takeover => Invocation {
            request: Request::Takeover { hold, wait },
            log: None,
        },
    })
}

/// Turns the daemon's answer into output and exit code: 0 when accepted or done,
/// 1 declined or refused, 2 timed out (only `--wait` can see the last two outcomes).
pub fn report(tool: Tool, resp: &Response) -> Output {
    let what = match tool {
        Tool::Standby => "standby",
        Tool::Takeover => "takeover",
    };
    match resp {
        Response::Accepted => Output::default(),
        Response::Finished { outcome, detail } => {
            let (code, word) = match outcome {
                Outcome::Done => (0, "done"),
                Outcome::Declined => (1, "declined"),
                Outcome::TimedOut => (2, "timed out"),
            };
            let line = if detail.is_empty() {
                format!("{what} {word}\n")
            } else {
                format!("{what} {word}: {detail}\n")
            };
            if code == 0 {
                Output {
                    stdout: line,
                    ..Output::default()
                }
            } else {
                Output {
                    stderr: line,
                    code,
                    ..Output::default()
                }
            }
        }
        Response::Error { kind, detail } => Output {
            stderr: format!("{what} refused: {} {detail}\n", kind.as_str()).replace(" \n", "\n"),
            code: 1,
            ..Output::default()
        },
        other => Output {
            stderr: format!("{what}: unexpected answer from heartbeat: {other:?}\n"),
            code: 1,
            ..Output::default()
        },
    }
}

/// The message heartbeat's scripts write into the FIFO for this request (used when the
/// control socket is absent but a heartbeat reads the FIFO).
pub fn legacy_fifo_message(req: &Request) -> Option<String> {
    let (t, hold, info) = match req {
        Request::Standby { hold, .. } => ("ask_resources", hold, "info=me\n"),
        Request::Takeover { hold, .. } => ("hb_takeover", hold, ""),
        _ => return None,
    };
    Some(format!(
        ">>>\nt={t}\nrsc_hold={}\n{info}<<<\n",
        hold.as_str()
    ))
}

/// How long to wait for the daemon: a queued request is answered at once; `--wait` lasts
/// as long as the handover (the daemon bounds it and answers `timed-out`).
const QUICK: std::time::Duration = std::time::Duration::from_secs(5);
const WAIT: std::time::Duration = std::time::Duration::from_secs(3600);

/// Entry point when invoked as `hb_standby` / `hb_takeover`.
pub fn main(
    tool: Tool,
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> std::process::ExitCode {
    use crate::sys::api_socket;
    let mut args = args.into_iter().map(|a| a.to_string_lossy().into_owned());
    let prog = args.next().unwrap_or_else(|| "hb_standby".into());
    let rest: Vec<String> = args.collect();
    let refs: Vec<&str> = rest.iter().map(String::as_str).collect();
    let out = match parse(tool, &prog, &refs) {
        Err(o) => o,
        Ok(inv) => {
            if let Some(line) = &inv.log {
                eprintln!("{} {line}", api_socket::stamp_now());
            }
            let wait = matches!(
                inv.request,
                Request::Standby { wait: true, .. } | Request::Takeover { wait: true, .. }
            );
            let path = api_socket::client_path();
            match api_socket::request(&path, &inv.request, if wait { WAIT } else { QUICK }) {
                Ok(resp) => report(tool, &resp),
                Err(api_socket::ClientError::Unreachable(e)) => {
                    // Legacy FIFO for a daemon without our socket; fails fast without a reader.
                    // `$HB_FIFO` lets tests point away from the real FIFO.
                    let fifo = std::env::var_os("HB_FIFO")
                        .map(std::path::PathBuf::from)
                        .unwrap_or_else(|| crate::sys::fifo::FIFO_PATH.into());
                    let fifo = fifo.as_path();
                    let msg = legacy_fifo_message(&inv.request).unwrap_or_default();
                    match api_socket::fifo_send(fifo, &msg) {
                        Ok(()) if !wait => Output::default(),
                        Ok(()) => Output {
                            stderr: format!(
                                "{prog}: request written to {}; the outcome cannot be reported without the control socket\n",
                                fifo.display()
                            ),
                            code: 2,
                            ..Output::default()
                        },
                        Err(_) => Output {
                            stderr: format!(
                                "{prog}: heartbeat is not running ({}: {e})\n",
                                path.display()
                            ),
                            code: 1,
                            ..Output::default()
                        },
                    }
                }
                Err(e) => Output {
                    stderr: format!("{prog}: {e}\n"),
                    code: 1,
                    ..Output::default()
                },
            }
        }
    };
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    std::process::ExitCode::from(out.code)
}
