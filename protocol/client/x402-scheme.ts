// The `edgepay-channel` x402 scheme for @x402/core's x402Client: an unmodified `wrapFetchWithPayment` pays an
// Edgepay worker with channel vouchers. x402 hands a scheme only the payment requirements, but a voucher's MAC
// covers the request body and the amount depends on the inputs (units x price), so `wrap` gives the scheme the
// request it is paying for and checks the receipt of the answer. The Buyer does the rest (channel choice and
// opening, vouchers, MACs, receipt verification, requests in doubt).
import type { PaymentPayloadResult, PaymentRequirements, SchemeNetworkClient } from "@x402/core/types";
import type { Address } from "viem";
import { isAddressEqual } from "viem";
import { decodeTensorFrame, TENSORS_MEDIA_TYPE } from "../tensor-binary.ts";
import { tensorFromWire, type Tensor } from "../tensors.ts";
import { inferRequestWire } from "../wire.ts";
import { caip2, edgepayExtraWire, X402_SCHEME, X402_VERSION, type EdgepayPayloadWire } from "../x402.ts";
import type { AutoOpen, Buyer, InferOptions, InferResult, PreparedPayment, SpendIntent } from "./buyer.ts";
import { EdgepayClientError } from "./errors.ts";
import { encodeInferRequest, readInferAnswer, type InferEncoding } from "./worker-api.ts";

/** What a channel opened for a request may hold; `undefined` means: do not open one, pay only from existing ones. */
export type DepositPolicy = (need: { device: Address; modelId: bigint; token: Address; price: bigint; cost: bigint }) => AutoOpen | undefined;

export interface EdgepayChannelSchemeOptions {
  /** Opening policy: a fixed deposit, or a function of the offering and the request's cost. */
  deposit: bigint | DepositPolicy;
  /** Refuse a request costing more than this (token units), whatever the worker asks. */
  maxPerRequest?: bigint;
  /**
   * Asked before a channel is opened and before each voucher is signed (the same hook as `InferOptions.authorize`);
   * throwing refuses the payment with nothing deposited or signed. An agent's budget lives here.
   */
  authorize?: InferOptions["authorize"];
  /** Called with every verified receipt. */
  onReceipt?: (result: InferResult) => void;
}

interface Pending {
  endpoint: string;
  /** The request's inputs and the exact body sent for them (undefined: not an inference request). */
  request?: { inputs: Record<string, Tensor>; encoding: InferEncoding; body: Uint8Array };
  payment?: PreparedPayment;
  payload?: PaymentPayloadResult;
}

export class EdgepayChannelScheme implements SchemeNetworkClient {
  readonly scheme = X402_SCHEME;
  readonly #buyer: Buyer;
  readonly #opts: EdgepayChannelSchemeOptions;
  #current: Pending | undefined;
  /** One request at a time per scheme: x402 gives createPaymentPayload no handle on the request it pays for. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(buyer: Buyer, options: EdgepayChannelSchemeOptions) {
    this.#buyer = buyer;
    this.#opts = options;
  }

  async createPaymentPayload(x402Version: number, requirements: PaymentRequirements): Promise<PaymentPayloadResult> {
    const pending = this.#current;
    if (!pending) throw new EdgepayClientError("bad_argument", "the edgepay-channel scheme pays only requests sent through scheme.wrap(wrapFetchWithPayment(...))");
    // Asked again for the same request (x402's recovery retry): the same voucher, which the worker answers as a
    // replay. A second voucher would pay twice.
    if (pending.payload) return pending.payload;
    if (x402Version !== X402_VERSION) throw new EdgepayClientError("bad_argument", `x402Version ${x402Version} is not supported (${X402_VERSION} is)`);
    const parsed = edgepayExtraWire.safeParse(requirements.extra);
    if (!parsed.success) throw new EdgepayClientError("bad_worker_response", `${pending.endpoint}: edgepay-channel requirements lack channel terms: ${parsed.error.issues[0]?.message}`);
    const extra = parsed.data;
    const chainId = await this.#buyer.chainId();
    if (requirements.network !== caip2(chainId) || extra.chainId !== chainId) {
      throw new EdgepayClientError("offering_mismatch", `${pending.endpoint} asks for payment on ${requirements.network}, this client is on ${caip2(chainId)}`);
    }
    if (!isAddressEqual(extra.paymentChannels as Address, this.#buyer.paymentChannels)) {
      throw new EdgepayClientError("offering_mismatch", `${pending.endpoint} uses PaymentChannels ${extra.paymentChannels}, this client ${this.#buyer.paymentChannels}`);
    }
    const modelId = BigInt(extra.modelId);
    if (!pending.request) throw new EdgepayClientError("bad_argument", `${pending.endpoint}: the request body is not Edgepay inference inputs (JSON {"inputs": ...} or a tensor frame)`);
    const { inputs, encoding, body } = pending.request;
    const policy = this.#opts.deposit;
    const autoOpen = (cost: bigint) =>
      typeof policy === "bigint"
        ? { deposit: policy }
        : policy({ device: extra.device as Address, modelId, token: extra.token as Address, price: BigInt(extra.price), cost });
    // The Buyer computes the cost from the inputs and the offering it verified on-chain, not from the 402.
    // maxPerRequest is checked in the hook, before a deposit or a voucher: refused after signing, the voucher would
    // already count as signed on the channel.
    const max = this.#opts.maxPerRequest;
    const authorize = async (intent: SpendIntent) => {
      if (max !== undefined && intent.cost > max) throw new EdgepayClientError("bad_argument", `the request costs ${intent.cost}, more than maxPerRequest ${max}`);
      await this.#opts.authorize?.(intent);
    };
    const payment = await this.#buyer.preparePayment(pending.endpoint, modelId, inputs, body, encoding, autoOpen(BigInt(requirements.amount)), authorize);
    pending.payment = payment;
    const payload: EdgepayPayloadWire = { voucher: payment.voucher, mac: payment.mac, bodySha256: payment.bodyHash };
    pending.payload = { x402Version: X402_VERSION, payload };
    return pending.payload;
  }

  /**
   * `paidFetch` is `wrapFetchWithPayment(fetch, client)` with this scheme registered on `client`. The result pays
   * worker requests through it and verifies the receipt of every paid answer (EdgepayClientError receipt_rejected).
   */
  wrap(paidFetch: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>): (input: RequestInfo | URL, init?: RequestInit) => Promise<Response> {
    return async (input, init) => {
      const request = new Request(input, init);
      const body = new Uint8Array(await request.arrayBuffer());
      const run = this.#queue.then(() => this.#send(paidFetch, request, body));
      this.#queue = run.catch(() => undefined);
      return run;
    };
  }

