// www/bench.html: what someone with their own GPU opens to tell us the real figure.
// It runs every backend in turn, checks each one's logits against the CPU
// reference and gives a copyable JSON result; bad input is refused in words.
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { ARTIFACTS, setup } from "./harness.mjs";

const env = setup();

async function open() {
  const page = await env.browser.newPage();
  await page.goto(`${env.server.url}/bench.html`);
  await page.waitForFunction(() => document.querySelector("#status").textContent === "Ready.");
  return page;
}

test("bench: WebGPU, the fast CPU path and the reference, each checked against the reference", async () => {
  const page = await open();
  await page.fill("#reps", "2");
  await page.check("#reference");
  await page.click("#run");
  await page.waitForSelector("body[data-done='1']", { timeout: 180_000 });
  const r = JSON.parse(await page.inputValue("#json"));
  assert.equal(r.about.cpu_kernel, "simd128", "the page's CPU path is the wasm SIMD kernel");
  assert.ok(r.about.webgpu_adapter, "WebGPU was used");
  assert.deepEqual(r.cases.map((c) => [c.case, c.positions]), [["couplet", 13], ["poem", 64]]);
  for (const c of r.cases) {
    for (const who of ["unmask webgpu", "unmask cpu", "unmask cpu reference"]) {
      assert.ok(c.ms[who] > 0, `${c.case}: ${who} timed (${JSON.stringify(c.ms)})`);
    }
    // The fast path's 16-bit activations and the GPU's f32 sums stay within f32 noise.
    assert.ok(c.max_abs_diff.cpu < 1e-2, `${c.case}: CPU logits off by ${c.max_abs_diff.cpu}`);
    assert.ok(c.max_abs_diff.webgpu < 1e-2, `${c.case}: WebGPU logits off by ${c.max_abs_diff.webgpu}`);
    assert.ok(c.webgpu_dispatches > 0, "dispatches counted");
    // Per-kernel times where the browser allows timestamp queries, else why not.
    if (Array.isArray(c.webgpu_kernels)) {
      assert.equal(c.webgpu_kernels.reduce((s, k) => s + k.dispatches, 0), c.webgpu_dispatches, "every dispatch timed once");
      assert.ok(c.webgpu_kernels.some((k) => k.kernel.startsWith("attention")), JSON.stringify(c.webgpu_kernels));
    } else {
      assert.match(c.webgpu_kernels, /timestamp queries/);
    }
  }
  const kernels = r.cases[0].webgpu_kernels;
  if (Array.isArray(kernels)) {
    assert.equal(await page.locator("#kernels tbody tr").count(), kernels.length, "a row per kernel");
  } else {
    assert.match(await page.textContent("#kernels-note"), /No per-kernel times: .*timestamp queries/);
  }
  // The table shows the same figures.
  assert.equal(await page.locator("#table tbody tr").count(), 2);
  assert.equal(await page.isDisabled("#copy"), false);
  await page.screenshot({ path: path.join(ARTIFACTS, "bench.png"), fullPage: true });
  await page.close();
});

test("bench: an absurd repetition count is refused in words", async () => {
  const page = await open();
  await page.fill("#reps", "100000");
  await page.check("#cpuonly");
  await page.click("#run");
  await page.waitForSelector("#status.error");
  assert.match(await page.textContent("#status"), /repetitions must be 1 to 200/);
  await page.close();
});
