// The watchtower role: when a buyer requests a close, the worker claims what it accepted before the challenge period
// ends: at once, and again at the last safe moment for vouchers accepted since. A worker that was down when the
// close was requested catches up from its stored block cursor on restart and still claims in time. The buyer's
// refund after the challenge period is exactly deposit minus what the worker accepted.
import { expect } from "chai";
import { paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { rpc, waitFor } from "../../scripts/lib/chain.ts";
import { clientsFor, startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { openChannel, setupMarket, spawnWorker, vadInputs, paidHeaders,
  type Market, type TestChannel, type WorkerProcess } from "../../scripts/lib/worker-fixture.ts";

const CHALLENGE = 300;
const SAFETY = 30;

describe("worker: watchtower", function () {
  this.timeout(300_000);
  let net: Localnet;
  let market: Market;
  let proc: WorkerProcess | undefined;

  before(async () => {
    net = await startLocalnet({ challengePeriod: BigInt(CHALLENGE) });
    // Thresholds far away: only the close request makes the worker claim.
    market = await setupMarket(net, {
      start: false,
      config: { settlement: { claimThreshold: "1000000000", maxAgeSeconds: 86_400, closeSafetySeconds: SAFETY, minBatch: 1, pollIntervalMs: 200 } },
    });
  });
  after(async () => {
    if (proc && proc.child.exitCode === null) {
      proc.child.kill("SIGKILL");
      await proc.exited;
    }
    await market?.stop();
    await net?.stop();
  });

  async function pay(url: string, ch: TestChannel, amount: bigint) {
    const body = JSON.stringify({ inputs: vadInputs(Number(amount % 97n)) });
    const res = await fetch(`${url}/v1/infer/${market.models[0]!.modelId}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(await paidHeaders(market, ch, amount, body)) },
      body,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  const onchain = (ch: TestChannel) =>
    clientsFor(net, 0).publicClient.readContract({ address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [ch.id] });
  const chainTime = async () => Number((await clientsFor(net, 0).publicClient.getBlock()).timestamp);
  const advance = async (seconds: number) => {
    await rpc(net.chain.url, "evm_increaseTime", [seconds]);
    await rpc(net.chain.url, "evm_mine");
  };

  async function requestClose(buyer: number, ch: TestChannel): Promise<number> {
    const { walletClient, publicClient } = clientsFor(net, buyer);
    const hash = await walletClient.writeContract({ address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "requestClose", args: [ch.terms] });
    expect((await publicClient.waitForTransactionReceipt({ hash })).status).to.equal("success");
    return (await onchain(ch)).closesAt;
  }

  async function withdrawAndCheckRefund(buyer: number, ch: TestChannel, accepted: bigint) {
    const { walletClient, publicClient } = clientsFor(net, buyer);
    const before = await publicClient.readContract({ address: market.token, abi: testUsdcAbi, functionName: "balanceOf", args: [ch.payer] });
    const hash = await walletClient.writeContract({ address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "withdraw", args: [ch.terms] });
    expect((await publicClient.waitForTransactionReceipt({ hash })).status).to.equal("success");
    const after = await publicClient.readContract({ address: market.token, abi: testUsdcAbi, functionName: "balanceOf", args: [ch.payer] });
    expect(after - before, "refund = deposit - accepted").to.equal(ch.deposit - accepted);
  }

  it("claims at once on a close request, and again before the deadline for vouchers accepted since", async () => {
    const w = await market.startWorker();
    const ch = await openChannel(market, { buyer: 3, deposit: 50_000n });
    for (let i = 1n; i <= 4n; i++) expect((await pay(w.url, ch, 1_000n * i)).status).to.equal(200);
    const closesAt = await requestClose(3, ch);
    await waitFor("first watchtower claim", async () => (await onchain(ch)).claimed === 4_000n, 20_000);
    expect(await chainTime()).to.be.below(closesAt);

    // Still time: the worker serves on, and these vouchers must be claimed before the deadline too.
    for (let i = 5n; i <= 7n; i++) expect((await pay(w.url, ch, 1_000n * i)).status).to.equal(200);
    await advance(closesAt - (await chainTime()) - SAFETY + 5);
    await waitFor("deadline claim", async () => (await onchain(ch)).claimed === 7_000n, 20_000);
    expect(await chainTime(), "claimed before the challenge period ended").to.be.below(closesAt);
    const refused = await pay(w.url, ch, 8_000n);
    expect(refused.status).to.equal(402);
    expect((refused.body.error as { code: string }).code).to.equal("channel_closing");

    const store = w.internals.store;
    expect(store.txs().map((t) => t.state)).to.deep.equal(["mined", "mined"]);
    await advance(SAFETY);
    await withdrawAndCheckRefund(3, ch, 7_000n);
    market.worker = undefined;
    await w.stop();
  });

  it("catches up after being down when the close was requested, and claims before the deadline", async () => {
    proc = await spawnWorker(market.configFile);
    const ch = await openChannel(market, { buyer: 4, deposit: 50_000n });
    for (let i = 1n; i <= 6n; i++) expect((await pay(proc.url, ch, 1_000n * i)).status).to.equal(200);
    // Down hard: no final claim.
    proc.child.kill("SIGKILL");
    await proc.exited;
    expect((await onchain(ch)).claimed).to.equal(0n);

    const closesAt = await requestClose(4, ch);
    await advance(CHALLENGE / 2);
    proc = await spawnWorker(market.configFile);
    await waitFor("claim after restart", async () => (await onchain(ch)).claimed === 6_000n, 20_000);
    expect(await chainTime()).to.be.below(closesAt);

    proc.child.kill("SIGTERM");
    expect(await proc.exited).to.equal(0);
    await advance(CHALLENGE);
    await withdrawAndCheckRefund(4, ch, 6_000n);
    const { publicClient } = clientsFor(net, 0);
    const royalties = await publicClient.readContract({
      address: market.contracts.paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "royaltiesOf",
      args: [market.models[0]!.modelId, market.token],
    });
    // 10% of 4,000 + 3,000 (first test) + 6,000: every claim's royalty rounded down separately.
    expect(royalties).to.equal(400n + 300n + 600n);
  });
});
