// <unmask-poem>: bidirectional poem completion for any page, one script tag away.
//
//   <script type="module" src="https://HOST/unmask-widget.js"></script>
//   <unmask-poem mode="prev" text="疑是地上霜" steps="16"></unmask-poem>
//
// Every widget on a page shares one wasm module, one GPU device and one download
// per model folder. The widget lives in a shadow root (host CSS does not reach in,
// its CSS does not leak out), requests only its own assets from the origin it was
// loaded from (or the `model` folder given), and never throws into the page:
// failures are shown inside it. Fires `unmask:result` with the generated text.

const HERE = new URL(".", import.meta.url);
const DEFAULT_MODEL = new URL("model/", HERE).href;

let wasm = null;
function loadWasm() {
  wasm ??= import(new URL("pkg/unmask_web.js", HERE).href).then(async (m) => {
    await m.default({ module_or_path: new URL("pkg/unmask_web_bg.wasm", HERE) });
    return m;
  });
  return wasm;
}

// One load per model folder, and one call at a time per folder (the engine is shared).
const loads = new Map();
const queues = new Map();
function loadModel(base, onProgress) {
  if (!loads.has(base)) {
    const listeners = new Set();
    const p = loadWasm().then((m) => m.widget_load(base, (got, total) => listeners.forEach((f) => f(got, total))));
    loads.set(base, { p, listeners });
  }
  const entry = loads.get(base);
  entry.listeners.add(onProgress);
  return entry.p.then(JSON.parse).finally(() => entry.listeners.delete(onProgress));
}
function enqueue(base, job) {
  const prev = queues.get(base) ?? Promise.resolve();
  const next = prev.catch(() => {}).then(job);
  queues.set(base, next);
  return next;
}

// The tasks come from the wasm (`widget_tasks`: the library's one list), per language.
const tasks = { en: null, zh: null };

const TEXT = {
  en: { go: "Generate", busy: "…", loading: "Loading model", gpu: "WebGPU", cpu: "CPU", failed: "Could not load the model", rhyme: "rhyme", ok: "follows the rules", bad: (n) => `breaks the rules at ${n} place${n === 1 ? "" : "s"}` },
  zh: { go: "生成", busy: "…", loading: "正在加载模型", gpu: "WebGPU", cpu: "CPU", failed: "模型加载失败", rhyme: "韵", ok: "合乎格律", bad: (n) => `${n} 处不合格律` },
};

const STYLE = `
:host { all: initial; display: block; contain: content; font-family: system-ui, "PingFang SC", "Noto Sans CJK SC", sans-serif; font-size: 16px; line-height: 1.4; }
:host([hidden]) { display: none; }
/* The host page's rules for the element itself beat :host, and what they set is
   inherited inside: .box, which no outside rule can reach, resets every inherited
   property (all: initial; direction and unicode-bidi are outside "all") and sets its own. */
.box { all: initial; display: block; direction: ltr; unicode-bidi: isolate; writing-mode: horizontal-tb;
  border: 1px solid var(--line); border-radius: 8px; padding: 12px; background: var(--bg); color: var(--ink); max-width: 36rem;
  font-family: system-ui, "PingFang SC", "Noto Sans CJK SC", sans-serif; font-size: 16px; line-height: 1.4; text-align: left; }
.row { display: flex; gap: 6px; flex-wrap: wrap; }
select, input, button { font: inherit; font-size: 15px; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px; background: var(--field); color: var(--ink); margin: 0; }
input { flex: 1 1 10rem; min-width: 0; }
button { background: var(--accent); color: white; border-color: var(--accent); cursor: pointer; }
button:disabled { opacity: .5; cursor: wait; }
.out { font-size: 22px; letter-spacing: .08em; margin: 10px 0 2px; min-height: 1.4em; word-break: break-all; }
.meta { color: var(--muted); font-size: 12px; min-height: 1em; }
.err { color: #dc2626; font-size: 14px; min-height: 1em; margin-top: 4px; }
progress { width: 100%; height: 6px; }
.light { --bg: #fff; --ink: #1f2937; --muted: #6b7280; --line: #d1d5db; --field: #fff; --accent: #1d4ed8; }
.dark { --bg: #111827; --ink: #f3f4f6; --muted: #9ca3af; --line: #374151; --field: #1f2937; --accent: #3b82f6; }
`;

class UnmaskPoem extends HTMLElement {
  static observedAttributes = ["mode", "text", "steps", "temperature", "seed", "form", "theme", "lang", "model", "threshold", "block-length", "metre", "rhyme", "pattern"];

