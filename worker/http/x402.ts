// x402 v2 transport of the paid route, beside the native headers (which stay primary). A PAYMENT-SIGNATURE is
// decoded and its `edgepay-channel` payload written into the native headers before the route runs, so exactly the
// same checks apply (voucher, channel, MAC, body hash, amount); a 402 also carries PAYMENT-REQUIRED; a paid answer
// carries PAYMENT-RESPONSE with the device-signed receipt.
import type { IncomingMessage, ServerResponse } from "node:http";
import { BODY_HASH_HEADER, MAC_HEADER } from "@edgepay/protocol/session";
import { VOUCHER_HEADER } from "@edgepay/protocol/voucher";
import type { ErrorCode, PaymentRequirementsWire } from "@edgepay/protocol/wire";
import type { SignedReceiptWire } from "@edgepay/protocol/receipt";
import { exactRequirement, type ExactAccept } from "./x402-exact.ts";
import {
  caip2,
  decodeX402Header,
  edgepayPayloadWire,
  encodeX402Header,
  PAYMENT_REQUIRED_HEADER,
  PAYMENT_RESPONSE_HEADER,
  PAYMENT_SIGNATURE_HEADER,
  X402_EXACT_SCHEME,
  X402_MAX_HEADER_CHARS,
  X402_SCHEME,
  X402_VERSION,
  x402PaymentPayloadWire,
  type X402PaymentPayloadWire,
  type X402PaymentRequiredWire,
  type X402SettleResponseWire,
} from "@edgepay/protocol/x402";

/** Headers a browser may read from a worker answer (CORS). */
export const X402_EXPOSED = `${PAYMENT_REQUIRED_HEADER}, ${PAYMENT_RESPONSE_HEADER}`;

/** Requests that paid through PAYMENT-SIGNATURE (their answers carry PAYMENT-RESPONSE). */
const viaX402 = new WeakSet<IncomingMessage>();

export interface X402Refusal {
  code: ErrorCode;
  message: string;
}

/** An `exact` PaymentPayload, handed to worker/http/x402-exact.ts (its payload is parsed there). */
export interface X402Exact {
  exact: X402PaymentPayloadWire;
}

/**
 * Maps PAYMENT-SIGNATURE onto the native payment headers. Returns a refusal for a header that is oversized, not
 * base64, not JSON, of another x402 version, scheme or network, or with a payload that is not ours; nothing is
 * read from the body and nothing is stored before that. An `exact` payment (when `exact` is offered) is returned
 * as it is, for its own path.
 */
export function adoptPaymentSignature(req: IncomingMessage, chainId: number): X402Refusal | undefined;
export function adoptPaymentSignature(req: IncomingMessage, chainId: number, exact: boolean): X402Refusal | X402Exact | undefined;
export function adoptPaymentSignature(req: IncomingMessage, chainId: number, exact = false): X402Refusal | X402Exact | undefined {
  const raw = req.headers[PAYMENT_SIGNATURE_HEADER];
  if (raw === undefined) return undefined;
  const bad = (message: string): X402Refusal => ({ code: "x402_malformed", message });
  if (Array.isArray(raw)) return bad(`send one ${PAYMENT_SIGNATURE_HEADER} header`);
  if (raw.length > X402_MAX_HEADER_CHARS) return bad(`${PAYMENT_SIGNATURE_HEADER} is ${raw.length} characters, the limit is ${X402_MAX_HEADER_CHARS}`);
  if (req.headers[VOUCHER_HEADER] !== undefined || req.headers[MAC_HEADER] !== undefined || req.headers[BODY_HASH_HEADER] !== undefined) {
    return bad(`pay with ${PAYMENT_SIGNATURE_HEADER} or with ${VOUCHER_HEADER}, not both`);
  }
  const decoded = decodeX402Header(raw);
  if (!decoded.ok) return bad(decoded.why === "not_base64" ? `${PAYMENT_SIGNATURE_HEADER} is not padded base64` : `${PAYMENT_SIGNATURE_HEADER} is base64 but not UTF-8 JSON`);
  const envelope = x402PaymentPayloadWire.safeParse(decoded.value);
  if (!envelope.success) return bad(`${PAYMENT_SIGNATURE_HEADER} is not an x402 PaymentPayload: ${envelope.error.issues[0]?.path.join(".")}: ${envelope.error.issues[0]?.message}`);
  const p = envelope.data;
  if (p.x402Version !== X402_VERSION) return { code: "x402_version", message: `x402Version ${p.x402Version} is not supported; this worker speaks x402Version ${X402_VERSION}` };
  const schemes = exact ? `"${X402_SCHEME}" or "${X402_EXACT_SCHEME}"` : `"${X402_SCHEME}"`;
  if (p.accepted.scheme !== X402_SCHEME && !(exact && p.accepted.scheme === X402_EXACT_SCHEME)) {
    return { code: "x402_unsupported_scheme", message: `scheme "${p.accepted.scheme.slice(0, 64)}" is not accepted here; use ${schemes}` };
  }
  if (p.accepted.network !== caip2(chainId)) return { code: "x402_unsupported_network", message: `network "${p.accepted.network.slice(0, 64)}" is not this worker's ${caip2(chainId)}` };
  if (p.accepted.scheme === X402_EXACT_SCHEME) return { exact: p };
  const payload = edgepayPayloadWire.safeParse(p.payload);
  if (!payload.success) return bad(`the ${X402_SCHEME} payload needs voucher, mac and bodySha256: ${payload.error.issues[0]?.path.join(".")}: ${payload.error.issues[0]?.message}`);
  // From here the native path decides: a bad voucher, MAC or hash gets the same code as in the native headers.
  req.headers[VOUCHER_HEADER] = payload.data.voucher;
  req.headers[MAC_HEADER] = payload.data.mac;
  req.headers[BODY_HASH_HEADER] = payload.data.bodySha256;
  viaX402.add(req);
  return undefined;
}

