// Reputation end to end on a real chain with real workers: a buyer re-checks every call with onnxruntime-node, so
// its spot checks of an honest device and of a rogue (answers off by 0.05) become on-chain feedback in
// DeviceReputation; readReputation shows them; a stranger cannot post; and a second buyer routing by price and
// reputation sends its money to the honest device although the caller listed the rogue first at the same price.
import { expect } from "chai";
import type { Address, Hex } from "viem";
import { deviceReputationAbi, modelRegistryAbi, paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { Buyer, EdgepayClientError, MemoryBuyerStore, type BuyerEvent, type FeedbackSent } from "../../protocol/client/index.ts";
import { initialVadState, sileroVadInputs } from "../../protocol/client/inputs.ts";
import { OnnxLocalVerifier } from "../../protocol/node/local-verifier.ts";
import { readReputation, type ReputationSources } from "../../protocol/reputation.ts";
import type { Tensor } from "../../protocol/tensors.ts";
import { clientsFor, startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { MODEL_OWNER_INDEX, setupMarket, SILERO_VAD_V5, type Market } from "../../scripts/lib/worker-fixture.ts";

const PRICE = 1_000n;
const DEPOSIT = 100n * PRICE;

function frame(seed: number): Record<string, Tensor> {
  const f = new Float32Array(512);
  for (let i = 0; i < f.length; i++) f[i] = 0.4 * Math.sin((2 * Math.PI * (120 + 7 * seed) * (i + 512 * seed)) / 16000);
  return sileroVadInputs(f, initialVadState());
}

describe("reputation: spot checks on chain, reads and routing", function () {
  this.timeout(240_000);
  let net: Localnet;
  let honest: Market;
  let rogue: Market;
  let modelId: bigint;
  let runner: OnnxLocalVerifier;
  let sources: ReputationSources;
  /** The buyer that checked both devices (and quarantined the rogue). */
  let checker: Buyer;
  const checkerEvents: BuyerEvent[] = [];
  const url = (m: Market) => m.worker!.url;

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    honest = await setupMarket(net, { models: [{ file: SILERO_VAD_V5, name: "Silero VAD v5", price: PRICE }] });
    modelId = honest.models[0]!.modelId;
    rogue = await setupMarket(net, { reuseModels: honest.models, startOptions: { faults: { outputs: { probability: 1, delta: 0.05 } } } });
    const owner = clientsFor(net, MODEL_OWNER_INDEX);
    await owner.publicClient.waitForTransactionReceipt({
      hash: await owner.walletClient.writeContract({ address: honest.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "setTolerance", args: [modelId, { kind: 1, bound: 100_000n }] }),
    });
    for (const index of [3, 4]) {
      const { walletClient, publicClient, account } = clientsFor(net, index);
      await publicClient.waitForTransactionReceipt({ hash: await walletClient.writeContract({ address: honest.token, abi: testUsdcAbi, functionName: "faucet", args: [account.address, 100_000_000n] }) });
    }
    const d = net.deployment;
    if (!d.deviceReputation || !d.answerDisputes) throw new Error("the local deployment has no DeviceReputation/AnswerDisputes");
    sources = { deviceRegistry: d.deviceRegistry, flightRecorder: d.flightRecorder, answerDisputes: d.answerDisputes, deviceReputation: d.deviceReputation };
    runner = new OnnxLocalVerifier({ files: { [modelId.toString()]: SILERO_VAD_V5 } });
  });
  after(async () => {
    await runner?.release();
    for (const m of [honest, rogue]) await m?.stop();
    await net?.stop();
  });

  function newBuyer(index: number, events: BuyerEvent[], spotCheck: boolean) {
    const { publicClient, walletClient } = clientsFor(net, index);
    const { deviceRegistry: _registry, ...reputation } = sources;
    return new Buyer({
      publicClient,
      wallet: walletClient,
      paymentChannels: honest.contracts.paymentChannels,
      store: new MemoryBuyerStore(),
      http: { timeoutMs: 20_000 },
      retryDelayMs: 20,
      autoOpen: { deposit: DEPOSIT },
      ...(spotCheck ? { spotCheck: { rate: 1, verifier: { kind: "local" as const, runner } } } : {}),
      reputation: { ...reputation, ttlSeconds: 0 },
      onEvent: (e) => void events.push(e),
    });
  }

  const read = (device: Address) => readReputation(clientsFor(net, 0).publicClient, sources, device);
  const feedbackOf = (events: BuyerEvent[]) => events.filter((e): e is Extract<BuyerEvent, { type: "feedback" }> => e.type === "feedback").map((e) => e.feedback);

  it("a buyer's spot checks become on-chain feedback; the reads show a pass for the honest device and a failure for the rogue", async () => {
    const events = checkerEvents;
    const buyer = (checker = newBuyer(3, events, true));
    const before = { honest: await read(honest.device.address), rogue: await read(rogue.device.address) };
    expect([before.honest.score, before.rogue.score]).to.deep.equal([50, 50]);

    await buyer.infer(modelId, frame(1), { workers: [url(honest)] });
    try {
      await buyer.infer(modelId, frame(2), { workers: [url(rogue)] });
      expect.fail("the rogue's answer passed its check");
    } catch (error) {
      expect((error as EdgepayClientError).code).to.equal("spot_check_failed");
    }
    const sent: FeedbackSent[] = feedbackOf(events);
    expect(sent.map((f) => [f.device, f.tag1, f.value])).to.deep.equal([
      [honest.device.address, "spotCheck", 1n],
      [rogue.device.address, "spotCheck", 0n],
    ]);
    // Each feedback went against the channel the checked call paid on, from the payer's wallet.
    const channels = await buyer.store.listChannels();
    for (const f of sent) expect(channels.map((c) => c.channelId)).to.include(f.channelId);
    const payer = clientsFor(net, 3).account.address;
    const receipt = await clientsFor(net, 0).publicClient.getTransactionReceipt({ hash: sent[1]!.hash });
    expect(receipt.from.toLowerCase()).to.equal(payer.toLowerCase());

    const after = { honest: await read(honest.device.address), rogue: await read(rogue.device.address) };
    expect([after.honest.spotChecksPassed, after.honest.spotChecksFailed, after.honest.score]).to.deep.equal([1, 0, 66]);
    expect([after.rogue.spotChecksPassed, after.rogue.spotChecksFailed, after.rogue.failingClients, after.rogue.score]).to.deep.equal([0, 1, 1, 20]);
    // ERC-8004 reads agree: the payer's spot-check summary per device.
    const summary = (device: Address) =>
      clientsFor(net, 0).publicClient.readContract({ address: sources.deviceReputation!, abi: deviceReputationAbi, functionName: "getSummary", args: [BigInt(device), [payer], "spotCheck", ""] });
    expect(await summary(honest.device.address)).to.deep.equal([1n, 1n, 0]);
    expect(await summary(rogue.device.address)).to.deep.equal([1n, 0n, 0]);
  });

  it("a stranger cannot post feedback about a device through someone else's channel", async () => {
    const stranger = clientsFor(net, 5);
    const [channel] = (await clientsFor(net, 0).publicClient.getContractEvents({ address: honest.contracts.paymentChannels, abi: paymentChannelsAbi, eventName: "ChannelOpened", fromBlock: 0n })).filter(
      (e) => e.args.device === rogue.device.address,
    );
    const terms = channel!.args.terms!;
    try {
      await stranger.publicClient.simulateContract({
        account: stranger.account,
        address: sources.deviceReputation!,
        abi: deviceReputationAbi,
        functionName: "giveFeedback",
        args: [terms, 1n, 0, "spotCheck", modelId.toString(), "", "", `0x${"00".repeat(32)}` as Hex],
      });
      expect.fail("a stranger's feedback was accepted");
    } catch (error) {
      expect(String(error)).to.include("NotChannelPayer");
    }
  });

  it("routing by price and reputation: a second buyer pays the honest device although the rogue is listed first at the same price", async () => {
    const events: BuyerEvent[] = [];
    const buyer = newBuyer(4, events, false);
    const { publicClient, account } = clientsFor(net, 4);
    const balance = () => publicClient.readContract({ address: honest.token, abi: testUsdcAbi, functionName: "balanceOf", args: [account.address] });
    const start = await balance();
    expect((await buyer.reputation(rogue.device.address)).score).to.be.below((await buyer.reputation(honest.device.address)).score);
    for (let i = 0; i < 3; i++) {
      const result = await buyer.infer(modelId, frame(10 + i), { workers: [url(rogue), url(honest)] });
      expect(result.device).to.equal(honest.device.address);
    }
    // One channel, to the honest device: the rogue got no deposit and no voucher.
    const channels = await buyer.store.listChannels();
    expect(channels.map((c) => [c.terms.device, c.signed])).to.deep.equal([[honest.device.address, 3n * PRICE]]);
    expect(start - (await balance())).to.equal(DEPOSIT);

    // Uptime as this buyer saw it, batched: one transaction for the honest device (3 of 3 answered).
    const uptime = await buyer.reportUptime();
    expect(uptime.map((f) => [f.device, f.tag1, f.value, f.valueDecimals])).to.deep.equal([[honest.device.address, "uptime", 10_000n, 2]]);
    const r = await read(honest.device.address);
    expect([r.uptimeReports, r.uptimeBps]).to.deep.equal([1, 10_000]);
    expect(await buyer.reportUptime()).to.deep.equal([]);
  });

  it("the buyer that quarantined the rogue routes around it: not even tried, nothing more signed to it", async () => {
    const rogueChannel = (await checker.store.listChannels()).find((c) => c.terms.device === rogue.device.address)!;
    const seen = checkerEvents.length;
    const result = await checker.infer(modelId, frame(20), { workers: [url(rogue), url(honest)] });
    expect(result.device).to.equal(honest.device.address);
    expect(checkerEvents.slice(seen).filter((e) => e.type === "failover")).to.deep.equal([]);
    expect((await checker.store.getChannel(rogueChannel.channelId))!.signed).to.equal(rogueChannel.signed);
    // Alone, it is still refused before any voucher (the quarantine, not the order, is the guard).
    try {
      await checker.infer(modelId, frame(21), { workers: [url(rogue)] });
      expect.fail("a quarantined device was paid");
    } catch (error) {
      expect((error as EdgepayClientError).code).to.equal("device_quarantined");
    }
    expect((await checker.store.getChannel(rogueChannel.channelId))!.signed).to.equal(rogueChannel.signed);
  });
});
