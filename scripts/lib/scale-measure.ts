// What each dashboard page reads today, timed at scale: the same functions the pages' hooks call
// (web/lib/chain-reads.ts, event scans from the deployment block plus one view per row), against the seeded chain,
// with every JSON-RPC request counted. These are the "before" figures of the scale rehearsal.
import { createPublicClient, http, type Address, type PublicClient } from "viem";
import { readChannels, readClaims, readDevices, readLicenses, readModels } from "../../web/lib/chain-reads.ts";
import type { RuntimeConfig } from "../../web/lib/runtime-config.ts";

export interface PageRead {
  page: string;
  what: string;
  rows: number;
  seconds: number;
  rpcRequests: number;
}

/** A client whose HTTP requests are counted (a JSON-RPC batch counts once, as a provider would bill it). */
function countingClient(url: string): { client: PublicClient; requests: () => number } {
  let n = 0;
  const client = createPublicClient({
    transport: http(url, { batch: false, retryCount: 0, timeout: 600_000, onFetchRequest: () => void n++ }),
  }) as PublicClient;
  return { client, requests: () => n };
}

async function timed(url: string, page: string, what: string, read: (client: PublicClient) => Promise<number>): Promise<PageRead> {
  const { client, requests } = countingClient(url);
  const t0 = performance.now();
  const rows = await read(client);
  return { page, what, rows, seconds: (performance.now() - t0) / 1000, rpcRequests: requests() };
}

/** Every page's list read, as the dashboard makes it today (no index). */
export async function measureScans(config: RuntimeConfig, who: { busyBuyer: Address; busyProvider: Address }): Promise<PageRead[]> {
  const url = config.rpcUrl;
  const out: PageRead[] = [];
  out.push(await timed(url, "Market", "models + devices with offerings", async (c) => (await readModels(c, config)).length + (await readDevices(c, config)).length));
  out.push(await timed(url, "Buy", "busy buyer's channels with state", async (c) => (await readChannels(c, config, { payer: who.busyBuyer })).length));
  out.push(await timed(url, "Provider", "busy provider's claim history", async (c) => (await readClaims(c, config, who.busyProvider)).length));
  out.push(await timed(url, "Model owner", "models + licenses", async (c) => (await readModels(c, config)).length + (await readLicenses(c, config)).length));
  return out;
}
