//! The WebSocket edge of the live protocol (`/api/v1/live`; see `app::wire` and `docs/LIVE.md`).
//!
//! Per connection: small read and write buffers, a cap on incoming message size, a bounded
//! subscription from the hub, a send timeout. Garbage from the client gets an error message;
//! a client that keeps sending garbage is disconnected.

use std::time::Duration;

use app::wire::{ClientMessage, ErrorCode, Filter, LIVE_PATH, PROTOCOL_VERSION, ServerMessage};
use axum::Extension;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN};
use axum::response::Response;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tracing::{debug, warn};

use crate::access::{Claims, Refusal, utc};
use crate::live::{Frame, HubHandle};

use super::AppState;
use super::access::{Grant, now_s, refused};

/// Largest message a client may send (a subscription is a few hundred bytes).
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 16 * 1024;
/// Read and write buffer per connection (see ARCHITECTURE.md: buffers decide memory per viewer).
pub const SOCKET_BUFFER_BYTES: usize = 4 * 1024;
/// A send that takes longer than this means the client is gone or stuck: drop it.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest frame the server sends: a snapshot of a view with many replicas' lines (a
/// deployment that scaled through dozens of replicas in the range) runs to megabytes.
pub const MAX_SERVER_FRAME_BYTES: usize = 32 * 1024 * 1024;
/// Invalid messages tolerated on one connection before it is closed.
pub const MAX_BAD_MESSAGES: u32 = 16;

/// `GET /api/v1/live`: upgrades to a WebSocket speaking the live protocol. A browser page may
/// connect only from the server's own origin or an allowed parent origin (`Origin` is checked
/// before the upgrade; programs send none). The token, when one is required, was checked by the
/// access middleware; its scope is checked on every `subscribe`, and the connection closes when
/// it expires.
pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    grant: Option<Extension<Grant>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    if let Some(origin) = headers.get(ORIGIN) {
        let origin = origin.to_str().unwrap_or("<not text>");
        // HTTP/2 has no Host header: the request's authority then names the server.
        let host = headers
            .get(HOST)
            .and_then(|host| host.to_str().ok())
            .or_else(|| uri.authority().map(|authority| authority.as_str()));
        if !state.access.origin_allowed(origin, host) {
            return refused(LIVE_PATH, &Refusal::Origin(origin.to_owned()));
        }
    }
    let claims = grant.map(|Extension(Grant(claims))| claims);
    ws.read_buffer_size(SOCKET_BUFFER_BYTES)
        .write_buffer_size(SOCKET_BUFFER_BYTES)
        .max_write_buffer_size(MAX_SERVER_FRAME_BYTES)
        .max_message_size(MAX_CLIENT_MESSAGE_BYTES)
        .max_frame_size(MAX_CLIENT_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve(socket, state.hub, state.shutting_down, claims))
}

/// Resolves when the token expires (never without one).
async fn expiry(claims: Option<&Claims>) {
    match claims {
        Some(claims) => {
            let left = u64::try_from(claims.expires_s.saturating_sub(now_s())).unwrap_or(0);
            tokio::time::sleep(Duration::from_secs(left)).await;
        }
        None => std::future::pending().await,
    }
}

async fn send_frame(socket: &mut WebSocket, frame: Frame) -> bool {
    let text = match Utf8Bytes::try_from(frame) {
        Ok(text) => text,
        Err(error) => {
            warn!(%error, "a live frame was not UTF-8; skipped");
            return true;
        }
    };
    let bytes = text.len();
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text))).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            warn!(%error, bytes, "a live frame could not be sent; closing the connection");
            false
        }
        Err(_) => {
            debug!(
                bytes,
                "a viewer took longer than {SEND_TIMEOUT:?} to take a frame; closing"
            );
            false
        }
    }
}

async fn send_error(socket: &mut WebSocket, code: ErrorCode, message: String) -> bool {
    let error = ServerMessage::Error { code, message };
    match serde_json::to_string(&error) {
        Ok(text) => matches!(
            tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await,
            Ok(Ok(()))
        ),
        Err(_) => false,
    }
}

