// x402's standard `exact` scheme (EIP-3009) on the paid route: the worker is its own facilitator. An authorization
// pays the offering's receiver (PaymentChannels.exactReceiver, a CREATE2 address fixed by device, model and token),
// so it cannot be redirected; the worker verifies it (cheap header checks first, the body and the chain after),
// stores it durably, runs the model, settles on-chain with settleExact (royalty accrued to the model as for a
// channel claim) and only then answers, with PAYMENT-RESPONSE and a device-signed receipt whose channelId is the
// authorization's nonce and cumulativeAmount its value.
import type { IncomingMessage, ServerResponse } from "node:http";
import { createHash } from "node:crypto";
import { encodeFunctionData, hashDomain, recoverTypedDataAddress, type Address, type Hex, type PublicClient } from "viem";
import { paymentChannelsAbi, testUsdcAbi } from "@edgepay/protocol/generated/contracts";
import { transferWithAuthorizationTypes } from "@edgepay/protocol/eip712";
import { receiptToWire, type SignedReceipt } from "@edgepay/protocol/receipt";
import { signedReceiptOf } from "../store/db.ts";
import { getContractEventsPaged } from "@edgepay/protocol/paged-logs";
import { tensorToWire, type Tensor } from "@edgepay/protocol/tensors";
import { costOf } from "@edgepay/protocol/units";
import type { ErrorCode, InferResponseWire } from "@edgepay/protocol/wire";
import {
  caip2,
  encodeX402Header,
  exactPayloadWire,
  PAYMENT_RESPONSE_HEADER,
  X402_EXACT_SCHEME,
  type X402PaymentPayloadWire,
  type X402RequirementsWire,
  type X402SettleResponseWire,
} from "@edgepay/protocol/x402";
import type { TxSender } from "../settlement/sender.ts";
import type { IssuedReceipt } from "../store/committer.ts";
import type { ExactPayments } from "../store/exact.ts";
import { hashTensorsFast as hashTensors } from "../hashing.ts";
import type { AppContext, ServedModel } from "./app.ts";
import { paidAnswerText } from "./answer-text.ts";
import { parseInputs, requestEncoding, sendOutputs, wantsBinary } from "./body.ts";
import { HttpError, readBody, sendJsonText } from "./io.ts";
import { clientAddress } from "./limits.ts";

/** x402 maxTimeoutSeconds of the `exact` offer: @x402/evm signs validBefore = now + this. */
export const EXACT_MAX_TIMEOUT_SECONDS = 120;
/** Seconds an authorization must stay valid after it arrives: to run the model and mine the settlement. */
export const EXACT_SETTLE_MARGIN_SECONDS = 30;

/** What the 402 offers for one model: where `exact` payments go and the token's EIP-712 domain. */
export interface ExactOffer {
  token: Address;
  receiver: Address;
  name: string;
  version: string;
}

export interface ExactContext {
  client: PublicClient;
  sender: TxSender;
  payments: ExactPayments;
  paymentChannels: Address;
  /** Per model id (decimal). */
  offers: Map<string, ExactOffer>;
  /** x402 maxTimeoutSeconds of the offer: @x402/evm signs validBefore = now + this. */
  maxTimeoutSeconds: number;
  /** An authorization must stay valid this long after it arrives: time to run the model and mine the settlement. */
  settleMarginSeconds: number;
}

/** A worker's one-shot `exact` offer for a model, as a 402's accepts carries it. */
export interface ExactAccept {
  offer: ExactOffer;
  maxTimeoutSeconds: number;
}

/** The `exact` offer of model `modelId` (decimal) for a 402's accepts, when this worker makes one. */
export function exactAccept(ex: ExactContext | undefined, modelId: string): ExactAccept | undefined {
  const offer = ex?.offers.get(modelId);
  return offer && { offer, maxTimeoutSeconds: ex!.maxTimeoutSeconds };
}

/** The EIP-712 domain of a token, as the worker signs and checks `TransferWithAuthorization` under it. */
export interface ExactTokenDomain {
  token: Address;
  name: string;
  version: string;
}

const EIP712_DOMAIN_TYPES = {
  EIP712Domain: [
    { name: "name", type: "string" },
    { name: "version", type: "string" },
    { name: "chainId", type: "uint256" },
    { name: "verifyingContract", type: "address" },
  ],
} as const;

