// The whole money path on a real chain with a real worker and model: a device registered with stake, a model
// published with a 10% royalty, a buyer channel, 100 paid inferences over HTTP through the buyer client, the
// worker's settler claiming on its threshold, then close, watchtower claim, withdraw — every balance checked to
// the token unit: provider, model owner (withdrawRoyalties), buyer refund, and nothing left in the contract.
import { expect } from "chai";
import { parseEventLogs, type Address, type Hex } from "viem";
import { paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { Buyer, MemoryBuyerStore } from "../../protocol/client/index.ts";
import { initialVadState, sileroVadInputs } from "../../protocol/client/inputs.ts";
import { rpc } from "../../scripts/lib/chain.ts";
import { clientsFor, startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { setupMarket, SILERO_VAD_V5, type Market } from "../../scripts/lib/worker-fixture.ts";

const PRICE = 1_000n;
const ROYALTY_BPS = 1_000;
const DEPOSIT = 250_000n;
const CALLS = 100;
const THRESHOLD = 30_000n;
const CHALLENGE = 600n;
const BUYER = 4;

describe("flow: 100 paid inferences, settlement, royalties, refund", function () {
  this.timeout(300_000);
  let net: Localnet;
  let market: Market;

  before(async () => {
    net = await startLocalnet({ challengePeriod: CHALLENGE });
    market = await setupMarket(net, {
      models: [{ file: SILERO_VAD_V5, name: "Silero VAD v5", price: PRICE, royaltyBps: ROYALTY_BPS }],
      config: { settlement: { claimThreshold: THRESHOLD.toString(), maxAgeSeconds: 86_400, closeSafetySeconds: 30, minBatch: 1, pollIntervalMs: 200 } },
    });
  });
  after(async () => {
    await market?.stop();
    await net?.stop();
  });

  it("pays the provider, the model owner and refunds the buyer exactly", async () => {
    const { publicClient, walletClient, account } = clientsFor(net, BUYER);
    const owner = clientsFor(net, 1);
    const token = market.token;
    const channels = market.contracts.paymentChannels;
    const modelId = market.models[0]!.modelId;
    const url = market.worker!.url;
    const balance = (who: Address) => publicClient.readContract({ address: token, abi: testUsdcAbi, functionName: "balanceOf", args: [who] });
    const channelState = (id: Hex) => publicClient.readContract({ address: channels, abi: paymentChannelsAbi, functionName: "getChannel", args: [id] });
    const mined = async (hash: Hex) => {
      const r = await publicClient.waitForTransactionReceipt({ hash });
      expect(r.status).to.equal("success");
      return r;
    };
    await mined(await walletClient.writeContract({ address: token, abi: testUsdcAbi, functionName: "faucet", args: [account.address, DEPOSIT] }));

    const start = {
      buyer: await balance(account.address),
      provider: await balance(market.provider),
      modelOwner: await balance(market.modelOwner),
      contract: await balance(channels),
    };
    const buyer = new Buyer({ publicClient, wallet: walletClient, paymentChannels: channels, store: new MemoryBuyerStore() });
    const record = await buyer.open({ device: market.device.address, modelId, token, deposit: DEPOSIT, endpoint: url });
    expect(await balance(account.address)).to.equal(start.buyer - DEPOSIT);

    // 100 consecutive 32 ms frames of a synthetic vowel-like signal; the VAD's recurrent state goes from call to call.
    let state = initialVadState();
    const probabilities: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      const frame = new Float32Array(512);
      for (let j = 0; j < 512; j++) {
        const t = (i * 512 + j) / 16_000;
        frame[j] = (i % 40 < 20 ? 0.4 : 0.01) * (Math.sin(2 * Math.PI * 150 * t) + 0.5 * Math.sin(2 * Math.PI * 300 * t));
      }
      const r = await buyer.infer(modelId, sileroVadInputs(frame, state), { workers: [url] });
      expect(r.channelId).to.equal(record.channelId);
      expect(r.receipt.cumulativeAmount).to.equal(BigInt(i + 1) * PRICE);
      state = r.outputs.stateN!;
      probabilities.push((r.outputs.output!.data as Float32Array)[0]!);
    }
    expect(probabilities.every((p) => p >= 0 && p <= 1)).to.equal(true);
    const receipts = await buyer.receipts({ channelId: record.channelId });
    expect(receipts).to.have.length(CALLS);
    expect(receipts.every((r) => r.verification.valid)).to.equal(true);
    // Receipts form the device's hash chain in order.
    for (let i = 1; i < receipts.length; i++) expect(receipts[i]!.receipt.sequence).to.be.greaterThan(receipts[i - 1]!.receipt.sequence);
    const paid = BigInt(CALLS) * PRICE;

    // The settler claims on its own whenever the unclaimed value passes the threshold, until less than it is left.
    await until("threshold claims", async () => paid - (await channelState(record.channelId)).claimed < THRESHOLD);
    const claimedBeforeClose = (await channelState(record.channelId)).claimed;
    expect(claimedBeforeClose).to.be.greaterThanOrEqual(paid - THRESHOLD);

    // The buyer closes; the watchtower claims the rest within the challenge period; the buyer withdraws after it.
    await buyer.requestClose(record.channelId);
    const closesAt = BigInt((await channelState(record.channelId)).closesAt);
    await until("watchtower claim", async () => (await channelState(record.channelId)).claimed === paid);
    await rpc(net.chain.url, "evm_increaseTime", [Number(CHALLENGE) + 1]);
    await rpc(net.chain.url, "evm_mine");
    await buyer.withdraw(record.channelId);
    const final = await channelState(record.channelId);
    expect(final.settled).to.equal(true);
    expect(final.claimed).to.equal(paid);

    // Claims on-chain: every Claimed event of this channel, each before the close deadline.
    const logs = await publicClient.getContractEvents({ address: channels, abi: paymentChannelsAbi, eventName: "Claimed", args: { channelId: record.channelId }, fromBlock: 0n });
    expect(logs.length).to.be.greaterThanOrEqual(Number(paid / THRESHOLD) > 1 ? 2 : 1);
    let providerShare = 0n;
    let royalty = 0n;
    let previous = 0n;
    for (const log of logs) {
      const delta = log.args.cumulativeAmount! - previous;
      previous = log.args.cumulativeAmount!;
      // Per claim: royalty = floor(delta * bps / 10,000), provider gets the rest.
      expect(log.args.royalty).to.equal((delta * BigInt(ROYALTY_BPS)) / 10_000n);
      expect(log.args.providerAmount).to.equal(delta - log.args.royalty!);
      providerShare += log.args.providerAmount!;
      royalty += log.args.royalty!;
    }
    const lastClaim = await publicClient.getBlock({ blockNumber: logs.at(-1)!.blockNumber! });
    expect(lastClaim.timestamp).to.be.lessThan(closesAt);
    expect(providerShare + royalty).to.equal(paid);
    expect(royalty).to.equal(10_000n); // 10% of 100 x 1,000

    expect(await balance(market.provider)).to.equal(start.provider + paid - royalty);
    expect(await balance(account.address)).to.equal(start.buyer - paid);

    // The model owner withdraws exactly the accrued royalty.
    expect(await publicClient.readContract({ address: channels, abi: paymentChannelsAbi, functionName: "royaltiesOf", args: [modelId, token] })).to.equal(royalty);
    const w = await mined(await owner.walletClient.writeContract({ address: channels, abi: paymentChannelsAbi, functionName: "withdrawRoyalties", args: [modelId, token, owner.account.address] }));
    expect(parseEventLogs({ abi: paymentChannelsAbi, logs: w.logs, eventName: "RoyaltiesWithdrawn" })[0]!.args.amount).to.equal(royalty);
    expect(await balance(market.modelOwner)).to.equal(start.modelOwner + royalty);

    // Nothing of this channel is left in the contract.
    expect(await balance(channels)).to.equal(start.contract);
    const listed = (await buyer.channels()).find((c) => c.channelId === record.channelId)!;
    expect(listed.status).to.equal("settled");
  });
});

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
