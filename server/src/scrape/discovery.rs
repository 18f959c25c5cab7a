//! Target discovery: static targets from the config plus HTTP service discovery in Prometheus's
//! `http_sd` format, refreshed periodically and handed to the scrape manager as one list.
//!
//! An `http_sd` endpoint answers `GET` with JSON:
//! `[{"targets": ["host:port"], "labels": {"environment": "…", "deployment": "…", "replica": "…"}}]`.
//! `replica` defaults to `host:port`; `__scheme__` (default `http`) and `__metrics_path__`
//! (default `/metrics`) are honoured as in Prometheus. When an endpoint fails, its previous list
//! is kept: a discovery hiccup does not stop scraping.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;
use tracing::{debug, warn};

use crate::ingest::adapter::Engine;
use crate::model::{Origin, TargetLabels};

use super::Target;
use super::http::read_limited;
use super::manager::ScrapeManager;

/// Largest discovery response accepted.
pub const SD_BODY_LIMIT_BYTES: usize = 4 * 1024 * 1024;
/// Most targets one discovery response may list.
pub const SD_MAX_TARGETS: usize = 10_000;

#[derive(Debug, Deserialize)]
struct TargetGroup {
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Why a discovery response was not used.
#[derive(Debug, Error)]
pub enum DiscoveryError {
    /// Fetching it failed.
    #[error("fetching {url} failed: {reason}")]
    Fetch {
        /// The discovery URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// It is not the expected JSON.
    #[error("{url} is not http_sd JSON: {reason}")]
    Format {
        /// The discovery URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A group lacks a required label.
    #[error("{url}: target group {group} has no {label:?} label")]
    MissingLabel {
        /// The discovery URL.
        url: String,
        /// Index of the group.
        group: usize,
        /// The missing label.
        label: &'static str,
    },
    /// Too many targets.
    #[error("{url} lists more than {SD_MAX_TARGETS} targets")]
    TooMany {
        /// The discovery URL.
        url: String,
    },
}

/// Parses an `http_sd` response into targets.
pub fn parse_http_sd(url: &str, body: &[u8]) -> Result<Vec<Target>, DiscoveryError> {
    let groups: Vec<TargetGroup> =
        serde_json::from_slice(body).map_err(|error| DiscoveryError::Format {
            url: super::redact_url(url),
            reason: error.to_string(),
        })?;
    let mut targets = Vec::new();
    for (index, group) in groups.into_iter().enumerate() {
        let label = |name: &'static str| {
            group
                .labels
                .get(name)
                .filter(|value| !value.is_empty())
                .cloned()
                .ok_or_else(|| DiscoveryError::MissingLabel {
                    url: super::redact_url(url),
                    group: index,
                    label: name,
                })
        };
        let environment: Arc<str> = Arc::from(label("environment")?);
        let deployment: Arc<str> = Arc::from(label("deployment")?);
        let scheme = group
            .labels
            .get("__scheme__")
            .map_or("http", String::as_str);
        let path = group
            .labels
            .get("__metrics_path__")
            .map_or("/metrics", String::as_str);
        for host in &group.targets {
            if targets.len() >= SD_MAX_TARGETS {
                return Err(DiscoveryError::TooMany {
                    url: super::redact_url(url),
                });
            }
            let replica = group.labels.get("replica").unwrap_or(host);
            targets.push(Target {
                url: format!("{scheme}://{host}{path}"),
                labels: TargetLabels {
                    environment: environment.clone(),
                    deployment: deployment.clone(),
                    replica: Arc::from(replica.as_str()),
                    origin: Origin::Exporter,
                },
                engine: group
                    .labels
                    .get("__engine__")
                    .and_then(|name| Engine::from_name(name)),
            });
        }
    }
    Ok(targets)
}

async fn fetch(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
) -> Result<Vec<Target>, DiscoveryError> {
    let fetch_error = |reason: String| DiscoveryError::Fetch {
        url: super::redact_url(url),
        reason,
    };
    let response = client
        .get(url)
        .timeout(timeout)
        .send()
        .await
        .map_err(|error| fetch_error(error.to_string()))?;
    if !response.status().is_success() {
        return Err(fetch_error(format!("HTTP status {}", response.status())));
    }
    let body = read_limited(response, SD_BODY_LIMIT_BYTES, timeout, 0)
        .await
        .map_err(|error| fetch_error(error.to_string()))?;
    parse_http_sd(url, &body)
}

/// A target left out because another one has its identity (environment, deployment,
/// replica), with why.
pub type Refusal = (Target, String);

/// Keeps one target per identity: the first listed (static targets first, then each discovery
/// endpoint's in turn); the others are refused with a reason naming the one kept. Two sources
/// with one identity would overwrite and stale each other's series, so they are never merged.
pub fn one_per_identity(targets: impl Iterator<Item = Target>) -> (BTreeSet<Target>, Vec<Refusal>) {
    let mut kept: BTreeMap<TargetLabels, Target> = BTreeMap::new();
    let mut refused = Vec::new();
    for target in targets {
        match kept.get(&target.labels) {
            Some(first) if first.url == target.url => {}
            Some(first) => {
                let reason = format!(
                    "not scraped: {} already has environment {:?}, deployment {:?} and replica \
                     {:?}; give each target its own replica label",
                    first.url,
                    &*target.labels.environment,
                    &*target.labels.deployment,
                    &*target.labels.replica
                );
                refused.push((target, reason));
            }
            None => {
                kept.insert(target.labels.clone(), target);
            }
        }
    }
    (kept.into_values().collect(), refused)
}

/// Keeps the scrape manager in step with the static targets and the discovery endpoints,
/// forever (the task is aborted at shutdown).
pub async fn run(
    static_targets: Vec<Target>,
    http_sd: Vec<String>,
    refresh: Duration,
    client: reqwest::Client,
    mut manager: ScrapeManager,
) {
    let mut discovered: BTreeMap<String, Vec<Target>> = BTreeMap::new();
    let mut failing: BTreeSet<String> = BTreeSet::new();
    loop {
        for url in &http_sd {
            match fetch(&client, url, refresh).await {
                Ok(targets) => {
                    if failing.remove(url) {
                        warn!(url = %super::redact_url(url), "service discovery recovered");
                    }
                    discovered.insert(url.clone(), targets);
                }
                Err(error) => {
                    if failing.insert(url.clone()) {
                        warn!(%error, "service discovery failed; keeping its last target list");
                    } else {
                        debug!(%error, "service discovery still failing");
                    }
                }
            }
        }
        let (wanted, refused) = one_per_identity(
            static_targets
                .iter()
                .chain(discovered.values().flatten())
                .cloned(),
        );
        manager.sync(wanted).await;
        manager.refuse(refused).await;
        tokio::time::sleep(refresh).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_groups_with_defaults_and_overrides() {
        let body = br#"[
            {"targets": ["127.0.0.1:9001"], "labels": {"environment": "production", "deployment": "chat", "replica": "chat-0"}},
            {"targets": ["127.0.0.1:9002", "127.0.0.1:9003"], "labels": {"environment": "staging", "deployment": "chat", "__metrics_path__": "/m"}}
        ]"#;
        let targets = parse_http_sd("http://sd", body).expect("valid http_sd");
        assert_eq!(targets.len(), 3);
        assert_eq!(targets[0].url, "http://127.0.0.1:9001/metrics");
        assert_eq!(&*targets[0].labels.replica, "chat-0");
        assert_eq!(targets[1].url, "http://127.0.0.1:9002/m");
        assert_eq!(&*targets[1].labels.replica, "127.0.0.1:9002");
    }

    #[test]
    fn two_sources_with_one_identity_are_never_merged() {
        let body = br#"[
            {"targets": ["127.0.0.1:9001", "127.0.0.1:9002"], "labels": {"environment": "production", "deployment": "chat", "replica": "chat-0"}},
            {"targets": ["127.0.0.1:9003"], "labels": {"environment": "production", "deployment": "chat", "replica": "chat-1"}}
        ]"#;
        let targets = parse_http_sd("http://sd", body).expect("valid http_sd");
        let (kept, refused) = one_per_identity(targets.into_iter());
        let urls: Vec<&str> = kept.iter().map(|target| target.url.as_str()).collect();
        assert_eq!(
            urls,
            vec![
                "http://127.0.0.1:9001/metrics",
                "http://127.0.0.1:9003/metrics"
            ]
        );
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].0.url, "http://127.0.0.1:9002/metrics");
        assert!(
            refused[0]
                .1
                .contains("http://127.0.0.1:9001/metrics already has"),
            "{}",
            refused[0].1
        );
    }

    #[test]
    fn refuses_groups_without_scope_and_garbage() {
        let missing = br#"[{"targets": ["a:1"], "labels": {"environment": "production"}}]"#;
        assert!(matches!(
            parse_http_sd("http://sd", missing),
            Err(DiscoveryError::MissingLabel {
                label: "deployment",
                ..
            })
        ));
        assert!(matches!(
            parse_http_sd("http://sd", b"<html>"),
            Err(DiscoveryError::Format { .. })
        ));
    }
}
