//! Helpers shared by the integration tests: start a server, poll until something holds.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use leptos::config::LeptosOptions;
use server::Server;
use server::config::Config;

/// Leptos settings for a server under test (no page assets are needed by these tests).
pub fn leptos_options() -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("inferscope")
        .site_root("target/site")
        .build()
}

/// Starts a server on a free loopback port.
pub async fn start(config: Config) -> Server {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind a loopback port");
    Server::start(config, leptos_options(), listener)
        .await
        .expect("server starts")
}

/// Serves `app` on a free loopback port (an exporter, say); returns its address.
pub async fn serve(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ended = axum::serve(listener, app).await;
    });
    addr
}

/// Polls `check` every 100 ms until it returns `Some`, or panics after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A configuration for tests: fast scrapes and ticks, no demo fleet and no host or GPU readers
/// unless asked.
pub fn fast_config() -> Config {
    Config {
        host: server::config::HostConfig {
            processes: server::config::ReaderMode::Off,
            nvml: server::config::ReaderMode::Off,
            ..server::config::HostConfig::default()
        },
        scrape_interval_ms: 250,
        scrape_timeout_ms: 200,
        sd_refresh_interval_ms: 250,
        live_tick_ms: 200,
        demo: server::config::DemoMode::Off,
        ..Config::default()
    }
}
