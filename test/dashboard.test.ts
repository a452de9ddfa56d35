/**
 * The dashboard in a real browser against a real 3-member cluster: the
 * member table and its live leader, keys created and changed from the page
 * and read back over HTTP, a compare-and-set that loses to a concurrent
 * change, a watch that shows a put made over HTTP, and the locks and
 * services page. Screenshots of every page go to test/artifacts/dashboard/.
 */
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { findChromium, launchChromium, type Browser } from "./support/browser.js";
import { ProcessCluster, waitFor, type ClusterMember } from "./support/process-cluster.js";

const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), "../artifacts/dashboard");
/** How long the page may take to show what the test waits for, on a loaded machine. */
const PAGE_DEADLINE_MS = 20_000;

const chromiumPath = findChromium();

async function httpGet(member: ClusterMember, key: string): Promise<string | undefined> {
  const response = await fetch(`${member.clientUrl}/v1/kv/${key}`, { signal: AbortSignal.timeout(5_000) });
  if (response.status === 404) return undefined;
  assert.ok(response.ok, `GET ${key}: HTTP ${response.status}`);
  return response.text();
}

async function httpPut(member: ClusterMember, key: string, value: string): Promise<void> {
  const response = await fetch(`${member.clientUrl}/v1/kv/${key}`, { method: "PUT", body: value, signal: AbortSignal.timeout(5_000) });
  assert.ok(response.ok, `PUT ${key}: HTTP ${response.status} ${await response.text()}`);
}

