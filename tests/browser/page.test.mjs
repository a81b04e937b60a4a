// The page as a visitor uses it: loads the real bundled model, completes a poem in
// both directions on WebGPU (SwiftShader), shows the denoising steps, loads from
// the Cache API on reload, and falls back to the CPU without WebGPU.
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { ARTIFACTS, STEP_TIMEOUT, launch, record, watch, checkLine, setup } from "./harness.mjs";

const LOAD_TIMEOUT = 180_000;
const env = setup();

async function ready(page) {
  await page.waitForSelector('#app[data-state="ready"], #app[data-state="failed"]', { timeout: LOAD_TIMEOUT });
  const state = await page.getAttribute("#app", "data-state");
  assert.equal(state, "ready", `model failed to load: ${await page.textContent("#status")}`);
  return {
    backend: await page.getAttribute("#app", "data-backend"),
    source: await page.getAttribute("#app", "data-source"),
    loadMs: Number(await page.getAttribute("#app", "data-load-ms")),
  };
}

/** Runs one task from the form; returns the result's data attributes. */
async function generate(page, tabLabel, text) {
  await page.click(`nav.tabs button:has-text("${tabLabel}")`);
  await page.fill("#text", text);
  // Read without waiting: before the first result there is no #result (a
  // getAttribute would wait its whole default timeout for it).
  const before = await page.evaluate(() => document.querySelector("#result")?.dataset.ms ?? null);
  await page.click("#generate");
  await page.waitForFunction(
    (prev) => {
      const r = document.querySelector("#result");
      const b = document.querySelector("#generate");
      return r && !b.disabled && r.dataset.ms && r.dataset.ms !== prev;
    },
    before,
    { timeout: LOAD_TIMEOUT },
  );
  const r = await page.$eval("#result", (e) => ({ ...e.dataset, output: document.querySelector("#output").textContent }));
  return { ...r, steps: Number(r.steps), frames: Number(r.frames), ms: Number(r.ms) };
}

test("takes the faster backend (the CPU on SwiftShader), switches to WebGPU in one click, completes both directions, then reloads from cache", async () => {
  const context = await env.browser.newContext({ viewport: { width: 1000, height: 900 } });
  const page = await context.newPage();
  const errors = watch(page);
  const t0 = Date.now();
  await page.goto(`${env.server.url}?lang=en`);
  const cold = await ready(page);
  record("cold_time_to_ready_ms", Date.now() - t0);
  assert.equal(cold.source, "network");
  // The page times a couplet on both backends and takes the faster: on SwiftShader (a
  // software GPU) that is the CPU, and it says so with both figures.
  assert.equal(cold.backend, "cpu", await page.textContent("#status"));
  assert.equal(await page.getAttribute("#status .why", "data-reason"), "cpu_faster");
  const [cpuMs, gpuMs] = (await page.textContent("#status .measured")).match(/\d+/g).map(Number);
  assert.ok(cpuMs < gpuMs, `CPU ${cpuMs} ms, WebGPU ${gpuMs} ms`);
  record("backend_choice_couplet_ms", { cpu: cpuMs, webgpu: gpuMs });
  const fast = await generate(page, "Next line", "床前明月光");
  checkLine(fast.answer, 5);
  assert.equal(fast.gpu, "false");
  assert.ok(fast.ms < 100, `a couplet on the chosen backend took ${fast.ms} ms`);
  record("chosen_backend_couplet_ms", fast.ms);
  await page.screenshot({ path: path.join(ARTIFACTS, "page-backend-choice.png") });
  // One click moves to WebGPU (remembered: see the reload below).
  await page.click("#switch-backend");
  await page.waitForSelector('#app[data-backend="webgpu"]', { timeout: STEP_TIMEOUT });
  assert.equal(await page.textContent("#switch-backend"), "Use the CPU");

  const next = await generate(page, "Next line", "床前明月光");
  record("cold_time_to_first_result_ms", Date.now() - t0);
  checkLine(next.answer, 5);
  assert.ok(next.output.startsWith("床前明月光，"), next.output);
  assert.equal(next.gpu, "true");
  assert.ok(next.frames >= 2, "the denoising view should have intermediate steps");
  record("webgpu_couplet", { steps: next.steps, ms: next.ms, ms_per_step: next.ms / next.steps, answer: next.answer });

  const prev = await generate(page, "Previous line", "疑是地上霜");
  checkLine(prev.answer, 5);
  assert.ok(prev.output.endsWith("，疑是地上霜。"), prev.output);
  // A previous line makes one couplet of some poem, not a 对对子: tones only, nothing
  // flagged (床前明月光 would break the 对对子 rules twice).
  assert.equal(await page.getAttribute("#metre", "data-violations"), "0");
  assert.match(await page.textContent("#metre"), /tones only/);

  // A lost GPU device is recovered without a reload.
  assert.equal(await page.evaluate(() => window.unmaskDebug.loseDevice()), true);
  const recovered = await generate(page, "Next line", "床前明月光");
  checkLine(recovered.answer, 5);

  // Scrub to the first step: some characters are still masked there.
  await page.$eval("#scrub", (e) => { e.value = "0"; e.dispatchEvent(new Event("input", { bubbles: true })); });
  const masked = await page.$$eval("#frame .cell.masked", (c) => c.length);
  assert.ok(masked > 0, "step 1 of the denoising view should still show masks");
  await page.screenshot({ path: path.join(ARTIFACTS, "page-webgpu.png"), fullPage: true });

  // Bad input: reported inline, and the text stays as typed.
  await page.fill("#text", "hello 月");
  await page.click("#generate");
  await page.waitForSelector("#error:not(:empty)");
  assert.match(await page.textContent("#error"), /not in the model's vocabulary.*'h'/);
  assert.equal(await page.inputValue("#text"), "hello 月");

  const t1 = Date.now();
  await page.reload();
  const warm = await ready(page);
  record("warm_time_to_ready_ms", Date.now() - t1);
  assert.equal(warm.source, "cache", "the second visit should load the model from the Cache API");
  assert.equal(warm.backend, "webgpu", "the visitor's switch is remembered for this adapter and model");
  // The address holds the last request, so the reloaded page shows its result by
  // itself: navigation → ready → first result with no click.
  await page.waitForSelector("#result[data-ms]", { timeout: LOAD_TIMEOUT });
  record("warm_time_to_first_result_ms", Date.now() - t1);
  assert.equal(await page.$eval("#result", (e) => e.dataset.answer.length), 5);
  record("load_ms", { cold: cold.loadMs, warm: warm.loadMs });
  assert.deepEqual(errors, []);
  await context.close();
});

test("with a temperature and no fixed seed each click samples afresh, and the link keeps the seed", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(`${env.server.url}?lang=en&task=next&temperature=1.5`);
  await ready(page);
  const seeds = [];
  for (let i = 0; i < 2; i++) {
    await generate(page, "Next line", "白日依山尽");
    seeds.push(new URL(page.url()).searchParams.get("seed"));
  }
  assert.ok(seeds.every((s) => Number(s) > 0), `each click's seed should be in the link: ${seeds}`);
  assert.notEqual(seeds[0], seeds[1], "a new seed each click");
  await context.close();
});

