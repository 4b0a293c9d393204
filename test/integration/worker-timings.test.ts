// The benchmark's breakdown (GET /v1/debug/timings) and the opt-in "os-buffered" durability on a real worker and
// chain: the route exists only when the config turns it on, it accounts real paid and unpaid requests phase by
// phase (writer thread included), DELETE zeroes it, and answers given in os-buffered mode are stored like any other.
import { expect } from "chai";
import { errorBodyWire } from "../../protocol/wire.ts";
import { waitFor } from "../../scripts/lib/chain.ts";
import { startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { openChannel, paidHeaders, setupMarket, vadInputs, type Market, type TestChannel } from "../../scripts/lib/worker-fixture.ts";
import type { TimingsSnapshot } from "../../worker/perf/phase-timings.ts";

const PRICE = 1_000n;

describe("worker: per-phase timings (debug.timings) and durability os-buffered", function () {
  this.timeout(240_000);
  let net: Localnet;
  let market: Market;
  let channel: TestChannel;
  let amount = 0n;

  const url = () => market.worker!.url;
  async function paid() {
    amount += PRICE;
    const body = JSON.stringify({ inputs: vadInputs(Number(amount)) });
    const res = await fetch(`${url()}/v1/infer/${market.models[0]!.modelId}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(await paidHeaders(market, channel, amount, body)) },
      body,
    });
    expect(res.status, await res.clone().text()).to.equal(200);
    return (await res.json()) as { receipt: { sequence: string } };
  }
  async function restart(overrides: Parameters<Market["startWorker"]>[0]) {
    const w = market.worker!;
    market.worker = undefined;
    await w.stop();
    await market.startWorker(overrides);
  }
  const timings = async () => {
    const res = await fetch(`${url()}/v1/debug/timings`);
    expect(res.status).to.equal(200);
    return (await res.json()) as TimingsSnapshot;
  };

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    market = await setupMarket(net, { config: { settlement: { claimThreshold: "1000000000", maxAgeSeconds: 3600, closeSafetySeconds: 30, minBatch: 1, pollIntervalMs: 200 } } });
    channel = await openChannel(market, { buyer: 3, deposit: 1_000_000n });
    await waitFor("channel indexed", async () => market.worker!.internals.ledger.known(channel.id) !== undefined, 10_000);
  });

  after(async () => {
    await market?.stop();
    await net?.stop();
  });

  it("is off by default: the route is a 404 like any unknown path, for GET and DELETE", async () => {
    expect(market.worker!.internals.config.durability).to.equal("full");
    await paid();
    for (const method of ["GET", "DELETE"]) {
      const res = await fetch(`${url()}/v1/debug/timings`, { method });
      expect(res.status).to.equal(404);
      expect(errorBodyWire.parse(await res.json()).error.code).to.equal("not_found");
    }
  });

  it("when on, accounts each answered paid request phase by phase, the writer's group work and CPU; DELETE zeroes it", async () => {
    await restart({ debug: { timings: true }, durability: "os-buffered" });
    expect(market.worker!.internals.config.durability).to.equal("os-buffered");
    expect((await fetch(`${url()}/v1/debug/timings`, { method: "DELETE" })).status).to.equal(204);
    for (let i = 0; i < 3; i++) await paid();
    const t = await timings();
    const p = t.routes.paid!;
    expect(p.requests).to.equal(3);
    for (const phase of ["authenticate (MAC; ECDSA on a first voucher)", "parse inputs", "inference", "durable commit (sign, store, fsync, thread hops)", "send answer"]) {
      expect(p.phases[phase], phase).to.not.equal(undefined);
      expect(p.phases[phase]!.count, phase).to.equal(3);
      expect(p.phases[phase]!.ms, phase).to.be.at.least(0);
    }
    expect(p.phases["inference"]!.ms).to.be.above(0);
    // One group per request here (one request in flight), each with a receipt, a channel update and an answer.
    expect(t.writer.groups).to.be.at.least(3);
    expect(t.writer.ops).to.be.at.least(9);
    expect(t.writer.signMs).to.be.above(0);
    expect(t.writer.commitMs).to.be.above(0);
    expect(t.cpu.mainUs).to.be.above(0);
    expect(t.cpu.writerUs).to.be.above(0);
    // A refused request is not an answered one.
    const bad = await fetch(`${url()}/v1/infer/${market.models[0]!.modelId}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(bad.status).to.equal(402);
    expect((await timings()).routes.paid!.requests).to.equal(3);
    expect((await fetch(`${url()}/v1/debug/timings`, { method: "DELETE" })).status).to.equal(204);
    const zero = await timings();
    expect(zero.routes).to.deep.equal({});
    expect(zero.writer.groups).to.equal(0);
    expect((await fetch(`${url()}/v1/debug/timings`, { method: "POST" })).status).to.equal(405);
  });

  it("answers given with durability os-buffered are stored: after a restart in full mode the channel and receipt chain continue", async () => {
    const last = await paid();
    await restart({ durability: "full" });
    const row = market.worker!.internals.store.channels().find((c) => c.id === channel.id)!;
    expect(row.acceptedAmount).to.equal(amount);
    const next = await paid();
    expect(BigInt(next.receipt.sequence)).to.equal(BigInt(last.receipt.sequence) + 1n);
  });
});
