// EIP-712 domains and types of every message Edgepay signs. One definition for worker, web, client and tests.
import type { Address, TypedDataDomain } from "viem";

/** Domain of vouchers, cooperative closes and receipts: binds chain id and the PaymentChannels contract. */
export function channelsDomain(chainId: number, paymentChannels: Address) {
  return { name: "Edgepay PaymentChannels", version: "1", chainId, verifyingContract: paymentChannels } as const satisfies TypedDataDomain;
}

/** Domain of a device key's binding to its owner. */
export function deviceRegistryDomain(chainId: number, deviceRegistry: Address) {
  return { name: "Edgepay DeviceRegistry", version: "1", chainId, verifyingContract: deviceRegistry } as const satisfies TypedDataDomain;
}

/** Buyer -> provider: "the provider may claim up to cumulativeAmount from channelId". */
export const voucherTypes = {
  Voucher: [
    { name: "channelId", type: "bytes32" },
    { name: "cumulativeAmount", type: "uint256" },
  ],
} as const;

/** Device -> buyer: "I will claim no more than cumulativeAmount; close now". */
export const closeTypes = {
  CloseChannel: [
    { name: "channelId", type: "bytes32" },
    { name: "cumulativeAmount", type: "uint256" },
  ],
} as const;

/** Device key -> registry: "this device belongs to owner" (valid until deadline). */
export const deviceBindingTypes = {
  DeviceBinding: [
    { name: "device", type: "address" },
    { name: "owner", type: "address" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

/**
 * Device -> buyer, for every answer: what was paid, which model answered, on what input, with what output.
 * `units` is the units of work this answer was charged for (protocol/units.ts): the voucher's increment over the
 * channel's previous one is units x the channel's price. `sequence` is device-wide and `previous` is the hash of the device's previous receipt (a hash chain).
 */
export const receiptTypes = {
  Receipt: [
    { name: "channelId", type: "bytes32" },
    { name: "cumulativeAmount", type: "uint256" },
    { name: "units", type: "uint64" },
    { name: "sequence", type: "uint64" },
    { name: "modelId", type: "uint256" },
    { name: "modelHash", type: "bytes32" },
    { name: "inputHash", type: "bytes32" },
    { name: "outputHash", type: "bytes32" },
    { name: "previous", type: "bytes32" },
    { name: "timestamp", type: "uint64" },
  ],
} as const;

/** EIP-2612 `Permit`, signed by a token holder for `openWithPermit` / `topUpWithPermit`. */
export const permitTypes = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

/** EIP-3009 (x402 `exact`): holder -> anyone: "move value to `to` once, inside (validAfter, validBefore)". */
export const transferWithAuthorizationTypes = {
  TransferWithAuthorization: [
    { name: "from", type: "address" },
    { name: "to", type: "address" },
    { name: "value", type: "uint256" },
    { name: "validAfter", type: "uint256" },
    { name: "validBefore", type: "uint256" },
    { name: "nonce", type: "bytes32" },
  ],
} as const;

/** EIP-3009: the same transfer, which only `to` may submit. */
export const receiveWithAuthorizationTypes = {
  ReceiveWithAuthorization: transferWithAuthorizationTypes.TransferWithAuthorization,
} as const;

/** EIP-3009: holder cancels an unused nonce. */
export const cancelAuthorizationTypes = {
  CancelAuthorization: [
    { name: "authorizer", type: "address" },
    { name: "nonce", type: "bytes32" },
  ],
} as const;
