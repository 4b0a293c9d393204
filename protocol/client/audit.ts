// The buyer's and auditor's check of a receipt against the chain: the device's signature, the hashes of the
// buyer's own input and output (when it has them), the inclusion proof against the anchor FlightRecorder holds, and
// the model hash against the ModelRegistry version. Each check answers `{ valid, reason }`; a receipt as a whole is
// proven, missing (not anchored / no proof) or contradicted (something it claims is false). Browser-compatible.
import { isAddressEqual, type Address, type Hex, type PublicClient } from "viem";
import { checkHashChain, checkMetering, checkReceiptProof } from "../audit.ts";
import { anchoredGaps, channelContinuityBreaks, coverageKind, type CoverageKind, type ExportCoverage } from "../audit-coverage.ts";
import { hasProof, type AuditLine } from "../audit-export.ts";
import { processProof, receiptLeaf } from "../merkle.ts";
import { flightRecorderAbi, modelRegistryAbi, paymentChannelsAbi } from "../generated/contracts.ts";
import { IndexerError, type IndexerClient } from "../indexer/client.ts";
import { anchorsPage, channelById } from "../indexer/queries.ts";
import { getContractEventsPaged } from "../paged-logs.ts";
import { receiptDigest, recoverReceiptSigner, type SignedReceipt } from "../receipt.ts";

export type Check = { valid: true } | { valid: false; reason: string; detail?: string };
export type ReceiptStatus = "proven" | "missing" | "contradicted";

/** Reasons that mean "not (yet) provable" rather than "false". */
const MISSING = new Set(["no_proof", "not_anchored"]);

export interface AuditContext {
  client: PublicClient;
  chainId: number;
  flightRecorder: Address;
  paymentChannels: Address;
  modelRegistry: Address;
  /** First block to search for Anchored events. */
  fromBlock?: bigint;
  /** Blocks per eth_getLogs (default DEFAULT_LOG_RANGE; a provider's smaller cap is followed when it names it). */
  getLogsRange?: number;
  /**
   * The indexer, when configured: anchors' transactions and channels' prices come from it; what it lacks (not indexed
   * yet) or when it does not answer, from a paged scan of the chain's logs.
   */
  indexer?: IndexerClient;
}

/** Everything from one FlightRecorder address: its PaymentChannels, that contract's ModelRegistry, the chain id. */
export async function auditContext(client: PublicClient, flightRecorder: Address, fromBlock = 0n): Promise<AuditContext> {
  const [chainId, paymentChannels] = await Promise.all([
    client.getChainId(),
    client.readContract({ address: flightRecorder, abi: flightRecorderAbi, functionName: "paymentChannels" }),
  ]);
  const modelRegistry = await client.readContract({ address: paymentChannels, abi: paymentChannelsAbi, functionName: "modelRegistry" });
  return { client, chainId, flightRecorder, paymentChannels, modelRegistry, fromBlock };
}

export interface ReceiptAudit {
  device: Address;
  sequence: bigint;
  digest: Hex;
  status: ReceiptStatus;
  checks: {
    signature: Check;
    /** Undefined when the caller has no input/output to compare. */
    inputHash?: Check;
    outputHash?: Check;
    inclusion: Check;
    model: Check;
    /** Export audits: the receipt commits to its predecessor's digest (when both are in the export). */
    chainLink?: Check;
    /**
     * Export audits: metered pricing. The amount this receipt adds over the channel's previous receipt is its
     * units x the channel's price per unit (checked when the export holds every receipt of the device in between).
     */
    metering?: Check;
  };
  /** The on-chain anchor holding the receipt, when proven. */
  anchor?: { root: Hex; fromSeq: bigint; toSeq: bigint; transactionHash?: Hex; blockNumber?: bigint };
  /** The registry's record of the model version the receipt names. */
  model?: { modelId: bigint; name: string; contentHash: Hex; deprecated: boolean };
}

const ok: Check = { valid: true };
const fail = (reason: string, detail?: string): Check => ({ valid: false, reason, ...(detail ? { detail } : {}) });

