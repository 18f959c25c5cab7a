//! The one configuration of the server: a TOML file, then environment variables, then
//! command-line flags, each overriding the one before. `inferscope.example.toml` documents every
//! field with its default; a test keeps the two in step.
//!
//! The listening address is not here: like every cargo-leptos app, the server listens where
//! `LEPTOS_SITE_ADDR` says (default `127.0.0.1:3000`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, ValueEnum};
use serde::Deserialize;
use thiserror::Error;

use crate::ingest::adapter::Engine;

/// Whether the built-in demo fleet runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DemoMode {
    /// Run it when no target and no discovery endpoint is configured.
    #[default]
    Auto,
    /// Always run it (beside any configured targets).
    On,
    /// Never run it.
    Off,
}

/// A target to scrape.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// The exporter's URL, e.g. `http://10.0.0.5:8000/metrics`.
    pub url: String,
    /// Environment label, e.g. `production`.
    pub environment: String,
    /// Deployment label, e.g. `chat-llm`.
    pub deployment: String,
    /// Replica label; leave empty for a deployment-level exporter (a router, a platform export).
    #[serde(default)]
    pub replica: String,
    /// The engine whose adapter table applies (`vllm`, `fastapi`, `sglang`, `tgi`, `triton`,
    /// `torchserve`, `bentoml`, `ray-serve`, `nim`, `dcgm`, `node`, `baseten`, `inferscope`),
    /// besides the families any exporter may have (`process_*`, inferscope's names, the FastAPI
    /// instrumentator's). Absent: detected from the page. Two targets may not share an
    /// environment, deployment and replica.
    #[serde(default)]
    pub engine: Option<String>,
    /// The replica's process on this host, for CPU, memory and GPU readings. Absent: found by
    /// the port of a loopback URL.
    #[serde(default)]
    pub pid: Option<u32>,
    /// GPUs of this replica (indices like `"0"` or UUIDs like `"GPU-…"`), besides those NVML
    /// shows its process tree running on.
    #[serde(default)]
    pub gpus: Vec<String>,
}

/// One deployment's autoscaler settings (`[[autoscaling]]`), for the diagnosis and the what-if
/// replay. Each setting given replaces what the deployment's exporter publishes
/// (`inferscope_autoscaler_setting`), which replaces the documented default.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoscalingConfig {
    /// Only in this environment. Absent: the deployment in every environment.
    #[serde(default)]
    pub environment: Option<String>,
    /// The deployment.
    pub deployment: String,
    /// Fewest replicas.
    #[serde(default)]
    pub min_replicas: Option<u32>,
    /// Most replicas.
    #[serde(default)]
    pub max_replicas: Option<u32>,
    /// Requests one replica should handle at once.
    #[serde(default)]
    pub concurrency_target: Option<f64>,
    /// Fraction of the concurrency target to aim for (0–1].
    #[serde(default)]
    pub target_utilization: Option<f64>,
    /// Autoscaling window, seconds.
    #[serde(default)]
    pub window_s: Option<f64>,
    /// Scale-down delay, seconds.
    #[serde(default)]
    pub scale_down_delay_s: Option<f64>,
    /// Largest fraction of replicas removed per step (0–1].
    #[serde(default)]
    pub max_scale_down_rate: Option<f64>,
}

impl AutoscalingConfig {
    /// The settings given, checked one by one (the error names the setting).
    pub fn overrides(&self) -> Result<crate::autoscale::Overrides, (String, f64, String)> {
        let mut overrides = crate::autoscale::Overrides::default();
        let fields = [
            (
                "min_replicas",
                "min_replicas",
                self.min_replicas.map(f64::from),
            ),
            (
                "max_replicas",
                "max_replicas",
                self.max_replicas.map(f64::from),
            ),
            (
                "concurrency_target",
                "concurrency_target",
                self.concurrency_target,
            ),
            (
                "target_utilization",
                "target_utilization",
                self.target_utilization,
            ),
            ("window_s", "window_seconds", self.window_s),
            (
                "scale_down_delay_s",
                "scale_down_delay_seconds",
                self.scale_down_delay_s,
            ),
            (
                "max_scale_down_rate",
                "max_scale_down_rate",
                self.max_scale_down_rate,
            ),
        ];
        for (field, name, value) in fields {
            if let Some(value) = value {
                overrides
                    .set(name, value)
                    .map_err(|reason| (field.to_owned(), value, reason))?;
            }
        }
        Ok(overrides)
    }
}