test("a whole 律诗 is laid out one couplet a row, at phone width", async () => {
  const context = await env.browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  const errors = watch(page);
  await page.goto(`${env.server.url}?lang=en`);
  await ready(page);
  await page.click('nav.tabs button:has-text("Whole poem")');
  await page.selectOption("#form", "wulv");
  await page.fill("#text", "");
  // A long generation shows that it is running, with the time so far.
  await page.click("#generate");
  await page.waitForSelector("#busy progress", { timeout: 5_000 });
  assert.match(await page.textContent("#busy"), /Generating.*\d+\.\d s/);
  await page.waitForSelector("#busy", { state: "detached", timeout: LOAD_TIMEOUT });
  await page.waitForSelector("#result[data-answer]", { timeout: 5_000 });
  const r = { output: await page.textContent("#output") };
  const rows = await page.$$eval("#output .verse-row", (rs) => rs.map((e) => ({ text: e.textContent, top: e.getBoundingClientRect().top, height: e.getBoundingClientRect().height })));
  assert.equal(rows.length, 4, JSON.stringify(rows));
  assert.equal(rows.map((x) => x.text).join(""), r.output);
  for (const [i, row] of rows.entries()) {
    assert.match(row.text, /^[^，。]{5}，[^，。]{5}。$/u, `row ${i + 1}`);
    // One row each: no couplet wraps, and each starts below the one before.
    assert.ok(row.height < 2 * rows[0].height + 1 && (i === 0 || row.top > rows[i - 1].top), JSON.stringify(rows));
  }
  const lineHeight = await page.$eval("#output", (e) => parseFloat(getComputedStyle(e).lineHeight) || 1.5 * parseFloat(getComputedStyle(e).fontSize));
  assert.ok(rows.every((x) => x.height < 1.5 * lineHeight), `a couplet wrapped: ${JSON.stringify(rows)}, line height ${lineHeight}`);
  // The metre checker marks every character and names the form.
  const tones = await page.$$eval("#output button.ch", (bs) => bs.map((b) => b.dataset.tone));
  assert.equal(tones.length, 40);
  assert.ok(tones.every((x) => ["平", "仄", "中", "？"].includes(x)), tones.join(""));
  assert.equal(await page.getAttribute("#metre", "data-form"), "wulv");
  await page.locator("#result").screenshot({ path: path.join(ARTIFACTS, "page-lushi-phone.png") });
  // A 七言 couplet is wider than a phone: it wraps between its two lines, never
  // inside one.
  await generate(page, "Fill masks", "独怜幽草涧边生，上有黄鹂深树鸣。春潮带雨晚来急，野渡无人舟自_。");
  const lines = await page.$$eval("#output .verse-line", (ls) => ls.map((e) => ({ text: e.textContent, height: e.getBoundingClientRect().height })));
  assert.equal(lines.length, 4, JSON.stringify(lines));
  assert.ok(lines.every((l) => [...l.text].length === 8 && l.height < 1.5 * lineHeight), `a line broke: ${JSON.stringify(lines)}`);
  await page.locator("#result").screenshot({ path: path.join(ARTIFACTS, "page-qijue-phone.png") });
  assert.deepEqual(errors, []);
  await context.close();
});

