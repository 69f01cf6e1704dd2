//! Fast hashing for the NLU's internal tables.
//!
//! The tables are keyed by short strings from our own data (lexicon entries,
//! catalogue words, training vocabulary) and only looked up with message text,
//! so hash flooding is not a concern and FNV-1a is several times faster than
//! the standard library's SipHash for such keys.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 of a string.
pub fn fnv1a(s: &str) -> u64 {
    let mut h = OFFSET;
    for b in s.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(PRIME);
    }
    h
}

/// FNV-1a as a [`Hasher`], for [`FnvMap`].
#[derive(Default)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { OFFSET } else { self.0 };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(PRIME);
        }
        self.0 = h;
    }
}

/// A `HashMap` hashed with FNV-1a.
pub type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn matches_the_published_fnv1a_test_vectors() {
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a("foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn map_keys_hash_consistently() {
        let b = BuildHasherDefault::<Fnv>::default();
        assert_eq!(b.hash_one("order"), b.hash_one("order"));
        assert_ne!(b.hash_one("order"), b.hash_one("orders"));
        let mut m: FnvMap<&str, u32> = FnvMap::default();
        m.insert("refund", 1);
        assert_eq!(m.get("refund"), Some(&1));
    }
}
