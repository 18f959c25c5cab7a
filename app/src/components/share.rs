//! "Share / Embed": a dialog that makes a link to the view for a colleague, or an iframe for
//! another console. On a server with a secret it mints a signed link through the API
//! (`POST /api/v1/links`, with an admin token the person pastes; it is sent once in the
//! `Authorization` header and kept nowhere); on a server without one, the link is the view's own
//! address, and the dialog says why.

use leptos::prelude::*;

use crate::panels::CARDS;
use crate::url::filter_query;
use crate::wire::{DeploymentRef, Filter, Link, LinkRequest, PanelId};

/// Lifetimes offered, seconds, with their names (those above the server's cap are left out).
const LIFETIMES: [(i64, &str); 5] = [
    (3600, "1 hour"),
    (86_400, "1 day"),
    (7 * 86_400, "7 days"),
    (30 * 86_400, "30 days"),
    (90 * 86_400, "90 days"),
];

/// What the dialog's form says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareForm {
    /// The scope: one deployment, or every deployment (`None`).
    pub deployment: Option<DeploymentRef>,
    /// The cards chosen (indices into [`CARDS`]); every card means "any panel".
    pub cards: Vec<usize>,
    /// An embed (panels only) or a full page.
    pub embed: bool,
    /// `light`, `dark`, or empty to follow the viewer.
    pub theme: String,
}

impl ShareForm {
    /// The form for the view shown: its deployment, its panels (every card when it shows all).
    pub fn for_view(filter: &Filter, deployments: &[DeploymentRef]) -> ShareForm {
        let deployment = filter.deployment.as_ref().and_then(|name| {
            deployments
                .iter()
                .find(|d| {
                    d.deployment == *name
                        && filter
                            .environment
                            .as_ref()
                            .is_none_or(|e| *e == d.environment)
                })
                .cloned()
        });
        let cards = (0..CARDS.len())
            .filter(|index| CARDS[*index].panels.iter().any(|p| filter.shows(*p)))
            .collect();
        ShareForm {
            deployment,
            cards,
            embed: true,
            theme: String::new(),
        }
    }

    /// The panels the link is limited to: none (any panel) when every card is chosen.
    pub fn panels(&self) -> Vec<PanelId> {
        if self.cards.len() == CARDS.len() {
            return Vec::new();
        }
        let mut panels: Vec<PanelId> = self
            .cards
            .iter()
            .filter_map(|index| CARDS.get(*index))
            .flat_map(|card| card.panels.iter().copied())
            .collect();
        panels.sort();
        panels.dedup();
        panels
    }

    /// What `POST /api/v1/links` is asked for.
    pub fn request(&self, ttl_s: i64) -> LinkRequest {
        LinkRequest {
            environment: self.deployment.as_ref().map(|d| d.environment.clone()),
            deployment: self.deployment.as_ref().map(|d| d.deployment.clone()),
            panels: self
                .panels()
                .into_iter()
                .map(|p| p.key().to_owned())
                .collect(),
            ttl_s,
            page: !self.embed,
        }
    }

    /// The link's path and query: the view's time range, model and splits inside the chosen
    /// scope, then embed mode, theme and token.
    pub fn path(&self, view: &Filter, token: Option<&str>) -> String {
        let same_deployment = self.deployment.as_ref().is_some_and(|d| {
            view.deployment.as_ref() == Some(&d.deployment)
                && view
                    .environment
                    .as_ref()
                    .is_none_or(|e| *e == d.environment)
        });
        let panels = self.panels();
        let kept = |list: &[PanelId]| {
            list.iter()
                .copied()
                .filter(|p| panels.is_empty() || panels.contains(p))
                .collect::<Vec<_>>()
        };
        let filter = Filter {
            environment: self.deployment.as_ref().map(|d| d.environment.clone()),
            deployment: self.deployment.as_ref().map(|d| d.deployment.clone()),
            model: view.model.clone().filter(|_| same_deployment),
            range: view.range,
            from_ms: view.from_ms,
            to_ms: view.to_ms,
            split: kept(&view.split),
            by_model: kept(&view.by_model),
            panels: panels.clone(),
            scoped: false,
        };
        let mut path = format!("/{}", filter_query(&filter));
        if self.embed {
            path.push_str("&embed=1");
        }
        if matches!(self.theme.as_str(), "light" | "dark") {
            path.push_str("&theme=");
            path.push_str(&self.theme);
        }
        if let Some(token) = token {
            path.push_str("&token=");
            path.push_str(token);
        }
        path
    }
}