/**
 * Reads, once at start, each served model's receiver and its token's EIP-712 domain: the configured name and version
 * (`exactTokens`) when the token has an entry, checked against its DOMAIN_SEPARATOR(), else ERC-5267 eip712Domain().
 * A model whose token's domain cannot be established is not offered with `exact` (`skipped` says why); a
 * PaymentChannels without exactReceiver throws (no model can be offered).
 */
export async function loadExactOffers(
  client: PublicClient,
  paymentChannels: Address,
  device: Address,
  models: Map<string, { token: Address; runtime: { modelId: bigint } }>,
  skipped: (modelId: string, why: string) => void,
  options: { chainId: number; domains?: readonly ExactTokenDomain[] },
): Promise<Map<string, ExactOffer>> {
  const offers = new Map<string, ExactOffer>();
  for (const [id, m] of models) {
    const receiver = await client.readContract({ address: paymentChannels, abi: paymentChannelsAbi, functionName: "exactReceiver", args: [device, m.runtime.modelId, m.token] });
    const configured = options.domains?.find((d) => d.token.toLowerCase() === m.token.toLowerCase());
    try {
      if (configured) {
        const onChain = await client.readContract({ address: m.token, abi: testUsdcAbi, functionName: "DOMAIN_SEPARATOR" });
        const expected = hashDomain({ domain: { name: configured.name, version: configured.version, chainId: BigInt(options.chainId), verifyingContract: m.token }, types: EIP712_DOMAIN_TYPES });
        if (onChain.toLowerCase() !== expected.toLowerCase()) {
          skipped(id, `exactTokens names ("${configured.name}", "${configured.version}") for ${m.token}, but its DOMAIN_SEPARATOR() is another domain's: fix the name or version`);
          continue;
        }
        offers.set(id, { token: m.token, receiver, name: configured.name, version: configured.version });
        continue;
      }
      const domain = await client.readContract({ address: m.token, abi: testUsdcAbi, functionName: "eip712Domain" });
      offers.set(id, { token: m.token, receiver, name: domain[1], version: domain[2] });
    } catch (error) {
      const what = configured ? "no DOMAIN_SEPARATOR()" : "no ERC-5267 eip712Domain() (name its domain in exactTokens)";
      skipped(id, `token ${m.token} has ${what}: ${(error as Error).message.split("\n")[0]}`);
    }
  }
  return offers;
}

/** The `exact` entry of a 402's accepts[], for `amount` (the metered cost of the request, or of one unit). */
export function exactRequirement(chainId: number, offer: ExactOffer, amount: string, maxTimeoutSeconds: number): X402RequirementsWire {
  return {
    scheme: X402_EXACT_SCHEME,
    network: caip2(chainId),
    amount,
    asset: offer.token,
    payTo: offer.receiver,
    maxTimeoutSeconds,
    extra: { name: offer.name, version: offer.version, assetTransferMethod: "eip3009" },
  };
}

/**
 * The authorization's window against chain time `now`. On-chain it must hold validAfter < block.timestamp <
 * validBefore, and the settlement is mined at or after `now`; the worker also needs `margin` seconds to run the
 * model and mine the settlement before validBefore.
 */
export function checkExactWindow(
  auth: { validAfter: bigint; validBefore: bigint },
  now: bigint,
  margin: bigint,
): { valid: true } | { valid: false; reason: "exact_not_yet_valid" | "exact_expired"; message: string } {
  if (auth.validAfter >= now) return { valid: false, reason: "exact_not_yet_valid", message: `the authorization is valid only after ${auth.validAfter}; chain time is ${now}` };
  if (auth.validBefore <= now + margin) {
    return {
      valid: false,
      reason: "exact_expired",
      message: `the authorization expires at ${auth.validBefore}; the worker needs it valid until after ${now + margin} (chain time ${now} + ${margin} s to run and settle)`,
    };
  }
  return { valid: true };
}

type Refuse = (code: ErrorCode, message: string, units?: number) => HttpError;

/** Authorizations being served right now (`payer:nonce`): a concurrent duplicate is refused, never run twice. */
const inFlight = new Set<string>();

/**
 * POST /v1/infer/:modelId paid with an `exact` PaymentPayload. Refusals are 402s with a stable code and fresh
 * requirements; nothing is stored and nothing moves on-chain for any of them.
 */
