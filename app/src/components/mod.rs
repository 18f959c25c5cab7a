//! Building blocks of the page.

pub mod chart;
pub mod panel_card;
pub mod toolbar;
