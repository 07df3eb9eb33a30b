//! Configuration: `ha.cf`, `haresources` and `authkeys` text → a validated [`Config`].
//!
//! The parsers are pure functions over text; only `load` touches the filesystem.

pub mod model;

pub use model::*;
