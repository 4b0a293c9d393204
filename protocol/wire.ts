// The worker's HTTP protocol: schemas of what crosses the wire, and the stable error codes.
import { z } from "zod";
import { tensorMapWire } from "./tensors.ts";
import { signedReceiptWire } from "./receipt.ts";
import { unitRuleWire } from "./units.ts";

/** Stable, snake_case error codes of the worker's JSON errors: `{ "error": { "code", "message" } }`. */
export const ERROR_CODES = [
  "bad_request",
  "invalid_json",
  "body_too_large",
  "unsupported_media_type",
  "not_found",
  "unknown_model",
  "invalid_tensor",
  "payment_required",
  "invalid_voucher",
  "invalid_signature",
  "unknown_channel",
  "wrong_device",
  "wrong_model",
  "channel_closing",
  "channel_settled",
  "voucher_stale",
  "amount_too_low",
  "amount_exceeds_deposit",
  "channel_busy",
  "channel_blocked",
  "method_not_allowed",
  "inference_failed",
  "unknown_receipt",
  "receipt_not_anchored",
  "unavailable",
  "internal_error",
  "not_device_owner",
  "too_many_units",
  "amount_too_high",
  "rate_limited",
  "request_timeout",
  "mac_required",
  "invalid_mac",
  "reserved_name",
  "x402_malformed",
  "x402_version",
  "x402_unsupported_scheme",
  "x402_unsupported_network",
  "exact_wrong_asset",
  "exact_wrong_payee",
  "exact_wrong_amount",
  "exact_not_yet_valid",
  "exact_expired",
  "exact_invalid_signature",
  "exact_authorization_used",
  "exact_insufficient_balance",
  "exact_settlement_failed",
  "exact_in_progress",
  "sealing_required",
  "invalid_sealed_body",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * HTTP status the worker answers each error code with. Every problem with the payment itself is a 402 whose body
 * carries fresh payment requirements (as x402 does), so a client can always recover from the body alone.
 */
export const ERROR_STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  invalid_json: 400,
  body_too_large: 413,
  unsupported_media_type: 415,
  not_found: 404,
  unknown_model: 404,
  invalid_tensor: 400,
  payment_required: 402,
  invalid_voucher: 402,
  invalid_signature: 402,
  unknown_channel: 402,
  wrong_device: 402,
  wrong_model: 402,
  channel_closing: 402,
  channel_settled: 402,
  voucher_stale: 402,
  amount_too_low: 402,
  amount_exceeds_deposit: 402,
  channel_busy: 409,
  channel_blocked: 403,
  method_not_allowed: 405,
  inference_failed: 422,
  unknown_receipt: 404,
  receipt_not_anchored: 404,
  unavailable: 503,
  internal_error: 500,
  not_device_owner: 403,
  too_many_units: 413,
  amount_too_high: 402,
  rate_limited: 429,
  request_timeout: 408,
  mac_required: 402,
  invalid_mac: 402,
  reserved_name: 400,
  // x402 (protocol/x402.ts): a header that cannot be read is a 400 (the spec's "Invalid Payment"); a scheme or
  // network this worker does not take is a 402 with fresh requirements, from which a client can pay correctly.
  x402_malformed: 400,
  x402_version: 400,
  x402_unsupported_scheme: 402,
  x402_unsupported_network: 402,
  // x402 `exact` (worker/http/x402-exact.ts): every refusal of an authorization is a 402 with fresh requirements.
  exact_wrong_asset: 402,
  exact_wrong_payee: 402,
  exact_wrong_amount: 402,
  exact_not_yet_valid: 402,
  exact_expired: 402,
  exact_invalid_signature: 402,
  /** Used on-chain already (replayed, or submitted by someone else before this worker accepted it) or seen here. */
  exact_authorization_used: 402,
  exact_insufficient_balance: 402,
  /** The settlement would revert (simulated) or did after the work: the answer is withheld. */
  exact_settlement_failed: 402,
  /** The same authorization is being served by another request right now. */
  exact_in_progress: 409,
  sealing_required: 400,
  invalid_sealed_body: 400,
};

export const errorBodyWire = z.object({
  error: z.object({ code: z.enum(ERROR_CODES), message: z.string() }),
});
export type ErrorBody = z.infer<typeof errorBodyWire>;

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/);
const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/);
const uint = z.string().regex(/^[0-9]{1,78}$/);

export const tensorSpecWire = z.object({ name: z.string(), type: z.string(), dims: z.array(z.union([z.number(), z.string()])) });

