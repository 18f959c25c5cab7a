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
}

impl ScrapeManager {
    /// A manager with no target yet.
    pub fn new(settings: ScrapeSettings, client: reqwest::Client, store: StoreHandle) -> Self {
        ScrapeManager {
            settings,
            client,
            store,
            loops: BTreeMap::new(),
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
            info!(url = %target.url, replica = %target.labels.replica, "stopped scraping target");
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
                url = %target.url,
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
