// The dashboard in a real browser: Debian's Chromium driven by playwright-core, against a real
// server with dash-app deployed. Signs in (a wrong token first), sees the app, opens a failing
// call and reads its error, watches a log line arrive live, follows a running map's progress,
// cancels a spawned call, and checks a phone-width screen. Screenshots of each page are saved
// under test-output/dashboard/ (git-ignored) for a person to look at.
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { Dict, Function_ } from "skiff";
import { REPO, type ServerProcess, skiff, startServer } from "./helpers/cli.js";
import { http } from "./helpers/http.js";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = join(REPO, "test-output", "dashboard");

describe("dashboard in a browser", { skip: existsSync(CHROMIUM) ? false : `NOT CHECKED: no ${CHROMIUM}` }, () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let auth: Record<string, string>;
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const spawn = async (fn: string, args: unknown[]) => {
    const r = await http(`${server.url}/v1/functions/dash-app/${fn}/spawn`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ args }),
    });
    assert.equal(r.status, 202, r.body);
    return (r.json() as { call_id: string }).call_id;
  };

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await startServer();
    auth = { authorization: `Bearer ${server.tokenId}:${server.tokenSecret}` };
    const d = await skiff(["deploy", "test/fixtures/dash-app.ts"], { env: server.env });
    assert.equal(d.code, 0, d.stderr);
    // Running as root in CI: Chromium's own sandbox needs user namespaces it may not get there.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on("pageerror", (e) => assert.fail(`page error: ${e.message}`));
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("signs in: a wrong token gets a message, the right one a session", async () => {
    await page.goto(server.url);
    await page.fill("#token", `${server.tokenId}:not-the-secret`);
    await page.click("button[type=submit]");
    await page
      .getByRole("alert")
      .getByText(/wrong token/)
      .waitFor();
    await shot("01-signin-wrong-token");
    await page.fill("#token", `${server.tokenId}:${server.tokenSecret}`);
    await page.click("button[type=submit]");
    await page.locator(".shell nav").waitFor();
    const cookies = await page.context().cookies();
    const c = cookies.find((x) => x.name === "skiff_session");
    assert.ok(c?.httpOnly && c.sameSite === "Strict" && c.expires > Date.now() / 1000, JSON.stringify(c));
    assert.equal(await page.evaluate("document.cookie"), "", "the session is invisible to scripts");
  });

  it("shows the deployed app, its functions and history", async () => {
    await page.click("nav >> text=Apps");
    await page.locator("td a", { hasText: "dash-app" }).click();
    await page.getByRole("heading", { name: /dash-app/ }).waitFor();
    await page.getByText("Deployment history").waitFor();
    await page.locator("li a", { hasText: "charge" }).waitFor();
    await shot("02-app");
  });

  it("opens a failing call from the filtered list and reads its error and remote stack", async () => {
    const id = await spawn("charge", ["4242"]);
    await http(`${server.url}/v1/calls/${id}?timeout_ms=30000`, { headers: auth });
    await page.click("nav >> text=Calls");
    await page.selectOption("select[name=status]", "failure");
    await page.locator(`a[href="#/calls/${id}"]`).click();
    await page.locator(".error-title", { hasText: "PaymentError: card 4242 was declined" }).waitFor();
    const stack = (await page.locator(".error-box pre").textContent()) ?? "";
    assert.match(stack, /PaymentError: card 4242 was declined\n\s+at /);
    assert.equal(await page.locator("table.attempts tbody tr").count(), 2, "two attempts (retries: 1)");
    await page.locator(".tree li", { hasText: "charge" }).waitFor();
    await shot("03-call-error");
  });

  it("shows a log line arriving live, without reloading", async () => {
    const marker = `live-${Date.now()}`;
    await page.click("nav >> text=Logs");
    await page.locator(".log").waitFor();
    await page.waitForTimeout(500); // the stream is open
    assert.equal(await page.locator(".log .line", { hasText: marker }).count(), 0);
    await spawn("chatty", [marker, 200_000]);
    await page.locator(".log .line", { hasText: `hello from chatty: ${marker}` }).waitFor({ timeout: 60_000 });
    // The 200 KB line arrives too, cut on the server.
    const big = page.locator(".log .line", { hasText: "big:xxxx" });
    await big.waitFor();
    assert.ok(((await big.textContent()) ?? "").length < 5000);
    await big.locator(".cut").waitFor();
    await shot("04-logs-live");
  });

  it("follows a running map's progress", async () => {
    const tick = Function_.fromName("dash-app", "tick", { client: server.client() });
    const mapped = tick.map(Array.from({ length: 40 }, () => 250)).toArray();
    await page.click("nav >> text=Functions");
    const count = page.locator(".map .count");
    const seen: string[] = [];
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      const t = (await count.count()) > 0 ? ((await count.first().textContent()) ?? "") : "";
      if (t && !seen.includes(t)) seen.push(t);
      if (seen.length === 2) await shot("05-map-progress");
      if (seen.length >= 3 || (t === "" && seen.length > 0)) break;
      await page.waitForTimeout(200);
    }
    const results = await mapped;
    assert.equal(results.length, 40);
    // "N" until the caller has sent its last input, then "N / 40".
    const done = seen.map((s) => Number(/^(\d+)(?: \/ 40)?$/.exec(s)?.[1]));
    assert.ok(done.length >= 2 && done.every((n) => n >= 0 && n <= 40), `progress seen: ${seen.join(", ")}`);
    assert.ok(
      seen.some((s) => s.endsWith(" / 40")),
      `the total shows once known: ${seen.join(", ")}`,
    );
    assert.ok(done.at(-1)! > done[0]!, `progress moved: ${seen.join(", ")}`);
    await page.locator(".card[data-function=tick]").waitFor();
  });

  it("cancels a spawned call from its page (through the API, with the anti-forgery token)", async () => {
    const id = await spawn("sleepy", [600_000]);
    await page.goto(`${server.url}/#/calls/${id}`);
    await page.getByRole("button", { name: "Cancel call" }).click();
    await page.locator("h2 .badge", { hasText: "cancelled" }).waitFor();
    await shot("06-call-cancelled");
    const r = await http(`${server.url}/v1/calls/${id}?timeout_ms=0`, { headers: auth });
    assert.equal((r.json() as { status: string }).status, "cancelled");
    // The cookie alone writes nothing: the same request without the header is refused.
    const status = await page.evaluate(
      async (path) => (await fetch(path, { method: "POST", credentials: "same-origin" })).status,
      `/v1/calls/${id}/cancel`,
    );
    assert.equal(status, 403);
  });

  it("is usable at 1280×800 and at phone width", async () => {
    await page.click("nav >> text=Containers");
    await page.locator("table tbody tr").first().waitFor();
    await shot("07-containers");
    await page.click("nav >> text=Calls");
    await page.locator("table.calls tbody tr").first().waitFor();
    await shot("08-calls");
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [nav, name] of [
      ["Functions", "09-phone-functions"],
      ["Calls", "10-phone-calls"],
    ] as const) {
      await page.click(`nav >> text=${nav}`);
      await page.waitForTimeout(300);
      const overflow = (await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")) as number;
      assert.ok(overflow <= 0, `${nav}: the page is ${overflow}px wider than the screen`);
      await shot(name);
    }
  });

  it("browses objects: a dict's keys", async () => {
    const d = Dict.fromName<string, string>("browser-dict", { createIfMissing: true, client: server.client() });
    await d.put("user:ada", "lovelace");
    await d.put("user:alan", "turing");
    await page.click("nav >> text=Objects");
    await page.locator("table.objects a", { hasText: "browser-dict" }).click();
    await page.locator("table.entries code", { hasText: "user:alan" }).waitFor();
    await shot("11-objects-dict");
  });

  it("signs out", async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.locator("#token").waitFor();
    const r = await page.evaluate(async () => (await fetch("/v1/apps")).status);
    assert.equal(r, 401);
  });
});
