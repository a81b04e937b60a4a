//! The fast CPU path: the same forward pass as [`crate::cpu`], with every quantized
//! matrix product done in integers. Activations are quantized per row to 16 bits in
//! blocks of 32 (one f32 scale a block, like the weights' blocks: a relative error
//! of at most 1/65534 an element, so the logits stay within f32 noise of the
//! reference and generations are the reference's), each block's dot product of
//! i16 activations and i8 weights is exact in i32, and the two scales are applied
//! once a block: `y[t][n] = Σ_b sx[t][b] · sw[n][b] · Σ_{k∈b} qx[t][k] · qw[n][k]`.
//! (8-bit activations would halve the work on some CPUs, but they changed whole
//! poems of the bundled model under greedy decoding: measured, not kept.)
//!
//! Kernels: AVX2 natively (chosen at run time), wasm `simd128` in the browser (built
//! with the target feature, see `.cargo/config.toml`), and a portable scalar one
//! everywhere. All three compute the same integer sums; only the order of the f32
//! accumulation differs. Tiles of [`MR`] activation rows × [`NR`] weight rows keep
//! the weights in registers for several rows of the input, so each weight byte is
//! read `T / MR` times a forward instead of `T` times.
//!
//! Q/K/V and gate/up are each one product (their matrices stacked at load), the
//! rotary tables are computed once, and dense (F32/F16) matrices fall back to the
//! reference's f32 product. The CPU reference stays the oracle: the tests hold this
//! path to it (logits and whole generations).

use crate::config::ModelConfig;
use crate::cpu::{add_assign, matmul, Forward};
use crate::format::{Matrix, ModelWeights, WeightData, BLOCK};

/// Activation rows per tile.
pub const MR: usize = 4;
/// Weight rows (outputs) per tile.
pub const NR: usize = 2;

/// Which kernel does the integer products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Scalar,
    /// x86-64 with AVX2 and FMA (detected at run time).
    Avx2,
    /// x86-64 with AVX-512 (F, BW) and its VNNI dot products (`vpdpwssd`: the
    /// AVX2 kernel's `madd` + add in one instruction, on 32 rows a group): the same
    /// integer sums and the same f32 steps per row, so the same logits bit for bit.
    Avx512,
    /// WebAssembly 128-bit SIMD (a build with `target-feature=+simd128`).
    Simd128,
}

impl Isa {
    /// The best kernel this machine (or this wasm build) has.
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            if std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512vnni")
            {
                return Isa::Avx512;
            }
            return Isa::Avx2;
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        return Isa::Simd128;
        #[allow(unreachable_code)]
        Isa::Scalar
    }

    /// Every kernel that runs here (the tests compare each with the reference).
    pub fn available() -> Vec<Isa> {
        match Isa::detect() {
            Isa::Scalar => vec![Isa::Scalar],
            // Every x86 kernel the CPU has: AVX-512's fallback is AVX2.
            Isa::Avx512 => vec![Isa::Scalar, Isa::Avx2, Isa::Avx512],
            best => vec![Isa::Scalar, best],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512-vnni",
            Isa::Simd128 => "simd128",
        }
    }

    /// An x86 kernel: attention, SwiGLU and the norms run the AVX2 code for both
    /// (compiled once, so AVX-512's logits equal AVX2's).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    fn x86(self) -> bool {
        matches!(self, Isa::Avx2 | Isa::Avx512)
    }

    /// Output rows a SIMD kernel computes at once (its i32 lanes), widest first: the
    /// rows of whole groups of the first, then of the next; none for the scalar
    /// kernel, which reads the plain row-major codes.
    fn group_widths(self) -> &'static [usize] {
        match self {
            Isa::Scalar => &[],
            Isa::Avx2 => &[16],
            Isa::Avx512 => &[32, 16],
            Isa::Simd128 => &[4],
        }
    }
}

/// A matrix as the integer kernels read it: (n, k) codes row-major, (n, k/32) scales.
struct Q8 {
    n: usize,
    k: usize,
    codes: Vec<i8>,
    scales: Vec<f32>,
    /// The SIMD kernels' copy (see [`Groups`]): rows 0.. in groups of the kernel's
    /// width, then (AVX-512) the rest in groups of AVX2's, so that every row is
    /// done as the AVX2 kernel does it; rows past the last group are the scalar
    /// kernel's.
    groups: Vec<Groups>,
}

impl Q8 {
    /// Q8 as stored; Q4 widened to i8 codes (−8..=7, the same scales): both exact.
    fn from_matrix(m: &Matrix) -> Option<Q8> {
        let (codes, scales) = match &m.data {
            WeightData::Q8 { codes, scales } => (codes.clone(), scales.clone()),
            WeightData::Q4 { packed, scales } => {
                let codes = packed.iter().flat_map(|b| [(b & 15) as i8 - 8, (b >> 4) as i8 - 8]).collect();
                (codes, scales.clone())
            }
            WeightData::Dense { .. } => return None,
        };
        Some(Q8::new(m.rows, m.cols, codes, scales))
    }

