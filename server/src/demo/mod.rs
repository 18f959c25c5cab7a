//! The built-in demo fleet: real HTTP model replicas behind per-deployment routers that queue,
//! autoscale and pay cold starts, driven by a traffic generator.
//!
//! **The demo fleet is just another exporter.** It talks to the rest of the server only over
//! HTTP: its routers and replicas serve `/metrics`, and a discovery endpoint lists them in
//! Prometheus's `http_sd` format. Nothing in ingest, store or query knows it exists.

pub mod metrics;
pub mod replica;
pub mod router;
pub mod traffic;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::autoscale::AutoscalerSettings;
use replica::{LlmBehaviour, ModelProfile};
use router::{DeploymentSettings, RouterHandle};
use traffic::TrafficProfile;

/// One demo deployment: how it is served and how it is used.
#[derive(Clone, Debug, PartialEq)]
pub struct DemoDeployment {
    /// Serving settings.
    pub serving: DeploymentSettings,
    /// Traffic shape.
    pub traffic: TrafficProfile,
}

const CHAT_MODEL: ModelProfile = ModelProfile {
    max_context_tokens: 4096,
    overhead: Duration::from_millis(15),
    prefill_per_token: Duration::from_micros(250),
    decode_per_token: Duration::from_millis(9),
    bytes_per_token: 4,
    first_chunk_bytes: 64,
    failure_rate: 0.004,
    contention_per_request: 0.06,
    cpu_per_token: Duration::from_micros(25),
    host_weights_bytes: 6 * 1024 * 1024,
    host_bytes_per_token: 1024,
    cpu_limit_cores: 0.2,
    memory_limit_bytes: 128 * 1024 * 1024,
    gpu_weights_bytes: 15 * 1024 * 1024 * 1024,
    gpu_kv_bytes_per_token: 2 * 1024 * 1024,
    // Eight requests of a median length fill about half of it; long ones together, all of it
    // (then a request is preempted: recomputed).
    kv_capacity_tokens: 8192,
    gpu_full_batch: 12.0,
    llm: LlmBehaviour {
        prefix_cache_share: 0.45,
        spec_tokens: 3,
        spec_acceptance: 0.7,
        stop_rate: 0.6,
    },
};

/// The chat deployment's models: a base model and a LoRA adapter on it.
pub const CHAT_MODELS: [&str; 2] = ["llama-3.1-8b-instruct", "support-agent-lora"];

/// The embedder's model.
pub const EMBEDDING_MODELS: [&str; 1] = ["bge-large-en-v1.5"];

const EMBEDDING_MODEL: ModelProfile = ModelProfile {
    max_context_tokens: 8192,
    overhead: Duration::from_millis(4),
    prefill_per_token: Duration::from_micros(40),
    decode_per_token: Duration::ZERO,
    bytes_per_token: 0,
    first_chunk_bytes: 3072,
    failure_rate: 0.002,
    contention_per_request: 0.03,
    cpu_per_token: Duration::from_micros(4),
    host_weights_bytes: 2 * 1024 * 1024,
    host_bytes_per_token: 256,
    cpu_limit_cores: 0.05,
    memory_limit_bytes: 64 * 1024 * 1024,
    gpu_weights_bytes: 1300 * 1024 * 1024,
    gpu_kv_bytes_per_token: 0,
    kv_capacity_tokens: 0,
    gpu_full_batch: 16.0,
    llm: LlmBehaviour::NONE,
};

fn chat_traffic(base_rate: f64, async_fraction: f64) -> TrafficProfile {
    TrafficProfile {
        base_rate,
        drift: 0.35,
        drift_period: Duration::from_secs(300),
        burst_factor: 2.5,
        burst_length: Duration::from_secs(45),
        burst_every: Duration::from_secs(240),
        prompt_tokens: 350.0,
        output_tokens: 120.0,
        malformed_rate: 0.015,
        oversized_rate: 0.005,
        async_fraction,
        adapter_share: 0.3,
        unknown_model_rate: 0.003,
        scenario: None,
    }
}

