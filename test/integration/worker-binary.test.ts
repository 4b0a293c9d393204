// JSON and the binary tensor frame against a real worker on a real chain: the same inputs give the same outputs,
// inputHash/outputHash, units, cost and receipt fields either way (paid through the buyer client, and unpaid); the
// request MAC covers the frame's exact bytes; a replayed answer is the same in either encoding; every bad input is
// refused in both encodings with a stable 4xx code; and arbitrary mutations of a frame never crash the worker.
import { expect } from "chai";
import fc from "fast-check";
import { testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { Buyer, MemoryBuyerStore, type FetchLike, type InferResult } from "../../protocol/client/index.ts";
import { initialVadState, sileroVadInputs } from "../../protocol/client/inputs.ts";
import { innerTypeOf, isSealedType } from "../../protocol/sealed.ts";
import { decodeTensorFrame, encodeTensorFrame, TENSORS_MEDIA_TYPE } from "../../protocol/tensor-binary.ts";
import { hashTensors, tensorFromWire, tensorToWire, type Tensor, type TensorMapWire } from "../../protocol/tensors.ts";
import { ERROR_CODES, ERROR_STATUS } from "../../protocol/wire.ts";
import { clientsFor, startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { openChannel, paidHeaders, PPOCR_DIRECTION_CLS, setupMarket, SILERO_VAD_V5, type Market } from "../../scripts/lib/worker-fixture.ts";

const PRICE = 1_000n;
const BUYER = 4;

/** Silero VAD inputs of `frames` frames (one unit each). */
function vad(frames: number, seed = 0): Record<string, Tensor> {
  if (frames === 1) {
    const f = new Float32Array(512).map((_, i) => 0.4 * Math.sin((2 * Math.PI * (150 + seed) * i) / 16000));
    return sileroVadInputs(f, initialVadState());
  }
  const input = new Float32Array(512 * frames).map((_, i) => 0.3 * Math.sin((2 * Math.PI * (200 + seed) * i) / 16000));
  return {
    input: { type: "float32", dims: [frames, 512], data: input },
    state: { type: "float32", dims: [2, frames, 128], data: new Float32Array(256 * frames) },
    sr: { type: "int64", dims: [], data: new BigInt64Array([16000n]) },
  };
}

const toWire = (t: Record<string, Tensor>): TensorMapWire => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, tensorToWire(v)]));
const jsonBody = (t: Record<string, Tensor>) => JSON.stringify({ inputs: toWire(t) });

interface Reply {
  status: number;
  type: string;
  json?: Record<string, unknown>;
  outputs?: Record<string, Tensor>;
  meta?: Record<string, unknown>;
}

async function post(url: string, body: string | Uint8Array<ArrayBuffer>, headers: Record<string, string>): Promise<Reply> {
  const res = await fetch(url, { method: "POST", headers, body });
  const type = res.headers.get("content-type") ?? "";
  if (type === TENSORS_MEDIA_TYPE) {
    const frame = decodeTensorFrame(new Uint8Array(await res.arrayBuffer()), { allowMeta: true });
    return { status: res.status, type, outputs: frame.tensors, meta: JSON.parse(new TextDecoder().decode(frame.meta)) as Record<string, unknown> };
  }
  const text = await res.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`HTTP ${res.status} ${type} answered neither JSON nor a frame: ${text.slice(0, 200)}`);
  }
  const outputs = res.status === 200 ? Object.fromEntries(Object.entries(json.outputs as TensorMapWire).map(([k, w]) => [k, tensorFromWire(k, w)])) : undefined;
  return { status: res.status, type, json, ...(outputs ? { outputs } : {}) };
}

const JSON_H = { "content-type": "application/json" };
const BIN_H = { "content-type": TENSORS_MEDIA_TYPE };
const ACCEPT_BIN = { accept: TENSORS_MEDIA_TYPE };

/** The stable error code of a refusal (always JSON). */
function codeOf(r: Reply): string {
  expect(r.type).to.match(/^application\/json/);
  const code = (r.json!.error as { code: string }).code;
  expect(ERROR_CODES).to.include(code);
  expect(ERROR_STATUS[code as (typeof ERROR_CODES)[number]]).to.equal(r.status);
  return code;
}

