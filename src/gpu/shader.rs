//! What each kernel binds and its WGSL source: the [`KernelDef`]s (bindings by name,
//! type and access), the weight kinds a weight reader is compiled for, and the
//! assembly of a kernel's source from the shared snippets with its generated
//! bindings and bind group layout. Nothing here needs a device but the layout.

use crate::format::WeightFormat;

/// How weights sit in GPU memory: f32 and f16 files both upload as f32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GpuWeights {
    Dense,
    Q8,
    Q4,
}

impl GpuWeights {
    pub const ALL: [GpuWeights; 3] = [GpuWeights::Dense, GpuWeights::Q8, GpuWeights::Q4];
}

impl From<WeightFormat> for GpuWeights {
    fn from(f: WeightFormat) -> Self {
        match f {
            WeightFormat::F32 | WeightFormat::F16 => GpuWeights::Dense,
            WeightFormat::Q8 => GpuWeights::Q8,
            WeightFormat::Q4 => GpuWeights::Q4,
        }
    }
}

/// How a kernel uses one of its buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Uniform,
    Read,
    ReadWrite,
}

/// One binding of a kernel: its WGSL name and type and how the kernel uses it.
/// Bindings are numbered by their place in [`KernelDef::slots`].
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    pub name: &'static str,
    pub access: Access,
    pub ty: &'static str,
}

const fn slot(name: &'static str, access: Access, ty: &'static str) -> Slot {
    Slot { name, access, ty }
}

const DIMS: Slot = slot("dims", Access::Uniform, "Dims");
const STATE: Slot = slot("state", Access::Read, "State");
const STATE_RW: Slot = slot("state", Access::ReadWrite, "State");
const SAMPLER: Slot = slot("sp", Access::Uniform, "Sampler");

/// A compute kernel: its WGSL, the shared snippets it needs and its bindings.
#[derive(Debug)]
pub struct KernelDef {
    pub name: &'static str,
    body: &'static str,
    /// Needs `sampler_common.wgsl` (the `Sampler` struct).
    sampler: bool,
    /// Needs `workgroup.wgsl` (workgroup reductions, `loop_done`).
    workgroup: bool,
    /// Reads a weight matrix: the format's snippet, and its bindings after `slots`.
    pub weights: bool,
    pub slots: &'static [Slot],
}

pub const EMBED: KernelDef = KernelDef {
    name: "embed",
    body: include_str!("../../shaders/embed.wgsl"),
    sampler: false,
    workgroup: false,
    weights: true,
    slots: &[DIMS, STATE, slot("tokens", Access::Read, "array<u32>"), slot("x", Access::ReadWrite, "array<f32>")],
};

pub const RMSNORM: KernelDef = KernelDef {
    name: "rmsnorm",
    body: include_str!("../../shaders/rmsnorm.wgsl"),
    sampler: false,
    workgroup: true,
    weights: false,
    slots: &[
        DIMS,
        STATE,
        slot("x", Access::Read, "array<f32>"),
        slot("weight", Access::Read, "array<f32>"),
        slot("y", Access::ReadWrite, "array<f32>"),
    ],
};

pub const ATTENTION: KernelDef = KernelDef {
    name: "attention",
    body: include_str!("../../shaders/attention.wgsl"),
    sampler: false,
    workgroup: false,
    weights: false,
    slots: &[
        DIMS,
        STATE,
        slot("qkv", Access::Read, "array<vec2<f32>>"),
        slot("out", Access::ReadWrite, "array<vec2<f32>>"),
    ],
};

pub const MATMUL: KernelDef = KernelDef {
    name: "matmul",
    body: include_str!("../../shaders/matmul.wgsl"),
    sampler: false,
    workgroup: false,
    weights: true,
    slots: &[
        DIMS,
        slot("mp", Access::Uniform, "MatParams"),
        STATE,
        slot("x", Access::Read, "array<vec4<f32>>"),
        slot("y", Access::ReadWrite, "array<f32>"),
        slot("tokens", Access::Read, "array<u32>"),
    ],
};

pub const PICK: KernelDef = KernelDef {
    name: "pick",
    body: include_str!("../../shaders/pick.wgsl"),
    sampler: true,
    workgroup: true,
    weights: false,
    slots: &[
        DIMS,
        SAMPLER,
        STATE_RW,
        slot("logits", Access::Read, "array<f32>"),
        slot("tokens", Access::Read, "array<u32>"),
        slot("pred", Access::ReadWrite, "array<u32>"),
        slot("prob", Access::ReadWrite, "array<f32>"),
        slot("key", Access::ReadWrite, "array<f32>"),
        slot("exclude", Access::Read, "array<u32>"),
    ],
};

