//! Pages, one module each.

pub mod dashboard;
pub mod targets;
