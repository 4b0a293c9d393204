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

/**
 * The same lists from the indexer (GraphQL; the database filters, sorts and pages): a page of `pageSize` rows, as the
 * dashboard shows them, with the total the database counted. One HTTP request per page.
 */
export async function measureIndexed(indexerUrl: string, who: { busyBuyer: Address; busyProvider: Address }, pageSize = 100): Promise<PageRead[]> {
  const query = async (page: string, what: string, q: string, rowsOf: (data: Record<string, { totalCount: number; items: unknown[] }>) => number): Promise<PageRead> => {
    const t0 = performance.now();
    const res = await fetch(`${indexerUrl}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: q }) });
    const body = (await res.json()) as { data?: Record<string, { totalCount: number; items: unknown[] }>; errors?: { message: string }[] };
    if (!body.data || body.errors?.length) throw new Error(`indexer GraphQL for ${page}: ${body.errors?.map((e) => e.message).join("; ") ?? `HTTP ${res.status}`}`);
    return { page, what, rows: rowsOf(body.data), seconds: (performance.now() - t0) / 1000, rpcRequests: 0 };
  };
  const buyer = who.busyBuyer.toLowerCase();
  const provider = who.busyProvider.toLowerCase();
  const total = (d: Record<string, { totalCount: number }>) => Object.values(d).reduce((n, t) => n + t.totalCount, 0);
  return [
    await query(
      "Market",
      `models + devices, first ${pageSize} of each`,
      `{ models(limit: ${pageSize}, orderBy: "id") { totalCount items { id name royaltyBps licenses } } devices(limit: ${pageSize}, orderBy: "registeredBlock", orderDirection: "desc") { totalCount items { id owner stake status endpoint } } offerings(limit: ${pageSize * 2}, where: { active: true }) { totalCount items { device modelId price } } }`,
      (d) => d.models!.totalCount + d.devices!.totalCount,
    ),
    await query(
      "Buy",
      `busy buyer's channels, newest ${pageSize}`,
      `{ channels(where: { payer: "${buyer}" }, limit: ${pageSize}, orderBy: "openedBlock", orderDirection: "desc") { totalCount items { id device modelId deposit claimed state closesAt } } }`,
      total,
    ),
    await query(
      "Provider",
      `busy provider's claims, newest ${pageSize}`,
      `{ claims(where: { payee: "${provider}" }, limit: ${pageSize}, orderBy: "block", orderDirection: "desc") { totalCount items { channelId providerAmount royalty txGasUsed block timestamp txHash } } }`,
      total,
    ),
    await query(
      "Model owner",
      `models + licenses, first ${pageSize} of each`,
      `{ models(limit: ${pageSize}, orderBy: "id") { totalCount items { id name licenses } } licenses(limit: ${pageSize}) { totalCount items { modelId licensee fee } } }`,
      total,
    ),
  ];
}
