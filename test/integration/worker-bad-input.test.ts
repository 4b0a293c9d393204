// Every kind of bad request gets a 4xx JSON error with a stable code, the worker stays up, and its database does
// not change: no receipt written, no voucher kept, no channel stored. The last test proves it still serves.
import { expect } from "chai";
import type { Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { paymentChannelsAbi } from "../../protocol/generated/contracts.ts";
import { MAC_HEADER } from "../../protocol/session.ts";
import { encodeVoucherHeader, signVoucher, VOUCHER_HEADER } from "../../protocol/voucher.ts";
import { errorBodyWire, paymentRequiredBodyWire, type ErrorCode } from "../../protocol/wire.ts";
import { registerDevice } from "../../worker/register.ts";
import { rpc, waitFor } from "../../scripts/lib/chain.ts";
import { clientsFor, startLocalnet, TEST_KEYS, type Localnet } from "../../scripts/lib/localnet.ts";
import {
  clsInputs,
  macHeader,
  openChannel,
  paidHeaders,
  PPOCR_DIRECTION_CLS,
  PROVIDER_INDEX,
  setupMarket,
  SILERO_VAD_V5,
  vadInputs,
  voucherHeader,
  type Market,
  type TestChannel,
} from "../../scripts/lib/worker-fixture.ts";

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function call(url: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const res = await fetch(url, { method: init.method ?? "POST", headers: { "content-type": "application/json", ...init.headers }, body: init.body });
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`HTTP ${res.status} answered non-JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, body };
}

describe("worker: bad input", function () {
  this.timeout(240_000);
  let net: Localnet;
  let market: Market;
  let vad: bigint;
  let cls: bigint;
  let channel: TestChannel;
  let inferUrl: string;
  /** A channel on which nothing was paid yet (no session): its first voucher's signature decides. */
  let fresh: TestChannel;

  /** Durable state that no refused request may change. */
  function snapshot() {
    const store = market.worker!.internals.store;
    return {
      receipts: store.receipts().map((r) => `${r.sequence}:${r.channelId}:${r.amount}`),
      channels: store.channels().map((c) => ({ id: c.id, accepted: c.acceptedAmount, verified: c.verifiedAmount, sig: c.acceptedSig, blocked: c.blocked, close: c.closeSigned })),
    };
  }

  /** Sends a bad request and checks status, code, error shape and that nothing was stored. */
  async function refused(expected: { status: number; code: ErrorCode }, send: () => Promise<Answer>): Promise<Answer> {
    // Deferred (MAC-accepted) vouchers are verified in the background; settle that first so it cannot race the snapshot.
    await market.worker!.internals.ledger.verifyAllDeferred();
    await waitFor("deferred verification stored", async () => market.worker!.internals.ledger.all().every((c) => c.verifying === null), 5_000);
    const before = snapshot();
    const answer = await send();
    expect(answer.status, JSON.stringify(answer.body)).to.equal(expected.status);
    const parsed = expected.status === 402 ? paymentRequiredBodyWire.parse(answer.body) : errorBodyWire.parse(answer.body);
    expect(parsed.error.code).to.equal(expected.code);
    expect(parsed.error.message).to.be.a("string").and.not.equal("");
    expect(snapshot(), "database unchanged").to.deep.equal(before);
    return answer;
  }

  const paid = async (ch: TestChannel, amount: bigint, extra: Record<string, string> = {}) => {
    const body = JSON.stringify({ inputs: vadInputs() });
    return call(inferUrl, { body, headers: { ...(await paidHeaders(market, ch, amount, body)), ...extra } });
  };
  /** A request with `body` carrying a valid voucher for `amount` and its MAC (so only the body can be wrong). */
  const signed = async (ch: TestChannel, amount: bigint, body: string, url = inferUrl) => call(url, { body, headers: await paidHeaders(market, ch, amount, body) });

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    market = await setupMarket(net, {
      models: [{ file: SILERO_VAD_V5, price: 1_000n }, { file: PPOCR_DIRECTION_CLS, price: 5_000n, royaltyBps: 500 }],
      // This suite sends many refused requests from one address on purpose: the per-client budget is not under test here.
      config: { maxBodyBytes: 1024 * 1024, verification: { maxUnverifiedValue: "3000" }, http: { unpaidPerClient: { burst: 100_000, perSecond: 1_000 } } },
    });
    vad = market.models[0]!.modelId;
    cls = market.models[1]!.modelId;
    inferUrl = `${market.worker!.url}/v1/infer/${vad}`;
    channel = await openChannel(market, { buyer: 3, deposit: 10_000n });
    fresh = await openChannel(market, { buyer: 7, deposit: 10_000n });
    const first = await paid(channel, 1_000n);
    expect(first.status, JSON.stringify(first.body)).to.equal(200);
  });
  after(async () => {
    await market?.stop();
    await net?.stop();
  });

  describe("bodies and routes", () => {
    it("refuses a body over the size limit with 413 body_too_large, voucher unused", async () => {
      const big = JSON.stringify({ inputs: { input: { type: "float32", dims: [1, 200_000], data: new Array(200_000).fill(0.123456) } } });
      expect(big.length).to.be.greaterThan(1024 * 1024);
      await refused({ status: 413, code: "body_too_large" }, async () =>
        call(inferUrl, { body: big, headers: { [VOUCHER_HEADER]: await voucherHeader(market, channel, 2_000n) } }),
      );
    });

    it("refuses invalid JSON with 400 invalid_json", async () => {
      await refused({ status: 400, code: "invalid_json" }, () => signed(channel, 2_000n, '{"inputs": {"input": '));
    });

    it("refuses a non-JSON content type with 415 unsupported_media_type", async () => {
      await refused({ status: 415, code: "unsupported_media_type" }, async () =>
        call(inferUrl, { body: JSON.stringify({ inputs: vadInputs() }), headers: { "content-type": "text/plain" } }),
      );
    });

    it("refuses a body of the wrong shape with 400 bad_request", async () => {
      await refused({ status: 400, code: "bad_request" }, () => signed(channel, 2_000n, JSON.stringify({ tensors: {} })));
      await refused({ status: 400, code: "bad_request" }, () => signed(channel, 2_000n, "[1, 2, 3]"));
    });

    it("refuses an unknown model with 404 unknown_model", async () => {
      for (const id of ["999", "abc", "-1"]) {
        await refused({ status: 404, code: "unknown_model" }, async () =>
          call(`${market.worker!.url}/v1/infer/${id}`, { body: JSON.stringify({ inputs: vadInputs() }), headers: { [VOUCHER_HEADER]: await voucherHeader(market, channel, 2_000n) } }),
        );
      }
    });

    it("refuses unknown routes (404 not_found) and wrong methods (405 method_not_allowed)", async () => {
      await refused({ status: 404, code: "not_found" }, () => call(`${market.worker!.url}/v2/nothing`, { method: "GET" }));
      await refused({ status: 405, code: "method_not_allowed" }, () => call(inferUrl, { method: "GET" }));
      await refused({ status: 405, code: "method_not_allowed" }, () => call(`${market.worker!.url}/v1/offerings`, { method: "POST", body: "{}" }));
    });
  });

  describe("tensors", () => {
    const cases: { name: string; tensor: string; mutate: (i: ReturnType<typeof vadInputs>) => unknown }[] = [
      { name: "a missing input", tensor: "sr", mutate: (i) => ({ input: i.input, state: i.state }) },
      { name: "an input the model does not have", tensor: "extra", mutate: (i) => ({ ...i, extra: { type: "float32", dims: [1], data: [1] } }) },
      { name: "a wrong element type", tensor: "input", mutate: (i) => ({ ...i, input: { type: "int32", dims: [1, 512], data: new Array(512).fill(0) } }) },
      { name: "a wrong fixed dimension", tensor: "state", mutate: (i) => ({ ...i, state: { type: "float32", dims: [2, 1, 64], data: new Array(128).fill(0) } }) },
      { name: "a wrong rank", tensor: "input", mutate: (i) => ({ ...i, input: { type: "float32", dims: [512], data: new Array(512).fill(0) } }) },
      { name: "data that does not fill the dims", tensor: "input", mutate: (i) => ({ ...i, input: { type: "float32", dims: [1, 512], data: [1, 2, 3] } }) },
      { name: "a non-numeric value", tensor: "input", mutate: (i) => ({ ...i, input: { type: "float32", dims: [1, 2], data: ["x", 1] } }) },
      { name: "an unknown element type", tensor: "input", mutate: (i) => ({ ...i, input: { type: "complex64", dims: [1, 1], data: [1] } }) },
    ];
    for (const c of cases) {
      it(`refuses ${c.name} with 400 invalid_tensor naming "${c.tensor}"`, async () => {
        const answer = await refused({ status: 400, code: "invalid_tensor" }, async () =>
          signed(channel, 2_000n, JSON.stringify({ inputs: c.mutate(vadInputs()) })),
        );
        expect((answer.body.error as { message: string }).message).to.include(`"${c.tensor}"`);
      });
    }

    it("answers 422 inference_failed when the model itself fails, and does not consume the voucher", async () => {
      // Shapes the unit rule accepts, a sample rate the model cannot handle.
      const inputs = { ...vadInputs(), sr: { type: "int64", dims: [], data: ["12345"] } };
      await refused({ status: 422, code: "inference_failed" }, () => signed(channel, 2_000n, JSON.stringify({ inputs })));
      const failures = (await market.worker!.internals.metrics.inferenceFailures.get()).values.reduce((n, v) => n + v.value, 0);
      expect(failures).to.equal(1);
      // The same voucher still buys an answer.
      const ok = await signed(channel, 2_000n, JSON.stringify({ inputs: vadInputs() }));
      expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
    });
  });

  describe("vouchers", () => {
    it("answers 402 payment_required without a voucher", async () => {
      const a = await refused({ status: 402, code: "payment_required" }, () => call(inferUrl, { body: JSON.stringify({ inputs: vadInputs() }) }));
      expect((a.body.payment as { required: string }).required).to.equal("1000");
    });

    it("refuses a malformed voucher header with 402 invalid_voucher", async () => {
      for (const header of ["nonsense", `${channel.id}:12`, `${channel.id}:abc:0x${"11".repeat(65)}`, `${channel.id}:3000:0x1234`]) {
        await refused({ status: 402, code: "invalid_voucher" }, () => call(inferUrl, { body: JSON.stringify({ inputs: vadInputs() }), headers: { [VOUCHER_HEADER]: header } }));
      }
    });

    it("refuses a voucher signed by another key with 402 invalid_signature (first voucher of a channel)", async () => {
      const intruderKey = generatePrivateKey();
      const intruder = privateKeyToAccount(intruderKey);
      const v = await signVoucher(intruder, { chainId: market.chainId, paymentChannels: market.contracts.paymentChannels, channelId: fresh.id, cumulativeAmount: 1_000n });
      const body = JSON.stringify({ inputs: vadInputs() });
      // The intruder can compute a MAC only under its own key: the recovered signer is not the channel's.
      const mac = macHeader(market, { ...fresh, signer: Object.assign(intruder, { privateKey: intruderKey }) }, encodeVoucherHeader(v), body);
      await refused({ status: 402, code: "invalid_signature" }, () => call(inferUrl, { body, headers: { [VOUCHER_HEADER]: encodeVoucherHeader(v), [MAC_HEADER]: mac } }));
    });

    it("refuses a voucher with a high-s (malleated) signature with 402 invalid_signature", async () => {
      const header = await voucherHeader(market, fresh, 1_000n);
      const [id, amount, sig] = header.split(":") as [string, string, Hex];
      const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
      const s = BigInt(`0x${sig.slice(66, 130)}`);
      const v = parseInt(sig.slice(130, 132), 16);
      const flipped = `${sig.slice(0, 66)}${(n - s).toString(16).padStart(64, "0")}${(v === 27 ? 28 : 27).toString(16)}`;
      const body = JSON.stringify({ inputs: vadInputs() });
      const malleated = `${id}:${amount}:${flipped}`;
      await refused({ status: 402, code: "invalid_signature" }, () => call(inferUrl, { body, headers: { [VOUCHER_HEADER]: malleated, [MAC_HEADER]: macHeader(market, fresh, malleated, body) } }));
    });

    it("refuses a voucher signed for another chain (foreign domain) with 402 invalid_signature", async () => {
      const body = JSON.stringify({ inputs: vadInputs() });
      await refused({ status: 402, code: "invalid_signature" }, async () => call(inferUrl, { body, headers: await paidHeaders(market, fresh, 1_000n, body, { chainId: 1 }) }));
    });

    it("refuses a replayed voucher and an older one with 402 voucher_stale, telling the last accepted amount", async () => {
      const accepted = market.worker!.internals.ledger.known(channel.id)!.acceptedAmount;
      // The same voucher with other inputs: not a retry of the answered request, so not paid again.
      const replay = await refused({ status: 402, code: "voucher_stale" }, () => signed(channel, accepted, JSON.stringify({ inputs: vadInputs(3) })));
      expect((replay.body.payment as { lastAccepted: string }).lastAccepted).to.equal(accepted.toString());
      expect((replay.body.payment as { required: string }).required).to.equal((accepted + 1_000n).toString());
      await refused({ status: 402, code: "voucher_stale" }, () => paid(channel, accepted - 1_000n));
    });

    it("refuses a voucher below last accepted + price with 402 amount_too_low", async () => {
      const accepted = market.worker!.internals.ledger.known(channel.id)!.acceptedAmount;
      await refused({ status: 402, code: "amount_too_low" }, () => paid(channel, accepted + 999n));
    });

    it("refuses a voucher above the deposit with 402 amount_exceeds_deposit", async () => {
      await refused({ status: 402, code: "amount_exceeds_deposit" }, () => paid(channel, 10_001n));
    });

    it("refuses a channel that does not exist with 402 unknown_channel", async () => {
      const ghost: TestChannel = { ...channel, id: `0x${"ab".repeat(32)}` };
      await refused({ status: 402, code: "unknown_channel" }, () => paid(ghost, 1_000n));
    });

    it("refuses another device's channel with 402 unknown_channel (the index holds only this device's) and stores nothing about it", async () => {
      const otherKey = generatePrivateKey();
      await registerDevice({
        rpcUrl: net.chain.url,
        contracts: market.contracts,
        ownerKey: TEST_KEYS[PROVIDER_INDEX],
        devicePrivateKey: otherKey,
        endpoint: "http://127.0.0.1:1",
        models: [{ modelId: vad, price: 1_000n }],
      });
      const foreign = await openChannel({ ...market, device: { address: privateKeyToAccount(otherKey).address, privateKey: otherKey } }, { buyer: 5, deposit: 10_000n });
      await refused({ status: 402, code: "unknown_channel" }, () => paid(foreign, 1_000n));
      expect(market.worker!.internals.store.channel(foreign.id)).to.equal(undefined);
    });

    it("refuses a channel for another model with 402 wrong_model", async () => {
      const headers = { [VOUCHER_HEADER]: await voucherHeader(market, channel, 3_000n) };
      await refused({ status: 402, code: "wrong_model" }, () => call(`${market.worker!.url}/v1/infer/${cls}`, { body: JSON.stringify({ inputs: clsInputs() }), headers }));
    });

    it("serialises one channel: five concurrent requests with the same voucher buy exactly one answer", async () => {
      const before = market.worker!.internals.store.receipts().length;
      const accepted = market.worker!.internals.ledger.known(channel.id)!.acceptedAmount;
      // Different inputs: only one request can be paid by the voucher; the others are stale.
      const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => signed(channel, accepted + 1_000n, JSON.stringify({ inputs: vadInputs(i + 1) }))));
      expect(answers.filter((a) => a.status === 200)).to.have.length(1);
      for (const a of answers.filter((x) => x.status !== 200)) {
        expect(a.status).to.equal(402);
        expect((a.body.error as { code: string }).code).to.equal("voucher_stale");
      }
      expect(market.worker!.internals.store.receipts().length).to.equal(before + 1);
    });

    it("answers identical concurrent retries of one voucher with the one stored receipt, storing one", async () => {
      const before = market.worker!.internals.store.receipts().length;
      const accepted = market.worker!.internals.ledger.known(channel.id)!.acceptedAmount;
      const body = JSON.stringify({ inputs: vadInputs(7) });
      const headers = await paidHeaders(market, channel, accepted + 1_000n, body);
      const answers = await Promise.all(Array.from({ length: 4 }, () => call(inferUrl, { body, headers })));
      expect(answers.map((a) => a.status)).to.deep.equal([200, 200, 200, 200]);
      const sequences = new Set(answers.map((a) => (a.body.receipt as { sequence: string }).sequence));
      expect(sequences.size, "one receipt for one payment").to.equal(1);
      expect(market.worker!.internals.store.receipts().length).to.equal(before + 1);
    });

    it("blocks a channel for good when a MAC-deferred voucher turns out to be badly signed", async () => {
      const rogue = await openChannel(market, { buyer: 6, deposit: 100_000n });
      const ok = await paid(rogue, 1_000n);
      expect(ok.status).to.equal(200);
      // A correct session MAC over a voucher whose signature is another key's: accepted on the MAC, checked later.
      const intruder = privateKeyToAccount(generatePrivateKey());
      const v = await signVoucher(intruder, { chainId: market.chainId, paymentChannels: market.contracts.paymentChannels, channelId: rogue.id, cumulativeAmount: 2_000n });
      const header = encodeVoucherHeader(v);
      const body = JSON.stringify({ inputs: vadInputs() });
      const deferred = await call(inferUrl, { body, headers: { [VOUCHER_HEADER]: header, [MAC_HEADER]: macHeader(market, rogue, header, body) } });
      expect(deferred.status).to.equal(200);
      await market.worker!.internals.ledger.verifyAllDeferred();
      // The background pass may have found it first: wait until the block is durable.
      await waitFor("block stored", async () => market.worker!.internals.store.channel(rogue.id)!.blocked !== null, 5_000);
      const row = market.worker!.internals.store.channel(rogue.id)!;
      expect(row.blocked).to.match(/invalid signature/);
      expect(row.verifiedAmount, "only the verified voucher is claimable").to.equal(1_000n);
      const failures = (await market.worker!.internals.metrics.deferredFailures.get()).values[0]?.value;
      expect(failures).to.equal(1);
      await refused({ status: 403, code: "channel_blocked" }, () => paid(rogue, 3_000n));
    });

    it("refuses a missing (402 mac_required) or wrong (402 invalid_mac) MAC even with a correctly signed voucher", async () => {
      const accepted = market.worker!.internals.ledger.known(channel.id)!.acceptedAmount;
      const body = JSON.stringify({ inputs: vadInputs() });
      const header = await voucherHeader(market, channel, accepted + 1_000n);
      await refused({ status: 402, code: "mac_required" }, () => call(inferUrl, { body, headers: { [VOUCHER_HEADER]: header } }));
      await refused({ status: 402, code: "invalid_mac" }, () => call(inferUrl, { body, headers: { [VOUCHER_HEADER]: header, [MAC_HEADER]: "00".repeat(32) } }));
      // A MAC of other inputs (or another route) does not pay for these.
      const other = macHeader(market, channel, header, JSON.stringify({ inputs: vadInputs(5) }));
      await refused({ status: 402, code: "invalid_mac" }, () => call(inferUrl, { body, headers: { [VOUCHER_HEADER]: header, [MAC_HEADER]: other } }));
    });
  });

  describe("closing and closed channels", () => {
    let closing: TestChannel;
    before(async () => {
      closing = await openChannel(market, { buyer: 8, deposit: 50_000n });
      expect((await paid(closing, 1_000n)).status).to.equal(200);
    });

    it("refuses vouchers once a requested close ends too soon (402 channel_closing), after the watchtower claimed", async () => {
      const buyer = clientsFor(net, 8);
      const hash = await buyer.walletClient.writeContract({ address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "requestClose", args: [closing.terms] });
      await buyer.publicClient.waitForTransactionReceipt({ hash });
      // Plenty of time left: still served.
      expect((await paid(closing, 2_000n)).status).to.equal(200);
      await rpc(net.chain.url, "evm_increaseTime", [590]);
      await rpc(net.chain.url, "evm_mine");
      const head = BigInt(await rpc<string>(net.chain.url, "eth_blockNumber"));
      await waitFor("worker sees the new block", async () => market.worker!.internals.watcher.lastBlock >= head, 10_000);
      await refused({ status: 402, code: "channel_closing" }, () => paid(closing, 3_000n));
      await waitFor(
        "watchtower claim",
        async () => (await buyer.publicClient.readContract({ address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [closing.id] })).claimed === 2_000n,
        20_000,
      );
    });

    it("refuses vouchers on a settled channel with 402 channel_settled", async () => {
      const buyer = clientsFor(net, 8);
      await rpc(net.chain.url, "evm_increaseTime", [60]);
      await rpc(net.chain.url, "evm_mine");
      const hash = await buyer.walletClient.writeContract({ address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "withdraw", args: [closing.terms] });
      expect((await buyer.publicClient.waitForTransactionReceipt({ hash })).status).to.equal("success");
      await waitFor("worker sees the settlement", async () => market.worker!.internals.ledger.known(closing.id)!.settled, 10_000);
      await refused({ status: 402, code: "channel_settled" }, () => paid(closing, 3_000n));
    });
  });

  describe("afterwards", () => {
    it("is still up and serving with its state intact after all of the above", async () => {
      const health = await call(`${market.worker!.url}/healthz`, { method: "GET" });
      expect(health.status).to.equal(200);
      const accepted = market.worker!.internals.ledger.known(channel.id)!.acceptedAmount;
      const answer = await paid(channel, accepted + 1_000n);
      expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
      const rows = market.worker!.internals.store.receipts();
      // The receipt chain has no gap: sequences 1..n, each linking to its predecessor.
      rows.forEach((r, i) => {
        expect(r.sequence).to.equal(BigInt(i + 1));
        if (i > 0) expect(r.previous).to.equal(rows[i - 1]!.digest);
      });
      expect(market.worker!.internals.store.channel(channel.id)!.acceptedAmount).to.equal(accepted + 1_000n);
      const metrics = await (await fetch(`${market.worker!.url}/metrics`)).text();
      expect(metrics).to.match(/edgepay_rejected_vouchers_total\{reason="invalid_signature"\} [1-9]/);
      expect(metrics).to.match(/edgepay_payment_required_total\{reason="voucher_stale"\} [1-9]/);
    });
  });
});