/** Audits one receipt (with its proof if it has one). `own` are the hashes of the caller's own input and output. */
export async function auditReceipt(line: AuditLine, ctx: AuditContext, own: { inputHash?: Hex; outputHash?: Hex } = {}): Promise<ReceiptAudit> {
  const r: SignedReceipt = line.receipt;
  const digest = receiptDigest(r, ctx.chainId, ctx.paymentChannels);
  const checks: ReceiptAudit["checks"] = { signature: await signatureCheck(r, line.device, ctx), inclusion: ok, model: ok };
  if (own.inputHash) checks.inputHash = sameHex(own.inputHash, r.inputHash) ? ok : fail("wrong_input_hash");
  if (own.outputHash) checks.outputHash = sameHex(own.outputHash, r.outputHash) ? ok : fail("wrong_output_hash");

  let anchor: ReceiptAudit["anchor"];
  if (!("proof" in line) || !line.proof) {
    checks.inclusion = fail("no_proof");
  } else {
    const offline = await checkReceiptProof(line, ctx.chainId, ctx.paymentChannels);
    if (!offline.valid) {
      checks.inclusion = fail(offline.reason === "bad_signature" ? "bad_signature" : offline.reason);
    } else {
      const { root, fromSeq, toSeq } = line.anchor;
      const onchain = await ctx.client.readContract({ address: ctx.flightRecorder, abi: flightRecorderAbi, functionName: "isAnchored", args: [line.device, root, fromSeq, toSeq] });
      if (onchain) {
        anchor = { root, fromSeq, toSeq, ...(await anchorTx(ctx, line.device, fromSeq)) };
      } else {
        const log = await ctx.client.readContract({ address: ctx.flightRecorder, abi: flightRecorderAbi, functionName: "deviceLog", args: [line.device] });
        // Above the anchored sequence: simply not anchored yet. At or below it: the device anchored something else.
        checks.inclusion = fail(r.sequence > log.anchoredSeq ? "not_anchored" : "anchor_not_on_chain");
      }
    }
  }

  let model: ReceiptAudit["model"];
  try {
    const m = await ctx.client.readContract({ address: ctx.modelRegistry, abi: modelRegistryAbi, functionName: "getModel", args: [r.modelId] });
    model = { modelId: r.modelId, name: m.name, contentHash: m.contentHash, deprecated: m.deprecated };
    if (!sameHex(m.contentHash, r.modelHash)) checks.model = fail("model_hash_mismatch");
  } catch {
    checks.model = fail("unknown_model");
  }

  // A receipt whose signature is not the device's, although the device anchored a different receipt at this
  // position, was changed after signing: say so, and which fields the chain still vouches for.
  if (!checks.signature.valid && checks.signature.reason === "wrong_signer" && hasProof(line) && processProof(line.proof, receiptLeaf(digest)) !== line.anchor.root.toLowerCase()) {
    checks.signature = fail("receipt_altered");
  }
  const audit: ReceiptAudit = { device: line.device, sequence: r.sequence, digest, status: statusOf(checks), checks, ...(anchor ? { anchor } : {}), ...(model ? { model } : {}) };
  describeAlteration(audit);
  return audit;
}

/** Receipt fields, and the independent check (if any) that vouches for each one. */
const VOUCHED_BY: Record<string, keyof ReceiptAudit["checks"] | undefined> = {
  channelId: undefined,
  cumulativeAmount: "metering",
  units: "metering",
  modelId: "model",
  modelHash: "model",
  inputHash: "inputHash",
  outputHash: "outputHash",
  timestamp: undefined,
  previous: "chainLink",
};

/**
 * For an altered receipt: which fields may have been changed (those no passing independent check vouches for). The
 * device's signature covers all of them, so the signature alone cannot say which one; the buyer's own copy can.
 */