/// The iframe snippet for a link.
pub fn iframe_snippet(url: &str, title: &str) -> String {
    let attribute = |text: &str| {
        text.replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
    };
    format!(
        "<iframe src=\"{}\" title=\"{}\" width=\"100%\" height=\"640\" style=\"border:0\"></iframe>",
        attribute(url),
        attribute(title)
    )
}

/// The lifetimes a server with cap `max_s` offers.
pub fn lifetimes(max_s: i64) -> Vec<(i64, String)> {
    let mut offered: Vec<(i64, String)> = LIFETIMES
        .iter()
        .filter(|(seconds, _)| *seconds <= max_s)
        .map(|(seconds, name)| (*seconds, (*name).to_owned()))
        .collect();
    if offered.is_empty() && max_s > 0 {
        offered.push((max_s, format!("{max_s} s (the longest allowed)")));
    }
    offered
}

#[cfg(feature = "hydrate")]
mod fetch {
    use gloo_net::http::Request;

    use crate::wire::{ACCESS_PATH, AccessInfo, LINKS_PATH, Link, LinkRequest};

    async fn reason(response: gloo_net::http::Response) -> String {
        let status = response.status();
        match response.json::<serde_json::Value>().await {
            Ok(body) => body
                .get("error")
                .and_then(|e| e.as_str())
                .map(str::to_owned)
                .unwrap_or_else(|| format!("the server answered {status}")),
            Err(_) => format!("the server answered {status}"),
        }
    }

    /// A response's JSON body, or the server's reason for refusing.
    async fn answer<T: serde::de::DeserializeOwned>(
        sent: Result<gloo_net::http::Response, gloo_net::Error>,
    ) -> Result<T, String> {
        let response = sent.map_err(|error| format!("could not reach the server: {error}"))?;
        if !response.ok() {
            return Err(reason(response).await);
        }
        response
            .json()
            .await
            .map_err(|error| format!("unreadable answer: {error}"))
    }

    pub async fn access() -> Result<AccessInfo, String> {
        answer(Request::get(ACCESS_PATH).send().await).await
    }

    pub async fn mint(request: LinkRequest, admin: String) -> Result<Link, String> {
        let request = Request::post(LINKS_PATH)
            .header("authorization", &format!("Bearer {}", admin.trim()))
            .json(&request)
            .map_err(|error| error.to_string())?;
        answer(request.send().await).await
    }

    /// The page's origin (`http://host:port`).
    pub fn origin() -> String {
        web_sys::window()
            .and_then(|w| w.location().origin().ok())
            .unwrap_or_default()
    }

    /// Copies `text`: the Clipboard API where the page may use it, else a selection copy.
    pub fn copy(text: String, field_id: &str) {
        if let Some(window) = web_sys::window() {
            // The Clipboard API exists only in secure contexts (HTTPS, or loopback).
            if window.is_secure_context()
                && js_sys::Reflect::has(&window.navigator(), &"clipboard".into()).unwrap_or(false)
            {
                let _ = window.navigator().clipboard().write_text(&text);
                return;
            }
            use wasm_bindgen::JsCast;
            if let Some(document) = window.document()
                && let Some(field) = document.get_element_by_id(field_id)
                && let Ok(field) = field.dyn_into::<web_sys::HtmlTextAreaElement>()
            {
                field.select();
                if let Ok(html) = document.dyn_into::<web_sys::HtmlDocument>() {
                    let _ = html.exec_command("copy");
                }
            }
        }
    }
}