test("the metre checker marks tones, the rhyme and what breaks the rules", async () => {
  const page = await env.browser.newPage();
  const errors = watch(page);
  await page.goto(`${env.server.url}?lang=en`);
  await ready(page);
  // 登鹳雀楼 with one character to fill, at a free position (一三五不论), so the
  // verdict does not depend on what the model writes there.
  await generate(page, "Fill masks", "_日依山尽，黄河入海流。欲穷千里目，更上一层楼。");
  const tones = await page.$$eval("#output button.ch", (bs) => bs.map((b) => b.dataset.tone).join(""));
  assert.equal(tones.slice(1, 5), "仄平平仄", tones);
  assert.equal(tones.slice(15), "中仄仄平平", tones);
  assert.equal(await page.getAttribute("#metre", "data-form"), "wujue");
  assert.match(await page.textContent("#metre .metre-head"), /五言绝句 · 仄起首句不入韵/);
  assert.equal(await page.$$eval("#output button.ch.tone-rhyme", (bs) => bs.length), 2);
  // 静夜思 breaks two key positions: both red, with the reason on hover.
  await generate(page, "Fill masks", "_前明月光，疑是地上霜。举头望明月，低头思故乡。");
  assert.equal(await page.getAttribute("#metre", "data-violations"), "2");
  const bad = await page.$$eval("#output button.ch.tone-bad", (bs) => bs.map((b) => b.textContent + ":" + b.title));
  assert.deepEqual(bad.map((x) => x[0]), ["上", "头"], bad.join(" | "));
  assert.match(bad[0], /仄 where the pattern asks for 平/);
  assert.match(await page.textContent("#metre"), /breaks the rules at 2 places:/);
  // In Chinese the reasons are Chinese too, on hover and in the list.
  await page.click("header button.lang");
  await page.waitForFunction(() => /不合格律/.test(document.querySelector("#metre").textContent), null, { timeout: STEP_TIMEOUT });
  const zhBad = await page.$$eval("#output button.ch.tone-bad", (bs) => bs.map((b) => b.title));
  assert.deepEqual(zhBad, ["仄，格律要求平", "平，格律要求仄"], zhBad.join(" | "));
  assert.match(await page.textContent("#metre"), /第 2 句「上」：仄，格律要求平/);
  await page.click("header button.lang");
  // The text is still the poem (the tones are drawn by CSS).
  assert.match(await page.textContent("#output"), /^.前明月光，疑是地上霜。举头望明月，低头思故乡。$/u);
  await page.locator("#result").screenshot({ path: path.join(ARTIFACTS, "page-metre.png") });
  assert.deepEqual(errors, []);
  await page.close();
});

/** The answer differs from `given` at every position, and the checker finds no fault. */
async function checkCouplet(page, given) {
  const r = await page.$eval("#result", (e) => e.dataset.answer);
  assert.equal([...r].length, [...given].length, r);
  [...r].forEach((c, i) => assert.notEqual(c, [...given][i], `${r} repeats ${c} at ${i}`));
  assert.equal(await page.getAttribute("#metre", "data-violations"), "0", await page.textContent("#metre"));
  assert.equal(await page.getAttribute("#plan", "data-pattern"), "对对子");
  return r;
}

