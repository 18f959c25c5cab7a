//! The live hub: one stream per distinct filter, shared by every viewer of that filter.
//!
//! One task owns every stream ([`spawn`]). Once per tick it recomputes each stream's view from
//! the store, diffs it against the previous one and, when something changed, serialises one
//! delta frame, keeps it in a short resume buffer and broadcasts it to the stream's viewers over
//! a bounded channel. A viewer that falls behind by more than that channel holds is told how many
//! frames it missed and gets a fresh snapshot instead: nobody is buffered without bound.
//!
//! The hub reads query results; it knows nothing of scraping or of the WebSocket edge (frames
//! are plain bytes of JSON text).

pub mod diff;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::wire::{ErrorCode, Filter, PROTOCOL_VERSION, Resume, ServerMessage, StreamId, View};
use bytes::Bytes;
use thiserror::Error;
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{debug, error, warn};

use crate::insight::deployment::{SettingsTable, full_view};
use crate::query::{self, QuerySettings};
use crate::scrape::now_ms;
use crate::store::StoreHandle;

/// One serialised server message (JSON text), shared by every viewer that receives it.
pub type Frame = Bytes;

/// Bounds and pace of the hub.
#[derive(Clone, Debug)]
pub struct HubSettings {
    /// How often views are recomputed.
    pub tick: Duration,
    /// Most distinct streams (filters) kept at once.
    pub max_streams: usize,
    /// How long a stream nobody watches is kept, so reconnecting viewers can resume.
    pub linger: Duration,
    /// Delta frames kept per stream for resuming.
    pub resume_depth: usize,
    /// Frames a viewer may fall behind before it is given a fresh snapshot instead.
    pub viewer_buffer: usize,
    /// How queries are computed.
    pub query: QuerySettings,
    /// Autoscaler settings from the configuration, for the diagnosis.
    pub autoscaling: Arc<SettingsTable>,
}

/// How often a stream's autoscaling diagnosis is recomputed (its panels move every tick).
pub const AUTOSCALING_REFRESH_MS: i64 = 5_000;

/// Why a subscription was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum HubError {
    /// Too many distinct filters are being watched.
    #[error("the server already serves {0} live streams; try again later")]
    Overloaded(usize),
    /// The hub or the store is gone (shutting down).
    #[error("the live hub is shut down")]
    Closed,
}

impl HubError {
    /// The protocol's error code for this refusal.
    pub fn code(&self) -> ErrorCode {
        match self {
            HubError::Overloaded(_) | HubError::Closed => ErrorCode::Overloaded,
        }
    }
}

/// A viewer's subscription: what to send first, then what to forward.
#[derive(Debug)]
pub struct Subscription {
    /// The stream.
    pub stream: StreamId,
    /// Frames to send first: a snapshot, or the deltas a resuming viewer missed.
    pub initial: Vec<Frame>,
    /// Every later delta of the stream.
    pub updates: broadcast::Receiver<Frame>,
}

#[derive(Debug)]
enum Command {
    Subscribe {
        filter: Filter,
        resume: Option<Resume>,
        skipped: u64,
        reply: oneshot::Sender<Result<Subscription, HubError>>,
    },
}

/// How the web edge reaches the hub. Cheap to clone.
#[derive(Clone, Debug)]
pub struct HubHandle {
    commands: mpsc::Sender<Command>,
}

impl HubHandle {
    /// Subscribes to `filter`. With `resume`, returns only the deltas after it when they are
    /// still kept; otherwise a snapshot whose `skipped` counts what the viewer never saw.
    /// `skipped` adds deltas the caller already knows were lost (a lagging viewer).
    pub async fn subscribe(
        &self,
        filter: Filter,
        resume: Option<Resume>,
        skipped: u64,
    ) -> Result<Subscription, HubError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Subscribe {
                filter,
                resume,
                skipped,
                reply,
            })
            .await
            .map_err(|_| HubError::Closed)?;
        answer.await.map_err(|_| HubError::Closed)?
    }
}

struct Stream {
    id: StreamId,
    filter: Filter,
    seq: u64,
    view: View,
    recent: VecDeque<(u64, Frame)>,
    sender: broadcast::Sender<Frame>,
    idle_since: Option<Instant>,
    /// When the view is next recomputed, Unix milliseconds.
    due_ms: i64,
    /// When the autoscaling diagnosis is next recomputed, Unix milliseconds.
    autoscaling_due_ms: i64,
}

/// How often a view is recomputed: every tick for live windows whose step is a few seconds,
/// less often as the step grows (a 7-day view with hourly points moves every two minutes),
/// and once a minute for an absolute range that ended (only late data can change it).
pub fn refresh_interval_ms(view: &View, now_ms: i64, tick_ms: i64) -> i64 {
    let tick_ms = tick_ms.max(1);
    if view
        .filter
        .absolute()
        .is_some_and(|(_, to)| to < now_ms - view.step_ms)
    {
        return 60_000.max(tick_ms);
    }
    (view.step_ms / 30).clamp(tick_ms, 120_000.max(tick_ms))
}