/// The default fleet: `chat-llm` in production and staging, `embedder` in production.
pub fn default_deployments() -> Vec<DemoDeployment> {
    let autoscaler = |min_replicas, max_replicas, concurrency_target| AutoscalerSettings {
        min_replicas,
        max_replicas,
        concurrency_target,
        target_utilization: 0.75,
        window: Duration::from_secs(30),
        scale_down_delay: Duration::from_secs(60),
        max_scale_down_rate: 0.5,
    };
    let serving = |environment: &str,
                   deployment: &str,
                   (profile, models): (ModelProfile, &[&str]),
                   concurrency,
                   scaler,
                   seed| {
        DeploymentSettings {
            environment: environment.into(),
            deployment: deployment.into(),
            profile,
            models: models.iter().map(|model| (*model).to_owned()).collect(),
            concurrency_per_replica: concurrency,
            queue_limit: 400,
            queue_timeout: Duration::from_secs(30),
            autoscaler: scaler,
            cold_start_min: Duration::from_secs(8),
            cold_start_max: Duration::from_secs(20),
            seed,
            async_workers: 4,
            async_queue_limit: 200,
        }
    };
    vec![
        DemoDeployment {
            serving: serving(
                "production",
                "chat-llm",
                (CHAT_MODEL, &CHAT_MODELS),
                8,
                autoscaler(2, 8, 8.0),
                1,
            ),
            traffic: chat_traffic(7.0, 0.15),
        },
        DemoDeployment {
            serving: serving(
                "staging",
                "chat-llm",
                (CHAT_MODEL, &CHAT_MODELS[..1]),
                8,
                autoscaler(1, 3, 8.0),
                2,
            ),
            traffic: chat_traffic(1.5, 0.1),
        },
        DemoDeployment {
            serving: serving(
                "production",
                "embedder",
                (EMBEDDING_MODEL, &EMBEDDING_MODELS),
                16,
                autoscaler(1, 4, 16.0),
                3,
            ),
            traffic: TrafficProfile {
                base_rate: 25.0,
                drift: 0.4,
                drift_period: Duration::from_secs(420),
                burst_factor: 3.0,
                burst_length: Duration::from_secs(30),
                burst_every: Duration::from_secs(180),
                prompt_tokens: 180.0,
                output_tokens: 0.0,
                malformed_rate: 0.01,
                oversized_rate: 0.003,
                async_fraction: 0.05,
                adapter_share: 0.0,
                unknown_model_rate: 0.002,
                scenario: None,
            },
        },
    ]
}

/// A running demo fleet.
#[derive(Debug)]
pub struct DemoFleet {
    /// The discovery endpoint listing every router and replica (`http_sd` JSON).
    pub discovery_url: String,
    /// Each deployment's router address (`POST /v1/predict` there to send a request).
    pub routers: Vec<(String, String, SocketAddr)>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for DemoFleet {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Options for starting a fleet.
#[derive(Clone, Debug, PartialEq)]
pub struct DemoOptions {
    /// The deployments to run.
    pub deployments: Vec<DemoDeployment>,
    /// Whether to start the traffic generator (tests drive their own requests when off).
    pub traffic: bool,
    /// Cold start of the first replicas.
    pub initial_cold_start: Duration,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            deployments: default_deployments(),
            traffic: true,
            initial_cold_start: Duration::from_secs(2),
        }
    }
}

/// Starts the fleet on loopback.
pub async fn start(options: DemoOptions) -> std::io::Result<DemoFleet> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .map_err(std::io::Error::other)?;
    let mut routers: Vec<RouterHandle> = Vec::new();
    let mut tasks = Vec::new();
    for deployment in &options.deployments {
        let handle = router::start(
            deployment.serving.clone(),
            client.clone(),
            options.initial_cold_start,
        )
        .await?;
        if options.traffic {
            let url = format!("http://{}", handle.addr);
            tasks.push(tokio::spawn(traffic::run(
                url,
                deployment.traffic,
                deployment.serving.models.clone(),
                client.clone(),
                deployment.serving.seed.wrapping_add(99),
            )));
        }
        routers.push(handle);
    }
    let router_addrs = routers
        .iter()
        .map(|r| {
            (
                r.settings.environment.clone(),
                r.settings.deployment.clone(),
                r.addr,
            )
        })
        .collect();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/targets", get(targets))
        .with_state(Arc::new(routers));
    tasks.push(tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            warn!(%error, "demo discovery server ended");
        }
    }));
    let discovery_url = format!("http://{addr}/targets");
    info!(%discovery_url, deployments = options.deployments.len(), "demo fleet running");
    Ok(DemoFleet {
        discovery_url,
        routers: router_addrs,
        tasks,
    })
}

/// `GET /targets`: every router (replica label empty: a deployment-level exporter) and replica.
async fn targets(State(routers): State<Arc<Vec<RouterHandle>>>) -> impl IntoResponse {
    let mut groups = Vec::new();
    for router in routers.iter() {
        let environment = &router.settings.environment;
        let deployment = &router.settings.deployment;
        groups.push(json!({
            "targets": [router.addr.to_string()],
            "labels": {"environment": environment, "deployment": deployment, "replica": ""},
        }));
        for replica in router.replicas.borrow().iter() {
            groups.push(json!({
                "targets": [replica.addr.to_string()],
                "labels": {
                    "environment": environment,
                    "deployment": deployment,
                    "replica": replica.name,
                },
            }));
        }
    }
    axum::Json(groups)
}