pub const COMMIT: KernelDef = KernelDef {
    name: "commit",
    body: include_str!("../../shaders/commit.wgsl"),
    sampler: true,
    workgroup: false,
    weights: false,
    slots: &[
        DIMS,
        SAMPLER,
        STATE_RW,
        slot("tokens", Access::ReadWrite, "array<u32>"),
        slot("pred", Access::Read, "array<u32>"),
        slot("prob", Access::Read, "array<f32>"),
        slot("key", Access::Read, "array<f32>"),
        slot("schedule", Access::Read, "array<u32>"),
        slot("history", Access::ReadWrite, "array<u32>"),
        slot("indirect", Access::ReadWrite, "array<u32>"),
    ],
};

/// Every kernel (the shader tests validate each, with every weight format where
/// it reads weights).
pub const KERNELS: &[&KernelDef] = &[&EMBED, &RMSNORM, &ATTENTION, &MATMUL, &PICK, &COMMIT];

/// The bindings a weight format adds after a kernel's own.
pub fn weight_slots(w: GpuWeights) -> &'static [Slot] {
    const WORDS: Slot = slot("w_words", Access::Read, "array<u32>");
    const BLOCKS: [Slot; 2] = [WORDS, slot("w_scales", Access::Read, "array<f32>")];
    match w {
        GpuWeights::Dense => &[WORDS],
        GpuWeights::Q8 | GpuWeights::Q4 => &BLOCKS,
    }
}

const COMMON: &str = include_str!("../../shaders/common.wgsl");
const SAMPLER_COMMON: &str = include_str!("../../shaders/sampler_common.wgsl");
const WORKGROUP: &str = include_str!("../../shaders/workgroup.wgsl");

impl KernelDef {
    /// Every binding, the weight format's last; `weights` must be given exactly
    /// when the kernel reads weights.
    pub fn all_slots(&self, weights: Option<GpuWeights>) -> Vec<Slot> {
        assert_eq!(weights.is_some(), self.weights, "{}: weight format given wrongly", self.name);
        self.slots.iter().chain(weights.map(weight_slots).unwrap_or(&[])).copied().collect()
    }

    /// The full WGSL source.
    pub fn source(&self, weights: Option<GpuWeights>) -> String {
        let mut src = String::from(COMMON);
        if self.sampler {
            src.push_str(SAMPLER_COMMON);
        }
        // Struct types a binding names must come first: MatParams is in the body.
        let (head, body) = match self.body.find("// Bindings:") {
            Some(i) => self.body.split_at(i),
            None => ("", self.body),
        };
        src.push_str(head);
        src.push_str(&format!("\n// Bindings of `{}`, generated by gpu::kernels.\n", self.name));
        for (i, s) in self.all_slots(weights).iter().enumerate() {
            let space = match s.access {
                Access::Uniform => "uniform",
                Access::Read => "storage, read",
                Access::ReadWrite => "storage, read_write",
            };
            src.push_str(&format!("@group(0) @binding({i}) var<{space}> {}: {};\n", s.name, s.ty));
        }
        if self.workgroup {
            src.push_str(WORKGROUP);
        }
        if let Some(w) = weights {
            src.push_str(match w {
                GpuWeights::Dense => include_str!("../../shaders/weights_dense.wgsl"),
                GpuWeights::Q8 => include_str!("../../shaders/weights_q8.wgsl"),
                GpuWeights::Q4 => include_str!("../../shaders/weights_q4.wgsl"),
            });
        }
        src.push_str(body);
        src
    }

    pub(super) fn layout(&self, device: &wgpu::Device, weights: Option<GpuWeights>) -> wgpu::BindGroupLayout {
        let entries: Vec<wgpu::BindGroupLayoutEntry> = self
            .all_slots(weights)
            .iter()
            .enumerate()
            .map(|(i, s)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match s.access {
                        Access::Uniform => wgpu::BufferBindingType::Uniform,
                        Access::Read => wgpu::BufferBindingType::Storage { read_only: true },
                        Access::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(self.name), entries: &entries })
    }
}
