//! The page's live connection: subscribe over the WebSocket, apply snapshot and deltas, follow
//! filter changes, reconnect with backoff and resume where it left off.
//!
//! [`connect`] has one body per side: in the browser it runs the connection; while rendering
//! on the server it does nothing (the first paint comes from the `load_view` server function).

use leptos::prelude::*;

use crate::wire::{Filter, View};

/// What the connection is doing, for the status badge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// First connection under way.
    Connecting,
    /// Subscribed and receiving updates.
    Live,
    /// The connection dropped; trying again.
    Reconnecting,
    /// The server refused the protocol; no retry.
    Failed,
}

/// The live state the page reads.
#[derive(Clone, Copy, Debug)]
pub struct LiveView {
    /// The newest view received, for the filter it names.
    pub view: RwSignal<Option<View>>,
    /// Connection state.
    pub state: RwSignal<ConnectionState>,
    /// When the last message arrived (browser clock, Unix milliseconds).
    pub last_message_ms: RwSignal<Option<f64>>,
    /// Messages received on the current stream (snapshots and deltas).
    pub messages: RwSignal<u64>,
    /// Why the server refused this page's token or filter (expired, out of scope); no retry.
    pub refusal: RwSignal<Option<String>>,
}

/// Starts following `filter` live.
pub fn connect(filter: Memo<Filter>) -> LiveView {
    let live = LiveView {
        view: RwSignal::new(None),
        state: RwSignal::new(ConnectionState::Connecting),
        last_message_ms: RwSignal::new(None),
        messages: RwSignal::new(0),
        refusal: RwSignal::new(None),
    };
    run(live, filter);
    live
}

#[cfg(not(feature = "hydrate"))]
fn run(_live: LiveView, _filter: Memo<Filter>) {}