/// Whether a host reader runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ReaderMode {
    /// Where it can: for replicas on this host; NVML when the driver loads.
    #[default]
    Auto,
    /// Never.
    Off,
}

/// Readings of this host (`[host]`): processes from `/proc` or cgroup v2, GPUs through NVML.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostConfig {
    /// CPU and memory of replicas on this host (a `pid`, or a loopback URL): `auto` or `off`.
    pub processes: ReaderMode,
    /// GPUs through NVML: `auto` (when the driver loads) or `off`.
    pub nvml: ReaderMode,
    /// The NVML library: a path, or a name the dynamic loader finds.
    pub nvml_library: String,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            processes: ReaderMode::Auto,
            nvml: ReaderMode::Auto,
            nvml_library: crate::scrape::nvml::DEFAULT_LIBRARY.to_owned(),
        }
    }
}

/// A Prometheus `http_sd` discovery endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSdConfig {
    /// URL answering `GET` with `http_sd` JSON; its groups must carry `environment` and
    /// `deployment` labels (`replica` defaults to the target's `host:port`).
    pub url: String,
}

/// Whether pages and the API require a token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AccessMode {
    /// Required when a secret is configured, or when the server listens beyond loopback.
    #[default]
    Auto,
    /// Always required.
    On,
    /// Never required (tokens presented are then not checked).
    Off,
}

/// Who may read the dashboard and the API, and who may frame the page (`[access]`).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessConfig {
    /// `auto`, `on` or `off`.
    pub mode: AccessMode,
    /// The secret tokens and links are signed with, at least 32 bytes. Prefer the environment
    /// variable `INFERSCOPE_ACCESS_SECRET` to writing it into a file.
    pub secret: String,
    /// Origins (`https://console.example.com`) that may frame the page and open live
    /// connections, besides the server's own.
    pub frame_ancestors: Vec<String>,
    /// Names this server is known by (`dash.example.com`, `*.example.com`), besides IP
    /// addresses, `localhost` and this machine's hostname. A request whose `Host` is none of
    /// them is refused (DNS rebinding); `["*"]` accepts any name.
    pub hosts: Vec<String>,
    /// Longest lifetime of a minted link, seconds.
    pub max_link_ttl_s: u64,
}

impl std::fmt::Debug for AccessConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessConfig")
            .field("mode", &self.mode)
            .field(
                "secret",
                &if self.secret.is_empty() {
                    "<none>"
                } else {
                    "<set>"
                },
            )
            .field("frame_ancestors", &self.frame_ancestors)
            .field("hosts", &self.hosts)
            .field("max_link_ttl_s", &self.max_link_ttl_s)
            .finish()
    }
}

impl Default for AccessConfig {
    fn default() -> Self {
        AccessConfig {
            mode: AccessMode::Auto,
            secret: String::new(),
            frame_ancestors: Vec::new(),
            hosts: Vec::new(),
            max_link_ttl_s: 30 * 86_400,
        }
    }
}

