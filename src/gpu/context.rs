//! Device setup, limits, counters and buffer read-back.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use thiserror::Error;

use super::pipelines::{Pipeline, Pipelines};
use super::shader::{GpuWeights, KernelDef};
use crate::sampler::SampleError;

#[derive(Debug, Error)]
pub enum GpuError {
    #[error("no GPU adapter is available ({0})")]
    NoAdapter(String),
    #[error("the GPU refused to create a device: {0}")]
    Device(String),
    #[error("the GPU's limits are too small for this model: {0}")]
    Limits(String),
    #[error("the GPU device was lost: {0}")]
    DeviceLost(String),
    #[error("reading results back from the GPU failed: {0}")]
    Readback(String),
    #[error("the GPU reported an error: {0}")]
    Validation(String),
    /// A kernel was given operands whose shapes do not fit (a bug in the caller).
    #[error("a GPU kernel's operands do not fit: {0}")]
    Shape(String),
    #[error(transparent)]
    Sample(#[from] SampleError),
}

/// What the engine asked of the GPU since it was created (or last reset): the
/// figures that show a generation is one submission and one read-back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    pub submissions: u64,
    pub readbacks: u64,
    pub dispatches: u64,
}

/// What [`GpuContext::adapter_name`] says in a browser that hides the adapter's name
/// (the page shows it in the visitor's language instead).
pub const UNNAMED_WEBGPU: &str = "WebGPU (the browser does not name the GPU)";

/// A device and queue plus what the engine needs to know about them.
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter_info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    /// The device writes timestamps at compute pass boundaries (`TIMESTAMP_QUERY`).
    pub timestamps: bool,
    lost: Arc<AtomicBool>,
    lost_reason: Arc<std::sync::Mutex<String>>,
    /// The last error the device reported outside an error scope (taken by `take_error`).
    error: Arc<std::sync::Mutex<Option<String>>>,
    counters: Cell<Counters>,
    /// Compiled kernels, shared by every model and test run on this device.
    pipelines: RefCell<Pipelines>,
    /// The driver's compiled pipelines, kept on disk between runs (natively).
    pipeline_cache: Option<PipelineCacheFile>,
}

/// Where compiled pipelines are kept natively: `$UNMASK_PIPELINE_CACHE` (set but
/// empty: nowhere), else `$XDG_CACHE_HOME/unmask` or `~/.cache/unmask`; none in
/// the browser.
fn default_cache_dir() -> Option<std::path::PathBuf> {
    #[cfg(target_arch = "wasm32")]
    return None;
    #[cfg(not(target_arch = "wasm32"))]
    {
        // UNMASK_PIPELINE_CACHE set but empty: no cache.
        if std::env::var_os("UNMASK_PIPELINE_CACHE").is_some_and(|v| v.is_empty()) {
            return None;
        }
        let env = |k| std::env::var_os(k).filter(|v| !v.is_empty()).map(std::path::PathBuf::from);
        env("UNMASK_PIPELINE_CACHE")
            .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("unmask")))
            .or_else(|| env("HOME").map(|d| d.join(".cache/unmask")))
    }
}

/// A wgpu pipeline cache and the file it is loaded from and saved to when the
/// context is dropped.
struct PipelineCacheFile {
    cache: wgpu::PipelineCache,
    path: std::path::PathBuf,
}

/// Larger cache files are ignored (ours are a few hundred KiB).
const MAX_PIPELINE_CACHE_BYTES: u64 = 64 << 20;

impl PipelineCacheFile {
    fn open(device: &wgpu::Device, info: &wgpu::AdapterInfo, dir: &std::path::Path) -> Option<Self> {
        if !device.features().contains(wgpu::Features::PIPELINE_CACHE) {
            return None;
        }
        let path = dir.join(wgpu::util::pipeline_cache_key(info)?);
        let fits = std::fs::metadata(&path).is_ok_and(|m| m.len() <= MAX_PIPELINE_CACHE_BYTES);
        let data = if fits { std::fs::read(&path).ok() } else { None };
        // SAFETY: the data is what `get_data` gave an earlier run, written whole
        // (temp file + rename, `save`). wgpu checks its header — magic, wgpu and
        // cache ABI versions, backend, adapter key, the driver's validation key,
        // and the body's exact length (a truncated or extended file is refused) —
        // and with `fallback` starts an empty cache when any of it does not match.
        // It does not hash the body: only a file altered from outside could pass
        // the header with a damaged body (UNMASK_PIPELINE_CACHE= turns the cache off).
        let cache = unsafe {
            device.create_pipeline_cache(&wgpu::PipelineCacheDescriptor {
                label: Some("unmask pipelines"),
                data: data.as_deref(),
                fallback: true,
            })
        };
        Some(PipelineCacheFile { cache, path })
    }

