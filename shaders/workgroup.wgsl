// Helpers for the kernels that cooperate across one 64-thread workgroup (rmsnorm,
// pick), prepended after common.wgsl. Each kernel binds `state`. Call
// them from uniform control flow: they contain barriers.

const WG: u32 = 64u;
var<workgroup> red: array<f32, 64>;
var<workgroup> skip: u32;

// True once the unmasking loop has committed its last mask: the whole workgroup
// then returns, so steps recorded ahead of time cost nothing.
fn loop_done(lid: u32) -> bool {
    if (lid == 0u) {
        skip = state.done;
    }
    return workgroupUniformLoad(&skip) != 0u;
}

// Sum of `v` over the workgroup, returned to every thread.
fn wg_sum(lid: u32, v: f32) -> f32 {
    red[lid] = v;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) {
            red[lid] += red[lid + stride];
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier(); // `red` may be written again right after
    return r;
}

// Maximum of `v` over the workgroup, returned to every thread.
fn wg_max(lid: u32, v: f32) -> f32 {
    red[lid] = v;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) {
            red[lid] = max(red[lid], red[lid + stride]);
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier(); // `red` may be written again right after
    return r;
}
