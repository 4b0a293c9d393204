// Audit exports: JSON lines, one receipt each, with its inclusion proof when the device anchored it. The same
// shape is what the worker's GET /v1/receipts returns per receipt. Browser-compatible.
import type { Address } from "viem";
import { z } from "zod";
import { receiptProofWire, type ReceiptProofWire } from "./audit.ts";
import { signedReceiptWire, type SignedReceipt } from "./receipt.ts";

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "expected a 0x-prefixed 20-byte address").transform((s) => s as Address);

/** A receipt the device has not anchored (yet): no proof. */
export const unprovenReceiptWire = z.object({ device: address, receipt: signedReceiptWire }).strict();

/** One line of an audit export: a receipt with its proof, or without one. */
export const auditLineWire = z.union([receiptProofWire, unprovenReceiptWire]);
export type AuditLineWire = z.input<typeof auditLineWire>;
export type AuditLine = z.output<typeof auditLineWire>;

export function hasProof(line: AuditLine): line is AuditLine & { anchor: NonNullable<z.output<typeof receiptProofWire>["anchor"]>; proof: `0x${string}`[] } {
  return "proof" in line && Array.isArray(line.proof);
}

/** GET /v1/receipts?channel=&from=&to=&after=&limit= */
export const receiptPageWire = z.object({
  device: address,
  chainId: z.number(),
  paymentChannels: address,
  flightRecorder: address.nullable(),
  receipts: z.array(auditLineWire),
  /** Pass as `after` for the next page; null on the last page. */
  next: z.string().regex(/^[0-9]+$/).nullable(),
});
export type ReceiptPageWire = z.input<typeof receiptPageWire>;

export type { ReceiptProofWire, SignedReceipt };
