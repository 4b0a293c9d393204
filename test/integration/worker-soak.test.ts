// The small version of `npm run soak:worker` (scripts/soak-worker.ts): a worker process behind a counting RPC proxy
// holds idle sockets and takes requests on random channel ids from many addresses while a real buyer pays. Every
// paid request is answered, no RPC call names a random id, and the buyer's latency stays bounded.
import { expect } from "chai";
import { neededOpenFiles, openFileLimit, runSoak, soakSetup } from "../../scripts/soak-worker.ts";

describe("worker: soak (small)", function () {
  this.timeout(300_000);
  let setup: Awaited<ReturnType<typeof soakSetup>> | undefined;

  before(async function () {
    const limit = openFileLimit();
    if (limit !== undefined && limit < neededOpenFiles(200)) throw new Error(`this test needs an open-file limit of ${neededOpenFiles(200)} (ulimit -n), not ${limit}`);
    setup = await soakSetup();
  });
  after(async () => {
    await setup?.stop();
  });

  it("200 idle sockets + 1,000 random-id requests while a buyer pays: all paid, 0 RPC calls for random ids", async () => {
    const s = setup!;
    const lines: string[] = [];
    const result = await runSoak({
      url: s.worker.url,
      pid: s.worker.child.pid!,
      proxy: s.proxy,
      market: s.market,
      buyer: s.buyer,
      modelId: s.market.models[0]!.modelId,
      options: { idle: 200, random: 1_000, concurrency: 16, buyer: 40, idlePerAddress: 40, log: (l) => lines.push(l) },
    });
    expect(result.loaded.n).to.equal(40);
    expect(result.rpcNamingRandomIds, lines.join("\n")).to.equal(0);
    const refused = (result.randomAnswers.unknown_channel ?? 0) + (result.randomAnswers.not_found ?? 0);
    expect(refused, JSON.stringify(result.randomAnswers)).to.equal(1_000);
    expect(result.idleHeld.average, "idle sockets were held during the load").to.be.greaterThan(150);
    // Generous: the machine is shared; the point is that the buyer is served, not locked out.
    expect(result.loaded.p99, lines.join("\n")).to.be.lessThan(5_000);
    expect(result.workerRssMiB).to.be.lessThan(1_024);
    console.log(lines.map((l) => `      ${l}`).join("\n"));
  });
});