function describeAlteration(audit: ReceiptAudit): void {
  const sig = audit.checks.signature;
  if (sig.valid || sig.reason !== "receipt_altered") return;
  const vouched = (field: string) => {
    const by = VOUCHED_BY[field];
    const c = by ? audit.checks[by] : undefined;
    return c !== undefined && c.valid;
  };
  const failing = Object.keys(VOUCHED_BY).filter((f) => {
    const by = VOUCHED_BY[f];
    const c = by ? audit.checks[by] : undefined;
    return c !== undefined && !c.valid;
  });
  const open = Object.keys(VOUCHED_BY).filter((f) => !vouched(f) && !failing.includes(f));
  audit.checks.signature = fail(
    "receipt_altered",
    failing.length > 0
      ? `changed after the device signed it: ${failing.length === 1 ? `${failing[0]} no longer matches` : `one of ${failing.join(", ")} no longer matches`} the chain or your copy`
      : `changed after the device signed it (the device anchored a different receipt #${audit.sequence}); the chain vouches for ${Object.keys(VOUCHED_BY).filter(vouched).join(", ") || "none of its fields"}, so the change is in ${open.join(", ")}: compare with your own copy`,
  );
}

/** Anchored receipts a device's export should hold and does not. */
export interface ExportGap {
  device: Address;
  fromSeq: bigint;
  toSeq: bigint;
  /**
   * absent_from_export: anchored on-chain, not in an export that claims (or is assumed to claim) all receipts.
   * channel_receipt_missing: in a channel's export, the amounts jump by more than the receipts present account for.
   */
  reason: "absent_from_export" | "channel_receipt_missing";
  /** The on-chain anchor the gap lies in, when a receipt of the export names it. */
  anchor?: { fromSeq: bigint; toSeq: bigint };
  detail: string;
}

/** What an export covers, per device, against the chain. */
export interface DeviceCoverage {
  device: Address;
  kind: CoverageKind;
  /** The device's highest anchored sequence on-chain. */
  anchoredSeq: bigint;
  /** Receipt lines of the device in the export. */
  receipts: number;
  /** The count the export's coverage line states, when it has one. */
  statedReceipts?: number;
  /** Filtered exports: anchored sequences not in this export, which its filter may legitimately leave out. */
  notCovered?: bigint;
  filter?: { channel?: Hex; from?: number; to?: number };
}

export interface ExportAudit {
  receipts: ReceiptAudit[];
  gaps: ExportGap[];
  devices: DeviceCoverage[];
  /** Receipts by status, plus `absent`: anchored sequences the export should hold and does not. */
  summary: Record<ReceiptStatus, number> & { absent: bigint };
}

/**
 * Audits an export: each receipt, the hash-chain link to its predecessor when both are in the export, metered
 * amounts, and what is not there. `coverage` are the export's coverage lines (audit-coverage.ts); an export without
 * one is taken to claim every receipt of each device it names, so a deleted line is reported, not passed over.
 */