    fn new(n: usize, k: usize, codes: Vec<i8>, scales: Vec<f32>) -> Q8 {
        Q8 { n, k, codes, scales, groups: Vec::new() }
    }

    /// Rows of several matrices with the same k, one after the other.
    fn stack(parts: Vec<Q8>) -> Q8 {
        let k = parts[0].k;
        let (mut n, mut codes, mut scales) = (0, Vec::new(), Vec::new());
        for p in parts {
            debug_assert_eq!(p.k, k);
            n += p.n;
            codes.extend(p.codes);
            scales.extend(p.scales);
        }
        Q8::new(n, k, codes, scales)
    }
}

/// One weight matrix (or several stacked): integer kernels when quantized, else f32.
enum Weights {
    Q8(Q8),
    Dense { values: Vec<f32>, n: usize, k: usize },
}

impl Weights {
    /// `parts` stacked by rows (they share their column count), laid out for `isa`.
    fn new(parts: &[&Matrix], isa: Isa) -> Weights {
        match parts.iter().map(|m| Q8::from_matrix(m)).collect::<Option<Vec<_>>>() {
            Some(q) => {
                let mut q = Q8::stack(q);
                let mut from = 0;
                for width in isa.group_widths() {
                    let g = Groups::new(*width, &q, from);
                    from = g.end();
                    q.groups.push(g);
                }
                Weights::Q8(q)
            }
            None => Weights::Dense {
                values: parts.iter().flat_map(|m| m.dequantize()).collect(),
                n: parts.iter().map(|m| m.rows).sum(),
                k: parts[0].cols,
            },
        }
    }

    /// y (t, n) = x (t, k) · Wᵀ.
    fn apply(&self, x: &[f32], t: usize, isa: Isa) -> Vec<f32> {
        match self {
            Weights::Q8(w) => matmul_q8(x, t, w, isa),
            Weights::Dense { values, n, k } => matmul(x, values, t, *k, *n),
        }
    }
}

/// Activation rows quantized with one scale a row: codes (t, k), scales (t).
struct QuantRows {
    t: usize,
    codes: Vec<i16>,
    scales: Vec<f32>,
}

/// The largest activation code.
const X_MAX: f32 = i16::MAX as f32;

impl QuantRows {
    /// Written so that it vectorizes (partial maxima, round-to-even, which is one
    /// instruction where the target has it): the kernels call it from code compiled
    /// for their registers.
    #[inline(always)]
    fn new(x: &[f32], t: usize, k: usize) -> QuantRows {
        let mut codes = vec![0i16; t * k];
        let mut scales = vec![0f32; t];
        let mut abs = vec![0f32; k];
        for ((row, out), s) in x[..t * k].chunks_exact(k).zip(codes.chunks_exact_mut(k)).zip(&mut scales) {
            for (a, v) in abs.iter_mut().zip(row) {
                *a = v.abs();
            }
            let amax = max(&abs);
            if amax > 0.0 {
                *s = amax / X_MAX;
                let inv = X_MAX / amax;
                for (o, v) in out.iter_mut().zip(row) {
                    // |v · inv| ≤ X_MAX: the conversion never saturates.
                    *o = (v * inv).round_ties_even() as i32 as i16;
                }
            }
        }
        QuantRows { t, codes, scales }
    }
}

/// The integer product: `y (t, n) = x · Wᵀ` with x quantized first, by the kernel
/// `isa` names.
fn matmul_q8(x: &[f32], t: usize, w: &Q8, isa: Isa) -> Vec<f32> {
    assert_eq!(w.k % BLOCK, 0, "k must be a multiple of {BLOCK}");
    let mut y = vec![0f32; t * w.n];
    match isa {
        _ if w.groups.is_empty() => tiles(&QuantRows::new(x, t, w.k), w, &mut y),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::Avx2` is only chosen when the CPU reports AVX2 and FMA.
        Isa::Avx2 => unsafe { avx2::matmul(x, t, w, &mut y) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::Avx512` is only chosen when the CPU reports AVX-512 F, BW and
        // VNNI (and AVX2 and FMA).
        Isa::Avx512 => unsafe { avx512::matmul(x, t, w, &mut y) },
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Isa::Simd128 => {
            let x = QuantRows::new(x, t, w.k);
            grouped::<simd128::Simd128>(&x, w, &w.groups[0], &mut y);
            rest(&x, w, &mut y);
        }
        _ => tiles(&QuantRows::new(x, t, w.k), w, &mut y),
    }
    y
}

