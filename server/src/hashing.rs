//! Hashing on the hot path. Maps keyed by strings use `foldhash` (fast, seeded per process, so
//! exporters cannot aim collisions at us). Maps keyed by series ids, which are already such
//! hashes, use them as they are.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A hasher for keys that are already well-mixed 64-bit hashes: it passes them through.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are expected; anything else is folded in, still correctly.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by series ids.
pub type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// A set of series ids.
pub type IdSet = HashSet<u64, BuildHasherDefault<IdHasher>>;

/// A map keyed by anything else, hashed with `foldhash`.
pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
