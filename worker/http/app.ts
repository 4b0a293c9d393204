// The worker's HTTP API (protocol/wire.ts): offerings, paid inference with receipts, cooperative close,
// health and metrics. Every failure is a JSON error with a stable code; nothing is stored for a refused request.
import type { IncomingMessage, ServerResponse } from "node:http";
import { hashTypedData, type Address, type Hex } from "viem";
import { channelsDomain, closeTypes, deviceBindingTypes, deviceRegistryDomain } from "@edgepay/protocol/eip712";
import { receiptToWire, type SignedReceipt } from "@edgepay/protocol/receipt";
import { BODY_HASH_HEADER, closePath, inferPath, MAC_HEADER, requestMacMessage, type MacRequest } from "@edgepay/protocol/session";
import { tensorToWire, type Tensor } from "@edgepay/protocol/tensors";
import { hashTensorsFast as hashTensors } from "../hashing.ts";
import { decodeVoucherHeader, VOUCHER_HEADER, type Voucher } from "@edgepay/protocol/voucher";
import {
  type CloseResponseWire,
  type ErrorCode,
  type InferResponseWire,
  type OfferingsWire,
  type PaymentRequirementsWire,
} from "@edgepay/protocol/wire";
import type { ResolvedConfig } from "../config.ts";
import type { DigestSigner } from "../crypto.ts";
import type { Channel, Ledger } from "../ledger.ts";
import type { Metrics } from "../metrics.ts";
import type { ModelRuntime } from "../models/runtime.ts";
import type { IssuedReceipt } from "../store/committer.ts";
import type { GroupCommitter } from "../store/committer.ts";
import { signedReceiptOf, type Store } from "../store/db.ts";
import { HttpError, isAborted, readBody, sendError, sendJson, sendJsonText } from "./io.ts";
import { paidAnswerText } from "./answer-text.ts";
import { clientAddress, type UnpaidLimiter } from "./limits.ts";
import { createHash } from "node:crypto";
import { handleRecorderRoute, type RecorderRoutesContext } from "../recorder/routes.ts";
import { settle, type SettleRouteContext } from "./settle.ts";
import { parseInputs, requestEncoding, sendOutputs, wantsBinary } from "./body.ts";
import { openAnonymous, openPaid, sealedRequest, sessionKeyAfterAuth } from "./sealing.ts";
import { costOf, type UnitRule } from "@edgepay/protocol/units";
import { stopwatch, type PhaseTimings } from "../perf/phase-timings.ts";
import { DEBUG_TIMINGS_PATH, handleTimings } from "./debug-routes.ts";
import { adoptPaymentSignature, setPaymentRequired, setPaymentResponse } from "./x402.ts";
import { exactAccept, inferExact, type ExactContext } from "./x402-exact.ts";
import { PAYMENT_SIGNATURE_HEADER } from "@edgepay/protocol/x402";
import { DISCOVERY_PATH, MCP_PATH } from "@edgepay/protocol/discovery";
import { handleDiscovery, httpExtensions } from "./discovery.ts";
import { forwardedClient, handleMcp } from "./mcp.ts";

export interface ServedModel {
  runtime: ModelRuntime;
  token: Address;
  /** Current offering price per unit of work (new channels); a channel always pays the price in its terms. */
  price: bigint;
  /** The unit of work the model bills by (worker/metering.ts). */
  unit: UnitRule;
  royaltyBps: number;
}

export interface AppContext {
  config: ResolvedConfig;
  chainId: number;
  device: DigestSigner;
  payee: () => Address;
  models: Map<string, ServedModel>;
  ledger: Ledger;
  store: Store;
  committer: GroupCommitter;
  /** Sequence of the newest durable receipt (health). */
  lastSequence: { value: bigint };
  metrics: Metrics;
  health: () => Record<string, unknown>;
  /** Flight recorder routes (GET /v1/receipts, GET /v1/receipts/:seq/proof). */
  recorder?: RecorderRoutesContext;
  /** POST /v1/settle (the owner's "claim now"). */
  settle?: SettleRouteContext;
  /** Chain time in seconds. */
  now: () => number;
  log: (level: "error" | "info" | "debug", msg: string) => void;
  /** Per-client budget of requests that pay nothing (worker/http/limits.ts). */
  limiter?: UnpaidLimiter;
  /** Per-phase request timings (config debug.timings; the benchmark's breakdown). */
  timings?: PhaseTimings;
  /** x402 `exact` (one-shot EIP-3009 payments), when the chain's contracts support it. */
  exact?: ExactContext;
}

