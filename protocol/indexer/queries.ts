// The list reads the dashboard and the CLIs make against the indexer: one function per list, each a single GraphQL
// request in which the database filters, sorts, counts and pages (limit + offset; Ponder caps a page at 1,000 rows).
// Rows come back zod-checked with bigints and checksummed addresses.
import { getAddress, type Address, type Hex } from "viem";
import { z } from "zod";
import type { ChannelTerms } from "../terms.ts";
import type { IndexerClient } from "./client.ts";

/** Largest page Ponder's GraphQL serves. */
export const MAX_PAGE = 1000;

export interface PageRequest {
  offset: number;
  limit: number;
  orderDirection?: "asc" | "desc";
}

export interface Page<T> {
  items: T[];
  /** Rows matching the filter (all pages). */
  totalCount: number;
  offset: number;
  limit: number;
}

const big = z.string().regex(/^-?[0-9]+$/, "expected an integer string").transform((s) => BigInt(s));
const addr = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "expected an address")
  .transform((s) => getAddress(s));
const hex = z
  .string()
  .regex(/^0x[0-9a-fA-F]*$/, "expected hex")
  .transform((s) => s as Hex);

function pageOf<T extends z.ZodType>(row: T) {
  return z.object({ totalCount: z.number().int().nonnegative(), items: z.array(row) });
}

function checkPage(p: PageRequest): void {
  if (!Number.isInteger(p.offset) || p.offset < 0) throw new Error(`page offset must be a non-negative integer (got ${p.offset})`);
  if (!Number.isInteger(p.limit) || p.limit < 1 || p.limit > MAX_PAGE) throw new Error(`page size must be 1..${MAX_PAGE} (got ${p.limit})`);
}

async function pageQuery<T extends z.ZodType>(
  client: IndexerClient,
  field: string,
  typeName: string,
  fields: string,
  row: T,
  where: Record<string, unknown>,
  orderBy: string,
  page: PageRequest,
): Promise<Page<z.output<T>>> {
  checkPage(page);
  const query = `query($where: ${typeName}Filter, $limit: Int, $offset: Int, $orderBy: String, $orderDirection: String) {
    page: ${field}(where: $where, limit: $limit, offset: $offset, orderBy: $orderBy, orderDirection: $orderDirection) { totalCount items { ${fields} } }
  }`;
  const data = await client.query(z.object({ page: pageOf(row) }), query, {
    where,
    limit: page.limit,
    offset: page.offset,
    orderBy,
    orderDirection: page.orderDirection ?? "desc",
  });
  return { items: data.page.items, totalCount: data.page.totalCount, offset: page.offset, limit: page.limit };
}

/** Every row of a paged read, page by page (for callers that need them all, e.g. the CLI's listing). */
export async function allRows<T>(read: (page: PageRequest) => Promise<Page<T>>, pageSize = MAX_PAGE): Promise<T[]> {
  const out: T[] = [];
  for (let offset = 0; ; offset += pageSize) {
    const p = await read({ offset, limit: pageSize, orderDirection: "asc" });
    out.push(...p.items);
    if (p.items.length < pageSize || out.length >= p.totalCount) return out;
  }
}

const lowerAll = (xs: readonly string[]) => xs.map((x) => x.toLowerCase());

// ------------------------------------------------------------------ channels

const channelRow = z.object({
  id: hex,
  payer: addr,
  signer: addr,
  device: addr,
  payee: addr,
  token: addr,
  modelId: big,
  price: big,
  royaltyBps: z.number().int(),
  salt: big,
  deposit: big,
  claimed: big,
  providerPaid: big,
  royaltyPaid: big,
  claims: z.number().int(),
  state: z.enum(["open", "closing", "settled"]),
  closesAt: big.nullable(),
  openedBlock: big,
  openedAt: big,
  updatedBlock: big,
});

export interface IndexedChannel {
  channelId: Hex;
  terms: ChannelTerms;
  deposit: bigint;
  claimed: bigint;
  providerPaid: bigint;
  royaltyPaid: bigint;
  claims: number;
  state: "open" | "closing" | "settled";
  /** Unix seconds; 0 when no close was requested. */
  closesAt: bigint;
  openedBlock: bigint;
  openedAt: bigint;
  updatedBlock: bigint;
}

export interface ChannelFilter {
  payer?: Address;
  payee?: Address;
  devices?: readonly Address[];
  modelIds?: readonly bigint[];
  states?: readonly IndexedChannel["state"][];
}

