//! Why a datagram or frame was refused. One enum for every rejection so the core can count
//! drops by reason; nothing in the decoders panics on input.

use std::fmt;

use crate::config::{AuthMethod, KeyIndex};

/// Why received bytes were dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The data ended inside a field or before the end marker.
    Truncated,
    /// Bigger than heartbeat accepts (`MAXMSG`).
    Oversized { len: usize, max: usize },
    /// Not heartbeat's syntax; `offset` is where the problem was found.
    Malformed { offset: usize, what: &'static str },
    /// A netstring field without its `(N)` prefix (real heartbeat aborts on this).
    MissingTypePrefix { offset: usize },
    /// Nested messages deeper than heartbeat's limit.
    TooDeep,
    /// No trailer (netstring) or no `auth` field (classic).
    MissingAuth,
    /// The auth token is not `"<index> <digest>"`.
    BadAuthToken,
    /// The token names an index we have no key for.
    UnknownKeyIndex { index: u32 },
    /// The digest does not match our key of that index.
    BadDigest { index: KeyIndex, method: AuthMethod },
}

impl DropReason {
    /// Malformed input (exit 2 of `--decode-packet`) as opposed to an authentication failure.
    pub fn is_malformed(&self) -> bool {
        matches!(
            self,
            DropReason::Truncated
                | DropReason::Oversized { .. }
                | DropReason::Malformed { .. }
                | DropReason::MissingTypePrefix { .. }
                | DropReason::TooDeep
        )
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::Truncated => f.write_str("truncated message"),
            DropReason::Oversized { len, max } => {
                write!(f, "message of {len} bytes exceeds the limit of {max}")
            }
            DropReason::Malformed { offset, what } => {
                write!(f, "malformed at byte {offset}: {what}")
            }
            DropReason::MissingTypePrefix { offset } => {
                write!(
                    f,
                    "netstring field without (N) type prefix at byte {offset}"
                )
            }
            DropReason::TooDeep => f.write_str("nested messages too deep"),
            DropReason::MissingAuth => f.write_str("no authentication"),
            DropReason::BadAuthToken => f.write_str("unparsable authentication token"),
            DropReason::UnknownKeyIndex { index } => write!(f, "no key with index {index}"),
            DropReason::BadDigest { .. } => f.write_str("digest mismatch"),
        }
    }
}

impl std::error::Error for DropReason {}

/// Why a message could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The encoding would be bigger than the medium or heartbeat accepts.
    Oversized { len: usize, max: usize },
    /// Nested messages deeper than heartbeat's limit.
    TooDeep,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::Oversized { len, max } => {
                write!(
                    f,
                    "encoded message of {len} bytes exceeds the limit of {max}"
                )
            }
            EncodeError::TooDeep => f.write_str("nested messages too deep"),
        }
    }
}

impl std::error::Error for EncodeError {}