/** GET /v1/offerings */
export const offeringsWire = z.object({
  device: address,
  payee: address,
  chainId: z.number(),
  paymentChannels: address,
  /** Compressed secp256k1 public key of the device key (33 bytes hex): the peer key of session MACs. */
  devicePublicKey: z.string().regex(/^0x0[23][0-9a-fA-F]{64}$/),
  models: z.array(
    z.object({
      modelId: uint,
      name: z.string(),
      modelHash: bytes32,
      token: address,
      /** Price per unit of work (see `unit`) for a new channel; a channel pays the price in its terms. */
      price: uint,
      /** The unit of work this model is billed by: cost of a request = units x price. */
      unit: unitRuleWire,
      royaltyBps: z.number(),
      inputs: z.array(tensorSpecWire),
      outputs: z.array(tensorSpecWire),
    }),
  ),
});
export type OfferingsWire = z.infer<typeof offeringsWire>;

/** POST /v1/infer/:modelId request body. */
export const inferRequestWire = z.object({ inputs: tensorMapWire });
export type InferRequestWire = z.infer<typeof inferRequestWire>;

/** 402 payment requirements (in the spirit of x402's PaymentRequirements). */
export const paymentRequirementsWire = z.object({
  scheme: z.literal("edgepay-channel"),
  chainId: z.number(),
  paymentChannels: address,
  token: address,
  device: address,
  payee: address,
  modelId: uint,
  /** Price per unit of work (the channel's, when the request named one of this device's channels for this model). */
  price: uint,
  /** The unit rule of the model: units of a request are counted from its input shapes by it. */
  unit: unitRuleWire,
  /**
   * Units of work of this request, when the worker read its inputs (absent when it refused the request from its
   * headers alone: no or bad voucher header, unknown channel, stale amount).
   */
  units: z.number().int().positive().optional(),
  /** units x price: what the next voucher must add to `lastAccepted` (given with `units`). */
  cost: uint.optional(),
  royaltyBps: z.number(),
  /** Channel the voucher was for, when the request named one. */
  channelId: bytes32.optional(),
  /** Highest cumulative amount the worker accepted on that channel ("0" for none). */
  lastAccepted: uint,
  /**
   * The exact cumulative amount the next voucher must carry: lastAccepted + cost; without `units`, the least it
   * must carry (lastAccepted + one unit's price).
   */
  required: uint,
  /** Deposit the worker knows for that channel. */
  deposit: uint.optional(),
});
export type PaymentRequirementsWire = z.infer<typeof paymentRequirementsWire>;

export const paymentRequiredBodyWire = errorBodyWire.extend({ payment: paymentRequirementsWire });

/** 200 answer of POST /v1/infer/:modelId. */
export const inferResponseWire = z.object({
  outputs: tensorMapWire,
  receipt: signedReceiptWire,
  /** Price per unit the channel pays. */
  price: uint,
  /** Units of work charged for this answer (also signed in the receipt). */
  units: z.number().int().positive(),
  /** units x price: what this answer cost. */
  cost: uint,
});
export type InferResponseWire = z.input<typeof inferResponseWire>;

/**
 * POST /v1/channels/:channelId/close answer: the device's EIP-712 CloseChannel signature for the highest amount it
 * accepted, for `PaymentChannels.closeCooperatively`. The worker accepts no further voucher on the channel.
 * The request must carry the channel's latest voucher (`x-edgepay-voucher`, amount = last accepted, or a voucher
 * for 0 when none was accepted) so that only the channel's signer can end its service.
 */
export const closeResponseWire = z.object({
  channelId: bytes32,
  cumulativeAmount: uint,
  device: address,
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/),
});
export type CloseResponseWire = z.infer<typeof closeResponseWire>;

/** How far (seconds) a settle request's timestamp may be from the worker's clock, either way. */
export const SETTLE_MAX_SKEW_SECONDS = 300;

/** The exact EIP-191 message the device owner signs to ask its worker to claim now (POST /v1/settle). */
export function settleMessage(device: string, timestamp: number | bigint): string {
  return `Edgepay: settle device ${device.toLowerCase()} at ${timestamp}`;
}

export const settleRequestWire = z.object({
  timestamp: z.number().int().nonnegative(),
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/),
});
export type SettleRequestWire = z.infer<typeof settleRequestWire>;

/** `txHash` is null when no channel had verified unclaimed value. */
export interface SettleResponseWire {
  channels: number;
  txHash: string | null;
}
