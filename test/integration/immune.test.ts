// `npm run immune` at a tiny size on a real Hardhat node with the real contracts: the sweep's figures are checked
// against the chain independently (Claimed events, getChannel, getDevice, DisputeResolved, token balances), and the
// properties the README's claim rests on must hold: a device cheating on every call under 10 % checks is always
// caught and loses its whole stake, and at the default check rate the honest device out-earns the cheater.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { parseEventLogs, type Address } from "viem";
import { DEFAULT_SPOT_CHECK_RATE } from "../../protocol/client/spot-check.ts";
import { answerDisputesAbi, deviceRegistryAbi, paymentChannelsAbi } from "../../protocol/generated/contracts.ts";
import { decodeTensors } from "../../protocol/tensor-decode.ts";
import { encodeTensors, type Tensor } from "../../protocol/tensors.ts";
import { setupImmuneMarket, type ImmuneMarket } from "../../scripts/lib/immune-market.ts";
import { latencyQuantile, runSweep, type SweepResult } from "../../scripts/lib/immune-sweep.ts";
import { startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { ROOT } from "../../scripts/lib/paths.ts";

const CALLS = 200;
const PRICE = 1_000n;
const COMPUTE = 500n;

describe("npm run immune (tiny sweep on a real chain)", function () {
  this.timeout(300_000);
  let net: Localnet;
  let market: ImmuneMarket;
  let sweep: SweepResult;

  before(async () => {
    net = await startLocalnet();
    market = await setupImmuneMarket(net.chain.url, net.deployment, PRICE);
    sweep = await runSweep(market, { checkRates: [0.1, DEFAULT_SPOT_CHECK_RATE], cheatRates: [1], calls: CALLS, runs: 2, seed: 7, price: PRICE, computeCost: COMPUTE, claimEvery: 50 });
  });
  after(async () => {
    await net?.stop();
  });

  const pc = () => market.chain.publicClient;
  const runsAt = (check: number, cheat: number) => sweep.runs.filter((r) => r.checkRate === check && r.cheatRate === cheat);

  it("at cheat 100 % and check 10 % every device is caught, loses the dispute and its whole stake (read from the chain)", async () => {
    const runs = runsAt(0.1, 1);
    expect(runs).to.have.length(2);
    for (const r of runs) {
      expect(r.caughtAt, `seed ${r.seed}`).to.be.a("number");
      expect(r.dispute?.outcome).to.equal("device_lost");
      const device = await pc().readContract({ address: market.deployment.deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [r.device] });
      expect(device.stake, "stake left").to.equal(0n);
      expect(device.status, "removed").to.equal(4); // Status.Removed
      expect(r.slashed).to.equal(market.minStake);
      const resolved = await pc().getContractEvents({ address: market.deployment.answerDisputes, abi: answerDisputesAbi, eventName: "DisputeResolved", args: { id: r.dispute!.id }, fromBlock: 0n });
      expect(resolved).to.have.length(1);
      expect(resolved[0]!.args.slashed).to.equal(r.slashed);
      // Where the slash went, from balances: reporter reward + majority verifiers + treasury = the stake taken.
      expect(r.dispute!.reporterDelta + r.dispute!.verifiersDelta + r.dispute!.treasuryDelta, `seed ${r.seed}`).to.equal(r.slashed);
      expect(r.dispute!.reporterDelta > 0n, "the reporter is paid for catching it").to.equal(true);
      expect(r.dispute!.votesWrong).to.equal(3);
    }
  });

  it("earned-before-caught is what the device's channel paid out (Claimed events), for the calls served", async () => {
    for (const r of sweep.runs.concat(sweep.honest)) {
      const opened = await pc().getContractEvents({ address: market.deployment.paymentChannels, abi: paymentChannelsAbi, eventName: "ChannelOpened", args: { device: r.device }, fromBlock: 0n });
      expect(opened).to.have.length(1);
      const channelId = opened[0]!.args.channelId!;
      const claims = await pc().getContractEvents({ address: market.deployment.paymentChannels, abi: paymentChannelsAbi, eventName: "Claimed", args: { channelId }, fromBlock: 0n });
      const provider = claims.reduce((a, c) => a + c.args.providerAmount!, 0n);
      const royalty = claims.reduce((a, c) => a + c.args.royalty!, 0n);
      expect(r.earned, `seed ${r.seed}`).to.equal(provider);
      expect(provider + royalty).to.equal(r.spend);
      expect(r.spend).to.equal(BigInt(r.served) * PRICE);
      expect(r.checkSpend, "one verifier price per check").to.equal(BigInt(r.checks) * PRICE);
    }
  });

  it("honest devices are never caught or slashed, and out-earn the cheater at the default check rate", async () => {
    expect(sweep.honest).to.have.length(2);
    for (const h of sweep.honest) {
      expect(h.caughtAt).to.equal(null);
      expect(h.slashed).to.equal(0n);
      expect(h.served).to.equal(CALLS);
      expect(h.profit).to.equal(h.earned - BigInt(CALLS) * COMPUTE);
      const device = await pc().readContract({ address: market.deployment.deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [h.device] });
      expect(device.stake).to.equal(market.minStake);
    }
    const atDefault = sweep.cells.find((c) => c.checkRate === DEFAULT_SPOT_CHECK_RATE && c.cheatRate === 1)!;
    expect(atDefault.profitMean < atDefault.honestProfit, `cheater ${atDefault.profitMean} vs honest ${atDefault.honestProfit}`).to.equal(true);
  });

  it("the checking overhead is the verifier's claimed amount over the answers' (both from getChannel)", () => {
    for (const c of sweep.cells) {
      const runs = runsAt(c.checkRate, c.cheatRate);
      const spend = runs.reduce((a, r) => a + r.spend, 0n);
      const checks = runs.reduce((a, r) => a + r.checkSpend, 0n);
      expect(c.overhead).to.be.closeTo(Number(checks) / Number(spend), 1e-12);
      expect(c.overhead).to.be.greaterThan(0);
    }
  });

  it("every dispute's evidence is the device-signed receipt of the caught call (DisputeOpened names it)", async () => {
    for (const r of sweep.runs.filter((x) => x.dispute)) {
      const logs = await pc().getContractEvents({ address: market.deployment.answerDisputes, abi: answerDisputesAbi, eventName: "DisputeOpened", args: { id: r.dispute!.id }, fromBlock: 0n });
      expect(logs).to.have.length(1);
      expect(logs[0]!.args.device as Address).to.equal(r.device);
      expect(logs[0]!.args.reporter).to.equal(market.buyer.address);
      const receipt = await pc().getTransactionReceipt({ hash: logs[0]!.transactionHash });
      expect(parseEventLogs({ abi: answerDisputesAbi, eventName: "DisputeOpened", logs: receipt.logs })).to.have.length(1);
    }
  });

  it("latency quantiles count never-caught lives as beyond the horizon", () => {
    expect(latencyQuantile([5, null, 7], 0.5)).to.equal(7);
    expect(latencyQuantile([5, null, null], 0.5)).to.equal(null);
    expect(latencyQuantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9)).to.equal(9);
    expect(latencyQuantile([1, 2, 3, 4, 5, 6, 7, 8, 9, null], 0.9)).to.equal(9);
    expect(latencyQuantile([1, 2, 3, 4, 5, 6, 7, 8, null, null], 0.9)).to.equal(null);
  });

  it("the calldata tensor decoder reads back encodeTensors and refuses truncated or foreign bytes", () => {
    const t: Record<string, Tensor> = {
      b: { type: "float32", dims: [2, 2], data: Float32Array.of(1, -2.5, 3, 0) },
      a: { type: "int64", dims: [], data: BigInt64Array.of(16_000n) },
    };
    const bytes = encodeTensors(t);
    const back = decodeTensors(bytes);
    expect(Object.keys(back).sort()).to.deep.equal(["a", "b"]);
    expect(Array.from(back.b!.data as Float32Array)).to.deep.equal([1, -2.5, 3, 0]);
    expect(back.b!.dims).to.deep.equal([2, 2]);
    expect((back.a!.data as BigInt64Array)[0]).to.equal(16_000n);
    expect(() => decodeTensors(bytes.subarray(0, bytes.length - 1))).to.throw(/ends inside b's data/);
    expect(() => decodeTensors(new TextEncoder().encode("edgepay.tensors.v0"))).to.throw(/does not start/);
  });

  it("refuses bad settings with a readable message and exit code 2, before starting a chain", () => {
    const run = (env: Record<string, string>) => spawnSync(process.execPath, ["scripts/immune.ts"], { cwd: ROOT, env: { ...process.env, ...env }, encoding: "utf8", timeout: 60_000 });
    for (const [env, message] of [
      [{ IMMUNE_RUNS: "0" }, "IMMUNE_RUNS=0 is not a whole number >= 1"],
      [{ IMMUNE_CHECK_RATES: "0.02,1.01" }, "IMMUNE_CHECK_RATES=0.02,1.01 is not a comma-separated list of rates within 0..1"],
    ] as const) {
      const r = run(env);
      expect(r.status, r.stderr).to.equal(2);
      expect(r.stderr).to.include(message);
      expect(r.stdout, "no chain started").to.not.include("hardhat node");
    }
  });
});
