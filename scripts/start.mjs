// `npm start`: local migrations, the API on http://127.0.0.1:8787 with local D1 / Durable Objects /
// Queues / R2, and a ticker that fires the cron handler every minute (wrangler does not locally).
import { applyLocalMigrations, startDevServer, triggerScheduled } from "./dev-server.mjs";

const port = Number(process.env.PORT ?? 8787);
const persistTo = process.env.PERSIST_TO || undefined;
applyLocalMigrations(persistTo);
const server = await startDevServer({ port, persistTo, vars: { ALLOW_LOOPBACK_DESTINATIONS: "true" } });

console.log(`
Edge audit API: ${server.url}
  OpenAPI document: ${server.url}/api/schema/      docs: ${server.url}/api/schema/docs/

Get the first API key (works once, on an empty instance):
  curl -s -X POST ${server.url}/api/signup/ -H 'Content-Type: application/json' \\
    -d '{"email": "you@example.com", "first_name": "You", "organization_name": "Acme"}'

The cron handler fires every minute. Ctrl-C stops.
`);

const ticker = setInterval(() => {
  triggerScheduled(server.url).catch((error) => console.error("scheduled tick failed:", error.message));
}, 60_000);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    clearInterval(ticker);
    await server.stop();
    process.exit(0);
  });
}
await new Promise((resolve) => server.child.once("exit", resolve));
clearInterval(ticker);
