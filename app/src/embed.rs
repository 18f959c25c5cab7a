//! Embed mode (`?embed=1`): the page inside another console's iframe tells its parent what
//! happens, with `postMessage` to the parent's origin only — never to `*`.
//!
//! The parent's origin is the one the browser reports (`location.ancestorOrigins`, else the
//! referrer). The server's `Content-Security-Policy: frame-ancestors` already keeps the page out
//! of frames on origins not allowed, so a page that renders at all is framed by an allowed one.
//!
//! Messages are plain objects with `source: "inferscope"` and a `type`:
//! - `ready` — the first view is on screen: `{filter, query}`;
//! - `filter` — the filter changed (a drag-to-zoom, say): `{filter, query}`;
//! - `height` — the content's height in CSS pixels changed: `{height}`;
//! - `refused` — the server refused the link (expired, out of scope): `{reason}`.
//!
//! `docs/EMBED.md` documents them for console authors.

use leptos::prelude::*;

use crate::live::LiveView;
use crate::wire::Filter;

/// Starts telling the parent page about `filter`, `ready` (the first view is shown) and the
/// content's height. Does nothing while rendering on the server.
pub fn start(filter: Memo<Filter>, ready: Signal<bool>, live: LiveView) {
    run(filter, ready, live);
}

#[cfg(not(feature = "hydrate"))]
fn run(_filter: Memo<Filter>, _ready: Signal<bool>, _live: LiveView) {}

#[cfg(feature = "hydrate")]
fn run(filter: Memo<Filter>, ready: Signal<bool>, live: LiveView) {
    browser::run(filter, ready, live);
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use serde::Serialize;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::Closure;

    use crate::live::LiveView;
    use crate::url::filter_query;
    use crate::wire::Filter;

    #[derive(Serialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Message<'a> {
        Ready { filter: &'a Filter, query: String },
        Filter { filter: &'a Filter, query: String },
        Height { height: i32 },
        Refused { reason: &'a str },
    }

    #[derive(Serialize)]
    struct Envelope<'a> {
        source: &'static str,
        #[serde(flatten)]
        message: Message<'a>,
    }

    /// The parent page's origin, as the browser reports it.
    fn parent_origin() -> Option<String> {
        let window = window();
        let location = window.location();
        let ancestors = js_sys::Reflect::get(&location, &"ancestorOrigins".into()).ok();
        let first = ancestors
            .filter(|list| !list.is_undefined() && !list.is_null())
            .and_then(|list| js_sys::Reflect::get(&list, &0.into()).ok())
            .and_then(|origin| origin.as_string());
        first
            .or_else(|| {
                let referrer = document().referrer();
                web_sys::Url::new(&referrer).ok().map(|url| url.origin())
            })
            .filter(|origin| origin != "null" && !origin.is_empty())
    }

    fn post(message: Message<'_>) {
        let window = window();
        let Ok(Some(parent)) = window.parent() else {
            return;
        };
        // Not framed: the parent is the window itself.
        if parent == window {
            return;
        }
        let Some(origin) = parent_origin() else {
            return;
        };
        let envelope = Envelope {
            source: "inferscope",
            message,
        };
        let serializer = serde_wasm_bindgen::Serializer::json_compatible();
        if let Ok(value) = envelope.serialize(&serializer)
            && parent.post_message(&value, &origin).is_err()
        {
            leptos::logging::warn!("could not post a message to the parent page");
        }
    }

    /// The page's content, whose height the parent wants (the document's own height is never
    /// less than the frame's).
    fn content() -> Option<web_sys::HtmlElement> {
        document()
            .query_selector("main.page")
            .ok()
            .flatten()
            .and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok())
    }

    pub fn run(filter: Memo<Filter>, ready: Signal<bool>, live: LiveView) {
        // `ready` once the first view is shown, then `filter` on every change.
        let announced = StoredValue::new(false);
        Effect::new(move |_| {
            if ready.get() && !announced.get_value() {
                announced.set_value(true);
                filter.with_untracked(|filter| {
                    post(Message::Ready {
                        filter,
                        query: filter_query(filter),
                    });
                });
            }
        });
        Effect::new(move |previous: Option<()>| {
            filter.track();
            if previous.is_some() {
                filter.with_untracked(|filter| {
                    post(Message::Filter {
                        filter,
                        query: filter_query(filter),
                    });
                });
            }
        });
        Effect::new(move |_| {
            if let Some(reason) = live.refusal.get() {
                post(Message::Refused { reason: &reason });
            }
        });
        // `height` whenever the content's size changes.
        let last = std::rc::Rc::new(std::cell::Cell::new(-1));
        let observe = Closure::<dyn FnMut(js_sys::Array)>::new(move |_entries: js_sys::Array| {
            let height = content().map_or(0, |page| page.offset_height());
            if height != last.get() {
                last.set(height);
                post(Message::Height { height });
            }
        });
        match web_sys::ResizeObserver::new(observe.as_ref().unchecked_ref()) {
            Ok(observer) => {
                if let Some(page) = content() {
                    observer.observe(&page);
                }
                // The page lives as long as the observer: leak both on purpose.
                observe.forget();
                std::mem::forget(observer);
            }
            Err(_) => leptos::logging::warn!("no ResizeObserver: the parent gets no heights"),
        }
    }
}
