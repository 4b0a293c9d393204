// Channel terms: the immutable part of a channel. Its id is keccak256(abi.encode(terms)), exactly as on-chain.
import { encodeAbiParameters, keccak256, type Address, type Hex } from "viem";
import { z } from "zod";

export interface ChannelTerms {
  payer: Address;
  signer: Address;
  device: Address;
  payee: Address;
  token: Address;
  modelId: bigint;
  price: bigint;
  royaltyBps: number;
  salt: bigint;
}

export const channelTermsAbi = {
  type: "tuple",
  components: [
    { name: "payer", type: "address" },
    { name: "signer", type: "address" },
    { name: "device", type: "address" },
    { name: "payee", type: "address" },
    { name: "token", type: "address" },
    { name: "modelId", type: "uint256" },
    { name: "price", type: "uint96" },
    { name: "royaltyBps", type: "uint16" },
    { name: "salt", type: "uint256" },
  ],
} as const;

/** The channel id the contract derives from these terms. */
export function channelIdOf(terms: ChannelTerms): Hex {
  return keccak256(encodeAbiParameters([channelTermsAbi], [terms]));
}

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "expected a 0x-prefixed 20-byte address").transform((s) => s as Address);
const uint = z.string().regex(/^[0-9]{1,78}$/, "expected a decimal integer string").transform((s) => BigInt(s));

/** Terms on the wire: addresses as hex, integers as decimal strings. */
export const channelTermsWire = z.object({
  payer: address,
  signer: address,
  device: address,
  payee: address,
  token: address,
  modelId: uint,
  price: uint,
  royaltyBps: z.number().int().min(0).max(10_000),
  salt: uint,
});

export type ChannelTermsWire = z.input<typeof channelTermsWire>;

export function termsToWire(terms: ChannelTerms): ChannelTermsWire {
  return {
    ...terms,
    modelId: terms.modelId.toString(),
    price: terms.price.toString(),
    salt: terms.salt.toString(),
  };
}