impl AccessConfig {
    /// The policy for a server listening on `addr`.
    pub fn policy(&self, addr: std::net::SocketAddr) -> Result<crate::access::Policy, ConfigError> {
        // A secret means tokens are meant to be used: on loopback too (a reverse proxy in
        // front of a loopback listener makes every visitor look local).
        let required = match self.mode {
            AccessMode::On => true,
            AccessMode::Off => false,
            AccessMode::Auto => !self.secret.is_empty() || !addr.ip().is_loopback(),
        };
        let signer = if self.secret.is_empty() {
            None
        } else {
            Some(crate::access::Signer::new(&self.secret).map_err(|error| {
                ConfigError::Invalid {
                    field: "access.secret".into(),
                    value: "<hidden>".into(),
                    reason: error.to_string(),
                }
            })?)
        };
        if required && signer.is_none() {
            return Err(ConfigError::Invalid {
                field: "access.secret".into(),
                value: "<none>".into(),
                reason: format!(
                    "access is on ({}) but no secret is set: set INFERSCOPE_ACCESS_SECRET (32 bytes or more), or access.mode = \"off\" to serve without tokens",
                    if self.mode == AccessMode::On {
                        "access.mode = \"on\"".to_owned()
                    } else {
                        format!("the server listens on {addr}, not on loopback")
                    }
                ),
            });
        }
        let frame_ancestors = self
            .frame_ancestors
            .iter()
            .filter_map(|origin| crate::access::normalise_origin(origin))
            .collect();
        let hosts = crate::access::KnownHosts::new(&self.hosts, crate::access::machine_hostname())
            .map_err(|(index, reason)| ConfigError::Invalid {
                field: format!("access.hosts[{index}]"),
                value: format!("{:?}", self.hosts[index]),
                reason,
            })?;
        Ok(crate::access::Policy {
            required,
            signer,
            frame_ancestors,
            hosts,
            max_ttl_s: i64::try_from(self.max_link_ttl_s).unwrap_or(i64::MAX),
        })
    }
}

/// The server's configuration. Every field has a default; see `inferscope.example.toml`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Time between two scrapes of a target, milliseconds.
    pub scrape_interval_ms: u64,
    /// Longest a scrape may take, milliseconds; must be below `scrape_interval_ms`.
    pub scrape_timeout_ms: u64,
    /// Largest `/metrics` response accepted, bytes; a larger one fails the scrape.
    pub body_limit_bytes: u64,
    /// Most samples accepted on one page; a page with more fails the scrape.
    pub sample_limit: u64,
    /// Most labels on one sample; a page with more fails the scrape.
    pub label_limit: u64,
    /// Longest label value accepted, bytes; a page with a longer one fails the scrape.
    pub label_value_length_limit: u64,
    /// How long points are kept, milliseconds (at least the longest range the page offers, 1 h).
    pub retention_ms: u64,
    /// Most series kept; new series past this are dropped (and counted, and logged).
    pub max_series: u64,
    /// How often `http_sd` endpoints are read again, milliseconds.
    pub sd_refresh_interval_ms: u64,
    /// How often live views are recomputed and pushed to viewers, milliseconds.
    pub live_tick_ms: u64,
    /// Most distinct live views (filters) served at once.
    pub max_live_streams: u64,
    /// Threads running scrapes, the store and the web server; 0 means one per CPU core.
    pub worker_threads: u64,
    /// Whether the demo fleet runs: `auto`, `on` or `off`.
    pub demo: DemoMode,
    /// Exporters to scrape.
    pub targets: Vec<TargetConfig>,
    /// Discovery endpoints listing more exporters.
    pub http_sd: Vec<HttpSdConfig>,
    /// Tokens, signed links and framing (`[access]`).
    pub access: AccessConfig,
    /// Readings of this host (`[host]`).
    pub host: HostConfig,
    /// The demo fleet's scenario: empty for the default fleet, or a preset (`steady`,
    /// `thrash-prone`, `under-capacity`, `cold-start-heavy`, `bursty`, `async-backlog`,
    /// `high-concurrency-target`) run as one deployment named after it.
    pub demo_scenario: String,
    /// How much faster than real time a scenario runs (1–60): its autoscaler's window and delay,
    /// its cold starts and its traffic's pattern all shrink by this factor.
    pub demo_speed: f64,
    /// Autoscaler settings per deployment (`[[autoscaling]]`).
    pub autoscaling: Vec<AutoscalingConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            scrape_interval_ms: 2_000,
            scrape_timeout_ms: 1_500,
            body_limit_bytes: 16 * 1024 * 1024,
            sample_limit: 100_000,
            label_limit: 64,
            label_value_length_limit: 4096,
            retention_ms: 65 * 60 * 1000,
            max_series: 200_000,
            sd_refresh_interval_ms: 2_000,
            live_tick_ms: 1_000,
            max_live_streams: 256,
            worker_threads: 0,
            demo: DemoMode::Auto,
            targets: Vec::new(),
            http_sd: Vec::new(),
            access: AccessConfig::default(),
            host: HostConfig::default(),
            demo_scenario: String::new(),
            demo_speed: 1.0,
            autoscaling: Vec::new(),
        }
    }
}

