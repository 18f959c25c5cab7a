//! The live protocol over a real WebSocket, against a server watching the demo fleet:
//! snapshot then deltas with increasing sequence numbers, deltas that rebuild the stream's
//! state exactly, filters respected, resume after a reconnect, garbage answered with errors.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

mod common;

use std::time::Duration;

use app::wire::{
    ClientMessage, ErrorCode, Filter, PROTOCOL_VERSION, PanelId, Resume, ServerMessage, StreamId,
    TimeRange, View,
};
use futures::{SinkExt, StreamExt};
use server::config::DemoMode;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn open(addr: std::net::SocketAddr) -> Socket {
    let (socket, _) = connect_async(format!("ws://{addr}/api/v1/live"))
        .await
        .expect("WebSocket upgrade");
    socket
}

async fn send(socket: &mut Socket, message: &ClientMessage) {
    let text = serde_json::to_string(message).expect("serialise");
    socket.send(Message::text(text)).await.expect("send");
}

async fn subscribe(socket: &mut Socket, filter: Filter, resume: Option<Resume>) {
    send(
        socket,
        &ClientMessage::Subscribe {
            protocol: PROTOCOL_VERSION,
            filter,
            resume,
        },
    )
    .await;
}

async fn next(socket: &mut Socket) -> ServerMessage {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .expect("a message within 20 s")
            .expect("socket open")
            .expect("valid frame");
        match frame {
            Message::Text(text) => {
                return serde_json::from_str(&text).expect("a ServerMessage");
            }
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

fn chat_production() -> Filter {
    Filter {
        environment: Some("production".into()),
        deployment: Some("chat-llm".into()),
        range: TimeRange::Last5m,
        ..Filter::default()
    }
}

fn snapshot(message: ServerMessage) -> (StreamId, u64, u64, View) {
    match message {
        ServerMessage::Snapshot {
            protocol,
            stream,
            seq,
            skipped,
            view,
        } => {
            assert_eq!(protocol, PROTOCOL_VERSION);
            (stream, seq, skipped, *view)
        }
        other => panic!("expected a snapshot, got {other:?}"),
    }
}

fn has_data(view: &View, id: PanelId) -> bool {
    view.panel(id).is_some_and(|panel| {
        panel
            .series
            .iter()
            .any(|s| s.points.iter().any(|p| p.1.is_some()))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_then_deltas_rebuild_the_stream_and_respect_the_filter() {
    let mut config = common::fast_config();
    config.demo = DemoMode::On;
    let server = common::start(config).await;

    // Subscribe, then follow deltas until the demo fleet's requests show up in the view.
    let mut socket = open(server.addr).await;
    subscribe(&mut socket, chat_production(), None).await;
    let (stream, mut seq, skipped, mut view) = snapshot(next(&mut socket).await);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !has_data(&view, PanelId::InferenceVolume) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no request data within 60 s"
        );
        match next(&mut socket).await {
            ServerMessage::Delta {
                seq: number, delta, ..
            } => {
                assert_eq!(number, seq + 1);
                seq = number;
                view.apply(&delta);
            }
            other => panic!("expected a delta, got {other:?}"),
        }
    }
    assert_eq!(skipped, 0);
    assert_eq!(view.filter, chat_production());
    assert_eq!(view.panels.len(), PanelId::ALL.len());

    // Deltas follow with sequence numbers one apart, and apply cleanly.
    let mut deltas = 0;
    while deltas < 5 {
        match next(&mut socket).await {
            ServerMessage::Delta {
                stream: of,
                seq: number,
                delta,
            } => {
                assert_eq!(of, stream);
                assert_eq!(number, seq + 1, "sequence numbers grow by one");
                seq = number;
                view.apply(&delta);
                deltas += 1;
            }
            other => panic!("expected a delta, got {other:?}"),
        }
    }

    // A second viewer of the same filter shares the stream; its snapshot is the stream's state,
    // which the first viewer's deltas must reproduce exactly.
    let mut second = open(server.addr).await;
    subscribe(&mut second, chat_production(), None).await;
    let (second_stream, second_seq, _, second_view) = snapshot(next(&mut second).await);
    assert_eq!(second_stream, stream);
    while seq < second_seq {
        match next(&mut socket).await {
            ServerMessage::Delta {
                seq: number, delta, ..
            } => {
                assert_eq!(number, seq + 1);
                seq = number;
                view.apply(&delta);
            }
            other => panic!("expected a delta, got {other:?}"),
        }
    }
    assert_eq!(seq, second_seq);
    assert_eq!(
        view, second_view,
        "snapshot + deltas equals a fresh snapshot"
    );

    // Another filter is another stream, with only its own data.
    let embedder = Filter {
        deployment: Some("embedder".into()),
        ..chat_production()
    };
    subscribe(&mut second, embedder.clone(), None).await;
    let (embedder_stream, _, _, embedder_view) = snapshot(next(&mut second).await);
    assert_ne!(embedder_stream, stream);
    assert_eq!(embedder_view.filter, embedder);
    let nowhere = Filter {
        deployment: Some("no-such-deployment".into()),
        ..chat_production()
    };
    subscribe(&mut second, nowhere, None).await;
    let (_, _, _, empty) = snapshot(next(&mut second).await);
    assert!(empty.panels.iter().all(|panel| panel.series.is_empty()));
    assert!(
        empty
            .deployments
            .iter()
            .any(|d| d.deployment == "embedder" && d.environment == "production")
    );

    // Reconnecting with a resume point gets exactly the missed deltas, not a snapshot.
    drop(socket);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut resumed = open(server.addr).await;
    subscribe(
        &mut resumed,
        chat_production(),
        Some(Resume { stream, seq }),
    )
    .await;
    match next(&mut resumed).await {
        ServerMessage::Delta {
            stream: of,
            seq: number,
            ..
        } => {
            assert_eq!(of, stream);
            assert_eq!(
                number,
                seq + 1,
                "resume starts right after the last applied delta"
            );
        }
        other => panic!("expected the first missed delta, got {other:?}"),
    }
    // A resume point the server never issued gets a snapshot instead.
    let mut stranger = open(server.addr).await;
    subscribe(
        &mut stranger,
        chat_production(),
        Some(Resume {
            stream: StreamId(999_999),
            seq: 3,
        }),
    )
    .await;
    let (of, _, _, _) = snapshot(next(&mut stranger).await);
    assert_eq!(of, stream);
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_gets_errors_and_the_connection_survives() {
    let server = common::start(common::fast_config()).await;
    let mut socket = open(server.addr).await;
    socket
        .send(Message::text("this is not json"))
        .await
        .expect("send");
    match next(&mut socket).await {
        ServerMessage::Error { code, message } => {
            assert_eq!(code, ErrorCode::BadMessage);
            assert!(message.contains("not a valid message"), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    socket
        .send(Message::text(
            r#"{"type":"subscribe","protocol":1,"filter":{"range":"2d"}}"#,
        ))
        .await
        .expect("send");
    assert!(matches!(
        next(&mut socket).await,
        ServerMessage::Error {
            code: ErrorCode::BadMessage,
            ..
        }
    ));
    socket
        .send(Message::binary(vec![0u8, 159, 146, 150]))
        .await
        .expect("send");
    assert!(matches!(
        next(&mut socket).await,
        ServerMessage::Error {
            code: ErrorCode::BadMessage,
            ..
        }
    ));
    // Still usable afterwards.
    subscribe(&mut socket, Filter::default(), None).await;
    let (_, _, _, view) = snapshot(next(&mut socket).await);
    assert_eq!(view.filter, Filter::default());

    // A message larger than the limit closes the connection rather than buffering it.
    let huge = "x".repeat(1024 * 1024);
    let _ = socket.send(Message::text(huge)).await;
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert_eq!(closed, Ok(true));

    // Another protocol version is refused and the connection closed.
    let mut other = open(server.addr).await;
    send(
        &mut other,
        &ClientMessage::Subscribe {
            protocol: PROTOCOL_VERSION + 1,
            filter: Filter::default(),
            resume: None,
        },
    )
    .await;
    assert!(matches!(
        next(&mut other).await,
        ServerMessage::Error {
            code: ErrorCode::UnsupportedProtocol,
            ..
        }
    ));
    // The server is still healthy.
    let health = reqwest::get(format!("http://{}/healthz", server.addr))
        .await
        .expect("healthz answers");
    assert!(health.status().is_success());
    server.stop().await.expect("clean stop");
}

/// A filter that does not change the query makes no new stream: viewers whose filters differ
/// only in a lone `from_ms` (read as the live range) share one, so one client varying it
/// cannot use up the server's streams. With room for one stream, three such viewers all get
/// the same stream; a different deployment is refused as over the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_from_ms_shares_the_live_stream_instead_of_making_one() {
    let mut config = common::fast_config();
    config.max_live_streams = 1;
    let server = common::start(config).await;
    let mut streams = Vec::new();
    let mut sockets = Vec::new();
    for from_ms in [1_000, 2_000, 3_000] {
        let mut socket = open(server.addr).await;
        let filter = Filter {
            from_ms: Some(from_ms),
            ..chat_production()
        };
        subscribe(&mut socket, filter, None).await;
        let (stream, _, _, view) = snapshot(next(&mut socket).await);
        assert_eq!(view.filter.from_ms, None, "read as the live range");
        streams.push(stream);
        sockets.push(socket);
    }
    assert!(
        streams.windows(2).all(|pair| pair[0] == pair[1]),
        "{streams:?}"
    );
    let mut other = open(server.addr).await;
    let embedder = Filter {
        deployment: Some("embedder".into()),
        ..chat_production()
    };
    subscribe(&mut other, embedder, None).await;
    match next(&mut other).await {
        ServerMessage::Error { code, message } => {
            assert_eq!(code, ErrorCode::Overloaded);
            assert!(
                message.contains("already serves 1 live streams"),
                "{message}"
            );
        }
        message => panic!("expected a refusal, got {message:?}"),
    }
    server.stop().await.expect("stops");
}