test("regulated verse: constrained poems scan and rhyme, 对对子 both ways, the checker under typed text", async () => {
  const page = await env.browser.newPage();
  const errors = watch(page);
  await page.goto(`${env.server.url}?lang=en&backend=webgpu`);
  const s = await ready(page);
  assert.equal(s.backend, "webgpu");
  // A 七律 under its pattern, the rhyme group chosen by the model; then one asked for by a character.
  await page.click('nav.tabs button:has-text("Whole poem")');
  await page.selectOption("#form", "qilv");
  assert.equal(await page.isChecked("#metre-on"), true, "regulated verse is on by default");
  // A long GPU generation shows that it runs (not only the button's label), and the
  // buttons wait for it.
  await page.fill("#text", "");
  await page.click("#generate");
  await page.waitForSelector("#busy", { timeout: 10_000 });
  assert.match(await page.textContent("#busy"), /Generating… \d+\.\d s/);
  assert.equal(await page.isDisabled("#candidates-btn"), true);
  await page.waitForFunction(() => !document.querySelector("#busy") && document.querySelector("#result"), null, { timeout: LOAD_TIMEOUT });
  const poem = { output: await page.textContent("#output") };
  // The footer names the adapter, or says the browser does not.
  assert.match(await page.textContent("footer"), /WebGPU|SwiftShader|Vulkan/i);
  assert.doesNotMatch(await page.textContent("footer"), /unnamed adapter/);
  assert.equal(await page.getAttribute("#metre", "data-form"), "qilv");
  assert.equal(await page.getAttribute("#metre", "data-violations"), "0", await page.textContent("#metre"));
  assert.ok((await page.getAttribute("#plan", "data-group")).length > 0, "the plan names the rhyme group");
  await page.locator("#result").screenshot({ path: path.join(ARTIFACTS, "page-qilv-metre.png") });
  await page.fill("#rhyme", "光");
  await page.dispatchEvent("#rhyme", "change");
  await generate(page, "Whole poem", "春江花月");
  assert.equal(await page.getAttribute("#plan", "data-group"), "下平七阳");
  assert.equal(await page.getAttribute("#metre", "data-violations"), "0");
  assert.match(await page.textContent("#plan"), /下平七阳 \(as asked\)/);
  assert.ok(page.url().includes("rhyme=%E5%85%89"), page.url());
  // A rhyme that is no level group is refused in words, the form kept.
  await page.fill("#rhyme", "月");
  await page.dispatchEvent("#rhyme", "change");
  await page.click("#generate");
  await page.waitForFunction(() => document.querySelector("#error").textContent.length > 0, null, { timeout: 60_000 });
  assert.match(await page.textContent("#error"), /unknown rhyme group `月`/);
  assert.equal(await page.inputValue("#text"), "春江花月");
  // With the rules off a 五律 has no plan, but still no loops: no line holds a
  // character twice apart (叠字, side by side, are allowed), none is written twice.
  await page.fill("#rhyme", "");
  await page.dispatchEvent("#rhyme", "change");
  // Punctuation in an acrostic head would stand in a character slot: refused in words.
  await page.fill("#text", "春。");
  await page.click("#generate");
  await page.waitForFunction(() => /punctuation/.test(document.querySelector("#error").textContent), null, { timeout: 60_000 });
  assert.match(await page.textContent("#error"), /line 2 of the poem holds the punctuation '。'/);
  await page.uncheck("#metre-on");
  await page.selectOption("#form", "wulv");
  await generate(page, "Whole poem", "");
  assert.equal(await page.$("#plan"), null, "no plan with the rules off");
  const free = await page.textContent("#output");
  assert.match(free, /^(.{5}[，。]){8}$/u, free);
  const freeLines = free.split(/[，。]/u).filter((l) => l.length > 0);
  assert.equal(new Set(freeLines).size, freeLines.length, free);
  for (const line of freeLines) {
    const cs = [...line];
    for (let i = 0; i < cs.length; i++) {
      for (let j = i + 2; j < cs.length; j++) assert.notEqual(cs[i], cs[j], `a loop in ${line}: ${free}`);
    }
  }
  await page.locator("#result").screenshot({ path: path.join(ARTIFACTS, "page-wulv-free.png") });
  await page.check("#metre-on");
  // 对对子, given the first line, then given the second.
  await generate(page, "Couplet: answer a line", "白日依山尽");
  const second = await checkCouplet(page, "白日依山尽");
  assert.match(poem.output, /^(.{7}[，。]){8}$/u, poem.output);
  await generate(page, "Couplet: the first line", "黄河入海流");
  const first = await checkCouplet(page, "黄河入海流");
  assert.match(await page.textContent("#output"), new RegExp(`^${first}，黄河入海流。$`, "u"));
  await page.locator("#result").screenshot({ path: path.join(ARTIFACTS, "page-pair.png") });
  record("pairs", { second, first });
  // The checker under typed text: 静夜思 typed in the next-line box, marked as it is.
  await page.click('nav.tabs button:has-text("Next line")');
  await page.fill("#text", "床前明月光，疑是地上霜。举头望明月，低头思故乡。");
  await page.waitForSelector("#typed-metre", { timeout: 10_000 });
  assert.equal(await page.getAttribute("#typed-metre #metre", "data-violations"), "2");
  const bad = await page.$$eval("#typed-metre .ch.tone-bad", (xs) => xs.map((x) => x.textContent));
  assert.deepEqual(bad, ["上", "头"]);
  await page.locator("section.input").screenshot({ path: path.join(ARTIFACTS, "page-typed-metre.png") });
  // A template with blanks gets none (they have no tone: it would "follow the rules").
  await page.fill("#text", "床前明月光，疑是地上霜。举头望明_，低头思故_。");
  await page.waitForSelector("#typed-metre", { state: "detached", timeout: 10_000 });
  await page.fill("#text", "床前明月光，疑是地上霜。举头望明月，低头思故乡。");
  await page.waitForSelector("#typed-metre", { timeout: 10_000 });
  // Text without a verse shape gets no checker.
  await page.fill("#text", "床前明月光");
  await page.waitForSelector("#typed-metre", { state: "detached", timeout: 10_000 });
  // A poem typed one line a row (Shift+Enter) is the same poem: checked as a 绝句,
  // and its next line follows the couplet instead of lengthening its last line.
  await page.fill("#text", "");
  await page.focus("#text");
  for (const [i, line] of ["床前明月光", "疑是地上霜", "举头望明月", "低头思故乡"].entries()) {
    if (i) await page.keyboard.press("Shift+Enter");
    await page.keyboard.type(line);
  }
  await page.waitForSelector("#typed-metre", { timeout: 10_000 });
  assert.equal(await page.getAttribute("#typed-metre #metre", "data-form"), "wujue");
  assert.equal(await page.getAttribute("#typed-metre #metre", "data-violations"), "2");
  const rows = await generate(page, "Next line", "床前明月光\n疑是地上霜");
  assert.ok(rows.output.startsWith("床前明月光，疑是地上霜。"), rows.output);
  checkLine(rows.answer, 5);
  assert.deepEqual(errors, []);
  await page.close();
});

