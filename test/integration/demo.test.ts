// `npm run demo -- --rogue 1` on a short setting (DEMO_SECONDS=10, every call spot-checked) against a chain this test
// owns, so the chain outlives the demo and every figure of its table can be checked here, independently: inferences
// from channel state, earnings and royalties as token balance changes of the owners over the run's blocks, refunds as
// the buyers' balance changes, the contract left holding nothing of the run, gas from the receipts of the transactions
// in the range; and the rogue: caught, disputed, its whole stake slashed and split as DisputeResolved says, with every
// balance change (its owner's, the reporter's, the committee owners', the treasury's) read from the chain.
import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createPublicClient, http, isAddressEqual, type Address, type Hex } from "viem";
import { answerDisputesAbi, deviceRegistryAbi, paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";

interface DemoFile {
  settings: { seconds: number; speech: string };
  fleet: { label: string; device: Address; owner: Address; endpoint: string; offerings: { modelId: string; price: string }[] }[];
  buyers: { label: string; address: Address }[];
  rogue: { label: string; device: Address; owner: Address; endpoint: string; probability: number };
  rogueReport: {
    earned: string;
    stakeBefore: string;
    stakeAfter: string;
    caught?: { buyer: Address; block: string };
    dispute?: { id: Hex; openBlock: string; reporter: Address; bond: string; resolved?: { outcome: number; slashed: string; reporterPaid: string; verifiersPaid: string; treasuryPaid: string } };
    checking: { checks: number; failed: number; coveredOnChain: boolean };
  };
  clientAnswers: Record<string, number>;
  report: {
    fromBlock: string;
    toBlock: string;
    devices: { device: Address; owner: Address; channels: number; inferences: string; paid: string; earned: string; royalty: string }[];
    models: { modelId: string; owner: Address; inferences: string; royalty: string; withdrawn: string }[];
    owners: { owner: Address; royalty: string; withdrawn: string }[];
    buyers: { payer: Address; deposited: string; paid: string; refunded: string; locked: string }[];
    totals: { inferences: string; deposited: string; valueMoved: string; earned: string; royalty: string; refunded: string; locked: string };
    gas: { txs: { hash: Hex; from: Address; gasUsed: string; costWei: string }[]; gasUsed: string; costWei: string; share: number };
    anomalies: string[];
  };
}

describe("npm run demo (short setting)", function () {
  this.timeout(600_000);
  let net: Localnet;
  let state: string;
  let output = "";
  let demo: DemoFile;
  let code: number | null;

  before(async () => {
    net = await startLocalnet();
    state = mkdtempSync(path.join(tmpdir(), "edgepay-demo-"));
    const d = net.deployment;
    const child = spawn("npm", ["run", "demo"], {
      cwd: ROOT,
      env: {
        ...process.env,
        FORCE_COLOR: "0",
        DEMO_SECONDS: "10",
        DEMO_ROGUE: "1",
        // Every call checked: the rogue's first answer is caught, whatever the machine's speed.
        DEMO_SPOT_CHECK: "1",
        EDGEPAY_STATE_DIR: state,
        EDGEPAY_RPC_URL: net.chain.url,
        EDGEPAY_PAYMENT_CHANNELS: d.paymentChannels,
        EDGEPAY_DEVICE_REGISTRY: d.deviceRegistry,
        EDGEPAY_MODEL_REGISTRY: d.modelRegistry,
        EDGEPAY_TOKEN: d.token,
        EDGEPAY_FLIGHT_RECORDER: d.flightRecorder,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (b: Buffer) => (output += b.toString()));
    child.stderr.on("data", (b: Buffer) => (output += b.toString()));
    code = await new Promise((resolve) => child.once("exit", resolve));
    demo = JSON.parse(readFileSync(path.join(state, "demo", "report.json"), "utf8")) as DemoFile;
  });
  after(async () => {
    await net?.stop();
    if (state) rmSync(state, { recursive: true, force: true });
  });

  const client = () => createPublicClient({ transport: http(net.chain.url) });
  const balanceAt = (who: Address, blockNumber: bigint) =>
    client().readContract({ address: net.deployment.token, abi: testUsdcAbi, functionName: "balanceOf", args: [who], blockNumber });

  it("runs the fleet and prints the table", () => {
    expect(code, output.slice(-3000)).to.equal(0);
    for (const heading of ["Devices", "Royalties per model owner", "Buyers", "Gas"]) expect(output).to.include(heading);
    expect(output).to.match(/Conservation: deposited = paid \+ refunded \+ locked: yes/);
    expect(output).to.match(/the buyers received exactly the units of work the chain says they paid for/);
    expect(demo.fleet).to.have.length(3);
    expect(new Set(demo.fleet.map((f) => f.owner)).size, "devices of two owners").to.equal(2);
    expect(new Set(demo.fleet.flatMap((f) => f.offerings.filter((o) => o.modelId === "1").map((o) => o.price))).size, "different prices").to.equal(3);
    expect(demo.report.models).to.have.length(2);
    expect(new Set(demo.report.models.map((mo) => mo.owner)).size, "models of two owners").to.equal(2);
    expect(demo.report.anomalies).to.deep.equal([]);
    expect(BigInt(demo.report.totals.inferences) > 0n).to.equal(true);
    expect(demo.report.devices.every((dv) => BigInt(dv.inferences) > 0n), "every device served").to.equal(true);
    expect(output).to.match(/caught edge-rogue: spot check/);
  });

  /** Balance changes of the dispute's parties, from its events: who sat, who won, what each owner received. */
  async function disputePayouts() {
    const pc = client();
    const d = demo.rogueReport.dispute!;
    const ad = (await pc.readContract({ address: net.deployment.deviceRegistry, abi: deviceRegistryAbi, functionName: "stakeGuard" })) as Address;
    expect(ad).to.equal(net.deployment.answerDisputes);
    const [resolved] = await pc.getContractEvents({ address: ad, abi: answerDisputesAbi, eventName: "DisputeResolved", args: { id: d.id }, fromBlock: 0n });
    const revealed = await pc.getContractEvents({ address: ad, abi: answerDisputesAbi, eventName: "VoteRevealed", args: { id: d.id }, fromBlock: 0n });
    const winners = revealed.filter((r) => r.args.deviceRight === false);
    const { modelId } = await pc.readContract({ address: ad, abi: answerDisputesAbi, functionName: "getDispute", args: [d.id] });
    const perOwner = new Map<string, bigint>();
    for (const w of winners) {
      const v = await pc.readContract({ address: ad, abi: answerDisputesAbi, functionName: "getVerifier", args: [BigInt(modelId), w.args.verifier!] });
      perOwner.set(v.owner.toLowerCase(), (perOwner.get(v.owner.toLowerCase()) ?? 0n) + resolved!.args.verifiersPaid! / BigInt(winners.length));
    }
    return { resolved: resolved!, perOwner };
  }

  it("the rogue is caught, disputed by the buyer that caught it, and loses its whole stake (read from the chain)", async () => {
    const pc = client();
    const r = demo.rogueReport;
    const from = BigInt(demo.report.fromBlock) - 1n;
    const to = BigInt(demo.report.toBlock);
    const device = (blockNumber: bigint) => pc.readContract({ address: net.deployment.deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [demo.rogue.device], blockNumber });
    expect((await device(from)).stake, "stake before").to.equal(10_000_000n);
    expect((await device(to)).stake, "stake after").to.equal(0n);
    expect((await device(to)).status, "removed").to.equal(4);
    expect(r.stakeBefore).to.equal("10000000");
    expect(r.stakeAfter).to.equal("0");
    expect(r.caught, "caught").to.not.equal(undefined);
    expect(r.dispute?.reporter).to.equal(r.caught!.buyer);
    expect(BigInt(r.dispute!.openBlock) >= BigInt(r.caught!.block), "opened after the catch").to.equal(true);
    const { resolved } = await disputePayouts();
    expect(Number(resolved.args.outcome), "device lost").to.equal(1);
    expect(resolved.args.slashed).to.equal(10_000_000n);
    expect(r.dispute!.resolved!.slashed).to.equal("10000000");
    expect(resolved.args.reporterPaid! - 5_000_000n + resolved.args.verifiersPaid! + resolved.args.treasuryPaid!, "the slash, split").to.equal(10_000_000n);
    // What it earned before: its owner's only token movement in the run is its channels' claims.
    const earned = (await balanceAt(demo.rogue.owner, to)) - (await balanceAt(demo.rogue.owner, from));
    expect(earned > 0n, "the rogue was paid for its answers").to.equal(true);
    expect(r.earned).to.equal(earned.toString());
    expect(demo.report.devices.find((dv) => isAddressEqual(dv.device, demo.rogue.device))!.earned).to.equal(earned.toString());
    // The treasury (the deployer, test key 0) received its share of the slash and nothing else in the range.
    const treasury = await pc.readContract({ address: net.deployment.answerDisputes!, abi: answerDisputesAbi, functionName: "treasury" });
    expect((await balanceAt(treasury, to)) - (await balanceAt(treasury, from))).to.equal(resolved.args.treasuryPaid);
    expect(r.checking.failed).to.be.greaterThan(0);
    expect(r.checking.coveredOnChain).to.equal(true);
  });

  it("leaves its honest devices paused, since their workers are gone", async () => {
    for (const f of demo.fleet) {
      const d = await client().readContract({ address: net.deployment.deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [f.device] });
      expect(d.status, `${f.label} status`).to.equal(2); // Status.Paused
    }
  });

  it("units of work per device (frames, images) match channel state on-chain and what the buyers received", async () => {
    const pc = client();
    const to = BigInt(demo.report.toBlock);
    for (const row of demo.report.devices) {
      const opened = await pc.getContractEvents({ address: net.deployment.paymentChannels, abi: paymentChannelsAbi, eventName: "ChannelOpened", args: { device: row.device }, fromBlock: 0n });
      let count = 0n;
      for (const log of opened) {
        const ch = await pc.readContract({ address: net.deployment.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [log.args.channelId!], blockNumber: to });
        expect(ch.settled, "every channel settled").to.equal(true);
        count += ch.claimed / log.args.terms!.price;
      }
      expect(count.toString(), `inferences of ${row.device}`).to.equal(row.inferences);
      const endpoint = [...demo.fleet, demo.rogue].find((f) => isAddressEqual(f.device, row.device))!.endpoint;
      expect(demo.clientAnswers[endpoint] ?? 0, `answers received from ${endpoint}`).to.equal(Number(row.inferences));
    }
  });

  it("earnings, royalties and refunds match token balance changes over the run", async () => {
    const from = BigInt(demo.report.fromBlock) - 1n;
    const to = BigInt(demo.report.toBlock);
    const delta = async (who: Address) => (await balanceAt(who, to)) - (await balanceAt(who, from));
    // Device owners: their earnings, plus their committee members' share of the slash, are their only token
    // movements during the run.
    const { resolved, perOwner } = await disputePayouts();
    for (const owner of new Set(demo.report.devices.map((dv) => dv.owner))) {
      const earned = demo.report.devices.filter((dv) => isAddressEqual(dv.owner, owner)).reduce((a, dv) => a + BigInt(dv.earned), 0n);
      expect(await delta(owner), `earnings of ${owner}`).to.equal(earned + (perOwner.get(owner.toLowerCase()) ?? 0n));
    }
    expect([...perOwner.values()].reduce((a, b) => a + b, 0n), "majority members paid").to.equal(resolved.args.verifiersPaid);
    // Model owners withdrew their royalties at the end: the balance change is the royalty accrued in the run.
    for (const o of demo.report.owners) {
      expect(BigInt(o.royalty) > 0n).to.equal(true);
      expect(o.withdrawn).to.equal(o.royalty);
      expect(await delta(o.owner), `royalties of ${o.owner}`).to.equal(BigInt(o.royalty));
    }
    // Buyers: deposits out, refunds back; the difference is what they paid. The reporter also got its bond back
    // and the reporter's share of the slash.
    for (const b of demo.report.buyers) {
      const reward = isAddressEqual(b.payer, demo.rogueReport.dispute!.reporter) ? resolved.args.reporterPaid! - BigInt(demo.rogueReport.dispute!.bond) : 0n;
      expect(await delta(b.payer), `buyer ${b.payer}`).to.equal(BigInt(b.refunded) - BigInt(b.deposited) + reward);
      expect(BigInt(b.deposited) - BigInt(b.refunded)).to.equal(BigInt(b.paid));
    }
    const t = demo.report.totals;
    expect(BigInt(t.valueMoved)).to.equal(BigInt(t.earned) + BigInt(t.royalty));
    expect(BigInt(t.deposited)).to.equal(BigInt(t.valueMoved) + BigInt(t.refunded));
    // Everything deposited in the run left the contract again (all channels settled, royalties withdrawn).
    expect(await delta(net.deployment.paymentChannels)).to.equal(0n);
  });

  it("gas is the sum of the receipts of every transaction the demo's accounts sent in the range", async () => {
    const pc = client();
    const accounts = new Set([...demo.buyers.map((b) => b.address), ...demo.fleet.map((f) => f.device), demo.rogue.device, ...demo.report.models.map((mo) => mo.owner)].map((a) => a.toLowerCase()));
    const hashes: Hex[] = [];
    for (let n = BigInt(demo.report.fromBlock); n <= BigInt(demo.report.toBlock); n++) {
      const block = await pc.getBlock({ blockNumber: n, includeTransactions: true });
      for (const tx of block.transactions) if (accounts.has(tx.from.toLowerCase())) hashes.push(tx.hash);
    }
    expect(demo.report.gas.txs.map((t) => t.hash).sort()).to.deep.equal(hashes.sort());
    let gas = 0n;
    let wei = 0n;
    for (const hash of hashes) {
      const r = await pc.getTransactionReceipt({ hash });
      gas += r.gasUsed;
      wei += r.gasUsed * r.effectiveGasPrice;
    }
    expect(demo.report.gas.gasUsed).to.equal(gas.toString());
    expect(demo.report.gas.costWei).to.equal(wei.toString());
    expect(demo.report.gas.share).to.be.greaterThan(0);
  });

  it("refuses a rogue share outside (0, 1] or missing, before starting anything", () => {
    for (const [args, message] of [
      [["--rogue", "1.5"], "got 1.5"],
      [["--rogue"], "got nothing"],
    ] as const) {
      const r = spawnSync(process.execPath, ["scripts/demo.ts", ...args], { cwd: ROOT, env: { ...process.env, DEMO_ROGUE: "" }, encoding: "utf8", timeout: 60_000 });
      expect(r.status, r.stderr).to.equal(2);
      expect(r.stderr).to.include(`--rogue takes the share of wrong answers, a number in (0, 1]; ${message}`);
    }
  });
});
