// One receipt audit as the page runs it: find the device (the receipt's channel terms when the JSON does not say),
// fetch the inclusion proof from the device's worker when the JSON has none, then protocol/client/audit.ts.
import { isAddressEqual, type Address, type PublicClient } from "viem";
import { receiptProofWire } from "../../protocol/audit.ts";
import type { AuditLine } from "../../protocol/audit-export.ts";
import { auditReceipt, type AuditContext, type ReceiptAudit } from "../../protocol/client/audit.ts";
import { deviceRegistryAbi, paymentChannelsAbi } from "../../protocol/generated/contracts.ts";
import type { SignedReceipt } from "../../protocol/receipt.ts";
import { getContractEventsPaged } from "../../protocol/paged-logs.ts";

export interface AuditRequest {
  receipt: SignedReceipt;
  device?: Address;
  /** A line that already carries its proof (an export line or a saved proof answer). */
  line?: AuditLine;
  /** Where the device answered (the session's record); else its endpoint in the DeviceRegistry. */
  endpoint?: string;
  own?: { inputHash?: `0x${string}`; outputHash?: `0x${string}` };
}

export interface AuditOutcome {
  audit: ReceiptAudit;
  /** Where the proof came from: the pasted JSON, the worker (URL), or why there is none. */
  proofSource: string;
}

export async function runAudit(req: AuditRequest, ctx: AuditContext, deviceRegistry: Address): Promise<AuditOutcome> {
  const device = req.device ?? (await deviceOfChannel(ctx, req.receipt));
  if (req.line && "proof" in req.line) {
    return { audit: await auditReceipt({ ...req.line, receipt: req.receipt, device }, ctx, req.own), proofSource: "the pasted JSON" };
  }
  const endpoint = req.endpoint ?? (await endpointOf(ctx.client, deviceRegistry, device));
  const fetched = await fetchProof(endpoint, req.receipt.sequence, device);
  // The receipt audited is always the one given: a worker answering with another receipt at this sequence fails
  // the inclusion check instead of replacing it.
  const line: AuditLine = fetched.proof ? { ...fetched.proof, receipt: req.receipt } : { device, receipt: req.receipt };
  const audit = await auditReceipt(line, ctx, req.own);
  if (!fetched.proof && fetched.reason) audit.checks.inclusion = { valid: false, reason: fetched.reason };
  return { audit, proofSource: fetched.source };
}

async function deviceOfChannel(ctx: AuditContext, r: SignedReceipt): Promise<Address> {
  const logs = await getContractEventsPaged(ctx.client, { address: ctx.paymentChannels, abi: paymentChannelsAbi, eventName: "ChannelOpened", args: { channelId: r.channelId } }, { fromBlock: ctx.fromBlock ?? 0n });
  const device = logs[0]?.args.device;
  if (!device) throw new Error(`channel ${r.channelId} was never opened on PaymentChannels ${ctx.paymentChannels} (chain ${ctx.chainId}): the receipt is for another chain or contract, or the channel id is wrong`);
  return device;
}

async function endpointOf(client: PublicClient, deviceRegistry: Address, device: Address): Promise<string> {
  const d = await client.readContract({ address: deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [device] });
  return d.endpoint;
}

async function fetchProof(endpoint: string, sequence: bigint, device: Address): Promise<{ proof?: AuditLine & { proof: `0x${string}`[] }; reason?: string; source: string }> {
  if (!endpoint) return { reason: "no_endpoint", source: "nowhere: the device has no endpoint in the registry" };
  const url = `${endpoint.replace(/\/+$/, "")}/v1/receipts/${sequence}/proof`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  } catch (error) {
    return { reason: "worker_unreachable", source: `${url} (no answer: ${error instanceof Error ? error.message : String(error)})` };
  }
  const body: unknown = await res.json().catch(() => undefined);
  if (!res.ok) {
    const code = (body as { error?: { code?: string } } | undefined)?.error?.code;
    // The worker knows the receipt but has not posted its range yet: provable later, not contradicted.
    if (code === "receipt_not_anchored") return { reason: "not_anchored", source: `${url} (not anchored yet)` };
    if (code === "unknown_receipt") return { reason: "unknown_receipt", source: `${url} (the device does not know this sequence)` };
    return { reason: "no_proof", source: `${url} (HTTP ${res.status}${code ? ` ${code}` : ""})` };
  }
  const parsed = receiptProofWire.safeParse(body);
  if (!parsed.success) return { reason: "malformed_proof", source: `${url} (answer is not a receipt proof: ${parsed.error.issues[0]?.message})` };
  if (!isAddressEqual(parsed.data.device, device)) return { reason: "proof_from_other_device", source: `${url} (proof names device ${parsed.data.device})` };
  return { proof: parsed.data, source: url };
}
