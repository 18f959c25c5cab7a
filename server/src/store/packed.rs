//! Histogram increments packed into bytes: a few bytes per non-zero bucket instead of a
//! `HistogramIncrement` on the heap per point.
//!
//! Points live in chunks of at most [`CHUNK_POINTS`] sharing one bucket layout. Each point is
//! `varint(time - previous time)`, then a tag byte (0: stale marker, 1: values), then the number
//! of non-zero buckets, each as `varint(index - previous index)` and a count, then the count and
//! the sum. Counts are `varint(n << 1)` when whole (the usual case), else `1` and the eight
//! bytes of the float; the sum is always eight bytes.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::model::HistogramIncrement;

/// Most points in one chunk.
pub const CHUNK_POINTS: usize = 120;

#[derive(Clone, Debug)]
struct Chunk {
    bounds: Arc<[f64]>,
    first_ms: i64,
    last_ms: i64,
    points: usize,
    bytes: Vec<u8>,
}

/// A bounded, time-ordered series of histogram increments (or stale markers).
#[derive(Clone, Debug)]
pub struct HistogramSeries {
    chunks: VecDeque<Chunk>,
    points: usize,
    capacity: usize,
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn get_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(value);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// Largest count stored as a whole number (beyond it floats lose integers anyway).
const WHOLE_LIMIT: f64 = 9_007_199_254_740_992.0;

fn put_count(out: &mut Vec<u8>, count: f64) {
    if (0.0..WHOLE_LIMIT).contains(&count) && count.fract() == 0.0 {
        put_varint(out, (count as u64) << 1);
    } else {
        out.push(1);
        out.extend_from_slice(&count.to_le_bytes());
    }
}

fn get_f64(bytes: &[u8], at: &mut usize) -> Option<f64> {
    let raw: [u8; 8] = bytes.get(*at..*at + 8)?.try_into().ok()?;
    *at += 8;
    Some(f64::from_le_bytes(raw))
}

fn get_count(bytes: &[u8], at: &mut usize) -> Option<f64> {
    let tag = get_varint(bytes, at)?;
    if tag & 1 == 0 {
        Some((tag >> 1) as f64)
    } else {
        get_f64(bytes, at)
    }
}

impl Chunk {
    fn decode(&self) -> ChunkIter<'_> {
        ChunkIter {
            chunk: self,
            at: 0,
            time: self.first_ms,
            left: self.points,
            first: true,
        }
    }
}

struct ChunkIter<'a> {
    chunk: &'a Chunk,
    at: usize,
    time: i64,
    left: usize,
    first: bool,
}

impl Iterator for ChunkIter<'_> {
    type Item = (i64, Option<HistogramIncrement>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let bytes = &self.chunk.bytes;
        let delta = get_varint(bytes, &mut self.at)?;
        self.time = if self.first {
            self.first = false;
            self.chunk.first_ms
        } else {
            self.time + delta as i64
        };
        let tag = *bytes.get(self.at)?;
        self.at += 1;
        if tag == 0 {
            return Some((self.time, None));
        }
        let entries = get_varint(bytes, &mut self.at)? as usize;
        let mut buckets = Vec::with_capacity(entries);
        let mut index = 0u64;
        for _ in 0..entries {
            index += get_varint(bytes, &mut self.at)?;
            let count = get_count(bytes, &mut self.at)?;
            buckets.push((u32::try_from(index).ok()?, count));
        }
        let count = get_count(bytes, &mut self.at)?;
        let sum = get_f64(bytes, &mut self.at)?;
        Some((
            self.time,
            Some(HistogramIncrement {
                bounds: self.chunk.bounds.clone(),
                buckets,
                sum,
                count,
            }),
        ))
    }
}

impl HistogramSeries {
    /// An empty series holding at most `capacity` points (whole chunks are dropped when full).
    pub fn new(capacity: usize) -> HistogramSeries {
        HistogramSeries {
            chunks: VecDeque::new(),
            points: 0,
            capacity: capacity.max(CHUNK_POINTS),
        }
    }

    /// Appends a point; one older than the last is dropped.
    pub fn push(&mut self, time_ms: i64, value: Option<&HistogramIncrement>) {
        if self.last_time().is_some_and(|last| time_ms < last) {
            return;
        }
        let needs_chunk = match (self.chunks.back(), value) {
            (None, _) => true,
            (Some(chunk), _) if chunk.points >= CHUNK_POINTS => true,
            (Some(chunk), Some(increment)) => {
                !Arc::ptr_eq(&chunk.bounds, &increment.bounds)
                    && chunk.bounds[..] != increment.bounds[..]
            }
            (Some(_), None) => false,
        };
        if needs_chunk {
            let bounds = match (value, self.chunks.back()) {
                (Some(increment), _) => increment.bounds.clone(),
                (None, Some(chunk)) => chunk.bounds.clone(),
                (None, None) => Arc::from(Vec::new()),
            };
            self.chunks.push_back(Chunk {
                bounds,
                first_ms: time_ms,
                last_ms: time_ms,
                points: 0,
                bytes: Vec::with_capacity(64),
            });
        }
        let Some(chunk) = self.chunks.back_mut() else {
            return;
        };
        let delta = if chunk.points == 0 {
            0
        } else {
            (time_ms - chunk.last_ms) as u64
        };
        let bytes = &mut chunk.bytes;
        put_varint(bytes, delta);
        match value {
            None => bytes.push(0),
            Some(increment) => {
                bytes.push(1);
                put_varint(bytes, increment.buckets.len() as u64);
                let mut previous = 0u64;
                for &(index, count) in &increment.buckets {
                    // Indices ascend; a (malformed) descending one is stored as a zero step.
                    let index = u64::from(index).max(previous);
                    put_varint(bytes, index - previous);
                    previous = index;
                    put_count(bytes, count);
                }
                put_count(bytes, increment.count);
                bytes.extend_from_slice(&increment.sum.to_le_bytes());
            }
        }
        chunk.last_ms = time_ms;
        chunk.points += 1;
        self.points += 1;
        if chunk.points == CHUNK_POINTS {
            chunk.bytes.shrink_to_fit();
        }
        while self.points > self.capacity {
            match self.chunks.pop_front() {
                Some(old) => self.points -= old.points,
                None => break,
            }
        }
    }

