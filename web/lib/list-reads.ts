// Every list the dashboard shows, one page at a time, from one of two sources:
// - the indexer (runtime config `indexerUrl`): one GraphQL request per page; the database filters, sorts, counts and
//   pages (protocol/indexer/queries.ts);
// - the chain (no indexer, or the indexer does not answer): event logs scanned in bounded ranges
//   (protocol/paged-logs.ts), sorted the same way, and only the page's rows enriched with view calls and block times.
// Both sources order rows identically (the index's sort column, then its primary key), so a page means the same rows
// whichever answered; test/integration/dashboard-indexer.test.ts holds them equal.
import type { Address, Hex, PublicClient } from "viem";
import { deviceRegistryAbi, flightRecorderAbi, modelRegistryAbi, paymentChannelsAbi } from "../../protocol/generated/contracts.ts";
import { IndexerError, type IndexerClient } from "../../protocol/indexer/client.ts";
import {
  anchorsPage,
  channelsPage,
  claimsPage,
  devicesPage,
  licensesPage,
  MAX_PAGE,
  modelsPage,
  type Page,
  type PageRequest,
} from "../../protocol/indexer/queries.ts";
import { getContractEventsPaged } from "../../protocol/paged-logs.ts";
import { blockTimes, DEVICE_STATUS, modelInfoOf, type AnchorInfo, type ChannelInfo, type ClaimInfo, type DeviceInfo, type DeviceStatus, type ModelInfo } from "./chain-reads.ts";
import type { RuntimeConfig } from "./runtime-config.ts";

export type { Page, PageRequest };

export interface ListSource {
  client: PublicClient;
  config: RuntimeConfig;
  /** Set when the runtime config names an indexer. */
  indexer?: IndexerClient;
}

/** A page and where it came from; `indexerError` says why the chain answered although an indexer is configured. */
export type SourcedPage<T> = Page<T> & { source: "indexer" | "rpc"; indexerError?: string };

export interface LicenseInfo {
  modelId: bigint;
  licensee: Address;
  payer: Address;
  token: Address;
  fee: bigint;
  blockNumber: bigint;
  txHash: Hex;
}

const from = (c: RuntimeConfig) => BigInt(c.fromBlock);
const lc = (s: string) => s.toLowerCase();

/** The indexer when configured and answering, else the chain (an unreachable indexer is said, never hidden). */
export async function sourced<T>(src: ListSource, viaIndexer: (ix: IndexerClient) => Promise<Page<T>>, viaRpc: () => Promise<Page<T>>): Promise<SourcedPage<T>> {
  if (src.indexer) {
    try {
      return { ...(await viaIndexer(src.indexer)), source: "indexer" };
    } catch (error) {
      if (!(error instanceof IndexerError) || error.code !== "indexer_unreachable") throw error;
      return { ...(await viaRpc()), source: "rpc", indexerError: error.message };
    }
  }
  return { ...(await viaRpc()), source: "rpc" };
}

/** Sorts by the keys (compared in order) in the page's direction, then cuts the page. */
export function slicePage<T>(rows: T[], page: PageRequest, keys: (row: T) => (bigint | string | number)[]): Page<T> {
  const dir = (page.orderDirection ?? "desc") === "desc" ? -1 : 1;
  const sorted = [...rows].sort((a, b) => {
    const ka = keys(a);
    const kb = keys(b);
    for (let i = 0; i < ka.length; i++) {
      if (ka[i]! < kb[i]!) return -dir;
      if (ka[i]! > kb[i]!) return dir;
    }
    return 0;
  });
  return { items: sorted.slice(page.offset, page.offset + page.limit), totalCount: rows.length, offset: page.offset, limit: page.limit };
}

export const capitalized = (s: string): DeviceStatus => (DEVICE_STATUS.find((d) => d.toLowerCase() === s) ?? "None") as DeviceStatus;

// ------------------------------------------------------------------ channels

export interface ChannelListFilter {
  payer?: Address;
  devices?: readonly Address[];
}