/// The weights of `width` consecutive output rows interleaved by pairs of columns:
/// `[k/2][width][2]` i16 per group, row r's columns k and k+1 side by side, and the
/// group's scales as `[k/32][width]`. A SIMD kernel multiplies one activation pair
/// (x[k], x[k+1]), repeated across its lanes, with one load of this layout and gets
/// every row's partial sum in its own i32 lane (`madd` on x86, `i32x4.dot_i16x8_s`
/// in wasm): two instructions per `2·width` multiply-adds, no widening in the loop
/// and no horizontal sums.
struct Groups {
    width: usize,
    /// The first row of the first group, and how many rows the groups hold.
    start: usize,
    rows: usize,
    codes: Vec<i16>,
    scales: Vec<f32>,
}

impl Groups {
    /// The whole groups of `width` rows from row `start` on.
    fn new(width: usize, q: &Q8, start: usize) -> Groups {
        let (k, nb) = (q.k, q.k / BLOCK);
        let rows = (q.n - start) / width * width;
        let mut codes = Vec::with_capacity(rows * k);
        let mut scales = Vec::with_capacity(rows * nb);
        for g in (start..start + rows).step_by(width) {
            for pair in 0..k / 2 {
                for r in g..g + width {
                    codes.extend([q.codes[r * k + 2 * pair] as i16, q.codes[r * k + 2 * pair + 1] as i16]);
                }
            }
            for b in 0..nb {
                scales.extend((g..g + width).map(|r| q.scales[r * nb + b]));
            }
        }
        Groups { width, start, rows, codes, scales }
    }

    /// The row after the last group.
    fn end(&self) -> usize {
        self.start + self.rows
    }
}

/// Where one group call reads and writes: activation rows t0.. (k columns) against
/// one group's codes and scales, into `y` with row stride `n` from column `col`.
struct GroupAt<'a> {
    x: &'a QuantRows,
    t0: usize,
    k: usize,
    wc: &'a [i16],
    ws: &'a [f32],
    n: usize,
    col: usize,
}

/// One SIMD kernel over [`Groups`]: rows t0..t0+M of the activations against one group.
trait GroupKernel {
    /// The rows of one group (its [`Groups`] width).
    const WIDTH: usize;
    fn group<const M: usize>(at: &GroupAt, y: &mut [f32]);
}

/// Every group against every [`MR`] activation rows (the last narrower).
#[inline(always)]
fn grouped<K: GroupKernel>(x: &QuantRows, w: &Q8, g: &Groups, y: &mut [f32]) {
    let (n, k, nb, width) = (w.n, w.k, w.k / BLOCK, g.width);
    debug_assert_eq!(K::WIDTH, width);
    for (i, (wc, ws)) in g.codes.chunks_exact(width * k).zip(g.scales.chunks_exact(width * nb)).enumerate() {
        let mut t0 = 0;
        while t0 < x.t {
            let m = MR.min(x.t - t0);
            let at = GroupAt { x, t0, k, wc, ws, n, col: g.start + i * width };
            match m {
                4 => K::group::<4>(&at, y),
                3 => K::group::<3>(&at, y),
                2 => K::group::<2>(&at, y),
                _ => K::group::<1>(&at, y),
            }
            t0 += m;
        }
    }
}

/// The rows past the last group, with the scalar kernel.
fn rest(x: &QuantRows, w: &Q8, y: &mut [f32]) {
    let n = w.n;
    for r in w.groups.last().map_or(0, Groups::end)..n {
        for t0 in 0..x.t {
            let [[v]] = tile::<1, 1>(&Tile { x, w, t0, n0: r });
            y[t0 * n + r] = v;
        }
    }
}

/// Where one tile reads and writes.
struct Tile<'a> {
    x: &'a QuantRows,
    w: &'a Q8,
    t0: usize,
    n0: usize,
}

/// The scalar kernel on every tile: for each pair of weight rows (the last may be
/// one), every group of [`MR`] activation rows (the last may be narrower). The
/// weight rows stay in L1 while the activations (a few KB) are swept, so each
/// weight byte comes from memory once a product. The tile function is generic over
/// the tile's shape, so each shape is its own unrolled code.
fn tiles(x: &QuantRows, w: &Q8, y: &mut [f32]) {
    const _: () = assert!(MR == 4 && NR == 2, "the match below has a tile for each shape up to 4 × 2");
    let mut n0 = 0;
    while n0 < w.n {
        let nr = NR.min(w.n - n0);
        let mut t0 = 0;
        while t0 < x.t {
            let mr = MR.min(x.t - t0);
            let at = Tile { x, w, t0, n0 };
            match (mr, nr) {
                (4, 2) => store(y, w.n, t0, n0, tile::<4, 2>(&at)),
                (3, 2) => store(y, w.n, t0, n0, tile::<3, 2>(&at)),
                (2, 2) => store(y, w.n, t0, n0, tile::<2, 2>(&at)),
                (1, 2) => store(y, w.n, t0, n0, tile::<1, 2>(&at)),
                (4, _) => store(y, w.n, t0, n0, tile::<4, 1>(&at)),
                (3, _) => store(y, w.n, t0, n0, tile::<3, 1>(&at)),
                (2, _) => store(y, w.n, t0, n0, tile::<2, 1>(&at)),
                _ => store(y, w.n, t0, n0, tile::<1, 1>(&at)),
            }
            t0 += mr;
        }
        n0 += nr;
    }
}

