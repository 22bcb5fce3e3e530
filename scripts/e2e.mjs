// `npm run test:e2e`: the web viewer in a real browser (Debian's chromium driven by playwright-core)
// against `wrangler dev` with fresh local state. Signs in, filters the activity log, opens a diff and
// an item's history, approves a change request, exports and downloads, and screenshots each page
// into docs/screenshots/. Installs chromium with apt when it is missing and this runs as root.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS, ensureChromium } from "./chromium.mjs";
import { applyLocalMigrations, startDevServer } from "./dev-server.mjs";

const ROOT = resolve(import.meta.dirname, "..");
const SHOTS = join(ROOT, "docs", "screenshots");

const freePort = () =>
  new Promise((done) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });

async function api(base, path, { key, method, body } = {}) {
  const res = await fetch(`${base}${path}`, {
    method: method ?? (body ? "POST" : "GET"),
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** An owner with activity to read, an admin, and a project whose deletion waits for the owner's approval. */
async function seed(base) {
  const signup = await api(base, "/api/signup/", { body: { email: "olive@example.com", first_name: "Olive", organization_name: "Acme" } });
  const owner = {
    key: signup.body.personal_api_key.value,
    id: signup.body.user.id,
    org: signup.body.organization.id,
    project: signup.body.project.id,
  };
  const entries = Array.from({ length: 30 }, (_, i) => ({
    scope: i % 3 === 0 ? "Invoice" : "FeatureFlag",
    activity: i % 3 === 0 ? "created" : "updated",
    item_id: `item-${i % 5}`,
    detail: {
      name: `Flag ${i % 5}`,
      changes: [{ type: "FeatureFlag", action: "changed", field: "rollout_percentage", before: i, after: i + 10 }],
    },
  }));
  await api(base, `/api/projects/${owner.project}/activity_log/`, { key: owner.key, body: { entries } });

  const invite = await api(base, `/api/organizations/${owner.org}/invites/`, {
    key: owner.key,
    body: { target_email: "ada@example.com", level: 8 },
  });
  const joined = await api(base, "/api/signup/", {
    body: { email: "ada@example.com", first_name: "Ada", invite_token: invite.body.invite_token ?? invite.body.id },
  });
  const admin = joined.body.personal_api_key.value;
  // A policy that gates its own deletion: the admin's delete waits for the owner's approval.
  const policy = await api(base, `/api/projects/${owner.project}/approval_policies/`, {
    key: owner.key,
    body: { action_key: "approval_policy.delete", approver_config: { users: [owner.id], quorum: 1 } },
  });
  const gated = await api(base, `/api/projects/${owner.project}/approval_policies/${policy.body.id}/`, { key: admin, method: "DELETE" });
  if (gated.status !== 409) throw new Error(`expected the delete to wait for approval: ${gated.status} ${JSON.stringify(gated.body)}`);
  return { owner };
}

async function run() {
  ensureChromium();
  mkdirSync(SHOTS, { recursive: true });
  const state = mkdtempSync(join(tmpdir(), "edge-audit-e2e-"));
  const port = await freePort();
  applyLocalMigrations(state);
  const server = await startDevServer({ port, persistTo: state, quiet: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
  });
  const failures = [];
  const consoleErrors = [];
  let page;
  const check = (ok, what) => {
    console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
    if (!ok) failures.push(what);
  };
  try {
    const { owner } = await seed(server.url);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    page.on("console", (message) => message.type() === "error" && consoleErrors.push(message.text()));
    page.on("pageerror", (error) => consoleErrors.push(error.message));
    page.on("response", (response) => response.status() >= 400 && consoleErrors.push(`${response.status()} ${response.url()}`));

    await page.goto(`${server.url}/app/`);
    await page.getByLabel("Personal API key").fill(owner.key);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Activity log" }).waitFor();
    await page.locator(".entries li").first().waitFor();
    check((await page.locator(".entries li").count()) > 0, "signs in and lists activity");
    check(!(await page.evaluate(() => window.location.href)).includes("phx_"), "the key never appears in the URL");
    await page.screenshot({ path: join(SHOTS, "viewer-activity.png"), fullPage: true });

    await page.getByLabel("Scopes").selectOption("Invoice");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.waitForFunction(() => [...document.querySelectorAll(".entries .what")].every((e) => e.textContent?.includes("Invoice")));
    check((await page.locator(".entries li").count()) === 10, "filters by scope (10 Invoice rows)");

    await page.locator(".entries .entry").first().click();
    await page.locator(".diff").first().waitFor();
    check((await page.locator(".diff .after").first().textContent())?.trim().length > 0, "opens an entry's before/after diff");
    await page.screenshot({ path: join(SHOTS, "viewer-diff.png"), fullPage: true });
    await page.getByRole("button", { name: /History of this/ }).click();
    await page.getByRole("heading", { name: /History of Invoice/ }).waitFor();
    await page.locator(".timeline li").first().waitFor();
    check((await page.locator(".timeline li").count()) > 0, "shows an item's history");
    await page.screenshot({ path: join(SHOTS, "viewer-item-history.png"), fullPage: true });

    await page.getByRole("link", { name: "Export" }).click();
    await page.getByRole("button", { name: "Start export" }).click();
    const downloadButton = page.getByRole("button", { name: /^Download/ });
    await downloadButton.waitFor({ timeout: 60_000 });
    await page.screenshot({ path: join(SHOTS, "viewer-export.png"), fullPage: true });
    const [download] = await Promise.all([page.waitForEvent("download"), downloadButton.click()]);
    check((await download.suggestedFilename()).endsWith(".csv"), "exports with live progress and downloads the file");

    await page.getByRole("link", { name: "Change requests" }).click();
    await page.getByRole("heading", { name: "Waiting for you" }).waitFor();
    await page.locator(".request").first().waitFor();
    await page.screenshot({ path: join(SHOTS, "viewer-inbox.png"), fullPage: true });
    await page.getByLabel("Reason").fill("Sandbox no longer needed");
    await page.getByRole("button", { name: "Approve" }).click();
    await page
      .locator("output")
      .filter({ hasText: /applied/i })
      .waitFor();
    check(true, "approves a change request and sees it applied");

    // Keyboard only: Tab from the top of the page to the Alerts link and follow it with Enter.
    await page.locator("body").focus();
    for (let i = 0; i < 20 && (await page.evaluate(() => document.activeElement?.textContent)) !== "Alerts"; i++)
      await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Logs alerts" }).waitFor();
    check(true, "navigates between pages with the keyboard");
    await page.getByText("No alerts in this project.").waitFor();
    check(true, "shows the alerts page's empty state");
    await page.screenshot({ path: join(SHOTS, "viewer-alerts.png"), fullPage: true });
    await page.getByRole("link", { name: "Destinations" }).click();
    await page.getByText("No destinations in this project.").waitFor();
    await page.screenshot({ path: join(SHOTS, "viewer-destinations.png"), fullPage: true });

    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const small = await phone.newPage();
    await small.goto(`${server.url}/app/`);
    await small.evaluate((key) => sessionStorage.setItem("edge-audit.token", key), owner.key);
    await small.reload();
    await small.locator(".entries li").first().waitFor();
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `readable at phone width (horizontal overflow ${overflow}px)`);
    await small.screenshot({ path: join(SHOTS, "viewer-phone.png"), fullPage: true });

    await page.goto(`${server.url}/app/`);
    await page.evaluate(() => sessionStorage.setItem("edge-audit.token", "phx_not_a_key"));
    await page.reload();
    await page.getByRole("alert").first().waitFor();
    check((await page.getByRole("alert").first().textContent())?.includes("invalid"), "shows the API's error detail");
    check(consoleErrors.filter((e) => !/status of 401|^401 /.test(e)).length === 0, `no console errors (${consoleErrors.join(" | ")})`);
  } catch (error) {
    await page?.screenshot({ path: join(tmpdir(), "edge-audit-e2e-failure.png"), fullPage: true });
    console.error(`console errors: ${consoleErrors.join(" | ")}\nscreenshot: ${join(tmpdir(), "edge-audit-e2e-failure.png")}`);
    throw error;
  } finally {
    await browser.close();
    await server.stop();
    rmSync(state, { recursive: true, force: true });
  }
  if (failures.length) {
    console.error(`${failures.length} check(s) failed`);
    process.exit(1);
  }
}

await run();
