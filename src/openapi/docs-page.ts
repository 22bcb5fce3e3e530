// The reference page: Scalar's standalone bundle, served as a static asset of this Worker
// (wrangler.toml [assets], copied from node_modules by `npm run viewer:build`), renders /api/schema/ with search,
// markdown, resolved schemas and examples. Nothing is fetched from another origin: no default fonts,
// no hosted API client.
const SCALAR_CONFIGURATION = {
  url: "/api/schema/",
  withDefaultFonts: false,
  hideClientButton: true,
  showDeveloperTools: "never",
  metaData: { title: "Edge audit API reference" },
  agent: { disabled: true },
};

export const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Edge audit API reference</title>
<style>body { margin: 0; font-family: system-ui, sans-serif; }</style>
</head>
<body>
<div id="app"></div>
<script src="/api/schema/docs/scalar.js"></script>
<script>Scalar.createApiReference("#app", ${JSON.stringify(SCALAR_CONFIGURATION)});</script>
</body>
</html>`;
