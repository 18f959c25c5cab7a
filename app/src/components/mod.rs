//! Building blocks of the page.

pub mod autoscaling;
pub mod brand;
pub mod chart;
pub mod panel_card;
pub mod share;
pub mod toolbar;
