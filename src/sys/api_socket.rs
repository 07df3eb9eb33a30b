//! The local control socket (daemon side and the tools' blocking client).
//!
//! A Unix stream socket carrying `api` frames. The listener and every connection are
//! non-blocking and registrable with mio; a connection buffers at most one frame
//! (`api::MAX_FRAME`), so a hostile client cannot make the daemon allocate without bound.
//! Each peer's credentials (SO_PEERCRED, taken at connect time) are checked against the
//! `apiauth` rule of anonymous clients (default: uid root, gid haclient, §8.7).

use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};

use crate::api::{self, DecodeError, Request, Response};
use crate::config::model::ApiAuth;

/// Where the daemon listens unless told otherwise (beside heartbeat's own `register`).
pub const DEFAULT_PATH: &str = "/run/heartbeat/hbrs-api";

/// The apiauth client name of casual clients (cl_status and our tools).
pub const ANON_CLIENT: &str = "anon";

/// Who may use the socket: allowed if the uid is listed **or** the gid is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Access {
    pub uids: Vec<u32>,
    pub gids: Vec<u32>,
}

impl Access {
    /// Pure rule check.
    pub fn allows(&self, uid: u32, gid: u32) -> bool {
        self.uids.contains(&uid) || self.gids.contains(&gid)
    }

    /// The rule for `client` from ha.cf's `apiauth` lines, else heartbeat's built-in
    /// `anon uid=root gid=haclient`, then `default`. Names are resolved through the user and
    /// group databases; numeric ids are accepted; unknown names are skipped (returned so the
    /// caller can log them).
    pub fn from_apiauth(rules: &[ApiAuth], client: &str) -> (Access, Vec<String>) {
        let rule = rules
            .iter()
            .find(|r| r.client == client)
            .or_else(|| rules.iter().find(|r| r.client == "default"));
        let (uids, gids): (Vec<String>, Vec<String>) = match rule {
            Some(r) => (r.uids.clone(), r.gids.clone()),
            None if client == ANON_CLIENT => (vec!["root".into()], vec!["haclient".into()]),
            None => (Vec::new(), Vec::new()),
        };
        let mut unknown = Vec::new();
        let mut access = Access::default();
        for u in &uids {
            match u.parse::<u32>().ok().or_else(|| {
                nix::unistd::User::from_name(u)
                    .ok()
                    .flatten()
                    .map(|x| x.uid.as_raw())
            }) {
                Some(id) => access.uids.push(id),
                None => unknown.push(format!("uid {u}")),
            }
        }
        for g in &gids {
            match g.parse::<u32>().ok().or_else(|| {
                nix::unistd::Group::from_name(g)
                    .ok()
                    .flatten()
                    .map(|x| x.gid.as_raw())
            }) {
                Some(id) => access.gids.push(id),
                None => unknown.push(format!("gid {g}")),
            }
        }
        (access, unknown)
    }
}

/// The daemon's listening socket.
#[derive(Debug)]
pub struct ApiListener {
    listener: UnixListener,
    path: PathBuf,
    access: Access,
}

super::fd_source!(ApiListener, listener);

