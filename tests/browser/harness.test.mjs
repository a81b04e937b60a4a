// The harness itself: a step that waits for an element that never appears fails
// within STEP_TIMEOUT, not after Playwright's default 30 s.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setup, STEP_TIMEOUT } from "./harness.mjs";

const env = setup({ webgpu: false });

test("a step waiting for an element that never comes fails fast", async () => {
  for (const open of [() => env.browser.newPage(), async () => (await env.browser.newContext()).newPage()]) {
    const page = await open();
    await page.setContent("<p>no result here</p>");
    const t0 = Date.now();
    await assert.rejects(page.getAttribute("#result", "data-ms"), /Timeout/);
    const waited = Date.now() - t0;
    assert.ok(waited < STEP_TIMEOUT + 5_000 && STEP_TIMEOUT < 30_000, `waited ${waited} ms`);
    await page.context().close();
  }
});
