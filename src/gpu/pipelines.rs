//! The pipeline cache of one device: each (kernel, weight kind) compiled on first
//! use and kept, shared by every model on the device (`GpuContext::pipeline`).

use std::collections::HashMap;

use super::shader::{GpuWeights, KernelDef};

/// A compiled kernel and its bind group layout.
#[derive(Clone)]
pub struct Pipeline {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

/// Compiled pipelines of one device, built on first use and kept.
#[derive(Default)]
pub struct Pipelines {
    cache: HashMap<(&'static str, Option<GpuWeights>), Pipeline>,
}

impl Pipelines {
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }

    pub fn get(
        &mut self,
        device: &wgpu::Device,
        cache: Option<&wgpu::PipelineCache>,
        def: &KernelDef,
        weights: Option<GpuWeights>,
    ) -> Pipeline {
        self.cache
            .entry((def.name, weights))
            .or_insert_with(|| {
                let label = format!("{}/{weights:?}", def.name);
                let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(&label),
                    source: wgpu::ShaderSource::Wgsl(def.source(weights).into()),
                });
                let layout = def.layout(device, weights);
                let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: Some(&label),
                    bind_group_layouts: &[&layout],
                    push_constant_ranges: &[],
                });
                let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&label),
                    layout: Some(&pipeline_layout),
                    module: &module,
                    entry_point: Some("main"),
                    compilation_options: Default::default(),
                    cache,
                });
                Pipeline { pipeline, layout }
            })
            .clone()
    }
}