#[cfg(not(feature = "hydrate"))]
mod fetch {
    use crate::wire::{AccessInfo, Link, LinkRequest};

    pub async fn access() -> Result<AccessInfo, String> {
        Err("the dialog runs in the browser".into())
    }

    pub async fn mint(_request: LinkRequest, _admin: String) -> Result<Link, String> {
        Err("the dialog runs in the browser".into())
    }

    pub fn origin() -> String {
        String::new()
    }

    pub fn copy(_text: String, _field_id: &str) {}
}

/// A read-only text (the link, the snippet) with a Copy button that says when it copied.
#[component]
fn CopyField(
    label: &'static str,
    id: &'static str,
    rows: u32,
    text: String,
    /// Which field was copied last (by `id`).
    copied: RwSignal<Option<&'static str>>,
) -> impl IntoView {
    let copy = text.clone();
    view! {
        <label class="field">
            <span>{label}</span>
            <div class="copy-row">
                <textarea id=id class=id readonly rows=rows prop:value=text.clone()>{text.clone()}</textarea>
                <button type="button" class="copy" on:click=move |_| {
                    fetch::copy(copy.clone(), id);
                    copied.set(Some(id));
                }>{move || if copied.get() == Some(id) { "Copied" } else { "Copy" }}</button>
            </div>
        </label>
    }
}

/// The toolbar's button and its dialog.
#[component]
pub fn ShareButton(
    /// The view shown.
    filter: Memo<Filter>,
    /// Deployments the server knows.
    deployments: Signal<Vec<DeploymentRef>>,
) -> impl IntoView {
    let open = RwSignal::new(false);
    view! {
        <button
            class="share-button"
            type="button"
            aria-haspopup="dialog"
            title="Share a link or embed these panels in another console"
            aria-label="Share / Embed"
            on:click=move |_| open.set(true)
        >
            <svg viewBox="0 0 24 24" aria-hidden="true">
                <path d="M8 7l-5 5 5 5M16 7l5 5-5 5" fill="none" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"></path>
            </svg>
            <span class="share-text">"Share / Embed"</span>
        </button>
        <Show when=move || open.get()>
            <ShareDialog filter=filter deployments=deployments open=open/>
        </Show>
    }
}

/// What a link came out as.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Made {
    url: String,
    expires: Option<String>,
}

