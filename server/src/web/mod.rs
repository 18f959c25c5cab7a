//! The web edge: the Leptos page (server-rendered, then hydrated), the JSON API, the live
//! WebSocket, `/healthz`, and static files. The only place that knows HTTP routes.

pub mod access;
pub mod api;
pub mod error;
pub mod live;

use std::sync::Arc;

use app::ssr::{Answer, ViewSource, ViewSourceHandle};
use app::wire::{Filter, LIVE_PATH, TARGETS_PATH, TargetHealth, VIEW_PATH, View};
use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tokio::sync::watch;

use crate::insight::deployment::{SettingsTable, full_view};
use crate::live::HubHandle;
use crate::query::{self, QuerySettings};
use crate::scrape::now_ms;
use crate::store::StoreHandle;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Leptos's site settings (where files are, where to listen).
    pub leptos_options: LeptosOptions,
    /// The store.
    pub store: StoreHandle,
    /// The live hub.
    pub hub: HubHandle,
    /// How views are computed.
    pub query: QuerySettings,
    /// Autoscaler settings from the configuration, for the diagnosis.
    pub autoscaling: Arc<SettingsTable>,
    /// Turns `true` when the server starts shutting down (live connections close then).
    pub shutting_down: watch::Receiver<bool>,
    /// Tokens, signed links, framing.
    pub access: Arc<crate::access::Policy>,
    /// `Content-Security-Policy` of every response (from `access`, built once).
    pub frame_ancestors: axum::http::HeaderValue,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Serves views to the page's server rendering, from the store.
struct StoreViews {
    store: StoreHandle,
    query: QuerySettings,
    autoscaling: Arc<SettingsTable>,
    /// Tokens are required: a request without a grant gets nothing (fail closed).
    required: bool,
}

/// The grant of the request being served (server rendering and server functions run inside
/// it; the access middleware put the grant into the request's extensions).
fn current_grant() -> Option<access::Grant> {
    leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<access::Grant>().cloned())
}

/// The request's grant; where tokens are required, its absence is a refusal.
fn grant_for(required: bool) -> Result<Option<access::Grant>, String> {
    match current_grant() {
        None if required => Err(crate::access::Refusal::Missing.to_string()),
        grant => Ok(grant),
    }
}

/// Holds a filter from a server function to the request's scope.
fn scoped(mut filter: Filter, required: bool) -> Result<Filter, String> {
    let grant = grant_for(required)?;
    access::permit(grant.as_ref(), &filter).map_err(|refusal| refusal.to_string())?;
    filter.scoped = grant.is_some_and(|grant| grant.0.scope.is_limited());
    Ok(filter)
}

/// [`scoped`], for families no adapter knows (refused to tokens limited to panels).
fn raw_scoped(filter: Filter, required: bool) -> Result<Filter, String> {
    let grant = grant_for(required)?;
    access::permit_families(grant.as_ref()).map_err(|refusal| refusal.to_string())?;
    scoped(filter, required)
}

impl ViewSource for StoreViews {
    fn view(&self, filter: Filter) -> Answer<View> {
        let store = self.store.clone();
        let settings = self.query;
        let table = self.autoscaling.clone();
        let filter = scoped(filter, self.required);
        Box::pin(async move {
            let filter = crate::live::normalise(filter?);
            let mut view = full_view(&store, filter, now_ms(), settings, table)
                .await
                .map_err(|error| error.to_string())?;
            view.filter.scoped = false;
            Ok(view)
        })
    }

    fn targets(&self) -> Answer<Vec<TargetHealth>> {
        let store = self.store.clone();
        let scoped = grant_for(self.required)
            .map(|grant| grant.is_some_and(|grant| grant.0.scope.is_limited()));
        Box::pin(async move {
            if scoped? {
                return Err("this token is scoped to part of the fleet; the targets list covers every target".to_owned());
            }
            store
                .read(query::targets)
                .await
                .map_err(|error| error.to_string())
        })
    }

    fn families(&self, filter: Filter) -> Answer<Vec<app::wire::Family>> {
        let store = self.store.clone();
        let filter = raw_scoped(filter, self.required);
        Box::pin(async move {
            let filter = filter?;
            store
                .read(move |store| query::raw::families(store, &filter))
                .await
                .map_err(|error| error.to_string())
        })
    }

    fn whatif(&self, filter: Filter, edits: app::wire::WhatIfEdits) -> Answer<app::wire::WhatIf> {
        self.replay(filter, edits)
    }

    fn family(&self, filter: Filter, name: String) -> Answer<app::wire::FamilyView> {
        let store = self.store.clone();
        let settings = self.query;
        let filter = raw_scoped(filter, self.required);
        Box::pin(async move {
            let filter = filter?;
            if name.is_empty() || name.len() > 256 {
                return Err("name is required: a metric name of up to 256 bytes".to_owned());
            }
            let now = now_ms();
            store
                .read(move |store| query::raw::family_view(store, &filter, &name, now, settings))
                .await
                .map_err(|error| error.to_string())
        })
    }
}

impl StoreViews {
    fn replay(&self, filter: Filter, edits: app::wire::WhatIfEdits) -> Answer<app::wire::WhatIf> {
        let store = self.store.clone();
        let settings = self.query;
        let table = self.autoscaling.clone();
        let limited = grant_for(self.required)
            .map(|grant| grant.is_some_and(|grant| !grant.0.scope.panels.is_empty()));
        let filter = scoped(filter, self.required);
        Box::pin(async move {
            if limited? {
                return Err(
                    "this token shows only some panels; a what-if replay reads several".to_owned(),
                );
            }
            let mut filter = filter?;
            filter.split.clear();
            filter.panels.clear();
            if filter.deployment.is_none() {
                return Err("choose a deployment: a replay reads one".to_owned());
            }
            let now = now_ms();
            let recorded = store
                .read(move |store| {
                    let found = crate::insight::deployment::in_scope(store, &filter)
                        .into_iter()
                        .next()
                        .ok_or_else(|| {
                            format!(
                                "no target reports deployment {:?}",
                                filter.deployment.as_deref().unwrap_or_default()
                            )
                        })?;
                    Ok::<_, String>(crate::insight::deployment::record(
                        store, &filter, &found, now, settings, &table,
                    ))
                })
                .await
                .map_err(|error| error.to_string())??;
            // The replay runs beside the store, not inside it.
            tokio::task::spawn_blocking(move || {
                crate::insight::deployment::whatif(&recorded, &edits)
            })
            .await
            .map_err(|error| error.to_string())?
            .map_err(|error| error.to_string())
        })
    }
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let routes = generate_route_list(app::App);
    let views = ViewSourceHandle(Arc::new(StoreViews {
        store: state.store.clone(),
        query: state.query,
        autoscaling: state.autoscaling.clone(),
        required: state.access.required,
    }));
    let options = state.leptos_options.clone();
    Router::new()
        .route("/healthz", get(api::healthz))
        .route(VIEW_PATH, get(api::view))
        .route(TARGETS_PATH, get(api::targets))
        .route("/api/v1/families", get(api::families))
        .route("/api/v1/family", get(api::family))
        .route(app::wire::ACCESS_PATH, get(api::access))
        .route(app::wire::LINKS_PATH, post(api::mint_link))
        .route("/api/v1/insights", get(api::insights))
        .route(app::wire::WHATIF_PATH, get(api::whatif))
        .route(LIVE_PATH, get(live::upgrade))
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(views.clone()),
            move || app::shell(options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::guard,
        ))
        .with_state(state)
}
