// The buyer's check of a device's answer: the receipt must be signed by the device and name exactly the payment,
// the model (its on-chain content hash), the input the buyer sent and the output it got.
import { isAddressEqual, type Address, type Hex } from "viem";
import { recoverReceiptSigner, type SignedReceipt } from "../receipt.ts";

export const RECEIPT_REJECT_REASONS = [
  "malformed_signature",
  "wrong_signer",
  "wrong_channel",
  "wrong_amount",
  "wrong_units",
  "wrong_model",
  "wrong_model_hash",
  "wrong_input_hash",
  "wrong_output_hash",
  "sequence_not_increasing",
] as const;
export type ReceiptRejectReason = (typeof RECEIPT_REJECT_REASONS)[number];

export type Verification<R extends string = ReceiptRejectReason> = { valid: true } | { valid: false; reason: R };

export interface ExpectedReceipt {
  /** Device key that must have signed (the channel's `device`). */
  device: Address;
  channelId: Hex;
  /** Cumulative amount of the voucher that paid for this answer. */
  cumulativeAmount: bigint;
  /** Units of work the buyer paid for (from the model's unit rule and the input shapes). */
  units?: bigint;
  modelId: bigint;
  /** The model's contentHash in the ModelRegistry. */
  modelHash: Hex;
  /** hashTensors of the inputs sent. */
  inputHash: Hex;
  /** hashTensors of the outputs received. */
  outputHash: Hex;
  /** Sequence of the last receipt seen from this device, if any: sequences only grow. */
  lastSequence?: bigint;
}

/** Checks a receipt against what the buyer paid, sent and received. Fields are checked before the signature. */
export async function verifyReceipt(
  receipt: SignedReceipt,
  expected: ExpectedReceipt,
  domain: { chainId: number; paymentChannels: Address },
): Promise<Verification> {
  if (!sameHex(receipt.channelId, expected.channelId)) return reject("wrong_channel");
  if (receipt.cumulativeAmount !== expected.cumulativeAmount) return reject("wrong_amount");
  if (expected.units !== undefined && receipt.units !== expected.units) return reject("wrong_units");
  if (receipt.modelId !== expected.modelId) return reject("wrong_model");
  if (!sameHex(receipt.modelHash, expected.modelHash)) return reject("wrong_model_hash");
  if (!sameHex(receipt.inputHash, expected.inputHash)) return reject("wrong_input_hash");
  if (!sameHex(receipt.outputHash, expected.outputHash)) return reject("wrong_output_hash");
  if (expected.lastSequence !== undefined && receipt.sequence <= expected.lastSequence) return reject("sequence_not_increasing");
  let signer: Address;
  try {
    signer = await recoverReceiptSigner(receipt, domain.chainId, domain.paymentChannels);
  } catch {
    return reject("malformed_signature");
  }
  if (!isAddressEqual(signer, expected.device)) return reject("wrong_signer");
  return { valid: true };
}

function reject(reason: ReceiptRejectReason): Verification {
  return { valid: false, reason };
}

function sameHex(a: Hex, b: Hex): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
