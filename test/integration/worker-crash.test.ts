// Crash safety: the worker runs as its own process (worker/cli.ts serve), takes paid load on several channels
// (vouchers with and without session MACs, the settler claiming meanwhile), and is SIGKILLed mid-load. Restarted on
// the same data directory it has lost no voucher it answered for, its receipt chain continues without a gap, and
// its final claims pay exactly what it accepted, to the token unit, split between provider and model royalty.
import { expect } from "chai";
import type { Hex } from "viem";
import { paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { recoverReceiptSigner, signedReceiptWire } from "../../protocol/receipt.ts";
import { offeringsWire } from "../../protocol/wire.ts";
import { Store } from "../../worker/store/db.ts";
import { clientsFor, startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import {
  openChannel,
  setupMarket,
  spawnWorker,
  vadInputs,
  paidHeaders,
  type Market,
  type TestChannel,
  type WorkerProcess,
} from "../../scripts/lib/worker-fixture.ts";

interface Lane {
  channel: TestChannel;
  /** Highest amount answered with 200 (the buyer holds a receipt for it). */
  acked: bigint;
  /** Highest amount sent at all (maybe accepted, answer lost). */
  sent: bigint;
  receipts: ReturnType<typeof signedReceiptWire.parse>[];
}

describe("worker: crash and restart", function () {
  this.timeout(300_000);
  let net: Localnet;
  let market: Market;
  let worker: WorkerProcess | undefined;
  const lanes: Lane[] = [];
  const price = 1_000n;
  let providerStart = 0n;

  before(async () => {
    net = await startLocalnet({ challengePeriod: 3600n });
    market = await setupMarket(net, {
      start: false,
      // The settler claims during the load (threshold 5 answers), so a claim may be in flight at the kill.
      config: { settlement: { claimThreshold: "5000", maxAgeSeconds: 3600, closeSafetySeconds: 30, minBatch: 1, pollIntervalMs: 200 }, verification: { maxUnverifiedValue: "5000" } },
    });
    for (const buyer of [3, 4, 5]) lanes.push({ channel: await openChannel(market, { buyer, deposit: 1_000_000n }), acked: 0n, sent: 0n, receipts: [] });
    const { publicClient } = clientsFor(net, 0);
    providerStart = await publicClient.readContract({ address: market.token, abi: testUsdcAbi, functionName: "balanceOf", args: [market.provider] });
  });
  after(async () => {
    if (worker && worker.child.exitCode === null) {
      worker.child.kill("SIGKILL");
      await worker.exited;
    }
    await market?.stop();
    await net?.stop();
  });

  async function pay(url: string, devicePublicKey: Hex, lane: Lane, amount: bigint, useMac: boolean) {
    // Every paid request carries its MAC (mandatory); `useMac` is kept from when it was optional.
    void useMac;
    void devicePublicKey;
    const request = JSON.stringify({ inputs: vadInputs(Number(amount / price)) });
    const headers: Record<string, string> = { "content-type": "application/json", ...(await paidHeaders(market, lane.channel, amount, request)) };
    if (amount > lane.sent) lane.sent = amount;
    const res = await fetch(`${url}/v1/infer/${market.models[0]!.modelId}`, { method: "POST", headers, body: request });
    const body = (await res.json()) as Record<string, unknown>;
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body)}`);
    lane.acked = amount;
    lane.receipts.push(signedReceiptWire.parse(body.receipt));
  }

  it("loses no answered voucher when killed mid-load, and resumes the receipt chain", async () => {
    worker = await spawnWorker(market.configFile);
    const offer = offeringsWire.parse(await (await fetch(`${worker.url}/v1/offerings`)).json());
    const pub = offer.devicePublicKey as Hex;
    let acks = 0;
    let killed = false;
    const loops = lanes.map(async (lane, i) => {
      for (let n = 1n; ; n++) {
        try {
          // Lane 0 pays with plain vouchers; the others use session MACs after the first voucher (deferred checks).
          await pay(worker!.url, pub, lane, n * price, i > 0 && n > 1n);
        } catch (error) {
          if (killed) return;
          throw error;
        }
        if (++acks === 60) {
          killed = true;
          worker!.child.kill("SIGKILL");
        }
      }
    });
    await Promise.all(loops);
    expect(await worker.exited).to.equal(null);

    // The database after the crash: every answered voucher is there, nothing beyond what was sent.
    const store = new Store(market.dataDir);
    try {
      for (const lane of lanes) {
        const row = store.channel(lane.channel.id)!;
        expect(row.acceptedAmount >= lane.acked, `channel ${lane.channel.id}: accepted ${row.acceptedAmount} < answered ${lane.acked}`).to.equal(true);
        expect(row.acceptedAmount <= lane.sent).to.equal(true);
        const rows = store.receipts(lane.channel.id);
        for (const r of lane.receipts) {
          const stored = rows.find((x) => x.sequence === r.sequence);
          expect(stored, `receipt ${r.sequence} stored`).to.not.equal(undefined);
          expect(stored!.signature).to.equal(r.signature);
          expect(stored!.amount).to.equal(r.cumulativeAmount);
        }
      }
      const all = store.receipts();
      all.forEach((r, i) => {
        expect(r.sequence).to.equal(BigInt(i + 1));
        if (i > 0) expect(r.previous).to.equal(all[i - 1]!.digest);
      });
      expect(all.length).to.be.at.least(60);
    } finally {
      store.close();
    }

    // Restart on the same data directory; buyers resync from the worker and carry on.
    worker = await spawnWorker(market.configFile);
    const head = new Store(market.dataDir);
    const last = head.lastReceipt()!;
    head.close();
    let first = true;
    for (const lane of lanes) {
      const info = (await (await fetch(`${worker.url}/v1/channels/${lane.channel.id}`)).json()) as { lastAccepted: string };
      const resumeFrom = BigInt(info.lastAccepted);
      expect(resumeFrom >= lane.acked).to.equal(true);
      for (let k = 1n; k <= 5n; k++) {
        await pay(worker.url, pub, lane, resumeFrom + k * price, k > 1n);
        const r = lane.receipts[lane.receipts.length - 1]!;
        if (first) {
          expect(r.sequence, "sequence continues after the last durable receipt").to.equal(last.sequence + 1n);
          expect(r.previous, "hash chain continues").to.equal(last.digest);
          first = false;
        }
        expect(await recoverReceiptSigner(r, market.chainId, market.contracts.paymentChannels)).to.equal(market.device.address);
      }
    }
  });

  it("claims exactly what it accepted on graceful shutdown, to the token unit", async () => {
    const { publicClient } = clientsFor(net, 0);
    worker!.child.kill("SIGTERM");
    expect(await worker!.exited, "graceful exit").to.equal(0);
    worker = undefined;

    const store = new Store(market.dataDir);
    const accepted = new Map(lanes.map((l) => [l.channel.id, store.channel(l.channel.id)!.acceptedAmount]));
    const txs = store.txs();
    store.close();
    expect(txs.length).to.be.at.least(1);
    expect(txs.every((t) => t.state === "mined" || t.state === "replaced"), JSON.stringify(txs.map((t) => t.state))).to.equal(true);

    // Every claim's split, channel by channel, from the Claimed events.
    const last = new Map<string, bigint>();
    let providerTotal = 0n;
    let royaltyTotal = 0n;
    const logs = await publicClient.getContractEvents({ address: market.contracts.paymentChannels, abi: paymentChannelsAbi, eventName: "Claimed", fromBlock: 0n });
    for (const log of logs) {
      const id = log.args.channelId!.toLowerCase();
      const delta = log.args.cumulativeAmount! - (last.get(id) ?? 0n);
      last.set(id, log.args.cumulativeAmount!);
      expect(log.args.royalty, "royalty = delta x 10% rounded down").to.equal((delta * 1_000n) / 10_000n);
      expect(log.args.providerAmount).to.equal(delta - log.args.royalty!);
      providerTotal += log.args.providerAmount!;
      royaltyTotal += log.args.royalty!;
    }
    let acceptedTotal = 0n;
    for (const lane of lanes) {
      const ch = await publicClient.readContract({ address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [lane.channel.id] });
      expect(ch.claimed, `channel ${lane.channel.id}: claimed on-chain = accepted by the worker`).to.equal(accepted.get(lane.channel.id));
      expect(ch.claimed >= lane.acked).to.equal(true);
      acceptedTotal += ch.claimed;
    }
    expect(providerTotal + royaltyTotal).to.equal(acceptedTotal);
    const balance = await publicClient.readContract({ address: market.token, abi: testUsdcAbi, functionName: "balanceOf", args: [market.provider] });
    expect(balance - providerStart, "provider received exactly its shares").to.equal(providerTotal);
    const royalties = await publicClient.readContract({
      address: market.contracts.paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "royaltiesOf",
      args: [market.models[0]!.modelId, market.token],
    });
    expect(royalties, "model royalty accrued").to.equal(royaltyTotal);
  });
});