/** Channels matching `filter`, newest opened first by default. */
export async function channelsPage(client: IndexerClient, filter: ChannelFilter, page: PageRequest): Promise<Page<IndexedChannel>> {
  const where: Record<string, unknown> = {};
  if (filter.payer) where.payer = filter.payer.toLowerCase();
  if (filter.payee) where.payee = filter.payee.toLowerCase();
  if (filter.devices) where.device_in = lowerAll(filter.devices);
  if (filter.modelIds) where.modelId_in = filter.modelIds.map(String);
  if (filter.states) where.state_in = [...filter.states];
  const p = await pageQuery(client, "channels", "channel", Object.keys(channelRow.shape).join(" "), channelRow, where, "openedBlock", page);
  return { ...p, items: p.items.map(indexedChannelOf) };
}

/** One channel by id, or undefined when the index has no such channel. */
export async function channelById(client: IndexerClient, channelId: Hex): Promise<IndexedChannel | undefined> {
  const p = await pageQuery(client, "channels", "channel", Object.keys(channelRow.shape).join(" "), channelRow, { id: channelId.toLowerCase() }, "openedBlock", { offset: 0, limit: 1 });
  if (p.items.length === 0) return undefined;
  return indexedChannelOf(p.items[0]!);
}

/** A channel row as the dashboard and the CLI use it: the terms gathered into one struct. */
function indexedChannelOf(r: z.output<typeof channelRow>): IndexedChannel {
  return {
    channelId: r.id,
    terms: { payer: r.payer, signer: r.signer, device: r.device, payee: r.payee, token: r.token, modelId: r.modelId, price: r.price, royaltyBps: r.royaltyBps, salt: r.salt },
    deposit: r.deposit,
    claimed: r.claimed,
    providerPaid: r.providerPaid,
    royaltyPaid: r.royaltyPaid,
    claims: r.claims,
    state: r.state,
    closesAt: r.closesAt ?? 0n,
    openedBlock: r.openedBlock,
    openedAt: r.openedAt,
    updatedBlock: r.updatedBlock,
  };
}

// ------------------------------------------------------------------ claims

const claimRow = z.object({
  channelId: hex,
  payee: addr,
  device: addr,
  modelId: big,
  cumulativeAmount: big,
  providerAmount: big,
  royalty: big,
  txGasUsed: big,
  block: big,
  timestamp: big,
  txHash: hex,
  logIndex: z.number().int(),
});
export type IndexedClaim = z.output<typeof claimRow>;

export interface ClaimFilter {
  payee?: Address;
  devices?: readonly Address[];
  channelIds?: readonly Hex[];
  modelIds?: readonly bigint[];
}

/** Claims matching `filter`, newest first by default (by block). */
export async function claimsPage(client: IndexerClient, filter: ClaimFilter, page: PageRequest): Promise<Page<IndexedClaim>> {
  const where: Record<string, unknown> = {};
  if (filter.payee) where.payee = filter.payee.toLowerCase();
  if (filter.devices) where.device_in = lowerAll(filter.devices);
  if (filter.channelIds) where.channelId_in = lowerAll(filter.channelIds);
  if (filter.modelIds) where.modelId_in = filter.modelIds.map(String);
  return pageQuery(client, "claims", "claim", Object.keys(claimRow.shape).join(" "), claimRow, where, "block", page);
}

// ------------------------------------------------------------------ models, licenses, royalties

const modelRow = z.object({
  id: big,
  owner: addr,
  predecessor: big,
  version: z.number().int(),
  contentHash: hex,
  royaltyBps: z.number().int(),
  licenseToken: addr,
  licenseFee: big,
  name: z.string(),
  uri: z.string(),
  deprecated: z.boolean(),
  licenses: z.number().int(),
  publishedBlock: big,
  publishedAt: big,
});
export type IndexedModel = z.output<typeof modelRow>;

/** Model versions (optionally of one owner, or only live ones), by id ascending by default. */
export async function modelsPage(client: IndexerClient, filter: { owner?: Address; deprecated?: boolean; ids?: readonly bigint[]; predecessors?: readonly bigint[] }, page: PageRequest): Promise<Page<IndexedModel>> {
  const where: Record<string, unknown> = {};
  if (filter.predecessors) where.predecessor_in = filter.predecessors.map(String);
  if (filter.owner) where.owner = filter.owner.toLowerCase();
  if (filter.deprecated !== undefined) where.deprecated = filter.deprecated;
  if (filter.ids) where.id_in = filter.ids.map(String);
  return pageQuery(client, "models", "model", Object.keys(modelRow.shape).join(" "), modelRow, where, "id", { orderDirection: "asc", ...page });
}