/** Channels of a payer or to some devices, newest opened first by default (openedBlock, then channel id). */
export function readChannelsPage(src: ListSource, filter: ChannelListFilter, page: PageRequest): Promise<SourcedPage<ChannelInfo>> {
  return sourced(
    src,
    async (ix) => {
      const p = await channelsPage(ix, filter, page);
      return {
        ...p,
        items: p.items.map((ch) => ({
          channelId: ch.channelId,
          terms: ch.terms,
          deposit: ch.deposit,
          claimed: ch.claimed,
          closesAt: Number(ch.closesAt),
          settled: ch.state === "settled",
          openedBlock: ch.openedBlock,
        })),
      };
    },
    async () => {
      const { client, config: c } = src;
      const address = c.contracts.paymentChannels;
      const logs = await getContractEventsPaged(client, { address, abi: paymentChannelsAbi, eventName: "ChannelOpened", args: filter.payer ? { payer: filter.payer } : undefined }, { fromBlock: from(c) });
      const wanted = filter.devices ? new Set(filter.devices.map(lc)) : undefined;
      const picked = logs.filter((l) => !wanted || wanted.has(lc(l.args.device!)));
      const p = slicePage(picked, page, (l) => [l.blockNumber, lc(l.args.channelId!)]);
      const items = await Promise.all(
        p.items.map(async (log): Promise<ChannelInfo> => {
          const t = log.args.terms!;
          const s = await client.readContract({ address, abi: paymentChannelsAbi, functionName: "getChannel", args: [log.args.channelId!] });
          return {
            channelId: log.args.channelId!,
            terms: { ...t, royaltyBps: Number(t.royaltyBps) },
            deposit: s.deposit,
            claimed: s.claimed,
            closesAt: Number(s.closesAt),
            settled: s.settled,
            openedBlock: log.blockNumber,
            openedTx: log.transactionHash,
          };
        }),
      );
      return { ...p, items };
    },
  );
}

// ------------------------------------------------------------------ claims

export interface ClaimListFilter {
  payee?: Address;
  devices?: readonly Address[];
  /** Claims on channels for these models (the model owner's royalties). */
  modelIds?: readonly bigint[];
}

/** Claims to a payee or on channels to some devices or models, newest first by default (block, then position in the block). */
export function readClaimsPage(src: ListSource, filter: ClaimListFilter, page: PageRequest): Promise<SourcedPage<ClaimInfo>> {
  return sourced(
    src,
    async (ix) => {
      const p = await claimsPage(ix, filter, page);
      return {
        ...p,
        items: p.items.map((cl) => ({
          channelId: cl.channelId,
          payee: cl.payee,
          cumulativeAmount: cl.cumulativeAmount,
          providerAmount: cl.providerAmount,
          royalty: cl.royalty,
          txHash: cl.txHash,
          blockNumber: cl.block,
          logIndex: cl.logIndex,
          timestamp: Number(cl.timestamp),
        })),
      };
    },
    async () => {
      const { client, config: c } = src;
      const address = c.contracts.paymentChannels;
      const [logs, opened] = await Promise.all([
        getContractEventsPaged(client, { address, abi: paymentChannelsAbi, eventName: "Claimed", args: filter.payee ? { payee: filter.payee } : undefined }, { fromBlock: from(c) }),
        filter.devices || filter.modelIds ? getContractEventsPaged(client, { address, abi: paymentChannelsAbi, eventName: "ChannelOpened" }, { fromBlock: from(c) }) : Promise.resolve(undefined),
      ]);
      // Claimed names only the channel: the channel's opening says its device and model.
      const wanted = filter.devices ? new Set(filter.devices.map(lc)) : undefined;
      const models = filter.modelIds ? new Set(filter.modelIds) : undefined;
      const ofChannels = opened
        ? new Set(
            opened
              .filter((l) => (!wanted || wanted.has(lc(l.args.device!))) && (!models || models.has(l.args.terms!.modelId)))
              .map((l) => lc(l.args.channelId!)),
          )
        : undefined;
      const picked = logs.filter((l) => !ofChannels || ofChannels.has(lc(l.args.channelId!)));
      const p = slicePage(picked, page, (l) => [l.blockNumber, l.logIndex]);
      const times = await blockTimes(client, [...new Set(p.items.map((l) => l.blockNumber))]);
      return {
        ...p,
        items: p.items.map((l) => ({
          channelId: l.args.channelId!,
          payee: l.args.payee!,
          cumulativeAmount: l.args.cumulativeAmount!,
          providerAmount: l.args.providerAmount!,
          royalty: l.args.royalty!,
          txHash: l.transactionHash,
          blockNumber: l.blockNumber,
          logIndex: l.logIndex,
          timestamp: times.get(l.blockNumber) ?? 0,
        })),
      };
    },
  );
}

// ------------------------------------------------------------------ models