  constructor() {
    super();
    const root = this.attachShadow({ mode: "open" });
    root.innerHTML = `<style>${STYLE}</style>
      <div class="box" part="box">
        <div class="row">
          <select class="mode" aria-label="task"></select>
          <input class="text" aria-label="text">
          <button class="go" type="button"></button>
        </div>
        <progress class="bar" max="100" value="0" hidden></progress>
        <div class="out" aria-live="polite"></div>
        <div class="meta"></div>
        <div class="err" role="alert"></div>
      </div>`;
    this.$ = (s) => root.querySelector(s);
    this.$(".go").addEventListener("click", () => this.generate());
    this.$(".text").addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); this.generate(); } });
    this.$(".mode").addEventListener("change", (e) => this.setAttribute("mode", e.target.value));
    this.ready = false;
  }

  get lang() { return this.getAttribute("lang") === "en" ? "en" : "zh"; }
  get base() {
    try { return new URL(this.getAttribute("model") || DEFAULT_MODEL, document.baseURI).href.replace(/\/?$/, "/"); }
    catch { return DEFAULT_MODEL; }
  }

  connectedCallback() { this.$(".text").value = this.getAttribute("text") ?? ""; this.render(); this.load(); }

  attributeChangedCallback(name, old, value) {
    if (!this.isConnected || old === value) return;
    if (name === "model") { this.ready = false; this.load(); }
    // Only a new `text` attribute replaces what is in the box: changing the mode (or
    // anything else) keeps what the visitor typed.
    if (name === "text") this.$(".text").value = value ?? "";
    this.render();
  }

  render() {
    const t = TEXT[this.lang];
    const theme = this.getAttribute("theme") || "auto";
    const dark = theme === "dark" || (theme === "auto" && matchMedia("(prefers-color-scheme: dark)").matches);
    this.$(".box").className = `box ${dark ? "dark" : "light"}`;
    const mode = this.getAttribute("mode") || "next";
    const list = tasks[this.lang] ?? [[mode, mode]];
    this.$(".mode").innerHTML = "";
    for (const [key, label] of list) this.$(".mode").add(new Option(label, key, false, key === mode));
    this.$(".go").textContent = t.go;
    this.$(".go").disabled = !this.ready;
  }

  async load() {
    const t = TEXT[this.lang];
    const bar = this.$(".bar");
    this.$(".err").textContent = "";
    this.$(".meta").textContent = t.loading;
    bar.hidden = false;
    try {
      const m = await loadWasm();
      for (const lang of Object.keys(tasks)) tasks[lang] ??= JSON.parse(m.widget_tasks(lang));
      this.render();
      const info = await loadModel(this.base, (got, total) => { if (total) bar.value = (100 * got) / total; });
      this.ready = true;
      this.backend = info.backend;
      this.$(".meta").textContent = info.backend === "webgpu" ? t.gpu : `${t.cpu} (${info.why ?? ""})`;
    } catch (e) {
      this.$(".meta").textContent = "";
      this.$(".err").textContent = `${t.failed}: ${e?.message ?? e}`;
    } finally {
      bar.hidden = true;
      this.$(".go").disabled = !this.ready;
    }
  }

  async generate() {
    if (!this.ready) return;
    const text = this.$(".text").value;
    const q = new URLSearchParams({ task: this.$(".mode").value, text, lang: this.lang });
    for (const [attr, key] of [["steps", "steps"], ["temperature", "temperature"], ["seed", "seed"], ["form", "form"], ["threshold", "threshold"], ["block-length", "block"], ["metre", "metre"], ["rhyme", "rhyme"], ["pattern", "pattern"]]) {
      if (this.hasAttribute(attr)) q.set(key, this.getAttribute(attr));
    }
    const go = this.$(".go");
    go.disabled = true;
    go.textContent = TEXT[this.lang].busy;
    this.$(".err").textContent = "";
    try {
      const m = await loadWasm();
      const r = JSON.parse(await enqueue(this.base, () => m.widget_generate(this.base, q.toString())));
      this.$(".out").textContent = r.text;
      // The verse rules it was written to and the metre checker's verdict, when it has a form.
      const t = TEXT[this.lang];
      const verse = [r.pattern, r.rhyme && `${t.rhyme} ${r.rhyme}`, r.violations == null ? null : r.violations === 0 ? t.ok : t.bad(r.violations)].filter(Boolean);
      this.$(".meta").textContent = [...verse, r.run].join(" · ");
      this.$(".meta").dataset.violations = r.violations ?? "";
      this.dispatchEvent(new CustomEvent("unmask:result", { detail: r, bubbles: true, composed: true }));
    } catch (e) {
      this.$(".err").textContent = String(e?.message ?? e);
    } finally {
      go.disabled = false;
      go.textContent = TEXT[this.lang].go;
    }
  }
}

if (!customElements.get("unmask-poem")) customElements.define("unmask-poem", UnmaskPoem);