    fn save(&self) {
        let Some(data) = self.cache.get_data() else { return };
        // A name no other context writes to (tests open many at once).
        static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SAVES.fetch_add(1, Ordering::Relaxed);
        let tmp = self.path.with_extension(format!("{}-{n}.tmp", std::process::id()));
        let written = self
            .path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| std::fs::write(&tmp, &data))
            .and_then(|_| std::fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            log::warn!("could not save the pipeline cache to {}: {e}", self.path.display());
        }
    }
}

impl Drop for GpuContext {
    fn drop(&mut self) {
        if let Some(c) = &self.pipeline_cache {
            if self.check_alive().is_ok() {
                c.save();
            }
        }
    }
}

impl GpuContext {
    /// Picks the default adapter (high performance preferred) and opens a device
    /// with WebGPU's default limits (what every WebGPU browser guarantees).
    pub async fn new() -> Result<Self, GpuError> {
        Self::open(default_cache_dir()).await
    }

    /// As [`GpuContext::new`], keeping compiled pipelines in `cache_dir` across runs
    /// (natively, where the backend supports a pipeline cache; `None`: no cache).
    pub async fn open(cache_dir: Option<std::path::PathBuf>) -> Result<Self, GpuError> {
        #[cfg_attr(target_arch = "wasm32", allow(unused_mut))]
        let mut desc = wgpu::InstanceDescriptor::from_env_or_default();
        // Natively, skip the GL backend (it only adds noise probing for a display);
        // WGPU_BACKEND still overrides.
        #[cfg(not(target_arch = "wasm32"))]
        if std::env::var_os("WGPU_BACKEND").is_none() {
            desc.backends = wgpu::Backends::PRIMARY;
        }
        let instance = wgpu::Instance::new(&desc);
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                force_fallback_adapter: false,
                compatible_surface: None,
            })
            .await
            .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        let mut ctx = Self::from_adapter(adapter).await?;
        if let Some(dir) = cache_dir {
            ctx.pipeline_cache = PipelineCacheFile::open(&ctx.device, &ctx.adapter_info, &dir);
        }
        Ok(ctx)
    }

    pub async fn from_adapter(adapter: wgpu::Adapter) -> Result<Self, GpuError> {
        let adapter_info = adapter.get_info();
        let have = adapter.limits();
        // Ask for as much storage-binding room as the adapter has (up to WebGPU's
        // 128 MiB default); the model checks its own needs against this.
        let limits = wgpu::Limits {
            max_storage_buffer_binding_size: have.max_storage_buffer_binding_size.min(128 << 20),
            max_buffer_size: have.max_buffer_size.min(256 << 20),
            max_storage_buffers_per_shader_stage: 8,
            ..Default::default()
        };
        let needs = [
            (have.max_storage_buffers_per_shader_stage, 8, "storage buffers per stage"),
            (have.max_compute_invocations_per_workgroup, 256, "invocations per workgroup"),
            (have.max_compute_workgroup_size_x, 256, "workgroup size x"),
            (have.max_compute_workgroup_storage_size, 4096, "workgroup storage bytes"),
        ];
        if let Some((h, n, what)) = needs.iter().find(|(h, n, _)| h < n) {
            return Err(GpuError::Limits(format!("{what}: adapter has {h}, needs {n}")));
        }
        // Timestamp queries where the adapter has them (per-kernel times in benches).
        let features = adapter.features() & (wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::PIPELINE_CACHE);
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("unmask"),
                required_features: features,
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::Device(e.to_string()))?;
        let lost = Arc::new(AtomicBool::new(false));
        let lost_reason = Arc::new(std::sync::Mutex::new(String::new()));
        {
            let (lost, reason) = (lost.clone(), lost_reason.clone());
            device.set_device_lost_callback(move |why, msg| {
                lost.store(true, Ordering::SeqCst);
                if let Ok(mut r) = reason.lock() {
                    *r = format!("{why:?}: {msg}");
                }
            });
        }
        // Without a handler wgpu panics on an uncaptured error, which in a browser
        // kills the page; record it instead and let the caller recover.
        let error = Arc::new(std::sync::Mutex::new(None));
        {
            let error = error.clone();
            device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                log::error!("GPU error: {e}");
                if let Ok(mut slot) = error.lock() {
                    slot.get_or_insert_with(|| e.to_string());
                }
            }));
        }
        Ok(GpuContext {
            device,
            queue,
            adapter_info,
            limits,
            timestamps: features.contains(wgpu::Features::TIMESTAMP_QUERY),
            lost,
            lost_reason,
            error,
            counters: Cell::new(Counters::default()),
            pipelines: RefCell::new(Pipelines::default()),
            pipeline_cache: None,
        })
    }

    /// A one-line description of the adapter, for benches and the UI ([`UNNAMED_WEBGPU`]
    /// in a browser that hides it).
    pub fn adapter_name(&self) -> String {
        let i = &self.adapter_info;
        // Browsers hide the adapter's name and type: say so in words, not as enum names.
        if i.backend == wgpu::Backend::BrowserWebGpu && i.name.is_empty() {
            return UNNAMED_WEBGPU.to_string();
        }
        let name = if i.name.is_empty() { "unnamed adapter" } else { i.name.as_str() };
        format!("{name} ({:?}, {:?})", i.backend, i.device_type)
    }

    /// `Err(DeviceLost)` once the device has been lost; callers then build a new context.
    pub fn check_alive(&self) -> Result<(), GpuError> {
        if self.lost.load(Ordering::SeqCst) {
            let why = self.lost_reason.lock().map(|r| r.clone()).unwrap_or_default();
            return Err(GpuError::DeviceLost(why));
        }
        Ok(())
    }

    /// The first uncaptured device error since the last call, if any.
    pub fn take_error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|mut e| e.take())
    }

    /// Destroys the device, as a driver reset would (for testing recovery).
    pub fn lose_device(&self) {
        self.device.destroy();
    }

    /// `def`'s pipeline for `weights`, compiled on first use.
    pub fn pipeline(&self, def: &'static KernelDef, weights: Option<GpuWeights>) -> Pipeline {
        let cache = self.pipeline_cache.as_ref().map(|c| &c.cache);
        self.pipelines.borrow_mut().get(&self.device, cache, def, weights)
    }

    /// The file compiled pipelines are kept in between runs, if any.
    pub fn pipeline_cache_path(&self) -> Option<&std::path::Path> {
        self.pipeline_cache.as_ref().map(|c| c.path.as_path())
    }

    /// Pipelines compiled on this device so far.
    pub fn pipelines_compiled(&self) -> usize {
        self.pipelines.borrow().len()
    }

    pub fn counters(&self) -> Counters {
        self.counters.get()
    }

    pub fn reset_counters(&self) {
        self.counters.set(Counters::default());
    }

    pub(crate) fn count(&self, f: impl FnOnce(&mut Counters)) {
        let mut c = self.counters.get();
        f(&mut c);
        self.counters.set(c);
    }

    pub(crate) fn submit(&self, encoder: wgpu::CommandEncoder) {
        self.queue.submit([encoder.finish()]);
        self.count(|c| c.submissions += 1);
    }

    /// Maps `staging` (MAP_READ) and returns its bytes: the engine's only read-back.
    pub(crate) async fn read(&self, staging: &wgpu::Buffer) -> Result<Vec<u8>, GpuError> {
        let slice = staging.slice(..);
        let (tx, rx) = futures_channel::oneshot::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        #[cfg(not(target_arch = "wasm32"))]
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| GpuError::Readback(e.to_string()))?;
        let mapped = rx.await.map_err(|_| GpuError::Readback("the map callback was dropped".into()))?;
        self.check_alive()?;
        if let Some(e) = self.take_error() {
            return Err(GpuError::Validation(e));
        }
        mapped.map_err(|e| GpuError::Readback(e.to_string()))?;
        let bytes = slice.get_mapped_range().to_vec();
        staging.unmap();
        self.count(|c| c.readbacks += 1);
        Ok(bytes)
    }
}
