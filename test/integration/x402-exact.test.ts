// x402's standard `exact` scheme against a real worker on a local chain: the unmodified @x402/fetch with the
// unmodified @x402/evm exact client buys an inference; the worker (its own facilitator) settles it with
// PaymentChannels.settleExact, so the payer, the provider and the model's royalty move by exactly the price and its
// split, and the receipt (channelId = the authorization's nonce) verifies. Bad authorizations: a 402/400 with a
// stable code, nothing moved on-chain, nothing stored.
import { expect } from "chai";
import { x402Client } from "@x402/core/client";
import { registerExactEvmScheme } from "@x402/evm/exact/client";
import { decodePaymentResponseHeader, wrapFetchWithPayment } from "@x402/fetch";
import { keccak256, parseEventLogs, toBytes, type Address, type Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { deviceRegistryAbi, paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { Buyer, inferBody, MemoryBuyerStore } from "../../protocol/client/index.ts";
import { EdgepayChannelScheme } from "../../protocol/client/x402-scheme.ts";
import { transferWithAuthorizationTypes } from "../../protocol/eip712.ts";
import { recoverReceiptSigner, signedReceiptWire } from "../../protocol/receipt.ts";
import { errorBodyWire, type ErrorCode } from "../../protocol/wire.ts";
import {
  caip2,
  encodeX402Header,
  exactExtraWire,
  PAYMENT_REQUIRED_HEADER,
  PAYMENT_RESPONSE_HEADER,
  PAYMENT_SIGNATURE_HEADER,
  x402PaymentRequiredWire,
  x402SettleResponseWire,
  type X402PaymentRequiredWire,
} from "../../protocol/x402.ts";
import { clientsFor, startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { PROVIDER_INDEX, setupMarket, SILERO_VAD_V5, vadInputs, type Market } from "../../scripts/lib/worker-fixture.ts";

const PRICE = 1_000n;
const ROYALTY_BPS = 1_000;
const BUYER = 4;
/** Holds no token: for the insufficient-balance case. */
const PAUPER = 7;
const FRONT_RUNNER = 5;

describe("x402 exact: the unmodified @x402/evm client buys from a worker that is its own facilitator", function () {
  this.timeout(240_000);
  let net: Localnet;
  let market: Market;
  let url: string;
  let modelId: bigint;
  let receiver: Address;
  let buyer: PrivateKeyAccount;

  const pc = () => clientsFor(net, BUYER).publicClient;
  const balance = (who: Address) => pc().readContract({ address: market.token, abi: testUsdcAbi, functionName: "balanceOf", args: [who] });
  const royalties = () => pc().readContract({ address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "royaltiesOf", args: [modelId, market.token] });
  async function money() {
    return { buyer: await balance(buyer.address), provider: await balance(market.provider), receiver: await balance(receiver), royalties: await royalties() };
  }
  function stored() {
    const store = market.worker!.internals.store;
    return {
      receipts: store.receipts().length,
      exact: (store.db.prepare("SELECT COUNT(*) AS n FROM exact_payments").get() as { n: number }).n,
      txs: store.txs().length,
    };
  }

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    market = await setupMarket(net, {
      models: [{ file: SILERO_VAD_V5, price: PRICE, royaltyBps: ROYALTY_BPS }],
      config: { http: { unpaidPerClient: { burst: 100_000, perSecond: 1_000 } } },
    });
    modelId = market.models[0]!.modelId;
    url = `${market.worker!.url}/v1/infer/${modelId}`;
    receiver = await pc().readContract({ address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "exactReceiver", args: [market.device.address, modelId, market.token] });
    buyer = clientsFor(net, BUYER).account;
    for (const i of [BUYER, FRONT_RUNNER]) {
      const { walletClient, publicClient, account } = clientsFor(net, i);
      const hash = await walletClient.writeContract({ address: market.token, abi: testUsdcAbi, functionName: "faucet", args: [account.address, 100_000_000n] });
      await publicClient.waitForTransactionReceipt({ hash });
    }
  });
  after(async () => {
    await market?.stop();
    await net?.stop();
  });

  const post = (body: string, headers: Record<string, string> = {}) => fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

  function requiredOf(res: Response): X402PaymentRequiredWire {
    const raw = res.headers.get(PAYMENT_REQUIRED_HEADER);
    expect(raw, "PAYMENT-REQUIRED header").to.be.a("string");
    return x402PaymentRequiredWire.parse(JSON.parse(Buffer.from(raw!, "base64").toString("utf8")));
  }

  function exactFetch(account: PrivateKeyAccount): typeof fetch {
    const client = new x402Client();
    registerExactEvmScheme(client, { signer: account });
    // A local test token is no default asset: the caller opts in to it, with a per-payment cap in token units.
    client.setSpendControls({ allowedAssets: [{ network: caip2(market.chainId) as `${string}:${string}`, asset: market.token, maxAmountPerPayment: (10n * PRICE).toString() }] });
    return wrapFetchWithPayment(fetch, client);
  }

  it("the 402 offers edgepay-channel and exact (payTo = the offering's receiver, extra = the token's EIP-712 domain)", async () => {
    const res = await post(inferBody(vadInputs()));
    expect(res.status).to.equal(402);
    const required = requiredOf(res);
    expect(required.accepts.map((a) => a.scheme)).to.deep.equal(["edgepay-channel", "exact"]);
    const exact = required.accepts[1]!;
    expect([exact.network, exact.amount, exact.asset.toLowerCase(), exact.payTo.toLowerCase()]).to.deep.equal([
      `eip155:${market.chainId}`,
      PRICE.toString(),
      market.token.toLowerCase(),
      receiver.toLowerCase(),
    ]);
    expect(exactExtraWire.parse(exact.extra)).to.deep.equal({ name: "Test USD Coin", version: "1", assetTransferMethod: "eip3009" });
    expect(exact.maxTimeoutSeconds).to.be.greaterThan(30);
  });

  it("wrapFetchWithPayment + the exact scheme buys one inference: exact price and split on-chain, the receipt verifies", async () => {
    const before = await money();
    const res = await exactFetch(buyer)(url, { method: "POST", headers: { "content-type": "application/json" }, body: inferBody(vadInputs(1)) });
    const answer = (await res.json()) as { outputs: Record<string, unknown>; receipt: Record<string, string> };
    expect(res.status, JSON.stringify(answer)).to.equal(200);
    expect(Object.keys(answer.outputs)).to.not.have.length(0);
    const settled = x402SettleResponseWire.parse(decodePaymentResponseHeader(res.headers.get(PAYMENT_RESPONSE_HEADER)!));
    expect([settled.success, settled.network, settled.payer?.toLowerCase(), settled.amount]).to.deep.equal([true, caip2(market.chainId), buyer.address.toLowerCase(), PRICE.toString()]);
    expect(settled.transaction).to.match(/^0x[0-9a-f]{64}$/);

    const after = await money();
    const royalty = (PRICE * BigInt(ROYALTY_BPS)) / 10_000n;
    expect(before.buyer - after.buyer, "payer paid the price").to.equal(PRICE);
    expect(after.provider - before.provider, "provider payee got price - royalty").to.equal(PRICE - royalty);
    expect(after.royalties - before.royalties, "model royalty accrued").to.equal(royalty);
    expect(after.receiver, "receiver swept").to.equal(0n);

    // The receipt: signed by the device key, channelId = the authorization's nonce, cumulativeAmount = its value.
    const receipt = signedReceiptWire.parse(answer.receipt);
    expect(await recoverReceiptSigner(receipt, market.chainId, market.contracts.paymentChannels)).to.equal(market.device.address);
    expect([receipt.cumulativeAmount, receipt.units, receipt.modelId]).to.deep.equal([PRICE, 1n, modelId]);
    const tx = await pc().getTransactionReceipt({ hash: settled.transaction as Hex });
    const used = parseEventLogs({ abi: testUsdcAbi, logs: tx.logs, eventName: "AuthorizationUsed" });
    expect(used.map((l) => [l.args.authorizer, l.args.nonce])).to.deep.equal([[buyer.address, receipt.channelId]]);
    const split = parseEventLogs({ abi: paymentChannelsAbi, logs: tx.logs, eventName: "ExactSettled" });
    expect(split.map((l) => [l.args.device, l.args.modelId, l.args.amount, l.args.royalty])).to.deep.equal([[market.device.address, modelId, PRICE, royalty]]);
  });

  it("one 402 offers both: a client with only edgepay-channel pays with a voucher, one with only exact with an authorization", async () => {
    const { publicClient, walletClient } = clientsFor(net, FRONT_RUNNER);
    const channelBuyer = new Buyer({ publicClient, wallet: walletClient, paymentChannels: market.contracts.paymentChannels, store: new MemoryBuyerStore(), http: { timeoutMs: 20_000 } });
    const scheme = new EdgepayChannelScheme(channelBuyer, { deposit: 20n * PRICE });
    const client = new x402Client().register("eip155:*", scheme);
    client.setSpendControls({ allowedAssets: [{ network: caip2(market.chainId) as `${string}:${string}`, asset: market.token }] });
    const offered: string[][] = [];
    const spying: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (res.status === 402) offered.push(requiredOf(res).accepts.map((a) => a.scheme));
      return res;
    };
    const before = await money();
    const viaChannel = await scheme.wrap(wrapFetchWithPayment(spying, client))(url, { method: "POST", headers: { "content-type": "application/json" }, body: inferBody(vadInputs(2)) });
    expect(viaChannel.status).to.equal(200);
    expect(offered).to.deep.equal([["edgepay-channel", "exact"]]);
    expect((await channelBuyer.receipts()).map((r) => r.verification.valid)).to.deep.equal([true]);
    const mid = await money();
    expect([mid.buyer, mid.receiver, mid.royalties], "the channel payment moved nothing through the exact path").to.deep.equal([before.buyer, before.receiver, before.royalties]);
    const viaExact = await exactFetch(buyer)(url, { method: "POST", headers: { "content-type": "application/json" }, body: inferBody(vadInputs(2)) });
    expect(viaExact.status).to.equal(200);
    expect(before.buyer - (await money()).buyer).to.equal(PRICE);
  });

  describe("bad authorizations: a stable code, nothing moved, nothing stored", () => {
    interface Over {
      from?: PrivateKeyAccount;
      signer?: PrivateKeyAccount;
      to?: Address;
      value?: bigint;
      validAfter?: bigint;
      validBefore?: bigint;
      nonce?: Hex;
      network?: string;
      asset?: Address;
      payload?: unknown;
    }
    let seq = 0;
    async function chainNow(): Promise<bigint> {
      return (await pc().getBlock()).timestamp;
    }
    async function authorization(over: Over = {}) {
      const from = over.from ?? buyer;
      const message = {
        from: from.address,
        to: over.to ?? receiver,
        value: over.value ?? PRICE,
        validAfter: over.validAfter ?? 0n,
        validBefore: over.validBefore ?? (await chainNow()) + 120n,
        nonce: over.nonce ?? keccak256(toBytes(`exact test nonce ${seq++} ${Date.now()}`)),
      };
      const signature = await (over.signer ?? from).signTypedData({
        domain: { name: "Test USD Coin", version: "1", chainId: market.chainId, verifyingContract: market.token },
        types: transferWithAuthorizationTypes,
        primaryType: "TransferWithAuthorization",
        message,
      });
      return { message, signature };
    }
    function header(a: Awaited<ReturnType<typeof authorization>>, over: Over = {}): string {
      const m = a.message;
      return encodeX402Header({
        x402Version: 2,
        resource: { url },
        accepted: { scheme: "exact", network: over.network ?? caip2(market.chainId), amount: PRICE.toString(), asset: over.asset ?? market.token, payTo: receiver, maxTimeoutSeconds: 120, extra: { name: "Test USD Coin", version: "1" } },
        payload: over.payload ?? {
          signature: a.signature,
          authorization: { from: m.from, to: m.to, value: m.value.toString(), validAfter: m.validAfter.toString(), validBefore: m.validBefore.toString(), nonce: m.nonce },
        },
      });
    }

    async function refused(sig: string, status: number, code: ErrorCode, body = inferBody(vadInputs(3))) {
      const moneyBefore = await money();
      const storedBefore = stored();
      const res = await post(body, { [PAYMENT_SIGNATURE_HEADER]: sig });
      const json = (await res.json()) as unknown;
      expect(res.status, JSON.stringify(json)).to.equal(status);
      expect(errorBodyWire.parse(json).error.code).to.equal(code);
      if (status === 402) expect(requiredOf(res).accepts.map((a) => a.scheme)).to.deep.equal(["edgepay-channel", "exact"]);
      expect(await money(), "no money moved").to.deep.equal(moneyBefore);
      expect(stored(), "nothing stored").to.deep.equal(storedBefore);
    }

    it("another payee (to), another amount, another asset, another network: each refused", async () => {
      await refused(header(await authorization({ to: market.provider })), 402, "exact_wrong_payee");
      await refused(header(await authorization({ value: PRICE + 1n })), 402, "exact_wrong_amount");
      await refused(header(await authorization({ value: PRICE - 1n })), 402, "exact_wrong_amount");
      await refused(header(await authorization(), { asset: market.contracts.paymentChannels }), 402, "exact_wrong_asset");
      await refused(header(await authorization(), { network: "eip155:1" }), 402, "x402_unsupported_network");
    });

    it("expired, inside the settlement margin, not yet valid (window edges)", async () => {
      const now = await chainNow();
      await refused(header(await authorization({ validBefore: now })), 402, "exact_expired");
      // validBefore must leave the worker its 30 s to run and settle.
      await refused(header(await authorization({ validBefore: now + 10n })), 402, "exact_expired");
      await refused(header(await authorization({ validAfter: now + 100n })), 402, "exact_not_yet_valid");
    });

    it("bad signature: another signer, or fields changed after signing", async () => {
      const other = clientsFor(net, FRONT_RUNNER).account;
      await refused(header(await authorization({ signer: other })), 402, "exact_invalid_signature");
      const a = await authorization();
      await refused(header({ ...a, message: { ...a.message, validBefore: a.message.validBefore + 1n } }), 402, "exact_invalid_signature");
      await refused(header(a, { payload: { signature: "0x1234", authorization: {} } }), 400, "x402_malformed");
    });

    it("insufficient balance", async () => {
      await refused(header(await authorization({ from: clientsFor(net, PAUPER).account })), 402, "exact_insufficient_balance");
    });

    it("replayed: the identical request gets the stored answer (no second settlement); another body is refused", async () => {
      const a = await authorization();
      const body = inferBody(vadInputs(4));
      const sig = header(a);
      const before = await money();
      const first = await post(body, { [PAYMENT_SIGNATURE_HEADER]: sig });
      const answer = (await first.json()) as { receipt: unknown };
      expect(first.status, JSON.stringify(answer)).to.equal(200);
      const paid = await money();
      expect(before.buyer - paid.buyer).to.equal(PRICE);
      const storedAfter = stored();
      const again = await post(body, { [PAYMENT_SIGNATURE_HEADER]: sig });
      const replay = (await again.json()) as { receipt: unknown };
      expect(again.status).to.equal(200);
      expect(replay.receipt).to.deep.equal(answer.receipt);
      expect(x402SettleResponseWire.parse(decodePaymentResponseHeader(again.headers.get(PAYMENT_RESPONSE_HEADER)!)).transaction).to.equal(
        x402SettleResponseWire.parse(decodePaymentResponseHeader(first.headers.get(PAYMENT_RESPONSE_HEADER)!)).transaction,
      );
      expect(await money(), "charged once").to.deep.equal(paid);
      expect(stored(), "a replay stores nothing").to.deep.equal(storedAfter);
      await refused(sig, 402, "exact_authorization_used", inferBody(vadInputs(5)));
    });

    it("front-run: submitted to the token by someone else before the worker saw it: refused, and the money still reaches the provider", async () => {
      const a = await authorization();
      const { walletClient, publicClient } = clientsFor(net, FRONT_RUNNER);
      const m = a.message;
      const hash = await walletClient.writeContract({
        address: market.token,
        abi: testUsdcAbi,
        functionName: "transferWithAuthorization",
        args: [m.from, m.to, m.value, m.validAfter, m.validBefore, m.nonce, a.signature],
      });
      await publicClient.waitForTransactionReceipt({ hash });
      expect(await balance(receiver), "the copier could only pay the receiver").to.equal(PRICE);
      await refused(header(a), 402, "exact_authorization_used");
      // The next settlement of this offering sweeps it to the provider and the model (nothing is lost, nothing paid twice).
      const before = await money();
      const res = await exactFetch(buyer)(url, { method: "POST", headers: { "content-type": "application/json" }, body: inferBody(vadInputs(6)) });
      expect(res.status).to.equal(200);
      const after = await money();
      const royalty = (PRICE * BigInt(ROYALTY_BPS)) / 10_000n;
      expect(before.buyer - after.buyer).to.equal(PRICE);
      expect(after.provider - before.provider).to.equal(2n * (PRICE - royalty));
      expect(after.royalties - before.royalties).to.equal(2n * royalty);
      expect(after.receiver).to.equal(0n);
    });

    /** Runs `during` while the model runs (after the worker verified, simulated and stored the authorization). */
    async function whileInferring<T>(during: () => Promise<void>, call: () => Promise<T>): Promise<T> {
      const runtime = market.worker!.internals.models.get(modelId.toString())!.runtime;
      const run = runtime.run.bind(runtime);
      runtime.run = async (inputs) => {
        await during();
        return run(inputs);
      };
      try {
        return await call();
      } finally {
        runtime.run = run;
      }
    }

    it("settlement fails after the work: the answer is withheld (402, failed PAYMENT-RESPONSE), nothing charged; an identical retry settles once", async () => {
      const a = await authorization();
      const sig = header(a);
      const body = inferBody(vadInputs(7));
      const owner = clientsFor(net, PROVIDER_INDEX);
      const setPaused = async (paused: boolean) => {
        const hash = await owner.walletClient.writeContract({ address: market.contracts.deviceRegistry, abi: deviceRegistryAbi, functionName: paused ? "pause" : "unpause", args: [market.device.address] });
        await owner.publicClient.waitForTransactionReceipt({ hash });
      };
      const before = await money();
      // The device is paused while the model runs: settleExact then reverts (InvalidDeviceStatus).
      const res = await whileInferring(() => setPaused(true), () => post(body, { [PAYMENT_SIGNATURE_HEADER]: sig }));
      const json = (await res.json()) as unknown;
      expect(res.status, JSON.stringify(json)).to.equal(402);
      expect(errorBodyWire.parse(json).error.code).to.equal("exact_settlement_failed");
      const failed = x402SettleResponseWire.parse(decodePaymentResponseHeader(res.headers.get(PAYMENT_RESPONSE_HEADER)!));
      expect([failed.success, failed.errorReason, failed.transaction]).to.deep.equal([false, "exact_settlement_failed", ""]);
      expect(await money(), "nothing charged").to.deep.equal(before);
      expect(market.worker!.internals.store.db.prepare("SELECT state FROM exact_payments WHERE nonce = ?").get(a.message.nonce.toLowerCase())).to.deep.equal({ state: "failed" });
      await setPaused(false);
      const retry = await post(body, { [PAYMENT_SIGNATURE_HEADER]: sig });
      expect(retry.status, await retry.clone().text()).to.equal(200);
      const royalty = (PRICE * BigInt(ROYALTY_BPS)) / 10_000n;
      const after = await money();
      expect([before.buyer - after.buyer, after.provider - before.provider, after.royalties - before.royalties]).to.deep.equal([PRICE, PRICE - royalty, royalty]);
    });

    it("front-run while the model runs: settleExact skips the used authorization and still splits its money, once", async () => {
      const a = await authorization();
      const m = a.message;
      const { walletClient, publicClient } = clientsFor(net, FRONT_RUNNER);
      const before = await money();
      const res = await whileInferring(async () => {
        const hash = await walletClient.writeContract({ address: market.token, abi: testUsdcAbi, functionName: "transferWithAuthorization", args: [m.from, m.to, m.value, m.validAfter, m.validBefore, m.nonce, a.signature] });
        await publicClient.waitForTransactionReceipt({ hash });
      }, () => post(inferBody(vadInputs(8)), { [PAYMENT_SIGNATURE_HEADER]: header(a) }));
      expect(res.status, await res.clone().text()).to.equal(200);
      const royalty = (PRICE * BigInt(ROYALTY_BPS)) / 10_000n;
      const after = await money();
      expect([before.buyer - after.buyer, after.provider - before.provider, after.royalties - before.royalties, after.receiver]).to.deep.equal([PRICE, PRICE - royalty, royalty, 0n]);
    });

    it("the same authorization twice at once: the second is 409 exact_in_progress, one settlement", async () => {
      const a = await authorization();
      const sig = header(a);
      const body = inferBody(vadInputs(9));
      const before = await money();
      let second: Response | undefined;
      const first = await whileInferring(async () => {
        second = await post(body, { [PAYMENT_SIGNATURE_HEADER]: sig });
      }, () => post(body, { [PAYMENT_SIGNATURE_HEADER]: sig }));
      expect(first.status).to.equal(200);
      expect(second!.status).to.equal(409);
      expect(errorBodyWire.parse(await second!.json()).error.code).to.equal("exact_in_progress");
      expect(before.buyer - (await money()).buyer, "charged once").to.equal(PRICE);
    });

    it("front-run and swept by someone else while the model runs: the worker's settleExact finds nothing, yet the buyer paid once and gets its answer", async () => {
      const a = await authorization();
      const m = a.message;
      const { walletClient, publicClient } = clientsFor(net, FRONT_RUNNER);
      let copied: Hex | undefined;
      const before = await money();
      const res = await whileInferring(async () => {
        copied = await walletClient.writeContract({ address: market.token, abi: testUsdcAbi, functionName: "transferWithAuthorization", args: [m.from, m.to, m.value, m.validAfter, m.validBefore, m.nonce, a.signature] });
        await publicClient.waitForTransactionReceipt({ hash: copied });
        const swept = await walletClient.writeContract({
          address: market.contracts.paymentChannels,
          abi: paymentChannelsAbi,
          functionName: "settleExact",
          args: [market.device.address, modelId, market.token, []],
        });
        await publicClient.waitForTransactionReceipt({ hash: swept });
      }, () => post(inferBody(vadInputs(10)), { [PAYMENT_SIGNATURE_HEADER]: header(a) }));
      expect(res.status, await res.clone().text()).to.equal(200);
      const settled = x402SettleResponseWire.parse(decodePaymentResponseHeader(res.headers.get(PAYMENT_RESPONSE_HEADER)!));
      expect([settled.success, settled.transaction]).to.deep.equal([true, copied]);
      const royalty = (PRICE * BigInt(ROYALTY_BPS)) / 10_000n;
      const after = await money();
      expect([before.buyer - after.buyer, after.provider - before.provider, after.royalties - before.royalties, after.receiver]).to.deep.equal([PRICE, PRICE - royalty, royalty, 0n]);
    });
  });
});