impl Stream {
    fn snapshot(&self, skipped: u64) -> Option<Frame> {
        encode(&ServerMessage::Snapshot {
            protocol: PROTOCOL_VERSION,
            stream: self.id,
            seq: self.seq,
            skipped,
            view: Box::new(self.view.clone()),
        })
    }

    /// Frames after `seq`, when every one of them is still kept.
    fn frames_after(&self, seq: u64) -> Option<Vec<Frame>> {
        if seq > self.seq {
            return None;
        }
        if seq == self.seq {
            return Some(Vec::new());
        }
        let first_kept = self.recent.front().map(|(first, _)| *first)?;
        if seq + 1 < first_kept {
            return None;
        }
        Some(
            self.recent
                .iter()
                .filter(|(frame_seq, _)| *frame_seq > seq)
                .map(|(_, frame)| frame.clone())
                .collect(),
        )
    }
}

fn encode(message: &ServerMessage) -> Option<Frame> {
    match serde_json::to_vec(message) {
        Ok(bytes) => Some(Bytes::from(bytes)),
        Err(error) => {
            error!(%error, "could not serialise a live message");
            None
        }
    }
}

/// Normalises a filter so equal views share one stream (empty names mean "all"). The times
/// of an absolute range that is not one (a lone `from_ms`, or `from_ms` after `to_ms`: the
/// query reads the live range) are cleared, or a client could make a new stream per value.
/// (An absolute range keeps the live range it came with: the page returns to it.)
pub fn normalise(mut filter: Filter) -> Filter {
    if filter.absolute().is_none() {
        filter.from_ms = None;
        filter.to_ms = None;
    }
    filter.environment = filter.environment.filter(|name| !name.is_empty());
    filter.deployment = filter.deployment.filter(|name| !name.is_empty());
    filter.model = filter.model.filter(|name| !name.is_empty());
    for panels in [&mut filter.split, &mut filter.by_model, &mut filter.panels] {
        panels.sort();
        panels.dedup();
    }
    filter
}

struct Hub {
    settings: HubSettings,
    store: StoreHandle,
    streams: Vec<Stream>,
    next_id: u64,
}

impl Hub {
    async fn subscribe(
        &mut self,
        filter: Filter,
        resume: Option<Resume>,
        skipped: u64,
    ) -> Result<Subscription, HubError> {
        let filter = normalise(filter);
        let index = match self.streams.iter().position(|s| s.filter == filter) {
            Some(index) => index,
            None => {
                if self.streams.len() >= self.settings.max_streams {
                    return Err(HubError::Overloaded(self.settings.max_streams));
                }
                let view = full_view(
                    &self.store,
                    filter.clone(),
                    now_ms(),
                    self.settings.query,
                    self.settings.autoscaling.clone(),
                )
                .await
                .map_err(|_| HubError::Closed)?;
                let (sender, _) = broadcast::channel(self.settings.viewer_buffer.max(1));
                self.next_id += 1;
                let now = now_ms();
                let due_ms = now + refresh_interval_ms(&view, now, self.tick_ms());
                self.streams.push(Stream {
                    id: StreamId(self.next_id),
                    filter,
                    seq: 0,
                    view,
                    recent: VecDeque::new(),
                    sender,
                    idle_since: None,
                    due_ms,
                    autoscaling_due_ms: now + AUTOSCALING_REFRESH_MS,
                });
                self.streams.len() - 1
            }
        };
        let stream = &mut self.streams[index];
        stream.idle_since = None;
        let resumed = resume
            .filter(|resume| resume.stream == stream.id)
            .and_then(|resume| stream.frames_after(resume.seq));
        let initial = match resumed {
            Some(frames) => frames,
            None => {
                let missed = resume
                    .filter(|resume| resume.stream == stream.id)
                    .map_or(0, |resume| stream.seq.saturating_sub(resume.seq));
                stream.snapshot(skipped + missed).into_iter().collect()
            }
        };
        Ok(Subscription {
            stream: stream.id,
            initial,
            updates: stream.sender.subscribe(),
        })
    }

    fn tick_ms(&self) -> i64 {
        i64::try_from(self.settings.tick.as_millis()).unwrap_or(i64::MAX)
    }

