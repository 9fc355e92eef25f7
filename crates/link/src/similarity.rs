//! String similarity on the hot path. Short ASCII strings (names, codes, addresses: nearly all
//! of them) take an allocation-free path with bit flags; anything else goes to `strsim`, whose
//! results the fast path reproduces exactly (see the tests).

/// Longest string the fast paths handle: the flags are the bits of a `u64`.
const FAST_MAX: usize = 64;

fn fast(a: &str, b: &str) -> bool {
    a.len() <= FAST_MAX && b.len() <= FAST_MAX && a.is_ascii() && b.is_ascii()
}

/// Jaro–Winkler similarity, identical to `strsim::jaro_winkler`.
pub(crate) fn jaro_winkler(a: &str, b: &str) -> f64 {
    if !fast(a, b) {
        return strsim::jaro_winkler(a, b);
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let sim = jaro_bytes(a, b);
    if sim > 0.7 {
        let prefix = a.iter().take(4).zip(b).take_while(|(x, y)| x == y).count();
        sim + 0.1 * prefix as f64 * (1.0 - sim)
    } else {
        sim
    }
}

fn jaro_bytes(a: &[u8], b: &[u8]) -> f64 {
    let (a_len, b_len) = (a.len(), b.len());
    if a_len == 0 && b_len == 0 {
        return 1.0;
    }
    if a_len == 0 || b_len == 0 {
        return 0.0;
    }
    let range = (a_len.max(b_len) / 2).saturating_sub(1);
    let (mut a_flags, mut b_flags) = (0u64, 0u64);
    let mut matches = 0usize;
    for (i, &x) in a.iter().enumerate() {
        let low = i.saturating_sub(range);
        let high = (i + range + 1).min(b_len);
        for (j, &y) in b.iter().enumerate().take(high).skip(low) {
            if x == y && b_flags & (1 << j) == 0 {
                a_flags |= 1 << i;
                b_flags |= 1 << j;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let mut transpositions = 0usize;
    let mut j = 0usize;
    for (i, &x) in a.iter().enumerate() {
        if a_flags & (1 << i) == 0 {
            continue;
        }
        while j < b_len && b_flags & (1 << j) == 0 {
            j += 1;
        }
        if b.get(j) != Some(&x) {
            transpositions += 1;
        }
        j += 1;
    }
    transpositions /= 2;
    ((matches as f64 / a_len as f64)
        + (matches as f64 / b_len as f64)
        + ((matches - transpositions) as f64 / matches as f64))
        / 3.0
}

/// The positions of each byte in one short ASCII string, for comparing it with many others in
/// turn (u sampling compares each record with hundreds): finding a match within Jaro's window
/// becomes one mask operation instead of a scan.
pub(crate) struct Pattern {
    owner: Option<(usize, usize)>,
    text: Vec<u8>,
    positions: [u64; 128],
}

impl Pattern {
    pub fn new() -> Self {
        Pattern {
            owner: None,
            text: Vec::new(),
            positions: [0; 128],
        }
    }

    /// Loads `text` unless the string of `owner` (comparison, row) is loaded already. Returns
    /// false when `text` does not suit the fast path.
    pub fn load(&mut self, owner: (usize, usize), text: &str) -> bool {
        if self.owner == Some(owner) {
            return true;
        }
        for &b in &self.text {
            self.positions[usize::from(b & 127)] = 0;
        }
        self.text.clear();
        self.owner = None;
        if text.len() > FAST_MAX || !text.is_ascii() {
            return false;
        }
        for (j, b) in text.bytes().enumerate() {
            self.positions[usize::from(b & 127)] |= 1 << j;
        }
        self.text.extend_from_slice(text.as_bytes());
        self.owner = Some(owner);
        true
    }

    /// Jaro–Winkler of `a` (short ASCII) against the loaded string, identical to
    /// `strsim::jaro_winkler(a, loaded)`.
    pub fn jaro_winkler(&self, a: &str) -> f64 {
        let b = self.text.as_slice();
        let a = a.as_bytes();
        if a.len() > FAST_MAX || !a.is_ascii() {
            return strsim::jaro_winkler(&String::from_utf8_lossy(a), &String::from_utf8_lossy(b));
        }
        let (a_len, b_len) = (a.len(), b.len());
        let sim = if a_len == 0 && b_len == 0 {
            1.0
        } else if a_len == 0 || b_len == 0 {
            0.0
        } else {
            let range = (a_len.max(b_len) / 2).saturating_sub(1);
            let (mut a_flags, mut b_flags) = (0u64, 0u64);
            let mut matches = 0usize;
            for (i, &x) in a.iter().enumerate() {
                let low = i.saturating_sub(range);
                let high = (i + range + 1).min(b_len);
                if low >= high {
                    continue;
                }
                // Bits low..high.
                let window = (u64::MAX >> (64 - (high - low))) << low;
                let candidates = self.positions[usize::from(x & 127)] & window & !b_flags;
                if candidates != 0 {
                    b_flags |= candidates & candidates.wrapping_neg();
                    a_flags |= 1 << i;
                    matches += 1;
                }
            }
            if matches == 0 {
                0.0
            } else {
                let mut transpositions = 0usize;
                let mut remaining_b = b_flags;
                let mut remaining_a = a_flags;
                while remaining_a != 0 {
                    let i = remaining_a.trailing_zeros() as usize;
                    let j = remaining_b.trailing_zeros() as usize;
                    if a.get(i) != b.get(j) {
                        transpositions += 1;
                    }
                    remaining_a &= remaining_a - 1;
                    remaining_b &= remaining_b.wrapping_sub(1);
                }
                transpositions /= 2;
                ((matches as f64 / a_len as f64)
                    + (matches as f64 / b_len as f64)
                    + ((matches - transpositions) as f64 / matches as f64))
                    / 3.0
            }
        };
        if sim > 0.7 {
            let prefix = a.iter().take(4).zip(b).take_while(|(x, y)| x == y).count();
            sim + 0.1 * prefix as f64 * (1.0 - sim)
        } else {
            sim
        }
    }
}

/// Levenshtein distance, identical to `strsim::levenshtein`.
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    if !fast(a, b) {
        return strsim::levenshtein(a, b);
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.is_empty() {
        return b.len();
    }
    let mut row = [0usize; FAST_MAX + 1];
    for (j, slot) in row.iter_mut().enumerate().take(b.len() + 1) {
        *slot = j;
    }
    for (i, &x) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &y) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(x != y);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SplitMix64;

    fn random_word(rng: &mut SplitMix64, alphabet: &[char]) -> String {
        let len = rng.below(12) as usize;
        (0..len)
            .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
            .collect()
    }

    #[test]
    fn fast_paths_agree_with_strsim_exactly() {
        let mut rng = SplitMix64::new(5);
        let ascii: Vec<char> = "abcde ".chars().collect();
        let mixed: Vec<char> = "abc张伟".chars().collect();
        for alphabet in [&ascii, &mixed] {
            for _ in 0..20_000 {
                let a = random_word(&mut rng, alphabet);
                let b = random_word(&mut rng, alphabet);
                assert_eq!(
                    jaro_winkler(&a, &b).to_bits(),
                    strsim::jaro_winkler(&a, &b).to_bits(),
                    "{a:?} {b:?}"
                );
                assert_eq!(
                    levenshtein(&a, &b),
                    strsim::levenshtein(&a, &b),
                    "{a:?} {b:?}"
                );
            }
        }
        let mut pattern = Pattern::new();
        let mut rng = SplitMix64::new(6);
        for round in 0..20_000 {
            let a = random_word(&mut rng, &ascii);
            let b = random_word(&mut rng, &ascii);
            assert!(pattern.load((0, round / 3), &b));
            let loaded = String::from_utf8(pattern.text.clone()).unwrap();
            assert_eq!(
                pattern.jaro_winkler(&a).to_bits(),
                strsim::jaro_winkler(&a, &loaded).to_bits(),
                "{a:?} {loaded:?}"
            );
        }
        assert!(
            !pattern.load((1, 0), "张伟"),
            "non-ASCII takes the slow path"
        );
        let long = "x".repeat(80);
        assert_eq!(jaro_winkler(&long, "xx"), strsim::jaro_winkler(&long, "xx"));
        assert_eq!(levenshtein(&long, "xx"), 78);
    }
}
