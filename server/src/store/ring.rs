//! A bounded, time-ordered buffer of points.

use std::collections::VecDeque;

/// Points in time order, at most `capacity` of them. `None` values are stale markers.
#[derive(Clone, Debug)]
pub struct Ring<T> {
    times: VecDeque<i64>,
    values: VecDeque<Option<T>>,
    capacity: usize,
}

impl<T> Ring<T> {
    /// An empty ring holding at most `capacity` points (at least one).
    pub fn new(capacity: usize) -> Ring<T> {
        Ring {
            times: VecDeque::new(),
            values: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Appends a point. A point older than the last one is dropped (time never goes back within
    /// a series); the oldest point goes when the ring is full.
    pub fn push(&mut self, time_ms: i64, value: Option<T>) {
        if let Some(&last) = self.times.back()
            && time_ms < last
        {
            return;
        }
        if self.times.len() == self.capacity {
            self.times.pop_front();
            self.values.pop_front();
        }
        self.times.push_back(time_ms);
        self.values.push_back(value);
    }

    /// Drops points older than `oldest_ms`.
    pub fn expire(&mut self, oldest_ms: i64) {
        while self.times.front().is_some_and(|&time| time < oldest_ms) {
            self.times.pop_front();
            self.values.pop_front();
        }
    }

    /// True when the ring holds no point.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Number of points held.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Time of the oldest point held.
    pub fn first_time(&self) -> Option<i64> {
        self.times.front().copied()
    }

    /// All points, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (i64, Option<&T>)> {
        self.times
            .iter()
            .copied()
            .zip(self.values.iter().map(Option::as_ref))
    }

    /// Points with `after_ms < time <= until_ms`, oldest first.
    pub fn range(&self, after_ms: i64, until_ms: i64) -> impl Iterator<Item = (i64, Option<&T>)> {
        let start = self.times.partition_point(|&time| time <= after_ms);
        let end = self.times.partition_point(|&time| time <= until_ms);
        self.times
            .range(start..end)
            .copied()
            .zip(self.values.range(start..end).map(Option::as_ref))
    }

    /// The last point with `time <= until_ms`, if it is newer than `after_ms`.
    pub fn last_in(&self, after_ms: i64, until_ms: i64) -> Option<(i64, Option<&T>)> {
        let end = self.times.partition_point(|&time| time <= until_ms);
        let index = end.checked_sub(1)?;
        let time = self.times[index];
        (time > after_ms).then(|| (time, self.values[index].as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_capacity_and_ranges() {
        let mut ring = Ring::new(3);
        ring.push(10, Some(1.0));
        ring.push(20, Some(2.0));
        ring.push(15, Some(9.0));
        ring.push(30, None);
        ring.push(40, Some(4.0));
        let all: Vec<_> = ring.iter().map(|(t, v)| (t, v.copied())).collect();
        assert_eq!(all, vec![(20, Some(2.0)), (30, None), (40, Some(4.0))]);
        let middle: Vec<_> = ring.range(20, 40).map(|(t, _)| t).collect();
        assert_eq!(middle, vec![30, 40]);
        assert_eq!(
            ring.last_in(25, 35).map(|(t, v)| (t, v.copied())),
            Some((30, None))
        );
        assert_eq!(ring.last_in(30, 35), None);
        ring.expire(31);
        assert_eq!(ring.len(), 1);
        assert_eq!(ring.first_time(), Some(40));
    }
}
