/**
 * A self-contained viewer for /openapi.json: no scripts or styles from elsewhere, so it works on
 * an air-gapped cluster. It lists every operation with its permission, parameters and body schema.
 */
export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>SloughGPT API</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}
h1{font-size:1.5rem}details{border:1px solid #ddd;border-radius:6px;margin:.4rem 0;padding:.4rem .8rem}
summary{cursor:pointer}code,pre{font:12px ui-monospace,monospace}pre{background:#f6f6f6;padding:.6rem;overflow:auto}
.m{display:inline-block;min-width:4.5rem;font-weight:600}.get{color:#1769aa}.post{color:#2e7d32}.delete{color:#c62828}.patch,.put{color:#8d6e00}
.p{color:#666;font-size:12px}
</style>
</head>
<body>
<h1>SloughGPT API</h1>
<p id="intro">Loading <a href="openapi.json">openapi.json</a>…</p>
<div id="ops"></div>
<script>
const el = (tag, attrs, ...kids) => {
  const e = document.createElement(tag);
  Object.assign(e, attrs);
  for (const k of kids) e.append(k);
  return e;
};
fetch("openapi.json").then((r) => r.json()).then((doc) => {
  document.getElementById("intro").textContent = doc.info.description;
  const ops = document.getElementById("ops");
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const d = el("details", {}, el("summary", {},
        el("span", { className: "m " + method, textContent: method.toUpperCase() }),
        el("code", { textContent: path }), " — " + op.summary));
      d.append(el("p", { className: "p", textContent: op.description }));
      if (op.parameters.length) {
        d.append(el("p", { textContent: "Parameters" }));
        d.append(el("pre", { textContent: op.parameters.map((p) =>
          p.in + " " + p.name + (p.required ? " (required)" : "") + ": " + JSON.stringify(p.schema)).join("\\n") }));
      }
      const body = op.requestBody && op.requestBody.content["application/json"].schema;
      if (body) {
        d.append(el("p", { textContent: "Request body" }));
        d.append(el("pre", { textContent: JSON.stringify(body, null, 2) }));
      }
      ops.append(d);
    }
  }
}).catch((e) => { document.getElementById("intro").textContent = "Could not load openapi.json: " + e; });
</script>
</body>
</html>
`;
