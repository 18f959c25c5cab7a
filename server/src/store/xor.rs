//! Compressed float series: Gorilla-style chunks (delta-of-delta timestamps, XOR values), as
//! Prometheus and Facebook's Gorilla store them. A regular scrape costs a few bits for the
//! timestamp and a single bit for a value that did not change.
//!
//! A stale marker (the series had no value from then on) is a NaN with a reserved payload, so
//! it compresses like any other value.

use std::collections::VecDeque;

/// The bit pattern of the stale marker (the one Prometheus uses).
pub const STALE_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Points per sealed chunk.
pub const CHUNK_POINTS: u16 = 120;

/// Appends bits to a byte vector, most significant bit first, eight bytes at a time.
#[derive(Clone, Debug, Default)]
struct BitWriter {
    /// Completed bytes.
    bytes: Vec<u8>,
    /// Bits not yet flushed, left-aligned.
    pending: u64,
    /// How many bits of `pending` are used (0–63).
    used: u8,
}

impl BitWriter {
    fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    fn write_bits(&mut self, value: u64, count: u8) {
        if count == 0 {
            return;
        }
        let value = if count == 64 {
            value
        } else {
            value & ((1u64 << count) - 1)
        };
        let free = 64 - self.used;
        if count < free {
            self.pending |= value << (free - count);
            self.used += count;
            return;
        }
        // Fill the accumulator, flush it, keep the rest.
        let rest = count - free;
        self.pending |= value >> rest;
        self.bytes.extend_from_slice(&self.pending.to_be_bytes());
        self.pending = if rest == 0 { 0 } else { value << (64 - rest) };
        self.used = rest;
    }

    /// Every bit written so far, the last byte padded with zeros.
    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.bytes.clone();
        let tail = usize::from(self.used).div_ceil(8);
        bytes.extend_from_slice(&self.pending.to_be_bytes()[..tail]);
        bytes
    }
}

/// Reads bits written by [`BitWriter`].
#[derive(Clone, Debug)]
struct BitReader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> BitReader<'a> {
    fn read_bit(&mut self) -> Option<bool> {
        let byte = *self.bytes.get(self.position / 8)?;
        let bit = byte >> (7 - self.position % 8) & 1;
        self.position += 1;
        Some(bit == 1)
    }

    fn read_bits(&mut self, count: u8) -> Option<u64> {
        let mut value = 0u64;
        let mut remaining = count;
        while remaining > 0 {
            let byte = *self.bytes.get(self.position / 8)?;
            let used = (self.position % 8) as u8;
            let available = 8 - used;
            let take = remaining.min(available);
            let bits = (byte >> (available - take)) & (((1u16 << take) - 1) as u8);
            value = (value << take) | u64::from(bits);
            self.position += usize::from(take);
            remaining -= take;
        }
        Some(value)
    }
}

/// Encoder state for one chunk.
#[derive(Clone, Debug, Default)]
struct Encoder {
    bits: BitWriter,
    count: u16,
    first_ms: i64,
    last_ms: i64,
    delta: i64,
    value: u64,
    leading: u8,
    trailing: u8,
}

/// Whether `value` fits in `bits` bits of two's complement.
fn fits(value: i64, bits: u8) -> bool {
    let limit = 1i64 << (bits - 1);
    value >= -limit && value < limit
}

impl Encoder {
    fn push(&mut self, time_ms: i64, value: f64) {
        let bits = value.to_bits();
        match self.count {
            0 => {
                self.bits.write_bits(time_ms as u64, 64);
                self.bits.write_bits(bits, 64);
                self.first_ms = time_ms;
            }
            _ => {
                let delta = time_ms - self.last_ms;
                let dod = delta - self.delta;
                self.write_dod(dod);
                self.delta = delta;
                self.write_value(bits);
            }
        }
        self.last_ms = time_ms;
        self.value = bits;
        self.count += 1;
    }

    fn write_dod(&mut self, dod: i64) {
        let w = &mut self.bits;
        if dod == 0 {
            w.write_bit(false);
        } else if fits(dod, 14) {
            w.write_bits(0b10, 2);
            w.write_bits(dod as u64 & 0x3fff, 14);
        } else if fits(dod, 17) {
            w.write_bits(0b110, 3);
            w.write_bits(dod as u64 & 0x1_ffff, 17);
        } else if fits(dod, 20) {
            w.write_bits(0b1110, 4);
            w.write_bits(dod as u64 & 0xf_ffff, 20);
        } else {
            w.write_bits(0b1111, 4);
            w.write_bits(dod as u64, 64);
        }
    }

