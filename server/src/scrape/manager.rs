//! The scrape manager: one loop per target, started and stopped by diffing target lists.

use std::collections::{BTreeMap, BTreeSet};

use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::store::StoreHandle;

use super::http::HttpScraper;
use super::{ScrapeSettings, Target, now_ms, run_loop};

/// Keeps one scrape loop per target.
#[derive(Debug)]
pub struct ScrapeManager {
    settings: ScrapeSettings,
    client: reqwest::Client,
    store: StoreHandle,
    loops: BTreeMap<Target, JoinHandle<()>>,
    /// Targets not scraped because another has their identity, as last listed.
    refused: BTreeMap<Target, String>,
}

impl ScrapeManager {
    /// A manager with no target yet.
    pub fn new(settings: ScrapeSettings, client: reqwest::Client, store: StoreHandle) -> Self {
        ScrapeManager {
            settings,
            client,
            store,
            loops: BTreeMap::new(),
            refused: BTreeMap::new(),
        }
    }

    /// Makes the running loops match `targets`: starts the new ones, stops the gone ones (their
    /// series go stale), leaves the rest running undisturbed.
    pub async fn sync(&mut self, targets: BTreeSet<Target>) {
        let gone: Vec<Target> = self
            .loops
            .keys()
            .filter(|target| !targets.contains(*target))
            .cloned()
            .collect();
        for target in gone {
            if let Some(handle) = self.loops.remove(&target) {
                handle.abort();
            }
            info!(url = %super::redact_url(&target.url), replica = %target.labels.replica, "stopped scraping target");
            if self
                .store
                .target_gone(target.labels, target.url, now_ms())
                .await
                .is_err()
            {
                warn!("store is shut down; scrape manager stops updating it");
                return;
            }
        }
        for target in targets {
            if self.loops.contains_key(&target) {
                continue;
            }
            info!(
                url = %super::redact_url(&target.url),
                environment = %target.labels.environment,
                deployment = %target.labels.deployment,
                replica = %target.labels.replica,
                "scraping target"
            );
            let scraper = HttpScraper::new(
                self.client.clone(),
                target.url.clone(),
                self.settings,
                target.engine,
            );
            let handle = tokio::spawn(run_loop(
                target.clone(),
                scraper,
                self.settings,
                self.store.clone(),
            ));
            self.loops.insert(target, handle);
        }
    }

    /// Lists the targets refused for a duplicate identity on the targets page (and in the log,
    /// once each), and takes off the list those no longer refused. Their twins' series are never
    /// touched.
    pub async fn refuse(&mut self, refused: Vec<super::discovery::Refusal>) {
        let now: BTreeMap<Target, String> = refused.into_iter().collect();
        let lifted: Vec<Target> = self
            .refused
            .keys()
            .filter(|target| !now.contains_key(*target))
            .cloned()
            .collect();
        for target in lifted {
            self.refused.remove(&target);
            if self
                .store
                .lift_refusal(target.labels, target.url)
                .await
                .is_err()
            {
                return;
            }
        }
        for (target, reason) in now {
            if self.refused.get(&target) == Some(&reason) {
                continue;
            }
            warn!(url = %super::redact_url(&target.url), %reason, "target refused");
            if self
                .store
                .refuse_target(
                    target.labels.clone(),
                    target.url.clone(),
                    reason.clone(),
                    now_ms(),
                )
                .await
                .is_err()
            {
                return;
            }
            self.refused.insert(target, reason);
        }
    }

    /// The targets being scraped now.
    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.loops.keys()
    }
}

impl Drop for ScrapeManager {
    fn drop(&mut self) {
        for handle in self.loops.values() {
            handle.abort();
        }
    }
}
