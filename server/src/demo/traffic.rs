//! The demo traffic generator: real HTTP requests to a router at a rate that drifts and bursts,
//! with a few malformed or oversized requests among them.

use std::f64::consts::TAU;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Semaphore;
use tracing::debug;

/// The shape of one deployment's traffic.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrafficProfile {
    /// Mean requests per second.
    pub base_rate: f64,
    /// Relative amplitude of the slow drift (0–1).
    pub drift: f64,
    /// Period of the drift.
    pub drift_period: Duration,
    /// Rate multiplier during a burst.
    pub burst_factor: f64,
    /// Length of a burst.
    pub burst_length: Duration,
    /// Mean time between bursts.
    pub burst_every: Duration,
    /// Median prompt length, tokens.
    pub prompt_tokens: f64,
    /// Median output length, tokens.
    pub output_tokens: f64,
    /// Fraction of requests sent as malformed JSON (answered 400).
    pub malformed_rate: f64,
    /// Fraction of requests with a prompt longer than any context (answered 422).
    pub oversized_rate: f64,
    /// Fraction of requests sent to the async endpoint instead.
    pub async_fraction: f64,
    /// Fraction of requests for an adapter rather than the base model (the deployment's first
    /// model), spread evenly over its adapters.
    pub adapter_share: f64,
    /// Fraction of requests naming a model the deployment does not serve (answered 404).
    pub unknown_model_rate: f64,
    /// A scenario preset whose load shape replaces rate, drift and bursts.
    pub scenario: Option<ScenarioTraffic>,
}

/// Traffic shaped by a scenario preset (`insight::sim::PRESETS`), run `speed` times faster than
/// real time: the sync rate is the preset's load at `elapsed × speed`, plus its async arrivals.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScenarioTraffic {
    /// The preset's name.
    pub name: &'static str,
    /// Time acceleration.
    pub speed: f64,
}

/// Requests per second and the share sent async, at `elapsed_s`, for a scenario.
pub fn scenario_rate(scenario: &ScenarioTraffic, elapsed_s: f64) -> Option<(f64, f64)> {
    let preset = crate::insight::sim::preset(scenario.name)?;
    let sync = (preset.load)(elapsed_s * scenario.speed).max(0.0);
    let (async_in, _) = preset.async_in_out;
    let total = (sync + async_in).max(0.01);
    Some((total, async_in / total))
}

/// Most requests the generator keeps open at once; past that it skips arrivals (and says so).
pub const MAX_OPEN_REQUESTS: usize = 512;

/// The request rate at `elapsed` seconds, given the bursts' state.
pub fn rate_at(profile: &TrafficProfile, elapsed_s: f64, bursting: bool) -> f64 {
    let drift = 1.0 + profile.drift * (TAU * elapsed_s / profile.drift_period.as_secs_f64()).sin();
    let burst = if bursting { profile.burst_factor } else { 1.0 };
    (profile.base_rate * drift * burst).max(0.01)
}

fn log_normal(rng: &mut SmallRng, median: f64, sigma: f64) -> f64 {
    // Box–Muller: one standard normal draw.
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    let normal = (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos();
    median * (sigma * normal).exp()
}

/// Not a model any demo deployment serves.
pub const UNKNOWN_MODEL: &str = "gpt-4o";

/// The `model` field of a request: the base model, an adapter, now and then one not served;
/// none where the deployment names no models (its replicas serve their one).
fn pick_model<'a>(
    profile: &TrafficProfile,
    models: &'a [String],
    rng: &mut SmallRng,
) -> Option<&'a str> {
    let roll: f64 = rng.random_range(0.0..1.0);
    match models {
        [] => None,
        _ if roll < profile.unknown_model_rate => Some(UNKNOWN_MODEL),
        [base] => Some(base),
        [base, adapters @ ..] => Some(if rng.random_bool(profile.adapter_share.clamp(0.0, 1.0)) {
            &adapters[rng.random_range(0..adapters.len())]
        } else {
            base
        }),
    }
}

