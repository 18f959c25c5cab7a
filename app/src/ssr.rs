//! What the server provides to the page's server rendering (feature `ssr` only).
//!
//! `app` never depends on the server crate: the server implements [`ViewSource`] and provides a
//! [`ViewSourceHandle`] as Leptos context; the `load_view` server function reads it.

use std::future::Future;
use std::pin::Pin;

use std::sync::Arc;

use crate::wire::{Family, FamilyView, Filter, TargetHealth, View, WhatIf, WhatIfEdits};

/// A boxed future answering the server rendering.
pub type Answer<T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send>>;

/// Computes views for the server rendering.
pub trait ViewSource: Send + Sync + 'static {
    /// The current view for `filter`, or why there is none.
    fn view(&self, filter: Filter) -> Answer<View>;

    /// Scrape health of every target.
    fn targets(&self) -> Answer<Vec<TargetHealth>>;

    /// Families no adapter knows, in scope of `filter`.
    fn families(&self, filter: Filter) -> Answer<Vec<Family>>;

    /// One such family's series for `filter`.
    fn family(&self, filter: Filter, name: String) -> Answer<FamilyView>;

    /// The recorded load of `filter`'s deployment and range replayed with `edits`.
    fn whatif(&self, filter: Filter, edits: WhatIfEdits) -> Answer<WhatIf>;
}

/// A shareable [`ViewSource`], provided as context by the server.
#[derive(Clone)]
pub struct ViewSourceHandle(pub Arc<dyn ViewSource>);
