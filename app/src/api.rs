//! Server functions: the page's first data comes through here (rendered on the server, then
//! carried into the hydrated page), later data over the live WebSocket.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::wire::{Family, FamilyView, Filter, TargetHealth, View, WhatIf, WhatIfEdits};

/// The current view for a filter.
#[server(prefix = "/api/fn", input = Json)]
pub async fn load_view(filter: Filter) -> Result<View, ServerFnError> {
    let source = use_context::<crate::ssr::ViewSourceHandle>()
        .ok_or_else(|| ServerFnError::new("the server provides no view source"))?;
    source.0.view(filter).await.map_err(ServerFnError::new)
}

/// Scrape health of every target.
#[server(prefix = "/api/fn", input = Json)]
pub async fn load_targets() -> Result<Vec<TargetHealth>, ServerFnError> {
    let source = use_context::<crate::ssr::ViewSourceHandle>()
        .ok_or_else(|| ServerFnError::new("the server provides no view source"))?;
    source.0.targets().await.map_err(ServerFnError::new)
}

/// Families no adapter knows, in scope of `filter`.
#[server(prefix = "/api/fn", input = Json)]
pub async fn load_families(filter: Filter) -> Result<Vec<Family>, ServerFnError> {
    let source = use_context::<crate::ssr::ViewSourceHandle>()
        .ok_or_else(|| ServerFnError::new("the server provides no view source"))?;
    source.0.families(filter).await.map_err(ServerFnError::new)
}

/// One family's series for `filter`.
#[server(prefix = "/api/fn", input = Json)]
pub async fn load_family(filter: Filter, name: String) -> Result<FamilyView, ServerFnError> {
    let source = use_context::<crate::ssr::ViewSourceHandle>()
        .ok_or_else(|| ServerFnError::new("the server provides no view source"))?;
    source
        .0
        .family(filter, name)
        .await
        .map_err(ServerFnError::new)
}

/// The recorded load of `filter`'s deployment and range replayed with `edits`.
#[server(prefix = "/api/fn", input = Json)]
pub async fn run_whatif(filter: Filter, edits: WhatIfEdits) -> Result<WhatIf, ServerFnError> {
    let source = use_context::<crate::ssr::ViewSourceHandle>()
        .ok_or_else(|| ServerFnError::new("the server provides no view source"))?;
    source
        .0
        .whatif(filter, edits)
        .await
        .map_err(ServerFnError::new)
}
