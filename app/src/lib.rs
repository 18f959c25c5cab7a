//! inferscope's pages, components and wire types. Compiled twice: with `ssr` into the server
//! (rendering HTML) and with `hydrate` into the browser's WASM. **`app` never depends on tokio,
//! axum or the server crate.**

pub mod api;
pub mod chart_option;
pub mod clock;
pub mod components;
pub mod embed;
pub mod format;
pub mod insights;
pub mod live;
pub mod pages;
pub mod panels;
pub mod span;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod theme;
pub mod url;
pub mod wire;

use leptos::prelude::*;
use leptos_meta::{Link, MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::SsrMode;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use pages::dashboard::Dashboard;
use pages::families::FamiliesPage;
use pages::targets::TargetsPage;
use pages::whatif::WhatIfPage;

/// The HTML document around the app (server side).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <script>{theme::EARLY_SCRIPT}</script>
                <script src="/vendor/echarts.min.js"></script>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application: the dashboard at `/`, scrape health at `/targets`.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    theme::provide();
    view! {
        <Stylesheet id="leptos" href="/pkg/inferscope.css"/>
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg"/>
        <Title text="inferscope"/>
        <Router>
            <main class="page">
                <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                    <Route path=path!("") view=Dashboard ssr=SsrMode::Async/>
                    <Route path=path!("/targets") view=TargetsPage ssr=SsrMode::Async/>
                    <Route path=path!("/families") view=FamiliesPage ssr=SsrMode::Async/>
                    <Route path=path!("/whatif") view=WhatIfPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}