/// A configuration that cannot be used, with what to change.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped fields.
    #[error("config file {path} is invalid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's explanation, with line and column.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid config value {field} = {value}: {reason}")]
    Invalid {
        /// The field, as written in the file.
        field: String,
        /// The value given.
        value: String,
        /// What is allowed.
        reason: String,
    },
}

/// Command line (each flag also readable from the environment variable named beside it).
#[derive(Clone, Debug, Default, Parser)]
#[command(
    name = "inferscope",
    version,
    about = "Live metrics for model deployments. With no configuration it runs on a built-in demo fleet."
)]
pub struct Cli {
    /// TOML config file (see inferscope.example.toml).
    #[arg(long, env = "INFERSCOPE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Override `scrape_interval_ms`.
    #[arg(long, env = "INFERSCOPE_SCRAPE_INTERVAL_MS")]
    pub scrape_interval_ms: Option<u64>,
    /// Override `scrape_timeout_ms`.
    #[arg(long, env = "INFERSCOPE_SCRAPE_TIMEOUT_MS")]
    pub scrape_timeout_ms: Option<u64>,
    /// Override `demo`.
    #[arg(long, env = "INFERSCOPE_DEMO")]
    pub demo: Option<DemoMode>,
    /// Override `demo_scenario` (and run the demo fleet on it).
    #[arg(long, env = "INFERSCOPE_DEMO_SCENARIO")]
    pub demo_scenario: Option<String>,
    /// Override `demo_speed`.
    #[arg(long, env = "INFERSCOPE_DEMO_SPEED")]
    pub demo_speed: Option<f64>,
    /// Override `worker_threads`.
    #[arg(long, env = "INFERSCOPE_WORKER_THREADS")]
    pub worker_threads: Option<u64>,
    /// Override `access.mode`.
    #[arg(long, env = "INFERSCOPE_ACCESS_MODE")]
    pub access_mode: Option<AccessMode>,
    /// Override `access.secret` (an environment variable keeps it out of `ps` and shell history).
    #[arg(long, env = "INFERSCOPE_ACCESS_SECRET", hide_env_values = true)]
    pub access_secret: Option<String>,
    /// What to do; absent: serve the dashboard.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum Command {
    /// Serve the dashboard (what happens without a subcommand).
    Serve,
    /// Mint a signed, read-only link (and the bearer token inside it) with the configured secret.
    Link(LinkArgs),
    /// Serve one replica of the demo fleet (the fleet starts these itself).
    #[command(hide = true)]
    DemoReplica(DemoReplicaArgs),
}

/// `inferscope demo-replica`: what the demo fleet passes to a replica process.
#[derive(Clone, Debug, clap::Args)]
pub struct DemoReplicaArgs {
    /// The replica's name.
    #[arg(long)]
    pub name: String,
    /// Seed of its random choices.
    #[arg(long)]
    pub seed: u64,
    /// Cold start, milliseconds.
    #[arg(long)]
    pub cold_start_ms: u64,
    /// The model profile, as JSON.
    #[arg(long)]
    pub profile: String,
    /// A model it serves (repeated: the base model first, then its adapters).
    #[arg(long = "model")]
    pub models: Vec<String>,
}

