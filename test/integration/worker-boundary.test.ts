// Attacks on the worker's HTTP boundary (issue 14), each against a real worker on a real hardhat chain: the attack is
// reproduced, refused, the worker stays up, and its durable state does not change (only the real buyer's payments
// are stored). The worker talks to the chain through a counting JSON-RPC proxy, so RPC cost is measured, not assumed.
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { BODY_HASH_HEADER, MAC_HEADER } from "../../protocol/session.ts";
import { VOUCHER_HEADER } from "../../protocol/voucher.ts";
import { errorBodyWire, inferResponseWire, paymentRequiredBodyWire } from "../../protocol/wire.ts";
import { waitFor } from "../../scripts/lib/chain.ts";
import { startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { holdSocket, rawRequest, type HeldSocket } from "../../scripts/lib/raw-http.ts";
import { startRpcProxy, type RpcProxy } from "../../scripts/lib/rpc-proxy.ts";
import { openChannel, paidHeaders, setupMarket, vadInputs, type Market, type TestChannel } from "../../scripts/lib/worker-fixture.ts";

const LIMITS = {
  headersTimeoutMs: 1_000,
  requestTimeoutMs: 2_000,
  keepAliveTimeoutMs: 1_000,
  maxConnections: 300,
  maxConnectionsPerClient: 50,
  unpaidPerClient: { burst: 20, perSecond: 5 },
  maxReplaysPerAnswer: 3,
};

describe("worker: the HTTP boundary no request can get round", function () {
  this.timeout(240_000);
  let net: Localnet;
  let proxy: RpcProxy;
  let market: Market;
  let buyer: TestChannel;
  let url: string;
  let inferUrl: string;
  let paidSoFar = 0n;
  const logs: { level: string; msg: string }[] = [];

  /** Durable state: what a refused request may never change. */
  function snapshot() {
    const store = market.worker!.internals.store;
    return {
      receipts: store.receipts().map((r) => `${r.sequence}:${r.channelId}:${r.amount}`),
      channels: store.channels().map((c) => ({ id: c.id, accepted: c.acceptedAmount, sig: c.acceptedSig, blocked: c.blocked, close: c.closeSigned })),
    };
  }

  /** One paid request of the real buyer (from 127.0.0.1, through fetch). */
  async function pay(inputsSeed = Number(paidSoFar / 1000n)) {
    const amount = paidSoFar + 1_000n;
    const body = JSON.stringify({ inputs: vadInputs(inputsSeed) });
    const started = performance.now();
    const res = await fetch(inferUrl, { method: "POST", headers: { "content-type": "application/json", ...(await paidHeaders(market, buyer, amount, body)) }, body });
    const json = (await res.json()) as Record<string, unknown>;
    expect(res.status, JSON.stringify(json)).to.equal(200);
    inferResponseWire.parse(json);
    paidSoFar = amount;
    return performance.now() - started;
  }

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    proxy = await startRpcProxy(net.chain.url);
    market = await setupMarket(net, {
      config: { rpcUrl: proxy.url, http: LIMITS, settlement: { claimThreshold: "1000000000", maxAgeSeconds: 3600, closeSafetySeconds: 30, minBatch: 1, pollIntervalMs: 200 }, logLevel: "debug" },
      startOptions: { log: (level, msg) => logs.push({ level, msg }) },
    });
    url = market.worker!.url;
    inferUrl = `${url}/v1/infer/${market.models[0]!.modelId}`;
    buyer = await openChannel(market, { buyer: 3, deposit: 10_000_000n });
    await waitFor("channel indexed", async () => market.worker!.internals.ledger.known(buyer.id) !== undefined, 10_000);
    await pay();
  });
  after(async () => {
    await market?.stop();
    await proxy?.stop();
    await net?.stop();
  });

  describe("1. idle connections and slow requests", () => {
    it("cuts idle sockets and slow bodies, caps connections per client and overall, and a paying buyer is still served", async () => {
      const before = snapshot();
      const guard = market.worker!.internals.guard;
      const evictedBefore = guard.stats.evicted;
      // One client address holds 200 idle sockets: 50 are kept (per-client cap), the rest are refused with 429.
      const idle: HeldSocket[] = [];
      for (let i = 0; i < 200; i++) idle.push(await holdSocket(url, "127.0.0.2"));
      const rateLimited = () => idle.filter((s) => /^HTTP\/1.1 429/.test(s.received()));
      await waitFor("over-cap sockets refused", async () => rateLimited().length >= 150, 5_000);
      expect(rateLimited().length).to.equal(150);
      expect(rateLimited()[0]!.received()).to.include('"code":"rate_limited"');
      // Slow bodies from other addresses: headers that pass the cheap checks (a voucher for the buyer's channel, a
      // made-up MAC and no body hash: a body under http.maxUnhashedBodyBytes must be read before the MAC can be
      // checked), then a trickle that never completes it.
      const slow: HeldSocket[] = [];
      for (let i = 0; i < 10; i++) {
        const forged = `${buyer.id}:${paidSoFar + 1_000_000n}:0x${randomBytes(64).toString("hex")}1b`;
        const head =
          `POST /v1/infer/${market.models[0]!.modelId} HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 60000\r\n` +
          `${VOUCHER_HEADER}: ${forged}\r\n${MAC_HEADER}: ${randomBytes(32).toString("hex")}\r\n\r\n{"inputs":`;
        slow.push(await holdSocket(url, `127.0.0.${10 + i}`, head));
      }
      const trickle = setInterval(() => {
        for (const s of slow) if (!s.isClosed()) s.socket.write(" ");
      }, 200);
      // Many more idle sockets from many addresses, past the overall cap: the oldest idle ones are closed for new ones.
      for (let a = 0; a < 7; a++) for (let i = 0; i < 45; i++) idle.push(await holdSocket(url, `127.0.1.${a + 1}`));
      try {
        // The real buyer pays meanwhile, on new connections each time (fetch, keep-alive off by a new Agent is not needed:
        // the worker is at its cap, so its connection is admitted by closing an idle one).
        for (let i = 0; i < 5; i++) await pay();
        expect(guard.stats.evicted - evictedBefore, "idle connections were closed to admit the buyer").to.be.greaterThan(0);
        // Idle sockets are closed by the header timeout, not kept for minutes.
        const times = await Promise.all(idle.slice(0, 50).map((s) => s.closed));
        for (const t of times) expect(t).to.be.lessThan(LIMITS.headersTimeoutMs + 1_500);
        // Slow bodies get 408 request_timeout (JSON) within the request timeout.
        const slowTimes = await Promise.all(slow.map((s) => s.closed));
        for (const t of slowTimes) expect(t).to.be.lessThan(LIMITS.requestTimeoutMs + 1_500);
        for (const s of slow) {
          expect(s.received()).to.match(/^HTTP\/1.1 408/);
          expect(s.received()).to.include('"code":"request_timeout"');
        }
      } finally {
        clearInterval(trickle);
        for (const s of [...idle, ...slow]) s.socket.destroy();
      }
      await waitFor("every attack socket gone", async () => guard.open <= 5, 5_000);
      // Alive, and only the buyer's payments were stored.
      expect((await fetch(`${url}/healthz`)).status).to.equal(200);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).to.match(/edgepay_http_connections\{state="refused_per_client"\} (1[5-9][0-9]|[2-9][0-9]{2})/);
      expect(metrics).to.match(/edgepay_http_connections\{state="timed_out"\} [1-9]/);
      const after = snapshot();
      expect(after.receipts.slice(0, before.receipts.length)).to.deep.equal(before.receipts);
      expect(after.receipts.length - before.receipts.length).to.equal(5);
    });

    it("holds a client that only sends unpaid requests to its budget (429 rate_limited with Retry-After); the paying buyer is not limited", async () => {
      const before = snapshot();
      const statuses: number[] = [];
      let last: Awaited<ReturnType<typeof rawRequest>> | undefined;
      for (let i = 0; i < 40; i++) {
        last = await rawRequest({ url, localAddress: "127.0.0.3", path: `/v1/infer/${market.models[0]!.modelId}`, headers: { "content-type": "application/json" }, body: "{}" });
        statuses.push(last.status);
      }
      // The burst is answered; then (a token refills every 200 ms, so one or two more may pass) 429s.
      expect(statuses.slice(0, LIMITS.unpaidPerClient.burst).every((s) => s === 402), statuses.join(",")).to.equal(true);
      expect(statuses.filter((s) => s === 429).length, statuses.join(",")).to.be.at.least(40 - LIMITS.unpaidPerClient.burst - 4);
      expect(statuses.at(-1)).to.equal(429);
      expect(errorBodyWire.parse(last!.body).error.code).to.equal("rate_limited");
      expect(Number(last!.headers["retry-after"])).to.be.greaterThan(0);
      // The buyer pays 30 times in a row, more than the unpaid budget: paid answers cost nothing of it.
      for (let i = 0; i < 30; i++) await pay();
      expect(snapshot().receipts.length - before.receipts.length).to.equal(30);
    });
  });

  describe("2. unknown channel ids", () => {
    it("refuses random channel ids from the index with no RPC call; a channel opened just before is still found", async () => {
      const before = snapshot();
      const mark = proxy.calls.length;
      const polls = market.worker!.internals.index.polls;
      const ids: string[] = [];
      const started = Date.now();
      // Well-formed requests in every other respect (valid inputs), so only the channel id is wrong.
      const inputs = JSON.stringify({ inputs: vadInputs(2) });
      // 300 random ids from 15 addresses (20 each, inside each address's unpaid budget): POST infer and GET channel.
      await Promise.all(
        Array.from({ length: 15 }, async (_, a) => {
          for (let i = 0; i < 20; i++) {
            const id = `0x${randomBytes(32).toString("hex")}`;
            ids.push(id.slice(2));
            const header = `${id}:1000:0x${randomBytes(64).toString("hex")}1b`;
            const r =
              i % 2 === 0
                ? await rawRequest({ url, localAddress: `127.0.2.${a + 1}`, path: `/v1/infer/${market.models[0]!.modelId}`, headers: { "content-type": "application/json", [VOUCHER_HEADER]: header }, body: inputs })
                : await rawRequest({ url, localAddress: `127.0.2.${a + 1}`, method: "GET", path: `/v1/channels/${id}` });
            if (i % 2 === 0) expect(paymentRequiredBodyWire.parse(r.body).error.code).to.equal("unknown_channel");
            else expect([r.status, errorBodyWire.parse(r.body).error.code]).to.deep.equal([404, "not_found"]);
          }
        }),
      );
      const elapsed = Date.now() - started;
      const calls = proxy.since(mark);
      const naming = calls.filter((c) => ids.some((id) => c.text.includes(id)));
      expect(naming, "RPC calls naming a random id").to.have.length(0);
      // Nothing but the index's own polls (eth_getBlockByNumber + eth_getLogs per poll, at the poll interval).
      const pollsDone = market.worker!.internals.index.polls - polls;
      const getLogs = calls.filter((c) => c.method === "eth_getLogs");
      expect(getLogs.length, "eth_getLogs only from the index's polls").to.be.at.most(pollsDone);
      expect(pollsDone, `polls in ${elapsed} ms`).to.be.at.most(Math.ceil(elapsed / 200) + 2);
      expect(snapshot()).to.deep.equal(before);

      // A channel opened a moment ago and paid at once: the miss waits for the index's next poll and is found.
      const fresh = await openChannel(market, { buyer: 4, deposit: 100_000n });
      const body = JSON.stringify({ inputs: vadInputs(1) });
      const res = await fetch(inferUrl, { method: "POST", headers: { "content-type": "application/json", ...(await paidHeaders(market, fresh, 1_000n, body)) }, body });
      expect(res.status, await res.clone().text()).to.equal(200);
      expect(market.worker!.internals.store.channel(fresh.id)!.acceptedAmount).to.equal(1_000n);
    });
  });

  describe("3. a stranger and a buyer's channel lock", () => {
    it("takes no lock, queue slot or storage for anything a stranger sends on a buyer's channel", async () => {
      const ch = market.worker!.internals.ledger.known(buyer.id)!;
      const before = snapshot();
      let acquired = 0;
      const original = ch.lock.acquire.bind(ch.lock);
      ch.lock.acquire = (maxQueue: number) => {
        acquired++;
        return original(maxQueue);
      };
      try {
        // 100 concurrent stranger requests on the buyer's channel: a good amount, a forged signature, valid inputs,
        // with and without a made-up MAC; and the buyer pays five times meanwhile.
        const body = JSON.stringify({ inputs: vadInputs(3) });
        const stranger = Array.from({ length: 100 }, (_, i) => {
          const header = `${buyer.id}:${paidSoFar + 100_000n}:0x${randomBytes(64).toString("hex")}1c`;
          const headers: Record<string, string> = { "content-type": "application/json", [VOUCHER_HEADER]: header };
          if (i % 2) headers[MAC_HEADER] = randomBytes(32).toString("hex");
          return rawRequest({ url, localAddress: `127.0.3.${(i % 50) + 1}`, path: `/v1/infer/${market.models[0]!.modelId}`, headers, body });
        });
        const buyerRuns = (async () => {
          for (let i = 0; i < 5; i++) await pay();
        })();
        const answers = await Promise.all(stranger);
        await buyerRuns;
        expect(acquired, "lock taken only by the buyer's five paid requests").to.equal(5);
        for (const a of answers) expect(a.status, a.text).to.equal(402);
        expect(new Set(answers.map((a) => errorBodyWire.parse(a.body).error.code))).to.deep.equal(new Set(["mac_required", "invalid_mac"]));
      } finally {
        ch.lock.acquire = original;
      }
      const after = snapshot();
      expect(after.receipts.length - before.receipts.length).to.equal(5);
    });
  });

  describe("4. deployment guard", () => {
    it("refuses to serve when the challenge period is too short to claim in, naming the config keys and the contract value", async () => {
      const w = market.worker!;
      market.worker = undefined;
      await w.stop();
      try {
        let error: Error | undefined;
        try {
          await market.startWorker({ rpcUrl: proxy.url, http: LIMITS, settlement: { closeSafetySeconds: 500, claimTimeSeconds: 120, pollIntervalMs: 200 } });
        } catch (e) {
          error = e as Error;
        }
        expect(error, "the worker must not start").to.not.equal(undefined);
        expect(error!.message).to.include("challengePeriod() = 600 s");
        expect(error!.message).to.include("settlement.closeSafetySeconds (500 s)");
        expect(error!.message).to.include("settlement.claimTimeSeconds (120 s)");
        expect(market.worker).to.equal(undefined);
      } finally {
        // Should a worker have started anyway, stop it, so the rest of the suite is not broken by this failure.
        const started = market.worker as typeof w | undefined;
        market.worker = undefined;
        await started?.stop();
      }
      // A channel opened while the worker is down is in its index as soon as it serves again (caught up at start).
      const whileDown = await openChannel(market, { buyer: 6, deposit: 100_000n });
      await market.startWorker({ rpcUrl: proxy.url, http: LIMITS, logLevel: "debug" });
      url = market.worker!.url;
      inferUrl = `${url}/v1/infer/${market.models[0]!.modelId}`;
      expect(market.worker!.internals.ledger.known(whileDown.id), "indexed during start").to.not.equal(undefined);
      // Generous: the writer thread shares 2 cores with the chain and the test under CI load.
      await waitFor("persisted in SQLite", async () => market.worker!.internals.store.channel(whileDown.id) !== undefined, 15_000);
      // The default-safe configuration serves; state survived the restart.
      await pay();
    });
  });

  describe("5. a paid request is bound to its payment", () => {
    it("refuses a captured voucher and MAC raced with other inputs, route or model; the buyer's own request then pays", async () => {
      const before = snapshot();
      const amount = paidSoFar + 1_000n;
      const mine = JSON.stringify({ inputs: vadInputs(11) });
      const headers = await paidHeaders(market, buyer, amount, mine);
      // The observer sends the captured headers first, with its own inputs.
      const theirs = JSON.stringify({ inputs: vadInputs(12) });
      const raced = await rawRequest({ url, localAddress: "127.0.4.1", path: `/v1/infer/${market.models[0]!.modelId}`, headers: { "content-type": "application/json", ...headers }, body: theirs });
      expect([raced.status, errorBodyWire.parse(raced.body).error.code]).to.deep.equal([402, "invalid_mac"]);
      // The voucher alone (MAC stripped) buys nothing either.
      const bare = await rawRequest({ url, localAddress: "127.0.4.1", path: `/v1/infer/${market.models[0]!.modelId}`, headers: { "content-type": "application/json", [VOUCHER_HEADER]: headers[VOUCHER_HEADER]! }, body: theirs });
      expect(errorBodyWire.parse(bare.body).error.code).to.equal("mac_required");
      // Nor on the close route.
      const closing = await rawRequest({ url, localAddress: "127.0.4.1", path: `/v1/channels/${buyer.id}/close`, headers: { "content-type": "application/json", ...headers }, body: "{}" });
      expect(closing.status).to.equal(402);
      expect(snapshot()).to.deep.equal(before);
      // The buyer's own request, same headers, its own body: paid.
      const res = await fetch(inferUrl, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: mine });
      expect(res.status).to.equal(200);
      paidSoFar = amount;
    });

    it("binds the first voucher of a channel too (no session yet): a raced first request is refused", async () => {
      const first = await openChannel(market, { buyer: 5, deposit: 100_000n });
      await waitFor("indexed", async () => market.worker!.internals.ledger.known(first.id) !== undefined, 10_000);
      const mine = JSON.stringify({ inputs: vadInputs(21) });
      const headers = await paidHeaders(market, first, 1_000n, mine);
      const raced = await rawRequest({ url, localAddress: "127.0.4.2", path: `/v1/infer/${market.models[0]!.modelId}`, headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ inputs: vadInputs(22) }) });
      expect(errorBodyWire.parse(raced.body).error.code).to.equal("invalid_mac");
      expect(market.worker!.internals.store.channel(first.id)!.acceptedAmount).to.equal(0n);
      const res = await fetch(inferUrl, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: mine });
      expect(res.status).to.equal(200);
    });

    it("answers an identical re-sent request from storage without running the model, a limited number of times", async () => {
      const amount = paidSoFar + 1_000n;
      const body = JSON.stringify({ inputs: vadInputs(31) });
      const headers = { "content-type": "application/json", ...(await paidHeaders(market, buyer, amount, body)) };
      const model = market.worker!.internals.models.get(market.models[0]!.modelId.toString())!;
      let runs = 0;
      const run = model.runtime.run.bind(model.runtime);
      model.runtime.run = (inputs) => {
        runs++;
        return run(inputs);
      };
      try {
        const first = (await (await fetch(inferUrl, { method: "POST", headers, body })).json()) as Record<string, unknown>;
        paidSoFar = amount;
        expect(runs).to.equal(1);
        const receipts = market.worker!.internals.store.receipts().length;
        for (let i = 0; i < LIMITS.maxReplaysPerAnswer; i++) {
          const again = (await (await fetch(inferUrl, { method: "POST", headers, body })).json()) as Record<string, unknown>;
          expect(again).to.deep.equal(first);
        }
        expect(runs, "replays do not run the model").to.equal(1);
        expect(market.worker!.internals.store.receipts().length).to.equal(receipts);
        const over = await fetch(inferUrl, { method: "POST", headers, body });
        expect(over.status).to.equal(429);
        expect(((await over.json()) as { error: { code: string } }).error.code).to.equal("rate_limited");
        expect(runs).to.equal(1);
      } finally {
        model.runtime.run = run;
      }
    });

    it("answers a bad payment header before reading the body (no waiting for a slow or large body)", async () => {
      for (const header of ["garbage", `${buyer.id}:1000:0x${"11".repeat(65)}`]) {
        const s = await holdSocket(url, "127.0.4.3", `POST /v1/infer/${market.models[0]!.modelId} HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 900000\r\n${VOUCHER_HEADER}: ${header}\r\n\r\n{`);
        const started = Date.now();
        await waitFor("an answer without the body", async () => /\r\n\r\n\{"error"/.test(s.received()), 1_500);
        expect(Date.now() - started).to.be.lessThan(1_000);
        expect(s.received()).to.match(/^HTTP\/1.1 402/);
        expect(s.received()).to.match(/"code":"(invalid_voucher|voucher_stale)"/);
        s.socket.destroy();
      }
    });
    it("authenticates from the headers before reading a large body: a forged voucher at a plausible amount is refused before its 900 kB body", async () => {
      const before = snapshot();
      // The amount the buyer would pay next (public: GET /v1/channels/:id), a well-formed signature that is not the
      // signer's, a MAC and a body hash the attacker made up.
      const forged = `${buyer.id}:${paidSoFar + 1_000n}:0x${randomBytes(64).toString("hex")}1b`;
      const s = await holdSocket(
        url,
        "127.0.4.4",
        `POST /v1/infer/${market.models[0]!.modelId} HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 900000\r\n${VOUCHER_HEADER}: ${forged}\r\n${MAC_HEADER}: ${randomBytes(32).toString("hex")}\r\n${BODY_HASH_HEADER}: 0x${randomBytes(32).toString("hex")}\r\n\r\n{`,
      );
      const started = Date.now();
      await waitFor("an answer without the body", async () => /\r\n\r\n\{"error"/.test(s.received()), 1_500);
      expect(Date.now() - started).to.be.lessThan(1_000);
      expect(s.received()).to.match(/^HTTP\/1.1 402/);
      expect(s.received()).to.match(/"code":"invalid_mac"/);
      s.socket.destroy();
      // Without the body hash, only a small body is read before authentication: a large one is 413 at once.
      const big = await rawRequest({
        url,
        localAddress: "127.0.4.5",
        path: `/v1/infer/${market.models[0]!.modelId}`,
        headers: { "content-type": "application/json", [VOUCHER_HEADER]: forged, [MAC_HEADER]: "00".repeat(32), "content-length": String(900_000) },
        body: "{",
      });
      expect([big.status, errorBodyWire.parse(big.body).error.code]).to.deep.equal([413, "body_too_large"]);
      // A body that is not the one its hash names is refused, even with a valid MAC over that hash.
      const body = JSON.stringify({ inputs: vadInputs(7) });
      const h = await paidHeaders(market, buyer, paidSoFar + 1_000n, body);
      const swapped = JSON.stringify({ inputs: vadInputs(8) });
      const r = await rawRequest({ url, localAddress: "127.0.4.6", path: `/v1/infer/${market.models[0]!.modelId}`, headers: { "content-type": "application/json", ...h }, body: swapped });
      expect([r.status, errorBodyWire.parse(r.body).error.code]).to.deep.equal([402, "invalid_mac"]);
      expect(snapshot()).to.deep.equal(before);
    });
  });

  describe("6. nits", () => {
    it("refuses a request without a content type with 415 unsupported_media_type", async () => {
      const body = JSON.stringify({ inputs: vadInputs() });
      const r = await rawRequest({ url, localAddress: "127.0.5.1", path: `/v1/infer/${market.models[0]!.modelId}`, headers: await paidHeaders(market, buyer, paidSoFar + 1_000n, body), body });
      expect([r.status, errorBodyWire.parse(r.body).error.code]).to.deep.equal([415, "unsupported_media_type"]);
    });

    it("refuses inputs named __proto__, constructor or prototype with 400 reserved_name, voucher unused", async () => {
      const before = snapshot();
      for (const name of ["__proto__", "constructor", "prototype"]) {
        const body = `{"inputs": {${JSON.stringify(vadInputs()).slice(1, -1)}, "${name}": {"type": "float32", "dims": [1], "data": [1]}}}`;
        const r = await rawRequest({ url, localAddress: "127.0.5.2", path: `/v1/infer/${market.models[0]!.modelId}`, headers: { "content-type": "application/json", ...(await paidHeaders(market, buyer, paidSoFar + 1_000n, body)) }, body });
        expect([r.status, errorBodyWire.parse(r.body).error.code], r.text).to.deep.equal([400, "reserved_name"]);
      }
      expect(snapshot()).to.deep.equal(before);
    });

    it("logs an aborted request once, at debug level, with no stack", async () => {
      const mark = logs.length;
      for (let i = 0; i < 5; i++) {
        const body = JSON.stringify({ inputs: vadInputs() });
        const h = await paidHeaders(market, buyer, paidSoFar + 1_000n, body);
        const s = await holdSocket(
          url,
          "127.0.5.3",
          `POST /v1/infer/${market.models[0]!.modelId} HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n${VOUCHER_HEADER}: ${h[VOUCHER_HEADER]}\r\n${MAC_HEADER}: ${h[MAC_HEADER]}\r\n\r\n${body.slice(0, 100)}`,
        );
        await new Promise((r) => setTimeout(r, 50));
        s.socket.destroy();
      }
      await waitFor("abort lines", async () => logs.slice(mark).filter((l) => l.msg.includes("aborted")).length >= 5, 3_000);
      const mine = logs.slice(mark);
      expect(mine.filter((l) => l.level === "error"), JSON.stringify(mine)).to.have.length(0);
      const aborted = mine.filter((l) => l.msg.includes("aborted"));
      expect(aborted).to.have.length(5);
      for (const l of aborted) {
        expect(l.level).to.equal("debug");
        expect(l.msg).not.to.include("\n");
      }
    });
  });

  describe("7. the HTTP parser boundary (property-based)", () => {
    it("random methods, paths, content types, payment headers and bodies never crash the worker nor store an unpaid voucher", async () => {
      const modelId = market.models[0]!.modelId;
      const before = market.worker!.internals.store.receipts().length;
      let paidOk = 0;
      let sent = 0;
      const validInputs = JSON.stringify({ inputs: vadInputs(41) });
      const printable = fc.string({ unit: fc.constantFrom(..." !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~"), maxLength: 200 });
      const request = fc.record({
        method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"),
        path: fc.oneof(
          fc.constant(`/v1/infer/${modelId}`),
          fc.constant(`/v1/channels/${buyer.id}/close`),
          fc.constant(`/v1/channels/${buyer.id}`),
          fc.stringMatching(/^\/v1\/(infer|channels|unpaid\/infer)\/[A-Za-z0-9_.%-]{0,70}$/),
          fc.stringMatching(/^\/[A-Za-z0-9\/_.%-]{0,60}$/),
        ),
        contentType: fc.option(fc.oneof(fc.constantFrom("application/json", "application/x+json; charset=utf-8", "text/plain", "multipart/form-data", ""), printable), { nil: undefined }),
        payment: fc.oneof(
          fc.constant({ kind: "none" as const }),
          // A real buyer's payment: for the canonical request (exact), or its headers on whatever else was generated.
          fc.record({ kind: fc.constant("valid" as const), exact: fc.boolean() }),
          fc.record({ kind: fc.constant("forged" as const), amountOffset: fc.bigInt({ min: -3_000n, max: 10_000_000n }), mac: fc.option(fc.oneof(fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 64, maxLength: 64 }), printable), { nil: undefined }) }),
          fc.record({ kind: fc.constant("garbage" as const), voucher: printable, mac: fc.option(printable, { nil: undefined }) }),
        ),
        body: fc.oneof(
          fc.constant(validInputs),
          fc.json({ maxDepth: 3 }),
          printable,
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString("latin1")),
          fc.constantFrom('{"inputs":{"__proto__":{"type":"float32","dims":[1],"data":[1]}}}', '{"inputs":{"constructor":{}}}', "[]", "null", '{"inputs":[]}'),
        ),
        client: fc.integer({ min: 1, max: 250 }),
      });
      await fc.assert(
        fc.asyncProperty(request, async (generated) => {
          const r =
            generated.payment.kind === "valid" && generated.payment.exact
              ? { ...generated, method: "POST", path: `/v1/infer/${modelId}`, contentType: "application/json", body: validInputs }
              : generated;
          const headers: Record<string, string> = {};
          if (r.contentType !== undefined) headers["content-type"] = r.contentType;
          let valid = false;
          let amount = 0n;
          if (r.payment.kind === "valid") {
            amount = paidSoFar + 1_000n;
            Object.assign(headers, await paidHeaders(market, buyer, amount, r.body));
            valid = r.method === "POST" && r.path === `/v1/infer/${modelId}` && r.body === validInputs && /^application\/(.+\+)?json\b/i.test(r.contentType ?? "");
          } else if (r.payment.kind === "forged") {
            headers[VOUCHER_HEADER] = `${buyer.id}:${paidSoFar + r.payment.amountOffset < 0n ? 0n : paidSoFar + r.payment.amountOffset}:0x${randomBytes(64).toString("hex")}1b`;
            if (r.payment.mac !== undefined) headers[MAC_HEADER] = r.payment.mac;
          } else if (r.payment.kind === "garbage") {
            headers[VOUCHER_HEADER] = r.payment.voucher;
            if (r.payment.mac !== undefined) headers[MAC_HEADER] = r.payment.mac;
          }
          const receipts = market.worker!.internals.store.receipts().length;
          const answer = await rawRequest({ url, localAddress: `127.0.6.${r.client}`, method: r.method, path: r.path, headers, body: r.method === "GET" ? undefined : r.body });
          sent++;
          expect(answer.status).to.be.within(200, 599);
          expect(answer.status, `no internal error: ${r.method} ${r.path} ${answer.text.slice(0, 200)}`).not.to.equal(500);
          if (answer.status >= 400) expect(errorBodyWire.safeParse(answer.body).success, `${answer.status} ${answer.text.slice(0, 200)}`).to.equal(true);
          const stored = market.worker!.internals.store.receipts().length - receipts;
          if (valid && answer.status === 200) {
            paidSoFar = amount;
            paidOk++;
            expect(stored).to.equal(1);
          } else {
            // Nothing but a valid payment for exactly these inputs may store a voucher (a re-sent valid one is a replay).
            expect(stored, `${r.method} ${r.path} ${answer.status} ${answer.text.slice(0, 200)}`).to.equal(0);
          }
        }),
        { numRuns: 300, seed: Number(process.env.FC_SEED ?? 14), endOnFailure: true },
      );
      expect(sent).to.equal(300);
      expect(paidOk, "some generated requests were valid payments").to.be.greaterThan(0);
      expect(market.worker!.internals.store.receipts().length - before).to.equal(paidOk);
      expect(market.worker!.internals.store.channel(buyer.id)!.acceptedAmount).to.equal(paidSoFar);
      expect((await fetch(`${url}/healthz`)).status).to.equal(200);
    });
  });

  describe("afterwards", () => {
    it("is up, with an unbroken receipt chain and the buyer's state intact", async () => {
      await pay();
      const rows = market.worker!.internals.store.receipts();
      rows.forEach((r, i) => {
        expect(r.sequence).to.equal(BigInt(i + 1));
        if (i > 0) expect(r.previous).to.equal(rows[i - 1]!.digest);
      });
      expect(market.worker!.internals.store.channel(buyer.id)!.acceptedAmount).to.equal(paidSoFar);
    });
  });
});