test("a shared link shows its result, and the URL keeps the view, backend and language", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = watch(page);
  await page.goto(`${env.server.url}?task=prev&text=${encodeURIComponent("疑是地上霜")}&seed=3&backend=cpu&lang=en`);
  await ready(page);
  // No click: the link's request is generated once the model is ready.
  await page.waitForSelector("#result[data-answer]", { timeout: LOAD_TIMEOUT });
  checkLine(await page.getAttribute("#result", "data-answer"), 5);
  assert.equal(await page.inputValue("#text"), "疑是地上霜");
  let q = new URL(page.url()).searchParams;
  assert.deepEqual([q.get("task"), q.get("text"), q.get("seed"), q.get("backend"), q.get("lang")], ["prev", "疑是地上霜", "3", "cpu", "en"]);
  // Generating again keeps backend=cpu and the language.
  await generate(page, "Next line", "床前明月光");
  q = new URL(page.url()).searchParams;
  assert.deepEqual([q.get("task"), q.get("backend"), q.get("lang")], ["next", "cpu", "en"]);
  // The language toggle and the compare view are written to the URL too.
  await page.click("header button.lang");
  assert.equal(new URL(page.url()).searchParams.get("lang"), "zh");
  await page.click("#compare-tab");
  q = new URL(page.url()).searchParams;
  assert.deepEqual([q.get("view"), q.get("task"), q.get("backend")], ["compare", "next", "cpu"]);
  await page.click("#compare-tab");
  assert.equal(new URL(page.url()).searchParams.get("view"), null);
  assert.deepEqual(errors, []);
  await context.close();
});

test("the language follows the browser unless the link or a saved choice says otherwise", async () => {
  for (const [locale, want] of [["en-US", "en"], ["zh-CN", "zh"]]) {
    const context = await env.browser.newContext({ locale });
    const page = await context.newPage();
    const errors = watch(page);
    await page.goto(`${env.server.url}?backend=cpu`);
    await ready(page);
    assert.equal(await page.evaluate(() => navigator.languages[0]), locale);
    const title = await page.textContent("h1");
    assert.ok(want === "en" ? title.startsWith("Unmask — poems") : title.includes("诗词双向补全"), `${locale}: ${title}`);
    // The toggle is remembered for the next visit, over the browser's language.
    await page.click("header button.lang");
    await page.goto(`${env.server.url}?backend=cpu`);
    await ready(page);
    const again = await page.textContent("h1");
    assert.ok(want === "en" ? again.includes("诗词双向补全") : again.startsWith("Unmask — poems"), `${locale} after the toggle: ${again}`);
    // A link's language wins over both.
    await page.goto(`${env.server.url}?backend=cpu&lang=${want}`);
    await ready(page);
    const linked = await page.textContent("h1");
    assert.ok(want === "en" ? linked.startsWith("Unmask — poems") : linked.includes("诗词双向补全"), `${locale} with lang=${want}: ${linked}`);
    assert.deepEqual(errors, []);
    await context.close();
  }
});