/// A model that takes a fixed time per request, slowed by contention: the scenario presets'.
fn scenario_model(service: Duration, contention: f64) -> ModelProfile {
    ModelProfile {
        max_context_tokens: 4096,
        overhead: service,
        prefill_per_token: Duration::ZERO,
        decode_per_token: Duration::ZERO,
        bytes_per_token: 0,
        first_chunk_bytes: 512,
        failure_rate: 0.002,
        contention_per_request: contention,
        cpu_per_token: Duration::from_micros(10),
        host_weights_bytes: 4 * 1024 * 1024,
        host_bytes_per_token: 256,
        cpu_limit_cores: 0.05,
        memory_limit_bytes: 64 * 1024 * 1024,
        gpu_weights_bytes: 8 * 1024 * 1024 * 1024,
        gpu_kv_bytes_per_token: 128 * 1024,
        kv_capacity_tokens: 64_000,
        gpu_full_batch: 8.0,
        llm: LlmBehaviour::NONE,
    }
}

/// Environment of a scenario's deployment.
pub const SCENARIO_ENVIRONMENT: &str = "demo";

/// A scenario preset (`insight::sim::PRESETS`) as one demo deployment, in environment `demo`
/// and named after the preset, `speed` times faster than real time: the autoscaler's window and
/// delay, the cold start and the traffic's pattern shrink by `speed`; a request still takes the
/// preset's service time (so the load in flight is the preset's).
pub fn scenario_deployment(scenario: &crate::insight::sim::Scenario, speed: f64) -> DemoDeployment {
    let speed = speed.max(1.0);
    let cold_start = scenario.cold_start.div_f64(speed);
    let (async_in, async_out) = scenario.async_in_out;
    // Each async worker drains one request per service time.
    let async_workers = ((async_out * scenario.service_seconds).round() as usize).max(1);
    DemoDeployment {
        serving: DeploymentSettings {
            environment: SCENARIO_ENVIRONMENT.into(),
            deployment: scenario.name.into(),
            profile: scenario_model(
                Duration::from_secs_f64(scenario.service_seconds),
                scenario.contention,
            ),
            models: Vec::new(),
            concurrency_per_replica: scenario.max_concurrency as usize,
            queue_limit: 2000,
            queue_timeout: Duration::from_secs(60),
            autoscaler: scenario.settings.accelerated(speed),
            cold_start_min: cold_start,
            cold_start_max: cold_start,
            seed: 17,
            async_workers,
            async_queue_limit: if async_in > 0.0 { 5000 } else { 200 },
        },
        traffic: TrafficProfile {
            base_rate: 1.0,
            drift: 0.0,
            drift_period: Duration::from_secs(600),
            burst_factor: 1.0,
            burst_length: Duration::from_secs(1),
            burst_every: Duration::from_secs(3600),
            prompt_tokens: 100.0,
            output_tokens: 0.0,
            malformed_rate: 0.0,
            oversized_rate: 0.0,
            async_fraction: 0.0,
            adapter_share: 0.0,
            unknown_model_rate: 0.0,
            scenario: Some(traffic::ScenarioTraffic {
                name: scenario.name,
                speed,
            }),
        },
    }
}

/// The fleet for a configuration: the default fleet, or one scenario's deployment.
pub fn options_for(scenario: &str, speed: f64) -> DemoOptions {
    match crate::insight::sim::preset(scenario) {
        Some(preset) => DemoOptions {
            deployments: vec![scenario_deployment(&preset, speed)],
            ..DemoOptions::default()
        },
        None => DemoOptions::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_runs_faster_with_its_preset_shape() {
        let thrash = crate::insight::sim::preset("thrash-prone").expect("preset");
        let deployment = scenario_deployment(&thrash, 10.0);
        let serving = &deployment.serving;
        assert_eq!(serving.environment, SCENARIO_ENVIRONMENT);
        assert_eq!(serving.deployment, "thrash-prone");
        assert_eq!(serving.autoscaler.window, Duration::from_secs(1));
        assert_eq!(serving.autoscaler.scale_down_delay, Duration::from_secs(3));
        assert_eq!(serving.cold_start_min, Duration::from_secs(3));
        assert_eq!(serving.profile.overhead, Duration::from_millis(500));
        assert_eq!(
            deployment.traffic.scenario,
            Some(traffic::ScenarioTraffic {
                name: "thrash-prone",
                speed: 10.0
            })
        );
        // The async backlog's workers drain less than arrives (two workers, 0.5 s each: 4/s).
        let backlog = crate::insight::sim::preset("async-backlog").expect("preset");
        assert_eq!(scenario_deployment(&backlog, 1.0).serving.async_workers, 2);
        // No scenario: the default fleet.
        assert_eq!(options_for("", 1.0).deployments.len(), 3);
        assert_eq!(options_for("bursty", 5.0).deployments.len(), 1);
    }
}