async fn next_update(updates: &mut Option<broadcast::Receiver<Frame>>) -> Result<Frame, RecvError> {
    match updates {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

async fn serve(
    mut socket: WebSocket,
    hub: HubHandle,
    mut shutting_down: watch::Receiver<bool>,
    claims: Option<Claims>,
) {
    let mut updates: Option<broadcast::Receiver<Frame>> = None;
    let mut filter: Option<Filter> = None;
    let mut bad_messages = 0u32;
    let expired = expiry(claims.as_ref());
    tokio::pin!(expired);
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let text = match incoming {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Binary(_))) => {
                        bad_messages += 1;
                        if !send_error(&mut socket, ErrorCode::BadMessage, "binary frames are not part of the protocol; send JSON text".into()).await {
                            break;
                        }
                        if bad_messages > MAX_BAD_MESSAGES { break; }
                        continue;
                    }
                    // Pings are answered by the WebSocket layer itself.
                    Some(Ok(_)) => continue,
                };
                match serde_json::from_str::<ClientMessage>(&text) {
                    Ok(ClientMessage::Subscribe { protocol, filter: mut wanted, resume }) => {
                        if protocol != PROTOCOL_VERSION {
                            let message = format!("this server speaks live protocol {PROTOCOL_VERSION}, not {protocol}");
                            let _closing_anyway = send_error(&mut socket, ErrorCode::UnsupportedProtocol, message).await;
                            break;
                        }
                        if let Some(claims) = &claims {
                            if let Err(refusal) = claims.scope.permits(&wanted) {
                                debug!(reason = %refusal, "live subscription refused");
                                // The old subscription (if any) ends too: the client asked for
                                // something else.
                                updates = None;
                                filter = None;
                                if !send_error(&mut socket, ErrorCode::Forbidden, refusal.to_string()).await { break; }
                                continue;
                            }
                            wanted.scoped = claims.scope.is_limited();
                        }
                        match hub.subscribe(wanted.clone(), resume, 0).await {
                            Ok(subscription) => {
                                updates = Some(subscription.updates);
                                filter = Some(wanted);
                                let mut alive = true;
                                for frame in subscription.initial {
                                    alive = send_frame(&mut socket, frame).await;
                                    if !alive { break; }
                                }
                                if !alive { break; }
                            }
                            Err(error) => {
                                if !send_error(&mut socket, error.code(), error.to_string()).await { break; }
                            }
                        }
                    }
                    Err(error) => {
                        bad_messages += 1;
                        if bad_messages == 1 {
                            warn!(%error, "invalid live message from a client");
                        } else {
                            debug!(%error, "invalid live message from a client");
                        }
                        if !send_error(&mut socket, ErrorCode::BadMessage, format!("not a valid message: {error}")).await {
                            break;
                        }
                        if bad_messages > MAX_BAD_MESSAGES { break; }
                    }
                }
            }
            update = next_update(&mut updates) => match update {
                Ok(frame) => {
                    if !send_frame(&mut socket, frame).await { break; }
                }
                Err(RecvError::Lagged(missed)) => {
                    // Too slow: skip what was missed and start again from a fresh snapshot.
                    let Some(current) = filter.clone() else { continue };
                    match hub.subscribe(current, None, missed).await {
                        Ok(subscription) => {
                            updates = Some(subscription.updates);
                            let mut alive = true;
                            for frame in subscription.initial {
                                alive = send_frame(&mut socket, frame).await;
                                if !alive { break; }
                            }
                            if !alive { break; }
                        }
                        Err(_) => break,
                    }
                }
                Err(RecvError::Closed) => updates = None,
            },
            () = &mut expired => {
                let reason = claims.as_ref().map_or_else(String::new, |claims| {
                    format!("the token expired at {} (UTC); ask for a new link", utc(claims.expires_s))
                });
                let _closing_anyway = send_error(&mut socket, ErrorCode::Unauthorized, reason).await;
                let close = CloseFrame { code: 1008, reason: "token expired".into() };
                let _already_gone = socket.send(Message::Close(Some(close))).await;
                break;
            }
            _ = shutting_down.changed() => {
                let close = CloseFrame { code: 1001, reason: "server shutting down".into() };
                let _already_gone = socket.send(Message::Close(Some(close))).await;
                break;
            }
        }
    }
}
