// The compare view: opening it downloads the autoregressive twin (and only then),
// and one click shows the diffusion answer next to the twin's left-to-right and
// beam-ranked answers, each with its forward-pass count.
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { ARTIFACTS, record, watch, checkLine, setup } from "./harness.mjs";

const TIMEOUT = 240_000;
const env = setup();

test("the compare view loads the twin on demand and shows both models' answers", async () => {
  const context = await env.browser.newContext({ viewport: { width: 1000, height: 900 } });
  const page = await context.newPage();
  const errors = watch(page);
  const requests = [];
  page.on("request", (r) => requests.push(new URL(r.url()).pathname.replace(/^\/+/, "/")));
  await page.goto(`${env.server.url}/?lang=en`);
  await page.waitForSelector('#app[data-state="ready"]', { timeout: TIMEOUT });
  assert.ok(!requests.some((p) => p.startsWith("/model-ar/")), `the twin was fetched before the view opened: ${requests}`);

  await page.click("#compare-tab");
  await page.waitForSelector('#compare[data-state="ready"], #compare[data-state="failed"]', { timeout: TIMEOUT });
  assert.equal(await page.getAttribute("#compare", "data-state"), "ready", await page.textContent("#compare"));
  assert.ok(requests.includes("/model-ar/poem.safetensors"), `opening the view did not load the twin: ${requests}`);

  // Previous line: diffusion, AR left to right (a) and AR beam-ranked (b).
  await page.fill("#cmp-text", "疑是地上霜");
  const t0 = Date.now();
  await page.click("#cmp-run");
  await page.waitForSelector("#cmp-beam", { timeout: TIMEOUT });
  const ms = Date.now() - t0;
  const rows = await page.$$eval(".cmp-table tbody tr", (trs) => trs.map((t) => ({ id: t.id, ...t.dataset, label: t.cells[0].textContent })));
  assert.deepEqual(rows.map((r) => r.id), ["cmp-diffusion", "cmp-ar", "cmp-beam"]);
  for (const r of rows) checkLine(r.answer, 5);
  const passes = Object.fromEntries(rows.map((r) => [r.id, Number(r.passes)]));
  assert.ok(passes["cmp-diffusion"] >= 1 && passes["cmp-diffusion"] <= 5, `diffusion passes ${passes["cmp-diffusion"]}`);
  assert.equal(passes["cmp-ar"], 5, "the AR loop takes one pass per character");
  assert.equal(passes["cmp-beam"], 1 + 4 * 16 + 16, "beam 16 over 5 characters");
  assert.match(rows[2].label, /beam width 16/);
  await page.screenshot({ path: path.join(ARTIFACTS, "compare-view.png"), fullPage: true });
  record("compare_prev_ms", ms);

  // Next line: two rows, no beam.
  await page.selectOption("#cmp-task", "next");
  await page.fill("#cmp-text", "床前明月光");
  await page.click("#cmp-run");
  await page.waitForFunction(() => document.querySelectorAll(".cmp-table tbody tr").length === 2 && !document.querySelector("#cmp-run").disabled, null, { timeout: TIMEOUT });
  const next = await page.$$eval(".cmp-table tbody tr", (trs) => trs.map((t) => t.dataset.answer));
  next.forEach((a) => checkLine(a, 5));

  // Bad input is reported and nothing is lost.
  await page.fill("#cmp-text", "hello");
  await page.click("#cmp-run");
  await page.waitForFunction(() => document.querySelector("#compare .error").textContent.length > 0, null, { timeout: TIMEOUT });
  assert.match(await page.textContent("#compare .error"), /'h'/);
  assert.equal(await page.inputValue("#cmp-text"), "hello");
  assert.deepEqual(errors, []);
  await context.close();
});
