// The device-wide cap on deferred value (issue 14, item 8): a buyer holds its own session key, so it can MAC a
// voucher whose signature is garbage; the worker defers the ECDSA check within a per-channel budget. Without a
// device-wide cap, N channels give N x budget of free answers. With `verification.maxDeferredChannels`, a forged
// voucher on a channel beyond the cap is recovered at once and refused, before the model runs.
import { expect } from "chai";
import { encodeVoucherHeader, signVoucher, VOUCHER_HEADER } from "../../protocol/voucher.ts";
import { MAC_HEADER } from "../../protocol/session.ts";
import { errorBodyWire } from "../../protocol/wire.ts";
import { waitFor } from "../../scripts/lib/chain.ts";
import { startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { macHeader, openChannel, setupMarket, vadInputs, voucherHeader, type Market, type TestChannel } from "../../scripts/lib/worker-fixture.ts";

const PRICE = 1_000n;

describe("worker: deferred (MAC-accepted) value is capped per device, not only per channel", function () {
  this.timeout(240_000);
  let net: Localnet;
  let market: Market;
  const channels: TestChannel[] = [];

  async function send(ch: TestChannel, header: string) {
    const body = JSON.stringify({ inputs: vadInputs() });
    const res = await fetch(`${market.worker!.url}/v1/infer/${market.models[0]!.modelId}`, {
      method: "POST",
      headers: { "content-type": "application/json", [VOUCHER_HEADER]: header, [MAC_HEADER]: macHeader(market, ch, header, body) },
      body,
    });
    return { status: res.status, body: (await res.json()) as unknown };
  }

  /** A voucher for `amount` on `ch` whose signature is valid for another amount: it recovers to another address. */
  async function forged(ch: TestChannel, amount: bigint) {
    const other = await signVoucher(ch.signer, { chainId: market.chainId, paymentChannels: market.contracts.paymentChannels, channelId: ch.id, cumulativeAmount: amount + 1n });
    return encodeVoucherHeader({ channelId: ch.id, cumulativeAmount: amount, signature: other.signature });
  }

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    // Background verification far away, so deferred value stays deferred while the test looks at it (the settler
    // verifies only channels it is about to claim: none, below the threshold).
    market = await setupMarket(net, { config: { verification: { maxDeferredChannels: 2, backgroundMs: 600_000 }, settlement: { claimThreshold: "1000000000", maxAgeSeconds: 3600, closeSafetySeconds: 30, minBatch: 1, pollIntervalMs: 200 } } });
    for (let i = 0; i < 3; i++) channels.push(await openChannel(market, { buyer: 3 + i, deposit: 1_000_000n }));
    await waitFor("channels indexed", async () => channels.every((c) => market.worker!.internals.ledger.known(c.id) !== undefined), 10_000);
    // Each channel's first voucher is ECDSA-checked (it establishes the session key).
    for (const ch of channels) expect((await send(ch, await voucherHeader(market, ch, PRICE))).status).to.equal(200);
  });

  after(async () => {
    await market?.stop();
    await net?.stop();
  });

  it("serves forged-but-MACed vouchers on at most maxDeferredChannels channels; the next channel's forgery is refused at once and stores nothing", async () => {
    const ledger = market.worker!.internals.ledger;
    const store = market.worker!.internals.store;
    expect(ledger.deferredChannels()).to.equal(0);
    // Channels 1 and 2: the forged voucher is within the per-channel budget and the device cap: deferred (served).
    for (const ch of channels.slice(0, 2)) expect((await send(ch, await forged(ch, 2n * PRICE))).status).to.equal(200);
    expect(ledger.deferredChannels()).to.equal(2);
    // Channel 3: the device already carries deferred value on 2 channels: recovered now, refused, nothing stored.
    const third = channels[2]!;
    const receiptsBefore = store.receipts().length;
    const r = await send(third, await forged(third, 2n * PRICE));
    expect(r.status).to.equal(402);
    expect(errorBodyWire.parse(r.body).error.code).to.equal("invalid_signature");
    expect(store.receipts().length).to.equal(receiptsBefore);
    expect(store.channels().find((c) => c.id === third.id)!.acceptedAmount).to.equal(PRICE);
    // An honest voucher on channel 3 is still served (recovered inline, so it adds no deferred value).
    expect((await send(third, await voucherHeader(market, third, 2n * PRICE))).status).to.equal(200);
    expect(ledger.deferredChannels()).to.equal(2);
    // The background pass finds the forgeries: both channels are blocked for good and leave the deferred set.
    await ledger.verifyAllDeferred();
    expect(ledger.deferredChannels()).to.equal(0);
    for (const ch of channels.slice(0, 2)) expect(store.channels().find((c) => c.id === ch.id)!.blocked).to.be.a("string");
  });
});
