// The commit step of the unmasking loop, in one workgroup (T ≤ 256): candidates
// are the masked positions of the first block that still has masks, less those
// whose pick clashes under the repeat rule with a better-ranked one's (same set,
// same character, beside it too; not on the last steps); the k with the highest key
// (lower position on ties) are chosen, and take their predicted token in rank order
// unless the ones taken before make theirs the third identical character in a row
// (any task), finish a copy of a line or write a run of two characters a third time
// (then it waits; on the last steps only a triple waits, while a step is to spare). k comes from the schedule
// (raised when earlier steps left positions waiting), or in threshold mode is the
// number of candidates at or above the threshold (at least one). The last steps,
// from `sp.last_step` on (the plan's last and the fill steps after it), commit
// every candidate of their block, so no mask outlasts the loop. Also writes the
// history row and advances `state`. Reference: `sampler::commit`, `scheduled_k`.
// The step that ends the loop zeroes `indirect`, the workgroup counts every
// dispatch of the loop reads (`GpuModel::generate`): the steps recorded after it
// dispatch nothing.

// Bindings: generated from `gpu::ops::commit::DEF` (names, types, order).

const NONE: u32 = 0xffffffffu;
var<workgroup> first_mask: atomic<u32>;
var<workgroup> n_masked: atomic<u32>;
var<workgroup> n_cand: atomic<u32>;
var<workgroup> n_above: atomic<u32>;
var<workgroup> first_u: u32;
var<workgroup> k_u: u32;
var<workgroup> skip: u32;
var<workgroup> ended: u32;

// The loop is over: later steps' dispatches get no workgroups.
fn stop_dispatching(i: u32) {
    for (var w = i; w < arrayLength(&indirect); w += 256u) {
        indirect[w] = 0u;
    }
}
var<workgroup> keys: array<f32, 256>;
var<workgroup> cand: array<u32, 256>;
// The chosen positions by rank, whether each was taken, and how many were.
var<workgroup> order: array<u32, 256>;
var<workgroup> taken: array<u32, 256>;
var<workgroup> n_taken: u32;

