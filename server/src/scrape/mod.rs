//! Scraping, shaped like Prometheus's: a [`manager::ScrapeManager`] keeps one loop per target,
//! each loop drives a [`Scraper`] on a fixed interval from a hashed start offset (so scrapes spread
//! over the interval), with a timeout below the interval, a body-size limit and a sample limit,
//! and records scrape health (`up`, duration, samples, last error) with every report.
//!
//! [`Scraper`] is the seam: the HTTP scraper implements it, and so can any other reader that
//! yields observations (host readings, NVML).

pub mod discovery;
pub mod host;
pub mod http;
pub mod manager;
pub mod nvml;

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use thiserror::Error;
use tracing::{debug, info, warn};

use crate::ingest::IngestError;
use crate::ingest::adapter::Engine;
use crate::model::TargetLabels;
use crate::store::{ScrapeReport, ScrapeSuccess, StoreHandle};

/// How every target is scraped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScrapeSettings {
    /// Time between scrapes of one target.
    pub interval: Duration,
    /// Longest a scrape may take; below the interval.
    pub timeout: Duration,
    /// Largest response body accepted, bytes.
    pub body_limit_bytes: usize,
    /// Most samples accepted on one page.
    pub sample_limit: usize,
    /// Most labels on one sample.
    pub label_limit: usize,
    /// Longest label value, bytes.
    pub label_value_length_limit: usize,
}

/// One thing to scrape: where, and the labels its series get.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    /// The `/metrics` URL.
    pub url: String,
    /// Environment, deployment and replica.
    pub labels: TargetLabels,
    /// The engine whose adapter table applies, when set in config (otherwise detected).
    pub engine: Option<Engine>,
}

/// A URL as it may be shown in logs, errors, the API and the page: credentials in it
/// (`user:password@`, or a lone token as the user) replaced by `xxxxx`. Works on text that is
/// not a valid URL too, since a bad URL is shown in its error.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|at| at + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &rest[..at];
    let shown = match userinfo.split_once(':') {
        Some((user, _)) if !user.is_empty() => format!("{user}:xxxxx"),
        _ => "xxxxx".to_owned(),
    };
    format!("{}{shown}{}", &url[..scheme_end], &rest[at..])
}

/// Why a scrape yielded nothing.
#[derive(Debug, Error)]
pub enum ScrapeError {
    /// Connecting or sending the request failed.
    #[error("request failed: {0}")]
    Request(String),
    /// The scrape took longer than the timeout.
    #[error("timed out after {timeout_ms} ms")]
    Timeout {
        /// The timeout, milliseconds.
        timeout_ms: u128,
    },
    /// The target answered with an error status.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The body is larger than allowed.
    #[error("body exceeds {limit_bytes} bytes (body_limit_bytes)")]
    BodyTooLarge {
        /// The limit.
        limit_bytes: usize,
    },
    /// Reading the body failed midway.
    #[error("reading the body failed: {0}")]
    Body(String),
    /// The body is not UTF-8 text.
    #[error("body is not UTF-8 text")]
    NotText,
    /// The page was refused by ingest.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// A reader other than HTTP (host, NVML) could not read.
    #[error("{0}")]
    Source(String),
}

impl ScrapeError {
    /// The error as viewers see it (the targets page, `/api/v1/targets`): no text of the
    /// scraped page in it. [`std::fmt::Display`] keeps the whole message for the log.
    pub fn shown(&self) -> String {
        match self {
            ScrapeError::Ingest(crate::ingest::IngestError::Parse(error)) => format!(
                "malformed exposition page: line {}: {}",
                error.line,
                error.kind.without_page_text()
            ),
            other => other.to_string(),
        }
    }
}

/// Something a scrape loop can drive: fetch and ingest one page (or reading) per call.
pub trait Scraper: Send + 'static {
    /// One scrape, started at `at_ms` (Unix milliseconds: the time its observations get).
    /// Must not panic on bad input; returns an error instead.
    fn scrape(
        &mut self,
        at_ms: i64,
    ) -> impl Future<Output = Result<ScrapeSuccess, ScrapeError>> + Send;
}

/// Ingests a page a reader rendered in inferscope's own names (host, NVML) with the scrape limits.
pub fn ingest_rendered(
    ingestor: &mut crate::ingest::Ingestor,
    page: &str,
    settings: &ScrapeSettings,
    at_ms: i64,
) -> Result<ScrapeSuccess, ScrapeError> {
    let limits = crate::ingest::IngestLimits {
        sample_limit: settings.sample_limit,
        label_limit: settings.label_limit,
        label_value_length_limit: settings.label_value_length_limit,
    };
    let output = ingestor.ingest(
        page,
        crate::ingest::exposition::Format::Prometheus,
        limits,
        at_ms,
    )?;
    Ok(success(output))
}

/// A good page's yield, as the store takes it.
pub fn success(output: crate::ingest::IngestOutput) -> ScrapeSuccess {
    ScrapeSuccess {
        observations: output.observations,
        raw: output.raw,
        engines: output.engines.iter().map(|engine| engine.name()).collect(),
        lookalikes: output.lookalikes,
        samples: output.samples as u64,
        covered_seconds: output.covered_seconds,
    }
}

impl ScrapeSettings {
    /// A good page further than this after the previous one of the same target starts its
    /// counters from a new baseline: the rate window at the raw resolution.
    pub fn max_gap_ms(&self) -> i64 {
        crate::ingest::max_gap_ms(self.interval.as_millis() as i64)
    }