const INFER_RE = /^\/v1\/infer\/([^/]+)$/;
const UNPAID_RE = /^\/v1\/unpaid\/infer\/([^/]+)$/;
const CHANNEL_RE = /^\/v1\/channels\/([^/]+)$/;
const CLOSE_RE = /^\/v1\/channels\/([^/]+)\/close$/;

export function createApp(ctx: AppContext, options: { unpaidRoute: boolean }) {
  return async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const pathname = q === -1 ? url : url.slice(0, q);
    // CORS for browser buyers (the dashboard): the API is authorised by vouchers, never by cookies or origin,
    // so any origin may call it; preflights are answered here.
    res.setHeader("access-control-allow-origin", "*");
    if (req.method === "OPTIONS") {
      res.writeHead(204, {
        "access-control-allow-methods": "GET, POST, OPTIONS",
        "access-control-allow-headers": `content-type, ${VOUCHER_HEADER}, ${MAC_HEADER}, ${BODY_HASH_HEADER}, ${PAYMENT_SIGNATURE_HEADER}`,
        "access-control-max-age": "600",
      });
      res.end();
      return;
    }
    // A tool call of the MCP route reaches the paid route over loopback on behalf of the MCP client.
    const ip = forwardedClient(req) ?? clientAddress(req.socket);
    try {
      // A client that only sends requests that pay nothing is held to its budget before any work is done.
      if (ctx.limiter && !ctx.limiter.allowed(ip) && pathname !== "/healthz" && pathname !== "/metrics") {
        throw new HttpError("rate_limited", `client ${ip} sent too many requests that paid nothing; retry in ${ctx.limiter.retryAfter(ip)} s`);
      }
      let m: RegExpExecArray | null;
      if ((m = INFER_RE.exec(pathname))) {
        allow(req, "POST");
        await infer(ctx, req, res, decodePart(m[1]!));
      } else if (options.unpaidRoute && (m = UNPAID_RE.exec(pathname))) {
        allow(req, "POST");
        await inferUnpaid(ctx, req, res, decodePart(m[1]!));
      } else if (pathname === DISCOVERY_PATH) {
        allow(req, "GET");
        handleDiscovery(ctx, req, res, new URLSearchParams(q === -1 ? "" : url.slice(q + 1)));
      } else if (pathname === MCP_PATH) {
        await handleMcp(ctx, req, res);
      } else if (pathname === "/v1/offerings") {
        allow(req, "GET");
        sendJson(res, 200, offerings(ctx));
      } else if ((m = CLOSE_RE.exec(pathname))) {
        allow(req, "POST");
        await close(ctx, req, res, m[1]!);
      } else if ((m = CHANNEL_RE.exec(pathname))) {
        allow(req, "GET");
        await channelInfo(ctx, res, m[1]!, performance.timeOrigin + performance.now());
      } else if (ctx.settle && pathname === "/v1/settle") {
        allow(req, "POST");
        await settle(ctx.settle, req, res);
      } else if (pathname === "/v1/binding") {
        allow(req, "GET");
        sendJson(res, 200, binding(ctx, new URLSearchParams(q === -1 ? "" : url.slice(q + 1)).get("owner")));
      } else if (pathname === "/healthz") {
        allow(req, "GET");
        sendJson(res, 200, { status: "ok", ...ctx.health() });
      } else if (pathname === "/metrics") {
        allow(req, "GET");
        const text = await ctx.metrics.registry.metrics();
        res.writeHead(200, { "content-type": ctx.metrics.registry.contentType });
        res.end(text);
      } else if (ctx.timings && pathname === DEBUG_TIMINGS_PATH) {
        handleTimings(ctx.timings, req, res);
      } else if (ctx.recorder && handleRecorderRoute(ctx.recorder, req.method ?? "GET", pathname, new URLSearchParams(q === -1 ? "" : url.slice(q + 1)), res)) {
        // answered by the flight recorder
      } else {
        throw new HttpError("not_found", `no route ${req.method} ${pathname}`);
      }
    } catch (error) {
      if (error instanceof HttpError) {
        if (error.status === 402) ctx.metrics.paymentRequired.inc({ reason: error.code });
        else if (error.status < 500) ctx.metrics.badRequests.inc({ code: error.code });
        // Every refusal is a request that paid nothing (429 itself is free, or a limited client could never recover).
        if (error.status >= 400 && error.status < 500 && error.code !== "rate_limited") ctx.limiter?.charge(ip);
        if (!res.headersSent) {
          if (error.code === "rate_limited" && ctx.limiter) res.setHeader("retry-after", String(ctx.limiter.retryAfter(ip)));
          // Refused before its body was read: close rather than read and discard a body nobody will use.
          if (!req.complete) res.setHeader("connection", "close");
          if (error.status === 402 && error.extra?.payment) {
            const payment = error.extra.payment as PaymentRequirementsWire;
            setPaymentRequired(req, res, ctx.device.publicKey, payment, error.message, { exact: exactAccept(ctx.exact, payment.modelId), extensions: httpExtensions(ctx, payment.modelId) });
          }
          sendError(res, error);
        }
        return;
      }
      if (isAborted(req, error)) {
        // The client went away (or the request timed out): nothing to answer, nothing to report beyond a line.
        ctx.limiter?.charge(ip);
        ctx.log("debug", `${req.method} ${pathname}: aborted by the client (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
        return;
      }
      ctx.log("error", `${req.method} ${pathname}: ${(error as Error).stack ?? String(error)}`);
      if (!res.headersSent) sendError(res, new HttpError("internal_error", "internal error"));
    }
  };
}

/** A path segment, percent-decoded; a malformed escape is kept as it is (it then names no model: 404). */
function decodePart(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function allow(req: IncomingMessage, method: string) {
  if (req.method !== method) throw new HttpError("method_not_allowed", `use ${method} here, not ${req.method}`);
}

function modelOf(ctx: AppContext, id: string): ServedModel {
  const model = /^[0-9]{1,78}$/.test(id) ? ctx.models.get(BigInt(id).toString()) : undefined;
  if (!model) throw new HttpError("unknown_model", `this device serves no model "${id}" (serves: ${[...ctx.models.keys()].join(", ")})`);
  return model;
}

function offerings(ctx: AppContext): OfferingsWire {
  return {
    device: ctx.device.address,
    payee: ctx.payee(),
    chainId: ctx.chainId,
    paymentChannels: ctx.config.contracts.paymentChannels,
    devicePublicKey: ctx.device.publicKey,
    models: [...ctx.models.values()].map((m) => ({
      modelId: m.runtime.modelId.toString(),
      name: m.runtime.name,
      modelHash: m.runtime.hash,
      token: m.token,
      price: m.price.toString(),
      unit: m.unit,
      royaltyBps: m.royaltyBps,
      inputs: m.runtime.inputs,
      outputs: m.runtime.outputs,
    })),
  };
}

/** Body -> validated input tensors, for the unpaid route. */
async function readInputs(ctx: AppContext, req: IncomingMessage, model: ServedModel): Promise<{ tensors: Record<string, Tensor>; units: number }> {
  const encoding = requestEncoding(req);
  return parseInputs(await readBody(req, ctx.config.maxBodyBytes), encoding, model);
}

function sha256Hex(body: Buffer): Hex {
  return `0x${createHash("sha256").update(body).digest("hex")}`;
}

/**
 * The payment terms of a 402. `units` is known once the body was read; a request refused before (bad voucher
 * header, unknown channel, stale amount) gets no `units`/`cost`, and `required` is then the least the next voucher
 * must carry: one unit's price above the last accepted amount.
 */
export function requirements(ctx: AppContext, model: ServedModel, units: number | undefined, ch?: Channel): PaymentRequirementsWire {
  const price = ch && ch.terms.modelId === model.runtime.modelId ? ch.terms.price : model.price;
  const ours = ch && ch.terms.device.toLowerCase() === ctx.device.address.toLowerCase() && ch.terms.modelId === model.runtime.modelId;
  const last = ours ? ch.acceptedAmount : 0n;
  const cost = costOf(price, units ?? 1);
  return {
    scheme: "edgepay-channel",
    chainId: ctx.chainId,
    paymentChannels: ctx.config.contracts.paymentChannels,
    token: ours ? ch.terms.token : model.token,
    device: ctx.device.address,
    payee: ours ? ch.terms.payee : ctx.payee(),
    modelId: model.runtime.modelId.toString(),
    price: price.toString(),
    unit: model.unit,
    ...(units !== undefined ? { units, cost: cost.toString() } : {}),
    royaltyBps: ours ? ch.terms.royaltyBps : model.royaltyBps,
    ...(ours ? { channelId: ch.id, deposit: ch.deposit.toString() } : {}),
    lastAccepted: last.toString(),
    required: (last + cost).toString(),
  };
}

function paymentError(ctx: AppContext, code: ErrorCode, message: string, model: ServedModel, units: number | undefined, ch?: Channel): HttpError {
  return new HttpError(code, message, { payment: requirements(ctx, model, units, ch) });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The channel from the worker's index (no chain call; a miss waits for the index's next poll, bounded). */
function lookup(ctx: AppContext, id: Hex, since: number): Promise<Channel | undefined> {
  return ctx.ledger.lookup(id, since);
}

/**
 * POST /v1/infer/:modelId. Order matters: everything a stranger can send is refused by cheap checks of the headers
 * (model, content type, voucher format, channel in the index, channel state and amount) before the body is read;
 * the body is then read (bounded in size and time) and the request authenticated by its MAC (and the voucher's
 * signature for a channel's first voucher) before the channel's lock is taken. So no request a stranger can forge
 * takes a lock, a queue slot or storage a real buyer needs.
 */
async function infer(ctx: AppContext, req: IncomingMessage, res: ServerResponse, modelParam: string) {
  const started = performance.now();
  const arrived = performance.timeOrigin + started;
  const sw = stopwatch(ctx.timings, "paid");
  const model = modelOf(ctx, modelParam);
  const x402 = adoptPaymentSignature(req, ctx.chainId, ctx.exact !== undefined);
  if (x402 && "exact" in x402) {
    return inferExact(ctx, ctx.exact!, req, res, model, x402.exact, (code, message, units) => paymentError(ctx, code, message, model, units));
  }
  if (x402) throw paymentError(ctx, x402.code, x402.message, model, undefined);
  // A sealed request's Content-Type names its inner encoding, swapped in here so the encoding is read from it.
  const sealed = sealedRequest(req, ctx.config.http.requireSealed);
  const encoding = requestEncoding(req);
  const voucherHeader = header(req, VOUCHER_HEADER);
  // No payment: refused from the headers, the body unread (reading up to maxBodyBytes for nothing would let one
  // client make the device parse megabytes per second for free). The 402 carries the unit rule and price, from
  // which a buyer computes the cost of its inputs (docs/protocol.md, section 3).
  if (!voucherHeader) throw paymentError(ctx, "payment_required", `send a voucher in the ${VOUCHER_HEADER} header`, model, undefined);
  const voucher = decodeVoucherHeader(voucherHeader);
  if (!voucher) {
    ctx.metrics.rejectedVouchers.inc({ reason: "invalid_voucher" });
    throw paymentError(ctx, "invalid_voucher", `${VOUCHER_HEADER} must be <channelId 0x+64 hex>:<cumulative amount decimal>:<signature 0x+130 hex>`, model, undefined);
  }
  const ch = await lookup(ctx, voucher.channelId, arrived);
  if (!ch) {
    ctx.metrics.rejectedVouchers.inc({ reason: "unknown_channel" });
    throw paymentError(ctx, "unknown_channel", `this device has no channel ${voucher.channelId} on chain ${ctx.chainId}`, model, undefined);
  }
  const early = ctx.ledger.precheck(ch, voucher, model.runtime.modelId);
  if (early) throw paymentError(ctx, early.reason, early.message, model, undefined, ch);
  sw.lap("voucher header, channel, precheck");

  // The request is authenticated before its body is read when it names the body's hash (the buyer client always
  // does): a stranger then gets its 402 from the headers alone. Without the header only a small body is read first.
  const macFor = (bodyHash: Hex) => requestMacMessage({ ...macContext(ctx, ch.id, voucher, model.runtime.modelId), bodyHash });
  const claimed = header(req, BODY_HASH_HEADER);
  if (claimed !== undefined && !/^0x[0-9a-fA-F]{64}$/.test(claimed)) {
    throw paymentError(ctx, "invalid_mac", `${BODY_HASH_HEADER} must be 0x + 64 hex digits (sha256 of the body bytes)`, model, undefined, ch);
  }
  let authn = claimed !== undefined ? ctx.ledger.authenticate(ch, voucher, macFor(claimed.toLowerCase() as Hex), header(req, MAC_HEADER)) : undefined;
  if (authn && !authn.ok) throw paymentError(ctx, authn.reason, authn.message, model, undefined, ch);
  sw.lap("authenticate (MAC; ECDSA on a first voucher)");
  const body = await readBody(req, claimed !== undefined ? ctx.config.maxBodyBytes : Math.min(ctx.config.maxBodyBytes, ctx.config.http.maxUnhashedBodyBytes));
  sw.lap("read body");
  const bodyHash = sha256Hex(body);
  if (claimed !== undefined && bodyHash !== claimed.toLowerCase()) {
    throw paymentError(ctx, "invalid_mac", `the body's sha256 ${bodyHash} is not the ${BODY_HASH_HEADER} ${claimed}`, model, undefined, ch);
  }
  authn ??= ctx.ledger.authenticate(ch, voucher, macFor(bodyHash), header(req, MAC_HEADER));
  if (!authn.ok) throw paymentError(ctx, authn.reason, authn.message, model, undefined, ch);
  sw.lap("body sha256");
  // A sealed body opens under the channel's keys, and from here on every answer is sealed (worker/http/sealing.ts).
  const key = sealed && sessionKeyAfterAuth(ctx.device, ch, authn.auth.signerPubkey);
  const plain = sealed && key ? openPaid(sealed, key, { kind: "channel", ...macContext(ctx, ch.id, voucher, model.runtime.modelId) }, body, bodyHash, res) : body;
  const { tensors, units } = parseInputs(plain, encoding, model);
  sw.lap("parse inputs");

  const release = await ch.lock.acquire(ctx.config.maxQueuePerChannel);
  if (!release) throw new HttpError("channel_busy", `channel ${ch.id} has ${ctx.config.maxQueuePerChannel} requests waiting; send them one after another`);
  sw.lap("channel lock");
  try {
    if (ctx.ledger.isLastAccepted(ch, voucher)) {
      const replay = replayAnswer(ctx, ch, voucher, model, bodyHash);
      if (replay) {
        // A replay is paid for already: it costs the client's unpaid budget like any answer that brings nothing new.
        ctx.limiter?.charge(clientAddress(req.socket));
        const { outputs: stored, ...meta } = replay;
        setPaymentResponse(req, res, ctx.chainId, meta.receipt);
        sendOutputs(req, res, stored, meta);
        return;
      }
    }
    // Metered: the voucher must add exactly units x the channel's price per unit.
    const cost = costOf(ch.terms.price, units);
    const check = await ctx.ledger.check(ch, voucher, model.runtime.modelId, authn.auth, cost);
    if (!check.valid) throw paymentError(ctx, check.reason, check.message, model, units, ch);
    sw.lap("voucher check (ECDSA when over budget)");
    let outputs: Record<string, Tensor>;
    try {
      outputs = await model.runtime.run(tensors);
    } catch (error) {
      ctx.metrics.inferenceFailures.inc({ model: model.runtime.modelId.toString() });
      throw new HttpError("inference_failed", `the model failed on this input; the voucher was not used: ${(error as Error).message.split("\n")[0]}`, {
        payment: requirements(ctx, model, units, ch),
      });
    }
    sw.lap("inference");
    const next = ctx.ledger.accepted(ch, voucher, check);
    const fields = {
      channelId: ch.id,
      cumulativeAmount: voucher.cumulativeAmount,
      units: BigInt(units),
      modelId: model.runtime.modelId,
      modelHash: model.runtime.hash,
      inputHash: hashTensors(tensors),
      outputHash: hashTensors(outputs),
      timestamp: BigInt(Math.floor(Date.now() / 1000)),
    };
    sw.lap("hash tensors");
    const outputsWire: InferResponseWire["outputs"] = {};
    for (const [name, t] of Object.entries(outputs)) outputsWire[name] = tensorToWire(t);
    // Serialised once: the same text is stored for a lost answer's re-send and is the answer's `outputs`.
    const outputsJson = JSON.stringify(outputsWire);
    sw.lap("encode outputs");
    let issued: IssuedReceipt;
    try {
      // One group transaction: the writer thread gives the receipt its sequence and previous digest, signs it, and
      // stores it with the voucher and the answer (for a lost answer's re-send); the answer waits until durable.
      [issued] = (await ctx.committer.commit(
        {
          op: "issueReceipt",
          receipt: {
            channelId: fields.channelId,
            amount: fields.cumulativeAmount,
            units: fields.units,
            voucherSig: voucher.signature,
            modelId: fields.modelId,
            modelHash: fields.modelHash,
            inputHash: fields.inputHash,
            outputHash: fields.outputHash,
            timestamp: fields.timestamp,
          },
        },
        { op: "recordAccepted", id: ch.id, state: next },
        { op: "storeAnswer", answer: { channelId: ch.id, amount: voucher.cumulativeAmount, bodyHash, outputs: outputsJson } },
      )) as [IssuedReceipt];
    } catch (error) {
      ctx.log("error", `commit failed: ${(error as Error).message}`);
      throw new HttpError("unavailable", "the payment could not be stored; the voucher was not used; retry");
    }
    sw.lap("durable commit (sign, store, fsync, thread hops)");
    const receipt: SignedReceipt = { ...fields, sequence: issued.sequence, previous: issued.previous, signature: issued.signature };
    ctx.lastSequence.value = issued.sequence;
    ctx.ledger.apply(ch, next);
    replays.delete(ch);
    const id = model.runtime.modelId.toString();
    ctx.metrics.inferences.inc({ model: id });
    ctx.metrics.latency.observe({ model: id }, (performance.now() - started) / 1000);
    const meta = { receipt: receiptToWire(receipt), price: ch.terms.price.toString(), units, cost: cost.toString() };
    setPaymentResponse(req, res, ctx.chainId, meta.receipt);
    if (wantsBinary(req)) sendOutputs(req, res, outputs, meta);
    else sendJsonText(res, 200, paidAnswerText(outputsJson, meta), { vary: "accept" });
    sw.lap("send answer");
    sw.done();
  } finally {
    release();
  }
}

/** What a sealed paid request's associated data names besides the body (protocol/sealed.ts, channel mode). */
/** What a paid request's MAC and seal are bound to, besides its body (protocol/session.ts MacRequest). */
function macContext(ctx: AppContext, channelId: Hex, voucher: Voucher, modelId: bigint): Omit<MacRequest, "bodyHash"> {
  return {
    chainId: ctx.chainId,
    paymentChannels: ctx.config.contracts.paymentChannels,
    channelId,
    cumulativeAmount: voucher.cumulativeAmount,
    signature: voucher.signature,
    modelId,
    method: "POST",
    path: inferPath(modelId),
  };
}

/** Re-sends of the current answer per channel (reset when the channel accepts a new voucher). */
const replays = new WeakMap<Channel, number>();

/**
 * A buyer whose answer was lost in transit re-sends the identical request (same voucher, same body, so the same
 * MAC). When the voucher is the channel's last accepted one and the body hashes to what that answer was for, the
 * stored answer and receipt are sent again: the model does not run, nothing is stored, nothing is charged. At most
 * `http.maxReplaysPerAnswer` times per answer (then 429 rate_limited); other bodies fall through to voucher_stale.
 */
function replayAnswer(ctx: AppContext, ch: Channel, voucher: Voucher, model: ServedModel, bodyHash: Hex): InferResponseWire | undefined {
  const stored = ctx.store.answerOf(ch.id);
  if (!stored || stored.amount !== voucher.cumulativeAmount || stored.bodyHash.toLowerCase() !== bodyHash.toLowerCase()) return undefined;
  const last = ctx.store.lastReceiptOf(ch.id);
  if (!last || last.amount !== voucher.cumulativeAmount || last.modelId !== model.runtime.modelId) return undefined;
  const count = replays.get(ch) ?? 0;
  if (count >= ctx.config.http.maxReplaysPerAnswer) {
    throw new HttpError("rate_limited", `the answer for ${voucher.cumulativeAmount} on channel ${ch.id} was re-sent ${count} times already`);
  }
  replays.set(ch, count + 1);
  ctx.metrics.replays.inc();
  return {
    outputs: JSON.parse(stored.outputs) as InferResponseWire["outputs"],
    receipt: receiptToWire(signedReceiptOf(last)),
    price: ch.terms.price.toString(),
    units: Number(last.units),
    cost: costOf(ch.terms.price, last.units).toString(),
  };
}

/** The same path without payment, for the benchmark's unpaid baseline (enabled by config `unpaidRoute`). */
async function inferUnpaid(ctx: AppContext, req: IncomingMessage, res: ServerResponse, modelParam: string) {
  const sw = stopwatch(ctx.timings, "unpaid");
  const model = modelOf(ctx, modelParam);
  const sealed = sealedRequest(req, ctx.config.http.requireSealed);
  // The encoding (the inner one when sealed) is checked before the body is read.
  const encoding = sealed ? requestEncoding(req) : undefined;
  const { tensors } = sealed && encoding
    ? parseInputs(openAnonymous(sealed, ctx.device, "POST", `/v1/unpaid/infer/${model.runtime.modelId}`, await readBody(req, ctx.config.maxBodyBytes), res), encoding, model)
    : await readInputs(ctx, req, model);
  sw.lap("read body + parse inputs");
  let outputs: Record<string, Tensor>;
  try {
    outputs = await model.runtime.run(tensors);
  } catch (error) {
    throw new HttpError("inference_failed", `the model failed on this input: ${(error as Error).message.split("\n")[0]}`);
  }
  sw.lap("inference");
  hashTensors(tensors);
  const outputHash = hashTensors(outputs);
  sw.lap("hash tensors");
  sendOutputs(req, res, outputs, { outputHash });
  sw.lap("encode and send answer");
  sw.done();
}

/**
 * The device key's DeviceBinding for the owner named in the config (never for an owner a caller picks: a binding
 * for anyone would let anyone register this device to themselves). Valid for one hour of chain time.
 */
function binding(ctx: AppContext, requested: string | null) {
  const owner = ctx.config.owner;
  if (!owner) throw new HttpError("not_found", "this worker has no owner configured (config `owner` or EDGEPAY_OWNER); use `worker/cli.ts init --owner`");
  if (requested && requested.toLowerCase() !== owner.toLowerCase()) {
    throw new HttpError("bad_request", `this device binds only to its configured owner ${owner}, not ${requested}`);
  }
  const deadline = BigInt(ctx.now() + 3600);
  const digest = hashTypedData({
    domain: deviceRegistryDomain(ctx.chainId, ctx.config.contracts.deviceRegistry),
    types: deviceBindingTypes,
    primaryType: "DeviceBinding",
    message: { device: ctx.device.address, owner, deadline },
  });
  return {
    device: ctx.device.address,
    owner,
    chainId: ctx.chainId,
    deviceRegistry: ctx.config.contracts.deviceRegistry,
    deadline: deadline.toString(),
    bindingSignature: ctx.device.sign(Buffer.from(digest.slice(2), "hex")),
  };
}

function parseChannelId(raw: string): Hex {
  if (!/^0x[0-9a-fA-F]{64}$/.test(raw)) throw new HttpError("bad_request", `channel id must be 0x followed by 64 hex digits, got ${raw.slice(0, 80)}`);
  return raw.toLowerCase() as Hex;
}

async function channelInfo(ctx: AppContext, res: ServerResponse, raw: string, arrived: number) {
  const id = parseChannelId(raw);
  const ch = await lookup(ctx, id, arrived);
  if (!ch) throw new HttpError("not_found", `this device has no channel ${id}`);
  sendJson(res, 200, {
    channelId: ch.id,
    modelId: ch.terms.modelId.toString(),
    price: ch.terms.price.toString(),
    deposit: ch.deposit.toString(),
    claimed: ch.claimed.toString(),
    lastAccepted: ch.acceptedAmount.toString(),
    required: (ch.acceptedAmount + ch.terms.price).toString(),
    closesAt: ch.closesAt,
    settled: ch.settled,
    closing: ch.closeSigned !== null,
    blocked: ch.blocked,
  });
}

/** Close bodies are empty JSON objects; more is refused before it is read. */
const CLOSE_BODY_LIMIT = 1024;

async function close(ctx: AppContext, req: IncomingMessage, res: ServerResponse, raw: string) {
  const arrived = performance.timeOrigin + performance.now();
  const id = parseChannelId(raw);
  const voucherHeader = header(req, VOUCHER_HEADER);
  if (!voucherHeader) throw new HttpError("invalid_voucher", `a close request carries the channel's latest voucher in ${VOUCHER_HEADER}`);
  const voucher = decodeVoucherHeader(voucherHeader);
  if (!voucher || voucher.channelId !== id) throw new HttpError("invalid_voucher", `${VOUCHER_HEADER} must be a voucher for channel ${id}`);
  const ch = await lookup(ctx, id, arrived);
  if (!ch) throw new HttpError("unknown_channel", `this device has no channel ${id} on chain ${ctx.chainId}`);
  const body = await readBody(req, CLOSE_BODY_LIMIT);
  const message = requestMacMessage({
    chainId: ctx.chainId,
    paymentChannels: ctx.config.contracts.paymentChannels,
    channelId: ch.id,
    cumulativeAmount: voucher.cumulativeAmount,
    signature: voucher.signature,
    modelId: ch.terms.modelId,
    method: "POST",
    path: closePath(ch.id),
    bodyHash: sha256Hex(body),
  });
  const authn = ctx.ledger.authenticateClose(ch, voucher, message, header(req, MAC_HEADER));
  if (!authn.ok) throw new HttpError(authn.reason, authn.message);
  const release = await ch.lock.acquire(ctx.config.maxQueuePerChannel);
  if (!release) throw new HttpError("channel_busy", `channel ${ch.id} is busy; retry`);
  try {
    const state = ctx.ledger.checkClose(ch, voucher);
    if (!state.valid) throw new HttpError(state.reason, state.message);
    if (ch.closeSigned === null) {
      const amount = ch.acceptedAmount;
      // Durable before the signature leaves: after a restart the worker still refuses vouchers on this channel.
      await ctx.committer.commit({ op: "recordCloseSigned", id: ch.id, amount });
      ch.closeSigned = amount;
    }
    const digest = hashTypedData({
      domain: channelsDomain(ctx.chainId, ctx.config.contracts.paymentChannels),
      types: closeTypes,
      primaryType: "CloseChannel",
      message: { channelId: ch.id, cumulativeAmount: ch.closeSigned },
    });
    const answer: CloseResponseWire = {
      channelId: ch.id,
      cumulativeAmount: ch.closeSigned.toString(),
      device: ctx.device.address,
      signature: ctx.device.sign(Buffer.from(digest.slice(2), "hex")),
    };
    sendJson(res, 200, answer);
  } finally {
    release();
  }
}
