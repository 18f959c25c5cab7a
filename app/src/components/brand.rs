//! The logo and name at the left of every page's top bar, linking to the dashboard, and the
//! separator after it.

use leptos::prelude::*;

/// The brand link and the crumb separator.
#[component]
pub fn Brand() -> impl IntoView {
    view! {
        <a class="brand" href="/" aria-label="inferscope dashboard">
            <svg class="logo" viewBox="0 0 24 24" aria-hidden="true">
                <rect x="2" y="2" width="20" height="20" rx="6"></rect>
                <path d="M7 15l3-4 3 3 4-6" fill="none" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"></path>
            </svg>
            <span>"inferscope"</span>
        </a>
        <span class="crumb-sep" aria-hidden="true">"/"</span>
    }
}