/** Model versions (optionally of one owner), by id ascending by default. */
export function readModelsPage(src: ListSource, filter: { owner?: Address }, page: PageRequest): Promise<SourcedPage<ModelInfo>> {
  const ordered: PageRequest = { ...page, orderDirection: page.orderDirection ?? "asc" };
  return sourced(
    src,
    async (ix) => {
      const p = await modelsPage(ix, filter, ordered);
      const ids = p.items.map((m) => m.id);
      const successors = ids.length ? await modelsPage(ix, { predecessors: ids }, { offset: 0, limit: Math.max(ids.length, 1) }) : undefined;
      const successorOf = new Map((successors?.items ?? []).map((m) => [m.predecessor, m.id]));
      return {
        ...p,
        items: p.items.map((m) => ({
          modelId: m.id,
          owner: m.owner,
          name: m.name,
          uri: m.uri,
          contentHash: m.contentHash,
          royaltyBps: m.royaltyBps,
          licenseToken: m.licenseToken,
          licenseFee: m.licenseFee,
          version: m.version,
          predecessor: m.predecessor,
          successor: successorOf.get(m.id) ?? 0n,
          deprecated: m.deprecated,
          publishedAt: m.publishedAt,
        })),
      };
    },
    async () => {
      const { client, config: c } = src;
      const address = c.contracts.modelRegistry;
      const [count, logs] = await Promise.all([
        client.readContract({ address, abi: modelRegistryAbi, functionName: "modelCount" }),
        getContractEventsPaged(client, { address, abi: modelRegistryAbi, eventName: "ModelPublished" }, { fromBlock: from(c) }),
      ]);
      const blockOf = new Map(logs.map((l) => [l.args.modelId!, l.blockNumber]));
      const read = async (modelId: bigint): Promise<ModelInfo> => {
        const [m, successor] = await Promise.all([
          client.readContract({ address, abi: modelRegistryAbi, functionName: "getModel", args: [modelId] }),
          client.readContract({ address, abi: modelRegistryAbi, functionName: "successorOf", args: [modelId] }),
        ]);
        const block = blockOf.get(modelId);
        const time = block !== undefined ? (await blockTimes(client, [block])).get(block) : undefined;
        return modelInfoOf(modelId, m, successor, BigInt(time ?? 0));
      };
      const ids = Array.from({ length: Number(count) }, (_, i) => BigInt(i + 1));
      if (!filter.owner) {
        const p = slicePage(ids, ordered, (id) => [id]);
        return { ...p, items: await Promise.all(p.items.map(read)) };
      }
      // The owner can change after publication: only the registry's view says who owns a version now.
      const all = await Promise.all(ids.map(read));
      return slicePage(
        all.filter((m) => lc(m.owner) === lc(filter.owner!)),
        ordered,
        (m) => [m.modelId],
      );
    },
  );
}

// ------------------------------------------------------------------ devices

