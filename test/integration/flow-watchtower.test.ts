// The watchtower: the buyer requests a close while the worker holds vouchers it has not claimed (its threshold is
// far away), and the chain clock is pushed close to the end of the challenge period. The worker must see the close
// request and claim before the period ends; the buyer's withdrawal then refunds exactly what was not served.
import { expect } from "chai";
import type { Address, Hex } from "viem";
import { paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { privateKeyToAccount } from "viem/accounts";
import { Buyer, MemoryBuyerStore, postInfer } from "../../protocol/client/index.ts";
import { tensorToWire } from "../../protocol/tensors.ts";
import { encodeVoucherHeader, signVoucher } from "../../protocol/voucher.ts";
import { initialVadState, sileroVadInputs } from "../../protocol/client/inputs.ts";
import { rpc } from "../../scripts/lib/chain.ts";
import { clientsFor, startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { setupMarket, SILERO_VAD_V5, type Market } from "../../scripts/lib/worker-fixture.ts";

const PRICE = 2_500n;
const ROYALTY_BPS = 750;
const DEPOSIT = 100_000n;
const CALLS = 17;
const CHALLENGE = 3_600;
const LEFT_AFTER_JUMP = 300;
const BUYER = 5;

describe("flow: watchtower claims before the challenge period ends", function () {
  this.timeout(240_000);
  let net: Localnet;
  let market: Market;

  before(async () => {
    net = await startLocalnet({ challengePeriod: BigInt(CHALLENGE) });
    market = await setupMarket(net, {
      models: [{ file: SILERO_VAD_V5, name: "Silero VAD v5", price: PRICE, royaltyBps: ROYALTY_BPS }],
      // Nothing would be claimed for a long time but for the close request.
      config: { settlement: { claimThreshold: "1000000000000", maxAgeSeconds: 30 * 86_400, closeSafetySeconds: 30, minBatch: 1, pollIntervalMs: 200 } },
    });
  });
  after(async () => {
    await market?.stop();
    await net?.stop();
  });

  it("claims every accepted voucher in time; the buyer gets the rest back to the unit", async () => {
    const { publicClient, walletClient, account } = clientsFor(net, BUYER);
    const token = market.token;
    const channels = market.contracts.paymentChannels;
    const modelId = market.models[0]!.modelId;
    const url = market.worker!.url;
    const balance = (who: Address) => publicClient.readContract({ address: token, abi: testUsdcAbi, functionName: "balanceOf", args: [who] });
    const channelState = (id: Hex) => publicClient.readContract({ address: channels, abi: paymentChannelsAbi, functionName: "getChannel", args: [id] });
    const faucet = await walletClient.writeContract({ address: token, abi: testUsdcAbi, functionName: "faucet", args: [account.address, DEPOSIT] });
    await publicClient.waitForTransactionReceipt({ hash: faucet });
    const start = { buyer: await balance(account.address), provider: await balance(market.provider) };

    const buyer = new Buyer({ publicClient, wallet: walletClient, paymentChannels: channels, store: new MemoryBuyerStore() });
    const record = await buyer.open({ device: market.device.address, modelId, token, deposit: DEPOSIT, endpoint: url });
    let state = initialVadState();
    for (let i = 0; i < CALLS; i++) {
      const frame = new Float32Array(512).map((_, j) => 0.3 * Math.sin((2 * Math.PI * 200 * (i * 512 + j)) / 16_000));
      const r = await buyer.infer(modelId, sileroVadInputs(frame, state), { workers: [url] });
      state = r.outputs.stateN!;
    }
    const paid = BigInt(CALLS) * PRICE;
    // A couple of settler rounds pass without a claim: the vouchers sit at the worker, unclaimed.
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await channelState(record.channelId)).claimed).to.equal(0n);

    await buyer.requestClose(record.channelId);
    const closesAt = BigInt((await channelState(record.channelId)).closesAt);
    // Most of the challenge period passes at once: the worker has LEFT_AFTER_JUMP seconds of chain time.
    await rpc(net.chain.url, "evm_increaseTime", [CHALLENGE - LEFT_AFTER_JUMP]);
    await rpc(net.chain.url, "evm_mine");

    const deadline = Date.now() + 60_000;
    while ((await channelState(record.channelId)).claimed !== paid) {
      if (Date.now() > deadline) throw new Error("the worker did not claim within 60 s of wall time");
      await new Promise((r) => setTimeout(r, 200));
    }
    // Every claim landed after the close request and before the period ended (a MAC-only voucher still being
    // verified may make the watchtower claim the verified part first, then the rest).
    const claims = await publicClient.getContractEvents({ address: channels, abi: paymentChannelsAbi, eventName: "Claimed", args: { channelId: record.channelId }, fromBlock: 0n });
    expect(claims.length).to.be.within(1, 2);
    for (const claim of claims) {
      const block = await publicClient.getBlock({ blockNumber: claim.blockNumber! });
      expect(block.timestamp).to.be.lessThan(closesAt);
      expect(block.timestamp).to.be.greaterThan(closesAt - BigInt(CHALLENGE) - 1n);
    }
    expect(claims.at(-1)!.args.cumulativeAmount).to.equal(paid);

    // A voucher sent now is refused: the channel closes too soon for the device to claim it safely.
    await rpc(net.chain.url, "evm_increaseTime", [LEFT_AFTER_JUMP - 10]);
    await rpc(net.chain.url, "evm_mine");
    // The worker's clock follows the blocks it has seen: wait until it has seen this one.
    const head = await publicClient.getBlockNumber();
    while (BigInt(((await (await fetch(`${url}/healthz`)).json()) as { block: string }).block) < head) await new Promise((r) => setTimeout(r, 100));
    const stored = (await buyer.store.getChannel(record.channelId))!;
    const voucher = await signVoucher(privateKeyToAccount(stored.signerKey), { chainId: market.chainId, paymentChannels: channels, channelId: record.channelId, cumulativeAmount: paid + PRICE });
    const frame = new Float32Array(512);
    const inputs = Object.fromEntries(Object.entries(sileroVadInputs(frame, initialVadState())).map(([k, t]) => [k, tensorToWire(t)]));
    const late = await postInfer(url, modelId, inputs, { voucher: encodeVoucherHeader(voucher) });
    expect(late.kind).to.equal("payment_required");
    expect(late.kind === "payment_required" && late.code).to.equal("channel_closing");
    expect(late.kind === "payment_required" && late.payment.lastAccepted).to.equal(paid.toString());

    await rpc(net.chain.url, "evm_increaseTime", [11]);
    await rpc(net.chain.url, "evm_mine");
    await buyer.withdraw(record.channelId);
    const royalty = (paid * BigInt(ROYALTY_BPS)) / 10_000n;
    expect(await balance(account.address)).to.equal(start.buyer - paid);
    expect(await balance(market.provider)).to.equal(start.provider + paid - royalty);
    expect(await publicClient.readContract({ address: channels, abi: paymentChannelsAbi, functionName: "royaltiesOf", args: [modelId, token] })).to.equal(royalty);
    const settled = await channelState(record.channelId);
    expect(settled.settled).to.equal(true);
  });
});
