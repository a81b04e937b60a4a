//! How many positions each step commits.

use super::params::SamplerParams;

/// Steps added to a schedule when the repeat rule holds: a step may leave a position
/// masked whose pick clashes with a better one in its line, and these finish them.
pub const CLEANUP_STEPS: usize = 2;

/// Block bounds: block `b` covers positions `[b·L, (b+1)·L)`; `L = 0` → one block.
fn block_len(p: &SamplerParams, t: usize) -> usize {
    if p.block_length == 0 {
        t
    } else {
        p.block_length.min(t)
    }
}

/// Tokens to commit at each step (schedule mode): blocks in order, each with
/// `steps / blocks` steps (at least one, at most its mask count), its masks spread
/// evenly with the remainder on the first steps (as LLaDA's schedule).
/// With the repeat rule, [`CLEANUP_STEPS`] steps of 0 follow: "whatever is left".
pub fn schedule(tokens: &[u32], p: &SamplerParams, mask_id: u32) -> Vec<u32> {
    let l = block_len(p, tokens.len());
    let masks: Vec<usize> =
        tokens.chunks(l).map(|b| b.iter().filter(|&&t| t == mask_id).count()).filter(|&m| m > 0).collect();
    let per_block = (p.steps / masks.len().max(1)).max(1);
    let mut out = Vec::new();
    for m in masks {
        let s = per_block.min(m);
        let (base, rem) = (m / s, m % s);
        out.extend((0..s).map(|i| (base + usize::from(i < rem)) as u32));
    }
    if p.constraints.line.iter().any(|&l| l > 0) {
        out.extend([0; CLEANUP_STEPS]);
    }
    out
}

/// How many positions step `step` commits at most in schedule mode: its scheduled
/// count, or more when earlier steps left positions waiting (the repeat rule) and
/// the rest of the schedule would not reach them all.
pub fn scheduled_k(sched: &[u32], step: usize, masked: usize) -> u32 {
    let rest: usize = sched.iter().skip(step + 1).map(|&k| k as usize).sum();
    let own = sched.get(step).copied().unwrap_or(0);
    own.max(masked.saturating_sub(rest) as u32)
}

/// The steps of the plan: the schedule's length, or one per mask in threshold mode.
fn planned_steps(tokens: &[u32], p: &SamplerParams, mask_id: u32) -> usize {
    match p.threshold {
        Some(_) => tokens.iter().filter(|&&t| t == mask_id).count(),
        None => schedule(tokens, p, mask_id).len(),
    }
}

/// Steps after the plan that finish the blocks it left: a step commits in the
/// first block that still has masks only, so when the repeat rule made picks wait,
/// masks of later blocks can outlast the plan. From the plan's last step on, every
/// step commits all of its block but a pick that would make a triple while a step is
/// to spare (see [`last_step`], [`TRIPLE_STEPS`]), so one step per further block with
/// masks, and the spare ones, finish the text.
pub fn fill_steps(tokens: &[u32], p: &SamplerParams, mask_id: u32) -> usize {
    let l = block_len(p, tokens.len());
    let blocks = tokens.chunks(l.max(1)).filter(|b| b.contains(&mask_id)).count();
    if blocks == 0 {
        0
    } else {
        blocks - 1 + TRIPLE_STEPS
    }
}

/// Spare steps after the plan and a fill step per block: on the last steps, two
/// picks side by side that would make a triple (我我我) with the one taken before
/// them wait for one of these and are picked again beside it (`CommitRule::steps_left`).
pub const TRIPLE_STEPS: usize = 2;

/// The first step on which nothing waits and every candidate of the block commits
/// (the plan's last step; the fill steps after it too).
pub fn last_step(tokens: &[u32], p: &SamplerParams, mask_id: u32) -> usize {
    planned_steps(tokens, p, mask_id).saturating_sub(1)
}

/// The maximum number of steps a generation can take: the plan (the schedule, or
/// one step per mask in threshold mode) and its [`fill_steps`]. The loop ends as
/// soon as no mask is left, so a generation whose picks never waited runs the plan
/// alone.
pub fn max_steps(tokens: &[u32], p: &SamplerParams, mask_id: u32) -> usize {
    let planned = planned_steps(tokens, p, mask_id);
    if planned == 0 {
        0
    } else {
        planned + fill_steps(tokens, p, mask_id)
    }
}