#[inline(always)]
fn store<const M: usize, const N: usize>(y: &mut [f32], n: usize, t0: usize, n0: usize, acc: [[f32; N]; M]) {
    for (i, row) in acc.iter().enumerate() {
        y[(t0 + i) * n + n0..][..N].copy_from_slice(row);
    }
}

/// One tile's dot products, M activation rows × N weight rows, in plain integers
/// (the portable kernel, and what the SIMD ones must equal).
fn tile<const M: usize, const N: usize>(at: &Tile) -> [[f32; N]; M] {
    let (k, nb) = (at.w.k, at.w.k / BLOCK);
    let mut acc = [[0f32; N]; M];
    for b in 0..nb {
        for (i, acc_row) in acc.iter_mut().enumerate() {
            let xq = &at.x.codes[(at.t0 + i) * k + b * BLOCK..][..BLOCK];
            for (j, a) in acc_row.iter_mut().enumerate() {
                let wr = at.n0 + j;
                let wq = &at.w.codes[wr * k + b * BLOCK..][..BLOCK];
                let dot: i32 = xq.iter().zip(wq).map(|(&p, &q)| p as i32 * q as i32).sum();
                *a += dot as f32 * at.w.scales[wr * nb + b];
            }
        }
    }
    for (i, row) in acc.iter_mut().enumerate() {
        row.iter_mut().for_each(|a| *a *= at.x.scales[at.t0 + i]);
    }
    acc
}

/// `e^x` from arithmetic alone, so loops over it vectorize: `x = n·ln2 + r` with
/// |r| ≤ ln2/2, `e^r` by its Taylor series to r⁶ (truncation below 2⁻²³ relative;
/// within 3·10⁻⁷ of the standard `exp`, tested), `2^n` built in the exponent bits.
/// Inputs are clamped to [−87, 88], where the result is a normal f32 (softmax and
/// SiLU only need that).
#[inline(always)]
fn exp(x: f32) -> f32 {
    // ln 2 = LN2_HI + LN2_LO, LN2_HI with few mantissa bits so n · LN2_HI is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5·2²³ rounds to the nearest integer without a libm call.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    // The rounded sum's low mantissa bits hold n: 2ⁿ's exponent field comes from
    // them by integer arithmetic (no float-to-int conversion, which would not vectorize).
    let rounded = x * std::f32::consts::LOG2_E + ROUND;
    let n = rounded - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    p * f32::from_bits(rounded.to_bits().wrapping_sub(ROUND.to_bits() - 127) << 23)
}