async function httpPost(member: ClusterMember, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${member.clientUrl}${path}`, {
    method: "POST",
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  assert.ok(response.ok, `POST ${path}: HTTP ${response.status}`);
  return (await response.json()) as Record<string, unknown>;
}

async function showPage(page: Page, name: string): Promise<void> {
  await page.click(`nav a[data-page="${name}"]`);
  await page.waitForSelector(`nav a.active[data-page="${name}"]`);
}

/** Waits until the page shows `count` elements matching `selector` (rendered together), and no more. */
async function waitForCount(page: Page, selector: string, count: number): Promise<void> {
  await page
    .locator(selector)
    .nth(count - 1)
    .waitFor();
  assert.equal(await page.locator(selector).count(), count, selector);
}

/**
 * Waits until the page's member table shows, as its one leader, the member
 * the running members agree leads (checked together: leadership may move
 * again on a loaded machine).
 */
async function waitForShownLeader(page: Page, cluster: ProcessCluster, unlike?: ClusterMember): Promise<string> {
  return waitFor(
    "the page to show the cluster's leader",
    async () => {
      const rows = page.locator('tr[data-role="leader"]');
      if ((await rows.count()) !== 1) return undefined;
      const shownLeader = await rows.getAttribute("data-member");
      const agreed = await cluster.waitForLeader(1_000);
      return shownLeader === agreed.name && shownLeader !== unlike?.name ? shownLeader : undefined;
    },
    PAGE_DEADLINE_MS,
  );
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

describe("the dashboard", { skip: chromiumPath ? false : "no chromium found (apt-get install chromium, or set RAFTKV_CHROMIUM)" }, () => {
  let cluster: ProcessCluster;
  let browser: Browser;
  let page: Page;
  /** The member whose dashboard the page shows: a follower, so that the leader can be killed under it. */
  let shown: ClusterMember;
  const pageErrors: string[] = [];

  before(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    cluster = await ProcessCluster.start({ size: 3 });
    const leader = await cluster.waitForLeader();
    shown = cluster.members.find((member) => member !== leader)!;
    browser = await launchChromium(chromiumPath!);
    browser.context.setDefaultTimeout(PAGE_DEADLINE_MS);
    page = await browser.context.newPage();
    page.on("pageerror", (error) => pageErrors.push(`uncaught: ${error.message}`));
    page.on("console", (message) => {
      if (/Content.Security.Policy/i.test(message.text())) pageErrors.push(message.text());
    });
  });

  after(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  test("a browser at / lands on the dashboard, which shows three members and one leader", async () => {
    await page.goto(`${shown.clientUrl}/`);
    assert.equal(new URL(page.url()).pathname, "/ui/");
    await waitForCount(page, "tr[data-member]", 3);
    const leader = await waitForShownLeader(page, cluster);
    await page.waitForSelector(`[data-testid="reachability"]:has-text("${leader} leads")`);
    // The leader's own dashboard counts the members that answer it.
    const leaderPage = await browser.context.newPage();
    await leaderPage.goto(`${cluster.member(leader).clientUrl}/ui/`);
    await leaderPage.waitForSelector('[data-testid="reachability"]:has-text("2 of the 2 other members answer this leader")');
    await leaderPage.close();
    assert.equal(await page.locator("tr.here").getAttribute("data-member"), shown.name);
    await screenshot(page, "cluster");
  });

  test("after SIGKILL of the leader the page shows the new leader without a reload", async () => {
    const old = await cluster.waitForLeader();
    await page.evaluate(() => Object.assign(globalThis, { loadedBeforeKill: true }));
    await cluster.kill(old.name);
    const next = await waitForShownLeader(page, cluster, old);
    await page.waitForSelector(`.timeline li[data-leader="${next}"]`);
    // Only a leader hears from every member: if the page's member took over, it counts the dead one out.
    const reachability = next === shown.name ? "1 of the 2 other members answer this leader" : `${next} leads`;
    await page.waitForSelector(`[data-testid="reachability"]:has-text("${reachability}")`);
    assert.equal(await page.evaluate(() => "loadedBeforeKill" in globalThis), true, "the page was not reloaded");
    await screenshot(page, "cluster-after-failover");
  });

  test("a key created in the page is readable over HTTP, and an edit goes through compare-and-set", async () => {
    await showPage(page, "keys");
    await page.fill('input[name="new-key"]', "dashboard/greeting");
    await page.fill('textarea[name="new-value"]', "hello from the page");
    await page.click('form.new-key button[type="submit"]');
    await page.waitForSelector('[data-testid="key-detail"] [data-testid="value"]:has-text("hello from the page")');
    for (const member of cluster.running()) assert.equal(await httpGet(member, "dashboard/greeting"), "hello from the page", `read on ${member.name}`);
    // The tree shows the new key inside its folder.
    await page.click('li[data-folder="dashboard/"] button');
    await page.waitForSelector('li[data-key="dashboard/greeting"]');

    await page.click('[data-testid="key-detail"] button:has-text("Edit")');
    await page.fill('textarea[name="value"]', "edited in the page");
    await page.click('form.editor button[type="submit"]');
    await page.waitForSelector('[data-testid="value"]:has-text("edited in the page")');
    assert.equal(await httpGet(shown, "dashboard/greeting"), "edited in the page");
    assert.equal(await page.textContent('[data-field="version"]'), "2");
  });

  test("a concurrent change makes the page's compare-and-set fail visibly, and nothing is overwritten", async () => {
    await page.click('[data-testid="key-detail"] button:has-text("Edit")');
    await page.fill('textarea[name="value"]', "the page's late edit");
    await httpPut(shown, "dashboard/greeting", "changed over HTTP meanwhile");
    await page.click('form.editor button[type="submit"]');
    const conflict = page.locator('.conflict[role="alert"]');
    await conflict.waitFor();
    assert.match((await conflict.textContent()) ?? "", /Conflict: the key changed after revision \d+ \(it is now at mod revision \d+\)/);
    assert.match((await conflict.textContent()) ?? "", /changed over HTTP meanwhile/);
    assert.equal(await httpGet(shown, "dashboard/greeting"), "changed over HTTP meanwhile");
    // The draft stays for the user to redo.
    assert.equal(await page.inputValue('textarea[name="value"]'), "the page's late edit");
    await screenshot(page, "keys-conflict");

    await page.click('.conflict button:has-text("Show the current value")');
    await page.waitForSelector('[data-testid="value"]:has-text("changed over HTTP meanwhile")');
    await page.click('button:has-text("Show versions")');
    await waitForCount(page, ".history tr[data-revision]", 3);
    await screenshot(page, "keys");
  });

  test("deleting a key asks first, then deletes it", async () => {
    await page.click('[data-testid="key-detail"] button:has-text("Delete")');
    await page.click('[role="alertdialog"] button:has-text("Yes, delete")');
    await page.waitForSelector('[data-testid="key-detail"]', { state: "detached" });
    assert.equal(await httpGet(shown, "dashboard/greeting"), undefined);
  });

  test("a watch on a prefix shows a put made over HTTP", async () => {
    await showPage(page, "watch");
    await page.fill('input[name="watch-key"]', "watched/");
    await page.click('form.inline button[type="submit"]');
    await page.waitForSelector('[data-testid="watch-state"]:has-text("watching")');
    await httpPut(shown, "watched/door", "open");
    const row = page.locator('tr[data-event="put"][data-key="watched/door"]');
    await row.waitFor();
    assert.match((await row.textContent()) ?? "", /open/);
    await screenshot(page, "watch");
  });

  test("the locks and services page shows a held lock with its fencing token and a registered instance", async () => {
    const lock = await httpPost(shown, "/v1/locks/dashboard-lock?ttl=60");
    await httpPost(shown, "/v1/services/web", { id: "web-1", address: "10.0.0.7", port: 8080, ttl: 60 });
    await showPage(page, "recipes");
    const held = page.locator('tr[data-queue="dashboard-lock"] [data-field="token"]');
    await held.waitFor();
    assert.equal(await held.textContent(), String(lock.token));
    await page.waitForSelector('tr[data-instance="web/web-1"]:has-text("alive")');
    await screenshot(page, "locks-and-services");
  });

  test("the metrics page draws charts from the member's /metrics", async () => {
    await showPage(page, "metrics");
    await waitForCount(page, ".chart canvas", 4);
    // Two scrapes make the first point; the text goes away then.
    await waitFor("two scrapes of /metrics", async () => (await page.locator("text=Waiting for two scrapes").count()) === 0, PAGE_DEADLINE_MS);
    await screenshot(page, "metrics");
    assert.deepEqual(pageErrors, []);
  });

  test("with auth on, the header's form logs the tab in, and the cluster page shows what root may read", async () => {
    const gateway = async (path: string, body: object, token?: string): Promise<Record<string, unknown>> => {
      const response = await fetch(`${shown.clientUrl}${path}`, { method: "POST", headers: token ? { authorization: token } : {}, body: JSON.stringify(body) });
      assert.equal(response.status, 200, `${path}: ${await response.clone().text()}`);
      return (await response.json()) as Record<string, unknown>;
    };
    await gateway("/v3/auth/user/add", { name: "root", password: "rootpw" });
    await gateway("/v3/auth/user/grant", { user: "root", role: "root" });
    await gateway("/v3/auth/enable", {});
    try {
      await page.goto(`${shown.clientUrl}/ui/#/cluster`);
      await page.click("button.login");
      await page.fill('form.login input[name="user"]', "root");
      await page.fill('form.login input[name="password"]', "wrong");
      await page.click('form.login button[type="submit"]');
      await page.waitForSelector('form.login .error:has-text("authentication failed")');
      await page.fill('form.login input[name="password"]', "rootpw");
      await page.click('form.login button[type="submit"]');
      await page.waitForSelector('span.login:has-text("root")');
      // Status needs root: logged in, the page knows the leader, whichever member it is by now.
      await page.locator('[data-testid="reachability"]', { hasText: /^\S+ leads;|answer this leader/ }).waitFor();
      await screenshot(page, "logged-in");
      await page.click('span.login button:has-text("Log out")');
      await page.waitForSelector("button.login");
    } finally {
      const { token } = await gateway("/v3/auth/authenticate", { name: "root", password: "rootpw" });
      await gateway("/v3/auth/disable", {}, token as string);
    }
  });
});
