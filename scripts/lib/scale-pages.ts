// The dashboard's pages at scale, as a person sees them: the production build (`next start web`) configured for a
// given chain (and, for the "after" figures, an indexer), loaded in real Chromium (playwright-core, Debian's
// chromium), each page timed from navigation start to its first list row being visible. A read-only wallet is
// injected so the Buy, Provider and Model owner pages list a given account's rows (signing requests are refused).
import { chromium, type Browser, type BrowserContext } from "playwright-core";
import { NEXT_CLI, ensureWebBuild } from "./web-build.ts";
import { freePort, waitFor } from "./chain.ts";
import { spawnNode, type ManagedChild } from "./processes.ts";
import { treeRssMB } from "./proc-rss.ts";

export interface DashboardTarget {
  chainUrl: string;
  chainId: number;
  deploymentId: string;
  contracts: { token: string; modelRegistry: string; deviceRegistry: string; paymentChannels: string; flightRecorder?: string };
  /** Set for the "after" run: the dashboard reads its lists from this indexer (runtime config key `indexerUrl`). */
  indexerUrl?: string;
}

export interface RunningScaleDashboard {
  url: string;
  child: ManagedChild;
  /** The indexer URL the dashboard's /api/config hands the browser (undefined: this build does not know the key). */
  configIndexerUrl: string | undefined;
  rssMB(): number;
  stop(): Promise<void>;
}

/**
 * Starts `next start web` on a free port, building web/ first when the build is missing or stale. The indexer URL goes
 * in through EDGEPAY_INDEXER_URL (read by web/lib/server-config.ts into the runtime config's `indexerUrl`).
 */
export async function startScaleDashboard(target: DashboardTarget, log: (line: string) => void = () => {}): Promise<RunningScaleDashboard> {
  const build = await ensureWebBuild();
  if (build.built) log(`dashboard built in ${build.seconds.toFixed(0)} s`);
  const port = await freePort();
  const c = target.contracts;
  const child = spawnNode("dashboard", [NEXT_CLI, "start", "web", "-p", String(port), "-H", "127.0.0.1"], {
    env: {
      EDGEPAY_RPC_URL: target.chainUrl,
      EDGEPAY_CHAIN_ID: String(target.chainId),
      EDGEPAY_DEPLOYMENT: target.deploymentId,
      EDGEPAY_TOKEN: c.token,
      EDGEPAY_MODEL_REGISTRY: c.modelRegistry,
      EDGEPAY_DEVICE_REGISTRY: c.deviceRegistry,
      EDGEPAY_PAYMENT_CHANNELS: c.paymentChannels,
      EDGEPAY_FLIGHT_RECORDER: c.flightRecorder ?? "",
      EDGEPAY_FROM_BLOCK: "0",
      EDGEPAY_INDEXER_URL: target.indexerUrl ?? "",
    },
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`dashboard on ${url}`, async () => (await fetch(`${url}/api/config`)).ok, 60_000, () => child.exited() && `${child.exited()}:\n${child.tail(20)}`);
  } catch (error) {
    await child.stop(5_000);
    throw error;
  }
  const config = (await (await fetch(`${url}/api/config`)).json()) as { indexerUrl?: unknown };
  return {
    url,
    child,
    configIndexerUrl: typeof config.indexerUrl === "string" && config.indexerUrl ? config.indexerUrl : undefined,
    rssMB: () => treeRssMB(child.pid),
    stop: () => child.stop(10_000),
  };
}

export interface PageSpec {
  page: string;
  path: string;
  /** The wallet account the page lists rows for (none: the page needs no wallet). */
  account?: string;
  /** A list row of the page's main list: exists whether the list came from the indexer or from RPC scans. */
  rowSelector: string;
}

/** The four pages of the rehearsal and the list each is about. */
export function scalePageSpecs(who: { busyBuyer: string; busyProvider: string; modelOwner: string }): PageSpec[] {
  return [
    { page: "Market", path: "/", rowSelector: 'section[aria-label="devices"] tr[data-device]' },
    { page: "Buy", path: "/buy", account: who.busyBuyer, rowSelector: 'section[aria-label="my channels"] tr[data-channel]' },
    { page: "Provider", path: "/provider", account: who.busyProvider, rowSelector: 'section[aria-label="earnings"] tr[data-claim]' },
    { page: "Model owner", path: "/models", account: who.modelOwner, rowSelector: 'section[aria-label="your models"] tr[data-model]' },
  ];
}