/** Registered devices (optionally of one owner) with their active offerings, newest registered first by default. */
export function readDevicesPage(src: ListSource, filter: { owner?: Address; ids?: readonly Address[] }, page: PageRequest): Promise<SourcedPage<DeviceInfo>> {
  return sourced(
    src,
    async (ix) => {
      const p = await devicesPage(ix, filter, page);
      return {
        ...p,
        items: p.items.map((d) => ({
          device: d.id,
          owner: d.owner,
          status: capitalized(d.status),
          stake: d.stake,
          unbondingEnds: Number(d.unbondingEnds),
          endpoint: d.endpoint,
          metadata: d.metadata,
          offerings: d.offerings.map(({ modelId, token, price }) => ({ modelId, token, price })),
        })),
      };
    },
    async () => {
      const { client, config: c } = src;
      const address = c.contracts.deviceRegistry;
      const registered = await getContractEventsPaged(client, { address, abi: deviceRegistryAbi, eventName: "DeviceRegistered" }, { fromBlock: from(c) });
      const firstBlock = new Map<string, { device: Address; block: bigint }>();
      for (const l of registered) if (!firstBlock.has(lc(l.args.device!))) firstBlock.set(lc(l.args.device!), { device: l.args.device!, block: l.blockNumber });
      const wantedIds = filter.ids ? new Set(filter.ids.map(lc)) : undefined;
      let rows = [...firstBlock.values()].filter((r) => !wantedIds || wantedIds.has(lc(r.device)));
      const read = (device: Address) => client.readContract({ address, abi: deviceRegistryAbi, functionName: "getDevice", args: [device] });
      let views: Map<string, Awaited<ReturnType<typeof read>>> | undefined;
      if (filter.owner) {
        // Ownership is the registry's view (the event says who registered).
        views = new Map(await Promise.all(rows.map(async (r) => [lc(r.device), await read(r.device)] as const)));
        rows = rows.filter((r) => lc(views!.get(lc(r.device))!.owner) === lc(filter.owner!));
      }
      const p = slicePage(rows, page, (r) => [r.block, lc(r.device)]);
      const offerings = p.items.length
        ? await getContractEventsPaged(client, { address, abi: deviceRegistryAbi, eventName: "OfferingSet", args: { device: p.items.map((r) => r.device) } }, { fromBlock: from(c) })
        : [];
      const latest = new Map<string, { device: Address; modelId: bigint; token: Address; price: bigint }>();
      for (const log of offerings) {
        const { device, modelId, token, price } = log.args;
        latest.set(`${lc(device!)}:${modelId}:${lc(token!)}`, { device: device!, modelId: modelId!, token: token!, price: price! });
      }
      const items = await Promise.all(
        p.items.map(async ({ device }): Promise<DeviceInfo> => {
          const d = views?.get(lc(device)) ?? (await read(device));
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
      return { ...p, items };
    },
  );
}

// ------------------------------------------------------------------ licenses

/** Licenses taken (optionally of some models), newest first by default (block, then model id and licensee). */
export function readLicensesPage(src: ListSource, filter: { modelIds?: readonly bigint[] }, page: PageRequest): Promise<SourcedPage<LicenseInfo>> {
  return sourced(
    src,
    async (ix) => {
      const p = await licensesPage(ix, filter, page);
      return { ...p, items: p.items.map((l) => ({ modelId: l.modelId, licensee: l.licensee, payer: l.payer, token: l.token, fee: l.fee, blockNumber: l.block, txHash: l.txHash })) };
    },
    async () => {
      const { client, config: c } = src;
      const logs = await getContractEventsPaged(
        client,
        { address: c.contracts.modelRegistry, abi: modelRegistryAbi, eventName: "LicenseTaken", args: filter.modelIds ? { modelId: [...filter.modelIds] } : undefined },
        { fromBlock: from(c) },
      );
      const rows = logs.map((l) => ({ modelId: l.args.modelId!, licensee: l.args.licensee!, payer: l.args.payer!, token: l.args.token!, fee: l.args.fee!, blockNumber: l.blockNumber, txHash: l.transactionHash }));
      return slicePage(rows, page, (r) => [r.blockNumber, r.modelId, lc(r.licensee)]);
    },
  );
}

// ------------------------------------------------------------------ anchors

/** FlightRecorder anchors of one device, newest first by default (none without a FlightRecorder). */
export function readAnchorsPage(src: ListSource, device: Address, page: PageRequest): Promise<SourcedPage<AnchorInfo>> {
  return sourced(
    src,
    async (ix) => {
      const p = await anchorsPage(ix, { device }, page);
      return { ...p, items: p.items.map((a) => ({ fromSeq: a.fromSeq, toSeq: a.toSeq, root: a.root, head: a.head, txHash: a.txHash, blockNumber: a.block, timestamp: Number(a.timestamp) })) };
    },
    async () => {
      const { client, config: c } = src;
      if (!c.contracts.flightRecorder) return { items: [], totalCount: 0, offset: page.offset, limit: page.limit };
      const logs = await getContractEventsPaged(client, { address: c.contracts.flightRecorder, abi: flightRecorderAbi, eventName: "Anchored", args: { device } }, { fromBlock: from(c) });
      const p = slicePage(logs, page, (l) => [l.blockNumber, l.logIndex]);
      const times = await blockTimes(client, [...new Set(p.items.map((l) => l.blockNumber))]);
      return {
        ...p,
        items: p.items.map((l) => ({ fromSeq: l.args.fromSeq!, toSeq: l.args.toSeq!, root: l.args.root!, head: l.args.head!, txHash: l.transactionHash, blockNumber: l.blockNumber, timestamp: times.get(l.blockNumber) ?? 0 })),
      };
    },
  );
}

// ------------------------------------------------------------------ whole lists

/**
 * A whole list (for selectors and summaries that need every row): page after page from the indexer when it answers
 * (1,000 rows per request), else the chain's bounded-range scan `viaRpc`.
 */
/** Every row of a list, and which source answered (the lists' `data-read-source` attribute shows it). */
export type SourcedRows<T> = T[] & { source: "indexer" | "rpc" };

export async function readAll<T>(
  src: ListSource,
  readPage: (src: ListSource, page: PageRequest) => Promise<SourcedPage<T>>,
  viaRpc: () => Promise<T[]>,
  pageSize = MAX_PAGE,
): Promise<SourcedRows<T>> {
  const rpc = async () => Object.assign(await viaRpc(), { source: "rpc" as const });
  if (!src.indexer) return rpc();
  const out: T[] = [];
  for (let offset = 0; ; offset += pageSize) {
    // Only the indexer here: an unreachable one falls back to the one whole-list scan below, not a scan per page.
    const p = await readPage({ ...src }, { offset, limit: pageSize, orderDirection: "asc" }).catch((error: unknown) => {
      if (error instanceof IndexerError && error.code === "indexer_unreachable") return undefined;
      throw error;
    });
    if (!p || p.source === "rpc") return rpc();
    out.push(...p.items);
    if (p.items.length < pageSize || out.length >= p.totalCount) return Object.assign(out, { source: "indexer" as const });
  }
}
