// Sealed requests against a real worker on a real chain, through a relay on 127.0.0.1 that records and rewrites
// traffic as anyone on a shared network could: it sees no plaintext tensors; every alteration is refused with a
// stable code (invalid_mac for a request, sealed_answer_invalid for an answer, invalid_sealed_body for an anonymous
// body); a paid answer altered on the way is recovered from the device; a worker whose key is not the registered
// device's is refused before anything is sent; `http.requireSealed` refuses clear requests; the CLI says why.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { Buyer, EdgepayClientError, MemoryBuyerStore } from "../../protocol/client/index.ts";
import { postUnpaidSealed } from "../../protocol/client/anonymous.ts";
import { initialVadState, sileroVadInputs } from "../../protocol/client/inputs.ts";
import { channelSealKeys, innerTypeOf, isSealedType, openResponse, sealRequest, sha256Hex, type SealContext } from "../../protocol/sealed.ts";
import { BODY_HASH_HEADER, bodyHash, inferPath, MAC_HEADER, publicKeyOf, requestMac, sessionKey } from "../../protocol/session.ts";
import { decodeTensorFrame, encodeTensorFrame, TENSORS_MEDIA_TYPE } from "../../protocol/tensor-binary.ts";
import { hashTensors, tensorToWire, type Tensor, type TensorMapWire } from "../../protocol/tensors.ts";
import { decodeVoucherHeader, VOUCHER_HEADER } from "../../protocol/voucher.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { clientsFor, startLocalnet, TEST_KEYS, type Localnet } from "../../scripts/lib/localnet.ts";
import { startRelay, type Relay } from "../helpers/relay.ts";
import { openChannel, setupMarket, SILERO_VAD_V5, voucherHeader, type Market } from "../../scripts/lib/worker-fixture.ts";

const PRICE = 1_000n;
const BUYER = 4;
const run = promisify(execFile);

/** A frame whose samples are distinctive numbers, to look for in the relay's recordings. */
function frame(seed: number): Record<string, Tensor> {
  const f = new Float32Array(512);
  for (let i = 0; i < f.length; i++) f[i] = 0.123456 * Math.sin((2 * Math.PI * (97 + seed) * i) / 16000) + 0.0001 * seed;
  return sileroVadInputs(f, initialVadState());
}

function wireOf(t: Record<string, Tensor>): TensorMapWire {
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, tensorToWire(v)]));
}

/** Plaintext a relay must not find: the JSON numbers of the input, and 32 raw bytes of its float32 data. */
function leaks(bytes: Buffer, t: Record<string, Tensor>): string[] {
  const found: string[] = [];
  const data = t.input!.data as Float32Array;
  const json = JSON.stringify(Array.from(data.subarray(1, 4)));
  if (bytes.includes(Buffer.from(json.slice(1, -1)))) found.push(`json numbers ${json}`);
  if (bytes.includes(Buffer.from(data.buffer, data.byteOffset + 4, 32))) found.push("raw float32 bytes");
  for (const word of ['"inputs"', '"outputs"', '"receipt"', '"float32"']) if (bytes.includes(Buffer.from(word))) found.push(word);
  return found;
}

const flip = (b: Buffer, at: number) => {
  const out = Buffer.from(b);
  out[at]! ^= 0x5a;
  return out;
};

async function rejection(p: Promise<unknown>): Promise<EdgepayClientError> {
  try {
    await p;
  } catch (error) {
    expect(error).to.be.instanceOf(EdgepayClientError);
    return error as EdgepayClientError;
  }
  throw new Error("expected a refusal");
}

