import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeEvent } from "../helpers/events.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";

// Debian's chromium package (`.ci/run` installs it), driven by playwright-core: no browser download.
const CHROMIUM = "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const OPERATOR = "operator-token-browser-01234";
const INGEST = "ingest-token-browser-012345";
const SCREENSHOTS = join(import.meta.dirname, "..", "..", "tmp");

let h: Harness;
let server: Server;
let base: string;
let context: BrowserContext;
let userDataDir: string;

beforeAll(async () => {
  // Fail, not skip: a dashboard nobody has seen in a browser is not tested.
  if (!existsSync(CHROMIUM))
    throw new Error(
      `Chromium is missing at ${CHROMIUM}: install Debian's package (apt-get install -y chromium), as .ci/run does`,
    );
  h = await startHarness({
    SVIX_MAX_RETRIES: "0",
    CIRCUIT_FAILURE_THRESHOLD: "1000",
    API_TOKENS: OPERATOR,
    INGEST_TOKENS: INGEST,
  });
  server = createServer(h.app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // A fresh profile each run (playwright takes it as the persistent context's directory).
  userDataDir = mkdtempSync(join(tmpdir(), "relay-dashboard-chromium-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
  });
});

afterAll(async () => {
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  server?.closeAllConnections();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  await h?.close();
});

describe("the dashboard in Chromium", () => {
  it("logs in, shows the counts, and replays a failure until it is delivered", async () => {
    const project = "browser-shop";
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create" });
    const events = [
      makeEvent({ project, type: "payment.succeeded" }),
      makeEvent({ project, type: "subscription.activated" }),
    ];
    for (const event of events)
      await h.http
        .post("/notifications")
        .set({ authorization: `Bearer ${INGEST}` })
        .send(event)
        .expect(202);

    const page = context.pages()[0] ?? (await context.newPage());
    const cspErrors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" && /Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
    });

    await page.goto(`${base}/dashboard`);
    await expect.poll(() => page.locator("h1").textContent()).toBe("Log in");
    expect(await page.content()).not.toContain(project);
    await page.locator('input[name="token"]').fill(OPERATOR);
    await Promise.all([page.waitForURL(`${base}/dashboard`), page.getByRole("button", { name: "Log in" }).click()]);
    expect(await page.locator("h1").textContent()).toBe("Overview");

    const cookies = await context.cookies(`${base}/dashboard`);
    expect(cookies).toEqual([
      expect.objectContaining({ name: "relay_session", httpOnly: true, sameSite: "Strict", path: "/dashboard" }),
    ]);
    expect(cookies[0]!.value).not.toContain(OPERATOR);

    const row = page.locator("tr", { has: page.getByRole("link", { name: project, exact: true }) });
    await expect.poll(() => row.first().textContent()).toContain("2 queued");

    await Promise.all([
      page.waitForURL(/\/dashboard\/projects\/browser-shop$/),
      page.getByRole("link", { name: project, exact: true }).first().click(),
    ]);
    const failure = page.locator("#problems tr", { hasText: events[0]!.id });
    expect(await failure.textContent()).toContain("svix_unavailable");

    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, "dashboard.png"), fullPage: true });

    h.emulator.faults.clear();
    await Promise.all([
      page.waitForURL(/\/dashboard\/notifications\/.+\?replayed=1$/),
      failure.getByRole("button", { name: "Replay" }).click(),
    ]);
    expect(await page.locator("#status").textContent()).toBe("delivered");
    expect(await page.locator("main").textContent()).toContain("Replayed just now");
    expect((await h.container.store.summary(events[0]!.id))?.status).toBe("delivered");
    await page.screenshot({ path: join(SCREENSHOTS, "dashboard-notification.png"), fullPage: true });

    // The rest of the project at once.
    await page.goto(`${base}/dashboard/projects/${project}`);
    await Promise.all([
      page.waitForURL(/\?replayed=1-1-0-0$/),
      page.getByRole("button", { name: "Replay all failed" }).click(),
    ]);
    expect(await page.locator(".notice").textContent()).toContain("1 delivered");
    expect(
      h.emulator.state
        .allMessages()
        .map((m) => m.eventId)
        .sort(),
    ).toEqual(events.map((e) => e.id).sort());
    await page.screenshot({ path: join(SCREENSHOTS, "dashboard-replayed.png"), fullPage: true });

    // On a phone the tables become stacked rows, each cell labelled.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/dashboard`);
    await page.screenshot({ path: join(SCREENSHOTS, "dashboard-phone.png"), fullPage: true });
    expect(cspErrors).toEqual([]);
  });
});