    /// Drops chunks whose points are all older than `oldest_ms` (so up to a chunk of older
    /// points may stay; readers ask for ranges).
    pub fn expire(&mut self, oldest_ms: i64) {
        while self
            .chunks
            .front()
            .is_some_and(|chunk| chunk.last_ms < oldest_ms)
        {
            if let Some(old) = self.chunks.pop_front() {
                self.points -= old.points;
            }
        }
    }

    /// True when no point is held.
    pub fn is_empty(&self) -> bool {
        self.points == 0
    }

    /// Number of points held.
    pub fn len(&self) -> usize {
        self.points
    }

    /// Time of the oldest point.
    pub fn first_time(&self) -> Option<i64> {
        self.chunks.front().map(|chunk| chunk.first_ms)
    }

    /// Time of the newest point.
    pub fn last_time(&self) -> Option<i64> {
        self.chunks.back().map(|chunk| chunk.last_ms)
    }

    /// Bytes held on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.chunks
            .iter()
            .map(|chunk| chunk.bytes.capacity() + std::mem::size_of::<Chunk>())
            .sum()
    }

    /// Every point, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (i64, Option<HistogramIncrement>)> + '_ {
        self.chunks.iter().flat_map(Chunk::decode)
    }

    /// Points with `after_ms < time <= until_ms`, oldest first.
    pub fn range(
        &self,
        after_ms: i64,
        until_ms: i64,
    ) -> impl Iterator<Item = (i64, Option<HistogramIncrement>)> + '_ {
        self.chunks
            .iter()
            .filter(move |chunk| chunk.last_ms > after_ms && chunk.first_ms <= until_ms)
            .flat_map(Chunk::decode)
            .skip_while(move |(time, _)| *time <= after_ms)
            .take_while(move |(time, _)| *time <= until_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn increment(bounds: &Arc<[f64]>, buckets: Vec<(u32, f64)>, sum: f64) -> HistogramIncrement {
        let count = buckets.iter().map(|(_, c)| c).sum();
        HistogramIncrement {
            bounds: bounds.clone(),
            buckets,
            sum,
            count,
        }
    }

    #[test]
    fn round_trips_values_markers_and_layout_changes() {
        let a: Arc<[f64]> = Arc::from(vec![0.1, 1.0, 10.0]);
        let b: Arc<[f64]> = Arc::from(vec![0.5, 5.0]);
        let mut series = HistogramSeries::new(1000);
        let mut expected = Vec::new();
        for step in 0..300i64 {
            let time = 1_000_000 + step * 1000 + (step % 3);
            let value = match step % 50 {
                7 => None,
                _ if step < 200 => Some(increment(
                    &a,
                    vec![(0, 1.0), (2, step as f64), (3, 0.5)],
                    step as f64 * 0.25,
                )),
                _ => Some(increment(&b, vec![(1, 1e300), (2, 3.0)], -1.5)),
            };
            series.push(time, value.as_ref());
            expected.push((time, value));
        }
        // Out of order: dropped.
        series.push(0, None);
        let all: Vec<_> = series.iter().collect();
        assert_eq!(all, expected);
        assert_eq!(series.len(), 300);
        let some: Vec<_> = series
            .range(1_000_000 + 99_999, 1_000_000 + 150_000)
            .collect();
        assert_eq!(some.first().map(|p| p.0), Some(1_000_000 + 100_000 + 1));
        assert_eq!(some.last().map(|p| p.0), Some(1_000_000 + 150_000));
        assert_eq!(some.len(), 51);
        assert!(series.heap_bytes() < 300 * 48, "{}", series.heap_bytes());
    }

    #[test]
    fn keeps_to_its_capacity_and_expires_whole_chunks() {
        let bounds: Arc<[f64]> = Arc::from(vec![1.0]);
        let mut series = HistogramSeries::new(CHUNK_POINTS * 2);
        for step in 0..(CHUNK_POINTS as i64 * 5) {
            series.push(step, Some(&increment(&bounds, vec![(0, 1.0)], 0.5)));
        }
        assert!(series.len() <= CHUNK_POINTS * 2);
        assert_eq!(series.last_time(), Some(CHUNK_POINTS as i64 * 5 - 1));
        series.expire(CHUNK_POINTS as i64 * 5 - 1);
        assert_eq!(series.first_time(), Some(CHUNK_POINTS as i64 * 4));
        series.expire(i64::MAX);
        assert!(series.is_empty());
    }
}
