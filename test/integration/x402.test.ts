// x402 v2 against a real worker on a local chain: the 402 carries PAYMENT-REQUIRED beside the native body, a
// PAYMENT-SIGNATURE goes through the native checks, paid answers carry PAYMENT-RESPONSE with the receipt, and the
// unmodified @x402/fetch + @x402/core pay through our edgepay-channel scheme. Bad headers: a 400/402 with a stable
// code and nothing stored.
import { expect } from "chai";
import { x402Client } from "@x402/core/client";
import { decodePaymentResponseHeader, wrapFetchWithPayment } from "@x402/fetch";
import { testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { Buyer, EdgepayClientError, inferBody, MemoryBuyerStore } from "../../protocol/client/index.ts";
import { EdgepayChannelScheme } from "../../protocol/client/x402-scheme.ts";
import { receiptToWire } from "../../protocol/receipt.ts";
import { BODY_HASH_HEADER, MAC_HEADER } from "../../protocol/session.ts";
import { tensorFromWire } from "../../protocol/tensors.ts";
import { VOUCHER_HEADER } from "../../protocol/voucher.ts";
import { errorBodyWire, paymentRequiredBodyWire, type ErrorCode } from "../../protocol/wire.ts";
import {
  caip2,
  edgepayExtraWire,
  encodeX402Header,
  PAYMENT_REQUIRED_HEADER,
  PAYMENT_RESPONSE_HEADER,
  PAYMENT_SIGNATURE_HEADER,
  x402PaymentRequiredWire,
  x402SettleResponseWire,
  type X402PaymentRequiredWire,
} from "../../protocol/x402.ts";
import { waitFor } from "../../scripts/lib/chain.ts";
import { clientsFor, startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { openChannel, paidHeaders, setupMarket, SILERO_VAD_V5, vadInputs, type Market, type TestChannel } from "../../scripts/lib/worker-fixture.ts";

const PRICE = 1_000n;
const BUYER = 4;

describe("x402 v2: worker transport and the edgepay-channel client scheme", function () {
  this.timeout(240_000);
  let net: Localnet;
  let market: Market;
  let url: string;
  let modelId: bigint;
  let channel: TestChannel;

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    market = await setupMarket(net, {
      models: [{ file: SILERO_VAD_V5, price: PRICE, royaltyBps: 1_000 }],
      config: { http: { unpaidPerClient: { burst: 100_000, perSecond: 1_000 } } },
    });
    modelId = market.models[0]!.modelId;
    url = `${market.worker!.url}/v1/infer/${modelId}`;
    channel = await openChannel(market, { buyer: 3, deposit: 100n * PRICE });
    const { walletClient, publicClient, account } = clientsFor(net, BUYER);
    const hash = await walletClient.writeContract({ address: market.token, abi: testUsdcAbi, functionName: "faucet", args: [account.address, 100_000_000n] });
    await publicClient.waitForTransactionReceipt({ hash });
  });
  after(async () => {
    await market?.stop();
    await net?.stop();
  });

  function snapshot() {
    const store = market.worker!.internals.store;
    return {
      receipts: store.receipts().map((r) => `${r.sequence}:${r.channelId}:${r.amount}`),
      channels: store.channels().map((c) => ({ id: c.id, accepted: c.acceptedAmount, sig: c.acceptedSig, blocked: c.blocked, close: c.closeSigned })),
    };
  }

  async function settled() {
    await market.worker!.internals.ledger.verifyAllDeferred();
    await waitFor("deferred verification stored", async () => market.worker!.internals.ledger.all().every((c) => c.verifying === null), 5_000);
  }

  /** An x402 PaymentPayload for `channel` at `amount` over `body`, built from the native headers. */
  async function paymentSignature(amount: bigint, body: string, over: Record<string, unknown> = {}): Promise<string> {
    const h = await paidHeaders(market, channel, amount, body);
    return encodeX402Header({
      x402Version: 2,
      resource: { url },
      accepted: { scheme: "edgepay-channel", network: caip2(market.chainId), amount: PRICE.toString(), asset: market.token, payTo: market.provider, maxTimeoutSeconds: 60, extra: {} },
      payload: { voucher: h[VOUCHER_HEADER], mac: h[MAC_HEADER], bodySha256: h[BODY_HASH_HEADER] },
      ...over,
    });
  }

  const post = (body: string, headers: Record<string, string>) => fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

  function requiredOf(res: Response): X402PaymentRequiredWire {
    const raw = res.headers.get(PAYMENT_REQUIRED_HEADER);
    expect(raw, "PAYMENT-REQUIRED header").to.be.a("string");
    return x402PaymentRequiredWire.parse(JSON.parse(Buffer.from(raw!, "base64").toString("utf8")));
  }

  it("a 402 carries PAYMENT-REQUIRED (x402Version 2, edgepay-channel on eip155:<chainId>) beside the native body", async () => {
    const res = await post(inferBody(vadInputs()), {});
    expect(res.status).to.equal(402);
    const native = paymentRequiredBodyWire.parse(await res.json());
    expect(native.error.code).to.equal("payment_required");
    const required = requiredOf(res);
    expect(required.resource.url).to.equal(url);
    // edgepay-channel first; x402's exact beside it (test/integration/x402-exact.test.ts).
    expect(required.accepts.map((a) => a.scheme)).to.deep.equal(["edgepay-channel", "exact"]);
    const a = required.accepts[0]!;
    expect([a.scheme, a.network, a.amount, a.asset.toLowerCase(), a.payTo.toLowerCase()]).to.deep.equal([
      "edgepay-channel",
      `eip155:${market.chainId}`,
      PRICE.toString(),
      market.token.toLowerCase(),
      market.provider.toLowerCase(),
    ]);
    const extra = edgepayExtraWire.parse(a.extra);
    expect(extra.paymentChannels.toLowerCase()).to.equal(market.contracts.paymentChannels.toLowerCase());
    expect(extra.device.toLowerCase()).to.equal(market.device.address.toLowerCase());
    expect([extra.modelId, extra.price, extra.royaltyBps, extra.chainId]).to.deep.equal([modelId.toString(), PRICE.toString(), 1_000, market.chainId]);
  });

  it("PAYMENT-SIGNATURE pays through the native checks; PAYMENT-RESPONSE carries the same receipt; a re-send is a replay, not a second charge", async () => {
    const body = inferBody(vadInputs(1));
    const sig = await paymentSignature(PRICE, body);
    const res = await post(body, { [PAYMENT_SIGNATURE_HEADER]: sig });
    const answer = (await res.json()) as { receipt: Record<string, string> };
    expect(res.status, JSON.stringify(answer)).to.equal(200);
    const settledHeader = x402SettleResponseWire.parse(decodePaymentResponseHeader(res.headers.get(PAYMENT_RESPONSE_HEADER)!));
    expect(settledHeader.success).to.equal(true);
    expect(settledHeader.network).to.equal(caip2(market.chainId));
    expect(receiptToWire(settledHeader.receipt!)).to.deep.equal(answer.receipt);
    const before = snapshot();
    const again = await post(body, { [PAYMENT_SIGNATURE_HEADER]: sig });
    expect(again.status).to.equal(200);
    const replayed = x402SettleResponseWire.parse(decodePaymentResponseHeader(again.headers.get(PAYMENT_RESPONSE_HEADER)!));
    expect(receiptToWire(replayed.receipt!)).to.deep.equal(answer.receipt);
    expect(snapshot(), "a replay stores nothing").to.deep.equal(before);
    // Native answers do not carry x402 headers: the native protocol is unchanged.
    const nativeBody = inferBody(vadInputs(2));
    const native = await post(nativeBody, await paidHeaders(market, channel, 2n * PRICE, nativeBody));
    expect(native.status).to.equal(200);
    expect(native.headers.get(PAYMENT_RESPONSE_HEADER)).to.equal(null);
  });

  describe("bad PAYMENT-SIGNATURE headers: a stable code, nothing charged or stored", () => {
    const cases: [string, () => Promise<Record<string, string>>, number, ErrorCode][] = [
      ["oversized (8193 characters)", async () => ({ [PAYMENT_SIGNATURE_HEADER]: "A".repeat(8193) }), 400, "x402_malformed"],
      ["not base64", async () => ({ [PAYMENT_SIGNATURE_HEADER]: "%%%not-base64%%%" }), 400, "x402_malformed"],
      ["base64 that is not JSON", async () => ({ [PAYMENT_SIGNATURE_HEADER]: Buffer.from("voucher please").toString("base64") }), 400, "x402_malformed"],
      ["JSON that is not a PaymentPayload", async () => ({ [PAYMENT_SIGNATURE_HEADER]: encodeX402Header({ hello: "world" }) }), 400, "x402_malformed"],
      ["x402Version 1", async () => ({ [PAYMENT_SIGNATURE_HEADER]: await paymentSignature(3n * PRICE, inferBody(vadInputs(3)), { x402Version: 1 }) }), 400, "x402_version"],
      ["x402Version 3", async () => ({ [PAYMENT_SIGNATURE_HEADER]: await paymentSignature(3n * PRICE, inferBody(vadInputs(3)), { x402Version: 3 }) }), 400, "x402_version"],
      [
        "scheme upto",
        async () => ({
          [PAYMENT_SIGNATURE_HEADER]: await paymentSignature(3n * PRICE, inferBody(vadInputs(3)), {
            accepted: { scheme: "upto", network: caip2(market.chainId), amount: "1000", asset: market.token, payTo: market.provider, maxTimeoutSeconds: 60, extra: {} },
          }),
        }),
        402,
        "x402_unsupported_scheme",
      ],
      [
        "network eip155:1",
        async () => ({
          [PAYMENT_SIGNATURE_HEADER]: await paymentSignature(3n * PRICE, inferBody(vadInputs(3)), {
            accepted: { scheme: "edgepay-channel", network: "eip155:1", amount: "1000", asset: market.token, payTo: market.provider, maxTimeoutSeconds: 60, extra: {} },
          }),
        }),
        402,
        "x402_unsupported_network",
      ],
      ["payload without a MAC", async () => ({ [PAYMENT_SIGNATURE_HEADER]: await paymentSignature(3n * PRICE, inferBody(vadInputs(3)), { payload: { voucher: "x" } }) }), 400, "x402_malformed"],
      [
        "both PAYMENT-SIGNATURE and the native voucher",
        async () => ({ [PAYMENT_SIGNATURE_HEADER]: await paymentSignature(3n * PRICE, inferBody(vadInputs(3))), [VOUCHER_HEADER]: "x" }),
        400,
        "x402_malformed",
      ],
      // Well-formed x402, but the MAC covers another body: the native check refuses it with the native code.
      ["a MAC over another body", async () => ({ [PAYMENT_SIGNATURE_HEADER]: await paymentSignature(3n * PRICE, inferBody(vadInputs(9))) }), 402, "invalid_mac"],
    ];
    for (const [name, headers, status, code] of cases) {
      it(`${name}: ${status} ${code}`, async () => {
        await settled();
        const before = snapshot();
        const res = await post(inferBody(vadInputs(3)), await headers());
        const json = (await res.json()) as unknown;
        expect(res.status, JSON.stringify(json)).to.equal(status);
        expect(errorBodyWire.parse(json).error.code).to.equal(code);
        if (status === 402) expect(requiredOf(res).accepts[0]!.scheme).to.equal("edgepay-channel");
        expect(snapshot(), "nothing stored").to.deep.equal(before);
      });
    }
  });

  describe("the unmodified @x402/fetch pays with channel vouchers", () => {
    function newBuyer(store = new MemoryBuyerStore()) {
      const { publicClient, walletClient } = clientsFor(net, BUYER);
      return new Buyer({ publicClient, wallet: walletClient, paymentChannels: market.contracts.paymentChannels, store, http: { timeoutMs: 20_000 } });
    }
    function x402For(buyer: Buyer, deposit: bigint | (() => undefined), fetchImpl: typeof fetch = fetch) {
      const scheme = new EdgepayChannelScheme(buyer, { deposit });
      const client = new x402Client().register("eip155:*", scheme);
      // A local test token is no default asset: the caller opts in to it, with a per-payment cap in token units.
      client.setSpendControls({ allowedAssets: [{ network: caip2(market.chainId) as `${string}:${string}`, asset: market.token, maxAmountPerPayment: (10n * PRICE).toString() }] });
      return scheme.wrap(wrapFetchWithPayment(fetchImpl, client));
    }
    const infer = (pay: typeof fetch, seed: number) => pay(url, { method: "POST", headers: { "content-type": "application/json" }, body: inferBody(vadInputs(seed)) });

    it("opens a channel under the caller's deposit, pays each request once, verifies every receipt", async () => {
      const buyer = newBuyer();
      let sent = 0;
      const counting: typeof fetch = (input, init) => {
        sent++;
        return fetch(input, init);
      };
      const pay = x402For(buyer, 20n * PRICE, counting);
      for (let i = 0; i < 3; i++) {
        const res = await infer(pay, 10 + i);
        const body = (await res.json()) as { outputs: Record<string, { dims: number[] }> };
        expect(res.status, JSON.stringify(body)).to.equal(200);
        expect(Object.keys(body.outputs)).to.not.have.length(0);
        expect(res.headers.get(PAYMENT_RESPONSE_HEADER)).to.be.a("string");
      }
      // Each call: the unpaid request (402) and one paid retry.
      expect(sent).to.equal(6);
      const receipts = await buyer.receipts();
      expect(receipts.map((r) => r.verification.valid)).to.deep.equal([true, true, true]);
      expect(receipts.map((r) => r.receipt.cumulativeAmount)).to.deep.equal([PRICE, 2n * PRICE, 3n * PRICE]);
      const channels = (await buyer.channels()).filter((c) => c.hasKey);
      expect(channels).to.have.length(1);
      expect(channels[0]!.state.deposit, "deposit from the caller's policy, on-chain").to.equal(20n * PRICE);
      const view = (await (await fetch(`${market.worker!.url}/v1/channels/${channels[0]!.channelId}`)).json()) as { lastAccepted: string };
      expect(view.lastAccepted).to.equal((3n * PRICE).toString());
      // The native client goes on from the same store and channel: one account of what was paid.
      const native = await buyer.infer(modelId, Object.fromEntries(Object.entries(vadInputs(20)).map(([k, w]) => [k, tensorFromWire(k, w)])), { workers: [market.worker!.url] });
      expect(native.channelId).to.equal(channels[0]!.channelId);
      expect(native.receipt.cumulativeAmount).to.equal(4n * PRICE);
    });

    it("without a channel and with a policy that opens none, nothing is signed or sent paid", async () => {
      const buyer = newBuyer();
      const pay = x402For(buyer, () => undefined);
      let error: unknown;
      try {
        await infer(pay, 30);
      } catch (e) {
        error = e;
      }
      expect(String(error)).to.match(/no open channel/);
      expect(await buyer.receipts()).to.have.length(0);
    });

    it("a tampered answer is caught: receipt_rejected, kept as evidence", async () => {
      const buyer = newBuyer();
      const tampering: typeof fetch = async (input, init) => {
        const res = await fetch(input, init);
        if (res.status !== 200) return res;
        const body = (await res.json()) as { outputs: Record<string, { data: number[] }> };
        const first = Object.values(body.outputs)[0]!;
        first.data[0] = (first.data[0] ?? 0) + 1;
        return new Response(JSON.stringify(body), { status: 200, headers: res.headers });
      };
      const pay = x402For(buyer, 20n * PRICE, tampering);
      let error: unknown;
      try {
        await infer(pay, 40);
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(EdgepayClientError);
      expect((error as EdgepayClientError).code).to.equal("receipt_rejected");
      const receipts = await buyer.receipts();
      expect(receipts.map((r) => r.verification.valid)).to.deep.equal([false]);
    });

    it("an answer lost after paying is kept in doubt and recovered by the Buyer from the same device: one charge", async () => {
      const buyer = newBuyer();
      let drop = true;
      const lossy: typeof fetch = async (input, init) => {
        const res = await fetch(input, init);
        if (res.status === 200 && drop) {
          drop = false;
          await res.arrayBuffer();
          throw new TypeError("fetch failed", { cause: Object.assign(new Error("socket hang up (test)"), { code: "ECONNRESET" }) });
        }
        return res;
      };
      const pay = x402For(buyer, 20n * PRICE, lossy);
      let error: unknown;
      try {
        // Float inputs that JSON writes differently from their float32 values: recovery must re-send the same bytes.
        await pay(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ inputs: { ...vadInputs(60), input: { ...vadInputs(60).input!, data: vadInputs(60).input!.data.map((x) => Number(x) + 0.1) } } }) });
      } catch (e) {
        error = e;
      }
      expect(String(error)).to.match(/fetch failed/);
      const doubts = await buyer.inDoubt();
      expect(doubts.map((d) => d.amount)).to.deep.equal([PRICE]);
      const outcomes = await buyer.recover();
      expect(outcomes.map((o) => o.status)).to.deep.equal(["recovered"]);
      expect(await buyer.inDoubt()).to.have.length(0);
      const ch = (await buyer.channels()).find((c) => c.hasKey)!;
      const view = (await (await fetch(`${market.worker!.url}/v1/channels/${ch.channelId}`)).json()) as { lastAccepted: string };
      expect(view.lastAccepted, "charged once").to.equal(PRICE.toString());
      // The next x402 request signs on top of the recovered one.
      const next = await infer(x402For(buyer, 20n * PRICE), 61);
      expect(next.status).to.equal(200);
      expect((await buyer.receipts()).map((r) => r.receipt.cumulativeAmount)).to.deep.equal([PRICE, 2n * PRICE]);
    });

    it("the recovery retry of @x402/fetch re-sends the same voucher: one charge", async () => {
      const buyer = newBuyer();
      const scheme = new EdgepayChannelScheme(buyer, { deposit: 20n * PRICE });
      const client = new x402Client().register("eip155:*", scheme);
      client.setSpendControls({ allowedAssets: [{ network: caip2(market.chainId) as `${string}:${string}`, asset: market.token }] });
      let recoveries = 0;
      // A hook that asks for a retry after the paid answer: x402's fetch then builds a fresh payload and sends again.
      client.onPaymentResponse(async () => (recoveries++ === 0 ? { recovered: true } : undefined));
      const pay = scheme.wrap(wrapFetchWithPayment(fetch, client));
      const res = await infer(pay, 50);
      expect(res.status).to.equal(200);
      expect(recoveries).to.equal(2);
      const ch = (await buyer.channels()).find((c) => c.hasKey);
      const view = (await (await fetch(`${market.worker!.url}/v1/channels/${ch!.channelId}`)).json()) as { lastAccepted: string };
      expect(view.lastAccepted, "charged once").to.equal(PRICE.toString());
    });
  });
});