export async function inferExact(ctx: AppContext, ex: ExactContext, req: IncomingMessage, res: ServerResponse, model: ServedModel, p: X402PaymentPayloadWire, refuse: Refuse) {
  const modelId = model.runtime.modelId;
  const offer = ex.offers.get(modelId.toString());
  if (!offer) throw refuse("x402_unsupported_scheme", `model ${modelId} is not offered with "${X402_EXACT_SCHEME}" here`);
  const parsed = exactPayloadWire.safeParse(p.payload);
  if (!parsed.success) {
    throw new HttpError("x402_malformed", `the ${X402_EXACT_SCHEME} payload needs signature and authorization {from, to, value, validAfter, validBefore, nonce}: ${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message}`);
  }
  const { signature } = parsed.data;
  const a = parsed.data.authorization;
  const from = a.from as Address;
  const nonce = a.nonce.toLowerCase() as Hex;
  const auth = { from, to: a.to as Address, value: BigInt(a.value), validAfter: BigInt(a.validAfter), validBefore: BigInt(a.validBefore), nonce };

  // Header checks, cheapest first: none reads the body or the chain.
  if (p.accepted.asset.toLowerCase() !== offer.token.toLowerCase()) {
    throw refuse("exact_wrong_asset", `asset ${p.accepted.asset.slice(0, 64)} is not this offering's token ${offer.token}`);
  }
  if (auth.to.toLowerCase() !== offer.receiver.toLowerCase()) {
    throw refuse("exact_wrong_payee", `the authorization pays ${auth.to}, not this offering's receiver ${offer.receiver}`);
  }
  let signer: Address;
  try {
    signer = await recoverTypedDataAddress({
      domain: { name: offer.name, version: offer.version, chainId: ctx.chainId, verifyingContract: offer.token },
      types: transferWithAuthorizationTypes,
      primaryType: "TransferWithAuthorization",
      message: auth,
      signature: signature as Hex,
    });
  } catch {
    throw refuse("exact_invalid_signature", "the authorization's signature is malformed");
  }
  if (signer.toLowerCase() !== from.toLowerCase()) {
    throw refuse("exact_invalid_signature", `the signature over these fields recovers ${signer}, not the payer ${from}`);
  }
  // A settled authorization may be past its window: its identical retry still gets the answer it paid for.
  if (ex.payments.get(from, nonce)?.state !== "settled") {
    const window = checkExactWindow(auth, BigInt(ctx.now()), BigInt(ex.settleMarginSeconds));
    if (!window.valid) throw refuse(window.reason, window.message);
  }
  const key = `${from.toLowerCase()}:${nonce}`;
  if (inFlight.has(key)) throw new HttpError("exact_in_progress", `authorization ${nonce} of ${from} is being served by another request; retry it after that one answered`);
  inFlight.add(key);
  try {
    await serve(ctx, ex, req, res, model, offer, { ...auth, signature: signature as Hex }, refuse);
  } finally {
    inFlight.delete(key);
  }
}

interface SignedAuth {
  from: Address;
  to: Address;
  value: bigint;
  validAfter: bigint;
  validBefore: bigint;
  nonce: Hex;
  signature: Hex;
}

