// EIP-712 digests on the hot path with the domain separator and type hash computed once: receipts (protocol/receipt.ts
// `receiptDigest` is the reference) and vouchers (protocol/voucher.ts `voucherDigest`); a test holds them equal.
// The receipt chain itself (sequence, previous digest, signature) is kept by the writer thread (store/writer-thread.ts).
import { toBytes, type Address, type Hex } from "viem";
import { channelsDomainSeparator, createVoucherHasher as createProtocolVoucherHasher } from "@edgepay/protocol/voucher";
import type { Receipt } from "@edgepay/protocol/receipt";
import { keccak256 as keccak_256 } from "./hashing.ts";

const RECEIPT_TYPE =
  "Receipt(bytes32 channelId,uint256 cumulativeAmount,uint64 units,uint64 sequence,uint256 modelId,bytes32 modelHash,bytes32 inputHash," +
  "bytes32 outputHash,bytes32 previous,uint64 timestamp)";

export const ZERO_HASH = `0x${"00".repeat(32)}` as Hex;

/** EIP-712 digest of a voucher, equal to protocol/voucher.ts `voucherDigest`, with the worker's faster keccak. */
export function createVoucherHasher(chainId: number, paymentChannels: Address): (channelId: Hex, cumulativeAmount: bigint) => Uint8Array {
  return createProtocolVoucherHasher(chainId, paymentChannels, keccak_256);
}

/** Returns a function computing the EIP-712 digest of a receipt, equal to protocol/receipt.ts `receiptDigest`. */
export function createReceiptHasher(chainId: number, paymentChannels: Address): (r: Receipt) => Uint8Array {
  const typeHash = keccak_256(toBytes(RECEIPT_TYPE));
  const struct = new Uint8Array(32 * 11);
  const outer = new Uint8Array(66);
  outer.set([0x19, 0x01], 0);
  outer.set(channelsDomainSeparator(chainId, paymentChannels), 2);
  struct.set(typeHash, 0);
  const word = (i: number, value: Hex | bigint) => {
    const offset = 32 * (i + 1);
    if (typeof value === "bigint") {
      let v = value;
      for (let j = offset + 31; j >= offset; j--) {
        struct[j] = Number(v & 0xffn);
        v >>= 8n;
      }
    } else {
      struct.set(Buffer.from(value.slice(2), "hex"), offset);
    }
  };
  return (r) => {
    word(0, r.channelId);
    word(1, r.cumulativeAmount);
    word(2, r.units);
    word(3, r.sequence);
    word(4, r.modelId);
    word(5, r.modelHash);
    word(6, r.inputHash);
    word(7, r.outputHash);
    word(8, r.previous);
    word(9, r.timestamp);
    outer.set(keccak_256(struct), 34);
    return keccak_256(outer);
  };
}