    fn write_value(&mut self, bits: u64) {
        let xor = bits ^ self.value;
        let w = &mut self.bits;
        if xor == 0 {
            w.write_bit(false);
            return;
        }
        w.write_bit(true);
        let leading = (xor.leading_zeros() as u8).min(31);
        let trailing = xor.trailing_zeros() as u8;
        let have_window = self.count > 1 || self.leading != 0 || self.trailing != 0;
        if have_window && leading >= self.leading && trailing >= self.trailing {
            w.write_bit(false);
            let significant = 64 - self.leading - self.trailing;
            w.write_bits(xor >> self.trailing, significant);
        } else {
            w.write_bit(true);
            let significant = 64 - leading - trailing;
            w.write_bits(u64::from(leading), 5);
            // 64 significant bits are written as 0 (six bits hold 0–63).
            w.write_bits(u64::from(significant & 63), 6);
            w.write_bits(xor >> trailing, significant);
            self.leading = leading;
            self.trailing = trailing;
        }
    }
}

/// Decodes a chunk's points.
#[derive(Clone, Debug)]
pub struct ChunkIter<'a> {
    bits: BitReader<'a>,
    remaining: u16,
    read: u16,
    time: i64,
    delta: i64,
    value: u64,
    leading: u8,
    trailing: u8,
}

fn sign_extend(value: u64, bits: u8) -> i64 {
    let shift = 64 - bits;
    ((value << shift) as i64) >> shift
}

impl<'a> ChunkIter<'a> {
    fn new(bytes: &'a [u8], count: u16) -> ChunkIter<'a> {
        ChunkIter {
            bits: BitReader { bytes, position: 0 },
            remaining: count,
            read: 0,
            time: 0,
            delta: 0,
            value: 0,
            leading: 0,
            trailing: 0,
        }
    }

    fn read_dod(&mut self) -> Option<i64> {
        let r = &mut self.bits;
        if !r.read_bit()? {
            return Some(0);
        }
        if !r.read_bit()? {
            return Some(sign_extend(r.read_bits(14)?, 14));
        }
        if !r.read_bit()? {
            return Some(sign_extend(r.read_bits(17)?, 17));
        }
        if !r.read_bit()? {
            return Some(sign_extend(r.read_bits(20)?, 20));
        }
        Some(r.read_bits(64)? as i64)
    }

    fn read_value(&mut self) -> Option<u64> {
        let r = &mut self.bits;
        if !r.read_bit()? {
            return Some(self.value);
        }
        if r.read_bit()? {
            self.leading = r.read_bits(5)? as u8;
            let significant = match r.read_bits(6)? as u8 {
                0 => 64,
                n => n,
            };
            self.trailing = 64 - self.leading - significant;
        }
        let significant = 64 - self.leading - self.trailing;
        let xor = r.read_bits(significant)? << self.trailing;
        Some(self.value ^ xor)
    }
}

impl Iterator for ChunkIter<'_> {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        if self.read == 0 {
            self.time = self.bits.read_bits(64)? as i64;
            self.value = self.bits.read_bits(64)?;
        } else {
            let dod = self.read_dod()?;
            self.delta += dod;
            self.time += self.delta;
            self.value = self.read_value()?;
        }
        self.read += 1;
        self.remaining -= 1;
        Some((self.time, f64::from_bits(self.value)))
    }
}

/// A sealed chunk.
#[derive(Clone, Debug)]
struct Chunk {
    first_ms: i64,
    last_ms: i64,
    count: u16,
    bytes: Box<[u8]>,
}

/// A compressed series of `(time, value)` points, time ascending; `None` is a stale marker.
#[derive(Clone, Debug, Default)]
pub struct FloatSeries {
    sealed: VecDeque<Chunk>,
    head: Encoder,
}

impl FloatSeries {
    /// An empty series.
    pub fn new() -> FloatSeries {
        FloatSeries::default()
    }

    /// Appends a point; a point older than the last one is dropped.
    pub fn push(&mut self, time_ms: i64, value: Option<f64>) {
        if let Some(last) = self.last_time()
            && time_ms < last
        {
            return;
        }
        if self.head.count == CHUNK_POINTS {
            let head = std::mem::take(&mut self.head);
            self.sealed.push_back(Chunk {
                first_ms: head.first_ms,
                last_ms: head.last_ms,
                count: head.count,
                bytes: head.bits.to_bytes().into_boxed_slice(),
            });
        }
        let value = value.unwrap_or(f64::from_bits(STALE_BITS));
        self.head.push(time_ms, value);
    }

    /// Drops whole chunks that end before `oldest_ms` (a chunk is kept while any point of it is
    /// still wanted; readers filter by time).
    pub fn expire(&mut self, oldest_ms: i64) {
        while self
            .sealed
            .front()
            .is_some_and(|chunk| chunk.last_ms < oldest_ms)
        {
            self.sealed.pop_front();
        }
        if self.sealed.is_empty() && self.head.count > 0 && self.head.last_ms < oldest_ms {
            self.head = Encoder::default();
        }
    }

    /// True when no point is held.
    pub fn is_empty(&self) -> bool {
        self.sealed.is_empty() && self.head.count == 0
    }

    /// Points held.
    pub fn len(&self) -> usize {
        self.sealed
            .iter()
            .map(|chunk| usize::from(chunk.count))
            .sum::<usize>()
            + usize::from(self.head.count)
    }

    /// Time of the oldest point held.
    pub fn first_time(&self) -> Option<i64> {
        match self.sealed.front() {
            Some(chunk) => Some(chunk.first_ms),
            None => (self.head.count > 0).then_some(self.head.first_ms),
        }
    }