export async function auditExport(lines: readonly AuditLine[], ctx: AuditContext, coverage: readonly ExportCoverage[] = []): Promise<ExportAudit> {
  const sorted = [...lines].sort((a, b) => (a.receipt.sequence < b.receipt.sequence ? -1 : a.receipt.sequence > b.receipt.sequence ? 1 : 0));
  const receipts: ReceiptAudit[] = [];
  for (const [i, line] of sorted.entries()) {
    const audit = await auditReceipt(line, ctx);
    const prev = sorted[i - 1];
    if (prev && sameHex(prev.device, line.device) && prev.receipt.sequence + 1n === line.receipt.sequence) {
      const link = checkHashChain([prev.receipt, line.receipt], ctx.chainId, ctx.paymentChannels);
      audit.checks.chainLink = link.valid ? ok : fail(link.reason, `receipt #${prev.receipt.sequence} in this export is not the one the device chained this receipt to`);
      if (!link.valid) audit.status = "contradicted";
    }
    receipts.push(audit);
  }
  // Metering, channel by channel: amounts grow by units x the channel's price (from its ChannelOpened terms).
  const byChannel = new Map<string, { line: AuditLine; audit: ReceiptAudit }[]>();
  sorted.forEach((line, i) => {
    const key = line.receipt.channelId.toLowerCase();
    byChannel.set(key, [...(byChannel.get(key) ?? []), { line, audit: receipts[i]! }]);
  });
  const present = new Set(sorted.map((l) => `${l.device.toLowerCase()}:${l.receipt.sequence}`));
  const prices = new Map<string, bigint | undefined>();
  for (const [channelId, items] of byChannel) {
    const price = await channelPrice(ctx, channelId as Hex);
    prices.set(channelId, price);
    if (price === undefined) continue;
    for (const [i, item] of items.entries()) {
      const prev = items[i - 1];
      if (!prev || !isAddressEqual(prev.line.device, item.line.device)) continue;
      // The channel's previous answer is known only when no receipt of the device in between is missing.
      let complete = item.line.receipt.sequence - prev.line.receipt.sequence <= BigInt(sorted.length);
      for (let s = prev.line.receipt.sequence + 1n; s < item.line.receipt.sequence && complete; s++) complete = present.has(`${item.line.device.toLowerCase()}:${s}`);
      if (!complete) continue;
      const m = checkMetering([item.line.receipt], price, prev.line.receipt.cumulativeAmount);
      item.audit.checks.metering = m.valid ? ok : fail(m.reason);
      if (!m.valid) item.audit.status = "contradicted";
    }
  }
  for (const a of receipts) describeAlteration(a);

  const { gaps, devices } = await exportCompleteness(sorted, ctx, coverage, prices);
  const summary = { proven: 0, missing: 0, contradicted: 0, absent: 0n };
  for (const a of receipts) summary[a.status]++;
  for (const g of gaps) summary.absent += g.toSeq - g.fromSeq + 1n;
  return { receipts, gaps, devices, summary };
}

/** Per device: what the export covers against the chain's anchored sequence, and the holes in it. */
async function exportCompleteness(
  sorted: readonly AuditLine[],
  ctx: AuditContext,
  coverage: readonly ExportCoverage[],
  prices: ReadonlyMap<string, bigint | undefined>,
): Promise<{ gaps: ExportGap[]; devices: DeviceCoverage[] }> {
  const names = new Map<string, Address>();
  for (const l of sorted) names.set(l.device.toLowerCase(), l.device);
  for (const c of coverage) names.set(c.device.toLowerCase(), c.device);
  const gaps: ExportGap[] = [];
  const devices: DeviceCoverage[] = [];
  for (const [key, device] of names) {
    const cov = coverage.find((c) => c.device.toLowerCase() === key);
    const kind = coverageKind(cov);
    const mine = sorted.filter((l) => l.device.toLowerCase() === key);
    const log = await ctx.client.readContract({ address: ctx.flightRecorder, abi: flightRecorderAbi, functionName: "deviceLog", args: [device] });
    const anchoredSeq = BigInt(log.anchoredSeq);
    const seqs = new Set(mine.map((l) => l.receipt.sequence));
    const anchorOf = (seq: bigint) => {
      for (const l of mine) if (hasProof(l) && l.anchor.fromSeq <= seq && seq <= l.anchor.toSeq) return { fromSeq: l.anchor.fromSeq, toSeq: l.anchor.toSeq };
      return undefined;
    };
    const report: DeviceCoverage = { device, kind, anchoredSeq, receipts: mine.length, ...(cov ? { statedReceipts: cov.receipts } : {}) };
    if (kind !== "filtered") {
      for (const g of anchoredGaps(seqs, anchoredSeq)) {
        const before = g.fromSeq - 1n;
        const after = g.toSeq + 1n;
        const link = seqs.has(after) && before >= 1n ? `; the hash chain from #${before} to #${after} cannot be checked across it` : "";
        const anchor = anchorOf(g.fromSeq);
        gaps.push({ device, ...g, reason: "absent_from_export", ...(anchor ? { anchor } : {}), detail: `anchored on-chain (up to #${anchoredSeq}) but not in the export${link}` });
      }
    } else {
      report.filter = { ...(cov?.channel ? { channel: cov.channel } : {}), ...(cov?.from !== undefined ? { from: cov.from } : {}), ...(cov?.to !== undefined ? { to: cov.to } : {}) };
      report.notCovered = anchoredGaps(seqs, anchoredSeq).reduce((n, g) => n + g.toSeq - g.fromSeq + 1n, 0n);
      // A channel's export can still be checked for holes: its amounts must add up from receipt to receipt.
      const price = cov?.channel ? prices.get(cov.channel.toLowerCase()) : undefined;
      if (cov?.channel && price !== undefined) {
        const ofChannel = mine.filter((l) => sameHex(l.receipt.channelId, cov.channel!)).map((l) => l.receipt);
        for (const b of channelContinuityBreaks(ofChannel, price, cov.from === undefined)) {
          const fromSeq = b.afterSeq === undefined ? 1n : b.afterSeq + 1n;
          const anchor = anchorOf(fromSeq);
          gaps.push({
            device,
            fromSeq,
            toSeq: b.beforeSeq - 1n,
            reason: "channel_receipt_missing",
            ...(anchor ? { anchor } : {}),
            detail: `channel ${cov.channel}: receipt #${b.beforeSeq} is ${b.unaccounted} above ${b.afterSeq === undefined ? "0" : `#${b.afterSeq}`} plus its own units x price; the receipts that account for it are not in the export`,
          });
        }
      }
    }
    devices.push(report);
  }
  return { gaps, devices };
}