const licenseRow = z.object({ modelId: big, licensee: addr, payer: addr, token: addr, fee: big, block: big, txHash: hex });
export type IndexedLicense = z.output<typeof licenseRow>;

/** Licenses taken (optionally for some models, or by one licensee), newest first by default. */
export async function licensesPage(client: IndexerClient, filter: { modelIds?: readonly bigint[]; licensee?: Address }, page: PageRequest): Promise<Page<IndexedLicense>> {
  const where: Record<string, unknown> = {};
  if (filter.modelIds) where.modelId_in = filter.modelIds.map(String);
  if (filter.licensee) where.licensee = filter.licensee.toLowerCase();
  return pageQuery(client, "licenses", "license", Object.keys(licenseRow.shape).join(" "), licenseRow, where, "block", page);
}

const royaltyRow = z.object({ modelId: big, token: addr, accrued: big, withdrawn: big, claims: z.number().int(), updatedBlock: big });
export type IndexedRoyalty = z.output<typeof royaltyRow>;

/** Royalties accrued per model and token (optionally for some models). */
export async function royaltiesPage(client: IndexerClient, filter: { modelIds?: readonly bigint[] }, page: PageRequest): Promise<Page<IndexedRoyalty>> {
  const where: Record<string, unknown> = {};
  if (filter.modelIds) where.modelId_in = filter.modelIds.map(String);
  return pageQuery(client, "royaltys", "royalty", Object.keys(royaltyRow.shape).join(" "), royaltyRow, where, "modelId", { orderDirection: "asc", ...page });
}

// ------------------------------------------------------------------ devices and offerings

const deviceRow = z.object({
  id: addr,
  owner: addr,
  stake: big,
  status: z.string(),
  unbondingEnds: big,
  endpoint: z.string(),
  metadata: z.string(),
  slashedTotal: big,
  registeredBlock: big,
});
const offeringRow = z.object({ device: addr, modelId: big, token: addr, price: big });

export type IndexedOffering = z.output<typeof offeringRow>;
export type IndexedDevice = z.output<typeof deviceRow> & { offerings: IndexedOffering[] };

/** Columns the device list can be sorted by (ties broken by the device address, in the same direction). */
export type DeviceOrder = "registeredBlock" | "stake" | "status";

export interface DeviceFilter {
  owner?: Address;
  statuses?: readonly string[];
  ids?: readonly Address[];
  /** Case-insensitive substring of the endpoint or the metadata, or of the lowercase address. */
  text?: string;
}

/** A LIKE pattern's wildcards taken literally (Ponder puts the value inside `%…%` unescaped). */
const likeLiteral = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

function deviceWhere(filter: DeviceFilter): Record<string, unknown> {
  const where: Record<string, unknown> = {};
  if (filter.owner) where.owner = filter.owner.toLowerCase();
  if (filter.statuses) where.status_in = [...filter.statuses];
  if (filter.ids) where.id_in = lowerAll(filter.ids);
  if (filter.text) {
    const t = likeLiteral(filter.text);
    where.OR = [{ endpoint_contains_nocase: t }, { metadata_contains_nocase: t }, { id_contains: t.toLowerCase() }];
  }
  return where;
}

/** Addresses of every device matching `filter` (all pages; for narrowing another list to them). */
export async function deviceIds(client: IndexerClient, filter: DeviceFilter): Promise<Address[]> {
  const row = z.object({ id: addr });
  const rows = await allRows((page) => pageQuery(client, "devices", "device", "id", row, deviceWhere(filter), "id", page));
  return rows.map((r) => r.id);
}

/** Active offerings (optionally of one model, or of some devices), cheapest first by default; ties by device, model, token. */
export async function offeringsPage(client: IndexerClient, filter: { modelId?: bigint; devices?: readonly Address[] }, page: PageRequest): Promise<Page<IndexedOffering>> {
  if (filter.devices?.length === 0) return { items: [], totalCount: 0, offset: page.offset, limit: page.limit };
  const where: Record<string, unknown> = { active: true };
  if (filter.modelId !== undefined) where.modelId = String(filter.modelId);
  if (filter.devices) where.device_in = lowerAll(filter.devices);
  return pageQuery(client, "offerings", "offering", Object.keys(offeringRow.shape).join(" "), offeringRow, where, "price", { orderDirection: "asc", ...page });
}

