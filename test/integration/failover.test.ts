// Failover with real workers: two devices (separate worker processes, different owners and prices) offer Silero VAD.
// A buyer pays device A through the buyer client; A stops answering (a graceful stop while requests are running,
// then a SIGKILL); the client moves to device B and opens a channel there. Nobody loses a payment: A is paid exactly
// what it answered (claimed on shutdown, or after a restart by its watchtower when the buyer starts a close), B's
// channel is charged only for the answers B gave, and the buyer gets every other unit back, to the token unit.
import { expect } from "chai";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { isAddressEqual, type Address, type Hex, type PublicClient } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { createBuyer, EdgepayClientError, type Buyer, type BuyerEvent } from "../../protocol/client/index.ts";
import { initialVadState, sileroVadInputs } from "../../protocol/client/inputs.ts";
import { paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { freePort, rpc, waitFor } from "../../scripts/lib/chain.ts";
import {
  connectMarketplace,
  DEMO_CATALOG,
  ensureDemoModels,
  faucet,
  provisionDevice,
  ROLES,
  runWorker,
  sendEth,
  TEST_KEYS,
  walletOf,
  type Marketplace,
  type ProvisionedDevice,
  type PublishedModel,
} from "../../scripts/lib/marketplace.ts";
import type { ManagedChild } from "../../scripts/lib/processes.ts";
import { startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";

const CHALLENGE = 600n;
const DEPOSIT = 100_000n;
const PRICE_A = 1_000n;
const PRICE_B = 1_500n;

function frame(i: number) {
  const samples = new Float32Array(512);
  for (let k = 0; k < samples.length; k++) samples[k] = 0.3 * Math.sin((2 * Math.PI * (180 + 7 * i) * (k + 512 * i)) / 16_000);
  return sileroVadInputs(samples, initialVadState());
}

describe("failover between real devices", function () {
  this.timeout(300_000);
  let net: Localnet;
  let m: Marketplace;
  let pc: PublicClient;
  let vad: PublishedModel;
  let a: ProvisionedDevice;
  let b: ProvisionedDevice;
  let workerA: ManagedChild | undefined;
  let workerB: ManagedChild | undefined;
  let root: string;

  const balance = (who: Address) => pc.readContract({ address: m.contracts.token, abi: testUsdcAbi, functionName: "balanceOf", args: [who] });
  const channel = (id: Hex) => pc.readContract({ address: m.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [id] });
  const royalties = () => pc.readContract({ address: m.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "royaltiesOf", args: [vad.modelId, m.contracts.token] });
  const royaltyOf = (amount: bigint) => (amount * BigInt(vad.royaltyBps)) / 10_000n;

  const logOf = (name: string) => {
    const file = path.join(root, `${name}.log`);
    return existsSync(file) ? `\n--- ${name}.log ---\n${readFileSync(file, "utf8").split("\n").slice(-40).join("\n")}` : "";
  };

  async function newBuyer(events: BuyerEvent[]): Promise<{ buyer: Buyer; address: Address }> {
    const key = generatePrivateKey();
    const address = privateKeyToAccount(key).address;
    await sendEth(m, address, "1");
    await faucet(m, TEST_KEYS[ROLES.funder]!, address, 1_000_000n);
    const buyer = createBuyer({
      publicClient: pc,
      wallet: walletOf(m, key),
      paymentChannels: m.contracts.paymentChannels,
      autoOpen: { deposit: DEPOSIT },
      retries: 1,
      retryDelayMs: 50,
      onEvent: (e) => events.push(e),
    });
    return { buyer, address };
  }

  async function channelOn(buyer: Buyer, device: Address): Promise<Hex> {
    const records = (await buyer.store.listChannels()).filter((c) => isAddressEqual(c.terms.device, device));
    expect(records, `channels of the buyer on ${device}`).to.have.length(1);
    return records[0]!.channelId;
  }

  async function settledRefund(id: Hex): Promise<bigint> {
    const logs = await pc.getContractEvents({ address: m.contracts.paymentChannels, abi: paymentChannelsAbi, eventName: "ChannelSettled", args: { channelId: id }, fromBlock: 0n });
    expect(logs, `ChannelSettled of ${id}`).to.have.length(1);
    return logs[0]!.args.refund!;
  }

  async function timeTravelPastChallenge() {
    await rpc(net.chain.url, "evm_increaseTime", [Number(CHALLENGE) + 1]);
    await rpc(net.chain.url, "evm_mine");
  }

  before(async () => {
    net = await startLocalnet({ challengePeriod: CHALLENGE });
    const d = net.deployment;
    m = await connectMarketplace(net.chain.url, { paymentChannels: d.paymentChannels, deviceRegistry: d.deviceRegistry, modelRegistry: d.modelRegistry, token: d.token, flightRecorder: d.flightRecorder });
    pc = m.publicClient;
    vad = (await ensureDemoModels(m, DEMO_CATALOG.filter((s) => s.key === "silero-vad")))[0]!;
    root = mkdtempSync(path.join(tmpdir(), "edgepay-failover-"));
    // High thresholds: the devices claim only on shutdown or when a close is requested, which is what is tested.
    const settlement = { claimThreshold: "1000000000", maxAgeSeconds: 3600, closeSafetySeconds: 60, minBatch: 1, pollIntervalMs: 200, stuckAfterMs: 30_000 };
    a = await provisionDevice(m, { ownerKey: TEST_KEYS[ROLES.provider]!, dataDir: path.join(root, "a"), port: await freePort(), offerings: [{ model: vad, price: PRICE_A }], settlement, logLevel: "info" });
    b = await provisionDevice(m, { ownerKey: TEST_KEYS[ROLES.provider2]!, dataDir: path.join(root, "b"), port: await freePort(), offerings: [{ model: vad, price: PRICE_B }], settlement, logLevel: "error" });
    workerB = await runWorker(b, { logFile: path.join(root, "b.log") });
  });

  after(async () => {
    await workerA?.stop(15_000);
    await workerB?.stop(15_000);
    await net?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("a device stopped mid-load is paid on shutdown; its buyers move to another device and pay it only for its answers", async () => {
    workerA = await runWorker(a, { logFile: path.join(root, "a.log") });
    // Three buyers paying at once, so requests are in flight on A when it is told to stop.
    const buyers = [];
    for (let k = 0; k < 3; k++) {
      const events: BuyerEvent[] = [];
      const { buyer, address } = await newBuyer(events);
      buyers.push({ buyer, address, events, start: await balance(address), got: new Map<string, number>([[a.endpoint, 0], [b.endpoint, 0]]), inDoubt: 0 });
    }
    const ownerA0 = await balance(a.owner);
    const ownerB0 = await balance(b.owner);
    const royalty0 = await royalties();

    let servedByA = 0;
    let stopping: Promise<void> | undefined;
    await Promise.all(
      buyers.map(async (x, k) => {
        for (let i = 0; x.got.get(b.endpoint)! < 5; i++) {
          let r;
          try {
            r = await x.buyer.infer(vad.modelId, frame(100 * k + i), { workers: [a.endpoint, b.endpoint] });
          } catch (error) {
            // A connection A dropped while draining after the request went out: paid maybe, answer lost. The
            // request is kept in doubt (settled below), never bought again on B; the buyer goes on with the next.
            if (!(error instanceof EdgepayClientError) || error.code !== "answer_in_doubt") throw error;
            x.inDoubt++;
            continue;
          }
          x.got.set(r.endpoint, x.got.get(r.endpoint)! + 1);
          // Not awaited: the buyers keep sending while device A drains and shuts down.
          if (r.endpoint === a.endpoint && ++servedByA === 24) stopping = workerA!.stop(30_000);
          if (i >= 200) expect.fail(`buyer ${k}: 200 requests and B has not served 5: ${JSON.stringify([...x.got])}, A served ${servedByA}, stop ${stopping ? "requested" : "not requested"}${logOf("a")}`);
        }
      }),
    );
    await stopping;
    workerA = undefined;

    let paidToA = 0n;
    let paidToB = 0n;
    for (const x of buyers) {
      // Requests in doubt, settled against the chain now that A is gone: A's shutdown claim covers a voucher it
      // accepted (paid, answer lost); the others stay in doubt until the channel settles.
      const outcomes = await x.buyer.recover();
      expect(outcomes).to.have.length(x.inDoubt);
      const paidUnanswered = outcomes.filter((o) => o.status === "paid_unanswered").length;
      const answeredA = BigInt(x.got.get(a.endpoint)! + paidUnanswered);
      const answeredB = BigInt(x.got.get(b.endpoint)!);
      expect(answeredA > 0n, "every buyer was served by A first").to.equal(true);
      expect(
        x.events.some((e) => (e.type === "failover" || e.type === "in_doubt") && (e.type === "failover" ? e.from : e.endpoint) === a.endpoint),
        "a failover away from A",
      ).to.equal(true);
      const receipts = await x.buyer.receipts();
      expect(receipts.filter((r) => isAddressEqual(r.device, a.device) && r.verification.valid)).to.have.length(Number(answeredA) - paidUnanswered);
      expect(receipts.filter((r) => isAddressEqual(r.device, b.device) && r.verification.valid)).to.have.length(Number(answeredB));

      // A claimed on its way down exactly what it answered, requests in flight at the stop included; the buyer's
      // own count of what it paid on A agrees.
      const chA = await channelOn(x.buyer, a.device);
      expect((await channel(chA)).claimed, `A's claim on shutdown${logOf("a")}`).to.equal(answeredA * PRICE_A);
      expect((await x.buyer.store.getChannel(chA))!.paid).to.equal(answeredA * PRICE_A);

      // B: the buyer closes cooperatively; B is paid for its answers only, the rest comes back at once.
      const chB = await channelOn(x.buyer, b.device);
      await x.buyer.closeCooperatively(chB);
      expect((await channel(chB)).claimed).to.equal(answeredB * PRICE_B);
      expect(await settledRefund(chB)).to.equal(DEPOSIT - answeredB * PRICE_B);

      // A is gone: the buyer requests a close (and withdraws after the challenge period, below).
      await x.buyer.requestClose(chA);
      paidToA += answeredA * PRICE_A;
      paidToB += answeredB * PRICE_B;
    }
    await timeTravelPastChallenge();
    for (const x of buyers) {
      const chA = await channelOn(x.buyer, a.device);
      await x.buyer.withdraw(chA);
      // Settled: whatever was still in doubt was never accepted.
      for (const o of await x.buyer.recover()) expect(o.status).to.equal("not_accepted");
      expect(await x.buyer.inDoubt()).to.have.length(0);
      const answeredA = (await x.buyer.store.getChannel(chA))!.paid / PRICE_A;
      expect(await settledRefund(chA)).to.equal(DEPOSIT - answeredA * PRICE_A);
      // To the token unit: each buyer spent exactly its answers.
      expect(x.start - (await balance(x.address))).to.equal(answeredA * PRICE_A + BigInt(x.got.get(b.endpoint)!) * PRICE_B);
    }
    // Owners got the answers' value minus the model royalty (10% of 1,000 and 1,500: no rounding).
    expect((await balance(a.owner)) - ownerA0).to.equal(paidToA - royaltyOf(paidToA));
    expect((await balance(b.owner)) - ownerB0).to.equal(paidToB - royaltyOf(paidToB));
    expect((await royalties()) - royalty0).to.equal(royaltyOf(paidToA) + royaltyOf(paidToB));
  });

  it("a device killed outright is paid after its restart (watchtower claim on the buyer's close); the buyer loses nothing", async () => {
    await workerA?.stop(15_000);
    workerA = await runWorker(a, { logFile: path.join(root, "a.log") });
    const events: BuyerEvent[] = [];
    const { buyer, address } = await newBuyer(events);
    const buyerStart = await balance(address);
    const ownerA0 = await balance(a.owner);

    for (let i = 0; i < 8; i++) {
      const r = await buyer.infer(vad.modelId, frame(1000 + i), { workers: [a.endpoint, b.endpoint] });
      expect(r.endpoint).to.equal(a.endpoint);
    }
    const chA = await channelOn(buyer, a.device);
    // Crash: no flush, no final claim.
    process.kill(-workerA.pid, "SIGKILL");
    await waitFor("worker A to die", async () => workerA!.exited() !== undefined, 10_000);
    await workerA.stop();
    workerA = undefined;
    expect((await channel(chA)).claimed, "nothing claimed before the crash").to.equal(0n);

    for (let i = 0; i < 5; i++) {
      const r = await buyer.infer(vad.modelId, frame(2000 + i), { workers: [a.endpoint, b.endpoint] });
      expect(r.endpoint).to.equal(b.endpoint);
    }
    expect(events.some((e) => e.type === "failover" && e.from === a.endpoint)).to.equal(true);

    // The buyer gives up on A and starts a close; A comes back and claims within the challenge period.
    await buyer.requestClose(chA);
    workerA = await runWorker(a, { logFile: path.join(root, "a.log") }).catch((e: Error) => {
      throw new Error(`${e.message}${logOf("a")}`);
    });
    await waitFor("A's watchtower claim after the restart", async () => (await channel(chA)).claimed > 0n, 60_000);
    expect((await channel(chA)).claimed).to.equal(8n * PRICE_A);

    const chB = await channelOn(buyer, b.device);
    await buyer.closeCooperatively(chB);
    expect((await channel(chB)).claimed).to.equal(5n * PRICE_B);
    expect(await settledRefund(chB)).to.equal(DEPOSIT - 5n * PRICE_B);

    await timeTravelPastChallenge();
    await buyer.withdraw(chA);
    expect(await settledRefund(chA)).to.equal(DEPOSIT - 8n * PRICE_A);
    expect(buyerStart - (await balance(address))).to.equal(8n * PRICE_A + 5n * PRICE_B);
    expect((await balance(a.owner)) - ownerA0).to.equal(8n * PRICE_A - royaltyOf(8n * PRICE_A));
  });
});
