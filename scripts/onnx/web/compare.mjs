// Usage: node scripts/onnx/web/compare.mjs [--reps 10] [--warm 2] [--runs webgpu,cpu]
//            [--builds jsep,native] [--models q8,f32] [--json-out FILE]
//            [--onnx-dir target/onnx] [--timeout-s 1800] [--stall-s 300]
//
// Times Unmask's in-browser backends and ONNX Runtime Web on the same weights, in one
// page (compare.html), interleaved repetition by repetition, in headless Chromium.
// Needs `npm ci` in scripts/onnx/web, the browser tests' `npm ci` in tests/browser
// (playwright-core), a built www/pkg, and target/onnx/poem-q8.onnx and poem-f32.onnx
// (scripts/onnx/export.py, with and without --dense).
//
// --runs: "webgpu" launches Chromium with WebGPU on SwiftShader (every contestant);
// "cpu" launches it without WebGPU (CPU contestants only, with no GPU emulation
// sharing the CPU). --builds: the onnxruntime-web bundles whose WebGPU EP is timed,
// "jsep" (the package's main entry, JavaScript EP) and "native" (onnxruntime-web/webgpu,
// the C++ EP); the wasm EP comes from the first. --models: the graphs (q8: MatMulNBits,
// f32: --dense). --warm: seconds each contestant runs each case before timing (V8
// swaps in optimized wasm only after a while). Prints a markdown table per run;
// --json-out writes every result.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ROOT, WWW, launch, serve } from "../../../tests/browser/harness.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const a = { reps: 10, warm: 2, runs: "webgpu,cpu", builds: "jsep,native", models: "q8,f32", jsonOut: null,
    onnxDir: path.join(ROOT, "target/onnx"), timeoutS: 1800, stallS: 300 };
  const keys = { "--reps": "reps", "--warm": "warm", "--runs": "runs", "--builds": "builds", "--models": "models", "--json-out": "jsonOut",
    "--onnx-dir": "onnxDir", "--timeout-s": "timeoutS", "--stall-s": "stallS" };
  for (let i = 0; i < argv.length; i++) {
    const k = keys[argv[i]];
    if (!k || i + 1 >= argv.length) {
      console.error(`unknown or incomplete argument ${argv[i]}\n` + "usage: node scripts/onnx/web/compare.mjs [--reps 10] [--warm 2] [--runs webgpu,cpu] [--builds jsep,native] [--models q8,f32] [--json-out FILE] [--onnx-dir target/onnx] [--timeout-s 1800] [--stall-s 300]");
      process.exit(2);
    }
    a[k] = argv[++i];
  }
  for (const k of ["reps", "warm", "timeoutS", "stallS"]) a[k] = Number(a[k]);
  a.runs = a.runs.split(",").filter(Boolean);
  for (const r of a.runs) if (r !== "webgpu" && r !== "cpu") throw new Error(`--runs takes webgpu and/or cpu, not ${r}`);
  return a;
}

function need(file, how) {
  if (!existsSync(file)) throw new Error(`missing ${path.relative(ROOT, file)}: ${how}`);
  return file;
}

// The served folder: www/ linked entry by entry, except pkg/, which is copied so that a
// rebuild during the run cannot swap the wasm under the page; then ort/, the graphs
// and the page.
function makeSite(onnxDir) {
  const ortDist = need(path.join(HERE, "node_modules/onnxruntime-web/dist"), "run `npm ci` in scripts/onnx/web");
  const q8 = need(path.join(onnxDir, "poem-q8.onnx"), "run scripts/onnx/export.py (see scripts/onnx/README.md)");
  const f32 = need(path.join(onnxDir, "poem-f32.onnx"), "run scripts/onnx/export.py --dense (see scripts/onnx/README.md)");
  need(path.join(WWW, "pkg/unmask_web_bg.wasm"), "run scripts/build-web.sh");
  const dir = mkdtempSync(path.join(os.tmpdir(), "unmask-ort-web-"));
  const links = [];
  const link = (target, name) => {
    symlinkSync(target, path.join(dir, name));
    links.push(path.join(dir, name));
  };
  for (const e of readdirSync(WWW)) if (e !== "pkg") link(path.join(WWW, e), e);
  mkdirSync(path.join(dir, "pkg"));
  const copies = readdirSync(path.join(WWW, "pkg")).map((f) => {
    copyFileSync(path.join(WWW, "pkg", f), path.join(dir, "pkg", f));
    return path.join(dir, "pkg", f);
  });
  link(ortDist, "ort");
  link(q8, "poem-q8.onnx");
  link(f32, "poem-f32.onnx");
  link(path.join(HERE, "compare.html"), "compare.html");
  // Removal touches only what was made here: links are unlinked, never followed.
  const remove = () => {
    for (const f of [...links, ...copies]) unlinkSync(f);
    rmdirSync(path.join(dir, "pkg"));
    rmdirSync(dir);
  };
  return { dir, remove };
}

// `promise`, or an error saying `what` after `seconds`.
function within(seconds, what, promise) {
  let timer;
  const limit = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(what)), seconds * 1000)));
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

