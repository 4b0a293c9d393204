// The buyer's and auditor's check of a receipt against the chain: the device's signature, the hashes of the
// buyer's own input and output (when it has them), the inclusion proof against the anchor FlightRecorder holds, and
// the model hash against the ModelRegistry version. Each check answers `{ valid, reason }`; a receipt as a whole is
// proven, missing (not anchored / no proof) or contradicted (something it claims is false). Browser-compatible.
import { isAddressEqual, type Address, type Hex, type PublicClient } from "viem";
import { checkHashChain, checkMetering, checkReceiptProof } from "../audit.ts";
import type { AuditLine } from "../audit-export.ts";
import { flightRecorderAbi, modelRegistryAbi, paymentChannelsAbi } from "../generated/contracts.ts";
import { receiptDigest, recoverReceiptSigner, type SignedReceipt } from "../receipt.ts";

export type Check = { valid: true } | { valid: false; reason: string };
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
const fail = (reason: string): Check => ({ valid: false, reason });

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

  return { device: line.device, sequence: r.sequence, digest, status: statusOf(checks), checks, ...(anchor ? { anchor } : {}), ...(model ? { model } : {}) };
}

/** Audits an export: each receipt, plus the hash-chain link to its predecessor when both are in the export. */
export async function auditExport(lines: readonly AuditLine[], ctx: AuditContext): Promise<{ receipts: ReceiptAudit[]; summary: Record<ReceiptStatus, number> }> {
  const sorted = [...lines].sort((a, b) => (a.receipt.sequence < b.receipt.sequence ? -1 : a.receipt.sequence > b.receipt.sequence ? 1 : 0));
  const receipts: ReceiptAudit[] = [];
  for (const [i, line] of sorted.entries()) {
    const audit = await auditReceipt(line, ctx);
    const prev = sorted[i - 1];
    if (prev && sameHex(prev.device, line.device) && prev.receipt.sequence + 1n === line.receipt.sequence) {
      const link = checkHashChain([prev.receipt, line.receipt], ctx.chainId, ctx.paymentChannels);
      audit.checks.chainLink = link.valid ? ok : fail(link.reason);
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
  for (const [channelId, items] of byChannel) {
    const price = await channelPrice(ctx, channelId as Hex);
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
  const summary = { proven: 0, missing: 0, contradicted: 0 };
  for (const a of receipts) summary[a.status]++;
  return { receipts, summary };
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
  const events = await ctx.client.getContractEvents({
    address: ctx.flightRecorder,
    abi: flightRecorderAbi,
    eventName: "Anchored",
    args: { device, fromSeq },
    fromBlock: ctx.fromBlock ?? 0n,
    toBlock: "latest",
  });
  const ev = events[events.length - 1];
  return ev ? { transactionHash: ev.transactionHash, blockNumber: ev.blockNumber } : {};
}

/** The price per unit in a channel's terms (its ChannelOpened event), or undefined when not found. */
async function channelPrice(ctx: AuditContext, channelId: Hex): Promise<bigint | undefined> {
  try {
    const events = await ctx.client.getContractEvents({
      address: ctx.paymentChannels,
      abi: paymentChannelsAbi,
      eventName: "ChannelOpened",
      args: { channelId },
      fromBlock: ctx.fromBlock ?? 0n,
      toBlock: "latest",
    });
    return events[0]?.args.terms?.price;
  } catch {
    return undefined;
  }
}

function sameHex(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
