// The market as an agent sees it: models and devices from the chain's registries (the contracts keep no lists,
// their event logs are the index), each device's live offerings and health from its own worker.
import { isAddressEqual, type Address, type PublicClient } from "viem";
import { deviceRegistryAbi, modelRegistryAbi } from "../protocol/generated/contracts.ts";
import { readRegistries, type Buyer, type Registries } from "../protocol/client/index.ts";
import { DISCOVERY_MAX_LIMIT, DISCOVERY_PATH, discoveryListWire, type DiscoveredResource, type MarketListing } from "../protocol/discovery.ts";
import { X402_VERSION } from "../protocol/x402.ts";
import { getContractEventsPaged } from "../protocol/paged-logs.ts";

const DEVICE_STATUS = ["none", "active", "paused", "exiting", "removed", "withdrawn"] as const;

export interface ModelListing {
  modelId: bigint;
  name: string;
  uri: string;
  contentHash: string;
  royaltyBps: number;
  deprecated: boolean;
  /** On-chain offerings of the model: device, token and price per unit of work. */
  offers: { device: Address; token: Address; price: bigint }[];
}

export interface DeviceListing {
  device: Address;
  status: (typeof DEVICE_STATUS)[number];
  endpoint: string;
  offers: { modelId: bigint; token: Address; price: bigint }[];
  /** What the worker answers now: `ok` with its verified offerings, or why it cannot be used. */
  live:
    | { reachable: true; healthy: boolean; health: unknown; models: { modelId: bigint; price: bigint; unit: unknown; token: string }[] }
    | { reachable: false; error: string };
}

export class Market {
  #registries?: Promise<Registries>;
  readonly buyer: Buyer;
  readonly publicClient: PublicClient;
  readonly healthTimeoutMs: number;
  constructor(buyer: Buyer, publicClient: PublicClient, healthTimeoutMs = 3_000) {
    this.buyer = buyer;
    this.publicClient = publicClient;
    this.healthTimeoutMs = healthTimeoutMs;
  }

  registries(): Promise<Registries> {
    this.#registries ??= readRegistries({ publicClient: this.publicClient, paymentChannels: this.buyer.paymentChannels });
    return this.#registries;
  }

