// HTTP routes of the flight recorder. Receipts hold hashes only, so they are public:
//   GET /v1/receipts/:seq/proof  -> ReceiptProofWire (404 unknown_receipt / receipt_not_anchored)
//   GET /v1/receipts?channel=0x..&from=<ISO|unix>&to=<ISO|unix>&after=<seq>&limit=<n> -> ReceiptPageWire
import type { ServerResponse } from "node:http";
import type { Address, Hex } from "viem";
import type { AuditLineWire, ReceiptPageWire } from "@edgepay/protocol/audit-export";
import { receiptProofToWire } from "@edgepay/protocol/audit";
import { receiptToWire } from "@edgepay/protocol/receipt";
import { HttpError, sendJson } from "../http/io.ts";
import type { RecorderLog } from "./log.ts";
import type { ProofCache } from "./proofs.ts";
import { signedReceiptOf } from "../store/db.ts";

export interface RecorderRoutesContext {
  device: Address;
  chainId: number;
  paymentChannels: Address;
  flightRecorder: Address | undefined;
  log: RecorderLog;
  proofs: ProofCache;
}

const PROOF_RE = /^\/v1\/receipts\/([^/]+)\/proof$/;
const MAX_PAGE = 1000;

/** Handles the route if it is one of the recorder's; returns false otherwise. */
export function handleRecorderRoute(ctx: RecorderRoutesContext, method: string, pathname: string, query: URLSearchParams, res: ServerResponse): boolean {
  let m: RegExpExecArray | null;
  if ((m = PROOF_RE.exec(pathname))) {
    if (method !== "GET") throw new HttpError("method_not_allowed", `use GET here, not ${method}`);
    const raw = decodeURIComponent(m[1]!);
    if (!/^[1-9][0-9]{0,19}$/.test(raw) || BigInt(raw) >= 2n ** 63n) {
      throw new HttpError("bad_request", `receipt sequence must be a positive decimal integer below 2^63, got "${raw.slice(0, 40)}"`);
    }
    const result = ctx.proofs.proof(BigInt(raw));
    if (!result.ok) throw new HttpError(result.code, result.message);
    sendJson(res, 200, receiptProofToWire(result.value));
    return true;
  }
  if (pathname === "/v1/receipts") {
    if (method !== "GET") throw new HttpError("method_not_allowed", `use GET here, not ${method}`);
    sendJson(res, 200, page(ctx, query));
    return true;
  }
  return false;
}

function page(ctx: RecorderRoutesContext, q: URLSearchParams): ReceiptPageWire {
  const channel = q.get("channel");
  if (channel !== null && !/^0x[0-9a-fA-F]{64}$/.test(channel)) throw new HttpError("bad_request", `channel must be 0x followed by 64 hex digits, got "${channel.slice(0, 80)}"`);
  const fromTime = time(q, "from");
  const toTime = time(q, "to");
  if (fromTime !== undefined && toTime !== undefined && fromTime > toTime) throw new HttpError("bad_request", "from is after to");
  const after = q.get("after");
  if (after !== null && !/^[0-9]{1,19}$/.test(after)) throw new HttpError("bad_request", `after must be a receipt sequence number, got "${after.slice(0, 40)}"`);
  const limitRaw = q.get("limit");
  if (limitRaw !== null && !/^[1-9][0-9]{0,5}$/.test(limitRaw)) throw new HttpError("bad_request", `limit must be 1..${MAX_PAGE}`);
  const limit = Math.min(MAX_PAGE, Number(limitRaw ?? MAX_PAGE));
  const rows = ctx.log.query({ channelId: (channel ?? undefined) as Hex | undefined, fromTime, toTime, afterSeq: after === null ? 0n : BigInt(after), limit });
  const receipts: AuditLineWire[] = rows.map((row) => {
    const proof = ctx.proofs.proof(row.sequence);
    return proof.ok ? receiptProofToWire(proof.value) : { device: ctx.device, receipt: receiptToWire(signedReceiptOf(row)) };
  });
  return {
    device: ctx.device,
    chainId: ctx.chainId,
    paymentChannels: ctx.paymentChannels,
    flightRecorder: ctx.flightRecorder ?? null,
    receipts,
    next: rows.length === limit ? rows[rows.length - 1]!.sequence.toString() : null,
  };
}

/** An ISO 8601 date or unix seconds, as unix seconds. */
function time(q: URLSearchParams, name: string): bigint | undefined {
  const v = q.get(name);
  if (v === null || v === "") return undefined;
  if (/^[0-9]{1,12}$/.test(v)) return BigInt(v);
  const ms = Date.parse(v);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(ms)) throw new HttpError("bad_request", `${name} must be an ISO 8601 date or unix seconds, got "${v.slice(0, 40)}"`);
  return BigInt(Math.floor(ms / 1000));
}
