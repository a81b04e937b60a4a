// Logits → (token, probability, ranking key) for every masked position; one
// workgroup per position. Token = argmax(logit + temperature·gumbel) over allowed
// ids (lowest id on ties); probability = softmax of the raw logits at that token.
// A logit that is NaN or ±∞ anywhere in a masked position's row sets `state.fault`
// (tested on the bits: WGSL may assume floats are finite), and commit then stops
// the loop without committing. The repeat rule also bans the characters the
// position's sets (its line; the rhyme positions) hold at positions not next to it,
// those next to it that may not stand as 叠字 (the table's first bit row), those
// that would finish a copy of a line, and those that would write a run of two
// characters a third time; in any task, no pick is the third identical character in
// a row.
// Reference: `sampler::pick`, `sampler::repeats_at`, `Constraints::may_double`, `sampler::copies_at`,
// `sampler::runs_at`, `sampler::triples_at`, `sampler::finite_row`.

// Bindings: generated from `gpu::ops::pick::DEF` (names, types, order).

const NEG: f32 = -3.4e38;
var<workgroup> best_s: array<f32, 64>;
var<workgroup> best_i: array<u32, 64>;
var<workgroup> bad: atomic<u32>;
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

// Whether `id` may stand beside itself in a line (叠字): the table's first bit row.
fn may_double(id: u32) -> bool {
    return ((exclude[MAX_SEQ + (id >> 5u)] >> (id & 31u)) & 1u) != 0u;
}

// The repeat rule's word of position q: its line id and RHYME bit (0: none).
fn line_word(q: u32) -> u32 {
    return exclude[q] >> 8u;
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
    let ex_row = MAX_SEQ + (1u + (exclude[pos] & 0xffu)) * ((dims.v + 31u) / 32u);
    if (lid.x == 0u) {
        atomicStore(&bad, 0u);
        // The repeat rule: what this position's sets hold away from it.
        let line = exclude[pos] >> 8u;
        var n = 0u;
        for (var q = 0u; line != 0u && q < dims.t && n < MAX_LINE; q++) {
            let far = q + 1u < pos || q > pos + 1u;
            let beside = q != pos && !far;
            if (same_set(line, exclude[q] >> 8u) && (far || (beside && !may_double(tokens[q]))) && tokens[q] != sp.mask_id) {
                held[n] = tokens[q];
                n++;
            }
        }
        n = copies(pos, line & ~RHYME, n);
        n_held = triples(pos, runs(pos, line & ~RHYME, n));
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
                // The ranking key: 8 mantissa bits kept (`sampler::rank_key`), so
                // near ties break by position as on the CPU.
                key[pos] = bitcast<f32>(bitcast<u32>(p) & 0xffff8000u);
            }
        } else {
            pred[pos] = tokens[pos];
            prob[pos] = -1.0;
            key[pos] = NEG;
        }
    }
}
