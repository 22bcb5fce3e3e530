// `npm run test:docs-page`: opens /api/schema/docs/ in Debian's headless chromium (playwright-core,
// no browser download) against a fresh local server and fails unless the Scalar reference renders
// the operations, searches, shows rendered markdown, resolved schemas and examples, fits a phone's
// width, logs no console error and requests nothing from another origin. Saves a desktop and a
// phone screenshot in docs/screenshots/. Separate from `npm test`, which never needs a browser.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS, ensureChromium } from "./chromium.mjs";
import { startDevServer } from "./dev-server.mjs";

const ROOT = resolve(import.meta.dirname, "..");
const SHOTS = join(ROOT, "docs", "screenshots");

ensureChromium();

const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
};

mkdirSync(SHOTS, { recursive: true });
const state = mkdtempSync(join(tmpdir(), "docs-page-state-"));
const profile = mkdtempSync(join(tmpdir(), "docs-page-profile-"));
const server = await startDevServer({ port: Number(process.env.PORT ?? 8790), persistTo: state, quiet: true });
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: CHROMIUM_ARGS,
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  const consoleErrors = [];
  const foreign = [];
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(error.message));
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(server.url) || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
    foreign.push(url);
    return route.abort();
  });

  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${server.url}/api/schema/docs/`, { waitUntil: "networkidle" });
  await page.getByRole("heading", { name: "Edge audit API" }).first().waitFor({ timeout: 30_000 });
  check(
    (await page.locator("code", { hasText: "/api/environments/{project_id}/..." }).count()) > 0,
    "renders the description's markdown (inline code)",
  );
  const sidebar = page.locator("aside, nav").first();
  await sidebar.getByText("activity_log", { exact: true }).first().click();
  await sidebar.getByText("List the project's activity", { exact: false }).first().click();
  const operation = page.getByRole("heading", { name: "List the project's activity (user, scope, scopes, item_id)" });
  check(await operation.isVisible({ timeout: 10_000 }).catch(() => false), "renders an operation from the sidebar");
  check((await page.getByText('"was_impersonated"').count()) > 0, "shows the resolved response schema (ActivityLog fields)");
  check((await page.getByText('"new-checkout"').count()) > 0, "shows the document's examples (an activity row)");
  await page.screenshot({ path: join(SHOTS, "api-reference-desktop.png") });

  await page.keyboard.press("Control+k");
  await page.keyboard.type("approve a change");
  const dialog = page.getByRole("dialog").first();
  check(
    await dialog
      .getByText("Approve a change request", { exact: false })
      .first()
      .isVisible({ timeout: 10_000 })
      .catch(() => false),
    "search finds an operation (approve a change request)",
  );
  await page.keyboard.press("Escape");

  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${server.url}/api/schema/docs/`, { waitUntil: "networkidle" });
  await page.getByRole("heading", { name: "Edge audit API" }).first().waitFor({ timeout: 30_000 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `fits a 390 px phone without horizontal scrolling (overflow ${overflow} px)`);
  await page.screenshot({ path: join(SHOTS, "api-reference-phone.png") });

  check(consoleErrors.length === 0, `no console errors${consoleErrors.length ? `: ${consoleErrors.join(" | ")}` : ""}`);
  check(foreign.length === 0, `nothing requested from another origin${foreign.length ? `: ${foreign.join(", ")}` : ""}`);
} finally {
  await context.close();
  await server.stop();
  rmSync(profile, { recursive: true, force: true });
  rmSync(state, { recursive: true, force: true });
}
if (failures.length) {
  console.error(`\n${failures.length} check(s) failed`);
  process.exit(1);
}
console.log(`\nscreenshots: docs/screenshots/api-reference-desktop.png, api-reference-phone.png`);
