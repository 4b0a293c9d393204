// The buyer client against a real worker on a real chain: lost answers are replayed, not paid twice; a client
// that lost count resyncs from the 402; a worker claiming more than was signed is caught; tampered answers are
// rejected (and kept as evidence); failover skips a dead device; cooperative close settles to the token unit.
import { expect } from "chai";
import type { Address, Hex } from "viem";
import { paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { Buyer, EdgepayClientError, encodeInferRequest, MemoryBuyerStore, type FetchLike } from "../../protocol/client/index.ts";
import { decodeTensorFrame, encodeTensorFrame, TENSORS_MEDIA_TYPE } from "../../protocol/tensor-binary.ts";
import { tensorFromWire, tensorToWire, type TensorMapWire } from "../../protocol/tensors.ts";
import { initialVadState, sileroVadInputs } from "../../protocol/client/inputs.ts";
import type { Tensor } from "../../protocol/tensors.ts";
import { clientsFor, startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { setupMarket, SILERO_VAD_V5, type Market } from "../../scripts/lib/worker-fixture.ts";
import { MAC_HEADER } from "../../protocol/session.ts";
import { VOUCHER_HEADER } from "../../protocol/voucher.ts";

const PRICE = 1_000n;
const ROYALTY_BPS = 1_000;
const BUYER = 3;

function frame(seed: number): Record<string, Tensor> {
  const f = new Float32Array(512);
  for (let i = 0; i < f.length; i++) f[i] = 0.4 * Math.sin((2 * Math.PI * (120 + 7 * seed) * (i + 512 * seed)) / 16000);
  return sileroVadInputs(f, initialVadState());
}

/** An answer (JSON or the binary frame the client asks for by default) as the JSON object it stands for. */
async function answerObject(res: Response): Promise<{ body: Record<string, unknown>; binary: boolean }> {
  if (res.headers.get("content-type") !== TENSORS_MEDIA_TYPE) return { body: (await res.json()) as Record<string, unknown>, binary: false };
  const frame = decodeTensorFrame(new Uint8Array(await res.arrayBuffer()), { allowMeta: true });
  const outputs = Object.fromEntries(Object.entries(frame.tensors).map(([k, t]) => [k, tensorToWire(t)]));
  return { body: { outputs, ...(JSON.parse(new TextDecoder().decode(frame.meta)) as object) }, binary: true };
}

/** The (rewritten) answer in the encoding the worker used. */
function answerResponse(status: number, body: Record<string, unknown>, binary: boolean): Response {
  if (!binary || status !== 200) return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  const { outputs, ...meta } = body as { outputs: TensorMapWire };
  const tensors = Object.fromEntries(Object.entries(outputs).map(([k, w]) => [k, tensorFromWire(k, w)]));
  return new Response(encodeTensorFrame(tensors, meta), { status, headers: { "content-type": TENSORS_MEDIA_TYPE } });
}

/** A fetch the test can make misbehave: drop an answer after the worker sent it, or rewrite the worker's answer. */
function controllableFetch() {
  const state = {
    dropNextAnswer: false,
    /** The worker's answer (committed) is replaced by a reverse proxy's non-JSON 502 (a timeout behind a proxy). */
    badGatewayNext: false,
    refuseNext: 0,
    dropped: undefined as unknown,
    rewrite: undefined as ((status: number, body: Record<string, unknown>) => Record<string, unknown>) | undefined,
  };
  const fetchImpl: FetchLike = async (url, init) => {
    const isInfer = url.includes("/v1/infer/");
    if (isInfer && state.refuseNext > 0) {
      state.refuseNext--;
      throw new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED (test)"), { code: "ECONNREFUSED" }) });
    }
    const res = await fetch(url, init);
    if (isInfer && state.dropNextAnswer) {
      state.dropNextAnswer = false;
      state.dropped = (await answerObject(res)).body;
      throw new TypeError("fetch failed", { cause: Object.assign(new Error("socket hang up (test)"), { code: "ECONNRESET" }) });
    }
    if (isInfer && state.badGatewayNext) {
      state.badGatewayNext = false;
      state.dropped = (await answerObject(res)).body;
      return new Response("<html>502 Bad Gateway</html>", { status: 502, headers: { "content-type": "text/html" } });
    }
    if (isInfer && state.rewrite) {
      const { body, binary } = await answerObject(res);
      return answerResponse(res.status, state.rewrite(res.status, body), binary);
    }
    return res;
  };
  return { state, fetchImpl };
}

describe("client: paying a real worker", function () {
  this.timeout(180_000);
  let net: Localnet;
  let market: Market;
  let url: string;
  let modelId: bigint;
  const buyerClients = () => clientsFor(net, BUYER);

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    market = await setupMarket(net, { models: [{ file: SILERO_VAD_V5, name: "Silero VAD v5", price: PRICE, royaltyBps: ROYALTY_BPS }] });
    url = market.worker!.url;
    modelId = market.models[0]!.modelId;
    const { walletClient, publicClient, account } = buyerClients();
    const hash = await walletClient.writeContract({ address: market.token, abi: testUsdcAbi, functionName: "faucet", args: [account.address, 100_000_000n] });
    await publicClient.waitForTransactionReceipt({ hash });
  });
  after(async () => {
    await market?.stop();
    await net?.stop();
  });

  function newBuyer(fetchImpl?: FetchLike, store = new MemoryBuyerStore()) {
    const { publicClient, walletClient } = buyerClients();
    return new Buyer({
      publicClient,
      wallet: walletClient,
      paymentChannels: market.contracts.paymentChannels,
      store,
      http: { fetch: fetchImpl, timeoutMs: 20_000 },
      retryDelayMs: 20,
      autoOpen: { deposit: 100n * PRICE },
      // Clear JSON: these tests rewrite and drop answers in the fetch itself to check the receipt and replay logic
      // under it; sealed answers (which such a rewrite cannot produce) are tested in sealed-relay.test.ts.
      sealing: false,
    });
  }

  async function workerView(channelId: Hex) {
    const res = await fetch(`${url}/v1/channels/${channelId}`);
    return (await res.json()) as { lastAccepted: string; deposit: string };
  }

  async function replays(): Promise<number> {
    const text = await (await fetch(`${url}/metrics`)).text();
    return Number(/^edgepay_replayed_answers_total (\d+)/m.exec(text)?.[1] ?? "0");
  }

  it("metered: a batch of 4 frames costs 4 prices (from the published rule), 65 frames are refused before anything is signed", async () => {
    const buyer = newBuyer();
    const first = await buyer.infer(modelId, frame(50), { workers: [url] });
    const batch = (n: number): Record<string, Tensor> => {
      const frames = Array.from({ length: n }, (_, k) => frame(60 + k).input!.data as Float32Array);
      const input = new Float32Array(512 * n);
      frames.forEach((f, k) => input.set(f, 512 * k));
      return {
        input: { type: "float32", dims: [n, 512], data: input },
        state: { type: "float32", dims: [2, n, 128], data: new Float32Array(2 * n * 128) },
        sr: { type: "int64", dims: [], data: BigInt64Array.of(16000n) },
      };
    };
    const r = await buyer.infer(modelId, batch(4), { workers: [url] });
    expect(r.channelId).to.equal(first.channelId);
    expect(r.units).to.equal(4n);
    expect(r.cost).to.equal(4n * PRICE);
    expect(r.receipt.units).to.equal(4n);
    expect(r.receipt.cumulativeAmount).to.equal(first.receipt.cumulativeAmount + 4n * PRICE);
    expect(r.outputs.output!.dims).to.deep.equal([4, 1]);
    const before = (await buyer.store.getChannel(r.channelId))!;
    expect(before.paid).to.equal(5n * PRICE);
    try {
      await buyer.infer(modelId, batch(65), { workers: [url] });
      expect.fail("65 frames were sent");
    } catch (error) {
      expect((error as EdgepayClientError).workerCode).to.equal("too_many_units");
    }
    const after = (await buyer.store.getChannel(r.channelId))!;
    expect(after.signed, "nothing signed for the refused batch").to.equal(before.signed);
    expect((await workerView(r.channelId)).lastAccepted).to.equal((5n * PRICE).toString());
  });

  it("opens a channel on first use and pays one price per verified answer", async () => {
    const buyer = newBuyer();
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await buyer.infer(modelId, frame(i), { workers: [url] }));
    const channelId = results[0]!.channelId;
    expect(results.map((r) => r.receipt.cumulativeAmount)).to.deep.equal([PRICE, 2n * PRICE, 3n * PRICE]);
    expect(results.every((r) => r.channelId === channelId)).to.equal(true);
    const p = results[2]!.outputs.output!.data as Float32Array;
    expect(p[0]).to.be.within(0, 1);
    expect((await workerView(channelId)).lastAccepted).to.equal((3n * PRICE).toString());
    const kept = await buyer.receipts({ channelId });
    expect(kept).to.have.length(3);
    expect(kept.every((r) => r.verification.valid)).to.equal(true);
    const record = (await buyer.store.getChannel(channelId))!;
    expect(record.terms.signer).to.not.equal(record.terms.payer); // a session key signs, not the wallet
  });

  it("pays from the channel it is given (not the newest to the same device and model), and refuses one it cannot use", async () => {
    const buyer = newBuyer();
    const older = await buyer.open({ device: market.device.address, modelId, token: market.token, deposit: 50n * PRICE, endpoint: url });
    const newer = await buyer.open({ device: market.device.address, modelId, token: market.token, deposit: 5n * PRICE, endpoint: url });
    for (let i = 0; i < 2; i++) {
      const r = await buyer.infer(modelId, frame(i), { workers: [url], channelId: older.channelId });
      expect(r.channelId).to.equal(older.channelId);
      expect(r.receipt.channelId.toLowerCase()).to.equal(older.channelId.toLowerCase());
    }
    expect((await workerView(older.channelId)).lastAccepted).to.equal((2n * PRICE).toString());
    expect((await workerView(newer.channelId)).lastAccepted).to.equal("0");
    // Without a channel id the client still picks the newest with credit (the CLI's behaviour).
    expect((await buyer.infer(modelId, frame(3), { workers: [url] })).channelId).to.equal(newer.channelId);
    // A channel for another model, or one this store has no key for, is refused before any voucher is sent.
    const err = await buyer.infer(modelId + 1n, frame(4), { workers: [url], channelId: older.channelId }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(EdgepayClientError);
    const unknown = await buyer.infer(modelId, frame(5), { workers: [url], channelId: `0x${"ab".repeat(32)}` }).catch((e: unknown) => e);
    expect((unknown as EdgepayClientError).code).to.equal("no_channel");
    expect((await workerView(older.channelId)).lastAccepted).to.equal((2n * PRICE).toString());
  });

  it("re-sends the same voucher when an answer is lost and gets the stored answer, paying once", async () => {
    const { state, fetchImpl } = controllableFetch();
    const buyer = newBuyer(fetchImpl);
    const first = await buyer.infer(modelId, frame(10), { workers: [url] });
    const before = await replays();
    state.dropNextAnswer = true;
    const second = await buyer.infer(modelId, frame(11), { workers: [url] });
    const dropped = state.dropped as { receipt: { signature: string; cumulativeAmount: string; sequence: string } };
    // The answer the buyer received is the one the worker had sent and lost: same receipt, same amount.
    expect(second.receipt.signature).to.equal(dropped.receipt.signature);
    expect(second.receipt.cumulativeAmount).to.equal(first.receipt.cumulativeAmount + PRICE);
    expect(await replays()).to.equal(before + 1);
    expect(BigInt((await workerView(second.channelId)).lastAccepted)).to.equal(2n * PRICE);
    const third = await buyer.infer(modelId, frame(12), { workers: [url] });
    expect(third.receipt.cumulativeAmount).to.equal(3n * PRICE);
    expect(await buyer.receipts({ channelId: second.channelId })).to.have.length(3);
  });

  it("re-sends the same voucher when the worker could not be reached, and it is accepted once", async () => {
    const { state, fetchImpl } = controllableFetch();
    const buyer = newBuyer(fetchImpl);
    const first = await buyer.infer(modelId, frame(20), { workers: [url] });
    state.refuseNext = 2;
    const second = await buyer.infer(modelId, frame(21), { workers: [url] });
    expect(second.receipt.cumulativeAmount).to.equal(first.receipt.cumulativeAmount + PRICE);
    expect(BigInt((await workerView(second.channelId)).lastAccepted)).to.equal(2n * PRICE);
  });

  it("an answer lost for good (dropped, then the device unreachable) is kept in doubt, never paid elsewhere, and recovered from the same device", async () => {
    const { state, fetchImpl } = controllableFetch();
    const buyer = newBuyer(fetchImpl);
    const events: string[] = [];
    const b = new Buyer({ ...buyerOptions(buyer), http: { fetch: fetchImpl }, retries: 2, onEvent: (e) => events.push(e.type) });
    const first = await b.infer(modelId, frame(70), { workers: [url] });
    // The worker accepts and answers the next request; the answer is lost; both re-sends are refused.
    state.dropNextAnswer = true;
    state.refuseNext = 2;
    const lost = await b.infer(modelId, frame(71), { workers: ["http://127.0.0.1:9", url] }).catch((e: unknown) => e);
    expect((lost as EdgepayClientError).code).to.equal("answer_in_doubt");
    expect(events).to.include("in_doubt");
    const pending = await b.inDoubt();
    expect(pending).to.have.length(1);
    expect(pending[0]!.amount).to.equal(first.receipt.cumulativeAmount + PRICE);
    expect(BigInt((await workerView(first.channelId)).lastAccepted), "the worker did accept it").to.equal(pending[0]!.amount);
    // While the device stays unreachable: still in doubt, and no new voucher is signed on that channel.
    state.refuseNext = 1;
    expect((await b.recover()).map((o) => o.status)).to.deep.equal(["still_in_doubt"]);
    const signedBefore = (await b.store.getChannel(first.channelId))!.signed;
    // Back: the identical voucher and inputs buy nothing new, the worker replays the paid answer and its receipt.
    const dropped = state.dropped as { receipt: { signature: string } };
    const before = await replays();
    const outcome = (await b.recover())[0]!;
    expect(outcome.status).to.equal("recovered");
    if (outcome.status !== "recovered") return;
    expect(outcome.result.receipt.signature).to.equal(dropped.receipt.signature);
    expect(outcome.result.cost).to.equal(PRICE);
    expect(await replays()).to.equal(before + 1);
    const record = (await b.store.getChannel(first.channelId))!;
    expect(record.inDoubt).to.equal(undefined);
    expect(record.signed).to.equal(signedBefore);
    expect(record.paid).to.equal(pending[0]!.amount);
    expect((await b.receipts({ channelId: first.channelId })).filter((r) => r.verification.valid)).to.have.length(2);
    // The channel goes on from there.
    const next = await b.infer(modelId, frame(72), { workers: [url] });
    expect(next.receipt.cumulativeAmount).to.equal(pending[0]!.amount + PRICE);
  });

  it("a replay refused because its limit was used up (by whoever saw the request) is still counted as paid: the device's own count decides", async () => {
    const { state, fetchImpl } = controllableFetch();
    const b = new Buyer({ ...buyerOptions(newBuyer(fetchImpl)), http: { fetch: fetchImpl }, retries: 0 });
    const first = await b.infer(modelId, frame(80), { workers: [url] });
    state.dropNextAnswer = true;
    const lost = await b.infer(modelId, frame(81), { workers: [url] }).catch((e: unknown) => e);
    expect((lost as EdgepayClientError).code).to.equal("answer_in_doubt");
    const [pending] = await b.inDoubt();
    expect(pending!.amount).to.equal(first.receipt.cumulativeAmount + PRICE);
    // An eavesdropper re-sends the captured request until the worker's replay limit is used up.
    // The exact bytes the client sent (the binary frame by default), re-made from what the client keeps in doubt.
    const inputs = Object.fromEntries(Object.entries(pending!.inputs).map(([k, w]) => [k, tensorFromWire(k, w)]));
    const { body, contentType } = encodeInferRequest(inputs, pending!.encoding ?? "json");
    expect(contentType).to.equal(TENSORS_MEDIA_TYPE);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${url}/v1/infer/${modelId}`, { method: "POST", headers: { "content-type": contentType, [VOUCHER_HEADER]: pending!.voucher, [MAC_HEADER]: pending!.mac! }, body });
      statuses.push(r.status);
    }
    expect(statuses.at(-1), statuses.join(",")).to.equal(429);
    const paidBefore = (await b.store.getChannel(first.channelId))!.paid;
    const [outcome] = await b.recover();
    expect(outcome!.status).to.equal("paid_unanswered");
    const record = (await b.store.getChannel(first.channelId))!;
    expect(record.inDoubt).to.equal(undefined);
    expect(record.paid, "counted as paid, not 'never accepted'").to.equal(pending!.amount);
    expect(paidBefore).to.equal(first.receipt.cumulativeAmount);
    expect(BigInt((await workerView(first.channelId)).lastAccepted)).to.equal(pending!.amount);
  });

  it("a proxy's 502 after the worker committed the answer keeps the request in doubt: never paid on another device", async () => {
    const { state, fetchImpl } = controllableFetch();
    const events: string[] = [];
    const b = new Buyer({ ...buyerOptions(newBuyer(fetchImpl)), http: { fetch: fetchImpl }, retries: 0, onEvent: (e) => events.push(e.type) });
    const first = await b.infer(modelId, frame(90), { workers: [url] });
    state.badGatewayNext = true;
    // A second worker URL is given: failing over to it would pay this frame twice.
    const lost = await b.infer(modelId, frame(91), { workers: [url, "http://127.0.0.1:9"] }).catch((e: unknown) => e);
    expect((lost as EdgepayClientError).code).to.equal("answer_in_doubt");
    expect(events).to.not.include("failover");
    const [pending] = await b.inDoubt();
    expect(BigInt((await workerView(first.channelId)).lastAccepted), "the worker did accept it").to.equal(pending!.amount);
    const [outcome] = await b.recover();
    expect(outcome!.status).to.equal("recovered");
    expect((await b.store.getChannel(first.channelId))!.paid).to.equal(pending!.amount);
  });

  it("pins the unit rule on the channel: a device that later bills by another unit is refused before anything is signed", async () => {
    let changeUnit = false;
    const fetchImpl: FetchLike = async (u, init) => {
      const res = await fetch(u, init);
      if (!changeUnit || !u.endsWith("/v1/offerings")) return res;
      // The same price per unit, but a "unit" of 128 samples: every frame would cost 4 prices.
      const body = (await res.json()) as { models: { unit: { name: string; shapes: Record<string, unknown[]> } }[] };
      for (const m of body.models) m.unit = { ...m.unit, name: "quarter-frame" };
      return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
    };
    const b = new Buyer({ ...buyerOptions(newBuyer(fetchImpl)), http: { fetch: fetchImpl }, offeringsTtlSeconds: 0 });
    const first = await b.infer(modelId, frame(100), { workers: [url] });
    const before = (await b.store.getChannel(first.channelId))!;
    expect(before.unitRule).to.be.a("string");
    changeUnit = true;
    const refused = await b.infer(modelId, frame(101), { workers: [url], channelId: first.channelId }).catch((e: unknown) => e);
    expect((refused as EdgepayClientError).code).to.equal("offering_mismatch");
    const after = (await b.store.getChannel(first.channelId))!;
    expect([after.signed, after.paid]).to.deep.equal([before.signed, before.paid]);
    expect(BigInt((await workerView(first.channelId)).lastAccepted)).to.equal(first.receipt.cumulativeAmount);
    // Back to the rule the channel was paid by: the channel goes on.
    changeUnit = false;
    const next = await b.infer(modelId, frame(102), { workers: [url], channelId: first.channelId });
    expect(next.receipt.cumulativeAmount).to.equal(first.receipt.cumulativeAmount + PRICE);
  });

  it("resyncs from the 402 when its own count is behind, without paying for an answer it did not get", async () => {
    const store = new MemoryBuyerStore();
    const buyer = newBuyer(undefined, store);
    const a = await buyer.infer(modelId, frame(30), { workers: [url] });
    await buyer.infer(modelId, frame(31), { workers: [url] });
    // The local record falls behind (e.g. restored from an old backup).
    const record = (await store.getChannel(a.channelId))!;
    await store.putChannel({ ...record, paid: 0n });
    const c = await buyer.infer(modelId, frame(32), { workers: [url] });
    expect(c.receipt.cumulativeAmount).to.equal(3n * PRICE);
    expect(BigInt((await workerView(a.channelId)).lastAccepted)).to.equal(3n * PRICE);
    expect((await store.getChannel(a.channelId))!.paid).to.equal(3n * PRICE);
  });

  it("refuses a worker that claims more was accepted than the client ever signed", async () => {
    const { state, fetchImpl } = controllableFetch();
    const store = new MemoryBuyerStore();
    const buyer = newBuyer(fetchImpl, store);
    const a = await buyer.infer(modelId, frame(40), { workers: [url] });
    const record = (await store.getChannel(a.channelId))!;
    await store.putChannel({ ...record, paid: 0n });
    state.rewrite = (status, body) => {
      if (status !== 402) return body;
      const payment = body.payment as Record<string, string>;
      return { ...body, payment: { ...payment, lastAccepted: (50n * PRICE).toString(), required: (51n * PRICE).toString() } };
    };
    const error = await buyer.infer(modelId, frame(41), { workers: [url] }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(EdgepayClientError);
    expect((error as EdgepayClientError).code).to.equal("worker_overclaims");
    expect((await store.getChannel(a.channelId))!.signed).to.equal(PRICE);
  });

  for (const [what, reason, tamper] of [
    ["an output changed on the way", "wrong_output_hash", (b: Record<string, unknown>) => {
      const outputs = b.outputs as Record<string, { data: number[] }>;
      outputs.output!.data[0] = outputs.output!.data[0]! + 0.25;
      return b;
    }],
    ["a receipt naming another model file", "wrong_model_hash", (b: Record<string, unknown>) => {
      (b.receipt as Record<string, string>).modelHash = `0x${"ab".repeat(32)}`;
      return b;
    }],
    ["a receipt for another amount", "wrong_amount", (b: Record<string, unknown>) => {
      (b.receipt as Record<string, string>).cumulativeAmount = "1";
      return b;
    }],
  ] as const) {
    it(`rejects ${what} (${reason}) and keeps the evidence`, async () => {
      const { state, fetchImpl } = controllableFetch();
      const buyer = newBuyer(fetchImpl);
      state.rewrite = (status, body) => (status === 200 ? tamper(body) : body);
      const error = await buyer.infer(modelId, frame(50), { workers: [url] }).catch((e: unknown) => e);
      expect((error as EdgepayClientError).code).to.equal("receipt_rejected");
      expect((error as EdgepayClientError).reason).to.equal(reason);
      const kept = await buyer.receipts();
      expect(kept).to.have.length(1);
      expect(kept[0]!.verification).to.deep.equal({ valid: false, reason });
    });
  }

  it("fails over from a device that does not answer to the next one offering the model", async () => {
    const buyer = newBuyer();
    const events: string[] = [];
    const failover = new Buyer({ ...buyerOptions(buyer), onEvent: (e) => events.push(e.type) });
    const r = await failover.infer(modelId, frame(60), { workers: ["http://127.0.0.1:9", url] });
    expect(r.endpoint).to.equal(url);
    expect(events).to.include("failover");
    // The dead device is now tried last: the next call goes straight to the live one.
    events.length = 0;
    const again = await failover.infer(modelId, frame(62), { workers: ["http://127.0.0.1:9", url] });
    expect(again.endpoint).to.equal(url);
    expect(events).to.deep.equal([]);
    const all = await failover.infer(modelId, frame(61), { workers: ["http://127.0.0.1:9"] }).catch((e: unknown) => e);
    expect((all as EdgepayClientError).code).to.equal("worker_unreachable");
  });

  function buyerOptions(b: Buyer) {
    return { publicClient: b.publicClient, wallet: b.wallet, paymentChannels: b.paymentChannels, store: b.store, retries: 1, retryDelayMs: 10, autoOpen: { deposit: 10n * PRICE }, sealing: false };
  }

  it("closes cooperatively: the device signs, the payer settles at once, balances exact to the unit", async () => {
    const buyer = newBuyer();
    const { publicClient, account } = buyerClients();
    const balance = (who: Address) => publicClient.readContract({ address: market.token, abi: testUsdcAbi, functionName: "balanceOf", args: [who] });
    const n = 5n;
    let channelId: Hex | undefined;
    for (let i = 0; i < Number(n); i++) channelId = (await buyer.infer(modelId, frame(70 + i), { workers: [url] })).channelId;
    const record = (await buyer.store.getChannel(channelId!))!;
    const [buyerBefore, providerBefore] = await Promise.all([balance(account.address), balance(market.provider)]);
    const state0 = await publicClient.readContract({ address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [channelId!] });

    const { amount } = await buyer.closeCooperatively(channelId!);
    expect(amount).to.equal(n * PRICE);
    const state = await publicClient.readContract({ address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [channelId!] });
    expect(state.settled).to.equal(true);
    expect(state.claimed).to.equal(n * PRICE);
    const delta = n * PRICE - state0.claimed;
    const royalty = (delta * BigInt(ROYALTY_BPS)) / 10_000n;
    expect(await balance(account.address)).to.equal(buyerBefore + record.deposit - n * PRICE);
    expect(await balance(market.provider)).to.equal(providerBefore + delta - royalty);

    // The worker refuses further vouchers on it; the client opens a fresh channel by itself.
    const next = await buyer.infer(modelId, frame(80), { workers: [url] });
    expect(next.channelId).to.not.equal(channelId);
    expect(next.receipt.cumulativeAmount).to.equal(PRICE);
    const listed = await buyer.channels();
    const closed = listed.find((c) => c.channelId === channelId)!;
    expect(closed.status).to.equal("settled");
    expect(closed.remaining).to.equal(0n);
    expect(listed.find((c) => c.channelId === next.channelId)!.remaining).to.equal(100n * PRICE - PRICE);
  });

  it("opens with an EIP-2612 permit (no approve transaction) and tops up", async () => {
    const buyer = newBuyer();
    const { publicClient, account } = buyerClients();
    const allowanceBefore = await publicClient.readContract({ address: market.token, abi: testUsdcAbi, functionName: "allowance", args: [account.address, market.contracts.paymentChannels] });
    const record = await buyer.open({ device: market.device.address, modelId, token: market.token, deposit: 7n * PRICE, approval: "permit", endpoint: url });
    expect(record.deposit).to.equal(7n * PRICE);
    await buyer.topUp(record.channelId, 3n * PRICE, "permit");
    expect((await buyer.store.getChannel(record.channelId))!.deposit).to.equal(10n * PRICE);
    // Permits are spent exactly by the pulls: no standing allowance left behind.
    expect(await publicClient.readContract({ address: market.token, abi: testUsdcAbi, functionName: "allowance", args: [account.address, market.contracts.paymentChannels] })).to.equal(allowanceBefore);
  });

  it("decodes contract errors into readable messages", async () => {
    const buyer = newBuyer();
    const record = await buyer.open({ device: market.device.address, modelId, token: market.token, deposit: PRICE, endpoint: url });
    await buyer.requestClose(record.channelId);
    const error = await buyer.requestClose(record.channelId).catch((e: unknown) => e);
    expect((error as EdgepayClientError).code).to.equal("transaction_failed");
    expect((error as Error).message).to.match(/requestClose failed: ChannelClosing\(channelId=0x[0-9a-f]{64}, closesAt=\d+\)/);
    const early = await buyer.withdraw(record.channelId).catch((e: unknown) => e);
    expect((early as Error).message).to.match(/ChallengePeriodActive/);
  });
});