/** The `accepts` of a 402 (and of a discovery item), built from the native requirements. */
export function acceptsOf(devicePublicKey: string, payment: PaymentRequirementsWire, exact?: ExactAccept): X402PaymentRequiredWire["accepts"] {
  const { scheme: _scheme, ...terms } = payment;
  // The amount of this request when the worker metered it; otherwise the least a voucher adds (one unit).
  const amount = payment.cost ?? (BigInt(payment.required) - BigInt(payment.lastAccepted)).toString();
  return [
    {
      scheme: X402_SCHEME,
      network: caip2(payment.chainId),
      amount,
      asset: payment.token,
      payTo: payment.payee,
      maxTimeoutSeconds: 60,
      extra: { ...terms, devicePublicKey },
    },
    // One-shot alternative for buyers without a channel, at the same amount (x402-exact.ts).
    ...(exact && exact.offer.token.toLowerCase() === payment.token.toLowerCase() ? [exactRequirement(payment.chainId, exact.offer, amount, exact.maxTimeoutSeconds)] : []),
  ];
}

/**
 * Adds PAYMENT-REQUIRED to a 402 of the paid route, built from the same requirements as its JSON body;
 * `extensions` (the bazaar discovery description, worker/http/discovery.ts) are carried as given.
 */
export function setPaymentRequired(
  req: IncomingMessage,
  res: ServerResponse,
  devicePublicKey: string,
  payment: PaymentRequirementsWire,
  error: string,
  options: { exact?: ExactAccept; extensions?: Record<string, unknown> } = {},
) {
  const required: X402PaymentRequiredWire = {
    x402Version: X402_VERSION,
    error,
    resource: { url: resourceUrl(req), description: `inference on model ${payment.modelId}, paid from an Edgepay channel`, mimeType: "application/json" },
    accepts: acceptsOf(devicePublicKey, payment, options.exact),
    ...(options.extensions ? { extensions: options.extensions } : {}),
  };
  res.setHeader(PAYMENT_REQUIRED_HEADER, encodeX402Header(required));
  res.setHeader("access-control-expose-headers", X402_EXPOSED);
}

/** Adds PAYMENT-RESPONSE (with the receipt) to a paid answer, when the request paid through x402. */
export function setPaymentResponse(req: IncomingMessage, res: ServerResponse, chainId: number, receipt: SignedReceiptWire) {
  if (!viaX402.has(req)) return;
  const settled: X402SettleResponseWire = { success: true, transaction: "", network: caip2(chainId), amount: receipt.cumulativeAmount, receipt };
  res.setHeader(PAYMENT_RESPONSE_HEADER, encodeX402Header(settled));
  res.setHeader("access-control-expose-headers", X402_EXPOSED);
}

function resourceUrl(req: IncomingMessage): string {
  const host = (req.headers.host ?? "localhost").slice(0, 255);
  return `http://${host}${(req.url ?? "/").slice(0, 2048)}`;
}