  /** Latest OfferingSet per (device, model, token); a price of 0 removed it. */
  async #offerings() {
    const { deviceRegistry } = await this.registries();
    const logs = await getContractEventsPaged(this.publicClient, { address: deviceRegistry, abi: deviceRegistryAbi, eventName: "OfferingSet" }, { fromBlock: 0n });
    const latest = new Map<string, { device: Address; modelId: bigint; token: Address; price: bigint }>();
    for (const { args } of logs) {
      if (!args.device || args.modelId === undefined || !args.token || args.price === undefined) continue;
      latest.set(`${args.device}:${args.modelId}:${args.token}`.toLowerCase(), { device: args.device, modelId: args.modelId, token: args.token, price: args.price });
    }
    return [...latest.values()].filter((o) => o.price > 0n);
  }

  async models(): Promise<ModelListing[]> {
    const { modelRegistry } = await this.registries();
    const [count, offers] = await Promise.all([this.publicClient.readContract({ address: modelRegistry, abi: modelRegistryAbi, functionName: "modelCount" }), this.#offerings()]);
    const ids = Array.from({ length: Number(count) }, (_, i) => BigInt(i + 1));
    return Promise.all(
      ids.map(async (modelId) => {
        const m = await this.publicClient.readContract({ address: modelRegistry, abi: modelRegistryAbi, functionName: "getModel", args: [modelId] });
        return {
          modelId,
          name: m.name,
          uri: m.uri,
          contentHash: m.contentHash,
          royaltyBps: Number(m.royaltyBps),
          deprecated: m.deprecated,
          offers: offers.filter((o) => o.modelId === modelId).map(({ device, token, price }) => ({ device, token, price })),
        };
      }),
    );
  }

  async devices(filter: { modelId?: bigint } = {}): Promise<DeviceListing[]> {
    const { deviceRegistry } = await this.registries();
    const [registered, offers] = await Promise.all([
      getContractEventsPaged(this.publicClient, { address: deviceRegistry, abi: deviceRegistryAbi, eventName: "DeviceRegistered" }, { fromBlock: 0n }),
      this.#offerings(),
    ]);
    const devices = [...new Set(registered.map((l) => l.args.device).filter((d): d is Address => d !== undefined))];
    const listed = await Promise.all(
      devices.map(async (device): Promise<DeviceListing> => {
        const d = await this.publicClient.readContract({ address: deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [device] });
        const mine = offers.filter((o) => isAddressEqual(o.device, device)).map(({ modelId, token, price }) => ({ modelId, token, price }));
        return { device, status: DEVICE_STATUS[d.status] ?? "none", endpoint: d.endpoint, offers: mine, live: await this.#live(device, d.endpoint) };
      }),
    );
    return listed.filter((d) => filter.modelId === undefined || d.offers.some((o) => o.modelId === filter.modelId));
  }

  /** Worker URLs of active, healthy devices offering the model, cheapest first. */
  async workersFor(modelId: bigint): Promise<string[]> {
    const list = await this.devices({ modelId });
    const price = (d: DeviceListing) => d.offers.find((o) => o.modelId === modelId)!.price;
    return list
      .filter((d) => d.status === "active" && d.live.reachable && d.live.healthy && d.live.models.some((m) => m.modelId === modelId))
      .sort((a, b) => (price(a) < price(b) ? -1 : price(a) > price(b) ? 1 : 0))
      .map((d) => d.endpoint);
  }

  /**
   * The market for agents in x402's discovery shape: every reachable device's own discovery items
   * (GET /discovery/resources, checked against the registry: the worker must be the device it is listed as), and
   * every registered device with its on-chain offers, an offline one kept with `reachable: false` and the reason.
   */
  async listing(filter: { modelId?: bigint } = {}): Promise<MarketListing> {
    const [devices, chainId] = await Promise.all([this.devices(filter), this.publicClient.getChainId()]);
    const items: DiscoveredResource[] = [];
    const rows: MarketListing["devices"] = [];
    await Promise.all(
      devices.map(async (d) => {
        let error = d.live.reachable ? undefined : d.live.error;
        if (d.live.reachable) {
          try {
            items.push(...(await this.#discovery(d.device, d.endpoint)).filter((i) => filter.modelId === undefined || i.metadata.modelId === filter.modelId.toString()));
          } catch (e) {
            error = (e as Error).message;
          }
        }
        rows.push({
          device: d.device,
          status: d.status,
          endpoint: d.endpoint,
          offers: d.offers.map((o) => ({ modelId: o.modelId.toString(), token: o.token, price: o.price.toString() })),
          reachable: error === undefined,
          ...(error !== undefined ? { error } : {}),
        });
      }),
    );
    // Stable order for agents and diffs: by device, then resource and type.
    rows.sort((a, b) => a.device.toLowerCase().localeCompare(b.device.toLowerCase()));
    items.sort((a, b) => a.metadata.device.toLowerCase().localeCompare(b.metadata.device.toLowerCase()) || Number(BigInt(a.metadata.modelId) - BigInt(b.metadata.modelId)) || a.type.localeCompare(b.type));
    return {
      x402Version: X402_VERSION,
      chainId,
      paymentChannels: this.buyer.paymentChannels,
      generatedAt: Math.floor(Date.now() / 1000),
      items,
      pagination: { limit: items.length, offset: 0, total: items.length },
      devices: rows,
    };
  }

  /** A worker's whole discovery list (pages of the spec's maximum size), each item checked to name the device. */
  async #discovery(device: Address, endpoint: string): Promise<DiscoveredResource[]> {
    const out: DiscoveredResource[] = [];
    for (let offset = 0; ; ) {
      const url = new URL(`${DISCOVERY_PATH}?limit=${DISCOVERY_MAX_LIMIT}&offset=${offset}`, endpoint);
      const res = await fetch(url, { signal: AbortSignal.timeout(this.healthTimeoutMs) });
      if (!res.ok) throw new Error(`${url.href} answered HTTP ${res.status}`);
      const parsed = discoveryListWire.safeParse(await res.json());
      if (!parsed.success) throw new Error(`${url.href} is not a discovery list: ${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message}`);
      for (const item of parsed.data.items) {
        if (!isAddressEqual(item.metadata.device as Address, device)) throw new Error(`${url.href} lists a resource of device ${item.metadata.device}, not ${device}`);
        out.push(item);
      }
      offset += parsed.data.items.length;
      if (parsed.data.items.length === 0 || offset >= parsed.data.pagination.total) return out;
    }
  }

  async #live(device: Address, endpoint: string): Promise<DeviceListing["live"]> {
    try {
      const offers = await this.buyer.offerings(endpoint);
      // The worker must be the device the registry points at, or its prices say nothing about this device.
      if (!isAddressEqual(offers.device, device)) return { reachable: false, error: `${endpoint} answers as device ${offers.device}, not ${device}` };
      const res = await fetch(new URL("/healthz", endpoint), { signal: AbortSignal.timeout(this.healthTimeoutMs) });
      const health: unknown = await res.json().catch(() => null);
      return {
        reachable: true,
        healthy: res.ok,
        health,
        models: offers.models.map((m) => ({ modelId: BigInt(m.modelId), price: BigInt(m.price), unit: m.unit, token: m.token })),
      };
    } catch (error) {
      return { reachable: false, error: (error as Error).message };
    }
  }
}
