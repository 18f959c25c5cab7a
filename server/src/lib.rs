//! inferscope's server: scrape exporters, keep bounded series, answer queries, stream live
//! views, and serve the page. See ARCHITECTURE.md for the map.

pub mod access;
pub mod autoscale;
pub mod config;
pub mod demo;
pub mod hashing;
pub mod ingest;
pub mod insight;
pub mod live;
pub mod model;
pub mod query;
pub mod scrape;
pub mod store;
pub mod web;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use leptos::config::LeptosOptions;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use config::Config;
use demo::DemoFleet;
use ingest::adapter::Engine;
use live::HubSettings;
use model::{Origin, TargetLabels};
use query::QuerySettings;
use scrape::manager::ScrapeManager;
use scrape::{ScrapeSettings, Target};
use store::StoreLimits;

/// Why the server could not start.
#[derive(Debug, Error)]
pub enum StartError {
    /// The HTTP client for scraping could not be built.
    #[error("cannot build the scrape HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// The demo fleet could not start.
    #[error("cannot start the demo fleet: {0}")]
    Demo(std::io::Error),
    /// The listener has no local address.
    #[error("cannot read the listening address: {0}")]
    Listener(std::io::Error),
    /// The access settings do not fit where the server listens.
    #[error(transparent)]
    Access(#[from] config::ConfigError),
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The demo fleet, when it runs.
    pub demo: Option<DemoFleet>,
    /// The store (for tools and tests that read it directly).
    pub store: store::StoreHandle,
    shutting_down: watch::Sender<bool>,
    serve: JoinHandle<std::io::Result<()>>,
    background: Vec<JoinHandle<()>>,
}

/// Scrape loops reading this host for configured targets on it: the replica's process (tree)
/// and, when NVML loaded, its GPUs. Each is a target of its own (`host:<url>`, `nvml:<url>`)
/// with the replica's labels, so its health shows on the targets page.
fn host_readers(
    config: &Config,
    gpu_reader: Option<scrape::nvml::GpuReader>,
    settings: ScrapeSettings,
    store: &store::StoreHandle,
) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    for target in &config.targets {
        let labels =
            TargetLabels::exporter(&target.environment, &target.deployment, &target.replica);
        let pid = scrape::host::PidSource::for_target(&target.url, target.pid);
        if config.host.processes == config::ReaderMode::Auto
            && let Some(source) = pid.clone()
        {
            let companion = Target {
                url: format!("host:{}", target.url),
                labels: labels.with_origin(Origin::Host),
                engine: Some(Engine::Inferscope),
            };
            tasks.push(tokio::spawn(scrape::run_loop(
                companion,
                scrape::host::HostScraper::new(source, settings),
                settings,
                store.clone(),
            )));
        }
        if let Some(reader) = &gpu_reader
            && (pid.is_some() || !target.gpus.is_empty())
        {
            let companion = Target {
                url: format!("nvml:{}", target.url),
                labels: labels.with_origin(Origin::Nvml),
                engine: Some(Engine::Inferscope),
            };
            let attribution = scrape::nvml::Attribution {
                gpus: target.gpus.clone(),
                pid,
            };
            tasks.push(tokio::spawn(scrape::run_loop(
                companion,
                scrape::nvml::NvmlScraper::new(reader.clone(), attribution, settings),
                settings,
                store.clone(),
            )));
        }
    }
    tasks
}

/// How long a shutdown waits for open requests before it cuts them off.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

