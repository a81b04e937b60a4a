// Logits → (token, probability, ranking key) for every masked position; one
// workgroup per position. Token = argmax(logit + temperature·gumbel) over allowed
// ids (lowest id on ties); probability = softmax of the raw logits at that token.
// A logit that is NaN or ±∞ anywhere in a masked position's row sets `state.fault`
// (tested on the bits: WGSL may assume floats are finite), and commit then stops
// the loop without committing. The repeat rule also bans the characters the
// position's sets (its line; the rhyme positions) hold at positions not next to it,
// those that would finish a copy of a line, and those that would write a run of two
// characters a third time.
// Reference: `sampler::pick`, `sampler::repeats_at`, `sampler::copies_at`,
// `sampler::runs_at`, `sampler::finite_row`.

// Bindings: generated from `gpu::kernels::PICK` (names, types, order).

const NEG: f32 = -3.4e38;
var<workgroup> best_s: array<f32, 64>;
var<workgroup> best_i: array<u32, 64>;
var<workgroup> bad: atomic<u32>;
const MAX_LINE: u32 = 32u; // sampler::MAX_LINE
// What a position's sets hold (≤ MAX_LINE), one copy ban per other line (< MAX_LINE)
// and the run bans (distinct, each of two runs: < MAX_SEQ / 2 a side): never full.
const HELD: u32 = 320u;
var<workgroup> held: array<u32, 320>;
var<workgroup> n_held: u32;

fn non_finite(l: f32) -> bool {
    return (bitcast<u32>(l) & 0x7f800000u) == 0x7f800000u;
}

const MAX_SEQ: u32 = 256u; // crate::MAX_SEQ_LEN

// `row`: the first word of this position's bit row (its class's).
fn banned(id: u32, row: u32) -> bool {
    let excluded = ((exclude[row + (id >> 5u)] >> (id & 31u)) & 1u) != 0u;
    var repeat = false;
    for (var j = 0u; j < n_held; j++) {
        repeat = repeat || held[j] == id;
    }
    return id == sp.mask_id || id == sp.pad_id || id == sp.unk_id || excluded || repeat;
}

// The line id of position q (0: none).
fn line_id(q: u32) -> u32 {
    return (exclude[q] >> 8u) & ~RHYME;
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

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    if (loop_done(lid.x)) {
        return;
    }
    let pos = wid.x;
    let row = pos * dims.v;
    let step = state.step;
    let masked = tokens[pos] == sp.mask_id;
    let ex_row = MAX_SEQ + (exclude[pos] & 0xffu) * ((dims.v + 31u) / 32u);
    if (lid.x == 0u) {
        atomicStore(&bad, 0u);
        // The repeat rule: what this position's sets hold away from it.
        let line = exclude[pos] >> 8u;
        var n = 0u;
        for (var q = 0u; line != 0u && q < dims.t && n < MAX_LINE; q++) {
            let far = q + 1u < pos || q > pos + 1u;
            if (same_set(line, exclude[q] >> 8u) && far && tokens[q] != sp.mask_id) {
                held[n] = tokens[q];
                n++;
            }
        }
        n = copies(pos, line & ~RHYME, n);
        n_held = runs(pos, line & ~RHYME, n);
    }
    workgroupBarrier();
    var bs = NEG;
    var bi = 0xffffffffu;
    var m = NEG;
    for (var v = lid.x; v < dims.v; v += WG) {
        let l = logits[row + v];
        if (masked && non_finite(l)) {
            atomicOr(&bad, 1u);
        }
        if (banned(v, ex_row)) {
            continue;
        }
        m = max(m, l);
        var s = l;
        if (sp.temperature > 0.0) {
            s = l + sp.temperature * gumbel(sp.seed, step, pos, v);
        }
        if (s > bs) {
            bs = s;
            bi = v;
        }
    }
    best_s[lid.x] = bs;
    best_i[lid.x] = bi;
    workgroupBarrier();
    // Argmax with the lowest id on ties (not a plain sum or max: see workgroup.wgsl).
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if (lid.x < stride) {
            let os = best_s[lid.x + stride];
            let oi = best_i[lid.x + stride];
            if (os > best_s[lid.x] || (os == best_s[lid.x] && oi < best_i[lid.x])) {
                best_s[lid.x] = os;
                best_i[lid.x] = oi;
            }
        }
        workgroupBarrier();
    }
    let tok = best_i[0];
    let mx = wg_max(lid.x, m);
    var sum = 0.0;
    for (var v = lid.x; v < dims.v; v += WG) {
        if (!banned(v, ex_row)) {
            sum += exp(logits[row + v] - mx);
        }
    }
    let total = wg_sum(lid.x, sum);
    if (lid.x == 0u) {
        // The reductions above passed barriers: every thread's flag is in.
        if (atomicLoad(&bad) != 0u) {
            state.fault = 1u; // every faulting workgroup writes the same value
        }
        if (masked) {
            let p = exp(logits[row + tok] - mx) / total;
            pred[pos] = tok;
            prob[pos] = p;
            if (sp.remasking == 1u) {
                key[pos] = uniform01(sp.seed, step, pos, 0xffffffffu);
            } else {
                key[pos] = p;
            }
        } else {
            pred[pos] = tokens[pos];
            prob[pos] = -1.0;
            key[pos] = NEG;
        }
    }
}
