// The compare view: opening it downloads the autoregressive twin (and only then),
// and one click shows the diffusion answer next to the twin's left-to-right and
// beam-ranked answers, each with its forward-pass count.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { ARTIFACTS, WWW, record, watch, checkLine, setup } from "./harness.mjs";

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
  // The view has its own input: the page's form steps aside and no task tab stays lit.
  assert.equal(await page.isVisible("#text"), false, "the page's input box is still shown beside the view's");
  assert.equal(await page.$$eval('nav.tabs button[role="tab"].active', (b) => b.length), 0);

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
  assert.equal(await page.$$eval(".cmp-table tbody tr", (t) => t.length), 0, "answers to the previous line stay under the error");
  // A task tab closes the view and brings the page's form back.
  await page.click('nav.tabs button:has-text("Next line")');
  assert.equal(await page.isVisible("#compare"), false);
  assert.equal(await page.isVisible("#text"), true);
  assert.deepEqual(errors, []);
  await context.close();
});

// The chart under the compare table draws the whole eval set's results from the
// reports next to the models: one bar per model and task, with the reports' values.
test("the compare view's chart shows both models' eval results, at desktop and phone width", async () => {
  const report = (dir) => JSON.parse(readFileSync(path.join(WWW, dir, "eval.json"), "utf8"));
  const want = [];
  for (const [model, dir] of [["diffusion", "model"], ["autoregressive", "model-ar"]]) {
    for (const t of report(dir).tasks) {
      if (t.key === "forward" || t.key === "reversal" || t.key.startsWith("reversal_beam")) want.push({ model, task: t.key, value: t.accuracy });
    }
  }
  assert.ok(want.filter((w) => w.model === "diffusion").length >= 2 && want.filter((w) => w.model === "autoregressive").length >= 2, JSON.stringify(want));
  for (const [name, viewport, lang] of [["desktop", { width: 1000, height: 900 }, "en"], ["phone", { width: 390, height: 844 }, "zh"]]) {
    const context = await env.browser.newContext({ viewport });
    const page = await context.newPage();
    const errors = watch(page);
    await page.goto(`${env.server.url}/?lang=${lang}`);
    await page.waitForSelector('#app[data-state="ready"]', { timeout: TIMEOUT });
    await page.click("#compare-tab");
    await page.waitForSelector('#eval-chart[data-state="ready"], #eval-chart[data-state="failed"]', { timeout: TIMEOUT });
    assert.equal(await page.getAttribute("#eval-chart", "data-state"), "ready", await page.textContent("#eval-chart"));
    const bars = await page.$$eval("#eval-chart rect.bar", (rs) => rs.map((r) => ({
      model: r.dataset.model, task: r.dataset.task, value: Number(r.dataset.value),
      height: Number(r.getAttribute("height")), label: r.nextElementSibling.textContent,
    })));
    assert.deepEqual(bars.map(({ model, task }) => ({ model, task })), want.map(({ model, task }) => ({ model, task })));
    bars.forEach((b, i) => assert.ok(Math.abs(b.value - want[i].value) < 1e-9, `${b.model} ${b.task}: ${b.value} vs ${want[i].value}`));
    // Heights are proportional to the values (150 units = 100%; an empty bar keeps a
    // 1.5-unit stub so its colour shows), labels are the percentages.
    for (const b of bars) {
      assert.ok(Math.abs(b.height - Math.max(150 * b.value, 1.5)) < 0.11, `${b.model} ${b.task}: height ${b.height} for ${b.value}`);
      assert.equal(b.label, (b.value * 100).toFixed(1));
    }
    // Table headers stay on one line (前向次数 wrapped a character a row on phones).
    const th = await page.$$eval(".cmp-table th", (hs) => hs.map((h) => ({ text: h.textContent, height: h.getBoundingClientRect().height, font: parseFloat(getComputedStyle(h).fontSize) })));
    for (const h of th) assert.ok(h.height < 2.2 * h.font, `header ${h.text} wraps: ${JSON.stringify(h)}`);
    const legend = await page.textContent("#eval-chart .chart-legend");
    assert.match(legend, lang === "en" ? /Previous line \(reversal\)/ : /上一句（反向）/);
    const box = await page.locator("#eval-chart svg").boundingBox();
    assert.ok(box.width > 200 && box.x + box.width <= viewport.width, `chart box ${JSON.stringify(box)} in a ${viewport.width}px viewport`);
    await page.locator("#eval-chart").scrollIntoViewIfNeeded();
    await page.locator("#compare").screenshot({ path: path.join(ARTIFACTS, `compare-chart-${name}.png`) });
    assert.deepEqual(errors, []);
    await context.close();
  }
});