  async #send(paidFetch: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>, request: Request, body: Uint8Array): Promise<Response> {
    const url = new URL(request.url);
    // Inputs are sent re-encoded as the Buyer encodes them, so that a request kept in doubt can be re-sent byte for
    // byte (same MAC) by Buyer.recover; anything else goes through unchanged (and cannot be paid by this scheme).
    const canonical = canonicalRequest(body, request.headers.get("content-type") ?? "application/json");
    const pending: Pending = { endpoint: url.origin, ...(canonical ? { request: canonical } : {}) };
    const headers = new Headers(request.headers);
    if (canonical) headers.set("content-type", canonical.encoding === "binary" ? TENSORS_MEDIA_TYPE : "application/json");
    this.#current = pending;
    let res: Response;
    try {
      res = await paidFetch(request.url, { method: request.method, headers, body: request.method === "GET" ? undefined : (canonical?.body ?? body).slice() });
    } catch (error) {
      // After a voucher went out the worker may have accepted it: keep it in doubt rather than pay for it again.
      if (pending.payment) await pending.payment.inDoubt((error as Error).message);
      throw error;
    } finally {
      this.#current = undefined;
    }
    const payment = pending.payment;
    if (!payment) return res;
    const answer = await readInferAnswer(res.clone(), pending.endpoint).catch(async (error: unknown) => {
      await payment.inDoubt((error as Error).message);
      throw error;
    });
    if (answer.kind === "ok") {
      const result = await payment.accept(answer.body);
      this.#opts.onReceipt?.(result);
      return res;
    }
    if (answer.kind === "payment_required") {
      await payment.refused(answer.payment);
      return res;
    }
    // Any other refusal: the voucher was not used (the worker stores nothing for a refused request).
    payment.release();
    return res;
  }
}

/** The inputs of an inference body, re-encoded as the Buyer would send them; undefined when it is none. */
function canonicalRequest(body: Uint8Array, contentType: string): Pending["request"] {
  const type = contentType.toLowerCase().split(";")[0]!.trim();
  try {
    const encoding: InferEncoding = type === TENSORS_MEDIA_TYPE ? "binary" : "json";
    const inputs =
      encoding === "binary"
        ? decodeTensorFrame(body, { allowMeta: false }).tensors
        : Object.fromEntries(Object.entries(inferRequestWire.parse(JSON.parse(new TextDecoder().decode(body))).inputs).map(([name, w]) => [name, tensorFromWire(name, w)]));
    const encoded = encodeInferRequest(inputs, encoding).body;
    return { inputs, encoding, body: typeof encoded === "string" ? new TextEncoder().encode(encoded) : encoded };
  } catch {
    return undefined;
  }
}
