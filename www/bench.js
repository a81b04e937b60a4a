// The benchmark driver shared by bench.html and the ONNX Runtime Web comparison
// (scripts/onnx/web/): every contestant runs one forward pass of a case in turn,
// repetition by repetition, so a busy machine slows them all alike; the result is
// the median per contestant and case.
import init, { BenchModel } from "./pkg/unmask_web.js";

const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : null;
};
const tick = () => new Promise((r) => setTimeout(r, 0));

/** Loads the page's model for benchmarking (WebGPU unless `cpuOnly`). */
export async function loadModel(cpuOnly = false) {
  await init();
  return BenchModel.load(cpuOnly);
}

/**
 * Runs `reps` timed rounds after a warm-up: each contestant runs each case for
 * `warmS` seconds (at least twice) first, since V8 swaps in optimized wasm only
 * after a function has run for a while (with a single warm-up round another
 * runtime's first case came out several times too slow). `extra` adds contestants
 * `{name, time(caseIndex) → Promise<ms>}` (another runtime on the same tokens).
 * Resolves to {about, repetitions, cases: [{case, positions, ms: {name: median},
 * max_abs_diff: {cpu, webgpu}, webgpu_dispatches, webgpu_kernels}]}; webgpu_kernels is
 * [{kernel, dispatches, ms}] from timestamp queries, or why there are none.
 */
export async function runBench(model, { reps = 10, reference = false, extra = [], warmS = 1, onProgress = () => {} } = {}) {
  if (!(reps >= 1 && reps <= 200)) throw new Error("repetitions must be 1 to 200");
  if (!(warmS >= 0 && warmS <= 60)) throw new Error("warm-up must be 0 to 60 seconds");
  const about = JSON.parse(model.about());
  const contestants = [];
  if (about.webgpu_adapter) contestants.push({ name: "unmask webgpu", time: (i) => model.time_webgpu(i) });
  contestants.push({ name: "unmask cpu", time: async (i) => model.time_cpu(i) });
  if (reference) contestants.push({ name: "unmask cpu reference", time: async (i) => model.time_reference(i) });
  contestants.push(...extra);
  const names = model.cases();
  const cases = [];
  for (let i = 0; i < names.length; i++) {
    onProgress(`${names[i]}: checking against the reference`);
    const diff = JSON.parse(await model.check(i));
    for (const c of contestants) {
      onProgress(`${names[i]}: warming up ${c.name}`);
      const t0 = performance.now();
      for (let k = 0; k < 2 || performance.now() - t0 < warmS * 1000; k++) {
        await c.time(i);
        await tick();
      }
    }
    const times = Object.fromEntries(contestants.map((c) => [c.name, []]));
    for (let r = 1; r <= reps; r++) {
      for (const c of contestants) {
        times[c.name].push(await c.time(i));
        await tick();
      }
      onProgress(`${names[i]}: ${r} of ${reps}`);
    }
    cases.push({
      case: names[i],
      positions: model.tokens(i).length,
      ms: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])),
      max_abs_diff: diff,
      webgpu_dispatches: about.webgpu_adapter ? await model.webgpu_dispatches(i) : null,
      webgpu_kernels: about.webgpu_adapter ? JSON.parse(await model.webgpu_kernel_times(i)) : null,
    });
  }
  return { about: { ...about, user_agent: navigator.userAgent }, repetitions: reps, warm_up_s: warmS, cases };
}