    async fn refresh(&mut self) {
        let now = now_ms();
        let tick_ms = self.tick_ms();
        for index in 0..self.streams.len() {
            // A little early rather than a tick late.
            if self.streams[index].due_ms > now + tick_ms / 2 {
                continue;
            }
            let filter = self.streams[index].filter.clone();
            let diagnose = self.streams[index].autoscaling_due_ms <= now + tick_ms / 2;
            let computed = if diagnose {
                let table = self.settings.autoscaling.clone();
                full_view(&self.store, filter, now, self.settings.query, table).await
            } else {
                query::view_from(&self.store, filter, now, self.settings.query).await
            };
            let Ok(mut view) = computed else {
                return;
            };
            let stream = &mut self.streams[index];
            if diagnose {
                stream.autoscaling_due_ms = now + AUTOSCALING_REFRESH_MS;
            } else {
                view.autoscaling.clone_from(&stream.view.autoscaling);
            }
            stream.due_ms = now + refresh_interval_ms(&view, now, tick_ms);
            let delta = diff::diff(&stream.view, &view);
            let moved =
                delta.start_ms != stream.view.start_ms || delta.end_ms != stream.view.end_ms;
            stream.view = view;
            if delta.is_empty() && !moved {
                continue;
            }
            stream.seq += 1;
            let Some(frame) = encode(&ServerMessage::Delta {
                stream: stream.id,
                seq: stream.seq,
                delta,
            }) else {
                continue;
            };
            stream.recent.push_back((stream.seq, frame.clone()));
            while stream.recent.len() > self.settings.resume_depth {
                stream.recent.pop_front();
            }
            // No receiver is fine: the frame stays in `recent` for viewers that resume.
            let _receivers = stream.sender.send(frame);
        }
    }

    fn reap(&mut self) {
        let linger = self.settings.linger;
        let now = Instant::now();
        self.streams.retain_mut(|stream| {
            if stream.sender.receiver_count() > 0 {
                stream.idle_since = None;
                return true;
            }
            let idle_since = *stream.idle_since.get_or_insert(now);
            let keep = now.duration_since(idle_since) < linger;
            if !keep {
                debug!(
                    stream = stream.id.0,
                    "dropping a live stream nobody watches"
                );
            }
            keep
        });
    }
}

/// Capacity of the hub's command queue.
pub const HUB_QUEUE: usize = 256;

/// Starts the hub task. It ends when every handle is dropped or the store goes away.
pub fn spawn(
    settings: HubSettings,
    store: StoreHandle,
) -> (HubHandle, tokio::task::JoinHandle<()>) {
    let (commands, mut inbox) = mpsc::channel(HUB_QUEUE);
    let tick = settings.tick;
    let task = tokio::spawn(async move {
        let mut hub = Hub {
            settings,
            store,
            streams: Vec::new(),
            next_id: 0,
        };
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    hub.refresh().await;
                    hub.reap();
                }
                command = inbox.recv() => {
                    let Some(Command::Subscribe { filter, resume, skipped, reply }) = command else {
                        break;
                    };
                    let result = hub.subscribe(filter, resume, skipped).await;
                    if let Err(error) = &result {
                        warn!(%error, "live subscription refused");
                    }
                    // The viewer may have disconnected meanwhile; nothing to do then.
                    let _ignored_if_viewer_left = reply.send(result);
                }
            }
        }
    });
    (HubHandle { commands }, task)
}

#[cfg(test)]
mod tests {
    use app::wire::{Filter, TimeRange};

    use super::*;

    fn view(filter: Filter, step_ms: i64) -> View {
        View {
            filter,
            start_ms: 0,
            end_ms: 0,
            step_ms,
            deployments: Vec::new(),
            panels: Vec::new(),
            gpu_note: None,
            models: Vec::new(),
            autoscaling: Vec::new(),
        }
    }

    #[test]
    fn long_and_finished_ranges_refresh_less_often() {
        let live = |range, step| {
            let filter = Filter {
                range,
                ..Filter::default()
            };
            refresh_interval_ms(&view(filter, step), 10_000_000, 1000)
        };
        assert_eq!(live(TimeRange::Last5m, 1000), 1000);
        assert_eq!(live(TimeRange::Last1h, 15_000), 1000);
        assert_eq!(live(TimeRange::Last24h, 300_000), 10_000);
        assert_eq!(live(TimeRange::Last7d, 3_600_000), 120_000);
        let past = Filter {
            from_ms: Some(1_000_000),
            to_ms: Some(2_000_000),
            ..Filter::default()
        };
        assert_eq!(
            refresh_interval_ms(&view(past, 5000), 10_000_000, 1000),
            60_000
        );
        // An absolute range reaching now is live.
        let recent = Filter {
            from_ms: Some(9_000_000),
            to_ms: Some(10_000_000),
            ..Filter::default()
        };
        assert_eq!(
            refresh_interval_ms(&view(recent, 5000), 10_000_000, 1000),
            1000
        );
    }

    #[test]
    fn filters_that_query_the_same_view_normalise_to_one_stream_key() {
        let live = Filter {
            range: TimeRange::Last1h,
            ..Filter::default()
        };
        // A lone from_ms, or times in the wrong order, read as the live range: one key.
        for times in [
            (Some(5), None),
            (None, Some(9)),
            (Some(9), Some(5)),
            (Some(-1), Some(5)),
        ] {
            let odd = Filter {
                from_ms: times.0,
                to_ms: times.1,
                ..live.clone()
            };
            assert_eq!(normalise(odd), normalise(live.clone()), "{times:?}");
        }
        // A real absolute range keeps its times.
        let absolute = Filter {
            from_ms: Some(1_000),
            to_ms: Some(2_000),
            ..live.clone()
        };
        assert_eq!(normalise(absolute.clone()).absolute(), Some((1_000, 2_000)));
        assert_ne!(normalise(absolute), normalise(live));
    }
}
