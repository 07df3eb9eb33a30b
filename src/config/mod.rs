//! Configuration: `ha.cf`, `haresources` and `authkeys` text → a validated [`Config`].
//!
//! The parsers are pure functions over text; only `load` touches the filesystem.

pub mod authkeys;
pub mod load;
pub mod model;
pub mod span;

pub use model::*;
pub use span::{Diagnostic, Pos, Severity};
