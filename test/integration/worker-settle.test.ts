// POST /v1/settle: the device owner's "claim now". With a threshold no test reaches, the settler stays idle; only a
// request signed by the on-chain owner with a fresh timestamp makes it claim, and the payee receives exactly what
// the vouchers add up to, minus the model's royalty.
import { expect } from "chai";
import type { Hex } from "viem";
import { paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { settleMessage } from "../../protocol/wire.ts";
import { clientsFor, startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { openChannel, PROVIDER_INDEX, setupMarket, vadInputs, paidHeaders,
  type Market, type TestChannel } from "../../scripts/lib/worker-fixture.ts";

describe("worker: POST /v1/settle (claim now)", function () {
  this.timeout(300_000);
  let net: Localnet;
  let market: Market;
  let url: string;

  before(async () => {
    net = await startLocalnet({ challengePeriod: 3600n });
    market = await setupMarket(net, {
      config: { settlement: { claimThreshold: "1000000000", maxAgeSeconds: 86_400, closeSafetySeconds: 30, minBatch: 1, pollIntervalMs: 200 } },
    });
    url = market.worker!.url;
  });
  after(async () => {
    await market?.stop();
    await net?.stop();
  });

  const reader = () => clientsFor(net, 0).publicClient;
  const claimed = async (ch: TestChannel) =>
    (await reader().readContract({ address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [ch.id] })).claimed;
  const balanceOf = (who: Hex) => reader().readContract({ address: market.token, abi: testUsdcAbi, functionName: "balanceOf", args: [who] });

  async function pay(ch: TestChannel, amount: bigint) {
    const body = JSON.stringify({ inputs: vadInputs(Number(amount % 89n)) });
    const res = await fetch(`${url}/v1/infer/${market.models[0]!.modelId}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(await paidHeaders(market, ch, amount, body)) },
      body,
    });
    expect(res.status).to.equal(200);
  }

  async function settle(signerIndex: number, timestamp: number) {
    const signature = await clientsFor(net, signerIndex).account.signMessage({ message: settleMessage(market.device.address, timestamp) });
    const res = await fetch(`${url}/v1/settle`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ timestamp, signature }) });
    return { status: res.status, body: (await res.json()) as { channels?: number; txHash?: Hex | null; error?: { code: string; message: string } } };
  }

  it("refuses a wrong signer (403) and a stale timestamp (400), then claims every paid channel for the owner", async () => {
    const a = await openChannel(market, { buyer: 3, deposit: 100_000n });
    const b = await openChannel(market, { buyer: 4, deposit: 100_000n });
    for (let k = 1n; k <= 3n; k++) await pay(a, 1_000n * k);
    for (let k = 1n; k <= 2n; k++) await pay(b, 1_000n * k);
    const now = () => Math.floor(Date.now() / 1000);
    const before = await balanceOf(market.provider);

    const stranger = await settle(5, now());
    expect(stranger.status).to.equal(403);
    expect(stranger.body.error?.code).to.equal("not_device_owner");
    expect(stranger.body.error?.message).to.include(market.provider);

    const stale = await settle(PROVIDER_INDEX, now() - 301);
    expect(stale.status).to.equal(400);
    expect(stale.body.error?.code).to.equal("bad_request");
    expect(stale.body.error?.message).to.include("timestamp");

    const future = await settle(PROVIDER_INDEX, now() + 400);
    expect(future.status).to.equal(400);

    const bad = await fetch(`${url}/v1/settle`, { method: "POST", body: JSON.stringify({ timestamp: now() }) });
    expect(bad.status).to.equal(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).to.include("signature");

    // None of the refused requests claimed anything (the threshold keeps the settler idle).
    await new Promise((r) => setTimeout(r, 600));
    expect(await claimed(a)).to.equal(0n);
    expect(await claimed(b)).to.equal(0n);
    expect(market.worker!.internals.store.txs().filter((t) => t.claims.length > 0)).to.have.length(0);

    const ok = await settle(PROVIDER_INDEX, now());
    expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
    expect(ok.body.channels).to.equal(2);
    expect(ok.body.txHash).to.match(/^0x[0-9a-f]{64}$/);
    const receipt = await reader().getTransactionReceipt({ hash: ok.body.txHash! });
    expect(receipt.status).to.equal("success");
    expect(await claimed(a)).to.equal(3_000n);
    expect(await claimed(b)).to.equal(2_000n);
    const bps = BigInt(market.models[0]!.royaltyBps);
    const payout = 3_000n - (3_000n * bps) / 10_000n + (2_000n - (2_000n * bps) / 10_000n);
    expect((await balanceOf(market.provider)) - before).to.equal(payout);

    // Nothing left to claim: answered at once, no transaction.
    const again = await settle(PROVIDER_INDEX, now());
    expect(again.status).to.equal(200);
    expect(again.body).to.deep.equal({ channels: 0, txHash: null });
  });
});