fn request_body(profile: &TrafficProfile, models: &[String], rng: &mut SmallRng) -> Vec<u8> {
    let roll: f64 = rng.random_range(0.0..1.0);
    if roll < profile.malformed_rate {
        return b"{\"prompt_tokens\": oops".to_vec();
    }
    let model = pick_model(profile, models, rng);
    let prompt_tokens = if roll < profile.malformed_rate + profile.oversized_rate {
        1_000_000
    } else {
        log_normal(rng, profile.prompt_tokens, 0.6).clamp(1.0, 4000.0) as u32
    };
    let output_tokens = if profile.output_tokens > 0.0 {
        log_normal(rng, profile.output_tokens, 0.5).clamp(1.0, 2000.0) as u32
    } else {
        0
    };
    // The prompt text itself travels too, so request sizes are real (about four bytes a token).
    let padding = "t".repeat((prompt_tokens.min(8000) as usize) * 4);
    let model = model.map_or_else(String::new, |model| {
        format!("\"model\":{},", serde_json::Value::from(model))
    });
    format!(
        "{{{model}\"prompt_tokens\":{prompt_tokens},\"max_tokens\":{output_tokens},\"prompt\":\"{padding}\"}}"
    )
    .into_bytes()
}

/// Sends traffic to a router at `base` (`http://host:port`) forever (the task is aborted when
/// the fleet stops): synchronous requests to `/v1/predict`, a fraction to `/v1/async_predict`,
/// each for one of `models` (the base model first).
pub async fn run(
    base: String,
    profile: TrafficProfile,
    models: Vec<String>,
    client: reqwest::Client,
    seed: u64,
) {
    let sync_url = format!("{base}/v1/predict");
    let async_url = format!("{base}/v1/async_predict");
    let mut rng = SmallRng::seed_from_u64(seed);
    let open = Arc::new(Semaphore::new(MAX_OPEN_REQUESTS));
    let started = Instant::now();
    let mut burst_until: Option<Instant> = None;
    let mut next_burst = Instant::now()
        + Duration::from_secs_f64(rng.random_range(0.5..1.5) * profile.burst_every.as_secs_f64());
    let mut skipped = 0u64;
    loop {
        let now = Instant::now();
        if burst_until.is_some_and(|until| now >= until) {
            burst_until = None;
        }
        if burst_until.is_none() && now >= next_burst {
            burst_until = Some(now + profile.burst_length);
            next_burst = now
                + Duration::from_secs_f64(
                    rng.random_range(0.5..1.5) * profile.burst_every.as_secs_f64(),
                );
        }
        let elapsed = started.elapsed().as_secs_f64();
        let (rate, async_fraction) = match profile
            .scenario
            .as_ref()
            .and_then(|s| scenario_rate(s, elapsed))
        {
            Some(shaped) => shaped,
            None => (
                rate_at(&profile, elapsed, burst_until.is_some()),
                profile.async_fraction,
            ),
        };
        let wait: f64 = -rng.random_range(f64::EPSILON..1.0_f64).ln() / rate;
        tokio::time::sleep(Duration::from_secs_f64(wait.min(10.0))).await;
        let Ok(permit) = open.clone().try_acquire_owned() else {
            skipped += 1;
            if skipped == 1 || skipped.is_multiple_of(1000) {
                debug!(url = %sync_url, skipped, "traffic generator at its open-request limit; skipping arrivals");
            }
            continue;
        };
        let body = request_body(&profile, &models, &mut rng);
        let client = client.clone();
        let url = if rng.random_bool(async_fraction.clamp(0.0, 1.0)) {
            async_url.clone()
        } else {
            sync_url.clone()
        };
        tokio::spawn(async move {
            let _permit = permit;
            match client.post(&url).body(body).send().await {
                Ok(mut response) => {
                    // Read the whole answer, as a real client would.
                    while let Ok(Some(_chunk)) = response.chunk().await {}
                }
                Err(error) => debug!(%error, "demo request failed"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: TrafficProfile = TrafficProfile {
        base_rate: 10.0,
        drift: 0.5,
        drift_period: Duration::from_secs(100),
        burst_factor: 3.0,
        burst_length: Duration::from_secs(10),
        burst_every: Duration::from_secs(60),
        prompt_tokens: 100.0,
        output_tokens: 50.0,
        malformed_rate: 0.1,
        oversized_rate: 0.1,
        async_fraction: 0.0,
        adapter_share: 0.25,
        unknown_model_rate: 0.05,
        scenario: None,
    };

    #[test]
    fn rate_drifts_and_bursts() {
        assert!((rate_at(&PROFILE, 0.0, false) - 10.0).abs() < 1e-9);
        assert!((rate_at(&PROFILE, 25.0, false) - 15.0).abs() < 1e-9);
        assert!((rate_at(&PROFILE, 25.0, true) - 45.0).abs() < 1e-9);
    }

    #[test]
    fn a_scenario_shapes_the_rate_in_accelerated_time() {
        let thrash = ScenarioTraffic {
            name: "thrash-prone",
            speed: 10.0,
        };
        // The preset's 150 s cycle (60 s high) takes 15 s at ten times the speed.
        let (high, _) = scenario_rate(&thrash, 1.0).unwrap();
        let (low, _) = scenario_rate(&thrash, 10.0).unwrap();
        let (again, _) = scenario_rate(&thrash, 16.0).unwrap();
        assert!(high > 4.0 * low, "{high} {low}");
        assert_eq!(high, again);
        let backlog = ScenarioTraffic {
            name: "async-backlog",
            speed: 1.0,
        };
        let (_, share) = scenario_rate(&backlog, 0.0).unwrap();
        assert!(share > 0.1 && share < 0.5, "{share}");
        let unknown = ScenarioTraffic {
            name: "nope",
            speed: 1.0,
        };
        assert!(scenario_rate(&unknown, 0.0).is_none());
    }

    #[test]
    fn bodies_mix_valid_malformed_and_oversized_and_models() {
        let mut rng = SmallRng::seed_from_u64(7);
        let models = ["base".to_owned(), "lora-a".to_owned(), "lora-b".to_owned()];
        let mut malformed = 0;
        let mut oversized = 0;
        let mut by_model = std::collections::BTreeMap::<String, u32>::new();
        for _ in 0..2000 {
            let body = request_body(&PROFILE, &models, &mut rng);
            match serde_json::from_slice::<serde_json::Value>(&body) {
                Err(_) => malformed += 1,
                Ok(value) => {
                    if value["prompt_tokens"].as_u64() == Some(1_000_000) {
                        oversized += 1;
                    }
                    let model = value["model"].as_str().expect("a model").to_owned();
                    *by_model.entry(model).or_default() += 1;
                }
            }
        }
        assert!((120..280).contains(&malformed), "{malformed}");
        assert!((120..280).contains(&oversized), "{oversized}");
        // Of the 1,800 or so well-formed: 5 % unknown, then a quarter split over two adapters.
        let count = |name: &str| by_model.get(name).copied().unwrap_or(0);
        assert!((50..140).contains(&count(UNKNOWN_MODEL)), "{by_model:?}");
        assert!((1100..1400).contains(&count("base")), "{by_model:?}");
        assert!((150..280).contains(&count("lora-a")), "{by_model:?}");
        assert!((150..280).contains(&count("lora-b")), "{by_model:?}");
        assert_eq!(by_model.len(), 4, "{by_model:?}");
        // A deployment that names no models sends none.
        let body = request_body(&PROFILE, &[], &mut SmallRng::seed_from_u64(1));
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert!(value.get("model").is_none() || value.is_null(), "{value}");
    }
}