// One Chromium, one page load; resolves to the page's result JSON. Every wait has a
// limit and says what it was waiting for; progress is printed as the page reports it.
async function runOnce(url, run, a) {
  const browser = await launch({ webgpu: run === "webgpu" });
  try {
    const page = await browser.newPage();
    const errors = [];
    const notes = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => {
      const t = m.text().replace(/\x1b\[[0-9;]*m/g, "");
      // ONNX Runtime logs on console.error; a failed session is recorded by the page itself.
      if (/\[[EWIV]:onnxruntime/.test(t) || m.type() === "warning") notes.push(t);
      // A missing file is reported below with its address, not as this bare console line.
      else if (m.type() === "error" && !t.startsWith("Failed to load resource")) errors.push(t);
    });
    page.on("response", (res) => {
      if (res.status() >= 400) errors.push(`HTTP ${res.status()} for ${res.url()}`);
    });
    const q = new URLSearchParams({ reps: String(a.reps), warm: String(a.warm), builds: a.builds, models: a.models });
    if (run === "cpu") q.set("cpu", "1");
    await page.goto(`${url}/compare.html?${q}`);
    const t0 = Date.now();
    let last = "", lastChange = Date.now();
    for (;;) {
      // A page stuck in a long computation cannot answer: that too counts as a stall.
      const s = await within(a.stallS, `[${run}] the page did not answer for ${a.stallS} s, at "${last}"`, page.evaluate(() => ({ done: document.body.dataset.done, failed: document.body.dataset.failed,
        status: document.querySelector("#status").textContent, error: document.querySelector("#error").textContent })));
      if (s.done) break;
      if (s.failed) throw new Error(`[${run}] the page failed: ${s.error}\npage errors: ${errors.join("\n")}`);
      if (errors.length) throw new Error(`[${run}] page errors while "${s.status}": ${errors.join("\n")}`);
      if (s.status !== last) {
        console.error(`[${run}] ${((Date.now() - t0) / 1000).toFixed(0)} s: ${s.status}`);
        last = s.status;
        lastChange = Date.now();
      }
      if (Date.now() - lastChange > a.stallS * 1000) throw new Error(`[${run}] no progress for ${a.stallS} s, stuck at "${last}"`);
      if (Date.now() - t0 > a.timeoutS * 1000) throw new Error(`[${run}] not done after ${a.timeoutS} s, at "${last}"`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const result = JSON.parse(await page.textContent("#result"));
    if (run === "webgpu" && !result.about.webgpu_adapter) throw new Error("[webgpu] Chromium was launched with WebGPU but the page found no adapter");
    result.run = run;
    result.browser_warnings = notes;
    return result;
  } finally {
    await browser.close();
  }
}

const fmt = (v, d = 1) => (v === null || v === undefined ? "–" : v.toFixed(d));
const ratio = (v, base) => (v && base ? `${(v / base).toFixed(2)}×` : "–");

// A table per run: ms per forward at each case's length, and each contestant's time
// over Unmask's CPU path and over Unmask's WebGPU path (above 1× = slower than Unmask).
function table(r) {
  const cases = r.cases;
  const names = Object.keys(cases[0].ms);
  const head = ["contestant", ...cases.map((c) => `T=${c.positions} ms`), ...cases.map((c) => `÷ unmask cpu T=${c.positions}`)];
  const gpu = "unmask webgpu" in cases[0].ms;
  if (gpu) head.push(...cases.map((c) => `÷ unmask webgpu T=${c.positions}`));
  head.push("max abs Δ logit");
  const lines = [`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i ? "---:" : "---")).join("|")}|`];
  const ort = Object.fromEntries(r.ort.map((o) => [o.name, o]));
  for (const n of names) {
    const diff = ort[n] ? Math.max(...Object.values(ort[n].max_abs_diff)) : Math.max(...cases.map((c) => c.max_abs_diff[n.replace("unmask ", "")] ?? 0));
    const row = [n, ...cases.map((c) => fmt(c.ms[n])), ...cases.map((c) => ratio(c.ms[n], c.ms["unmask cpu"]))];
    if (gpu) row.push(...cases.map((c) => ratio(c.ms[n], c.ms["unmask webgpu"])));
    row.push(diff.toExponential(1));
    lines.push(`| ${row.join(" | ")} |`);
  }
  return lines.join("\n");
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const site = makeSite(path.resolve(a.onnxDir));
  const server = await serve(site.dir);
  const results = [];
  try {
    for (const run of a.runs) results.push(await runOnce(server.url, run, a));
  } finally {
    server.stop();
    site.remove();
  }
  for (const r of results) {
    const ab = r.about;
    console.log(`\n### ${r.run === "webgpu" ? "With WebGPU" : "Without WebGPU"} (median of ${r.repetitions}; onnxruntime-web ${r.ort[0]?.version ?? "?"}, 1 thread)\n`);
    console.log(`WebGPU adapter: ${ab.webgpu_adapter ?? "none"} · Unmask CPU kernel: ${ab.cpu_kernel} · ${ab.user_agent}\n`);
    console.log(table(r));
    console.log("");
    for (const o of r.ort) {
      // Where ORT put the nodes, and the ops the EP had no kernel for (left to the CPU EP).
      const where = Object.entries(o.placement ?? {}).map(([ep, n]) => `${n} on ${ep}`).join(", ") || "not logged";
      const missing = o.missing_kernels?.length ? `; no ${o.ep} kernel for ${o.missing_kernels.join(", ")}` : "";
      console.log(`- ${o.name} (${o.bundle}): ${o.error ?? `nodes: ${where}${missing}`}`);
      for (const e of o.errors ?? []) console.log(`  - ORT: ${e}`);
    }
    for (const o of r.ort.filter((o) => o.argmax_mismatches && Object.values(o.argmax_mismatches).some((v) => v > 0))) {
      console.log(`- ${o.name}: top token differs from the reference at ${JSON.stringify(o.argmax_mismatches)} positions`);
    }
  }
  if (a.jsonOut) {
    writeFileSync(a.jsonOut, JSON.stringify({ generated: new Date().toISOString(), runs: results }, null, 2) + "\n");
    console.log(`\nwrote ${a.jsonOut}`);
  }
}

main().catch((e) => {
  console.error(e?.stack ?? e);
  process.exit(1);
});