    /// Time of the newest point held.
    pub fn last_time(&self) -> Option<i64> {
        if self.head.count > 0 {
            return Some(self.head.last_ms);
        }
        self.sealed.back().map(|chunk| chunk.last_ms)
    }

    /// Heap bytes used by the points.
    pub fn heap_bytes(&self) -> usize {
        self.sealed
            .iter()
            .map(|chunk| chunk.bytes.len() + std::mem::size_of::<Chunk>())
            .sum::<usize>()
            + self.head.bits.bytes.capacity()
            + 8
    }

    /// Points with `after_ms < time <= until_ms`, oldest first.
    pub fn range(
        &self,
        after_ms: i64,
        until_ms: i64,
    ) -> impl Iterator<Item = (i64, Option<f64>)> + '_ {
        let sealed = self
            .sealed
            .iter()
            .filter(move |chunk| chunk.last_ms > after_ms && chunk.first_ms <= until_ms)
            .flat_map(|chunk| ChunkIter::new(&chunk.bytes, chunk.count));
        let head_bytes =
            (self.head.count > 0 && self.head.last_ms > after_ms && self.head.first_ms <= until_ms)
                .then(|| self.head.bits.to_bytes());
        let head_count = self.head.count;
        let head = head_bytes
            .into_iter()
            .flat_map(move |bytes| ChunkIter::new(&bytes, head_count).collect::<Vec<_>>());
        sealed
            .chain(head)
            .filter(move |(time, _)| *time > after_ms && *time <= until_ms)
            .map(|(time, value)| (time, (value.to_bits() != STALE_BITS).then_some(value)))
    }

    /// All points, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (i64, Option<f64>)> + '_ {
        self.range(i64::MIN, i64::MAX)
    }

    /// The last point with `time <= until_ms`, if it is newer than `after_ms`.
    pub fn last_in(&self, after_ms: i64, until_ms: i64) -> Option<(i64, Option<f64>)> {
        self.range(after_ms, until_ms).last()
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    #[test]
    fn round_trips_any_points() {
        let mut rng = SmallRng::seed_from_u64(11);
        for _ in 0..200 {
            let mut series = FloatSeries::new();
            let mut expected = Vec::new();
            let mut time = rng.random_range(-1_000_000_000_000_i64..2_000_000_000_000);
            for _ in 0..rng.random_range(0..400) {
                time += match rng.random_range(0..5) {
                    0 => 1000,
                    1 => rng.random_range(0..3000),
                    2 => rng.random_range(0..10_000_000),
                    3 => rng.random_range(0..i64::from(u32::MAX)) * 1000,
                    _ => 0,
                };
                let value = match rng.random_range(0..7) {
                    0 => None,
                    1 => Some(f64::from_bits(rng.random())),
                    2 => Some(rng.random_range(0.0..1e9_f64).round()),
                    3 => Some(0.0),
                    4 => Some(f64::INFINITY),
                    5 => Some(-rng.random_range(0.0..1.0)),
                    _ => expected.last().and_then(|(_, v): &(i64, Option<f64>)| *v),
                };
                series.push(time, value);
                expected.push((time, value));
            }
            let decoded: Vec<(i64, Option<f64>)> = series.iter().collect();
            assert_eq!(decoded.len(), expected.len());
            for ((t1, v1), (t2, v2)) in decoded.iter().zip(&expected) {
                assert_eq!(t1, t2);
                match (v1, v2) {
                    (Some(a), Some(b)) => assert_eq!(a.to_bits(), b.to_bits()),
                    (None, None) => {}
                    other => panic!("mismatch {other:?}"),
                }
            }
        }
    }

    #[test]
    fn regular_scrapes_of_a_steady_value_cost_about_a_bit_each() {
        let mut series = FloatSeries::new();
        for i in 0..1200 {
            series.push(1_700_000_000_000 + i * 1000, Some(42.0));
        }
        // 10 chunks; each spends 16 bytes on its first point, then 2 bits per point.
        assert!(
            series.heap_bytes() < 10 * (16 + 32 + 48),
            "{}",
            series.heap_bytes()
        );
        assert_eq!(series.len(), 1200);
    }

    #[test]
    fn ranges_and_expiry_follow_time() {
        let mut series = FloatSeries::new();
        for i in 0..300 {
            series.push(i * 1000, Some(i as f64));
        }
        let middle: Vec<i64> = series.range(10_000, 13_000).map(|(t, _)| t).collect();
        assert_eq!(middle, vec![11_000, 12_000, 13_000]);
        assert_eq!(series.last_in(0, 150_500), Some((150_000, Some(150.0))));
        series.expire(130_000);
        // Whole chunks go: the first (0–119 s) is gone, the second (120–239 s) stays.
        assert_eq!(series.first_time(), Some(120_000));
        series.push(100, Some(1.0));
        assert_eq!(
            series.last_time(),
            Some(299_000),
            "older points are dropped"
        );
    }
}
