import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The viewer is served by the Worker as static assets under /app/ (wrangler.toml [assets]).
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/app/",
  build: { outDir: "dist/app", emptyOutDir: true, sourcemap: false },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
});
