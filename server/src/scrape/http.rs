//! The HTTP scraper: GET a `/metrics` page with limits, then ingest it.

use crate::ingest::adapter::Engine;
use crate::ingest::exposition::Format;
use crate::ingest::{IngestLimits, Ingestor};
use crate::store::ScrapeSuccess;

use super::{ScrapeError, ScrapeSettings, Scraper};

/// What the scraper asks for: OpenMetrics first, then the Prometheus text format (as
/// Prometheus 3 asks). `escaping=allow-utf-8` keeps names as the exporter declares them:
/// without it, prometheus_client (0.23 and later) escapes `:` to `_` in sample names but not in
/// `# TYPE` lines (SGLang's `sglang:` families), a page no strict OpenMetrics reader accepts.
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8,\
application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// Scrapes one URL over HTTP.
#[derive(Debug)]
pub struct HttpScraper {
    client: reqwest::Client,
    /// Parsed once, not on every scrape.
    url: Result<reqwest::Url, String>,
    /// Size of the last body, to allocate the next one at once.
    last_body_bytes: usize,
    settings: ScrapeSettings,
    ingestor: Ingestor,
}

impl HttpScraper {
    /// A scraper for `url` sharing `client`'s connection pool.
    pub fn new(
        client: reqwest::Client,
        url: String,
        settings: ScrapeSettings,
        engine: Option<Engine>,
    ) -> HttpScraper {
        // A configured engine's table, plus the families any exporter may have beside it: the
        // process's own, inferscope's names, and the FastAPI instrumentator's HTTP families
        // (vLLM's API server serves them beside its engine's).
        let ingestor = settings.ingestor(
            engine.map(|engine| vec![engine, Engine::Process, Engine::Inferscope, Engine::FastApi]),
        );
        HttpScraper {
            client,
            url: reqwest::Url::parse(&url)
                .map_err(|error| format!("invalid URL {:?}: {error}", super::redact_url(&url))),
            last_body_bytes: 0,
            settings,
            ingestor,
        }
    }
}

/// Most redirects followed, each on the scraped URL's own scheme, host and port.
pub const MAX_REDIRECTS: usize = 3;

/// Builds the HTTP client scrapes share. It follows a redirect only to the same scheme, host
/// and port (an exporter cannot send inferscope into the rest of the network), at most
/// [`MAX_REDIRECTS`] of them.
pub fn client(settings: &ScrapeSettings) -> Result<reqwest::Client, reqwest::Error> {
    let redirects = reqwest::redirect::Policy::custom(|attempt| {
        let same_place = attempt.previous().first().is_some_and(|first| {
            let next = attempt.url();
            first.scheme() == next.scheme()
                && first.host_str() == next.host_str()
                && first.port_or_known_default() == next.port_or_known_default()
        });
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else if same_place {
            attempt.follow()
        } else {
            let to = super::redact_url(attempt.url().as_str());
            attempt.error(format!(
                "redirected to another host or scheme ({to}); only redirects on the same host and port are followed"
            ))
        }
    });
    reqwest::Client::builder()
        .redirect(redirects)
        .connect_timeout(settings.timeout)
        .user_agent(concat!("inferscope/", env!("CARGO_PKG_VERSION")))
        // Many targets often share a host (replicas behind one address, a platform export):
        // keep enough idle connections that scrapes reuse them instead of reconnecting.
        .pool_max_idle_per_host(32)
        .build()
}

/// Reads a response body, refusing it as soon as it grows past `limit_bytes`. `timeout` is the
/// request's timeout, named in the error when it strikes while the body trickles in.
pub async fn read_limited(
    mut response: reqwest::Response,
    limit_bytes: usize,
    timeout: std::time::Duration,
    expected_bytes: usize,
) -> Result<Vec<u8>, ScrapeError> {
    let announced = response.content_length();
    if announced.is_some_and(|length| length > limit_bytes as u64) {
        return Err(ScrapeError::BodyTooLarge { limit_bytes });
    }
    let capacity = announced.map_or(expected_bytes, |length| length as usize);
    let mut body = Vec::with_capacity(capacity.min(limit_bytes));
    while let Some(chunk) = response.chunk().await.map_err(|error| {
        if error.is_timeout() {
            ScrapeError::Timeout {
                timeout_ms: timeout.as_millis(),
            }
        } else {
            ScrapeError::Body(describe(&error))
        }
    })? {
        if body.len() + chunk.len() > limit_bytes {
            return Err(ScrapeError::BodyTooLarge { limit_bytes });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl Scraper for HttpScraper {
    async fn scrape(&mut self, at_ms: i64) -> Result<ScrapeSuccess, ScrapeError> {
        let url = self.url.clone().map_err(ScrapeError::Request)?;
        let response = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, ACCEPT)
            .timeout(self.settings.timeout)
            .send()
            .await
            .map_err(|error| self.request_error(&error))?;
        let status = response.status();
        if !status.is_success() {
            return Err(ScrapeError::Status(status.as_u16()));
        }
        let format = Format::from_content_type(
            response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok()),
        );
        let body = read_limited(
            response,
            self.settings.body_limit_bytes,
            self.settings.timeout,
            self.last_body_bytes,
        )
        .await?;
        self.last_body_bytes = body.len();
        let text = std::str::from_utf8(&body).map_err(|_| ScrapeError::NotText)?;
        let limits = IngestLimits {
            sample_limit: self.settings.sample_limit,
            label_limit: self.settings.label_limit,
            label_value_length_limit: self.settings.label_value_length_limit,
        };
        let output = self.ingestor.ingest(text, format, limits, at_ms)?;
        Ok(super::success(output))
    }
}

impl HttpScraper {
    fn request_error(&self, error: &reqwest::Error) -> ScrapeError {
        if error.is_timeout() {
            ScrapeError::Timeout {
                timeout_ms: self.settings.timeout.as_millis(),
            }
        } else {
            ScrapeError::Request(describe(error))
        }
    }
}

/// A reqwest error with its causes, which its `Display` alone leaves out.
/// Credentials in the URL are redacted: the text is shown on the targets page.
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    match error.url() {
        Some(url) => text.replace(url.as_str(), &super::redact_url(url.as_str())),
        None => text,
    }
}