impl Server {
    /// Starts every part: store, hub, scraping (config targets, discovery, demo fleet), web.
    pub async fn start(
        config: Config,
        leptos_options: LeptosOptions,
        listener: TcpListener,
    ) -> Result<Server, StartError> {
        let addr = listener.local_addr().map_err(StartError::Listener)?;
        let access = Arc::new(config.access.policy(addr)?);
        if access.required {
            info!("tokens required for pages and the API (access.mode)");
        }
        let interval_ms = config.scrape_interval_ms as i64;
        let retention_ms = config.retention_ms as i64;
        let (store, store_task) = store::spawn(StoreLimits {
            retention_ms,
            // Twice the expected count, for jitter and reconnects.
            max_points_per_series: (2 * retention_ms / interval_ms.max(1) + 16) as usize,
            max_series: config.max_series as usize,
        });
        // NVML once, at start: a host without the driver logs one line and its GPU panels say
        // so; nothing retries.
        let gpu_reader = match config.host.nvml {
            config::ReaderMode::Off => None,
            config::ReaderMode::Auto => {
                let library = config.host.nvml_library.clone();
                match tokio::task::spawn_blocking(move || scrape::nvml::GpuReader::open(&library))
                    .await
                {
                    Ok(Ok(reader)) => {
                        info!("NVML loaded: GPUs of this host are read directly");
                        Some(reader)
                    }
                    Ok(Err(reason)) => {
                        info!("{reason}");
                        None
                    }
                    Err(error) => {
                        warn!(%error, "loading NVML failed");
                        None
                    }
                }
            }
        };
        let query = QuerySettings {
            scrape_interval_ms: interval_ms,
            raw_retention_ms: retention_ms,
            no_gpu_driver: config.host.nvml == config::ReaderMode::Auto && gpu_reader.is_none(),
        };
        let autoscaling = Arc::new(config.settings_table());
        let (hub, hub_task) = live::spawn(
            HubSettings {
                tick: Duration::from_millis(config.live_tick_ms),
                max_streams: config.max_live_streams as usize,
                linger: Duration::from_secs(60),
                resume_depth: 64,
                viewer_buffer: 16,
                query,
                autoscaling: autoscaling.clone(),
            },
            store.clone(),
        );
        let scrape_settings = ScrapeSettings {
            interval: config.scrape_interval(),
            timeout: config.scrape_timeout(),
            body_limit_bytes: config.body_limit_bytes as usize,
            sample_limit: config.sample_limit as usize,
            label_limit: config.label_limit as usize,
            label_value_length_limit: config.label_value_length_limit as usize,
        };
        let client = scrape::http::client(&scrape_settings)?;
        let demo = if config.runs_demo() {
            Some(
                demo::start(demo::options_for(&config.demo_scenario, config.demo_speed))
                    .await
                    .map_err(StartError::Demo)?,
            )
        } else {
            None
        };
        let static_targets: Vec<Target> = config
            .targets
            .iter()
            .map(|target| Target {
                url: target.url.clone(),
                labels: TargetLabels::exporter(
                    &target.environment,
                    &target.deployment,
                    &target.replica,
                ),
                engine: target.engine.as_deref().and_then(Engine::from_name),
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut discovery_urls: Vec<String> =
            config.http_sd.iter().map(|sd| sd.url.clone()).collect();
        if let Some(demo) = &demo {
            discovery_urls.push(demo.discovery_url.clone());
        }
        let mut background = host_readers(&config, gpu_reader, scrape_settings, &store);
        let manager = ScrapeManager::new(scrape_settings, client.clone(), store.clone());
        let discovery_task = tokio::spawn(scrape::discovery::run(
            static_targets,
            discovery_urls,
            Duration::from_millis(config.sd_refresh_interval_ms),
            client,
            manager,
        ));
        let (shutting_down, shutdown_signal) = watch::channel(false);
        let app = web::app(web::AppState {
            leptos_options,
            store: store.clone(),
            hub,
            query,
            autoscaling,
            shutting_down: shutdown_signal.clone(),
            frame_ancestors: axum::http::HeaderValue::from_str(&access.content_security_policy())
                .unwrap_or_else(|_| axum::http::HeaderValue::from_static("frame-ancestors 'self'")),
            access,
        });
        let mut stop = shutdown_signal;
        let serve = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _sender_dropped_also_means_stop = stop.wait_for(|stopping| *stopping).await;
                })
                .await
        });
        info!(%addr, demo = demo.is_some(), "inferscope serving");
        Ok(Server {
            addr,
            demo,
            store,
            shutting_down,
            serve,
            background: {
                background.extend([discovery_task, hub_task, store_task]);
                background
            },
        })
    }

    /// Stops accepting connections, closes live streams, waits up to [`SHUTDOWN_GRACE`] for
    /// open requests, then stops scraping and the demo fleet.
    pub async fn stop(self) -> std::io::Result<()> {
        let Server {
            shutting_down,
            mut serve,
            background,
            demo,
            ..
        } = self;
        let _no_receivers_left = shutting_down.send(true);
        let result = match tokio::time::timeout(SHUTDOWN_GRACE, &mut serve).await {
            Ok(Ok(result)) => result,
            Ok(Err(join_error)) => Err(std::io::Error::other(join_error)),
            Err(_) => {
                warn!("open connections did not finish within the grace period; closing them");
                serve.abort();
                Ok(())
            }
        };
        for task in background {
            task.abort();
        }
        drop(demo);
        info!("inferscope stopped");
        result
    }
}