function statusOf(checks: ReceiptAudit["checks"]): ReceiptStatus {
  const failed = Object.values(checks).filter((c): c is { valid: false; reason: string } => c !== undefined && !c.valid);
  if (failed.some((c) => !MISSING.has(c.reason))) return "contradicted";
  return failed.length > 0 ? "missing" : "proven";
}

async function signatureCheck(r: SignedReceipt, device: Address, ctx: AuditContext): Promise<Check> {
  try {
    const signer = await recoverReceiptSigner(r, ctx.chainId, ctx.paymentChannels);
    return isAddressEqual(signer, device) ? ok : fail("wrong_signer");
  } catch {
    return fail("malformed_signature");
  }
}

async function anchorTx(ctx: AuditContext, device: Address, fromSeq: bigint): Promise<{ transactionHash?: Hex; blockNumber?: bigint }> {
  const indexed = await fromIndex(ctx, async (ix) => (await anchorsPage(ix, { device, fromSeq }, { offset: 0, limit: 1 })).items[0]);
  if (indexed) return { transactionHash: indexed.txHash, blockNumber: indexed.block };
  const events = await getContractEventsPaged(
    ctx.client,
    { address: ctx.flightRecorder, abi: flightRecorderAbi, eventName: "Anchored", args: { device, fromSeq } },
    { fromBlock: ctx.fromBlock ?? 0n, maxRange: ctx.getLogsRange },
  );
  const ev = events[events.length - 1];
  return ev ? { transactionHash: ev.transactionHash, blockNumber: ev.blockNumber } : {};
}

/** The price per unit in a channel's terms (its ChannelOpened event), or undefined when not found. */
async function channelPrice(ctx: AuditContext, channelId: Hex): Promise<bigint | undefined> {
  const indexed = await fromIndex(ctx, (ix) => channelById(ix, channelId));
  if (indexed) return indexed.terms.price;
  try {
    const events = await getContractEventsPaged(
      ctx.client,
      { address: ctx.paymentChannels, abi: paymentChannelsAbi, eventName: "ChannelOpened", args: { channelId } },
      { fromBlock: ctx.fromBlock ?? 0n, maxRange: ctx.getLogsRange },
    );
    return events[0]?.args.terms?.price;
  } catch {
    return undefined;
  }
}

/** A read from the indexer, or undefined when none is configured or it does not answer (the caller scans the chain). */
async function fromIndex<T>(ctx: AuditContext, read: (ix: IndexerClient) => Promise<T | undefined>): Promise<T | undefined> {
  if (!ctx.indexer) return undefined;
  try {
    return await read(ctx.indexer);
  } catch (error) {
    if (error instanceof IndexerError && error.code === "indexer_unreachable") return undefined;
    throw error;
  }
}

function sameHex(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
