//! Per-position constraints: the tone and rhyme classes of regulated verse and the
//! repeat rule (no loops), as both picks and both commits read them.

/// The most constraint classes a request may use (a 对对子 answer of 30 characters
/// needs one per position: its tone and the given line's character there).
pub const MAX_CLASSES: usize = 32;
/// The most positions one line of the repeat rule may have (with the rhyme
/// positions), and the most lines.
pub const MAX_LINE: usize = 32;

/// Per-position allowed sets, as classes: `at[i] = 0` leaves position `i` to
/// `exclude` alone, `at[i] = k ≥ 1` also excludes `classes[k − 1]` there. An empty
/// `at` means no constraint. The GPU's pick reads the same table
/// (`gpu::ops::pick::pick_tables`).
///
/// `line` is the repeat rule (empty: none): positions with the same nonzero id form
/// a line in which the model writes no character that the line already holds, except
/// right next to itself — 叠字 such as 萋萋 are part of the art, loops such as
/// 不知人不知人 are not — and then only a character of `doubles` when that is not
/// empty (the prosody data's list of what the corpus doubles: 萋萋, not 不不). The [`RHYME`] bit puts a position in one more such set, the
/// poem's rhyme positions, whatever their lines: a regulated poem never rhymes on one
/// character twice (重韵). Nor does a pick finish a copy of a written line
/// ([`copies_at`]), nor write a run of two characters that two other places of the
/// text already hold ([`runs_at`]: 江南 … 江南 … 江南 is a loop across lines).
/// Characters the user pinned or gave count as held, and may
/// repeat among themselves. Two picks of one step that would clash are settled in
/// `commit`: the better one is committed, the other waits a step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Constraints {
    pub classes: Vec<Vec<u32>>,
    pub at: Vec<u8>,
    pub line: Vec<u8>,
    /// Sorted ids that may stand beside themselves in a line (empty: any).
    pub doubles: Vec<u32>,
}

/// The bit of a `Constraints::line` word that puts a position in the rhyme set; the
/// other bits are its line id (0: none).
pub const RHYME: u8 = 0x80;

/// Whether two positions with these `Constraints::line` words share a set of the
/// repeat rule: the same line, or both rhyme positions. (`shaders/pick.wgsl` and
/// `shaders/commit.wgsl` test the same.)
pub fn same_set(a: u8, b: u8) -> bool {
    let (la, lb) = (a & !RHYME, b & !RHYME);
    (la != 0 && la == lb) || (a & b & RHYME) != 0
}

/// `Constraints::line` word of `c` per position (0 for positions past `line`).
fn line_of(c: &Constraints, pos: usize) -> u8 {
    c.line.get(pos).copied().unwrap_or(0)
}

/// The characters the repeat rule forbids at `pos`: those its sets hold at a
/// position not next to it, those next to it that may not double
/// ([`Constraints::may_double`]), [`copies_at`] and [`runs_at`].
pub fn repeats_at(tokens: &[u32], c: &Constraints, mask_id: u32, pos: usize) -> Vec<u32> {
    let l = line_of(c, pos);
    if l == 0 {
        return Vec::new();
    }
    let held = |q: usize| q.abs_diff(pos) > 1 || (q != pos && !c.may_double(tokens[q]));
    let mut out: Vec<u32> = (0..tokens.len())
        .filter(|&q| same_set(l, line_of(c, q)) && held(q) && tokens[q] != mask_id)
        .map(|q| tokens[q])
        .collect();
    out.extend(copies_at(tokens, c, mask_id, pos));
    out.extend(runs_at(tokens, c, mask_id, pos));
    out
}

