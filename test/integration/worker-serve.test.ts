// The worker's paid path end to end on a real chain: offerings, 402, paid answers with chained, signed receipts,
// the session-MAC fast path with deferred verification, cooperative close, and the settler's claim.
import { expect } from "chai";
import { bytesToHex, recoverTypedDataAddress, type Hex } from "viem";
import { paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { closeTypes, channelsDomain, deviceBindingTypes, deviceRegistryDomain } from "../../protocol/eip712.ts";
import { receiptDigest, recoverReceiptSigner, signedReceiptWire } from "../../protocol/receipt.ts";
import { hashTensors, tensorFromWire, type Tensor } from "../../protocol/tensors.ts";
import { voucherDigest } from "../../protocol/voucher.ts";
import { hashTensorsFast } from "../../worker/hashing.ts";
import { createReceiptHasher, createVoucherHasher } from "../../worker/receipts.ts";
import { closeResponseWire, inferResponseWire, offeringsWire, paymentRequiredBodyWire } from "../../protocol/wire.ts";
import { closePath } from "../../protocol/session.ts";
import { clientsFor, startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { openChannel, paidHeaders, setupMarket, vadInputs, type Market, type TestChannel } from "../../scripts/lib/worker-fixture.ts";

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("worker: fast hashes equal the protocol's reference ones", () => {
  it("tensor hash (incl. -0, int64, scalars, empty and several tensors), voucher and receipt digests", () => {
    const sets: Record<string, Tensor>[] = [
      { a: { type: "float32", dims: [2, 2], data: Float32Array.from([1.5, -0, 0, -2]) } },
      { x: { type: "int64", dims: [], data: BigInt64Array.from([16000n]) }, b: { type: "float64", dims: [0], data: new Float64Array(0) } },
      { z: { type: "uint8", dims: [3], data: Uint8Array.from([1, 2, 255]) }, y: { type: "int32", dims: [1, 2], data: Int32Array.from([-7, 7]) } },
      Object.fromEntries(Object.entries(vadInputs(3)).map(([n, w]) => [n, tensorFromWire(n, w)])),
    ];
    for (const t of sets) expect(hashTensorsFast(t)).to.equal(hashTensors(t));
    const pc = "0x5FbDB2315678afecb367f032d93F642f64180aa3" as const;
    const id = `0x${"ab".repeat(32)}` as Hex;
    for (const amount of [0n, 1n, 123456789n, 2n ** 96n - 1n]) {
      expect(bytesToHex(createVoucherHasher(31337, pc)(id, amount))).to.equal(voucherDigest(31337, pc, id, amount));
      const r = { channelId: id, cumulativeAmount: amount, units: amount % 1000n, sequence: 7n, modelId: 3n, modelHash: id, inputHash: id, outputHash: id, previous: id, timestamp: 1_800_000_000n };
      expect(bytesToHex(createReceiptHasher(31337, pc)(r))).to.equal(receiptDigest(r, 31337, pc));
    }
  });
});

describe("worker: paid inference", function () {
  this.timeout(180_000);
  let net: Localnet;
  let market: Market;
  let channel: TestChannel;

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    market = await setupMarket(net, { config: { verification: { maxUnverifiedValue: "3000" }, owner: clientsFor(net, 2).account.address } });
    channel = await openChannel(market, { buyer: 3, deposit: 1_000_000n });
  });
  after(async () => {
    await market?.stop();
    await net?.stop();
  });

  it("publishes offerings with price, royalty, model hash, tensor specs and the device public key", async () => {
    const res = await fetch(`${market.worker!.url}/v1/offerings`);
    const body = offeringsWire.parse(await res.json());
    expect(body.device).to.equal(market.device.address);
    expect(body.payee).to.equal(market.provider);
    expect(body.chainId).to.equal(31337);
    expect(body.models).to.have.length(1);
    const m = body.models[0]!;
    expect(m.modelId).to.equal(market.models[0]!.modelId.toString());
    expect(m.price).to.equal("1000");
    expect(m.royaltyBps).to.equal(1000);
    expect(m.modelHash).to.equal(market.models[0]!.hash);
    expect(m.inputs.map((i) => i.name)).to.deep.equal(["input", "state", "sr"]);
  });

  it("serves the device key's binding for its configured owner only", async () => {
    const res = await fetch(`${market.worker!.url}/v1/binding`);
    expect(res.status).to.equal(200);
    const b = (await res.json()) as { device: Hex; owner: Hex; deadline: string; bindingSignature: Hex };
    expect(b.owner).to.equal(market.provider);
    const signer = await recoverTypedDataAddress({
      domain: deviceRegistryDomain(31337, market.contracts.deviceRegistry),
      types: deviceBindingTypes,
      primaryType: "DeviceBinding",
      message: { device: b.device, owner: b.owner, deadline: BigInt(b.deadline) },
      signature: b.bindingSignature,
    });
    expect(signer).to.equal(market.device.address);
    const other = await fetch(`${market.worker!.url}/v1/binding?owner=${market.modelOwner}`);
    expect(other.status).to.equal(400);
  });

  it("answers 402 with payment requirements when no voucher is sent", async () => {
    const res = await post(`${market.worker!.url}/v1/infer/${market.models[0]!.modelId}`, { inputs: vadInputs() });
    expect(res.status).to.equal(402);
    const body = paymentRequiredBodyWire.parse(res.body);
    expect(body.error.code).to.equal("payment_required");
    expect(body.payment.price).to.equal("1000");
    expect(body.payment.required).to.equal("1000");
    expect(body.payment.device).to.equal(market.device.address);
  });

  it("serves paid inferences with a chain of device-signed receipts over input and output hashes", async () => {
    const url = `${market.worker!.url}/v1/infer/${market.models[0]!.modelId}`;
    let previous: Hex = `0x${"00".repeat(32)}`;
    for (let i = 1n; i <= 3n; i++) {
      const inputs = vadInputs(Number(i));
      const res = await post(url, { inputs }, await paidHeaders(market, channel, 1000n * i, JSON.stringify({ inputs })));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const body = inferResponseWire.parse(res.body);
      const receipt = { ...body.receipt };
      expect(receipt.cumulativeAmount).to.equal(1000n * i);
      expect(receipt.sequence).to.equal(i);
      expect(receipt.previous).to.equal(previous);
      expect(receipt.modelHash).to.equal(market.models[0]!.hash);
      const inTensors = Object.fromEntries(Object.entries(inputs).map(([n, w]) => [n, tensorFromWire(n, w)]));
      expect(receipt.inputHash).to.equal(hashTensors(inTensors));
      const outTensors = Object.fromEntries(Object.entries(body.outputs).map(([n, w]) => [n, tensorFromWire(n, w)]));
      expect(receipt.outputHash).to.equal(hashTensors(outTensors));
      expect(await recoverReceiptSigner(receipt, 31337, market.contracts.paymentChannels)).to.equal(market.device.address);
      previous = receiptDigest(receipt, 31337, market.contracts.paymentChannels);
    }
    const rows = market.worker!.internals.store.receipts(channel.id);
    expect(rows.map((r) => r.amount)).to.deep.equal([1000n, 2000n, 3000n]);
  });

  it("accepts MAC-authenticated vouchers with deferred ECDSA checks and verifies them before claiming", async () => {
    const url = `${market.worker!.url}/v1/infer/${market.models[0]!.modelId}`;
    const metrics = market.worker!.internals.metrics;
    // Every paid request carries a MAC now, so the earlier ones were deferred too: verify them first (as the
    // background pass would), so the budget below starts from the last paid amount.
    await market.worker!.internals.ledger.verifyAllDeferred();
    const before = (await metrics.recoveries.get()).values.find((v) => v.labels.kind === "inline")?.value ?? 0;
    for (let i = 4n; i <= 6n; i++) {
      const res = await post(url, { inputs: vadInputs() }, await paidHeaders(market, channel, 1000n * i, JSON.stringify({ inputs: vadInputs() })));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      signedReceiptWire.parse(res.body.receipt);
    }
    const after = (await metrics.recoveries.get()).values.find((v) => v.labels.kind === "inline")?.value ?? 0;
    expect(after - before, "MAC requests within the budget skip inline recovery").to.equal(0);
    const ch = market.worker!.internals.ledger.known(channel.id)!;
    expect(ch.acceptedAmount).to.equal(6000n);
    await market.worker!.internals.ledger.verifyAllDeferred();
    expect(ch.verifiedAmount).to.equal(6000n);
    expect(ch.blocked).to.equal(null);
  });

  it("signs a cooperative close for the highest accepted amount and then refuses vouchers", async () => {
    const res = await post(`${market.worker!.url}/v1/channels/${channel.id}/close`, {}, await paidHeaders(market, channel, 6000n, "{}", { path: closePath(channel.id) }));
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    const close = closeResponseWire.parse(res.body);
    expect(close.cumulativeAmount).to.equal("6000");
    const signer = await recoverTypedDataAddress({
      domain: channelsDomain(31337, market.contracts.paymentChannels),
      types: closeTypes,
      primaryType: "CloseChannel",
      message: { channelId: channel.id, cumulativeAmount: 6000n },
      signature: close.signature as Hex,
    });
    expect(signer).to.equal(market.device.address);
    const refused = await post(`${market.worker!.url}/v1/infer/${market.models[0]!.modelId}`, { inputs: vadInputs() }, await paidHeaders(market, channel, 7000n, JSON.stringify({ inputs: vadInputs() })));
    expect(refused.status).to.equal(402);
    expect((refused.body.error as { code: string }).code).to.equal("channel_closing");

    const buyer = clientsFor(net, 3);
    const before = await buyer.publicClient.readContract({ address: market.token, abi: testUsdcAbi, functionName: "balanceOf", args: [market.provider] });
    const hash = await buyer.walletClient.writeContract({
      address: market.contracts.paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "closeCooperatively",
      args: [channel.terms, 6000n, close.signature as Hex],
    });
    expect((await buyer.publicClient.waitForTransactionReceipt({ hash })).status).to.equal("success");
    const after = await buyer.publicClient.readContract({ address: market.token, abi: testUsdcAbi, functionName: "balanceOf", args: [market.provider] });
    expect(after - before).to.equal(5400n); // 6000 minus 10% royalty
  });

  it("claims on shutdown what is accepted and not settled", async () => {
    const ch2 = await openChannel(market, { buyer: 4, deposit: 100_000n });
    const url = `${market.worker!.url}/v1/infer/${market.models[0]!.modelId}`;
    for (let i = 1n; i <= 5n; i++) {
      const res = await post(url, { inputs: vadInputs() }, await paidHeaders(market, ch2, 1000n * i, JSON.stringify({ inputs: vadInputs() })));
      expect(res.status).to.equal(200);
    }
    const { publicClient } = clientsFor(net, 4);
    const w = market.worker!;
    market.worker = undefined;
    await w.stop();
    const state = await publicClient.readContract({ address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [ch2.id] });
    expect(state.claimed).to.equal(5000n);
  });
});
