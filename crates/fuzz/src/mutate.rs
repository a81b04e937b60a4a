//! The stable runner's mutator: without coverage feedback, so it leans on a corpus
//! of valid and near-valid inputs and edits them the way format bugs are found —
//! bit flips, boundary values written over numbers, inserted or deleted runs,
//! duplicated chunks, splices of two inputs, truncation.

use unmask::rng::SplitMix64;

/// Values that sit on the edges of sizes, signs and float encodings.
const INTERESTING: [&[u8]; 12] = [
    b"0",
    b"-1",
    b"4294967295",
    b"18446744073709551615",
    b"1e39",
    b"NaN",
    b"null",
    b"\xff\xff\xff\xff",
    b"\x00\x00\x00\x00",
    b"\x7f\x80\x00\x00",
    b"%",
    b"[MASK]",
];

fn below(r: &mut SplitMix64, n: usize) -> usize {
    (r.next_u64() % n.max(1) as u64) as usize
}

/// One to eight edits of `input`, `other` available for splicing; at most `max_len` bytes.
pub fn mutate(input: &[u8], other: &[u8], r: &mut SplitMix64, max_len: usize) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..1 + below(r, 8) {
        let at = below(r, b.len() + 1);
        match below(r, 9) {
            0 if !b.is_empty() => {
                let i = below(r, b.len());
                b[i] ^= 1 << below(r, 8);
            }
            1 if !b.is_empty() => {
                let i = below(r, b.len());
                b[i] = r.next_u64() as u8;
            }
            2 => {
                let v = INTERESTING[below(r, INTERESTING.len())];
                let end = (at + v.len()).min(b.len());
                b.splice(at..end, v.iter().copied());
            }
            3 => {
                let v = INTERESTING[below(r, INTERESTING.len())];
                b.splice(at..at, v.iter().copied());
            }
            4 if !b.is_empty() => {
                let at = at.min(b.len() - 1);
                let n = 1 + below(r, 16);
                b.drain(at..(at + n).min(b.len()));
            }
            5 if !b.is_empty() => {
                let from = below(r, b.len());
                let n = 1 + below(r, 32.min(b.len() - from));
                let chunk = b[from..from + n].to_vec();
                b.splice(at..at, chunk);
            }
            6 if !other.is_empty() => {
                let from = below(r, other.len());
                let tail = &other[from..(from + 1 + below(r, 256)).min(other.len())];
                b.truncate(at);
                b.extend_from_slice(tail);
            }
            7 => b.truncate(at),
            _ => {
                // A digit run rewritten: numbers in JSON headers and query strings.
                if let Some(i) = (at..b.len()).find(|&i| b[i].is_ascii_digit()) {
                    let j = (i..b.len()).find(|&j| !b[j].is_ascii_digit()).unwrap_or(b.len());
                    let v = r.next_u64() >> below(r, 64);
                    b.splice(i..j, v.to_string().into_bytes());
                }
            }
        }
    }
    b.truncate(max_len);
    b
}
