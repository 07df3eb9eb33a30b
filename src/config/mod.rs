//! Configuration: `ha.cf`, `haresources` and `authkeys` text → a validated [`Config`].
//!
//! The parsers are pure functions over text; only `load` touches the filesystem.

pub mod authkeys;
pub mod directives;
pub mod fuzzing;
pub mod ha_cf;
pub mod haresources;
pub mod load;
pub mod model;
pub mod render;
pub mod resolve;
pub mod span;

pub use model::*;
pub use span::{Diagnostic, Pos, Severity};
