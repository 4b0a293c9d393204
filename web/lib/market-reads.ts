// The Market's device list, one page at a time, sorted and filtered by the source (issue 11): the indexer's database
// when configured (GraphQL where/orderBy/limit/offset), else the chain's logs and views, sorted and cut the same way in
// memory, so a page holds the same rows whichever source answered (test/integration/dashboard-indexer.test.ts).
//
// Sort "price" pages the ACTIVE OFFERINGS (cheapest first; ties by device, model, token) and shows each page's
// devices, one row per device at its cheapest offering in that page. That is an approximation of "devices by their
// cheapest offering": a device whose other offering falls on a later page shows again there, `totalCount` counts
// offerings, not devices, and a device without an active offering is not listed under this sort (the stake and status
// sorts list every device). Exact paging would need a per-device (and per-model) minimum price kept by the indexer.
import type { Address } from "viem";
import { deviceRegistryAbi } from "../../protocol/generated/contracts.ts";
import { deviceIds, devicesPage, offeringsPage, type IndexedDevice, type IndexedOffering } from "../../protocol/indexer/queries.ts";
import { getContractEventsPaged } from "../../protocol/paged-logs.ts";
import { DEVICE_STATUS, type DeviceInfo } from "./chain-reads.ts";
import { capitalized, slicePage, sourced, type ListSource, type PageRequest, type SourcedPage } from "./list-reads.ts";

export type MarketSort = "price" | "stake" | "status";

export interface MarketFilter {
  /** Only devices with an active offering of this model. */
  modelId?: bigint;
  /** Case-insensitive substring of the endpoint or the metadata, or of the lowercase address. */
  text?: string;
}

const lc = (s: string) => s.toLowerCase();

const fromIndex = (d: IndexedDevice): DeviceInfo => ({
  device: d.id,
  owner: d.owner,
  status: capitalized(d.status),
  stake: d.stake,
  unbondingEnds: Number(d.unbondingEnds),
  endpoint: d.endpoint,
  metadata: d.metadata,
  offerings: d.offerings.map(({ modelId, token, price }) => ({ modelId, token, price })),
});

/** The page's offerings' devices, first (cheapest) occurrence only, in offering order. */
function devicesOf(offerings: readonly { device: Address }[]): Address[] {
  const seen = new Set<string>();
  return offerings.filter((o) => !seen.has(lc(o.device)) && !!seen.add(lc(o.device))).map((o) => o.device);
}

/** One page of the Market's devices for `sort` and `filter`. */
export function readMarketDevicesPage(src: ListSource, filter: MarketFilter, sort: MarketSort, page: PageRequest): Promise<SourcedPage<DeviceInfo>> {
  const text = filter.text?.trim() || undefined;
  return sourced(
    src,
    async (ix) => {
      if (sort === "price") {
        const narrowed = text ? await deviceIds(ix, { text }) : undefined;
        const offers = await offeringsPage(ix, { modelId: filter.modelId, devices: narrowed }, { offset: page.offset, limit: page.limit, orderDirection: "asc" });
        const ids = devicesOf(offers.items);
        const rows = await devicesPage(ix, { ids }, { offset: 0, limit: Math.max(ids.length, 1) });
        const byId = new Map(rows.items.map((d) => [lc(d.id), d]));
        return { ...offers, items: ids.map((id) => fromIndex(byId.get(lc(id))!)) };
      }
      const ofModel = filter.modelId !== undefined ? [...new Set((await allOfferings(ix, filter.modelId)).map((o) => o.device))] : undefined;
      const p = await devicesPage(ix, { ids: ofModel, text }, { offset: page.offset, limit: page.limit, orderDirection: sort === "stake" ? "desc" : "asc" }, sort);
      return { ...p, items: p.items.map(fromIndex) };
    },
    async () => {
      const all = await chainDevices(src);
      const needle = text ? lc(text) : undefined;
      const rows = all.filter(
        (d) =>
          (filter.modelId === undefined || d.offerings.some((o) => o.modelId === filter.modelId)) &&
          (!needle || lc(d.endpoint).includes(needle) || lc(d.metadata).includes(needle) || lc(d.device).includes(needle)),
      );
      if (sort === "price") {
        const offers = rows.flatMap((d) => d.offerings.filter((o) => filter.modelId === undefined || o.modelId === filter.modelId).map((o) => ({ ...o, device: d.device })));
        const p = slicePage(offers, { ...page, orderDirection: "asc" }, (o) => [o.price, lc(o.device), o.modelId, lc(o.token)]);
        const byId = new Map(rows.map((d) => [lc(d.device), d]));
        return { ...p, items: devicesOf(p.items).map((id) => byId.get(lc(id))!) };
      }
      if (sort === "stake") return slicePage(rows, { ...page, orderDirection: "desc" }, (d) => [d.stake, lc(d.device)]);
      return slicePage(rows, { ...page, orderDirection: "asc" }, (d) => [lc(d.status), lc(d.device)]);
    },
  );
}

/** Every active offering of a model (pages of the index's maximum). */
async function allOfferings(ix: NonNullable<ListSource["indexer"]>, modelId: bigint): Promise<IndexedOffering[]> {
  const out: IndexedOffering[] = [];
  for (let offset = 0; ; offset += 1000) {
    const p = await offeringsPage(ix, { modelId }, { offset, limit: 1000, orderDirection: "asc" });
    out.push(...p.items);
    if (p.items.length < 1000 || out.length >= p.totalCount) return out;
  }
}

/** Every registered device with its registry view and active offerings, from the chain (the fallback scans it all). */
async function chainDevices(src: ListSource): Promise<DeviceInfo[]> {
  const { client, config: c } = src;
  const address = c.contracts.deviceRegistry;
  const fromBlock = BigInt(c.fromBlock);
  const [registered, offerings] = await Promise.all([
    getContractEventsPaged(client, { address, abi: deviceRegistryAbi, eventName: "DeviceRegistered" }, { fromBlock }),
    getContractEventsPaged(client, { address, abi: deviceRegistryAbi, eventName: "OfferingSet" }, { fromBlock }),
  ]);
  const devices = [...new Map(registered.map((l) => [lc(l.args.device!), l.args.device!] as const)).values()];
  const latest = new Map<string, { device: Address; modelId: bigint; token: Address; price: bigint }>();
  for (const log of offerings) {
    const { device, modelId, token, price } = log.args;
    latest.set(`${lc(device!)}:${modelId}:${lc(token!)}`, { device: device!, modelId: modelId!, token: token!, price: price! });
  }
  return Promise.all(
    devices.map(async (device): Promise<DeviceInfo> => {
      const d = await client.readContract({ address, abi: deviceRegistryAbi, functionName: "getDevice", args: [device] });
      return {
        device,
        owner: d.owner,
        status: DEVICE_STATUS[d.status] ?? "None",
        stake: d.stake,
        unbondingEnds: Number(d.unbondingEnds),
        endpoint: d.endpoint,
        metadata: d.metadata,
        offerings: [...latest.values()]
          .filter((o) => lc(o.device) === lc(device) && o.price > 0n)
          .sort((a, b) => (a.modelId < b.modelId ? -1 : a.modelId > b.modelId ? 1 : lc(a.token) < lc(b.token) ? -1 : 1))
          .map(({ modelId, token, price }) => ({ modelId, token, price })),
      };
    }),
  );
}
