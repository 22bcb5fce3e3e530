// A self-contained reference page: it reads /api/schema/ and renders operations grouped by tag.
// Everything it needs is inline, so the docs work offline and load nothing from a CDN.
export const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Edge audit API reference</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; margin: 0; color: #1d1f24; background: #fafafa; }
  header { background: #1d1f24; color: #fff; padding: 1rem 2rem; }
  main { max-width: 960px; margin: 0 auto; padding: 1rem 2rem 4rem; }
  h2 { margin-top: 2rem; text-transform: capitalize; border-bottom: 1px solid #ddd; }
  details { background: #fff; border: 1px solid #e2e2e2; border-radius: 6px; margin: .5rem 0; }
  summary { cursor: pointer; padding: .5rem .75rem; }
  .method { display: inline-block; min-width: 4.5rem; font-weight: 700; font-family: monospace; }
  .get { color: #1a7f37; } .post { color: #0969da; } .patch, .put { color: #9a6700; } .delete { color: #cf222e; }
  code, pre { font-family: ui-monospace, monospace; font-size: 13px; }
  pre { background: #f3f3f3; padding: .75rem; overflow: auto; border-radius: 4px; margin: .25rem .75rem .75rem; }
  .section { padding: 0 .75rem; font-weight: 600; }
</style>
</head>
<body>
<header><h1 id="title">API reference</h1><p id="description"></p></header>
<main id="ops">Loading <a href="/api/schema/">/api/schema/</a>…</main>
<script>
(async () => {
  const doc = await (await fetch("/api/schema/")).json();
  document.getElementById("title").textContent = doc.info.title + " " + doc.info.version;
  document.getElementById("description").textContent = doc.info.description || "";
  const resolve = (schema) => {
    if (schema && schema.$ref) return resolve(doc.components.schemas[schema.$ref.split("/").pop()]);
    return schema;
  };
  const byTag = {};
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const tag = (op.tags && op.tags[0]) || "other";
      (byTag[tag] = byTag[tag] || []).push({ path, method, op });
    }
  }
  const main = document.getElementById("ops");
  main.textContent = "";
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text) e.textContent = text; if (cls) e.className = cls; return e; };
  for (const tag of Object.keys(byTag).sort()) {
    main.append(el("h2", tag.replace(/_/g, " ")));
    for (const { path, method, op } of byTag[tag]) {
      const d = el("details");
      const s = el("summary");
      s.append(el("span", method.toUpperCase(), "method " + method), el("code", path), document.createTextNode("  " + (op.summary || "")));
      d.append(s);
      if (op.parameters && op.parameters.length) {
        d.append(el("div", "Parameters", "section"));
        d.append(el("pre", op.parameters.map((p) => p.in + " " + p.name + (p.required ? " (required)" : "") + ": " + JSON.stringify(resolve(p.schema))).join("\\n")));
      }
      const body = op.requestBody && op.requestBody.content["application/json"];
      if (body) { d.append(el("div", "Request body", "section")); d.append(el("pre", JSON.stringify(resolve(body.schema), null, 2))); }
      for (const [status, r] of Object.entries(op.responses || {})) {
        const c = r.content && r.content["application/json"];
        d.append(el("div", status + " " + (r.description || ""), "section"));
        if (c && status < "400") d.append(el("pre", JSON.stringify(resolve(c.schema), null, 2)));
      }
      main.append(d);
    }
  }
})();
</script>
</body>
</html>`;
