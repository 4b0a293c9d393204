// Page helpers: connect a wallet, run a dashboard transaction and wait for its outcome in the page's tx log.
import type { Page } from "playwright-core";
import { TEST_WALLET_NAME } from "./wallet.ts";

export async function connect(page: Page, walletName = TEST_WALLET_NAME) {
  await page.getByRole("button", { name: "Connect wallet" }).click();
  await page.getByRole("menuitem", { name: walletName }).click();
  await page.getByRole("button", { name: "Disconnect" }).waitFor();
}

export interface TxOutcome {
  status: string;
  text: string;
}

/**
 * Clicks `action`, then waits until the newest tx-log entry whose label contains `label` reaches a final state.
 * Entries are newest first; counting them first tells a new entry from an older one with the same label.
 */
export async function runTx(page: Page, label: string, action: () => Promise<void>, timeoutMs = 60_000): Promise<TxOutcome> {
  const entries = page.locator("ul.txlist li", { hasText: label });
  const before = await entries.count();
  await action();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await entries.count()) > before) {
      const first = entries.first();
      const status = (await first.getAttribute("data-status")) ?? "";
      if (!["wallet", "pending"].includes(status)) return { status, text: (await first.innerText()).replace(/\s+/g, " ") };
    }
    if (Date.now() > deadline) throw new Error(`no final state for "${label}" after ${timeoutMs} ms`);
    await page.waitForTimeout(100);
  }
}

/** runTx that must end confirmed (or signed, for signatures). */
export async function confirmTx(page: Page, label: string, action: () => Promise<void>): Promise<void> {
  const outcome = await runTx(page, label, action);
  if (outcome.status !== "confirmed" && outcome.status !== "signed") throw new Error(`"${label}" ended ${outcome.status}: ${outcome.text}`);
}

/** Polls `check` (on the chain or in the page) until it returns true. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Rejects with a message naming `what` when `promise` takes longer than `ms` (a hang fails fast and says where). */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
