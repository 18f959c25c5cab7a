//! A small client of the live protocol (`docs/LIVE.md`): subscribes to one deployment's response
//! time and prints its newest p99 whenever the server sends an update.
//!
//!   cargo run -p server --example live_p99 -- --deployment chat-llm [--environment production]
//!       [--url ws://127.0.0.1:3000/api/v1/live] [--token TOKEN] [--updates N]
//!
//! The token (or `INFERSCOPE_TOKEN`) is needed only where the server requires one; it is sent as
//! `Authorization: Bearer`. With `--updates N` it exits after N lines (0: run until stopped).
//! Each line: `<UTC time> <environment>/<deployment> p99 <value> ms seq <n>` (or `no data`).
#![allow(clippy::print_stdout)] // a command-line tool that reports on stdout

use std::process::ExitCode;
use std::time::Duration;

use app::wire::{
    ClientMessage, Filter, PROTOCOL_VERSION, PanelId, SeriesId, ServerMessage, TimeRange, View,
};
use clap::Parser;
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error, Message};

#[derive(Debug, Parser)]
#[command(about = "Print a deployment's live p99 response time from an inferscope server")]
struct Args {
    /// The live endpoint.
    #[arg(long, default_value = "ws://127.0.0.1:3000/api/v1/live")]
    url: String,
    /// Environment (absent: every environment).
    #[arg(long)]
    environment: Option<String>,
    /// Deployment.
    #[arg(long)]
    deployment: String,
    /// Bearer token, where the server requires one.
    #[arg(long, env = "INFERSCOPE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Exit after this many printed updates (0: never).
    #[arg(long, default_value_t = 0)]
    updates: u64,
}

/// The newest p99 of the response-time panel, seconds.
fn latest_p99(view: &View) -> Option<f64> {
    view.panel(PanelId::ResponseTime)?
        .series
        .iter()
        .find(|series| series.id == SeriesId::P99)?
        .points
        .iter()
        .rev()
        .find_map(|point| point.1)
}

fn utc_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    server::access::utc(i64::try_from(now).unwrap_or(0))
}

async fn run(args: Args) -> Result<(), String> {
    let mut request = args
        .url
        .as_str()
        .into_client_request()
        .map_err(|error| format!("--url {}: {error}", args.url))?;
    if let Some(token) = &args.token {
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| "the token is not a valid header value".to_owned())?;
        request.headers_mut().insert("authorization", value);
    }
    let (mut socket, _) = tokio::time::timeout(Duration::from_secs(10), connect_async(request))
        .await
        .map_err(|_| format!("{}: no answer within 10 s", args.url))?
        .map_err(|error| match error {
            // A refused upgrade carries the server's reason as JSON: say it.
            Error::Http(response) => {
                let reason = response
                    .body()
                    .as_deref()
                    .and_then(|body| serde_json::from_slice::<serde_json::Value>(body).ok())
                    .and_then(|json| json["error"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                format!("{}: refused ({}): {reason}", args.url, response.status())
            }
            other => format!("{}: {other}", args.url),
        })?;
    let filter = Filter {
        environment: args.environment.clone(),
        deployment: Some(args.deployment.clone()),
        range: TimeRange::Last5m,
        panels: vec![PanelId::ResponseTime],
        ..Filter::default()
    };
    let subscribe = ClientMessage::Subscribe {
        protocol: PROTOCOL_VERSION,
        filter,
        resume: None,
    };
    let text = serde_json::to_string(&subscribe).map_err(|error| error.to_string())?;
    socket
        .send(Message::text(text))
        .await
        .map_err(|error| format!("sending the subscription: {error}"))?;
    let name = format!(
        "{}/{}",
        args.environment.as_deref().unwrap_or("*"),
        args.deployment
    );
    let mut view: Option<View> = None;
    let mut printed = 0u64;
    while let Some(frame) = socket.next().await {
        let frame = frame.map_err(|error| format!("connection lost: {error}"))?;
        let Message::Text(text) = frame else { continue };
        let seq = match serde_json::from_str::<ServerMessage>(&text) {
            Ok(ServerMessage::Snapshot {
                view: fresh, seq, ..
            }) => {
                view = Some(*fresh);
                seq
            }
            Ok(ServerMessage::Delta { delta, seq, .. }) => {
                if let Some(view) = &mut view {
                    view.apply(&delta);
                }
                seq
            }
            Ok(ServerMessage::Error { code, message }) => {
                return Err(format!("the server refused: {code:?}: {message}"));
            }
            Err(error) => return Err(format!("a message that does not parse: {error}")),
        };
        match view.as_ref().and_then(latest_p99) {
            Some(p99) => println!("{} {name} p99 {:.1} ms seq {seq}", utc_now(), p99 * 1000.0),
            None => println!("{} {name} no data seq {seq}", utc_now()),
        }
        printed += 1;
        if args.updates != 0 && printed >= args.updates {
            return Ok(());
        }
    }
    Err("the server closed the connection".into())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("live_p99: {error}");
            ExitCode::FAILURE
        }
    }
}
