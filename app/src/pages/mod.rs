//! Pages, one module each.

pub mod dashboard;
pub mod families;
pub mod targets;
pub mod whatif;
