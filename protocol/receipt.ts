// Receipts: what a device signs for every paid answer (EIP-712 `Receipt` under the PaymentChannels domain).
import { hashTypedData, recoverTypedDataAddress, type Address, type Hex } from "viem";
import { z } from "zod";
import { channelsDomain, receiptTypes } from "./eip712.ts";

export interface Receipt {
  channelId: Hex;
  cumulativeAmount: bigint;
  /** Units of work charged for this answer: cumulativeAmount - the previous voucher = units x price. */
  units: bigint;
  sequence: bigint;
  modelId: bigint;
  modelHash: Hex;
  inputHash: Hex;
  outputHash: Hex;
  previous: Hex;
  timestamp: bigint;
}

export interface SignedReceipt extends Receipt {
  /** The device key's signature over the EIP-712 digest. */
  signature: Hex;
}

const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "expected 32 bytes of hex").transform((s) => s as Hex);
const uint = z.string().regex(/^[0-9]{1,78}$/, "expected a decimal integer string").transform((s) => BigInt(s));

export const signedReceiptWire = z.object({
  channelId: bytes32,
  cumulativeAmount: uint,
  units: uint,
  sequence: uint,
  modelId: uint,
  modelHash: bytes32,
  inputHash: bytes32,
  outputHash: bytes32,
  previous: bytes32,
  timestamp: uint,
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/, "expected a 65-byte signature").transform((s) => s as Hex),
});
export type SignedReceiptWire = z.input<typeof signedReceiptWire>;

export function receiptToWire(r: SignedReceipt): SignedReceiptWire {
  return {
    channelId: r.channelId,
    cumulativeAmount: r.cumulativeAmount.toString(),
    units: r.units.toString(),
    sequence: r.sequence.toString(),
    modelId: r.modelId.toString(),
    modelHash: r.modelHash,
    inputHash: r.inputHash,
    outputHash: r.outputHash,
    previous: r.previous,
    timestamp: r.timestamp.toString(),
    signature: r.signature,
  };
}

/** The EIP-712 digest the device signs; also the receipt's identity in the hash chain and Merkle tree. */
export function receiptDigest(receipt: Receipt, chainId: number, paymentChannels: Address): Hex {
  return hashTypedData({
    domain: channelsDomain(chainId, paymentChannels),
    types: receiptTypes,
    primaryType: "Receipt",
    message: pickReceipt(receipt),
  });
}

/** The address that signed a receipt (compare with the channel's device). */
export function recoverReceiptSigner(receipt: SignedReceipt, chainId: number, paymentChannels: Address): Promise<Address> {
  return recoverTypedDataAddress({
    domain: channelsDomain(chainId, paymentChannels),
    types: receiptTypes,
    primaryType: "Receipt",
    message: pickReceipt(receipt),
    signature: receipt.signature,
  });
}

/** The signed fields of a receipt only (drops the signature and any extra properties), e.g. as a contract argument. */
export function pickReceipt(r: Receipt): Receipt {
  return {
    channelId: r.channelId,
    cumulativeAmount: r.cumulativeAmount,
    units: r.units,
    sequence: r.sequence,
    modelId: r.modelId,
    modelHash: r.modelHash,
    inputHash: r.inputHash,
    outputHash: r.outputHash,
    previous: r.previous,
    timestamp: r.timestamp,
  };
}
