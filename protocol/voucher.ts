// Vouchers: the buyer's signed promise "the provider may claim up to cumulativeAmount from this channel".
import { encodeAbiParameters, hashTypedData, hexToBytes, keccak256, toBytes, type Address, type Hex, type LocalAccount } from "viem";
import { keccak_256 } from "@noble/hashes/sha3";
import { channelsDomain, voucherTypes } from "./eip712.ts";

export interface Voucher {
  channelId: Hex;
  cumulativeAmount: bigint;
  signature: Hex;
}

/** HTTP header carrying a voucher: `<channelId>:<cumulativeAmount decimal>:<signature>`. */
export const VOUCHER_HEADER = "x-edgepay-voucher";

export function encodeVoucherHeader(v: Voucher): string {
  return `${v.channelId}:${v.cumulativeAmount.toString()}:${v.signature}`;
}

const HEADER_RE = /^(0x[0-9a-fA-F]{64}):([0-9]{1,78}):(0x[0-9a-fA-F]{130})$/;

/** Parses the voucher header; returns undefined when it is malformed. */
export function decodeVoucherHeader(header: string): Voucher | undefined {
  const m = HEADER_RE.exec(header.trim());
  if (!m) return undefined;
  return { channelId: m[1]!.toLowerCase() as Hex, cumulativeAmount: BigInt(m[2]!), signature: m[3] as Hex };
}

/** Signs a voucher with the channel's signer (a session key or the payer's own local account). */
export async function signVoucher(
  signer: LocalAccount,
  args: { chainId: number; paymentChannels: Address; channelId: Hex; cumulativeAmount: bigint },
): Promise<Voucher> {
  const signature = await signer.signTypedData({
    domain: channelsDomain(args.chainId, args.paymentChannels),
    types: voucherTypes,
    primaryType: "Voucher",
    message: { channelId: args.channelId, cumulativeAmount: args.cumulativeAmount },
  });
  return { channelId: args.channelId, cumulativeAmount: args.cumulativeAmount, signature };
}

/** EIP-712 digest of a voucher (reference implementation through viem). */
export function voucherDigest(chainId: number, paymentChannels: Address, channelId: Hex, cumulativeAmount: bigint): Hex {
  return hashTypedData({
    domain: channelsDomain(chainId, paymentChannels),
    types: voucherTypes,
    primaryType: "Voucher",
    message: { channelId, cumulativeAmount },
  });
}

/** EIP-712 domain separator of the PaymentChannels domain (vouchers, closes and receipts share it). */
export function channelsDomainSeparator(chainId: number, paymentChannels: Address): Uint8Array {
  return toBytes(
    keccak256(
      encodeAbiParameters(
        [{ type: "bytes32" }, { type: "bytes32" }, { type: "bytes32" }, { type: "uint256" }, { type: "address" }],
        [
          keccak256(toBytes("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")),
          keccak256(toBytes("Edgepay PaymentChannels")),
          keccak256(toBytes("1")),
          BigInt(chainId),
          paymentChannels,
        ],
      ),
    ),
  );
}

/**
 * A fast voucher hasher for hot paths: the domain separator and type hash are computed once, and each voucher
 * costs two keccak calls over fixed-size buffers (no hex round trips). `keccak` may be swapped for a faster
 * implementation (the worker passes js-sha3); the bytes are the same.
 */
export function createVoucherHasher(
  chainId: number,
  paymentChannels: Address,
  keccak: (data: Uint8Array) => Uint8Array = keccak_256,
): (channelId: Hex, cumulativeAmount: bigint) => Uint8Array {
  const typeHash = keccak(toBytes("Voucher(bytes32 channelId,uint256 cumulativeAmount)"));
  const struct = new Uint8Array(96);
  struct.set(typeHash, 0);
  const outer = new Uint8Array(66);
  outer.set([0x19, 0x01], 0);
  outer.set(channelsDomainSeparator(chainId, paymentChannels), 2);
  return (channelId, cumulativeAmount) => {
    struct.set(hexToBytes(channelId), 32);
    let v = cumulativeAmount;
    for (let i = 95; i >= 64; i--) {
      struct[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    outer.set(keccak(struct), 34);
    return keccak(outer);
  };
}