export type ReadSource = "indexer" | "rpc" | "unmarked" | "mixed";

export interface PageLoad {
  page: string;
  path: string;
  account?: string;
  /** Navigation start to the first row visible; undefined when the timeout passed first. */
  seconds: number | undefined;
  timeoutSeconds: number;
  /** Navigation start to the wallet shown as connected (pages with an account): splits reconnecting from reading. */
  walletSeconds?: number;
  /** Rows of the list in the page when its first row became visible. */
  rows: number;
  /** Where the list came from, by the `data-read-source` attribute on the list's container ("unmarked": none set). */
  source: ReadSource;
  error?: string;
}

const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio"];

/** A read-only EIP-6963 wallet: always authorised for `account`, forwards reads to the node, refuses to sign. */
async function injectReadOnlyWallet(context: BrowserContext, args: { rpcUrl: string; account: string; chainId: number }) {
  await context.addInitScript(
    ({ rpcUrl, account, chainId }) => {
      const refused = new Set(["eth_sendTransaction", "eth_signTypedData_v4", "personal_sign", "eth_sign", "wallet_sendCalls"]);
      const provider = {
        async request({ method, params }: { method: string; params?: unknown[] }): Promise<unknown> {
          if (refused.has(method)) throw Object.assign(new Error("read-only wallet"), { code: 4001 });
          switch (method) {
            case "eth_requestAccounts":
            case "eth_accounts":
              return [account];
            case "eth_chainId":
              return `0x${chainId.toString(16)}`;
            case "wallet_switchEthereumChain":
              return null;
            case "wallet_requestPermissions":
            case "wallet_getPermissions":
              return [{ parentCapability: "eth_accounts" }];
            case "wallet_revokePermissions":
              return null;
          }
          const res = await fetch(rpcUrl, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: params ?? [] }),
          });
          const body = (await res.json()) as { result?: unknown; error?: { code: number; message: string } };
          if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code });
          return body.result;
        },
        on() {
          return provider;
        },
        removeListener() {
          return provider;
        },
      };
      const info = { uuid: "6d2f3c4e-0000-4000-8000-5ca1e0a9e500", name: "Edgepay Scale Wallet", icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='16' height='16'/%3E", rdns: "dev.edgepay.scalewallet" };
      const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail: Object.freeze({ info, provider }) }));
      window.addEventListener("eip6963:requestProvider", announce);
      announce();
    },
    args,
  );
}

/** Connects the injected wallet once in a light page, so the measured page reconnects by itself as a returning visitor's does. */
async function connectOnce(context: BrowserContext, baseUrl: string, account: string, timeoutMs: number) {
  const page = await context.newPage();
  try {
    await page.goto(`${baseUrl}/audit`, { waitUntil: "domcontentloaded", timeout: timeoutMs });
    const connected = page.getByTestId("account");
    const connect = page.getByRole("button", { name: "Connect wallet" });
    await connected.or(connect).first().waitFor({ timeout: timeoutMs });
    if (!(await connected.isVisible())) {
      await connect.click();
      await page.getByRole("menuitem", { name: "Edgepay Scale Wallet" }).click();
      await connected.waitFor({ timeout: timeoutMs });
    }
    const shown = await connected.getAttribute("title");
    if (shown?.toLowerCase() !== account.toLowerCase()) throw new Error(`wallet connected as ${shown}, expected ${account}`);
  } finally {
    await page.close();
  }
}

/**
 * Loads one page in a fresh browser context (its scripts already cached by a first visit, its data not) and times
 * navigation start to the first row visible, as the page's own clock (performance.now()) reports it.
 */