/// `inferscope link`: what the link may show and for how long.
#[derive(Clone, Debug, clap::Args)]
pub struct LinkArgs {
    /// Only this environment.
    #[arg(long)]
    pub environment: Option<String>,
    /// Only this deployment.
    #[arg(long)]
    pub deployment: Option<String>,
    /// Only these panels (comma-separated keys, e.g. `inference_volume,response_time`).
    #[arg(long)]
    pub panels: Option<String>,
    /// Lifetime: `90s`, `15m`, `12h`, `7d` (capped at access.max_link_ttl_s).
    #[arg(long, default_value = "24h")]
    pub ttl: String,
    /// An admin token (may mint links over the API), unscoped; prints the token only.
    #[arg(long)]
    pub admin: bool,
    /// The server's address as the viewer reaches it, for the printed link.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub base_url: String,
    /// Print a full-page link instead of an embed link (`embed=1`).
    #[arg(long)]
    pub page: bool,
}

impl Config {
    /// Parses TOML text (`path` only names the source in errors) and validates it.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|error| ConfigError::Parse {
            path: path.to_owned(),
            message: error.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Loads the file named on the command line (if any), applies the overrides, validates.
    pub fn load(cli: &Cli) -> Result<Config, ConfigError> {
        let mut config = match &cli.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                let config: Config = toml::from_str(&text).map_err(|error| ConfigError::Parse {
                    path: path.clone(),
                    message: error.to_string(),
                })?;
                config
            }
            None => Config::default(),
        };
        if let Some(value) = cli.scrape_interval_ms {
            config.scrape_interval_ms = value;
        }
        if let Some(value) = cli.scrape_timeout_ms {
            config.scrape_timeout_ms = value;
        }
        if let Some(value) = cli.demo {
            config.demo = value;
        }
        if let Some(value) = cli.worker_threads {
            config.worker_threads = value;
        }
        if let Some(value) = &cli.demo_scenario {
            config.demo_scenario = value.clone();
        }
        if let Some(value) = cli.demo_speed {
            config.demo_speed = value;
        }
        if let Some(value) = cli.access_mode {
            config.access.mode = value;
        }
        if let Some(value) = &cli.access_secret {
            config.access.secret = value.clone();
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks every value; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn invalid(field: &str, value: impl ToString, reason: impl Into<String>) -> ConfigError {
            ConfigError::Invalid {
                field: field.into(),
                value: value.to_string(),
                reason: reason.into(),
            }
        }
        fn range(field: &str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(invalid(
                    field,
                    value,
                    format!("must be between {min} and {max}"),
                ))
            }
        }
        range(
            "scrape_interval_ms",
            self.scrape_interval_ms,
            100,
            3_600_000,
        )?;
        range("scrape_timeout_ms", self.scrape_timeout_ms, 10, 3_600_000)?;
        if self.scrape_timeout_ms >= self.scrape_interval_ms {
            return Err(invalid(
                "scrape_timeout_ms",
                self.scrape_timeout_ms,
                format!(
                    "must be less than scrape_interval_ms ({})",
                    self.scrape_interval_ms
                ),
            ));
        }
        range("body_limit_bytes", self.body_limit_bytes, 1024, 1 << 30)?;
        range("sample_limit", self.sample_limit, 1, 10_000_000)?;
        range("label_limit", self.label_limit, 1, 1024)?;
        range(
            "label_value_length_limit",
            self.label_value_length_limit,
            16,
            1 << 20,
        )?;
        range(
            "retention_ms",
            self.retention_ms,
            3_600_000,
            7 * 24 * 3_600_000,
        )?;
        range("max_series", self.max_series, 1, 50_000_000)?;
        range(
            "sd_refresh_interval_ms",
            self.sd_refresh_interval_ms,
            100,
            3_600_000,
        )?;
        range("live_tick_ms", self.live_tick_ms, 100, 60_000)?;
        range("max_live_streams", self.max_live_streams, 1, 100_000)?;
        range("worker_threads", self.worker_threads, 0, 1024)?;
        let mut urls = BTreeSet::new();
        let mut identities: BTreeMap<(&str, &str, &str), usize> = BTreeMap::new();
        for (index, target) in self.targets.iter().enumerate() {
            let field = |name: &str| format!("targets[{index}].{name}");
            check_url(&field("url"), &target.url)?;
            if target.environment.trim().is_empty() {
                return Err(invalid(&field("environment"), "\"\"", "must not be empty"));
            }
            if target.deployment.trim().is_empty() {
                return Err(invalid(&field("deployment"), "\"\"", "must not be empty"));
            }
            if let Some(engine) = &target.engine
                && Engine::from_name(engine).is_none()
            {
                let known: Vec<&str> = Engine::ALL.iter().map(|e| e.name()).collect();
                return Err(invalid(
                    &field("engine"),
                    format!("{engine:?}"),
                    format!("must be one of {}", known.join(", ")),
                ));
            }
            if !urls.insert(&target.url) {
                return Err(invalid(&field("url"), &target.url, "is listed twice"));
            }
            // Two sources with one identity would overwrite and stale each other's series.
            let identity = (
                target.environment.as_str(),
                target.deployment.as_str(),
                target.replica.as_str(),
            );
            if let Some(first) = identities.insert(identity, index) {
                let other = &self.targets[first];
                return Err(invalid(
                    &field("replica"),
                    format!("{:?}", target.replica),
                    format!(
                        "targets[{first}] ({}) and targets[{index}] ({}) have the same \
                         environment {:?}, deployment {:?} and replica {:?}; give each its own \
                         replica",
                        other.url,
                        target.url,
                        target.environment,
                        target.deployment,
                        target.replica
                    ),
                ));
            }
        }
        for (index, sd) in self.http_sd.iter().enumerate() {
            check_url(&format!("http_sd[{index}].url"), &sd.url)?;
        }
        if !self.access.secret.is_empty()
            && self.access.secret.len() < crate::access::MIN_SECRET_BYTES
        {
            return Err(invalid(
                "access.secret",
                "<hidden>",
                format!(
                    "must be at least {} bytes long",
                    crate::access::MIN_SECRET_BYTES
                ),
            ));
        }
        for (index, origin) in self.access.frame_ancestors.iter().enumerate() {
            if crate::access::normalise_origin(origin).is_none() {
                return Err(invalid(
                    &format!("access.frame_ancestors[{index}]"),
                    format!("{origin:?}"),
                    "must be an origin: scheme://host[:port], no path",
                ));
            }
        }
        if let Err((index, reason)) = crate::access::KnownHosts::new(&self.access.hosts, None) {
            return Err(invalid(
                &format!("access.hosts[{index}]"),
                format!("{:?}", self.access.hosts[index]),
                reason,
            ));
        }
        range(
            "access.max_link_ttl_s",
            self.access.max_link_ttl_s,
            1,
            366 * 86_400,
        )?;
        if !self.demo_scenario.is_empty()
            && crate::insight::sim::preset(&self.demo_scenario).is_none()
        {
            let known: Vec<&str> = crate::insight::sim::PRESETS
                .iter()
                .map(|p| p.name)
                .collect();
            return Err(invalid(
                "demo_scenario",
                format!("{:?}", self.demo_scenario),
                format!("must be empty or one of {}", known.join(", ")),
            ));
        }
        if !(self.demo_speed.is_finite() && (1.0..=60.0).contains(&self.demo_speed)) {
            return Err(invalid(
                "demo_speed",
                self.demo_speed,
                "must be between 1 and 60",
            ));
        }
        let mut named = BTreeSet::new();
        for (index, entry) in self.autoscaling.iter().enumerate() {
            if entry.deployment.trim().is_empty() {
                return Err(invalid(
                    &format!("autoscaling[{index}].deployment"),
                    "\"\"",
                    "must not be empty",
                ));
            }
            let overrides = entry.overrides().map_err(|(field, value, reason)| {
                invalid(&format!("autoscaling[{index}].{field}"), value, reason)
            })?;
            let min = overrides.min_replicas.unwrap_or(0);
            if overrides.max_replicas.is_some_and(|max| max < min) {
                return Err(invalid(
                    &format!("autoscaling[{index}].max_replicas"),
                    overrides.max_replicas.unwrap_or(0),
                    format!("must not be below min_replicas ({min})"),
                ));
            }
            if !named.insert((&entry.environment, &entry.deployment)) {
                return Err(invalid(
                    &format!("autoscaling[{index}].deployment"),
                    format!("{:?}", entry.deployment),
                    "is listed twice for the same environment",
                ));
            }
        }
        Ok(())
    }

    /// Whether the demo fleet should run with this configuration.
    pub fn runs_demo(&self) -> bool {
        match self.demo {
            DemoMode::On => true,
            DemoMode::Off => false,
            DemoMode::Auto => {
                !self.demo_scenario.is_empty()
                    || (self.targets.is_empty() && self.http_sd.is_empty())
            }
        }
    }

    /// The `[[autoscaling]]` table as the diagnosis reads it (validated already).
    pub fn settings_table(&self) -> crate::insight::deployment::SettingsTable {
        crate::insight::deployment::SettingsTable(
            self.autoscaling
                .iter()
                .filter_map(|entry| {
                    Some(crate::insight::deployment::ConfiguredSettings {
                        environment: entry.environment.clone(),
                        deployment: entry.deployment.clone(),
                        overrides: entry.overrides().ok()?,
                    })
                })
                .collect(),
        )
    }

    /// `scrape_interval_ms` as a duration.
    pub fn scrape_interval(&self) -> Duration {
        Duration::from_millis(self.scrape_interval_ms)
    }

    /// `scrape_timeout_ms` as a duration.
    pub fn scrape_timeout(&self) -> Duration {
        Duration::from_millis(self.scrape_timeout_ms)
    }
}