#[cfg(feature = "hydrate")]
fn run(live: LiveView, filter: Memo<Filter>) {
    browser::run(live, filter);
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::time::Duration;

    use futures::channel::mpsc;
    use futures::{SinkExt, StreamExt};
    use gloo_net::websocket::Message;
    use gloo_net::websocket::futures::WebSocket;
    use leptos::logging::warn;
    use leptos::prelude::*;
    use leptos::task::spawn_local;

    use super::{ConnectionState, LiveView};
    use crate::wire::{
        ClientMessage, ErrorCode, Filter, LIVE_PATH, PROTOCOL_VERSION, Resume, ServerMessage,
    };

    pub fn run(live: LiveView, filter: Memo<Filter>) {
        // Capacity one: a pending notification already says "the filter changed".
        let (changed, changes) = mpsc::channel::<()>(1);
        Effect::new(move |previous: Option<()>| {
            filter.track();
            if previous.is_some() {
                let _coalesced_with_a_pending_one = changed.clone().try_send(());
            }
        });
        spawn_local(connection_loop(live, filter, changes));
    }

    /// The live endpoint on this page's host, carrying the page's signed-link token (if any):
    /// a browser cannot set headers on a WebSocket.
    fn live_url() -> Option<String> {
        let location = window().location();
        let scheme = if location.protocol().ok()? == "https:" {
            "wss"
        } else {
            "ws"
        };
        let mut url = format!("{scheme}://{}{LIVE_PATH}", location.host().ok()?);
        let token = location
            .search()
            .ok()
            .and_then(|search| web_sys::UrlSearchParams::new_with_str(&search).ok())
            .and_then(|params| params.get("token"));
        if let Some(token) = token.filter(|token| {
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        }) {
            url.push_str("?token=");
            url.push_str(&token);
        }
        Some(url)
    }

    async fn sleep(duration: Duration) {
        let (done, wait) = futures::channel::oneshot::channel::<()>();
        set_timeout(
            move || {
                let _waiter_may_be_gone = done.send(());
            },
            duration,
        );
        let _fired_or_dropped = wait.await;
    }

    fn subscribe(filter: Filter, resume: Option<Resume>) -> Option<Message> {
        let message = ClientMessage::Subscribe {
            protocol: PROTOCOL_VERSION,
            filter,
            resume,
        };
        serde_json::to_string(&message).ok().map(Message::Text)
    }

    enum Event {
        Socket(Option<Result<Message, gloo_net::websocket::WebSocketError>>),
        FilterChanged,
    }

    enum Outcome {
        Dropped,
        Refused,
    }

    async fn connection_loop(
        live: LiveView,
        filter: Memo<Filter>,
        mut changes: mpsc::Receiver<()>,
    ) {
        let mut attempt: u32 = 0;
        let mut resume: Option<Resume> = None;
        loop {
            let outcome = match live_url().map(|url| WebSocket::open(&url)) {
                Some(Ok(socket)) => session(live, filter, &mut changes, socket, &mut resume).await,
                Some(Err(error)) => {
                    warn!("live connection failed to open: {error}");
                    Outcome::Dropped
                }
                None => Outcome::Dropped,
            };
            if matches!(outcome, Outcome::Refused) {
                live.state.set(ConnectionState::Failed);
                return;
            }
            if live.state.get_untracked() == ConnectionState::Live {
                attempt = 0;
            }
            live.state.set(ConnectionState::Reconnecting);
            attempt = attempt.saturating_add(1);
            let backoff_ms = (250u64 << attempt.min(6)).min(10_000);
            let jitter_ms = (js_sys::Math::random() * 250.0) as u64;
            sleep(Duration::from_millis(backoff_ms + jitter_ms)).await;
        }
    }

    async fn session(
        live: LiveView,
        filter: Memo<Filter>,
        changes: &mut mpsc::Receiver<()>,
        socket: WebSocket,
        resume: &mut Option<Resume>,
    ) -> Outcome {
        let (mut sink, stream) = socket.split();
        let Some(first) = subscribe(filter.get_untracked(), *resume) else {
            return Outcome::Dropped;
        };
        if sink.send(first).await.is_err() {
            return Outcome::Dropped;
        }
        let socket_events =
            stream
                .map(|message| Event::Socket(Some(message)))
                .chain(futures::stream::once(futures::future::ready(
                    Event::Socket(None),
                )));
        let filter_events = changes.by_ref().map(|()| Event::FilterChanged);
        let mut events = futures::stream::select(socket_events, filter_events);
        while let Some(event) = events.next().await {
            let text = match event {
                Event::FilterChanged => {
                    *resume = None;
                    live.messages.set(0);
                    let Some(message) = subscribe(filter.get_untracked(), None) else {
                        continue;
                    };
                    if sink.send(message).await.is_err() {
                        return Outcome::Dropped;
                    }
                    continue;
                }
                Event::Socket(None) | Event::Socket(Some(Err(_))) => return Outcome::Dropped,
                Event::Socket(Some(Ok(Message::Bytes(_)))) => continue,
                Event::Socket(Some(Ok(Message::Text(text)))) => text,
            };
            let message: ServerMessage = match serde_json::from_str(&text) {
                Ok(message) => message,
                Err(error) => {
                    warn!("ignoring a live message that does not parse: {error}");
                    continue;
                }
            };
            live.last_message_ms.set(Some(js_sys::Date::now()));
            match message {
                ServerMessage::Snapshot {
                    stream, seq, view, ..
                } => {
                    *resume = Some(Resume { stream, seq });
                    live.view.set(Some(*view));
                    live.messages.update(|count| *count += 1);
                    live.state.set(ConnectionState::Live);
                }
                ServerMessage::Delta { stream, seq, delta } => {
                    // Deltas of a stream left behind (the filter changed, its snapshot is on its
                    // way) are dropped; a gap within the current stream starts over.
                    if resume.is_none_or(|r| r.stream != stream) {
                        continue;
                    }
                    let expected = resume.is_some_and(|r| r.seq + 1 == seq);
                    if !expected {
                        // A gap cannot happen on one connection; start over to be safe.
                        warn!("live stream out of order; resubscribing");
                        *resume = None;
                        return Outcome::Dropped;
                    }
                    *resume = Some(Resume { stream, seq });
                    live.view.update(|view| {
                        if let Some(view) = view {
                            view.apply(&delta);
                        }
                    });
                    live.messages.update(|count| *count += 1);
                    live.state.set(ConnectionState::Live);
                }
                ServerMessage::Error { code, message } => {
                    warn!("live server error {code:?}: {message}");
                    match code {
                        ErrorCode::UnsupportedProtocol => return Outcome::Refused,
                        ErrorCode::Unauthorized | ErrorCode::Forbidden => {
                            live.refusal.set(Some(message));
                            return Outcome::Refused;
                        }
                        ErrorCode::BadMessage | ErrorCode::Overloaded => {}
                    }
                }
            }
        }
        Outcome::Dropped
    }
}