test("small things: fields show the value used, arrow keys move between tabs, examples generate", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = watch(page);
  await page.goto(`${env.server.url}?lang=en`);
  await ready(page);
  // A refused or clamped number does not stay on screen.
  await page.click("details.settings summary");
  for (const [id, typed, used] of [["#steps", "-3", "1"], ["#steps", "999", "64"], ["#block", "-5", "0"]]) {
    await page.fill(id, typed);
    await page.press(id, "Tab");
    assert.equal(await page.inputValue(id), used, `${id} after typing ${typed}`);
  }
  await page.fill("#steps", "16");
  await page.press("#steps", "Tab");
  // The length limit is in characters, on the box itself.
  assert.equal(await page.getAttribute("#text", "maxlength"), "200");
  // Arrow keys move between the tabs (and focus follows).
  await page.focus("#tab-next");
  await page.keyboard.press("ArrowRight");
  assert.equal(await page.evaluate(() => document.activeElement.id), "tab-prev");
  assert.equal(await page.getAttribute("#tab-prev", "aria-selected"), "true");
  await page.keyboard.press("ArrowLeft");
  await page.keyboard.press("ArrowLeft");
  // From the first tab, left wraps to the last.
  assert.equal(await page.evaluate(() => document.activeElement.id), "tab-pair-prev");
  // An example fills the form and generates.
  await page.click('button.example:has-text("处处闻啼鸟")');
  await page.waitForSelector("#result[data-answer]", { timeout: LOAD_TIMEOUT });
  await page.waitForFunction(() => !document.querySelector("#generate").disabled, null, { timeout: LOAD_TIMEOUT });
  assert.equal(await page.inputValue("#text"), "处处闻啼鸟");
  checkLine(await page.getAttribute("#result", "data-answer"), 5);
  // The footer names the backend in words, not as enum names.
  const footer = await page.textContent("footer");
  assert.ok(!/BrowserWebGpu|unnamed adapter/.test(footer), footer);
  // A link's value the page cannot use is named with what it takes, and a rhyme the
  // link's task does not use is said to be kept for whole poems, until the visitor
  // goes there; the note can be dismissed.
  await page.goto(`${env.server.url}?lang=en&task=next&text=%E7%99%BD%E6%97%A5%E4%BE%9D%E5%B1%B1%E5%B0%BD&rhyme=%E4%B8%9C&steps=999`);
  await ready(page);
  const note = await page.textContent("#link-note");
  assert.match(note, /steps=999 \(steps takes 1–64\)/);
  assert.match(note, /rhyme=东 applies only to a whole poem with metre: Next line does not use it/);
  await page.screenshot({ path: path.join(ARTIFACTS, "page-link-note.png") });
  await page.click("#tab-poem");
  const onPoem = await page.textContent("#link-note");
  assert.ok(onPoem.includes("steps=999") && !onPoem.includes("rhyme"), onPoem);
  assert.equal(await page.inputValue("#rhyme"), "东", "the link's rhyme is in the poem's form");
  await page.click("#link-note .dismiss");
  assert.equal(await page.$("#link-note"), null);
  assert.deepEqual(errors, []);
  await context.close();
});