impl ApiListener {
    /// Binds `path` (replacing a stale socket file), mode 0666: access is decided by the
    /// peer-credential check, not by file permissions, so refused clients get an answer.
    pub fn bind(path: &Path, access: Access) -> io::Result<ApiListener> {
        match std::fs::symlink_metadata(path) {
            Ok(m) if std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()) => {
                std::fs::remove_file(path)?
            }
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a socket", path.display()),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
        Ok(ApiListener {
            listener,
            path: path.to_path_buf(),
            access,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts one pending connection, `Ok(None)` when there is none.
    pub fn accept(&self) -> io::Result<Option<ApiConn>> {
        let stream = match self.listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        };
        stream.set_nonblocking(true)?;
        let cred = getsockopt(&stream, PeerCredentials).map_err(io::Error::from)?;
        let peer = Peer {
            pid: cred.pid(),
            uid: cred.uid(),
            gid: cred.gid(),
        };
        Ok(Some(ApiConn {
            stream,
            authorised: self.access.allows(peer.uid, peer.gid),
            peer,
            inbuf: Vec::new(),
            outbuf: Vec::new(),
        }))
    }
}

impl Drop for ApiListener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The peer's credentials at connect time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

/// What reading a connection produced.
#[derive(Debug, PartialEq, Eq)]
pub enum ConnEvent {
    /// A complete, authorised request.
    Request(Request),
    /// The peer is not allowed by apiauth: answer `Refused` and close.
    Refused,
    /// No complete frame yet.
    Pending,
    /// The peer closed its end.
    Closed,
    /// A malformed or oversized frame: answer `BadRequest` (if possible) and close.
    Bad(DecodeError),
}

/// One client connection (one request, one response in practice).
#[derive(Debug)]
pub struct ApiConn {
    stream: UnixStream,
    peer: Peer,
    authorised: bool,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
}

super::fd_source!(ApiConn, stream);

impl ApiConn {
    pub fn peer(&self) -> Peer {
        self.peer
    }

    /// Reads what is available (call on readable) and returns the first complete request.
    pub fn read_request(&mut self) -> io::Result<ConnEvent> {
        if !self.authorised {
            // Drain what the peer sent (bounded), so that closing does not reset the
            // connection before it has read the refusal.
            let mut sink = [0u8; 4096];
            for _ in 0..(api::MAX_FRAME / sink.len()) {
                match self.stream.read(&mut sink) {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
            }
            return Ok(ConnEvent::Refused);
        }
        let mut chunk = [0u8; 4096];
        loop {
            match self.frame()? {
                ConnEvent::Pending => {}
                other => return Ok(other),
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(ConnEvent::Closed),
                Ok(n) => self.inbuf.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(ConnEvent::Pending),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn frame(&mut self) -> io::Result<ConnEvent> {
        Ok(match api::split_frame(&self.inbuf) {
            Err(e) => ConnEvent::Bad(e),
            Ok(None) => ConnEvent::Pending,
            Ok(Some((used, payload))) => {
                let ev = match api::decode_request(payload) {
                    Ok(r) => ConnEvent::Request(r),
                    Err(e) => ConnEvent::Bad(e),
                };
                self.inbuf.drain(..used);
                ev
            }
        })
    }

    /// Queues a response; [`ApiConn::flush`] writes it.
    pub fn queue(&mut self, resp: &Response) {
        self.outbuf
            .extend_from_slice(&api::frame(&api::encode_response(resp)));
    }

    /// Writes as much as possible; `true` when everything queued has been sent.
    pub fn flush(&mut self) -> io::Result<bool> {
        while !self.outbuf.is_empty() {
            match self.stream.write(&self.outbuf) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.outbuf.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

/// Why a tool's request failed.
#[derive(Debug)]
pub enum ClientError {
    /// No daemon listening (heartbeat's "Cannot signon").
    Unreachable(io::Error),
    /// No complete answer within the timeout (cl_status exit 12).
    Timeout,
    Io(io::Error),
    Decode(DecodeError),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Unreachable(e) => write!(f, "cannot connect to heartbeat: {e}"),
            ClientError::Timeout => f.write_str("no answer from heartbeat in time"),
            ClientError::Io(e) => write!(f, "control socket: {e}"),
            ClientError::Decode(e) => write!(f, "bad answer from heartbeat: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

fn io_err(e: io::Error) -> ClientError {
    if matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) {
        ClientError::Timeout
    } else {
        ClientError::Io(e)
    }
}

/// Blocking client: connects to `path`, sends `req` and waits for the answer, all within
/// `timeout` overall (a server dripping bytes cannot stretch it).
#[allow(clippy::disallowed_methods)] // the edge reads the monotonic clock for the deadline
pub fn request(path: &Path, req: &Request, timeout: Duration) -> Result<Response, ClientError> {
    let deadline = std::time::Instant::now() + timeout;
    let remaining = || {
        deadline
            .checked_duration_since(std::time::Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or(ClientError::Timeout)
    };
    let mut s = UnixStream::connect(path).map_err(ClientError::Unreachable)?;
    s.set_write_timeout(Some(remaining()?))
        .map_err(ClientError::Io)?;
    match s.write_all(&api::frame(&api::encode_request(req))) {
        Ok(()) => {}
        // The daemon may answer (a refusal) and close before reading everything: its
        // answer is still there to read.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ) => {}
        Err(e) => return Err(io_err(e)),
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match api::split_frame(&buf).map_err(ClientError::Decode)? {
            Some((_, payload)) => {
                return api::decode_response(payload).map_err(ClientError::Decode);
            }
            None => match s
                .set_read_timeout(Some(remaining()?))
                .and_then(|()| s.read(&mut chunk))
            {
                Ok(0) => {
                    return Err(ClientError::Io(io::ErrorKind::UnexpectedEof.into()));
                }
                Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_err(e)),
            },
        }
    }
}

/// The socket path the tools use: `$HB_API_SOCKET` if set, else [`DEFAULT_PATH`].
pub fn client_path() -> PathBuf {
    std::env::var_os("HB_API_SOCKET")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH))
}

/// Legacy path: writes one message into heartbeat's FIFO, failing fast (ENXIO) instead of
/// blocking forever when nobody reads it, and refusing to create a regular file.
pub fn fifo_send(path: &Path, message: &str) -> io::Result<()> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let meta = std::fs::metadata(path)?;
    if !meta.file_type().is_fifo() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a FIFO", path.display()),
        ));
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)?;
    f.write_all(message.as_bytes())
}

/// The current wall-clock time as heartbeat's stderr lines print it (`Nov 21 23:22:13`).
pub fn stamp_now() -> String {
    let s = super::log::Stamp::now_local();
    format!(
        "{} {:02} {:02}:{:02}:{:02}",
        s.month_name(),
        s.day,
        s.hour,
        s.minute,
        s.second
    )
}

/// This machine's name as cl_status prints it in its log lines.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}
