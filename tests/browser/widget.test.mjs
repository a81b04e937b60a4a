// The embeddable widget on a deliberately hostile host page (www/widget-example.html):
// one model download for two widgets, both generate, the result event fires, an
// attribute change re-renders, a broken widget fails inside itself only, and the
// host's styles are untouched.
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { ARTIFACTS, record, serve, setup } from "./harness.mjs";

const env = setup();

test("two widgets share one engine and stay isolated from hostile host CSS", async () => {
  const page = await env.browser.newPage({ viewport: { width: 900, height: 1100 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const modelFetches = [];
  // Model downloads by the host document (the iframe alternative loads its own copy).
  page.on("request", (r) => { if (r.url().includes("poem.safetensors") && r.frame() === page.mainFrame()) modelFetches.push(r.url()); });
  await page.addInitScript(() => {
    window.results = [];
    document.addEventListener("unmask:result", (e) => window.results.push({ id: e.target.id, ...e.detail }));
  });
  await page.goto(`${env.server.url}widget-example.html`);

  // Both widgets become ready (their Generate buttons enable).
  for (const id of ["a", "b"]) {
    await page.waitForFunction((id) => !document.getElementById(id).shadowRoot.querySelector(".go").disabled, id, { timeout: 180_000 });
  }
  for (const id of ["a", "b"]) {
    await page.click(`#${id} .go`);
    await page.waitForFunction((id) => window.results.some((r) => r.id === id), id, { timeout: 180_000 });
  }
  const results = await page.evaluate(() => window.results);
  const a = results.find((r) => r.id === "a");
  const b = results.find((r) => r.id === "b");
  assert.ok(a.text.startsWith("床前明月光，") && [...a.answer].length === 5, JSON.stringify(a));
  assert.ok(b.text.endsWith("，疑是地上霜。") && [...b.answer].length === 5, JSON.stringify(b));
  assert.equal(modelFetches.length, 1, `one model download for all widgets: ${modelFetches}`);
  record("widget_results", { a: a.answer, b: b.answer });
  // The line under #b's answer is in its language (Chinese), the run's figures included.
  assert.match(await page.$eval("#b", (e) => e.shadowRoot.querySelector(".meta").textContent), /\d+ 步 · \d+ 毫秒 · (WebGPU|CPU)$/);

  // An attribute change re-renders the element.
  await page.evaluate(() => document.getElementById("a").setAttribute("text", "白日依山尽"));
  assert.equal(await page.inputValue("#a .text"), "白日依山尽");
  await page.evaluate(() => document.getElementById("a").setAttribute("mode", "prev"));
  assert.equal(await page.$eval("#a", (e) => e.shadowRoot.querySelector(".mode").value), "prev");

  // Bad input is reported in the widget's language: #b is Chinese, #a English.
  for (const [id, want] of [["b", /模型不认识这些字/], ["a", /not in the model's vocabulary/]]) {
    await page.fill(`#${id} .text`, "hello");
    await page.click(`#${id} .go`);
    await page.waitForFunction((id) => document.getElementById(id).shadowRoot.querySelector(".err").textContent.length > 0, id, { timeout: 60_000 });
    assert.match(await page.$eval(`#${id}`, (e) => e.shadowRoot.querySelector(".err").textContent), want);
    assert.equal(await page.inputValue(`#${id} .text`), "hello");
  }

  // An attribute the request cannot take is refused with what it takes, not replaced
  // by a default; so is a rhyme where the mode does not use one.
  for (const [attr, value, want] of [["steps", "999", /steps=999 \(steps takes 1–64\)/], ["rhyme", "东", /`rhyme` applies only to a whole poem/]]) {
    await page.evaluate(([attr, value]) => document.getElementById("a").setAttribute(attr, value), [attr, value]);
    await page.fill("#a .text", "白日依山尽");
    await page.evaluate(() => { document.getElementById("a").shadowRoot.querySelector(".err").textContent = ""; });
    await page.click("#a .go");
    await page.waitForFunction(() => document.getElementById("a").shadowRoot.querySelector(".err").textContent.length > 0, null, { timeout: 60_000 });
    assert.match(await page.$eval("#a", (e) => e.shadowRoot.querySelector(".err").textContent), want);
    await page.evaluate((attr) => document.getElementById("a").removeAttribute(attr), attr);
  }

  // 对对子 in the widget: the answer keeps the couplet rules, and the line under it says so.
  await page.evaluate(() => { const a = document.getElementById("a"); a.setAttribute("lang", "en"); a.setAttribute("mode", "pair"); });
  await page.fill("#a .text", "白日依山尽");
  const before = await page.evaluate(() => window.results.length);
  await page.click("#a .go");
  await page.waitForFunction((n) => window.results.length > n, before, { timeout: 180_000 });
  const pair = await page.evaluate(() => window.results.at(-1));
  assert.ok(pair.text.startsWith("白日依山尽，") && [...pair.answer].length === 5, JSON.stringify(pair));
  assert.equal(pair.pattern, "对对子");
  assert.equal(pair.violations, 0, JSON.stringify(pair));
  assert.match(await page.$eval("#a", (e) => e.shadowRoot.querySelector(".meta").textContent), /对对子 · follows the rules · \d+ steps · \d+ ms · (WebGPU|CPU)$/);
  // And the other way: the first line, given the second.
  await page.evaluate(() => document.getElementById("a").setAttribute("mode", "pair-prev"));
  await page.fill("#a .text", "黄河入海流");
  await page.click("#a .go");
  await page.waitForFunction((n) => window.results.length > n + 1, before, { timeout: 180_000 });
  const prev = await page.evaluate(() => window.results.at(-1));
  assert.ok(prev.text.endsWith("，黄河入海流。") && [...prev.answer].length === 5, JSON.stringify(prev));
  assert.equal(prev.violations, 0, JSON.stringify(prev));

  // Choosing another mode in the menu keeps what the visitor typed.
  await page.fill("#a .text", "处处闻啼鸟");
  await page.selectOption("#a .mode", "next");
  assert.equal(await page.$eval("#a", (e) => e.getAttribute("mode")), "next");
  assert.equal(await page.inputValue("#a .text"), "处处闻啼鸟");

  // The broken widget shows its error inside itself; the host page still works: its
  // own script still runs (the iframe's height, below) and the other widgets still
  // generate after the failure.
  await page.waitForFunction(() => document.getElementById("broken").shadowRoot.querySelector(".err").textContent.length > 0, null, { timeout: 60_000 });
  assert.match(await page.$eval("#broken", (e) => e.shadowRoot.querySelector(".err").textContent), /Could not load the model/);
  const seen = await page.evaluate(() => window.results.length);
  await page.fill("#b .text", "疑是地上霜");
  await page.click("#b .go");
  await page.waitForFunction((n) => window.results.slice(n).some((r) => r.id === "b"), seen, { timeout: 180_000 });
  const again = await page.evaluate((n) => window.results.slice(n).find((r) => r.id === "b"), seen);
  assert.ok(again.text.endsWith("，疑是地上霜。"), JSON.stringify(again));
  assert.equal(again.answer, b.answer, "greedy #b gives the same answer after the broken widget failed");

  // Host styles unchanged; widget layout intact despite them.
  const host = await page.$eval("#host-text", (e) => { const s = getComputedStyle(e); return { color: s.color, size: s.fontSize }; });
  assert.deepEqual(host, { color: "rgb(200, 0, 0)", size: "19px" });
  const inside = await page.$eval("#a", (e) => {
    const r = e.shadowRoot;
    const s = (q) => getComputedStyle(r.querySelector(q));
    return { button: s(".go").display, color: s(".out").color, font: s(".box").fontFamily, border: s(".box").borderStyle };
  });
  assert.notEqual(inside.button, "none");
  assert.notEqual(inside.color, "rgb(200, 0, 0)");
  assert.ok(!inside.font.includes("Comic"), inside.font);
  assert.equal(inside.border, "solid");

  // The iframe alternative sizes itself to its content.
  await page.waitForFunction(() => parseInt(document.getElementById("frame").style.height || "0") > 50, null, { timeout: 60_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, "widget-hostile-page.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test("the README snippet works from another origin", async () => {
  const { mkdtempSync, writeFileSync } = await import("node:fs");
  const os = await import("node:os");
  const dir = mkdtempSync(path.join(os.tmpdir(), "unmask-host-"));
  writeFileSync(path.join(dir, "index.html"), `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module" src="${env.server.url}unmask-widget.js"></script>
<unmask-poem mode="prev" text="疑是地上霜" steps="8" lang="en"></unmask-poem>`);
  const other = await serve(dir);
  try {
    assert.notEqual(new URL(other.url).port, new URL(env.server.url).port);
    const page = await env.browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(other.url);
    await page.waitForFunction(() => { const w = document.querySelector("unmask-poem"); return w && !w.shadowRoot.querySelector(".go").disabled; }, null, { timeout: 180_000 });
    await page.click("unmask-poem .go");
    await page.waitForFunction(() => document.querySelector("unmask-poem").shadowRoot.querySelector(".out").textContent.length > 0, null, { timeout: 180_000 });
    const out = await page.$eval("unmask-poem", (w) => w.shadowRoot.querySelector(".out").textContent);
    assert.ok(out.endsWith("，疑是地上霜。"), out);
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    other.stop();
  }
});

// Host CSS that sets every inherited property, on everything and on the element
// itself (which beats the widget's :host rule), in an LTR and an RTL container: inside
// the widget nothing of it shows — not uppercase ("WEBGPU", 「H」 for a typed "h"), not a
// 2.5 line height, not right-to-left controls and answer.
test("a host stylesheet that sets every inherited property does not reach inside", async () => {
  const { mkdtempSync, writeFileSync } = await import("node:fs");
  const os = await import("node:os");
  const dir = mkdtempSync(path.join(os.tmpdir(), "unmask-hostile-"));
  const hostile = `text-transform: uppercase; line-height: 2.5; letter-spacing: 7px; word-spacing: 9px;
    font-style: italic; font-weight: 900; font-variant: small-caps; font-size: 31px; text-indent: 40px;
    text-align: right; text-shadow: 2px 2px red; white-space: pre; word-break: keep-all; hyphens: auto;
    tab-size: 20; cursor: crosshair; color: rgb(200, 0, 0); font-family: "Comic Sans MS", cursive;
    text-underline-offset: 9px; quotes: "<" ">"; list-style-type: square; caption-side: bottom;
    visibility: visible; font-stretch: condensed; text-rendering: optimizeSpeed; overflow-wrap: anywhere;`;
  writeFileSync(path.join(dir, "index.html"), `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<style>
  * { ${hostile} }
  unmask-poem { ${hostile.replaceAll(";", " !important;")} }
  .rtl { direction: rtl !important; }
</style>
<script type="module" src="${env.server.url}unmask-widget.js"></script>
<div><unmask-poem id="ltr" mode="next" text="床前明月光" steps="8" lang="en"></unmask-poem></div>
<div class="rtl" dir="rtl"><unmask-poem id="rtl" mode="next" text="床前明月光" steps="8" lang="en"></unmask-poem></div>`);
  const other = await serve(dir);
  const page = await env.browser.newPage({ viewport: { width: 900, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  try {
    await page.goto(other.url);
    for (const id of ["ltr", "rtl"]) {
      // Ready, or failed to load: either shows, and a failure fails the test at once.
      await page.waitForFunction((id) => { const r = document.getElementById(id).shadowRoot; return !r.querySelector(".go").disabled || r.querySelector(".err").textContent; }, id, { timeout: 180_000 });
      assert.equal(await page.$eval(`#${id}`, (e) => e.shadowRoot.querySelector(".err").textContent), "");
      await page.click(`#${id} .go`);
      await page.waitForFunction((id) => { const r = document.getElementById(id).shadowRoot; return r.querySelector(".out").textContent || r.querySelector(".err").textContent; }, id, { timeout: 180_000 });
      assert.equal(await page.$eval(`#${id}`, (e) => e.shadowRoot.querySelector(".err").textContent), "");
      await page.fill(`#${id} .text`, "h");
      await page.click(`#${id} .go`);
      await page.waitForFunction((id) => document.getElementById(id).shadowRoot.querySelector(".err").textContent.length > 0, id, { timeout: 60_000 });
      const seen = await page.$eval(`#${id}`, (e) => {
        const r = e.shadowRoot;
        const pick = (q) => {
          const s = getComputedStyle(r.querySelector(q));
          return { transform: s.textTransform, lineHeight: s.lineHeight, fontSize: s.fontSize, direction: s.direction, style: s.fontStyle,
            weight: s.fontWeight, variant: s.fontVariantCaps, indent: s.textIndent, align: s.textAlign, shadow: s.textShadow, white: s.whiteSpace,
            word: s.wordSpacing, cursor: s.cursor, font: s.fontFamily, color: s.color };
        };
        const mode = r.querySelector(".mode").getBoundingClientRect();
        const go = r.querySelector(".go").getBoundingClientRect();
        const text = r.querySelector(".text").getBoundingClientRect();
        return { out: pick(".out"), err: pick(".err"), meta: pick(".meta"), button: pick(".go"),
          // Controls in reading order, left to right: the task menu, the text, Generate.
          order: mode.left < text.left && text.left < go.left, errText: r.querySelector(".err").innerText };
      });
      for (const [what, s] of Object.entries({ out: seen.out, err: seen.err, meta: seen.meta, button: seen.button })) {
        assert.equal(s.transform, "none", `${id} ${what}: ${JSON.stringify(s)}`);
        assert.equal(s.direction, "ltr", `${id} ${what}`);
        assert.equal(s.style, "normal", `${id} ${what}`);
        assert.equal(s.variant, "normal", `${id} ${what}`);
        assert.equal(s.indent, "0px", `${id} ${what}`);
        assert.equal(s.shadow, "none", `${id} ${what}`);
        assert.equal(s.word, "0px", `${id} ${what}`);
        assert.notEqual(s.color, "rgb(200, 0, 0)", `${id} ${what}`);
        assert.ok(!s.font.includes("Comic"), `${id} ${what}: ${s.font}`);
        assert.notEqual(s.weight, "900", `${id} ${what}`);
      }
      // 22 px answer at 1.4, not 2.5 × 31 px; text aligned to the left.
      assert.ok(parseFloat(seen.out.lineHeight) < 35, `${id}: line height ${seen.out.lineHeight}`);
      assert.equal(seen.out.align, "left");
      assert.equal(seen.out.white, "normal");
      assert.ok(seen.order, `${id}: controls flipped`);
      assert.match(seen.errText, /"h"|'h'|「h」|h/, seen.errText);
      assert.ok(!seen.errText.includes("H"), `${id}: the typed h is shown as H: ${seen.errText}`);
    }
    await page.screenshot({ path: path.join(ARTIFACTS, "widget-every-inherited-property.png"), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
    other.stop();
  }
});
