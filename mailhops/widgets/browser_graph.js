// mailhops: draw a diagram's DOT source in the browser with Graphviz compiled to WebAssembly.
//
// The Graphviz ES module (about 0.8 MB, wasm inside) travels once per kernel, in the shared
// GraphvizEngine model; the page imports and compiles it once (cached on globalThis by its digest),
// however many diagrams the notebook shows. Each BrowserDiagram carries only its DOT source.

const CACHE = Symbol.for("mailhops.wasm-graphviz");

async function engineModel(model) {
  const ref = model.get("engine") || "";
  return await model.widget_manager.get_model(ref.replace(/^IPY_MODEL_/, ""));
}

async function graphviz(model) {
  const engine = await engineModel(model);
  const digest = engine.get("digest");
  const cache = (globalThis[CACHE] ??= new Map());
  if (!cache.has(digest)) {
    const started = performance.now();
    const url = URL.createObjectURL(new Blob([engine.get("source")], { type: "text/javascript" }));
    const loading = import(url)
      .then((mod) => mod.Graphviz.load())
      .then((gv) => {
        globalThis.mailhopsGraphvizLoadMs = performance.now() - started;
        return gv;
      })
      .finally(() => URL.revokeObjectURL(url));
    cache.set(digest, loading);
    loading.catch(() => cache.delete(digest));
  }
  return cache.get(digest);
}

// Graphviz in the browser has no font files: it estimates text widths from built-in metrics, found by the
// exact font name; for "Liberation Sans, Arial, ..." it finds none and measures Times, so bold names would
// overflow their boxes. Liberation Sans is metric-compatible with Arial: lay out with Arial's metrics, and
// the page shows Arial (or Liberation Sans where fontconfig stands it in for Arial, as on Debian and Ubuntu).
const forBrowser = (dot) => dot.replace(/(fontname|face)="Liberation Sans[^"]*"/gi, '$1="Arial"');

async function draw(model, el) {
  const dot = model.get("dot");
  const started = performance.now();
  try {
    const gv = await graphviz(model);
    if (dot !== model.get("dot")) return; // a newer diagram is on its way
    el.innerHTML = gv.dot(forBrowser(dot));
    const svg = el.querySelector("svg");
    if (svg) {
      // The same text alternative as dot's SVG (mh_title, mh_desc in the DOT source): what screen readers say.
      const attr = (name) => ((dot.match(new RegExp(name + '="((?:[^"\\\\]|\\\\.)*)"')) || [])[1] || "").replace(/\\(.)/g, "$1");
      const label = [attr("mh_title"), attr("mh_desc")].filter(Boolean).join(". ");
      if (label) svg.setAttribute("aria-label", label);
      svg.setAttribute("role", "img");
      svg.removeAttribute("width");
      svg.removeAttribute("height");
      svg.style.maxWidth = model.get("max_width") || "100%";
      svg.style.height = "auto";
    }
    el.dataset.draws = String(Number(el.dataset.draws || 0) + 1);
    el.dataset.drawMs = (performance.now() - started).toFixed(1);
  } catch (err) {
    el.innerHTML = "";
    const p = document.createElement("p");
    p.className = "mailhops-render-error";
    p.textContent = "Cannot draw the diagram in the browser: " + (err && err.message ? err.message : err);
    el.appendChild(p);
  }
}

export default {
  render({ model, el }) {
    el.classList.add("mailhops-browser-diagram");
    draw(model, el);
    const redraw = () => draw(model, el);
    model.on("change:dot", redraw);
    return () => model.off("change:dot", redraw);
  },
};