/// Sum with eight partial sums (vectorizes, like the reference's `dot`).
#[inline(always)]
fn sum(v: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = v.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for i in 0..8 {
            acc[i] += c[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Maximum with eight partial maxima.
#[inline(always)]
fn max(v: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let chunks = v.chunks_exact(8);
    let tail = chunks.remainder().iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    for c in chunks {
        for i in 0..8 {
            acc[i] = acc[i].max(c[i]);
        }
    }
    acc.iter().fold(tail, |m, &x| m.max(x))
}

/// silu(gate) · up with [`exp`].
#[inline(always)]
fn swiglu_into(gate: &[f32], up: &[f32], out: &mut Vec<f32>) {
    out.extend(gate.iter().zip(up).map(|(&g, &u)| g / (1.0 + exp(-g)) * u));
}

/// Multi-head attention laid out for vectors: each head's keys transposed once,
/// so a query's scores are sums of `q[c] · keyᵀ[c][..]` over c — whole rows of
/// multiply-adds with no horizontal sums — and the softmax uses [`exp`].
#[inline(always)]
fn attention_rows(q: &[f32], k: &[f32], v: &[f32], t: usize, c: &ModelConfig) -> Vec<f32> {
    let (nh, hd, causal) = (c.n_heads, c.head_dim(), c.causal);
    let d = nh * hd;
    let scale = 1.0 / (hd as f32).sqrt();
    let mut out = vec![0f32; t * d];
    let mut kt = vec![0f32; hd * t];
    let mut scores = vec![0f32; t];
    for h in 0..nh {
        for j in 0..t {
            for (c, &kc) in k[j * d + h * hd..][..hd].iter().enumerate() {
                kt[c * t + j] = kc;
            }
        }
        for i in 0..t {
            let n_keys = if causal { i + 1 } else { t };
            let s = &mut scores[..n_keys];
            s.fill(0.0);
            for (c, &qc) in q[i * d + h * hd..][..hd].iter().enumerate() {
                for (sj, &kj) in s.iter_mut().zip(&kt[c * t..][..n_keys]) {
                    *sj += qc * kj;
                }
            }
            let top = max(s) * scale;
            for sj in s.iter_mut() {
                *sj = exp(*sj * scale - top);
            }
            let inv = 1.0 / sum(s);
            let o = &mut out[i * d + h * hd..][..hd];
            for (j, &p) in s.iter().enumerate() {
                let p = p * inv;
                for (oe, &ve) in o.iter_mut().zip(&v[j * d + h * hd..][..hd]) {
                    *oe += p * ve;
                }
            }
        }
    }
    out
}

/// SwiGLU over the rows of the stacked gate/up product (t, 2F) → (t, F).
fn swiglu(isa: Isa, gate_up: &[f32], f: usize) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    if isa.x86() {
        // SAFETY: as in `attention`.
        return unsafe { avx2::swiglu(gate_up, f) };
    }
    let _ = isa;
    swiglu_rows(gate_up, f)
}

#[inline(always)]
fn swiglu_rows(gate_up: &[f32], f: usize) -> Vec<f32> {
    let mut act = Vec::with_capacity(gate_up.len() / 2);
    for row in gate_up.chunks_exact(2 * f) {
        swiglu_into(&row[..f], &row[f..], &mut act);
    }
    act
}

/// The reference's RMS norm, compiled like [`attention`].
fn rmsnorm(isa: Isa, x: &[f32], weight: &[f32], eps: f32) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    if isa.x86() {
        // SAFETY: as in `attention`.
        return unsafe { avx2::rmsnorm(x, weight, eps) };
    }
    let _ = isa;
    crate::cpu::rmsnorm(x, weight, eps)
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{grouped, rest, GroupAt, GroupKernel, QuantRows, BLOCK, Q8};

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn matmul(x: &[f32], t: usize, w: &Q8, y: &mut [f32]) {
        let x = QuantRows::new(x, t, w.k);
        grouped::<Avx2>(&x, w, &w.groups[0], y);
        rest(&x, w, y);
    }

    pub(super) struct Avx2;

    impl GroupKernel for Avx2 {
        const WIDTH: usize = 16;

        /// Sixteen rows a group, two registers of eight: `madd` of the activation
        /// pair (broadcast) with a group's pair of columns gives sixteen i32 sums
        /// (|sum| ≤ 2·32767·127, a block's ≤ 32·32767·127 < 2³¹); each block's sums
        /// become f32 times the rows' scales.
        #[inline(always)]
        fn group<const M: usize>(at: &GroupAt, y: &mut [f32]) {
            let GroupAt { x, t0, k, wc, ws, n, col } = *at;
            // SAFETY: only reached through `matmul`, which requires AVX2 and FMA;
            // loads stay inside `wc` (32 i16 a pair of columns), `ws` (16 scales a
            // block), the activation rows t0..t0+M (two i16 at column 2p < k) and
            // the output row slices (16 f32 at `col`).
            unsafe {
                let mut acc = [[_mm256_setzero_ps(); 2]; M];
                let rows: [*const i16; M] = std::array::from_fn(|i| x.codes.as_ptr().add((t0 + i) * k));
                for b in 0..k / BLOCK {
                    let mut sums = [[_mm256_setzero_si256(); 2]; M];
                    for p in 0..BLOCK / 2 {
                        let pair = b * BLOCK / 2 + p;
                        let w0 = _mm256_loadu_si256(wc.as_ptr().add(pair * 32) as *const __m256i);
                        let w1 = _mm256_loadu_si256(wc.as_ptr().add(pair * 32 + 16) as *const __m256i);
                        for i in 0..M {
                            let xp = _mm256_set1_epi32((rows[i].add(2 * pair) as *const i32).read_unaligned());
                            sums[i][0] = _mm256_add_epi32(sums[i][0], _mm256_madd_epi16(xp, w0));
                            sums[i][1] = _mm256_add_epi32(sums[i][1], _mm256_madd_epi16(xp, w1));
                        }
                    }
                    let scale =
                        [_mm256_loadu_ps(ws.as_ptr().add(b * 16)), _mm256_loadu_ps(ws.as_ptr().add(b * 16 + 8))];
                    for i in 0..M {
                        for h in 0..2 {
                            acc[i][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums[i][h]), scale[h], acc[i][h]);
                        }
                    }
                }
                for (i, a) in acc.iter().enumerate() {
                    let xs = _mm256_set1_ps(x.scales[t0 + i]);
                    let out = y.as_mut_ptr().add((t0 + i) * n + col);
                    _mm256_storeu_ps(out, _mm256_mul_ps(a[0], xs));
                    _mm256_storeu_ps(out.add(8), _mm256_mul_ps(a[1], xs));
                }
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn attention(q: &[f32], k: &[f32], v: &[f32], t: usize, c: &crate::ModelConfig) -> Vec<f32> {
        super::attention_rows(q, k, v, t, c)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn swiglu(gate_up: &[f32], f: usize) -> Vec<f32> {
        super::swiglu_rows(gate_up, f)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn rmsnorm(x: &[f32], weight: &[f32], eps: f32) -> Vec<f32> {
        crate::cpu::rmsnorm(x, weight, eps)
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::avx2::Avx2;
    use super::{grouped, rest, GroupAt, GroupKernel, QuantRows, BLOCK, Q8};

    /// Whole groups of 32 rows, then one of 16 where that many are left (the AVX2
    /// kernel: the rows AVX2 does in SIMD are done in SIMD here too), then the rest.
    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn matmul(x: &[f32], t: usize, w: &Q8, y: &mut [f32]) {
        let x = QuantRows::new(x, t, w.k);
        grouped::<Avx512>(&x, w, &w.groups[0], y);
        if let Some(g) = w.groups.get(1) {
            grouped::<Avx2>(&x, w, g, y);
        }
        rest(&x, w, y);
    }

    struct Avx512;

    impl GroupKernel for Avx512 {
        const WIDTH: usize = 32;

        /// Thirty-two rows a group, two registers of sixteen: `vpdpwssd` adds the
        /// products of the activation pair (broadcast) with a group's pair of columns
        /// to sixteen i32 sums each, wrapping as `madd` + add does (the sums never
        /// reach it: see the AVX2 kernel); each block's sums become f32 times the
        /// rows' scales, in the AVX2 kernel's order.
        #[inline(always)]
        fn group<const M: usize>(at: &GroupAt, y: &mut [f32]) {
            let GroupAt { x, t0, k, wc, ws, n, col } = *at;
            // SAFETY: only reached through `matmul`, which requires AVX-512 F, BW and
            // VNNI; loads stay inside `wc` (64 i16 a pair of columns), `ws` (32
            // scales a block), the activation rows t0..t0+M (two i16 at column
            // 2p < k) and the output row slices (32 f32 at `col`).
            unsafe {
                let mut acc = [[_mm512_setzero_ps(); 2]; M];
                let rows: [*const i16; M] = std::array::from_fn(|i| x.codes.as_ptr().add((t0 + i) * k));
                for b in 0..k / BLOCK {
                    let mut sums = [[_mm512_setzero_si512(); 2]; M];
                    for p in 0..BLOCK / 2 {
                        let pair = b * BLOCK / 2 + p;
                        let w0 = _mm512_loadu_si512(wc.as_ptr().add(pair * 64) as *const __m512i);
                        let w1 = _mm512_loadu_si512(wc.as_ptr().add(pair * 64 + 32) as *const __m512i);
                        for i in 0..M {
                            let xp = _mm512_set1_epi32((rows[i].add(2 * pair) as *const i32).read_unaligned());
                            sums[i][0] = _mm512_dpwssd_epi32(sums[i][0], xp, w0);
                            sums[i][1] = _mm512_dpwssd_epi32(sums[i][1], xp, w1);
                        }
                    }
                    let scale =
                        [_mm512_loadu_ps(ws.as_ptr().add(b * 32)), _mm512_loadu_ps(ws.as_ptr().add(b * 32 + 16))];
                    for i in 0..M {
                        for h in 0..2 {
                            acc[i][h] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums[i][h]), scale[h], acc[i][h]);
                        }
                    }
                }
                for (i, a) in acc.iter().enumerate() {
                    let xs = _mm512_set1_ps(x.scales[t0 + i]);
                    let out = y.as_mut_ptr().add((t0 + i) * n + col);
                    _mm512_storeu_ps(out, _mm512_mul_ps(a[0], xs));
                    _mm512_storeu_ps(out.add(16), _mm512_mul_ps(a[1], xs));
                }
            }
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128 {
    use std::arch::wasm32::*;

    use super::{GroupAt, GroupKernel, BLOCK};

    pub(super) struct Simd128;

    impl GroupKernel for Simd128 {
        const WIDTH: usize = 4;
        /// Four rows a group: `i32x4.dot_i16x8_s` of the activation pair (splat)
        /// with a group's pair of columns gives four i32 sums; each block's sums
        /// become f32 times the four rows' scales.
        #[inline(always)]
        fn group<const M: usize>(at: &GroupAt, y: &mut [f32]) {
            let GroupAt { x, t0, k, wc, ws, n, col } = *at;
            let mut acc = [f32x4_splat(0.0); M];
            let rows: [&[i16]; M] = std::array::from_fn(|i| &x.codes[(t0 + i) * k..][..k]);
            for b in 0..k / BLOCK {
                let mut sums = [i32x4_splat(0); M];
                for p in 0..BLOCK / 2 {
                    let pair = b * BLOCK / 2 + p;
                    // SAFETY: 8 i16 (16 bytes) of `wc` at pair · 8 < width · k.
                    let wv = unsafe { v128_load(wc.as_ptr().add(pair * 8) as *const v128) };
                    for (s, row) in sums.iter_mut().zip(&rows) {
                        // SAFETY: two i16 (4 bytes) at column 2·pair < k.
                        let xp = unsafe { v128_load32_splat(row.as_ptr().add(2 * pair) as *const u32) };
                        *s = i32x4_add(*s, i32x4_dot_i16x8(xp, wv));
                    }
                }
                // SAFETY: 4 scales at b · 4 < width · k/32.
                let scale = unsafe { v128_load(ws.as_ptr().add(b * 4) as *const v128) };
                for (a, s) in acc.iter_mut().zip(&sums) {
                    *a = f32x4_add(*a, f32x4_mul(f32x4_convert_i32x4(*s), scale));
                }
            }
            for (i, a) in acc.iter().enumerate() {
                let out = &mut y[(t0 + i) * n + col..][..4];
                // SAFETY: `out` is 4 f32.
                unsafe { v128_store(out.as_mut_ptr() as *mut v128, f32x4_mul(*a, f32x4_splat(x.scales[t0 + i]))) };
            }
        }
    }
}

// ---------------------------------------------------------------- model

struct FastLayer {
    attn_norm: Vec<f32>,
    /// wq, wk, wv stacked: (3D, D).
    qkv: Weights,
    wo: Weights,
    mlp_norm: Vec<f32>,
    /// w_gate, w_up stacked: (2F, D).
    gate_up: Weights,
    w_down: Weights,
}

/// The model prepared for the integer kernels.
pub struct FastModel {
    pub config: ModelConfig,
    isa: Isa,
    embeddings: Matrix,
    layers: Vec<FastLayer>,
    norm: Vec<f32>,
    output: Weights,
    /// cos and sin of `pos · theta^(−2i/hd)`, (max_seq_len, hd/2) each.
    rope_cos: Vec<f32>,
    rope_sin: Vec<f32>,
}

impl FastModel {
    /// With the best kernel this machine has.
    pub fn new(w: &ModelWeights) -> FastModel {
        FastModel::with_isa(w, Isa::detect())
    }

    /// With a chosen kernel (one of [`Isa::available`]).
    pub fn with_isa(w: &ModelWeights, isa: Isa) -> FastModel {
        assert!(Isa::available().contains(&isa), "the {} kernel does not run here", isa.name());
        let c = &w.config;
        let layers = w
            .layers
            .iter()
            .map(|l| FastLayer {
                attn_norm: l.attn_norm.clone(),
                qkv: Weights::new(&[&l.wq, &l.wk, &l.wv], isa),
                wo: Weights::new(&[&l.wo], isa),
                mlp_norm: l.mlp_norm.clone(),
                gate_up: Weights::new(&[&l.w_gate, &l.w_up], isa),
                w_down: Weights::new(&[&l.w_down], isa),
            })
            .collect();
        let half = c.head_dim() / 2;
        let (mut rope_cos, mut rope_sin) = (Vec::new(), Vec::new());
        for pos in 0..c.max_seq_len {
            for i in 0..half {
                // The same expression as the reference's `rope`, so the angles are equal.
                let freq = c.rope_theta.powf(-2.0 * i as f32 / c.head_dim() as f32);
                let (s, co) = (pos as f32 * freq).sin_cos();
                rope_cos.push(co);
                rope_sin.push(s);
            }
        }
        FastModel {
            config: c.clone(),
            isa,
            embeddings: w.tok_embeddings.clone(),
            layers,
            norm: w.norm.clone(),
            output: Weights::new(&[&w.output], isa),
            rope_cos,
            rope_sin,
        }
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// [`attention_rows`] compiled for the kernel's registers.
    fn attention(&self, q: &[f32], k: &[f32], v: &[f32], t: usize) -> Vec<f32> {
        let c = &self.config;
        #[cfg(target_arch = "x86_64")]
        if self.isa.x86() {
            // SAFETY: both x86 kernels are only chosen when the CPU reports AVX2 and FMA.
            return unsafe { avx2::attention(q, k, v, t, c) };
        }
        attention_rows(q, k, v, t, c)
    }

    /// Rotary embedding in place on x (T, H·hd) from the tables.
    fn rope(&self, x: &mut [f32], t: usize) {
        let (nh, hd) = (self.config.n_heads, self.config.head_dim());
        let half = hd / 2;
        for pos in 0..t {
            let (cos, sin) = (&self.rope_cos[pos * half..][..half], &self.rope_sin[pos * half..][..half]);
            for head in x[pos * nh * hd..][..nh * hd].chunks_exact_mut(hd) {
                let (a, b) = head.split_at_mut(half);
                for i in 0..half {
                    let (p, q) = (a[i], b[i]);
                    a[i] = p * cos[i] - q * sin[i];
                    b[i] = q * cos[i] + p * sin[i];
                }
            }
        }
    }

    /// The final hidden states after the last norm → (T, D).
    pub fn hidden(&self, tokens: &[u32]) -> Vec<f32> {
        let c = &self.config;
        let (t, d, f) = (tokens.len(), c.d_model, c.d_ff);
        let mut x = crate::cpu::embed(&self.embeddings, c, tokens);
        for l in &self.layers {
            let h = rmsnorm(self.isa, &x, &l.attn_norm, c.norm_eps);
            let qkv = l.qkv.apply(&h, t, self.isa);
            let (mut q, mut k, mut v) = (vec![0f32; t * d], vec![0f32; t * d], vec![0f32; t * d]);
            for (row, ((q, k), v)) in
                qkv.chunks_exact(3 * d).zip(q.chunks_exact_mut(d).zip(k.chunks_exact_mut(d)).zip(v.chunks_exact_mut(d)))
            {
                q.copy_from_slice(&row[..d]);
                k.copy_from_slice(&row[d..2 * d]);
                v.copy_from_slice(&row[2 * d..]);
            }
            self.rope(&mut q, t);
            self.rope(&mut k, t);
            let a = self.attention(&q, &k, &v, t);
            add_assign(&mut x, &l.wo.apply(&a, t, self.isa));
            let h = rmsnorm(self.isa, &x, &l.mlp_norm, c.norm_eps);
            let act = swiglu(self.isa, &l.gate_up.apply(&h, t, self.isa), f);
            add_assign(&mut x, &l.w_down.apply(&act, t, self.isa));
        }
        rmsnorm(self.isa, &x, &self.norm, c.norm_eps)
    }
}

impl Forward for FastModel {
    fn config(&self) -> &ModelConfig {
        &self.config
    }

    fn forward_rows(&self, tokens: &[u32], rows: &[usize]) -> Vec<f32> {
        let d = self.config.d_model;
        let h = self.hidden(tokens);
        let picked: Vec<f32> = rows.iter().flat_map(|&r| h[r * d..(r + 1) * d].iter().copied()).collect();
        self.output.apply(&picked, rows.len(), self.isa)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_three_ulp_of_the_standard_library() {
        let mut worst = 0f32;
        // Inside the clamp (i · 1e-3 in f32 lands a hair beyond ±87 and 88 at the ends).
        for i in -86_999..88_000 {
            let x = i as f32 * 1e-3;
            let (got, want) = (exp(x), x.exp());
            worst = worst.max((got - want).abs() / want);
        }
        assert!(worst < 3e-7, "relative error up to {worst}");
        // Clamped outside [−87, 88]: finite, and tiny or huge as it should be.
        assert!(exp(-1e4) > 0.0 && exp(-1e4) < 1e-37);
        assert!(exp(1e4).is_finite() && exp(1e4) > 1e38);
    }

    #[test]
    fn sum_and_max_match_plain_folds() {
        let v: Vec<f32> = (0..37).map(|i| ((i * 17 % 11) as f32 - 5.0) * 0.37).collect();
        for n in [0, 1, 7, 8, 9, 37] {
            let plain: f32 = v[..n].iter().sum();
            assert!((sum(&v[..n]) - plain).abs() < 1e-5);
            assert_eq!(max(&v[..n]), v[..n].iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x)));
        }
    }

    #[test]
    fn activation_codes_round_to_nearest_and_use_the_full_range() {
        let x = [1.0f32, -0.5, 0.25, 0.0, -1.0, 0.333, 0.999, -0.001];
        let mut row = x.to_vec();
        row.resize(BLOCK, 0.0);
        let q = QuantRows::new(&row, 1, BLOCK);
        assert_eq!(q.scales[0], 1.0 / X_MAX);
        assert_eq!(&q.codes[..5], &[32767, -16384, 8192, 0, -32767]);
        for (c, v) in q.codes.iter().zip(&row) {
            assert!((*c as f32 * q.scales[0] - v).abs() <= 0.5 / X_MAX + 1e-7);
        }
        // A zero row has a zero scale and zero codes (no division by zero).
        let z = QuantRows::new(&[0.0; BLOCK], 1, BLOCK);
        assert_eq!((z.scales[0], z.codes.iter().all(|&c| c == 0)), (0.0, true));
    }
}