async function serve(ctx: AppContext, ex: ExactContext, req: IncomingMessage, res: ServerResponse, model: ServedModel, offer: ExactOffer, auth: SignedAuth, refuse: Refuse) {
  const encoding = requestEncoding(req);
  const body = await readBody(req, ctx.config.maxBodyBytes);
  const bodyHash: Hex = `0x${createHash("sha256").update(body).digest("hex")}`;
  const stored = ex.payments.get(auth.from, auth.nonce);
  const sameRequest = stored !== undefined && stored.bodyHash === bodyHash && stored.value === auth.value;
  if (stored && stored.state === "settled") {
    // A retry of an answered request (same authorization, same body) gets the stored answer; anything else with a
    // used authorization is a replay.
    if (!sameRequest) throw refuse("exact_authorization_used", `authorization ${auth.nonce} of ${auth.from} paid for another request already`);
    const again = storedAnswer(ctx, auth.nonce, model);
    if (again) {
      ctx.limiter?.charge(clientAddress(req.socket));
      ctx.metrics.replays.inc();
      setExactResponse(res, { success: true, transaction: stored.txHash ?? "", network: caip2(ctx.chainId), payer: auth.from, amount: auth.value.toString(), receipt: again.receipt });
      sendOutputs(req, res, again.outputs, { receipt: again.receipt, price: again.price, units: again.units, cost: again.cost });
      return;
    }
    // Settled, but the worker stopped before the receipt and answer were stored: the answer is owed, so the model
    // runs again for the identical request and the receipt is issued, without a second settlement.
  }
  const { tensors, units } = parseInputs(body, encoding, model);
  const cost = costOf(model.price, units);
  if (auth.value !== cost) throw refuse("exact_wrong_amount", `the authorization pays ${auth.value}; this request costs ${cost} (${units} unit(s) at ${model.price})`, units);

  const settleArgs = [ctx.device.address, model.runtime.modelId, offer.token, [auth]] as const;
  const owed = stored?.state === "settled" && stored.txHash !== null ? stored.txHash : undefined;
  if (!owed) {
    const [used, balance] = await Promise.all([
      ex.client.readContract({ address: offer.token, abi: testUsdcAbi, functionName: "authorizationState", args: [auth.from, auth.nonce] }),
      ex.client.readContract({ address: offer.token, abi: testUsdcAbi, functionName: "balanceOf", args: [auth.from] }),
    ]);
    if (used) throw refuse("exact_authorization_used", `authorization ${auth.nonce} of ${auth.from} was used on-chain already (replayed, or submitted by someone else before this worker accepted it)`, units);
    if (balance < auth.value) throw refuse("exact_insufficient_balance", `${auth.from} holds ${balance} of ${offer.token}; the authorization pays ${auth.value}`, units);
    try {
      await ex.client.simulateContract({ account: ex.sender.address, address: ex.paymentChannels, abi: paymentChannelsAbi, functionName: "settleExact", args: settleArgs });
    } catch (error) {
      throw refuse("exact_settlement_failed", `settling the authorization would fail: ${shortError(error)}`, units);
    }
    // Durable before the model runs, like an accepted voucher: a crash or a concurrent retry can never settle twice.
    ex.payments.accept({ payer: auth.from, nonce: auth.nonce, receiver: offer.receiver, token: offer.token, modelId: model.runtime.modelId, value: auth.value, validAfter: auth.validAfter, validBefore: auth.validBefore, signature: auth.signature, bodyHash });
  }
  let outputs: Record<string, Tensor>;
  try {
    outputs = await model.runtime.run(tensors);
  } catch (error) {
    ctx.metrics.inferenceFailures.inc({ model: model.runtime.modelId.toString() });
    if (!owed) ex.payments.failed(auth.from, auth.nonce, "inference failed");
    throw new HttpError("inference_failed", `the model failed on this input; ${owed ? "retry it" : "the authorization was not submitted"}: ${(error as Error).message.split("\n")[0]}`);
  }

  // x402: settle after the work succeeded, answer only after the settlement is mined.
  const transaction = owed ?? (await settleNow(ctx, ex, res, offer.token, auth, settleArgs, units, refuse));
  if (!owed) ex.payments.settled(auth.from, auth.nonce, transaction);

  const fields = {
    channelId: auth.nonce,
    cumulativeAmount: auth.value,
    units: BigInt(units),
    modelId: model.runtime.modelId,
    modelHash: model.runtime.hash,
    inputHash: hashTensors(tensors),
    outputHash: hashTensors(outputs),
    timestamp: BigInt(Math.floor(Date.now() / 1000)),
  };
  const outputsWire: InferResponseWire["outputs"] = {};
  for (const [name, t] of Object.entries(outputs)) outputsWire[name] = tensorToWire(t);
  const outputsJson = JSON.stringify(outputsWire);
  const [issued] = (await ctx.committer.commit(
    {
      op: "issueReceipt",
      receipt: { channelId: fields.channelId, amount: fields.cumulativeAmount, units: fields.units, voucherSig: auth.signature, modelId: fields.modelId, modelHash: fields.modelHash, inputHash: fields.inputHash, outputHash: fields.outputHash, timestamp: fields.timestamp },
    },
    { op: "storeAnswer", answer: { channelId: auth.nonce, amount: auth.value, bodyHash, outputs: outputsJson } },
  )) as [IssuedReceipt];
  const receipt: SignedReceipt = { ...fields, sequence: issued.sequence, previous: issued.previous, signature: issued.signature };
  ctx.lastSequence.value = issued.sequence;
  ctx.metrics.inferences.inc({ model: model.runtime.modelId.toString() });
  const meta = { receipt: receiptToWire(receipt), price: model.price.toString(), units, cost: cost.toString() };
  setExactResponse(res, { success: true, transaction, network: caip2(ctx.chainId), payer: auth.from, amount: auth.value.toString(), receipt: meta.receipt });
  if (wantsBinary(req)) sendOutputs(req, res, outputs, meta);
  else sendJsonText(res, 200, paidAnswerText(outputsJson, meta), { vary: "accept" });
}