    /// An ingestor for one target scraped with these settings.
    pub fn ingestor(&self, engines: Option<Vec<Engine>>) -> crate::ingest::Ingestor {
        let ingestor = match engines {
            Some(engines) => crate::ingest::Ingestor::for_engines(engines),
            None => crate::ingest::Ingestor::new(),
        };
        ingestor.with_max_gap_ms(self.max_gap_ms())
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// A stable hash of a target's URL, spreading start offsets over the interval (FNV-1a).
pub fn start_offset(url: &str, interval: Duration) -> Duration {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in url.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let interval_ms = interval.as_millis().max(1) as u64;
    Duration::from_millis(hash % interval_ms)
}

/// How long until a target's next scrape time: the moment in each interval its hashed offset
/// names, counted from the Unix epoch (as Prometheus places scrapes), so a target keeps the same
/// place in the interval across restarts of the server.
pub fn first_scrape_delay(url: &str, interval: Duration, now_ms: i64) -> Duration {
    let interval_ms = interval.as_millis().max(1) as i64;
    let offset_ms = start_offset(url, interval).as_millis() as i64;
    Duration::from_millis((offset_ms - now_ms).rem_euclid(interval_ms) as u64)
}

/// Runs one target's scrape loop until the store goes away (or the task is aborted).
pub async fn run_loop<S: Scraper>(
    target: Target,
    mut scraper: S,
    settings: ScrapeSettings,
    store: StoreHandle,
) {
    tokio::time::sleep(first_scrape_delay(&target.url, settings.interval, now_ms())).await;
    let mut ticker = tokio::time::interval(settings.interval);
    // A scrape that overran skips the ticks it missed: the target keeps its place in the
    // interval (and the scrapes stay spread) rather than drifting after every slow one.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut was_up: Option<bool> = None;
    loop {
        ticker.tick().await;
        let at_ms = now_ms();
        let started = Instant::now();
        let outcome = match tokio::time::timeout(settings.timeout, scraper.scrape(at_ms)).await {
            Ok(result) => result,
            Err(_) => Err(ScrapeError::Timeout {
                timeout_ms: settings.timeout.as_millis(),
            }),
        };
        let duration_seconds = started.elapsed().as_secs_f64();
        match (&outcome, was_up) {
            (Err(error), Some(true) | None) => warn!(
                url = %redact_url(&target.url),
                environment = %target.labels.environment,
                deployment = %target.labels.deployment,
                replica = %target.labels.replica,
                %error,
                "scrape failed; the target's series go stale until it recovers"
            ),
            (Err(error), Some(false)) => {
                debug!(url = %redact_url(&target.url), %error, "scrape failed again")
            }
            (Ok(_), Some(false)) => info!(url = %redact_url(&target.url), "target is back up"),
            (Ok(_), _) => {}
        }
        was_up = Some(outcome.is_ok());
        let report = ScrapeReport {
            url: target.url.clone(),
            target: target.labels.clone(),
            at_ms,
            duration_seconds,
            outcome: outcome.map_err(|error| error.shown()),
        };
        if store.report(report).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_offsets_are_stable_and_inside_the_interval() {
        let interval = Duration::from_secs(2);
        let first = start_offset("http://127.0.0.1:9000/metrics", interval);
        assert_eq!(
            first,
            start_offset("http://127.0.0.1:9000/metrics", interval)
        );
        assert!(first < interval);
        let offsets: std::collections::BTreeSet<_> = (0..50)
            .map(|port| start_offset(&format!("http://127.0.0.1:{port}/metrics"), interval))
            .collect();
        assert!(
            offsets.len() > 40,
            "offsets should spread: {}",
            offsets.len()
        );
    }

    #[test]
    fn scrapes_keep_their_place_in_the_interval_whenever_the_server_starts() {
        let interval = Duration::from_secs(2);
        let url = "http://127.0.0.1:9000/metrics";
        let offset = start_offset(url, interval).as_millis() as i64;
        for now_ms in [0, 1, 1_999, 1_700_000_000_123, 1_700_000_001_999] {
            let first = now_ms + first_scrape_delay(url, interval, now_ms).as_millis() as i64;
            assert_eq!(first.rem_euclid(2_000), offset, "started at {now_ms}");
            assert!(first >= now_ms && first < now_ms + 2_000);
        }
    }

    #[test]
    fn credentials_in_urls_are_redacted_wherever_they_are_shown() {
        assert_eq!(
            redact_url("http://scraper:s3cret@10.0.0.5:8000/metrics"),
            "http://scraper:xxxxx@10.0.0.5:8000/metrics"
        );
        // A lone user part is often a token.
        assert_eq!(
            redact_url("https://ghp_abc123@exporter.example/metrics?x=1"),
            "https://xxxxx@exporter.example/metrics?x=1"
        );
        // An @ in the path or query is not userinfo.
        assert_eq!(
            redact_url("http://host:9100/metrics?owner=a@b"),
            "http://host:9100/metrics?owner=a@b"
        );
        assert_eq!(redact_url("not a url"), "not a url");
        // Text that no URL parser accepts is redacted too (it is shown in its own error).
        assert_eq!(
            redact_url("http://u:p w@bad host/metrics"),
            "http://u:xxxxx@bad host/metrics"
        );
    }
}