/// The characters that would make `pos` the third of three identical characters in
/// a row (with two written neighbours on one side, or one on each): never written,
/// in any task, whatever the constraints — 叠字 such as 萋萋 are the art, 日日日 is a
/// loop (370 of the corpus's 3.2M lines hold one). Under the repeat rule the line
/// bans them anyway; this is the loop guard of the tasks without it (the next or
/// previous line, masked characters). At most three ids.
pub fn triples_at(tokens: &[u32], mask_id: u32, pos: usize) -> Vec<u32> {
    let at = |q: Option<usize>| q.and_then(|q| tokens.get(q)).copied().filter(|&x| x != mask_id);
    let (l2, l1, r1, r2) = (at(pos.checked_sub(2)), at(pos.checked_sub(1)), at(Some(pos + 1)), at(Some(pos + 2)));
    let mut out: Vec<u32> =
        [(l2, l1), (l1, r1), (r1, r2)].into_iter().filter_map(|(a, b)| a.filter(|_| a == b)).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The characters that would write, beside a written neighbour in `pos`'s line, a
/// run of two characters (two written positions side by side in one line) that the
/// text holds twice already. (Picks of one step that would make a third run
/// together are settled in [`commit`].)
pub fn runs_at(tokens: &[u32], c: &Constraints, mask_id: u32, pos: usize) -> Vec<u32> {
    let id = |q: usize| line_of(c, q) & !RHYME;
    let l = id(pos);
    if l == 0 {
        return Vec::new();
    }
    let runs: Vec<(u32, u32)> = (1..tokens.len())
        .filter(|&q| id(q) != 0 && id(q - 1) == id(q) && tokens[q - 1] != mask_id && tokens[q] != mask_id)
        .map(|q| (tokens[q - 1], tokens[q]))
        .collect();
    let twice = |r: &(u32, u32)| runs.iter().filter(|&x| x == r).count() >= 2;
    let written = |q: usize| id(q) == l && tokens[q] != mask_id;
    let mut out = Vec::new();
    if pos > 0 && written(pos - 1) {
        out.extend(runs.iter().filter(|r| r.0 == tokens[pos - 1] && twice(r)).map(|r| r.1));
    }
    if pos + 1 < tokens.len() && written(pos + 1) {
        out.extend(runs.iter().filter(|r| r.1 == tokens[pos + 1] && twice(r)).map(|r| r.0));
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The characters that would make `pos`'s line a copy of another line: when every
/// other position of its line is written, each written line of as many positions
/// that holds the same characters in the same order everywhere else bans its own
/// character at `pos`'s place (a line is its positions in order, whatever lies
/// between them).
pub fn copies_at(tokens: &[u32], c: &Constraints, mask_id: u32, pos: usize) -> Vec<u32> {
    let id = |q: usize| line_of(c, q) & !RHYME;
    let l = id(pos);
    if l == 0 {
        return Vec::new();
    }
    let mine: Vec<usize> = (0..tokens.len()).filter(|&q| id(q) == l).collect();
    let off = mine.iter().position(|&q| q == pos).expect("pos is in its line");
    if mine.iter().any(|&q| q != pos && tokens[q] == mask_id) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for first in 0..tokens.len() {
        let o = id(first);
        // Each other line once, from its first position.
        if o == 0 || o == l || (0..first).any(|q| id(q) == o) {
            continue;
        }
        let theirs: Vec<usize> = (first..tokens.len()).filter(|&q| id(q) == o).collect();
        let copy = theirs.len() == mine.len()
            && theirs.iter().all(|&q| tokens[q] != mask_id)
            && (0..mine.len()).all(|j| j == off || tokens[theirs[j]] == tokens[mine[j]]);
        if copy {
            out.push(tokens[theirs[off]]);
        }
    }
    out
}

impl Constraints {
    /// Whether `id` may stand beside itself in a line of the repeat rule (叠字).
    pub fn may_double(&self, id: u32) -> bool {
        self.doubles.is_empty() || self.doubles.binary_search(&id).is_ok()
    }

    /// The ids excluded at `pos` besides `exclude`.
    pub fn excluded_at(&self, pos: usize) -> &[u32] {
        match self.at.get(pos) {
            Some(&k) if k > 0 => self.classes.get(k as usize - 1).map_or(&[], Vec::as_slice),
            _ => &[],
        }
    }
}