/** Sends settleExact and waits for it; on failure the authorization is marked failed and the answer withheld. */
async function settleNow(
  ctx: AppContext,
  ex: ExactContext,
  res: ServerResponse,
  token: Address,
  auth: SignedAuth,
  settleArgs: readonly [Address, bigint, Address, readonly SignedAuth[]],
  units: number,
  refuse: Refuse,
): Promise<Hex> {
  try {
    const sent = await ex.sender.send({
      kind: "settleExact",
      to: ex.paymentChannels,
      data: encodeFunctionData({ abi: paymentChannelsAbi, functionName: "settleExact", args: settleArgs }),
      claims: [{ channelId: auth.nonce, amount: auth.value.toString() }],
    });
    return sent.hash;
  } catch (error) {
    // Someone submitted the authorization while the model ran (and may have swept the receiver too, so settleExact
    // found nothing): the buyer's money went to this offering's receiver, which pays only this provider and model.
    // The buyer has paid, so it gets its answer, with the transaction that moved its money.
    const moved = await transferOf(ex, token, auth).catch((e: unknown) => {
      ctx.log("error", `looking up the transfer of ${auth.nonce}: ${shortError(e)}`);
      return undefined;
    });
    if (moved) {
      ctx.log("info", `exact authorization ${auth.nonce} of ${auth.from} was submitted by someone else (${moved}) while the model ran; answering`);
      return moved;
    }
    const why = shortError(error);
    ex.payments.failed(auth.from, auth.nonce, why);
    ctx.log("error", `exact settlement of ${auth.nonce} from ${auth.from} failed after the work: ${why}`);
    setExactResponse(res, { success: false, errorReason: "exact_settlement_failed", transaction: "", network: caip2(ctx.chainId), payer: auth.from });
    throw refuse("exact_settlement_failed", `the settlement failed, so the answer is withheld: ${why}`, units);
  }
}

/** The transaction in which the token used this authorization (AuthorizationUsed, not a cancellation), if any. */
async function transferOf(ex: ExactContext, token: Address, auth: SignedAuth): Promise<Hex | undefined> {
  const used = await ex.client.readContract({ address: token, abi: testUsdcAbi, functionName: "authorizationState", args: [auth.from, auth.nonce] });
  if (!used) return undefined;
  // The authorization was valid at most maxTimeoutSeconds ago, so its log is in the last few thousand blocks.
  const latest = await ex.client.getBlockNumber({ cacheTime: 0 });
  const logs = await getContractEventsPaged(
    ex.client,
    { address: token, abi: testUsdcAbi, eventName: "AuthorizationUsed", args: { authorizer: auth.from, nonce: auth.nonce } },
    { fromBlock: latest > 5_000n ? latest - 5_000n : 0n, toBlock: latest },
  );
  return logs[0]?.transactionHash ?? undefined;
}

function storedAnswer(ctx: AppContext, nonce: Hex, model: ServedModel): (Omit<InferResponseWire, "outputs"> & { outputs: InferResponseWire["outputs"] }) | undefined {
  const answer = ctx.store.answerOf(nonce);
  const last = ctx.store.lastReceiptOf(nonce);
  if (!answer || !last || last.modelId !== model.runtime.modelId) return undefined;
  const receipt = receiptToWire(signedReceiptOf(last));
  // The price is what was paid per unit: value / units (exact division: value was units x price when accepted).
  const price = last.units === 0n ? last.amount : last.amount / last.units;
  return { outputs: JSON.parse(answer.outputs) as InferResponseWire["outputs"], receipt, price: price.toString(), units: Number(last.units), cost: last.amount.toString() };
}

function setExactResponse(res: ServerResponse, settled: X402SettleResponseWire) {
  res.setHeader(PAYMENT_RESPONSE_HEADER, encodeX402Header(settled));
}

function shortError(error: unknown): string {
  const e = error as { shortMessage?: string; message?: string };
  return (e.shortMessage ?? e.message ?? String(error)).split("\n")[0]!.slice(0, 300);
}
