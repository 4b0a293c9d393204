// x402 v2 over HTTP (x402-foundation/x402 specs/transports-v2/http.md) for Edgepay channels: the shapes of the
// base64 JSON headers PAYMENT-REQUIRED, PAYMENT-SIGNATURE and PAYMENT-RESPONSE, and our scheme `edgepay-channel`.
// The scheme's payload carries exactly what the native headers carry (voucher, session MAC, body sha256), so a
// worker maps it onto its one verification path. The native `x-edgepay-voucher` protocol stays primary.
import { z } from "zod";
import { signedReceiptWire } from "./receipt.ts";
import { paymentRequirementsWire } from "./wire.ts";

export const X402_VERSION = 2;
export const X402_SCHEME = "edgepay-channel";
/** x402's standard one-shot scheme (specs/schemes/exact/scheme_exact_evm.md, EIP-3009 transfer method). */
export const X402_EXACT_SCHEME = "exact";
export const PAYMENT_REQUIRED_HEADER = "payment-required";
export const PAYMENT_SIGNATURE_HEADER = "payment-signature";
export const PAYMENT_RESPONSE_HEADER = "payment-response";
/**
 * Longest PAYMENT-SIGNATURE the worker decodes. Ours is ~1.3 KB (voucher, MAC, body hash and the echoed
 * requirements); 8 KiB leaves room for clients that echo more, and bounds what a stranger makes the device parse.
 */
export const X402_MAX_HEADER_CHARS = 8192;

/** CAIP-2 id of an EVM chain. */
export const caip2 = (chainId: number) => `eip155:${chainId}`;

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/);
const uint = z.string().regex(/^[0-9]{1,78}$/);

/** `extra` of an `edgepay-channel` requirement: the worker's 402 terms plus the device key for session MACs. */
export const edgepayExtraWire = paymentRequirementsWire.omit({ scheme: true }).extend({
  devicePublicKey: z.string().regex(/^0x0[23][0-9a-fA-F]{64}$/),
});
export type EdgepayExtraWire = z.infer<typeof edgepayExtraWire>;

/** x402 PaymentRequirements (types/payments.ts in @x402/core), generic in `extra`. */
export const x402RequirementsWire = z.object({
  scheme: z.string().min(1).max(64),
  network: z.string().min(1).max(64),
  amount: uint,
  asset: z.string().max(128),
  payTo: z.string().max(128),
  maxTimeoutSeconds: z.number().int().nonnegative(),
  extra: z.record(z.string(), z.unknown()),
});
export type X402RequirementsWire = z.infer<typeof x402RequirementsWire>;

export const resourceInfoWire = z.object({ url: z.string(), description: z.string().optional(), mimeType: z.string().optional() });

export const x402PaymentRequiredWire = z.object({
  x402Version: z.literal(X402_VERSION),
  error: z.string().optional(),
  resource: resourceInfoWire,
  accepts: z.array(x402RequirementsWire),
  extensions: z.record(z.string(), z.unknown()).optional(),
});
export type X402PaymentRequiredWire = z.infer<typeof x402PaymentRequiredWire>;

/** The `payload` of an `edgepay-channel` PaymentPayload: the native headers' values, one field each. */
export const edgepayPayloadWire = z.object({
  /** `<channelId>:<cumulative amount>:<signature>`, as in `x-edgepay-voucher`. */
  voucher: z.string().max(300),
  /** HMAC-SHA256 hex of the request under the session key, as in `x-edgepay-mac`. */
  mac: z.string().max(128),
  /** sha256 of the body bytes, as in `x-edgepay-body-sha256`. */
  bodySha256: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
});
export type EdgepayPayloadWire = z.infer<typeof edgepayPayloadWire>;

/** `extra` of an `exact` requirement: the token's EIP-712 domain, which @x402/evm's client signs against. */
export const exactExtraWire = z.object({
  name: z.string().min(1).max(64),
  version: z.string().min(1).max(16),
  assetTransferMethod: z.literal("eip3009").optional(),
});
export type ExactExtraWire = z.infer<typeof exactExtraWire>;

const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/);

/** The `payload` of an `exact` PaymentPayload (EIP-3009): the authorization's fields, decimal strings, and its signature. */
export const exactPayloadWire = z.object({
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/),
  authorization: z.object({
    from: address,
    to: address,
    value: uint,
    validAfter: uint,
    validBefore: uint,
    nonce: bytes32,
  }),
});
export type ExactPayloadWire = z.infer<typeof exactPayloadWire>;

/** The envelope is checked first (version, then scheme and network), the scheme's payload after. */
export const x402PaymentPayloadWire = z.object({
  x402Version: z.number().int(),
  resource: resourceInfoWire.optional(),
  accepted: x402RequirementsWire,
  payload: z.record(z.string(), z.unknown()),
  extensions: z.record(z.string(), z.unknown()).optional(),
});
export type X402PaymentPayloadWire = z.infer<typeof x402PaymentPayloadWire>;

/** SettlementResponse, with the device-signed receipt of the answer (`transaction` is empty: nothing went on-chain). */
export const x402SettleResponseWire = z.object({
  success: z.boolean(),
  errorReason: z.string().optional(),
  transaction: z.string(),
  network: z.string(),
  payer: address.optional(),
  amount: uint.optional(),
  receipt: signedReceiptWire.optional(),
});
export type X402SettleResponseWire = z.input<typeof x402SettleResponseWire>;

/** Base64 (standard alphabet, padded) of the UTF-8 JSON of `value`, as the spec encodes all three headers. */
export function encodeX402Header(value: unknown): string {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** The JSON inside a base64 header, or why it is not one. */
export function decodeX402Header(raw: string): { ok: true; value: unknown } | { ok: false; why: "not_base64" | "not_json" } {
  const text = raw.trim();
  if (text.length === 0 || text.length % 4 !== 0 || !BASE64_RE.test(text)) return { ok: false, why: "not_base64" };
  try {
    const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    return { ok: true, value: JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) as unknown };
  } catch {
    return { ok: false, why: "not_json" };
  }
}
