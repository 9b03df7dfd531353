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

async function draw(model, el) {
  const dot = model.get("dot");
  const started = performance.now();
  try {
    const gv = await graphviz(model);
    if (dot !== model.get("dot")) return; // a newer diagram is on its way
    el.innerHTML = gv.dot(dot);
    const svg = el.querySelector("svg");
    if (svg) {
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