#[component]
fn ShareDialog(
    filter: Memo<Filter>,
    deployments: Signal<Vec<DeploymentRef>>,
    open: RwSignal<bool>,
) -> impl IntoView {
    let access = LocalResource::new(fetch::access);
    let form = RwSignal::new(ShareForm::for_view(
        &filter.get_untracked(),
        &deployments.get_untracked(),
    ));
    let ttl = RwSignal::new(86_400_i64);
    let admin = RwSignal::new(String::new());
    let made: RwSignal<Option<Result<Made, String>>> = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let copied: RwSignal<Option<&'static str>> = RwSignal::new(None);
    // Any change to the form makes the last link stale.
    let edit = move |change: Box<dyn FnOnce(&mut ShareForm)>| {
        form.update(|f| change(f));
        made.set(None);
        copied.set(None);
    };
    let info = move || access.get().and_then(|result| result.ok());
    let signs = move || info().is_some_and(|i| i.signs_links);
    // Without a secret the link is the view's own address: shown at once, no token involved.
    let plain = move || {
        info().filter(|i| !i.signs_links).map(|_| Made {
            url: format!(
                "{}{}",
                fetch::origin(),
                form.with(|f| f.path(&filter.get(), None))
            ),
            expires: None,
        })
    };
    let result = move || plain().map(Ok).or_else(|| made.get());
    let on_mint = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let token = admin.get_untracked();
        if token.trim().is_empty() {
            made.set(Some(Err(
                "Paste an admin token: `inferscope link --admin` prints one.".into(),
            )));
            return;
        }
        let longest = access
            .get_untracked()
            .and_then(Result::ok)
            .map_or(i64::MAX, |i| i.max_link_ttl_s);
        let request = form.with_untracked(|f| f.request(ttl.get_untracked().min(longest)));
        busy.set(true);
        leptos::task::spawn_local(async move {
            let answer = fetch::mint(request, token).await;
            busy.set(false);
            made.set(Some(answer.map(|link: Link| Made {
                url: format!(
                    "{}{}",
                    fetch::origin(),
                    form.with_untracked(|f| f.path(&filter.get_untracked(), Some(&link.token)))
                ),
                expires: Some(format!("{} UTC", link.expires_utc)),
            })));
        });
    };
    let title = move || {
        form.with(|f| match &f.deployment {
            Some(d) => format!("inferscope: {} / {}", d.environment, d.deployment),
            None => "inferscope".to_owned(),
        })
    };
    let snippet = move || {
        result()
            .and_then(Result::ok)
            .map(|made| iframe_snippet(&made.url, &title()))
    };
    let close = move || open.set(false);
    // Escape closes the dialog wherever the focus is (a button that was disabled while a link
    // was made leaves it on the page).
    let escape =
        leptos::leptos_dom::helpers::window_event_listener(leptos::ev::keydown, move |event| {
            if event.key() == "Escape" {
                open.set(false);
            }
        });
    on_cleanup(move || escape.remove());

    view! {
        <div class="dialog-backdrop" on:click=move |_| close()>
            <div
                class="dialog share-dialog"
                role="dialog"
                aria-modal="true"
                aria-labelledby="share-title"
                on:click=|event| event.stop_propagation()
            >
                <header class="dialog-head">
                    <h2 id="share-title">"Share / Embed"</h2>
                    <button class="dialog-close" type="button" aria-label="Close" on:click=move |_| close()>"×"</button>
                </header>
                <form class="share-form" on:submit=on_mint>
                    <label class="field">
                        <span>"Deployment"</span>
                        <select
                            name="share-deployment"
                            on:change=move |event| {
                                let index = event_target_value(&event).parse::<usize>().ok();
                                let chosen = index.and_then(|i| deployments.with_untracked(|all| all.get(i).cloned()));
                                edit(Box::new(move |f| f.deployment = chosen));
                            }
                        >
                            <option value="" selected=move || form.with(|f| f.deployment.is_none())>"Every deployment"</option>
                            {move || deployments.get().into_iter().enumerate().map(|(index, d)| {
                                let label = format!("{} / {}", d.environment, d.deployment);
                                let selected = move || form.with(|f| f.deployment.as_ref() == Some(&d));
                                view! { <option value=index.to_string() selected=selected>{label}</option> }
                            }).collect_view()}
                        </select>
                    </label>
                    <fieldset class="field panels-field">
                        <legend>"Panels"</legend>
                        <div class="panel-choices">
                            {CARDS.iter().enumerate().map(|(index, card)| {
                                let checked = move || form.with(|f| f.cards.contains(&index));
                                view! {
                                    <label class="check">
                                        <input
                                            type="checkbox"
                                            name="share-panel"
                                            value=card.panels[0].key()
                                            prop:checked=checked
                                            on:change=move |event| {
                                                let on = event_target_checked(&event);
                                                edit(Box::new(move |f| {
                                                    f.cards.retain(|i| *i != index);
                                                    if on {
                                                        f.cards.push(index);
                                                        f.cards.sort_unstable();
                                                    }
                                                }));
                                            }
                                        />
                                        {card.title}
                                    </label>
                                }
                            }).collect_view()}
                        </div>
                        <div class="panel-quick">
                            <button type="button" class="link-button" on:click=move |_| edit(Box::new(|f| f.cards = (0..CARDS.len()).collect()))>"All"</button>
                            <button type="button" class="link-button" on:click=move |_| edit(Box::new(|f| f.cards.clear()))>"None"</button>
                        </div>
                    </fieldset>
                    <div class="field-row">
                        <label class="field">
                            <span>"Show"</span>
                            <select name="share-kind" on:change=move |event| {
                                let embed = event_target_value(&event) == "embed";
                                edit(Box::new(move |f| f.embed = embed));
                            }>
                                <option value="embed" selected=move || form.with(|f| f.embed)>"Panels only (embed)"</option>
                                <option value="page" selected=move || form.with(|f| !f.embed)>"The whole page"</option>
                            </select>
                        </label>
                        <label class="field">
                            <span>"Theme"</span>
                            <select name="share-theme" on:change=move |event| {
                                let theme = event_target_value(&event);
                                edit(Box::new(move |f| f.theme = theme));
                            }>
                                <option value="" selected=move || form.with(|f| f.theme.is_empty())>"The viewer's"</option>
                                <option value="light" selected=move || form.with(|f| f.theme == "light")>"Light"</option>
                                <option value="dark" selected=move || form.with(|f| f.theme == "dark")>"Dark"</option>
                            </select>
                        </label>
                        <Show when=signs>
                            <label class="field">
                                <span>"Lifetime"</span>
                                <select name="share-ttl" on:change=move |event| {
                                    if let Ok(seconds) = event_target_value(&event).parse::<i64>() {
                                        ttl.set(seconds);
                                        made.set(None);
                                    }
                                }>
                                    {move || lifetimes(info().map_or(0, |i| i.max_link_ttl_s)).into_iter().map(|(seconds, name)| {
                                        view! { <option value=seconds.to_string() selected=move || ttl.get() == seconds>{name}</option> }
                                    }).collect_view()}
                                </select>
                            </label>
                        </Show>
                    </div>
                    {move || match access.get() {
                        None => view! { <p class="dialog-note">"Asking the server what it allows…"</p> }.into_any(),
                        Some(Err(reason)) => view! { <p class="dialog-note refused" role="alert">{format!("The server refused: {reason}")}</p> }.into_any(),
                        Some(Ok(info)) if !info.signs_links => view! {
                            <p class="dialog-note">
                                "This server has no access secret, so it signs no links and needs none: anyone who can reach it can open the link below. To hand out links that expire and show only these panels, set "
                                <code>"INFERSCOPE_ACCESS_SECRET"</code>" (docs/EMBED.md)."
                            </p>
                        }.into_any(),
                        Some(Ok(info)) => view! {
                            <div class="admin-row">
                                <label class="field grow">
                                    <span>"Admin token"</span>
                                    <input
                                        type="password"
                                        name="share-admin"
                                        autocomplete="off"
                                        placeholder="v1.…"
                                        prop:value=move || admin.get()
                                        on:input=move |event| admin.set(event_target_value(&event))
                                    />
                                </label>
                                <button class="primary" type="submit" disabled=move || busy.get()>
                                    {move || if busy.get() { "Creating…" } else { "Create link" }}
                                </button>
                            </div>
                            <p class="dialog-note">
                                "Links are signed by an admin: "<code>"inferscope link --admin"</code>
                                " prints a token. It is sent once, in this request's Authorization header, and kept nowhere."
                                {info.scoped.then_some(" This page was opened from a scoped link, which cannot mint links itself.")}
                            </p>
                        }.into_any(),
                    }}
                </form>
                {move || result().map(|result| match result {
                    Err(reason) => view! { <p class="dialog-note refused" role="alert">{reason}</p> }.into_any(),
                    Ok(made) => {
                        let snippet = snippet().unwrap_or_default();
                        view! {
                            <div class="share-result">
                                <CopyField label="Link" id="share-link" rows=2 text=made.url.clone() copied=copied/>
                                <CopyField label="Iframe" id="share-iframe" rows=3 text=snippet copied=copied/>
                                <p class="dialog-note expiry">
                                    {match made.expires {
                                        Some(at) => format!("Read-only; expires {at}. A console that frames it must be listed in access.frame_ancestors."),
                                        None => "Does not expire: the server needs no token. A console that frames it must be listed in access.frame_ancestors.".to_owned(),
                                    }}
                                </p>
                            </div>
                        }.into_any()
                    }
                })}
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::TimeRange;

    fn fleet() -> Vec<DeploymentRef> {
        ["chat-llm", "embedder"]
            .into_iter()
            .map(|name| DeploymentRef {
                environment: "production".into(),
                deployment: name.into(),
            })
            .collect()
    }

    #[test]
    fn the_form_starts_from_the_view_and_the_link_keeps_its_time_and_model() {
        let view = Filter {
            environment: Some("production".into()),
            deployment: Some("chat-llm".into()),
            model: Some("support-agent-lora".into()),
            range: TimeRange::Last1h,
            split: vec![PanelId::Cpu, PanelId::InferenceVolume],
            panels: vec![PanelId::InferenceVolume, PanelId::ResponseTime],
            ..Filter::default()
        };
        let form = ShareForm::for_view(&view, &fleet());
        assert_eq!(form.deployment, Some(fleet()[0].clone()));
        // Inference volume is card 0; response time is card 1, whose tabs come along.
        assert_eq!(form.cards, vec![0, 1]);
        let request = form.request(3600);
        assert_eq!(request.deployment.as_deref(), Some("chat-llm"));
        assert_eq!(request.environment.as_deref(), Some("production"));
        assert!(!request.page);
        assert_eq!(
            request.panels,
            [
                "inference_volume",
                "response_time",
                "inference_time",
                "time_to_first_byte",
                "engine_queue_time"
            ]
        );
        assert_eq!(
            form.path(&view, Some("v1.abc.def")),
            "/?environment=production&deployment=chat-llm&model=support-agent-lora&range=1h\
             &split=inference_volume&panels=inference_volume%2Cresponse_time%2Cinference_time\
             %2Ctime_to_first_byte%2Cengine_queue_time&embed=1&token=v1.abc.def"
        );
    }

    #[test]
    fn another_deployment_drops_the_model_and_every_card_means_any_panel() {
        let view = Filter {
            deployment: Some("chat-llm".into()),
            model: Some("llama".into()),
            from_ms: Some(1000),
            to_ms: Some(61_000),
            ..Filter::default()
        };
        let mut form = ShareForm::for_view(&view, &fleet());
        assert_eq!(form.cards.len(), CARDS.len());
        assert!(form.panels().is_empty());
        form.deployment = Some(fleet()[1].clone());
        form.embed = false;
        form.theme = "dark".into();
        assert_eq!(
            form.path(&view, None),
            "/?environment=production&deployment=embedder&from=1000&to=61000&theme=dark"
        );
    }

    #[test]
    fn the_iframe_quotes_its_attributes_and_lifetimes_respect_the_cap() {
        assert_eq!(
            iframe_snippet("http://h/?a=1&b=\"2\"", "x<y"),
            "<iframe src=\"http://h/?a=1&amp;b=&quot;2&quot;\" title=\"x&lt;y\" width=\"100%\" \
             height=\"640\" style=\"border:0\"></iframe>"
        );
        let offered: Vec<i64> = lifetimes(30 * 86_400).iter().map(|(s, _)| *s).collect();
        assert_eq!(offered, [3600, 86_400, 7 * 86_400, 30 * 86_400]);
        assert_eq!(
            lifetimes(600),
            [(600, "600 s (the longest allowed)".to_owned())]
        );
    }
}