async function loadPage(browser: Browser, baseUrl: string, rpcUrl: string, chainId: number, spec: PageSpec, timeoutMs: number): Promise<PageLoad> {
  const context = await browser.newContext();
  const out: PageLoad = { page: spec.page, path: spec.path, account: spec.account, seconds: undefined, timeoutSeconds: timeoutMs / 1000, rows: 0, source: "unmarked" };
  try {
    if (spec.account) {
      await injectReadOnlyWallet(context, { rpcUrl, account: spec.account, chainId });
      await connectOnce(context, baseUrl, spec.account, 60_000);
    } else {
      // Caches the scripts as for the other pages.
      const warm = await context.newPage();
      await warm.goto(`${baseUrl}/audit`, { waitUntil: "load" });
      await warm.close();
    }
    const page = await context.newPage();
    await page.goto(`${baseUrl}${spec.path}`, { waitUntil: "commit" });
    try {
      const handle = await page.waitForFunction(
        (selector) => {
          const w = window as unknown as { __scaleWalletAt?: number };
          if (w.__scaleWalletAt === undefined && document.querySelector('[data-testid="account"]')) w.__scaleWalletAt = performance.now();
          const row = document.querySelector(selector);
          return row && row.getClientRects().length > 0 ? performance.now() : 0;
        },
        spec.rowSelector,
        { timeout: timeoutMs, polling: 50 },
      );
      out.seconds = Number(await handle.jsonValue()) / 1000;
    } catch (error) {
      if (!(error instanceof Error && error.name === "TimeoutError")) throw error;
    }
    const seen = await page.evaluate((selector) => {
      const rows = [...document.querySelectorAll(selector)];
      const sources = new Set(rows.map((r) => r.closest("[data-read-source]")?.getAttribute("data-read-source") ?? "unmarked"));
      return { rows: rows.length, sources: [...sources], walletAt: (window as unknown as { __scaleWalletAt?: number }).__scaleWalletAt };
    }, spec.rowSelector);
    out.rows = seen.rows;
    if (spec.account && seen.walletAt !== undefined) out.walletSeconds = seen.walletAt / 1000;
    out.source = seen.sources.length > 1 ? "mixed" : seen.sources[0] === "indexer" || seen.sources[0] === "rpc" ? seen.sources[0] : "unmarked";
  } catch (error) {
    out.error = (error as Error).message.split("\n")[0];
  } finally {
    await context.close();
  }
  return out;
}

export interface PagesRun {
  /** "before" (RPC scans) or "after" (indexer configured). */
  label: string;
  indexerUrl: string | undefined;
  /** What the dashboard's /api/config handed the browser: undefined means the build ignores indexerUrl. */
  configIndexerUrl: string | undefined;
  loads: PageLoad[];
  /** The dashboard server's resident memory after the loads (next start and its children), MB. */
  dashboardRssMB: number;
}

/** Starts a dashboard for `target`, loads every page in Chromium one after another, stops it. */
export async function measurePages(
  target: DashboardTarget,
  specs: PageSpec[],
  options: { label: string; timeoutMs?: number; log?: (line: string) => void },
): Promise<PagesRun> {
  const log = options.log ?? (() => {});
  const timeoutMs = options.timeoutMs ?? 120_000;
  const dashboard = await startScaleDashboard(target, log);
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
    const loads: PageLoad[] = [];
    let rss = dashboard.rssMB();
    for (const spec of specs) {
      const load = await loadPage(browser, dashboard.url, target.chainUrl, target.chainId, spec, timeoutMs);
      rss = Math.max(rss, dashboard.rssMB());
      const wallet = load.walletSeconds === undefined ? "" : ` (wallet connected at ${load.walletSeconds.toFixed(2)} s)`;
      log(`${options.label} ${spec.page}: ${load.seconds === undefined ? `>${load.timeoutSeconds} s` : `${load.seconds.toFixed(2)} s`}${wallet}, ${load.rows} rows, source ${load.source}${load.error ? `, error: ${load.error}` : ""}`);
      loads.push(load);
    }
    return { label: options.label, indexerUrl: target.indexerUrl, configIndexerUrl: dashboard.configIndexerUrl, loads, dashboardRssMB: rss };
  } finally {
    await browser?.close();
    await dashboard.stop();
  }
}