describe("sealed requests through a relay on a shared network", function () {
  this.timeout(240_000);
  let net: Localnet;
  let market: Market;
  let relay: Relay;
  let modelId: bigint;

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    market = await setupMarket(net, { models: [{ file: SILERO_VAD_V5, name: "Silero VAD v5", price: PRICE }], startOptions: { unpaidRoute: true } });
    modelId = market.models[0]!.modelId;
    relay = await startRelay(market.worker!.url);
    const { walletClient, publicClient, account } = clientsFor(net, BUYER);
    await publicClient.waitForTransactionReceipt({ hash: await walletClient.writeContract({ address: market.token, abi: testUsdcAbi, functionName: "faucet", args: [account.address, 100_000_000n] }) });
  });
  beforeEach(() => {
    relay.seen = [];
    relay.onRequest = undefined;
    relay.onResponse = undefined;
  });
  after(async () => {
    await relay?.close();
    await market?.stop();
    await net?.stop();
  });

  function newBuyer(extra: Partial<ConstructorParameters<typeof Buyer>[0]> = {}) {
    const { publicClient, walletClient } = clientsFor(net, BUYER);
    return new Buyer({
      publicClient,
      wallet: walletClient,
      paymentChannels: market.contracts.paymentChannels,
      store: new MemoryBuyerStore(),
      http: { timeoutMs: 20_000 },
      retryDelayMs: 20,
      autoOpen: { deposit: 100n * PRICE },
      ...extra,
    });
  }

  const infers = () => relay.seen.filter((e) => e.path.startsWith("/v1/infer/"));

  it("the relay sees no plaintext tensors either way, and the sealed answer equals the clear one", async () => {
    const inputs = frame(1);
    const sealed = await newBuyer().infer(modelId, inputs, { workers: [relay.url] });
    const seen = infers();
    expect(seen).to.have.length(1);
    expect(isSealedType(String(seen[0]!.requestHeaders["content-type"]))).to.equal(true);
    expect(isSealedType(String(seen[0]!.responseHeaders["content-type"]))).to.equal(true);
    // The buyer's default encoding, the binary frame, travels inside the seal both ways.
    expect(innerTypeOf(String(seen[0]!.requestHeaders["content-type"]))).to.equal(TENSORS_MEDIA_TYPE);
    expect(innerTypeOf(String(seen[0]!.responseHeaders["content-type"]))).to.equal(TENSORS_MEDIA_TYPE);
    expect(leaks(seen[0]!.requestBody, inputs)).to.deep.equal([]);
    const out = sealed.outputs.output!.data as Float32Array;
    expect(seen[0]!.responseBody.includes(Buffer.from(out.buffer, out.byteOffset, 4))).to.equal(false);
    expect(leaks(seen[0]!.responseBody, inputs)).to.deep.equal([]);
    expect(sealed.receipt.cumulativeAmount).to.equal(PRICE);

    // The same input in clear (a buyer with sealing off): the relay reads it all (the frame's raw floats, or the
    // JSON), and the outputs are the same.
    relay.seen = [];
    const clear = await newBuyer({ sealing: false }).infer(modelId, inputs, { workers: [relay.url] });
    expect(leaks(infers()[0]!.requestBody, inputs)).to.include("raw float32 bytes");
    relay.seen = [];
    await newBuyer({ sealing: false, http: { timeoutMs: 20_000, encoding: "json" } }).infer(modelId, inputs, { workers: [relay.url] });
    expect(leaks(infers()[0]!.requestBody, inputs)).to.include('"inputs"');
    expect(Array.from(clear.outputs.output!.data as Float32Array)).to.deep.equal(Array.from(out));
    expect(clear.receipt.outputHash).to.equal(sealed.receipt.outputHash);
    expect(clear.receipt.inputHash).to.equal(sealed.receipt.inputHash);
  });

  it("an altered request body is refused by the worker (402 invalid_mac), with or without a matching body hash; nothing is accepted", async () => {
    const buyer = newBuyer({ retries: 0 });
    const first = await buyer.infer(modelId, frame(2), { workers: [relay.url] });
    for (const fixHash of [false, true]) {
      relay.onRequest = (p, r) => {
        if (!p.startsWith("/v1/infer/")) return r;
        const body = flip(r.body, r.body.length - 5);
        return { headers: fixHash ? { ...r.headers, [BODY_HASH_HEADER]: bodyHash(body) } : r.headers, body };
      };
      const e = await rejection(buyer.infer(modelId, frame(3), { workers: [relay.url] }));
      expect(e.code).to.equal("worker_rejected");
      expect(e.workerCode).to.equal("invalid_mac");
    }
    relay.onRequest = undefined;
    const view = (await (await fetch(`${market.worker!.url}/v1/channels/${first.channelId}`)).json()) as { lastAccepted: string };
    expect(view.lastAccepted).to.equal(first.receipt.cumulativeAmount.toString());
    // The channel still works, at the next amount.
    const next = await buyer.infer(modelId, frame(3), { workers: [relay.url] });
    expect(next.receipt.cumulativeAmount).to.equal(first.receipt.cumulativeAmount + PRICE);
  });

  it("an altered, replayed or downgraded answer is refused (sealed_answer_invalid); the paid answer is recovered from the device", async () => {
    const buyer = newBuyer({ retries: 1 });
    const first = await buyer.infer(modelId, frame(4), { workers: [relay.url] });
    const oldAnswer = infers().at(-1)!;
    const attacks: [string, (status: number, r: { headers: Record<string, string | string[] | undefined>; body: Buffer }) => { headers: Record<string, string | string[] | undefined>; body: Buffer }][] = [
      ["flipped byte", (_s, r) => ({ ...r, body: flip(r.body, 20) })],
      ["an older sealed answer", (_s, r) => ({ headers: r.headers, body: oldAnswer.responseBody })],
      ["a clear answer", (_s, r) => ({ headers: { ...r.headers, "content-type": "application/json" }, body: Buffer.from(JSON.stringify({ outputs: {}, receipt: {} })) })],
    ];
    let paid = first.receipt.cumulativeAmount;
    for (const [what, attack] of attacks) {
      relay.onResponse = (p, status, r) => (p.startsWith("/v1/infer/") && status === 200 ? attack(status, r) : r);
      const e = await rejection(buyer.infer(modelId, frame(5), { workers: [relay.url] }));
      expect(e.code, what).to.equal("sealed_answer_invalid");
      const record = (await buyer.store.getChannel(first.channelId))!;
      expect(record.inDoubt?.amount, what).to.equal(paid + PRICE);
      relay.onResponse = undefined;
      const [outcome] = await buyer.recover();
      expect(outcome!.status, what).to.equal("recovered");
      if (outcome?.status === "recovered") expect(outcome.result.receipt.cumulativeAmount).to.equal(paid + PRICE);
      paid += PRICE;
    }
  });

  it("a worker whose offered key is not the registered device's is refused before anything is sent (device_key_mismatch, device_not_registered)", async () => {
    const stranger = privateKeyToAccount(TEST_KEYS[8]);
    const rewriteOfferings = (change: (o: Record<string, unknown>) => void) => {
      relay.onResponse = (p, _s, r) => {
        if (p !== "/v1/offerings") return r;
        const o = JSON.parse(r.body.toString()) as Record<string, unknown>;
        change(o);
        return { headers: r.headers, body: Buffer.from(JSON.stringify(o)) };
      };
    };
    // The relay's own key under the registered address.
    rewriteOfferings((o) => (o.devicePublicKey = publicKeyOf(TEST_KEYS[8])));
    let e = await rejection(newBuyer().infer(modelId, frame(6), { workers: [relay.url] }));
    expect(e.code).to.equal("device_key_mismatch");
    expect(e.message).to.include(stranger.address).and.to.include(market.device.address);
    // Its own key and address: consistent, but not registered.
    rewriteOfferings((o) => {
      o.devicePublicKey = publicKeyOf(TEST_KEYS[8]);
      o.device = stranger.address;
    });
    e = await rejection(newBuyer().infer(modelId, frame(6), { workers: [relay.url] }));
    expect(e.code).to.equal("device_not_registered");
    expect(e.message).to.include(stranger.address);
    expect(infers(), "nothing was sent for inference").to.have.length(0);
    // The genuine worker, but the caller picked another device from the registry.
    relay.onResponse = undefined;
    e = await rejection(newBuyer().infer(modelId, frame(6), { workers: [relay.url], device: stranger.address }));
    expect(e.code).to.equal("device_key_mismatch");
    expect(e.message).to.include(stranger.address).and.to.include(market.device.address);
    expect(infers()).to.have.length(0);
  });

  it("the CLI refuses a substituted device key with one clear line", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "edgepay-sealed-cli-"));
    try {
      await writeFile(path.join(dir, "in.json"), JSON.stringify(wireOf(frame(7))));
      relay.onResponse = (p, _s, r) => {
        if (p !== "/v1/offerings") return r;
        const o = JSON.parse(r.body.toString()) as Record<string, unknown>;
        o.devicePublicKey = publicKeyOf(TEST_KEYS[8]);
        return { headers: r.headers, body: Buffer.from(JSON.stringify(o)) };
      };
      const env = {
        ...process.env,
        EDGEPAY_RPC_URL: net.chain.url,
        EDGEPAY_PAYMENT_CHANNELS: market.contracts.paymentChannels,
        EDGEPAY_BUYER_KEY: TEST_KEYS[BUYER],
        EDGEPAY_BUYER_HOME: path.join(dir, "store"),
      };
      const cli = path.join(ROOT, "protocol/node/cli.ts");
      const result = await run(process.execPath, [cli, "infer", "--worker", relay.url, "--model", modelId.toString(), "--input", path.join(dir, "in.json"), "--deposit", "0.1"], { cwd: ROOT, env, timeout: 60_000 }).then(
        (r) => ({ code: 0, stderr: r.stderr }),
        (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
      );
      expect(result.code).to.not.equal(0);
      expect(result.stderr).to.match(/device_key_mismatch: .*belongs to 0x[0-9a-fA-F]{40}, but the offerings name device 0x[0-9a-fA-F]{40}/);
      expect(infers()).to.have.length(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a body that passes the MAC but does not open gets a sealed 400 invalid_sealed_body", async () => {
    const channel = await openChannel(market, { buyer: 5, deposit: 10n * PRICE });
    const header = await voucherHeader(market, channel, PRICE);
    const v = decodeVoucherHeader(header)!;
    const ctx = { kind: "channel" as const, chainId: market.chainId, paymentChannels: market.contracts.paymentChannels, channelId: channel.id, cumulativeAmount: PRICE, signature: v.signature, modelId, method: "POST", path: inferPath(modelId) };
    const session = sessionKey(channel.signer.privateKey, publicKeyOf(market.device.privateKey), channel.id);
    const wrong = await sealRequest(channelSealKeys(sessionKey(channel.signer.privateKey, publicKeyOf(TEST_KEYS[8]), channel.id)), ctx, "application/json", new TextEncoder().encode(JSON.stringify({ inputs: wireOf(frame(8)) })));
    const hash = sha256Hex(wrong.body);
    const mac = requestMac(session, { ...ctx, bodyHash: hash });
    const res = await fetch(`${relay.url}/v1/infer/${modelId}`, {
      method: "POST",
      headers: { "content-type": wrong.contentType, [VOUCHER_HEADER]: header, [MAC_HEADER]: mac, [BODY_HASH_HEADER]: hash },
      body: wrong.body as BodyInit,
    });
    expect(res.status).to.equal(400);
    const opened = await openResponse(channelSealKeys(session), ctx, hash, 400, res.headers.get("content-type"), new Uint8Array(await res.arrayBuffer()));
    expect(JSON.parse(new TextDecoder().decode(opened.body)).error.code).to.equal("invalid_sealed_body");
  });

  it("a sealed request carrying the binary frame gets a sealed binary answer, with the receipt hashes of sealed JSON", async () => {
    const channel = await openChannel(market, { buyer: 6, deposit: 10n * PRICE });
    const session = sessionKey(channel.signer.privateKey, publicKeyOf(market.device.privateKey), channel.id);
    const keys = channelSealKeys(session);
    const inputs = frame(12);
    /** One sealed paid request at `amount` with `inner` bytes of `innerType`, asking for `accept`; the opened answer. */
    const send = async (amount: bigint, innerType: string, inner: Uint8Array, accept: string) => {
      const header = await voucherHeader(market, channel, amount);
      const v = decodeVoucherHeader(header)!;
      const ctx: SealContext = { kind: "channel", chainId: market.chainId, paymentChannels: market.contracts.paymentChannels, channelId: channel.id, cumulativeAmount: amount, signature: v.signature, modelId, method: "POST", path: inferPath(modelId) };
      const sealed = await sealRequest(keys, ctx, innerType, inner);
      const hash = sha256Hex(sealed.body);
      const headers = { "content-type": sealed.contentType, accept, [VOUCHER_HEADER]: header, [MAC_HEADER]: requestMac(session, { ...ctx, bodyHash: hash }), [BODY_HASH_HEADER]: hash };
      const res = await fetch(`${relay.url}/v1/infer/${modelId}`, { method: "POST", headers, body: sealed.body as BodyInit });
      const envelope = new Uint8Array(await res.arrayBuffer());
      expect(res.status, new TextDecoder().decode(envelope).slice(0, 300)).to.equal(200);
      return { ...(await openResponse(keys, ctx, hash, 200, res.headers.get("content-type"), envelope)), envelope };
    };
    type Meta = { receipt: { cumulativeAmount: string; inputHash: string; outputHash: string; units: string; signature: string }; units: number; cost: string };

    const binary = await send(PRICE, TENSORS_MEDIA_TYPE, encodeTensorFrame(inputs), TENSORS_MEDIA_TYPE);
    expect(binary.innerType).to.equal(TENSORS_MEDIA_TYPE);
    const decoded = decodeTensorFrame(binary.body, { allowMeta: true });
    const meta = JSON.parse(new TextDecoder().decode(decoded.meta)) as Meta;
    expect(meta.receipt.cumulativeAmount).to.equal(PRICE.toString());
    expect(meta.receipt.inputHash).to.equal(hashTensors(inputs));
    expect(meta.receipt.outputHash).to.equal(hashTensors(decoded.tensors));
    // The relay saw the seal only: no output floats, no receipt.
    const out = decoded.tensors.output!.data as Float32Array;
    const seen = infers().at(-1)!;
    expect(seen.responseBody.includes(Buffer.from(out.buffer, out.byteOffset, 8))).to.equal(false);
    expect(leaks(seen.responseBody, inputs)).to.deep.equal([]);
    expect(leaks(seen.requestBody, inputs)).to.deep.equal([]);

    // The identical request again (an answer lost on the way): the stored answer, re-sealed as the same frame.
    const replay = await send(PRICE, TENSORS_MEDIA_TYPE, encodeTensorFrame(inputs), TENSORS_MEDIA_TYPE);
    expect(replay.innerType).to.equal(TENSORS_MEDIA_TYPE);
    const replayed = decodeTensorFrame(replay.body, { allowMeta: true });
    expect((JSON.parse(new TextDecoder().decode(replayed.meta)) as Meta).receipt.signature).to.equal(meta.receipt.signature);
    expect(hashTensors(replayed.tensors)).to.equal(meta.receipt.outputHash);

    // The same inputs as sealed JSON at the next amount: the same tensors, so the same input and output hashes.
    const json = await send(2n * PRICE, "application/json", new TextEncoder().encode(JSON.stringify({ inputs: wireOf(inputs) })), "application/json");
    expect(json.innerType).to.match(/^application\/json/);
    const answer = JSON.parse(new TextDecoder().decode(json.body)) as Meta & { outputs: TensorMapWire };
    expect(answer.receipt.cumulativeAmount).to.equal((2n * PRICE).toString());
    expect(answer.receipt.inputHash).to.equal(meta.receipt.inputHash);
    expect(answer.receipt.outputHash).to.equal(meta.receipt.outputHash);
    expect(answer.receipt.units).to.equal(meta.receipt.units);
    expect(answer.cost).to.equal(meta.cost);
    expect(answer.outputs.output!.data).to.deep.equal(Array.from(out));

    // Mixed: a sealed frame asking for JSON is answered in sealed JSON, a sealed JSON body asking for the frame in a sealed frame.
    const frameToJson = await send(3n * PRICE, TENSORS_MEDIA_TYPE, encodeTensorFrame(inputs), "application/json");
    expect(frameToJson.innerType).to.match(/^application\/json/);
    expect((JSON.parse(new TextDecoder().decode(frameToJson.body)) as Meta).receipt.outputHash).to.equal(meta.receipt.outputHash);
    const jsonToFrame = await send(4n * PRICE, "application/json", new TextEncoder().encode(JSON.stringify({ inputs: wireOf(inputs) })), TENSORS_MEDIA_TYPE);
    expect(jsonToFrame.innerType).to.equal(TENSORS_MEDIA_TYPE);
    expect(hashTensors(decodeTensorFrame(jsonToFrame.body, { allowMeta: true }).tensors)).to.equal(meta.receipt.outputHash);
  });

  it("the buyer's sealed frame and sealed JSON get the same receipt hashes and outputs; a lost sealed frame answer is recovered", async () => {
    const inputs = frame(13);
    const binary = await newBuyer().infer(modelId, inputs, { workers: [relay.url] });
    expect(innerTypeOf(String(infers().at(-1)!.responseHeaders["content-type"]))).to.equal(TENSORS_MEDIA_TYPE);
    relay.seen = [];
    const json = await newBuyer({ http: { timeoutMs: 20_000, encoding: "json" } }).infer(modelId, inputs, { workers: [relay.url] });
    expect(innerTypeOf(String(infers()[0]!.requestHeaders["content-type"]))).to.equal("application/json");
    expect(innerTypeOf(String(infers()[0]!.responseHeaders["content-type"]))).to.match(/^application\/json/);
    expect(json.receipt.inputHash).to.equal(binary.receipt.inputHash);
    expect(json.receipt.outputHash).to.equal(binary.receipt.outputHash);
    expect(Array.from(json.outputs.output!.data as Float32Array)).to.deep.equal(Array.from(binary.outputs.output!.data as Float32Array));

    // The answer to a sealed frame altered on the way: kept in doubt with both its encoding and its seal, and the
    // re-send (frame rebuilt, then re-sealed to the same bytes, so the stored MAC holds) recovers the paid answer.
    const buyer = newBuyer({ retries: 0 });
    const first = await buyer.infer(modelId, inputs, { workers: [relay.url] });
    relay.onResponse = (p, status, r) => (p.startsWith("/v1/infer/") && status === 200 ? { ...r, body: flip(r.body, 25) } : r);
    relay.seen = [];
    expect((await rejection(buyer.infer(modelId, frame(14), { workers: [relay.url] }))).code).to.equal("sealed_answer_invalid");
    const lost = infers()[0]!;
    const record = (await buyer.store.getChannel(first.channelId))!;
    expect(record.inDoubt).to.include({ encoding: "binary", sealed: true, amount: first.receipt.cumulativeAmount + PRICE });
    relay.onResponse = undefined;
    relay.seen = [];
    const [outcome] = await buyer.recover();
    expect(outcome!.status).to.equal("recovered");
    expect(infers()[0]!.requestBody.equals(lost.requestBody), "the re-send is byte for byte the lost request").to.equal(true);
    if (outcome?.status === "recovered") {
      expect(outcome.result.receipt.cumulativeAmount).to.equal(first.receipt.cumulativeAmount + PRICE);
      expect(outcome.result.receipt.inputHash).to.equal(hashTensors(frame(14)));
    }
  });

  it("first contact without a channel: a request sealed to the device key alone; tampering refused", async () => {
    const inputs = frame(9);
    const device = publicKeyOf(market.device.privateKey) as Hex;
    const ok = await postUnpaidSealed(relay.url, modelId, wireOf(inputs), device);
    expect(ok.status).to.equal(200);
    expect((ok.json as { outputs: Record<string, unknown> }).outputs).to.have.property("output");
    const seen = relay.seen.filter((e) => e.path.startsWith("/v1/unpaid/"));
    expect(leaks(seen[0]!.requestBody, inputs)).to.deep.equal([]);
    expect(leaks(seen[0]!.responseBody, inputs)).to.deep.equal([]);
    // An altered ciphertext byte: the device refuses it (400, sealed), and its answer is bound to the altered
    // request's hash, so the buyer cannot take it for an answer to what it sent either.
    relay.seen = [];
    relay.onRequest = (p, r) => (p.startsWith("/v1/unpaid/") ? { ...r, body: flip(r.body, r.body.length - 3) } : r);
    expect((await rejection(postUnpaidSealed(relay.url, modelId, wireOf(inputs), device))).code).to.equal("sealed_answer_invalid");
    expect(relay.seen[0]!.status).to.equal(400);
    expect(isSealedType(String(relay.seen[0]!.responseHeaders["content-type"]))).to.equal(true);
    // An altered answer, or a request sealed to a key that is not the device's, does not open at the buyer.
    relay.onRequest = undefined;
    relay.onResponse = (p, s, r) => (p.startsWith("/v1/unpaid/") ? { ...r, body: flip(r.body, 30) } : r);
    expect((await rejection(postUnpaidSealed(relay.url, modelId, wireOf(inputs), device))).code).to.equal("sealed_answer_invalid");
    relay.onResponse = undefined;
    const wrongKey = await postUnpaidSealed(relay.url, modelId, wireOf(inputs), publicKeyOf(TEST_KEYS[8]) as Hex).catch((e: EdgepayClientError) => e);
    expect(wrongKey).to.be.instanceOf(EdgepayClientError);
    expect((wrongKey as EdgepayClientError).code).to.equal("sealed_answer_invalid");
  });

  it("http.requireSealed: clear requests are refused (400 sealing_required), sealed ones served", async () => {
    await market.worker!.stop();
    market.worker = undefined;
    const worker = await market.startWorker({ http: { requireSealed: true } as never });
    const strict = await startRelay(worker.url);
    try {
      const e = await rejection(newBuyer({ sealing: false }).infer(modelId, frame(10), { workers: [strict.url] }));
      expect(e.workerCode).to.equal("sealing_required");
      const r = await newBuyer().infer(modelId, frame(10), { workers: [strict.url] });
      expect(r.units).to.equal(1n);
      const raw = await fetch(`${strict.url}/v1/unpaid/infer/${modelId}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ inputs: wireOf(frame(10)) }) });
      expect(raw.status).to.equal(400);
      expect(((await raw.json()) as { error: { code: string } }).error.code).to.equal("sealing_required");
    } finally {
      await strict.close();
    }
  });
});
