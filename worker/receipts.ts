// EIP-712 digests on the hot path with the domain separator and type hash computed once: receipts (protocol/receipt.ts
// `receiptDigest` is the reference) and vouchers (protocol/voucher.ts `voucherDigest`); a test holds them equal.
// The receipt chain itself (sequence, previous digest, signature) is kept by the writer thread (store/writer-thread.ts).
import { toBytes, type Address, type Hex } from "viem";
import { channelsDomainSeparator } from "@edgepay/protocol/voucher";
import type { Receipt } from "@edgepay/protocol/receipt";
import { keccak256 as keccak_256 } from "./hashing.ts";

const RECEIPT_TYPE =
  "Receipt(bytes32 channelId,uint256 cumulativeAmount,uint64 units,uint64 sequence,uint256 modelId,bytes32 modelHash,bytes32 inputHash," +
  "bytes32 outputHash,bytes32 previous,uint64 timestamp)";

export const ZERO_HASH = `0x${"00".repeat(32)}` as Hex;

/** EIP-712 digest of a voucher, equal to protocol/voucher.ts `voucherDigest`, with the worker's faster keccak. */
export function createVoucherHasher(chainId: number, paymentChannels: Address): (channelId: Hex, cumulativeAmount: bigint) => Uint8Array {
  const typeHash = keccak_256(toBytes("Voucher(bytes32 channelId,uint256 cumulativeAmount)"));
  const struct = Buffer.alloc(96);
  struct.set(typeHash, 0);
  const outer = outerOf(chainId, paymentChannels);
  return (channelId, cumulativeAmount) => {
    putBytes32(struct, 32, channelId);
    putUint256(struct, 64, cumulativeAmount);
    outer.set(keccak_256(struct), 34);
    return keccak_256(outer);
  };
}

/** Returns a function computing the EIP-712 digest of a receipt, equal to protocol/receipt.ts `receiptDigest`. */
export function createReceiptHasher(chainId: number, paymentChannels: Address): (r: Receipt) => Uint8Array {
  const typeHash = keccak_256(toBytes(RECEIPT_TYPE));
  const struct = Buffer.alloc(32 * 11);
  const outer = outerOf(chainId, paymentChannels);
  struct.set(typeHash, 0);
  return (r) => {
    putBytes32(struct, 32, r.channelId);
    putUint256(struct, 64, r.cumulativeAmount);
    putUint256(struct, 96, r.units);
    putUint256(struct, 128, r.sequence);
    putUint256(struct, 160, r.modelId);
    putBytes32(struct, 192, r.modelHash);
    putBytes32(struct, 224, r.inputHash);
    putBytes32(struct, 256, r.outputHash);
    putBytes32(struct, 288, r.previous);
    putUint256(struct, 320, r.timestamp);
    outer.set(keccak_256(struct), 34);
    return keccak_256(outer);
  };
}

/** 0x1901 | domain separator | (struct hash, filled per call). */
function outerOf(chainId: number, paymentChannels: Address): Uint8Array {
  const outer = new Uint8Array(66);
  outer.set([0x19, 0x01], 0);
  outer.set(channelsDomainSeparator(chainId, paymentChannels), 2);
  return outer;
}

const MASK64 = (1n << 64n) - 1n;

/**
 * `value` as a 32-byte big-endian word at `offset` (modulo 2^256, as the byte loop it replaces did): four 64-bit
 * limbs instead of 32 bigint shifts, which allocated on every byte of every word of every receipt.
 */
export function putUint256(buf: Buffer, offset: number, value: bigint) {
  if (value >= 0n && value <= MASK64) {
    buf.fill(0, offset, offset + 24);
    buf.writeBigUInt64BE(value, offset + 24);
    return;
  }
  const v = BigInt.asUintN(256, value);
  buf.writeBigUInt64BE(v >> 192n, offset);
  buf.writeBigUInt64BE((v >> 128n) & MASK64, offset + 8);
  buf.writeBigUInt64BE((v >> 64n) & MASK64, offset + 16);
  buf.writeBigUInt64BE(v & MASK64, offset + 24);
}

/** A 0x + 64 hex digit value as 32 bytes at `offset`; anything else throws (it would hash stale bytes). */
export function putBytes32(buf: Buffer, offset: number, hex: Hex) {
  if (hex.length !== 66 || hex[0] !== "0" || hex[1] !== "x" || buf.write(hex.slice(2), offset, 32, "hex") !== 32) throw new Error(`expected 0x + 64 hex digits, got ${hex.slice(0, 80)}`);
}