fn check_url(field: &str, url: &str) -> Result<(), ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        field: field.into(),
        value: format!("{url:?}"),
        reason,
    };
    let parsed =
        reqwest::Url::parse(url).map_err(|error| invalid(format!("not a URL ({error})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("must be an http:// or https:// URL".into()));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("has no host".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../inferscope.example.toml");

    #[test]
    fn the_example_file_is_valid_and_documents_the_defaults() {
        let example = Config::from_toml(EXAMPLE, Path::new("inferscope.example.toml"))
            .expect("valid example");
        let defaults = Config::default();
        let scalars = |c: &Config| Config {
            targets: Vec::new(),
            http_sd: Vec::new(),
            autoscaling: Vec::new(),
            ..c.clone()
        };
        assert_eq!(scalars(&example), scalars(&defaults));
        assert!(!example.targets.is_empty(), "the example shows a target");
        assert!(!example.http_sd.is_empty(), "the example shows http_sd");
        // Every field of the struct appears in the example.
        for field in [
            "scrape_interval_ms",
            "scrape_timeout_ms",
            "body_limit_bytes",
            "sample_limit",
            "label_limit",
            "label_value_length_limit",
            "retention_ms",
            "max_series",
            "sd_refresh_interval_ms",
            "live_tick_ms",
            "max_live_streams",
            "worker_threads",
            "demo",
            "[access]",
            "mode",
            "secret",
            "frame_ancestors",
            "hosts",
            "max_link_ttl_s",
            "[host]",
            "processes",
            "nvml_library",
            "pid",
            "gpus",
            "[[targets]]",
            "[[http_sd]]",
            "replica",
            "demo_scenario",
            "demo_speed",
            "[[autoscaling]]",
            "scale_down_delay_s",
        ] {
            assert!(EXAMPLE.contains(field), "example lacks {field}");
        }
    }

    #[test]
    fn bad_values_name_the_field_and_the_fix() {
        let error = Config::from_toml(
            "scrape_interval_ms = 1000\nscrape_timeout_ms = 5000\n",
            Path::new("x.toml"),
        )
        .expect_err("timeout above interval");
        assert_eq!(
            error.to_string(),
            "invalid config value scrape_timeout_ms = 5000: must be less than scrape_interval_ms (1000)"
        );
        let error = Config::from_toml(
            "[[targets]]\nurl = \"ftp://x/metrics\"\nenvironment = \"p\"\ndeployment = \"d\"\n",
            Path::new("x.toml"),
        )
        .expect_err("ftp url");
        assert!(matches!(
            &error,
            ConfigError::Invalid { field, .. } if field == "targets[0].url"
        ));
        let twins = "[[targets]]\nurl = \"http://10.0.0.1:8000/metrics\"\nenvironment = \"p\"\n\
                     deployment = \"d\"\nreplica = \"r\"\n\
                     [[targets]]\nurl = \"http://10.0.0.2:8000/metrics\"\nenvironment = \"p\"\n\
                     deployment = \"d\"\nreplica = \"r\"\n";
        let error = Config::from_toml(twins, Path::new("x.toml")).expect_err("one identity twice");
        assert_eq!(
            error.to_string(),
            "invalid config value targets[1].replica = \"r\": targets[0] \
             (http://10.0.0.1:8000/metrics) and targets[1] (http://10.0.0.2:8000/metrics) have \
             the same environment \"p\", deployment \"d\" and replica \"r\"; give each its own \
             replica"
        );
        let error =
            Config::from_toml("scrape_intervall_ms = 5\n", Path::new("x.toml")).expect_err("typo");
        assert!(
            matches!(&error, ConfigError::Parse { message, .. } if message.contains("scrape_intervall_ms")),
            "{error}"
        );
        let error = Config::from_toml("scrape_interval_ms = \"fast\"\n", Path::new("x.toml"))
            .expect_err("wrong type");
        assert!(matches!(&error, ConfigError::Parse { .. }), "{error}");
    }

    #[test]
    fn overrides_apply_in_order_and_demo_follows_targets() {
        let cli = Cli {
            scrape_interval_ms: Some(5000),
            demo: Some(DemoMode::Off),
            ..Cli::default()
        };
        let config = Config::load(&cli).expect("valid");
        assert_eq!(config.scrape_interval_ms, 5000);
        assert!(!config.runs_demo());
        assert!(Config::default().runs_demo());
        let with_target = Config {
            targets: vec![TargetConfig {
                url: "http://127.0.0.1:9/metrics".into(),
                environment: "p".into(),
                deployment: "d".into(),
                replica: String::new(),
                engine: None,
                pid: None,
                gpus: Vec::new(),
            }],
            ..Config::default()
        };
        assert!(!with_target.runs_demo());
        // Naming a scenario runs the demo even beside targets (under `auto`).
        let scenario = Config {
            demo_scenario: "thrash-prone".into(),
            ..with_target
        };
        assert!(scenario.runs_demo());
    }

    #[test]
    fn scenarios_speeds_and_autoscaling_tables_are_checked() {
        let invalid_field = |text: &str| match Config::from_toml(text, Path::new("x.toml")) {
            Err(ConfigError::Invalid { field, reason, .. }) => format!("{field}: {reason}"),
            other => panic!("{text:?} gave {other:?}"),
        };
        assert!(
            invalid_field("demo_scenario = \"chaos\"\n")
                .starts_with("demo_scenario: must be empty or one of steady, thrash-prone")
        );
        assert_eq!(
            invalid_field("demo_speed = 0.5\n"),
            "demo_speed: must be between 1 and 60"
        );
        assert_eq!(
            invalid_field("[[autoscaling]]\ndeployment = \"chat\"\ntarget_utilization = 1.5\n"),
            "autoscaling[0].target_utilization: autoscaler setting target_utilization = 1.5 is out of range"
        );
        assert_eq!(
            invalid_field(
                "[[autoscaling]]\ndeployment = \"chat\"\nmin_replicas = 4\nmax_replicas = 2\n"
            ),
            "autoscaling[0].max_replicas: must not be below min_replicas (4)"
        );
        assert_eq!(
            invalid_field(
                "[[autoscaling]]\ndeployment = \"chat\"\n[[autoscaling]]\ndeployment = \"chat\"\n"
            ),
            "autoscaling[1].deployment: is listed twice for the same environment"
        );
        let config = Config::from_toml(
            "[[autoscaling]]\nenvironment = \"production\"\ndeployment = \"chat\"\nscale_down_delay_s = 600\n",
            Path::new("x.toml"),
        )
        .expect("valid");
        let table = config.settings_table();
        let overrides = table.lookup("production", "chat").expect("listed");
        assert_eq!(overrides.scale_down_delay, Some(Duration::from_secs(600)));
        assert!(table.lookup("staging", "chat").is_none());
    }
}
