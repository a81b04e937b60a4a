// The repeat rule's helpers, shared by pick.wgsl and commit.wgsl (the sampler's
// parameters, `sp`, are a `SamplerUniform`, declared from `gpu::ops`).

const RHYME: u32 = 0x80u; // sampler::RHYME

// Whether two positions' line words share a set of the repeat rule (the same line,
// or both rhyme positions): `sampler::same_set`.
fn same_set(a: u32, b: u32) -> bool {
    let la = a & ~RHYME;
    return (la != 0u && la == (b & ~RHYME)) || (a & b & RHYME) != 0u;
}

// The repeat rule beyond a line's own characters, for the pick (what a position may
// not take) and the commit (whether a pick still holds after the better picks of its
// step): `held` collects the banned ids. Each shader defines `line_word(q)`, the
// repeat rule's word of position q, from its own table.
const MAX_LINE: u32 = 32u; // sampler::MAX_LINE
// What a position's sets hold (≤ MAX_LINE), one copy ban per other line (< MAX_LINE),
// the run bans (distinct, each of two runs: < MAX_SEQ / 2 a side) and the triple
// bans (≤ 3): never full.
const HELD: u32 = 323u;
var<workgroup> held: array<u32, 323>;

// The line id of position q (0: none); `line_word` is the shader's own.
fn line_id(q: u32) -> u32 {
    return line_word(q) & ~RHYME;
}

// `sampler::copies_at`: appends to `held` (from n) what would finish a copy of
// another written line at `pos`; returns the new count.
fn copies(pos: u32, l: u32, n0: u32) -> u32 {
    var n = n0;
    if (l == 0u) {
        return n;
    }
    var mine: array<u32, 32>;
    var count = 0u;
    var off = 0u;
    for (var q = 0u; q < dims.t && count < MAX_LINE; q++) {
        if (line_id(q) == l) {
            if (q == pos) {
                off = count;
            } else if (tokens[q] == sp.mask_id) {
                return n;
            }
            mine[count] = q;
            count++;
        }
    }
    for (var first = 0u; first < dims.t; first++) {
        let o = line_id(first);
        var seen = o == 0u || o == l;
        for (var q = 0u; q < first && !seen; q++) {
            seen = line_id(q) == o;
        }
        if (seen) {
            continue;
        }
        var j = 0u;
        var copy = true;
        var ban = 0u;
        for (var q = first; q < dims.t && copy; q++) {
            if (line_id(q) == o) {
                if (j >= count || tokens[q] == sp.mask_id) {
                    copy = false;
                } else if (j == off) {
                    ban = tokens[q];
                } else if (tokens[q] != tokens[mine[j]]) {
                    copy = false;
                }
                j++;
            }
        }
        if (copy && j == count && n < 2u * MAX_LINE) {
            held[n] = ban;
            n++;
        }
    }
    return n;
}

// Whether positions q − 1 and q are a written run of two characters in one line.
fn is_run(q: u32) -> bool {
    return q > 0u && line_id(q) != 0u && line_id(q - 1u) == line_id(q) && tokens[q - 1u] != sp.mask_id
        && tokens[q] != sp.mask_id;
}

// Whether the text holds the run (a, b) twice or more.
fn run_twice(a: u32, b: u32) -> bool {
    var n = 0u;
    for (var q = 1u; q < dims.t; q++) {
        if (is_run(q) && tokens[q - 1u] == a && tokens[q] == b) {
            n++;
        }
    }
    return n >= 2u;
}

// Appends `id` to `held` (from n) unless it is there; returns the new count.
fn hold(n: u32, id: u32) -> u32 {
    for (var j = 0u; j < n; j++) {
        if (held[j] == id) {
            return n;
        }
    }
    if (n < HELD) {
        held[n] = id;
        return n + 1u;
    }
    return n;
}

// `sampler::runs_at`: appends to `held` (from n) what would write, beside a written
// neighbour in `pos`'s line `l`, a run the text holds twice; returns the new count.
fn runs(pos: u32, l: u32, n0: u32) -> u32 {
    var n = n0;
    if (l == 0u) {
        return n;
    }
    let left = pos > 0u && line_id(pos - 1u) == l && tokens[pos - 1u] != sp.mask_id;
    let right = pos + 1u < dims.t && line_id(pos + 1u) == l && tokens[pos + 1u] != sp.mask_id;
    for (var q = 1u; q < dims.t; q++) {
        if (!is_run(q)) {
            continue;
        }
        let a = tokens[q - 1u];
        let b = tokens[q];
        if (left && a == tokens[pos - 1u] && run_twice(a, b)) {
            n = hold(n, b);
        }
        if (right && b == tokens[pos + 1u] && run_twice(a, b)) {
            n = hold(n, a);
        }
    }
    return n;
}

// The written token at q (`sp.mask_id` where masked or outside the text).
fn written(q: i32) -> u32 {
    if (q < 0 || u32(q) >= dims.t) {
        return sp.mask_id;
    }
    return tokens[u32(q)];
}

// Appends the token at x to `held` (from n) when x and y hold the same written one.
fn hold_pair(n: u32, x: i32, y: i32) -> u32 {
    let c = written(x);
    if (c != sp.mask_id && c == written(y)) {
        return hold(n, c);
    }
    return n;
}

// `sampler::triples_at`: appends to `held` (from n) each character that would be the
// third of three identical ones in a row at `pos` (two written neighbours on one side,
// or one on each), in any task; returns the new count.
fn triples(pos: u32, n0: u32) -> u32 {
    let p = i32(pos);
    return hold_pair(hold_pair(hold_pair(n0, p - 2, p - 1), p - 1, p + 1), p + 1, p + 2);
}
