//! The light/dark theme: a signal the whole page reads, kept on `<html data-theme>` and in
//! `localStorage` (the inline script in the shell applies it before first paint).

use leptos::prelude::*;

use crate::panels::Theme;

/// `localStorage` key of the chosen theme.
pub const STORAGE_KEY: &str = "inferscope-theme";

/// Runs in `<head>` before the page paints: applies the URL's `theme=light|dark` (an embedding
/// console's choice, fixed for the page and not stored), else the stored theme, else the system's.
pub const EARLY_SCRIPT: &str = "try{var d=document.documentElement,\
q=new URLSearchParams(location.search).get('theme');\
if(q==='light'||q==='dark'){d.setAttribute('data-theme',q);d.setAttribute('data-theme-fixed','');}\
else{var t=localStorage.getItem('inferscope-theme');\
if(t!=='light'&&t!=='dark'){t=window.matchMedia&&matchMedia('(prefers-color-scheme: dark)').matches?'dark':'light'}\
d.setAttribute('data-theme',t)}}catch(e){}";

/// Creates the theme signal, provides it as context and keeps the document in step with it.
pub fn provide() -> RwSignal<Theme> {
    let theme = RwSignal::new(Theme::Light);
    provide_context(theme);
    follow_document(theme);
    theme
}

#[cfg(feature = "hydrate")]
fn follow_document(theme: RwSignal<Theme>) {
    let document = leptos::prelude::document();
    if let Some(root) = document.document_element()
        && let Some(found) = root
            .get_attribute("data-theme")
            .as_deref()
            .and_then(Theme::parse)
    {
        theme.set(found);
    }
    Effect::new(move |_| {
        let chosen = theme.get();
        let document = leptos::prelude::document();
        if let Some(root) = document.document_element()
            && root.set_attribute("data-theme", chosen.as_str()).is_err()
        {
            leptos::logging::warn!("could not set the theme attribute");
        }
        let fixed = document
            .document_element()
            .is_some_and(|root| root.has_attribute("data-theme-fixed"));
        if !fixed
            && let Ok(Some(storage)) = leptos::prelude::window().local_storage()
            && storage.set_item(STORAGE_KEY, chosen.as_str()).is_err()
        {
            leptos::logging::warn!("could not store the theme choice");
        }
    });
}

#[cfg(not(feature = "hydrate"))]
fn follow_document(_theme: RwSignal<Theme>) {}