/**
 * Devices (optionally of one owner, or with given statuses, or offering one model), newest registered first by
 * default, each with its active offerings: two requests (the page, then the offerings of the page's devices).
 */
export async function devicesPage(
  client: IndexerClient,
  filter: DeviceFilter,
  page: PageRequest,
  orderBy: DeviceOrder = "registeredBlock",
): Promise<Page<IndexedDevice>> {
  if (filter.ids?.length === 0) return { items: [], totalCount: 0, offset: page.offset, limit: page.limit };
  const p = await pageQuery(client, "devices", "device", Object.keys(deviceRow.shape).join(" "), deviceRow, deviceWhere(filter), orderBy, page);
  if (p.items.length === 0) return { ...p, items: [] };
  const offerings = await pageQuery(
    client,
    "offerings",
    "offering",
    Object.keys(offeringRow.shape).join(" "),
    offeringRow,
    { active: true, device_in: p.items.map((d) => d.id.toLowerCase()) },
    "modelId",
    { offset: 0, limit: MAX_PAGE, orderDirection: "asc" },
  );
  if (offerings.totalCount > offerings.items.length) throw new Error(`the page's devices have ${offerings.totalCount} offerings, more than one request returns (${MAX_PAGE}): use a smaller page`);
  return { ...p, items: p.items.map((d) => ({ ...d, offerings: offerings.items.filter((o) => o.device === d.id) })) };
}

// ------------------------------------------------------------------ anchors and credits

const anchorRow = z.object({ device: addr, fromSeq: big, toSeq: big, root: hex, head: hex, block: big, timestamp: big, txHash: hex });
export type IndexedAnchor = z.output<typeof anchorRow>;

/** FlightRecorder anchors of one device (optionally the one starting at `fromSeq`), newest first by default. */
export async function anchorsPage(client: IndexerClient, filter: { device: Address; fromSeq?: bigint }, page: PageRequest): Promise<Page<IndexedAnchor>> {
  const where: Record<string, unknown> = { device: filter.device.toLowerCase() };
  if (filter.fromSeq !== undefined) where.fromSeq = String(filter.fromSeq);
  return pageQuery(client, "anchors", "anchor", Object.keys(anchorRow.shape).join(" "), anchorRow, where, "block", page);
}

const creditRow = z.object({ account: addr, token: addr, credited: big, withdrawn: big });
export type IndexedCredit = z.output<typeof creditRow>;

/** Credit rows of one account (one per token it was ever credited in). */
export async function creditsPage(client: IndexerClient, account: Address, page: PageRequest): Promise<Page<IndexedCredit>> {
  return pageQuery(client, "credits", "credit", Object.keys(creditRow.shape).join(" "), creditRow, { account: account.toLowerCase() }, "token", page);
}

// ------------------------------------------------------------------ reputation

const reputationRow = z.object({
  id: addr,
  receiptsAnchored: big,
  spotChecksPassed: z.number().int().nonnegative(),
  spotChecksFailed: z.number().int().nonnegative(),
  failingClients: z.number().int().nonnegative(),
  uptimeReports: z.number().int().nonnegative(),
  uptimeBps: z.number().int().nonnegative().nullable(),
  disputesWon: z.number().int().nonnegative(),
  disputesLost: z.number().int().nonnegative(),
  slashes: z.number().int().nonnegative(),
  slashedAmount: big,
  score: z.number().int().min(0).max(100),
});
export type IndexedReputation = z.output<typeof reputationRow>;

/**
 * Reputation rows of up to MAX_PAGE devices in one request (a list page's devices). A device with no row has no
 * signal yet: the caller scores it as unrated (protocol/reputation-score.ts), the same as the chain reader does.
 */
export async function reputationsOf(client: IndexerClient, devices: readonly Address[]): Promise<Map<Address, IndexedReputation>> {
  if (devices.length === 0) return new Map();
  if (devices.length > MAX_PAGE) throw new Error(`at most ${MAX_PAGE} devices per reputation request (got ${devices.length})`);
  const p = await pageQuery(client, "reputations", "reputation", Object.keys(reputationRow.shape).join(" "), reputationRow, { id_in: lowerAll(devices) }, "id", {
    offset: 0,
    limit: MAX_PAGE,
    orderDirection: "asc",
  });
  return new Map(p.items.map((r) => [r.id, r]));
}
