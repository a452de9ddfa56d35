/**
 * A real browser for the dashboard tests: Debian's chromium, driven by
 * playwright-core (which never downloads a browser of its own), headless,
 * with a fresh profile and nothing that calls out to the network.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

const CANDIDATES = [process.env.RAFTKV_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"];

/** The chromium binary to use, or undefined when none is installed. */
export function findChromium(): string | undefined {
  return CANDIDATES.find((path): path is string => path !== undefined && path !== "" && existsSync(path));
}

export interface Browser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(executablePath: string): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), "raftkv-chromium-"));
  // A persistent context is how playwright takes a profile directory (--user-data-dir).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