test("switching tasks sets aside text the new task does not take: the first click on each tab works", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = watch(page);
  await page.goto(`${env.server.url}?lang=en&backend=cpu`);
  await ready(page);
  /** Generate on the current tab; the result's answer, or the error shown. */
  const click = async () => {
    const before = await page.evaluate(() => document.querySelector("#result")?.dataset.ms ?? null);
    await page.click("#generate");
    await page.waitForFunction((prev) => {
      const r = document.querySelector("#result");
      const fresh = r && r.dataset.ms && r.dataset.ms !== prev && !document.querySelector("#generate").disabled;
      return fresh || document.querySelector("#error").textContent.length > 0;
    }, before, { timeout: LOAD_TIMEOUT });
    const error = await page.textContent("#error");
    assert.equal(error, "", "a first click gave an error");
    return page.getAttribute("#result", "data-answer");
  };
  // A fresh page holds 床前明月光: the whole-poem tab does not read it as 5 heads of a 绝句.
  assert.equal(await page.inputValue("#text"), "床前明月光");
  await page.click("#tab-poem");
  assert.equal(await page.inputValue("#text"), "");
  assert.match(await page.textContent("#text-note"), /床前明月光.*kept for Next line/);
  assert.equal([...(await click())].length, 20, "a free 五言绝句");
  // Back on Next line the text returns, and the note goes.
  await page.click("#tab-next");
  assert.equal(await page.inputValue("#text"), "床前明月光");
  assert.equal(await page.$("#text-note"), null);
  // Fill masks keeps a line (masks are added to it); its template is set aside for a
  // poem (punctuation and _ are no heads) and for the line tasks (they take no _).
  await page.click("#tab-infill");
  await page.fill("#text", "举头望明_，低头思故_。");
  await click();
  for (const tab of ["#tab-poem", "#tab-prev", "#tab-pair"]) {
    await page.click(tab);
    assert.equal(await page.inputValue("#text"), "", tab);
    assert.match(await page.textContent("#text-note"), /kept for Fill masks/, tab);
  }
  await page.click("#tab-poem");
  assert.equal([...(await click())].length, 20);
  await page.click("#tab-infill");
  assert.equal(await page.inputValue("#text"), "举头望明_，低头思故_。");
  // Heads that fit stay: 春夏秋冬 is an acrostic.
  await page.fill("#text", "春夏秋冬");
  await page.click("#tab-poem");
  assert.equal(await page.inputValue("#text"), "春夏秋冬");
  const acrostic = await click();
  assert.equal([...acrostic].length, 16, `the heads are pinned, 16 characters generated: ${acrostic}`);
  // A link to a whole 七律 without text is a free 七律, not an acrostic on 床前明月光.
  await page.goto(`${env.server.url}?lang=en&backend=cpu&task=poem&form=qilv`);
  await ready(page);
  assert.equal(await page.inputValue("#text"), "");
  assert.equal([...(await click())].length, 56);
  await page.screenshot({ path: path.join(ARTIFACTS, "page-first-click-poem.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

test("edit by remasking: marked characters are regenerated with the rest pinned, with undo and redo", async () => {
  const context = await env.browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  const errors = watch(page);
  await page.goto(`${env.server.url}?lang=en&backend=cpu`);
  await ready(page);
  const first = await generate(page, "Next line", "床前明月光");
  const before = first.output;
  // Mark the 7th and 8th characters (the answer's first two) and regenerate them.
  for (const i of [6, 7]) await page.click(`#output button.ch[data-i="${i}"]`);
  assert.equal(await page.$$eval("#output button.ch.marked", (b) => b.length), 2);
  await page.locator("#result").screenshot({ path: path.join(ARTIFACTS, "page-remask-marked.png") });
  const prevMs = await page.getAttribute("#result", "data-ms");
  await page.click("#remask");
  await page.waitForFunction((prev) => {
    const r = document.querySelector("#result");
    return r && r.dataset.ms !== prev && !document.querySelector("#generate").disabled;
  }, prevMs, { timeout: LOAD_TIMEOUT });
  assert.equal(await page.inputValue("#text"), [...before].map((c, i) => (i === 6 || i === 7 ? "_" : c)).join(""));
  const after = await page.textContent("#output");
  const [a, b] = [[...before], [...after]];
  assert.equal(b.length, a.length, `${before} → ${after}`);
  a.forEach((c, i) => { if (i !== 6 && i !== 7) assert.equal(b[i], c, `character ${i + 1} was pinned: ${before} → ${after}`); });
  assert.equal(await page.$$eval("#output button.ch.marked", (x) => x.length), 0, "marks are cleared by the new result");
  // The denoising view shows the edit's own steps: two masks to fill.
  await page.$eval("#scrub", (e) => { e.value = "0"; e.dispatchEvent(new Event("input", { bubbles: true })); });
  assert.ok(await page.$$eval("#frame .cell.masked", (c) => c.length) <= 2);
  // Undo brings the previous result back, redo the edit.
  await page.click("#undo");
  assert.equal(await page.textContent("#output"), before);
  await page.click("#redo");
  assert.equal(await page.textContent("#output"), after);
  assert.equal(await page.isDisabled("#redo"), true);
  await page.locator("#result").screenshot({ path: path.join(ARTIFACTS, "page-remask-done.png") });
  assert.deepEqual(errors, []);
  await context.close();
});

test("a damaged cache entry is detected and fetched again", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(`${env.server.url}?lang=en`);
  await ready(page);
  // Truncate the cached model in place.
  await page.evaluate(async () => {
    const cache = await caches.open("unmask-model-v1");
    for (const req of await cache.keys()) {
      if (req.url.includes("poem.safetensors")) {
        const bytes = new Uint8Array(await (await cache.match(req)).arrayBuffer());
        await cache.put(req, new Response(bytes.slice(0, bytes.length >> 1)));
      }
    }
  });
  await page.reload();
  const again = await ready(page);
  assert.equal(again.source, "network", "a truncated cache entry must not be used");
  await context.close();
});

test("candidates: four samples side by side, best score first, any one kept for editing", async () => {
  const context = await env.browser.newContext({ viewport: { width: 1000, height: 1000 } });
  const page = await context.newPage();
  const errors = watch(page);
  await page.goto(`${env.server.url}?lang=en`);
  await ready(page);
  await page.click('nav.tabs button:has-text("Whole poem")');
  await page.fill("#text", "");
  await page.click("#candidates-btn");
  await page.waitForFunction(() => document.querySelectorAll("#candidates .candidate").length === 4 && !document.querySelector("#generate").disabled, null, { timeout: LOAD_TIMEOUT });
  const cards = await page.$$eval("#candidates .candidate", (cs) => cs.map((c) => ({ score: Number(c.dataset.score), text: c.querySelector(".poem").textContent })));
  for (let i = 1; i < cards.length; i++) assert.ok(cards[i - 1].score >= cards[i].score, JSON.stringify(cards));
  assert.ok(new Set(cards.map((c) => c.text)).size > 1, "different seeds give different poems: " + JSON.stringify(cards));
  cards.forEach((c) => assert.match(c.text, /^(.{5}[，。]){4}$/u, c.text));
  // The best is shown as the result; choosing the third puts it there, with undo.
  assert.equal(await page.textContent("#output"), cards[0].text);
  await page.click("#candidates .candidate:nth-child(3) button.use");
  assert.equal(await page.textContent("#output"), cards[2].text);
  assert.equal(await page.$$eval("#candidates .candidate.current", (cs) => cs.length), 1);
  assert.ok(page.url().includes("seed="), page.url());
  await page.screenshot({ path: path.join(ARTIFACTS, "page-candidates.png"), fullPage: true });
  await page.click("#undo");
  assert.equal(await page.textContent("#output"), cards[0].text);
  assert.deepEqual(errors, []);
  await context.close();
});

test("after one visit the page works offline and is installable", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = watch(page);
  await page.goto(`${env.server.url}?lang=en`);
  await ready(page);
  // The service worker takes the page over and keeps the app's files.
  await page.waitForFunction(() => navigator.serviceWorker?.controller != null, null, { timeout: 30_000 });
  const manifest = await page.evaluate(async () => (await fetch(document.querySelector('link[rel="manifest"]').href)).json());
  assert.equal(manifest.display, "standalone");
  assert.ok(manifest.icons.length > 0 && manifest.start_url, JSON.stringify(manifest));
  // A copy of an older model version in the cache: replaced, not kept beside the new one.
  const stale = new URL("model/poem.safetensors?v=old", env.server.url).href;
  await page.evaluate(async (u) => (await caches.open("unmask-model-v1")).put(u, new Response("old")), stale);
  // No network at all: reload (another query string too), load the model, generate.
  await context.setOffline(true);
  await page.goto(`${env.server.url}?lang=en&from=offline`);
  const s = await ready(page);
  assert.equal(s.source, "cache");
  const cached = await page.evaluate(async () => (await (await caches.open("unmask-model-v1")).keys()).map((r) => r.url));
  assert.ok(!cached.includes(stale), cached.join(" "));
  assert.ok(cached.some((u) => u.includes("/model/poem.safetensors?v=")), cached.join(" "));
  const prev = await generate(page, "Previous line", "疑是地上霜");
  checkLine(prev.answer, 5);
  assert.ok(prev.output.endsWith("，疑是地上霜。"), prev.output);
  await context.setOffline(false);
  assert.deepEqual(errors, []);
  await context.close();
});

test("without WebGPU the page says so and runs on the CPU", async () => {
  const plain = await launch({ webgpu: false });
  const context = await plain.newContext({ viewport: { width: 390, height: 844 } }); // phone width
  await context.addInitScript(() => { try { Object.defineProperty(Navigator.prototype, "gpu", { get: () => undefined }); } catch (_) {} });
  const page = await context.newPage();
  const t0 = Date.now();
  await page.goto(`${env.server.url}?lang=en`);
  const s = await ready(page);
  record("cpu_cold_time_to_ready_ms", Date.now() - t0);
  assert.equal(s.backend, "cpu");
  // A sentence for people; the technical reason behind a disclosure; no claim of a GPU.
  assert.equal(await page.getAttribute("#status .why", "data-reason"), "cpu_no_webgpu");
  assert.match(await page.textContent("#status .why"), /does not offer WebGPU/);
  assert.equal(await page.isVisible("#status .why-detail code"), false, "details start folded");
  await page.click("#status .why-detail summary");
  assert.match(await page.textContent("#status .why-detail code"), /navigator\.gpu/);
  const subtitle = await page.textContent(".subtitle");
  assert.ok(subtitle.includes("in your browser") && !subtitle.includes("GPU"), subtitle);
  const next = await generate(page, "Next line", "床前明月光");
  record("cpu_cold_time_to_first_result_ms", Date.now() - t0);
  checkLine(next.answer, 5);
  assert.equal(next.gpu, "false");
  // A second visit: the model from the cache, and the link's result by itself.
  const t1 = Date.now();
  await page.reload();
  assert.equal((await ready(page)).source, "cache");
  record("cpu_warm_time_to_ready_ms", Date.now() - t1);
  await page.waitForSelector("#result[data-ms]", { timeout: LOAD_TIMEOUT });
  record("cpu_warm_time_to_first_result_ms", Date.now() - t1);
  record("cpu_wasm_couplet", { steps: next.steps, ms: next.ms, ms_per_step: next.ms / next.steps, answer: next.answer });
  // Regulated verse on the CPU path: a 五律 under its pattern and 对对子.
  await page.click('nav.tabs button:has-text("Whole poem")');
  await page.selectOption("#form", "wulv");
  await generate(page, "Whole poem", "");
  assert.equal(await page.getAttribute("#metre", "data-violations"), "0", await page.textContent("#metre"));
  assert.equal(await page.getAttribute("#result", "data-gpu"), "false");
  await generate(page, "Couplet: answer a line", "海上生明月");
  await checkCouplet(page, "海上生明月");
  await page.screenshot({ path: path.join(ARTIFACTS, "page-cpu-phone.png"), fullPage: true });
  await context.close();
  await plain.close();
});
