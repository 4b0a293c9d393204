// `npm run demo` on a short setting (DEMO_SECONDS=10) against a chain this test owns, so the chain outlives the demo
// and every figure of its table can be checked here, independently: inferences from channel state, earnings and
// royalties as token balance changes of the owners over the run's blocks, refunds as the buyers' balance changes, the
// contract left holding nothing of the run, gas from the receipts of the transactions in the range.
import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createPublicClient, http, isAddressEqual, type Address, type Hex } from "viem";
import { deviceRegistryAbi, paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";

interface DemoFile {
  settings: { seconds: number; speech: string };
  fleet: { label: string; device: Address; owner: Address; endpoint: string; offerings: { modelId: string; price: string }[] }[];
  buyers: { label: string; address: Address }[];
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
  });

  it("leaves its devices paused, since their workers are gone", async () => {
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
      const endpoint = demo.fleet.find((f) => isAddressEqual(f.device, row.device))!.endpoint;
      expect(demo.clientAnswers[endpoint] ?? 0, `answers received from ${endpoint}`).to.equal(Number(row.inferences));
    }
  });

  it("earnings, royalties and refunds match token balance changes over the run", async () => {
    const from = BigInt(demo.report.fromBlock) - 1n;
    const to = BigInt(demo.report.toBlock);
    const delta = async (who: Address) => (await balanceAt(who, to)) - (await balanceAt(who, from));
    // Device owners: their earnings are their only token movement during the run.
    for (const owner of new Set(demo.report.devices.map((dv) => dv.owner))) {
      const earned = demo.report.devices.filter((dv) => isAddressEqual(dv.owner, owner)).reduce((a, dv) => a + BigInt(dv.earned), 0n);
      expect(await delta(owner), `earnings of ${owner}`).to.equal(earned);
    }
    // Model owners withdrew their royalties at the end: the balance change is the royalty accrued in the run.
    for (const o of demo.report.owners) {
      expect(BigInt(o.royalty) > 0n).to.equal(true);
      expect(o.withdrawn).to.equal(o.royalty);
      expect(await delta(o.owner), `royalties of ${o.owner}`).to.equal(BigInt(o.royalty));
    }
    // Buyers: deposits out, refunds back; the difference is what they paid.
    for (const b of demo.report.buyers) {
      expect(await delta(b.payer), `buyer ${b.payer}`).to.equal(BigInt(b.refunded) - BigInt(b.deposited));
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
    const accounts = new Set([...demo.buyers.map((b) => b.address), ...demo.fleet.map((f) => f.device), ...demo.report.models.map((mo) => mo.owner)].map((a) => a.toLowerCase()));
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
});
