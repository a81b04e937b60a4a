// Sampler parameters, shared by pick.wgsl and commit.wgsl (mirrors `SamplerParams`).
struct Sampler {
    seed: u32,
    temperature: f32,
    remasking: u32,      // 0 = low confidence, 1 = random
    use_threshold: u32,  // 1 = Fast-dLLM parallel decoding
    threshold: f32,
    block_length: u32,   // 0 = one block
    mask_id: u32,
    pad_id: u32,
    unk_id: u32,
    history: u32,        // 1 = write the per-step history rows
    max_steps: u32,      // rows of the schedule and of the history
    _pad: u32,
}

const RHYME: u32 = 0x80u; // sampler::RHYME

// Whether two positions' line words share a set of the repeat rule (the same line,
// or both rhyme positions): `sampler::same_set`.
fn same_set(a: u32, b: u32) -> bool {
    let la = a & ~RHYME;
    return (la != 0u && la == (b & ~RHYME)) || (a & b & RHYME) != 0u;
}