// The repeat rule's word of position q (the table after the schedule).
fn line_word(q: u32) -> u32 {
    return schedule[sp.max_steps + q];
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
    let i = lid.x;
    let t = dims.t;
    if (i == 0u) {
        // A fault found by this step's pick ends the loop with nothing committed.
        if (state.fault != 0u) {
            state.done = 1u;
        }
        skip = state.done;
        atomicStore(&first_mask, NONE);
        atomicStore(&n_masked, 0u);
        atomicStore(&n_cand, 0u);
        atomicStore(&n_above, 0u);
    }
    if (workgroupUniformLoad(&skip) != 0u) {
        stop_dispatching(i);
        return;
    }
    let step = state.step;
    let masked = i < t && tokens[i] == sp.mask_id;
    if (masked) {
        atomicMin(&first_mask, i);
        atomicAdd(&n_masked, 1u);
    }
    workgroupBarrier();
    if (i == 0u) {
        first_u = atomicLoad(&first_mask);
    }
    let first = workgroupUniformLoad(&first_u);
    var l = t;
    if (sp.block_length != 0u) {
        l = min(sp.block_length, t);
    }
    let block_end = (first / l + 1u) * l;
    let in_block = masked && i < block_end;
    keys[i] = select(-3.4e38, key[min(i, t - 1u)], in_block);
    cand[i] = select(0u, 1u, in_block);
    workgroupBarrier();
    // The repeat rule: a pick that a better-ranked one of its sets (its line; the
    // rhyme positions) already makes waits (beside it too: pick judges a 叠字 once its
    // first half is written); on the last step nothing waits.
    let line = select(0u, schedule[sp.max_steps + min(i, t - 1u)], i < t);
    var clash = false;
    if (in_block && line != 0u && step < sp.last_step) {
        let ki = keys[i];
        for (var j = 0u; j < t; j++) {
            let better = keys[j] > ki || (keys[j] == ki && j < i);
            if (cand[j] != 0u && better && same_set(line, schedule[sp.max_steps + j]) && pred[j] == pred[i]) {
                clash = true;
            }
        }
    }
    workgroupBarrier();
    let is_cand = in_block && !clash;
    cand[i] = select(0u, 1u, is_cand);
    if (is_cand) {
        atomicAdd(&n_cand, 1u);
        if (prob[i] >= sp.threshold) {
            atomicAdd(&n_above, 1u);
        }
    }
    workgroupBarrier();
    if (i == 0u) {
        var k0 = 0u;
        if (sp.use_threshold != 0u && step < sp.last_step) {
            k0 = max(atomicLoad(&n_above), 1u);
        } else if (sp.use_threshold != 0u) {
            // The last steps commit the whole block.
            k0 = atomicLoad(&n_cand);
        } else if (step < sp.max_steps) {
            // As `sampler::scheduled_k`: what the rest of the schedule cannot reach.
            var rest = 0u;
            for (var j = step + 1u; j < sp.max_steps; j++) {
                rest += schedule[j];
            }
            let left = atomicLoad(&n_masked);
            k0 = max(schedule[step], select(0u, left - rest, left > rest));
        }
        k_u = min(k0, atomicLoad(&n_cand));
    }
    let k = workgroupUniformLoad(&k_u);
    taken[i] = 0u;
    if (is_cand) {
        let ki = keys[i];
        var rank = 0u;
        for (var j = 0u; j < t; j++) {
            if (cand[j] != 0u && (keys[j] > ki || (keys[j] == ki && j < i))) {
                rank++;
            }
        }
        if (rank < k) {
            order[rank] = i;
        }
    }
    workgroupBarrier();
    if (i == 0u) {
        // In rank order, each against the tokens with the better ones taken.
        let settle = step < sp.last_step;
        // On a last step only a triple waits, and only while the budget has a step
        // to spare for every block that still has masks (`CommitRule::steps_left`).
        var spare = false;
        if (!settle) {
            var blocks = 0u;
            for (var q = 0u; q < t; q += l) {
                var has = false;
                for (var j = q; j < min(q + l, t); j++) {
                    has = has || tokens[j] == sp.mask_id;
                }
                blocks += select(0u, 1u, has);
            }
            spare = step + 1u < sp.max_steps && blocks <= sp.max_steps - step - 1u;
        }
        var n = 0u;
        for (var r = 0u; r < k; r++) {
            let c = order[r];
            let lc = line_id(c);
            var ok = true;
            if (settle || spare) {
                var nb = 0u;
                if (lc != 0u && settle) {
                    nb = runs(c, lc, copies(c, lc, 0u));
                }
                nb = triples(c, nb);
                for (var j = 0u; j < nb; j++) {
                    ok = ok && held[j] != pred[c];
                }
            }
            if (ok) {
                tokens[c] = pred[c];
                taken[c] = 1u;
                n++;
            }
        }
        n_taken = n;
    }
    workgroupBarrier();
    storageBarrier();
    let chosen = taken[i] != 0u;
    if (sp.history != 0u && i < t && step < sp.max_steps) {
        // Tokens rows, then probability rows (as bits).
        history[step * t + i] = select(tokens[i], pred[i], chosen);
        history[(sp.max_steps + step) * t + i] = bitcast<u32>(select(-1.0, prob[i], masked));
    }
    if (i == 0u) {
        let left = atomicLoad(&n_masked) - n_taken;
        state.step = step + 1u;
        state.steps_run = state.steps_run + 1u;
        ended = select(0u, 1u, left == 0u || step + 1u >= sp.max_steps);
        if (ended != 0u) {
            state.done = 1u;
        }
    }
    if (workgroupUniformLoad(&ended) != 0u) {
        stop_dispatching(i);
    }
}
