// Metered pricing against a real worker: the price is per unit of work (a Silero VAD frame, an OCR image), the
// unit count comes from the input shapes before anything runs, a voucher must add exactly units x price, a batch
// above the model's maxUnits is 413 too_many_units, every other dynamic axis is bounded by the unit rule, and the
// receipt signs the units charged. The attack this closes: one price buying a batch of 600 VAD frames.
import { expect } from "chai";
import fc from "fast-check";
import { bytesToHex } from "viem";
import { costOf, countUnits, DEMO_UNIT_RULES, unitRuleWire, UnitError } from "../../protocol/units.ts";
import { recoverReceiptSigner } from "../../protocol/receipt.ts";
import { tensorFromWire, type TensorMapWire } from "../../protocol/tensors.ts";
import { BODY_HASH_HEADER, bodyHash, MAC_HEADER } from "../../protocol/session.ts";
import { VOUCHER_HEADER } from "../../protocol/voucher.ts";
import { errorBodyWire, inferResponseWire, offeringsWire, paymentRequiredBodyWire } from "../../protocol/wire.ts";
import { ModelRuntime } from "../../worker/models/runtime.ts";
import { resolveUnitRule } from "../../worker/metering.ts";
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createReceiptHasher } from "../../worker/receipts.ts";
import { waitFor } from "../../scripts/lib/chain.ts";
import { startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { macHeader, openChannel, PPOCR_DIRECTION_CLS, setupMarket, SILERO_VAD_V5, voucherHeader, type Market, type TestChannel } from "../../scripts/lib/worker-fixture.ts";

const VAD_PRICE = 1_000n;
const CLS_PRICE = 5_000n;

/** N VAD frames (zeros and a small tone), with `stateRows` rows of state (N when coupled correctly). */
function vadBatch(frames: number, opts: { samples?: number; stateRows?: number; seed?: number } = {}): TensorMapWire {
  const samples = opts.samples ?? 512;
  const rows = opts.stateRows ?? frames;
  const seed = opts.seed ?? 0;
  return {
    input: { type: "float32", dims: [frames, samples], data: Array.from({ length: frames * samples }, (_, i) => (i % 7 === seed % 7 ? 0.25 : 0)) },
    state: { type: "float32", dims: [2, rows, 128], data: new Array(2 * rows * 128).fill(0) },
    sr: { type: "int64", dims: [], data: ["16000"] },
  };
}

function clsBatch(images: number, width = 192): TensorMapWire {
  const n = images * 3 * 48 * width;
  return { x: { type: "float32", dims: [images, 3, 48, width], data: Array.from({ length: n }, (_, i) => ((i % width) / width > 0.5 ? 1 : -1)) } };
}

describe("metered pricing (units of work)", function () {
  this.timeout(300_000);
  let net: Localnet;
  let market: Market;
  let vad: bigint;
  let cls: bigint;
  let channel: TestChannel;
  let clsChannel: TestChannel;

  /** A paid request as a buyer sends it: the voucher and the request MAC over these exact body bytes. */
  async function post(modelId: bigint, inputs: TensorMapWire, header?: string) {
    const body = JSON.stringify({ inputs });
    const payer = header ? [channel, clsChannel].find((c) => header.toLowerCase().startsWith(c.id.toLowerCase())) : undefined;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (header) headers[VOUCHER_HEADER] = header;
    if (header && payer) {
      headers[MAC_HEADER] = macHeader(market, payer, header, body, { modelId });
      headers[BODY_HASH_HEADER] = bodyHash(body);
    }
    const res = await fetch(`${market.worker!.url}/v1/infer/${modelId}`, {
      method: "POST",
      headers,
      body,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  function snapshot() {
    const store = market.worker!.internals.store;
    return {
      receipts: store.receipts().map((r) => `${r.sequence}:${r.channelId}:${r.amount}:${r.units}`),
      channels: store.channels().map((c) => `${c.id}:${c.acceptedAmount}:${c.acceptedSig}`),
    };
  }

  const accepted = (ch: TestChannel) => market.worker!.internals.store.channels().find((c) => c.id === ch.id)?.acceptedAmount ?? 0n;

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    market = await setupMarket(net, {
      models: [
        { file: SILERO_VAD_V5, price: VAD_PRICE },
        { file: PPOCR_DIRECTION_CLS, price: CLS_PRICE },
      ],
      config: { maxBodyBytes: 4 * 1024 * 1024 },
    });
    vad = market.models[0]!.modelId;
    cls = market.models[1]!.modelId;
    channel = await openChannel(market, { buyer: 3, deposit: 100_000_000n });
    clsChannel = await openChannel(market, { buyer: 4, modelId: cls, deposit: 10_000_000n });
    // The watcher adopts both channels from their ChannelOpened events; snapshots start after that.
    await waitFor("both channels known to the worker", async () => market.worker!.internals.store.channels().length >= 2, 20_000);
  });
  after(async () => {
    await market?.stop();
    await net?.stop();
  });

  it("the rule is pure: units from shapes, coupled and bounded axes, too many units", () => {
    const rule = DEMO_UNIT_RULES["silero-vad"];
    expect(unitRuleWire.parse(rule)).to.deep.equal(rule);
    expect(countUnits(rule, { input: [3, 512], state: [2, 3, 128], sr: [] })).to.equal(3);
    expect(() => countUnits(rule, { input: [3, 512], state: [2, 1, 128], sr: [] })).to.throw(UnitError, /state/);
    expect(() => countUnits(rule, { input: [3, 1024], state: [2, 3, 128], sr: [] })).to.throw(UnitError, /input/);
    expect(() => countUnits(rule, { input: [0, 512], state: [2, 0, 128], sr: [] })).to.throw(UnitError, /0 frames/);
    try {
      countUnits(rule, { input: [600, 512], state: [2, 600, 128], sr: [] });
      expect.fail("600 frames were accepted");
    } catch (error) {
      expect((error as UnitError).code).to.equal("too_many_units");
    }
    expect(costOf(VAD_PRICE, 600)).to.equal(600_000n);
  });

  it("the worker refuses a model whose rule leaves a dynamic axis unbounded or contradicts it, and knows a demo model by its hash", async () => {
    const runtime = await ModelRuntime.load({ modelId: 7n, name: "vad copy", file: SILERO_VAD_V5 });
    try {
      // No rule at all for a model with dynamic axes (a copy elsewhere is still recognised by its sha256).
      const copy = path.join(mkdtempSync(path.join(tmpdir(), "edgepay-units-")), "model.onnx");
      copyFileSync(SILERO_VAD_V5, copy);
      const copied = await ModelRuntime.load({ modelId: 7n, name: "vad copy", file: copy });
      expect(resolveUnitRule(copied)).to.deep.equal(DEMO_UNIT_RULES["silero-vad"]);
      await copied.release();
      // A rule that forgets the state's batch axis, or that contradicts a fixed size, is refused.
      const loose = { name: "frame", input: "input", axis: 0, maxUnits: 8, shapes: { input: ["units" as const, 512], sr: [] } };
      expect(() => resolveUnitRule(runtime, loose)).to.throw(/input "state" has a dynamic axis but the unit rule does not bound it/);
      const wrong = { ...loose, shapes: { ...loose.shapes, state: [3, "units" as const, 128] } };
      expect(() => resolveUnitRule(runtime, wrong)).to.throw(/the model fixes it at 2/);
      // A bounded axis ({max}) is a valid bound.
      const bounded = { ...loose, shapes: { input: ["units" as const, { max: 512 }], state: [2, "units" as const, 128], sr: [] } };
      expect(resolveUnitRule(runtime, bounded)).to.deep.equal(bounded);
      expect(countUnits(bounded, { input: [2, 256], state: [2, 2, 128], sr: [] })).to.equal(2);
      expect(() => countUnits(bounded, { input: [2, 513], state: [2, 2, 128], sr: [] })).to.throw(UnitError);
    } finally {
      await runtime.release();
    }
  });

  it("publishes each model's unit rule in the offerings", async () => {
    const offers = offeringsWire.parse(await (await fetch(`${market.worker!.url}/v1/offerings`)).json());
    const byId = new Map(offers.models.map((m) => [m.modelId, m]));
    expect(byId.get(vad.toString())!.unit).to.deep.equal(DEMO_UNIT_RULES["silero-vad"]);
    expect(byId.get(cls.toString())!.unit).to.deep.equal(DEMO_UNIT_RULES["ppocr-cls"]);
    expect(byId.get(vad.toString())!.price).to.equal(VAD_PRICE.toString());
  });

  it("the attack: the model answers 600 frames in one run, and the worker refuses them for one price (413 too_many_units, nothing stored)", async () => {
    // Reproduction: what the worker used to sell for one price is a real 600-frame batch.
    const runtime = await ModelRuntime.load({ modelId: vad, name: "vad", file: SILERO_VAD_V5 });
    const batch = vadBatch(600);
    const out = await runtime.run(Object.fromEntries(Object.entries(batch).map(([n, w]) => [n, tensorFromWire(n, w)])));
    await runtime.release();
    expect(out.output!.dims).to.deep.equal([600, 1]);

    const before = snapshot();
    const last = accepted(channel);
    const onePrice = await post(vad, batch, await voucherHeader(market, channel, last + VAD_PRICE));
    expect(onePrice.status, JSON.stringify(onePrice.body).slice(0, 300)).to.equal(413);
    expect(errorBodyWire.parse(onePrice.body).error.code).to.equal("too_many_units");
    // Not a bigger bill either: 600 x price is refused the same way, before any payment check.
    const fullPrice = await post(vad, batch, await voucherHeader(market, channel, last + 600n * VAD_PRICE));
    expect(fullPrice.status).to.equal(413);
    expect(errorBodyWire.parse(fullPrice.body).error.code).to.equal("too_many_units");
    expect(snapshot(), "database unchanged").to.deep.equal(before);
  });

  it("a batch within maxUnits costs units x price: one price is 402 amount_too_low naming the cost, the exact cost buys N answers and a receipt for N units", async () => {
    const before = snapshot();
    const last = accepted(channel);
    const batch = vadBatch(8, { seed: 3 });
    const cheap = await post(vad, batch, await voucherHeader(market, channel, last + VAD_PRICE));
    expect(cheap.status).to.equal(402);
    const p = paymentRequiredBodyWire.parse(cheap.body);
    expect(p.error.code).to.equal("amount_too_low");
    expect(p.payment.units).to.equal(8);
    expect(p.payment.cost).to.equal((8n * VAD_PRICE).toString());
    expect(p.payment.required).to.equal((last + 8n * VAD_PRICE).toString());
    expect(p.payment.unit).to.deep.equal(DEMO_UNIT_RULES["silero-vad"]);
    expect(snapshot()).to.deep.equal(before);

    const over = await post(vad, batch, await voucherHeader(market, channel, last + 9n * VAD_PRICE));
    expect(over.status).to.equal(402);
    expect(paymentRequiredBodyWire.parse(over.body).error.code).to.equal("amount_too_high");
    expect(snapshot()).to.deep.equal(before);

    const ok = await post(vad, batch, await voucherHeader(market, channel, last + 8n * VAD_PRICE));
    expect(ok.status, JSON.stringify(ok.body).slice(0, 300)).to.equal(200);
    const body = inferResponseWire.parse(ok.body);
    expect(body.outputs.output!.dims).to.deep.equal([8, 1]);
    expect(body.units).to.equal(8);
    expect(body.cost).to.equal((8n * VAD_PRICE).toString());
    expect(body.price).to.equal(VAD_PRICE.toString());
    expect(body.receipt.units).to.equal(8n);
    expect(body.receipt.cumulativeAmount).to.equal(last + 8n * VAD_PRICE);
    // The units are signed: the device key signed a digest that covers them (and the on-chain hasher agrees).
    const signer = await recoverReceiptSigner(body.receipt, market.chainId, market.contracts.paymentChannels);
    expect(signer.toLowerCase()).to.equal(market.device.address.toLowerCase());
    const digest = bytesToHex(createReceiptHasher(market.chainId, market.contracts.paymentChannels)({ ...body.receipt, units: 7n }));
    const other = await recoverReceiptSigner({ ...body.receipt, units: 7n }, market.chainId, market.contracts.paymentChannels).catch(() => undefined);
    expect(other?.toLowerCase(), `a receipt with other units (digest ${digest}) recovers another key`).to.not.equal(market.device.address.toLowerCase());
    const stored = market.worker!.internals.store.lastReceiptOf(channel.id)!;
    expect(stored.units).to.equal(8n);
  });

  it("bounds every other dynamic axis: state rows must equal the frames, a frame is 512 samples, an image 3x48x192", async () => {
    const before = snapshot();
    const last = accepted(channel);
    for (const inputs of [vadBatch(4, { stateRows: 1 }), vadBatch(2, { samples: 4096 }), vadBatch(1, { samples: 511 })]) {
      const a = await post(vad, inputs, await voucherHeader(market, channel, last + VAD_PRICE));
      expect(a.status, JSON.stringify(a.body).slice(0, 300)).to.equal(400);
      expect(errorBodyWire.parse(a.body).error.code).to.equal("invalid_tensor");
    }
    const wide = await post(cls, clsBatch(1, 960), await voucherHeader(market, clsChannel, CLS_PRICE));
    expect(wide.status).to.equal(400);
    expect(errorBodyWire.parse(wide.body).error.code).to.equal("invalid_tensor");
    expect(snapshot()).to.deep.equal(before);
  });

  it("the OCR classifier bills per image: 3 images for 3 prices, 5 images are 413", async () => {
    const last = accepted(clsChannel);
    const ok = await post(cls, clsBatch(3), await voucherHeader(market, clsChannel, last + 3n * CLS_PRICE));
    expect(ok.status, JSON.stringify(ok.body).slice(0, 300)).to.equal(200);
    const body = inferResponseWire.parse(ok.body);
    expect(body.receipt.units).to.equal(3n);
    expect(Object.values(body.outputs)[0]!.dims).to.deep.equal([3, 2]);
    const before = snapshot();
    const nine = await post(cls, { x: { type: "float32", dims: [5, 3, 48, 192], data: new Array(5 * 3 * 48 * 192).fill(0) } }, await voucherHeader(market, clsChannel, last + 5n * CLS_PRICE));
    expect(nine.status).to.equal(413);
    expect(errorBodyWire.parse(nine.body).error.code).to.equal("too_many_units");
    expect(snapshot()).to.deep.equal(before);
  });

  it("property: for any shape the worker accepts, the amount charged is units x price; any shape it refuses stores nothing", async () => {
    let accepts = 0;
    let refusals = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          frames: fc.integer({ min: 0, max: 80 }),
          samples: fc.constantFrom(512, 512, 512, 256, 513),
          stateDelta: fc.constantFrom(0, 0, 0, 1, -1),
          // How the buyer prices it: the published rule (units x price), one price, or one unit too many.
          pay: fc.constantFrom("rule", "rule", "one", "plus"),
          seed: fc.integer({ min: 0, max: 6 }),
        }),
        async ({ frames, samples, stateDelta, pay, seed }) => {
          const stateRows = Math.max(0, frames + stateDelta);
          const inputs = vadBatch(frames, { samples, stateRows, seed });
          const last = accepted(channel);
          const units = BigInt(frames);
          const amount = pay === "rule" ? last + units * VAD_PRICE : pay === "one" ? last + VAD_PRICE : last + (units + 1n) * VAD_PRICE;
          const before = snapshot();
          const a = await post(vad, inputs, await voucherHeader(market, channel, amount));
          if (a.status === 200) {
            accepts++;
            const body = inferResponseWire.parse(a.body);
            const r = body.receipt;
            // Charged == units x price, units == what the shapes say.
            expect(r.units).to.equal(units);
            expect(r.cumulativeAmount - last).to.equal(r.units * VAD_PRICE);
            expect(BigInt(body.cost)).to.equal(r.units * VAD_PRICE);
            expect(accepted(channel)).to.equal(amount);
            expect(body.outputs.output!.dims).to.deep.equal([frames, 1]);
            const after = snapshot();
            expect(after.receipts.length).to.equal(before.receipts.length + 1);
          } else {
            refusals++;
            expect(a.status, JSON.stringify(a.body).slice(0, 200)).to.be.oneOf([400, 402, 413, 422]);
            expect(snapshot(), `refused ${JSON.stringify({ frames, samples, stateRows, pay })} but stored something`).to.deep.equal(before);
            // The worker only refuses what the rule or the payment forbids.
            const valid = frames >= 1 && frames <= 64 && samples === 512 && stateRows === frames;
            if (valid && pay === "rule") expect.fail(`a valid request paid by the rule was refused: ${JSON.stringify(a.body).slice(0, 300)}`);
          }
        },
      ),
      { numRuns: 30, seed: 20261201 },
    );
    expect(accepts, "some requests were accepted").to.be.greaterThan(0);
    expect(refusals, "some requests were refused").to.be.greaterThan(0);
  });
});
