// Shared pieces of the browser tests: a server for www/ on a free port, and
// Chromium launched with WebGPU on SwiftShader (ARCHITECTURE.md) or without it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before } from "node:test";
import { chromium } from "playwright-core";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const ARTIFACTS = path.join(ROOT, "test-artifacts");
/** The served folder: www/ (built by scripts/build-web.sh), or UNMASK_WWW. */
export const WWW = path.resolve(ROOT, process.env.UNMASK_WWW || "www");
mkdirSync(ARTIFACTS, { recursive: true });

const BASE_FLAGS = ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
const WEBGPU_FLAGS = ["--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-vulkan=swiftshader", "--use-webgpu-adapter=swiftshader"];

/** Serves `dir` (relative to the repo) with scripts/serve.py; resolves to {url, stop}. */
export function serve(dir = WWW) {
  return new Promise((resolve, reject) => {
    const p = spawn("python3", [path.join(ROOT, "scripts/serve.py"), "--dir", dir, "--port", "0", "--quiet"], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/at (http:\/\/[^\s]+)/);
      if (m) resolve({ url: m[1], stop: () => p.kill() });
    });
    p.on("exit", (code) => reject(new Error(`server exited (${code}): ${out}`)));
  });
}

/**
 * The longest any step may wait unless it says how long itself: a step that waits
 * for something that never comes fails in seconds, loudly, instead of eating
 * Playwright's default 30 s (a `.catch` once turned such a wait into a silent null and
 * a 32 s "time to first result"). Model loads and generations pass their own timeouts.
 */
export const STEP_TIMEOUT = 15_000;

export async function launch({ webgpu = true } = {}) {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: webgpu ? [...BASE_FLAGS, ...WEBGPU_FLAGS] : BASE_FLAGS, headless: true });
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (...args) => {
    const context = await newContext(...args);
    context.setDefaultTimeout(STEP_TIMEOUT);
    return context;
  };
  const newPage = browser.newPage.bind(browser);
  browser.newPage = async (...args) => {
    const page = await newPage(...args);
    page.setDefaultTimeout(STEP_TIMEOUT);
    return page;
  };
  return browser;
}

/**
 * Registers this test file's before/after hooks: a server for www/ and one Chromium
 * (WebGPU on SwiftShader unless `webgpu` is false). Returns an object whose `server`
 * and `browser` are set once the hooks have run.
 */
export function setup({ webgpu = true } = {}) {
  const env = { server: null, browser: null };
  before(async () => {
    env.server = await serve();
    env.browser = await launch({ webgpu });
  });
  after(async () => {
    await env.browser?.close();
    env.server?.stop();
  });
  return env;
}

/** Every token string of the bundled tokenizer: what generated text may contain. */
export function vocabulary() {
  const tj = JSON.parse(readFileSync(path.join(WWW, "model/tokenizer.json"), "utf8"));
  return new Set(Object.keys(tj.model.vocab));
}

let vocab;
/** Asserts `answer` is `len` vocabulary characters (no special tokens). */
export function checkLine(answer, len) {
  vocab ??= vocabulary();
  const chars = [...answer];
  assert.equal(chars.length, len, `answer "${answer}" should have ${len} characters`);
  for (const c of chars) assert.ok(vocab.has(c) && !c.startsWith("["), `"${c}" is not a vocabulary character`);
}

// Metrics from every test file of a run, merged into one file.
const METRICS = path.join(ARTIFACTS, "metrics.json");
export function record(key, value) {
  let metrics = {};
  try { metrics = JSON.parse(readFileSync(METRICS, "utf8")); } catch { /* first metric of the run */ }
  metrics[key] = value;
  writeFileSync(METRICS, JSON.stringify(metrics, null, 2));
  console.log(`metric ${key} = ${JSON.stringify(value)}`);
}

/** Collects page errors and console errors so a test can assert there were none. */
export function watch(page) {
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  return errors;
}