describe("worker: JSON and binary tensor encodings", function () {
  this.timeout(300_000);
  let net: Localnet;
  let market: Market;
  let vadId: bigint;
  let clsId: bigint;
  let base: string;

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    market = await setupMarket(net, {
      models: [
        { file: SILERO_VAD_V5, name: "Silero VAD v5", price: PRICE },
        { file: PPOCR_DIRECTION_CLS, name: "cls", price: PRICE },
      ],
      startOptions: { unpaidRoute: true },
      // Hundreds of refused requests from one address: the unpaid budget is not under test here.
      config: { http: { unpaidPerClient: { burst: 1_000_000, perSecond: 1_000_000 } } },
    });
    base = market.worker!.url;
    vadId = market.models[0]!.modelId;
    clsId = market.models[1]!.modelId;
    const { walletClient, publicClient, account } = clientsFor(net, BUYER);
    await publicClient.waitForTransactionReceipt({ hash: await walletClient.writeContract({ address: market.token, abi: testUsdcAbi, functionName: "faucet", args: [account.address, 100_000_000n] }) });
  });
  after(async () => {
    await market?.stop();
    await net?.stop();
  });

  /** A buyer whose requests are recorded (content types sent and received). */
  function buyer(encoding?: "json" | "binary", sealing = true) {
    const seen: { sent: string; received: string }[] = [];
    const recording: FetchLike = async (url, init) => {
      const res = await fetch(url, init);
      if (url.includes("/v1/infer/")) seen.push({ sent: new Headers(init?.headers).get("content-type") ?? "", received: res.headers.get("content-type") ?? "" });
      return res;
    };
    const { publicClient, walletClient } = clientsFor(net, BUYER);
    const b = new Buyer({
      publicClient,
      wallet: walletClient,
      paymentChannels: market.contracts.paymentChannels,
      store: new MemoryBuyerStore(),
      http: { fetch: recording, ...(encoding ? { encoding } : {}) },
      autoOpen: { deposit: 1_000n * PRICE },
      sealing,
    });
    return { b, seen };
  }

  it("paid through the buyer client: binary (sealed) by default, and the same hashes, units, cost and receipt fields as JSON", async () => {
    const bin = buyer();
    const json = buyer("json");
    const clear = buyer(undefined, false);
    const results: [InferResult, InferResult][] = [];
    for (const [modelId, inputs] of [
      [vadId, vad(1)],
      [vadId, vad(3, 5)],
      [clsId, { x: { type: "float32", dims: [2, 3, 48, 192], data: new Float32Array(2 * 3 * 48 * 192).map((_, i) => ((i % 192) / 96) - 1) } } as Record<string, Tensor>],
    ] as const) {
      const a = await bin.b.infer(modelId, inputs, { workers: [base] });
      const j = await json.b.infer(modelId, inputs, { workers: [base] });
      results.push([a, j]);
      // The frame in clear (sealing off) pays the same.
      const c = await clear.b.infer(modelId, inputs, { workers: [base] });
      for (const field of ["inputHash", "outputHash", "units"] as const) expect(c.receipt[field], field).to.equal(a.receipt[field]);
      const units = BigInt(inputs.input?.dims[0] ?? inputs.x!.dims[0]!);
      for (const r of [a, j]) {
        expect(r.units).to.equal(units);
        expect(r.cost).to.equal(units * PRICE);
        expect(r.receipt.inputHash).to.equal(hashTensors(inputs));
        expect(r.receipt.outputHash).to.equal(hashTensors(r.outputs));
      }
      for (const field of ["inputHash", "outputHash", "units", "modelId", "modelHash"] as const) expect(a.receipt[field], field).to.equal(j.receipt[field]);
      expect(Object.keys(a.outputs).sort()).to.deep.equal(Object.keys(j.outputs).sort());
      for (const name of Object.keys(a.outputs)) expect(Array.from(a.outputs[name]!.data as Float32Array)).to.deep.equal(Array.from(j.outputs[name]!.data as Float32Array));
    }
    // The buyer seals by default: the encoding is the sealed body's inner type, both ways.
    for (const s of [...bin.seen, ...json.seen]) expect(isSealedType(s.sent) && isSealedType(s.received), JSON.stringify(s)).to.equal(true);
    expect(bin.seen.map((s) => innerTypeOf(s.sent))).to.deep.equal(Array(3).fill(TENSORS_MEDIA_TYPE));
    expect(bin.seen.map((s) => innerTypeOf(s.received))).to.deep.equal(Array(3).fill(TENSORS_MEDIA_TYPE));
    expect(json.seen.map((s) => innerTypeOf(s.sent))).to.deep.equal(Array(3).fill("application/json"));
    expect(json.seen.every((s) => innerTypeOf(s.received).startsWith("application/json"))).to.equal(true);
    expect(clear.seen.map((s) => s.sent)).to.deep.equal(Array(3).fill(TENSORS_MEDIA_TYPE));
    expect(clear.seen.map((s) => s.received)).to.deep.equal(Array(3).fill(TENSORS_MEDIA_TYPE));
    // Every receipt verified, and the worker stored each one.
    for (const b of [bin.b, json.b]) expect((await b.receipts()).map((r) => r.verification.valid)).to.deep.equal([true, true, true]);
    const stored = market.worker!.internals.store.receipts();
    for (const [a, j] of results) for (const r of [a, j]) expect(stored.some((s) => s.sequence === r.receipt.sequence && s.inputHash === r.receipt.inputHash)).to.equal(true);
  });

  it("unpaid: every combination of request and answer encoding gives the same outputs and output hash", async () => {
    const inputs = vad(2, 9);
    const url = `${base}/v1/unpaid/infer/${vadId}`;
    const frame = encodeTensorFrame(inputs);
    const replies = [
      await post(url, jsonBody(inputs), JSON_H),
      await post(url, jsonBody(inputs), { ...JSON_H, ...ACCEPT_BIN }),
      await post(url, frame, BIN_H),
      await post(url, frame, { ...BIN_H, ...ACCEPT_BIN }),
      await post(url, frame, { ...BIN_H, accept: `${TENSORS_MEDIA_TYPE};q=0, application/json` }),
      await post(url, frame, { "content-type": "Application/Vnd.Edgepay.Tensors", accept: "text/html, Application/Vnd.Edgepay.Tensors;q=0.9" }),
      await post(url, frame, { ...BIN_H, accept: "*/*" }),
    ];
    expect(replies.map((r) => r.status)).to.deep.equal([200, 200, 200, 200, 200, 200, 200]);
    expect(replies.map((r) => r.type === TENSORS_MEDIA_TYPE)).to.deep.equal([false, true, false, true, false, true, false]);
    const hashes = replies.map((r) => (r.meta ?? r.json)!.outputHash);
    expect(new Set(hashes).size).to.equal(1);
    for (const r of replies) expect(hashTensors(r.outputs!)).to.equal(hashes[0]);
  });

  it("paid by hand: the MAC covers the frame's exact bytes; a replay answers the same receipt in either encoding", async () => {
    const ch = await openChannel(market, { buyer: 5, deposit: 100n * PRICE });
    const url = `${base}/v1/infer/${vadId}`;
    const frame = encodeTensorFrame(vad(1, 3));
    // One float changed: still a valid frame, but not the bytes the MAC and body hash name.
    const other = frame.slice();
    other[other.length - 20] = other[other.length - 20]! ^ 0x01;
    expect(() => decodeTensorFrame(other.slice(), { allowMeta: false })).to.not.throw();
    const headers = await paidHeaders(market, ch, PRICE, frame);
    const swapped = await post(url, other, { ...BIN_H, ...ACCEPT_BIN, ...headers });
    expect(swapped.status).to.equal(402);
    expect(codeOf(swapped)).to.equal("invalid_mac");
    const first = await post(url, frame, { ...BIN_H, ...ACCEPT_BIN, ...headers });
    expect(first.status, JSON.stringify(first.json)).to.equal(200);
    const receipt = first.meta!.receipt as Record<string, string>;
    expect(receipt.inputHash).to.equal(hashTensors(decodeTensorFrame(frame.slice(), { allowMeta: false }).tensors));
    expect(first.meta!.units).to.equal(1);
    // The answer was lost: the identical request is answered again from the store, in the encoding asked for.
    const again = await post(url, frame, { ...BIN_H, ...ACCEPT_BIN, ...headers });
    const asJson = await post(url, frame, { ...BIN_H, ...headers });
    expect((again.meta!.receipt as Record<string, string>).signature).to.equal(receipt.signature);
    expect((asJson.json!.receipt as Record<string, string>).signature).to.equal(receipt.signature);
    expect(hashTensors(again.outputs!)).to.equal(receipt.outputHash);
    expect(hashTensors(asJson.outputs!)).to.equal(receipt.outputHash);
    // The same tensors as JSON are other bytes: not a replay of that voucher.
    const jsonAgain = await post(url, jsonBody(vad(1, 3)), { ...JSON_H, ...(await paidHeaders(market, ch, PRICE, jsonBody(vad(1, 3)))) });
    expect(codeOf(jsonAgain)).to.equal("voucher_stale");
  });

  describe("each bad input is refused in both encodings", () => {
    const good = () => vad(1);
    const frameOf = (t: Record<string, Tensor>) => encodeTensorFrame(t);
    /** A frame with one table field patched (little-endian), for what the encoder refuses to write. */
    const patched = (t: Record<string, Tensor>, at: number, bytes: number[]) => {
      const f = frameOf(t);
      f.set(bytes, at);
      return f;
    };
    /** The encoder refuses reserved names: write an allowed one of the same length and patch its bytes. */
    const renamed = (f: Uint8Array<ArrayBuffer>, from: string, to: string) => {
      const at = Buffer.from(f).indexOf(from);
      expect(at).to.be.greaterThan(0);
      f.set(new TextEncoder().encode(to), at);
      return f;
    };
    const ok = frameOf(good());
    const cases: { what: string; json: string; binary: Uint8Array<ArrayBuffer>; code: string; binaryCode?: string }[] = [
      {
        what: "a reserved name",
        json: `{"inputs": {"__proto__": {"type": "float32", "dims": [1], "data": [0]}}}`,
        binary: renamed(frameOf({ ...good(), __proto_x: { type: "float32", dims: [1], data: new Float32Array(1) } }), "__proto_x", "__proto__"),
        code: "reserved_name",
      },
      {
        what: "an unknown dtype",
        json: jsonBody(good()).replace('"type":"int64"', '"type":"complex64"'),
        // sr's entry is the third: its type code byte
        binary: patched(good(), 16 + (4 + 8 + 8 + 5) + (4 + 12 + 8 + 5), [9]),
        code: "invalid_tensor",
      },
      {
        what: "dims that do not match the data",
        json: JSON.stringify({ inputs: { ...toWire(good()), input: { type: "float32", dims: [1, 511], data: new Array(512).fill(0) } } }),
        binary: patched(good(), 16 + 4 + 4, [0xff, 0x01, 0, 0]),
        code: "invalid_tensor",
      },
      {
        what: "the wrong shape for the model",
        json: JSON.stringify({ inputs: { ...toWire(good()), input: { type: "float32", dims: [1, 256], data: new Array(256).fill(0) } } }),
        binary: frameOf({ ...good(), input: { type: "float32", dims: [1, 256], data: new Float32Array(256) } }),
        code: "invalid_tensor",
      },
      {
        what: "the wrong type for the model",
        json: JSON.stringify({ inputs: { ...toWire(good()), sr: { type: "int32", dims: [], data: [16000] } } }),
        binary: frameOf({ ...good(), sr: { type: "int32", dims: [], data: new Int32Array([16000]) } }),
        code: "invalid_tensor",
      },
      {
        what: "a missing input",
        json: JSON.stringify({ inputs: { input: toWire(good()).input } }),
        binary: frameOf({ input: good().input! }),
        code: "invalid_tensor",
      },
      {
        what: "too many tensors",
        json: JSON.stringify({ inputs: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`t${i}`, { type: "uint8", dims: [0], data: [] }])) }),
        binary: patched(good(), 6, [65, 0]),
        code: "invalid_tensor",
      },
      {
        what: "a dim beyond 2^24 (JSON's limit too)",
        json: JSON.stringify({ inputs: { ...toWire(good()), input: { type: "float32", dims: [1, 2 ** 24 + 1], data: [] } } }),
        binary: patched(good(), 16 + 4 + 4, [0x01, 0x00, 0x00, 0x01]),
        code: "invalid_tensor",
      },
      {
        what: "a dim that is not a number (NaN is null in JSON; the largest u32 in a frame)",
        json: jsonBody(good()).replace('"dims":[1,512]', '"dims":[1,null]'),
        binary: patched(good(), 16 + 4 + 4, [0xff, 0xff, 0xff, 0xff]),
        code: "invalid_tensor",
      },
      {
        what: "a data length that overflows (2^64 - 1 bytes; JSON: more values than dims)",
        json: JSON.stringify({ inputs: { ...toWire(good()), sr: { type: "int64", dims: [], data: ["1", "2"] } } }),
        binary: patched(good(), 16 + 4 + 8, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        code: "invalid_tensor",
      },
      {
        what: "more units than the rule allows (65 frames)",
        json: jsonBody(vad(65)),
        binary: frameOf(vad(65)),
        code: "too_many_units",
      },
      {
        what: "a truncated body",
        json: jsonBody(good()).slice(0, 100),
        binary: ok.slice(0, 100),
        code: "invalid_json",
        binaryCode: "bad_request",
      },
      {
        what: "a header longer than the body",
        json: `{"inputs": {"input": {"type": "float32", "dims": [1, 512], "data": [`,
        binary: patched(good(), 8, [0xff, 0xff, 0xff, 0x7f]),
        code: "invalid_json",
        binaryCode: "bad_request",
      },
    ];
    for (const c of cases) {
      it(`${c.what}: ${c.code}${c.binaryCode ? ` / ${c.binaryCode}` : ""}`, async () => {
        for (const route of [`${base}/v1/unpaid/infer/${vadId}`]) {
          const j = await post(route, c.json, JSON_H);
          const b = await post(route, c.binary, { ...BIN_H, ...ACCEPT_BIN });
          expect(codeOf(j), `JSON: ${JSON.stringify(j.json)}`).to.equal(c.code);
          expect(codeOf(b), `binary: ${JSON.stringify(b.json)}`).to.equal(c.binaryCode ?? c.code);
        }
      });
    }

    it("paid route: a bad frame is refused before anything is stored, with the same code", async () => {
      const ch = await openChannel(market, { buyer: 6, deposit: 100n * PRICE });
      const body = frameOf({ ...good(), sr: { type: "int32", dims: [], data: new Int32Array([16000]) } });
      const r = await post(`${base}/v1/infer/${vadId}`, body, { ...BIN_H, ...ACCEPT_BIN, ...(await paidHeaders(market, ch, PRICE, body)) });
      expect(codeOf(r)).to.equal("invalid_tensor");
      const view = (await (await fetch(`${base}/v1/channels/${ch.id}`)).json()) as { lastAccepted: string };
      expect(view.lastAccepted).to.equal("0");
    });

    it("an unknown content type: 415 on both routes", async () => {
      for (const route of [`${base}/v1/unpaid/infer/${vadId}`, `${base}/v1/infer/${vadId}`]) {
        const r = await post(route, ok, { "content-type": "application/vnd.edgepay.tensorsx" });
        expect(codeOf(r)).to.equal("unsupported_media_type");
      }
    });

    it("a frame above the body limit: 413 body_too_large", async () => {
      const big = frameOf({ x: { type: "float32", dims: [1_200_000], data: new Float32Array(1_200_000) } });
      expect(big.length).to.be.greaterThan(market.worker!.internals.config.maxBodyBytes);
      expect(codeOf(await post(`${base}/v1/unpaid/infer/${vadId}`, big, BIN_H))).to.equal("body_too_large");
    });
  });

  it("arbitrary mutations of a frame: never a 5xx, a stable 4xx code or an answer to a canonical frame; the worker stays up", async () => {
    const url = `${base}/v1/unpaid/infer/${vadId}`;
    const valid = encodeTensorFrame(vad(1, 1));
    const codes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        // Half the changes hit the header (96 bytes), where a byte changes meaning; the rest land in the elements.
        fc.array(fc.record({ at: fc.oneof(fc.nat({ max: 95 }), fc.nat({ max: valid.length - 1 })), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 3 }),
        fc.option(fc.nat({ max: valid.length }), { nil: undefined }),
        async (sets, cut) => {
          const bytes = valid.slice(0, cut ?? valid.length);
          for (const s of sets) if (s.at < bytes.length) bytes[s.at] = s.value;
          const r = await post(url, bytes, { ...BIN_H, ...ACCEPT_BIN });
          if (r.status === 200) {
            // Accepted only when it is a frame the encoder would write (floats made canonical).
            const local = decodeTensorFrame(bytes.slice(), { allowMeta: false });
            expect(hashTensors(local.tensors)).to.be.a("string");
            codes.set("ok", (codes.get("ok") ?? 0) + 1);
            return;
          }
          expect(r.status).to.be.within(400, 499);
          const code = codeOf(r);
          codes.set(code, (codes.get(code) ?? 0) + 1);
        },
      ),
      { numRuns: 250 },
    );
    expect(codes.get("bad_request") ?? 0).to.be.greaterThan(10);
    expect(codes.get("invalid_tensor") ?? 0).to.be.greaterThan(5);
    expect((await fetch(`${base}/healthz`)).status).to.equal(200);
  });
});
