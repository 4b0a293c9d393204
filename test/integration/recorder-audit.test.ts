// Flight recorder, check side: the buyer's receipt audit (signature, own input/output hashes, inclusion against the
// on-chain anchor, model hash against the registry) and the audit command (export from a real worker, verify
// offline against the chain: proven / missing / contradicted, exit codes, readable errors).
import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { coverageLineWire } from "../../protocol/audit-coverage.ts";
import { auditLineWire } from "../../protocol/audit-export.ts";
import { receiptProofWire } from "../../protocol/audit.ts";
import { auditContext, auditExport, auditReceipt } from "../../protocol/client/audit.ts";
import { channelsDomain, receiptTypes } from "../../protocol/eip712.ts";
import { keccak256, toHex, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { Receipt } from "../../protocol/receipt.ts";
import { hashTensors, tensorFromWire } from "../../protocol/tensors.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { clientsFor, startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { openChannel, setupMarket, vadInputs, type Market, type TestChannel } from "../../scripts/lib/worker-fixture.ts";
import { anchoredSeq, getJson, paidInfer, waitFor } from "../helpers/recorder.ts";
import { flip } from "../helpers/disputes.ts";

function runAudit(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, "protocol/node/audit-cli.ts"), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("flight recorder: receipt audit and the audit command (real worker)", function () {
  this.timeout(240_000);
  let net: Localnet;
  let market: Market;
  let channel: TestChannel;
  let dir: string;
  const inputs = vadInputs(11);
  let paid: Awaited<ReturnType<typeof paidInfer>>;

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    market = await setupMarket(net, {
      config: { settlement: { claimThreshold: "3000", maxAgeSeconds: 3600, closeSafetySeconds: 30, minBatch: 1, pollIntervalMs: 200 } },
    });
    channel = await openChannel(market, { buyer: 3, deposit: 1_000_000n });
    paid = await paidInfer(market, channel, 1000n, inputs);
    await paidInfer(market, channel, 2000n);
    await paidInfer(market, channel, 3000n);
    await waitFor("anchor 1..3", async () => ((await anchoredSeq(market)) === 3n ? true : undefined));
    await paidInfer(market, channel, 4000n); // stays unanchored
    dir = mkdtempSync(path.join(tmpdir(), "edgepay-audit-"));
  });
  after(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await market?.stop();
    await net?.stop();
  });

  it("the buyer's audit of its receipt: every check passes, with the anchoring transaction and the model version", async () => {
    const ctx = await auditContext(clientsFor(net, 0).publicClient, market.contracts.flightRecorder);
    const line = receiptProofWire.parse((await getJson(`${market.worker!.url}/v1/receipts/1/proof`)).body);
    const toTensors = (w: typeof inputs) => Object.fromEntries(Object.entries(w).map(([n, t]) => [n, tensorFromWire(n, t)]));
    const own = { inputHash: hashTensors(toTensors(inputs)), outputHash: hashTensors(toTensors(paid.outputs as typeof inputs)) };
    const audit = await auditReceipt(line, ctx, own);
    expect(audit.status).to.equal("proven");
    expect(audit.checks).to.deep.equal({ signature: { valid: true }, inputHash: { valid: true }, outputHash: { valid: true }, inclusion: { valid: true }, model: { valid: true } });
    expect(audit.anchor?.transactionHash).to.equal(line.anchor.transactionHash);
    expect(audit.model).to.include({ modelId: market.models[0]!.modelId, contentHash: market.models[0]!.hash });

    // Someone else's output, a forged model hash, a tampered proof: each fails with its reason.
    const wrongOut = await auditReceipt(line, ctx, { ...own, outputHash: flip(own.outputHash) });
    expect(wrongOut.checks.outputHash).to.deep.equal({ valid: false, reason: "wrong_output_hash" });
    expect(wrongOut.status).to.equal("contradicted");
    const badProof = await auditReceipt({ ...line, proof: [flip(line.proof[0]!), ...line.proof.slice(1)] }, ctx);
    expect(badProof.checks.inclusion).to.deep.equal({ valid: false, reason: "not_included" });
    const otherModel = await auditReceipt({ ...line, receipt: { ...line.receipt, modelHash: flip(line.receipt.modelHash) } }, ctx);
    // The device anchored another receipt at this position: altered after signing, and the registry says which field.
    expect(otherModel.checks.signature).to.deep.equal({ valid: false, reason: "receipt_altered", detail: "changed after the device signed it: one of modelId, modelHash no longer matches the chain or your copy" });
    // Signed by another key over the very receipt the device anchored cannot happen; a receipt with no proof and
    // another signer is just that: wrong_signer.
    const stranger = await auditReceipt({ device: `0x${"12".repeat(20)}`, receipt: line.receipt }, ctx);
    expect(stranger.checks.signature).to.deep.equal({ valid: false, reason: "wrong_signer" });
    expect(otherModel.checks.model).to.deep.equal({ valid: false, reason: "model_hash_mismatch" });
    // Without a proof: missing, not contradicted.
    const bare = await auditReceipt({ device: line.device, receipt: line.receipt }, ctx);
    expect(bare.status).to.equal("missing");
    expect(bare.checks.inclusion).to.deep.equal({ valid: false, reason: "no_proof" });
  });

  it("exports a channel's receipts as JSON lines and verifies them: 3 proven, 1 missing", async () => {
    const from = new Date(Date.now() - 3600_000).toISOString();
    const to = new Date(Date.now() + 3600_000).toISOString();
    const exp = await runAudit(["export", "--worker", market.worker!.url, "--device", market.device.address, "--channel", channel.id, "--from", from, "--to", to]);
    expect(exp.code, exp.stderr).to.equal(0);
    const all = exp.stdout.trim().split("\n");
    expect(all).to.have.length(5);
    const lines = all.slice(0, 4);
    for (const l of lines) auditLineWire.parse(JSON.parse(l));
    expect(coverageLineWire.parse(JSON.parse(all[4]!)).coverage).to.deep.include({ device: market.device.address, channel: channel.id, receipts: 4 });
    const file = path.join(dir, "export.jsonl");
    writeFileSync(file, exp.stdout);

    const ver = await runAudit(["verify", file, "--rpc", net.chain.url, "--flight-recorder", market.contracts.flightRecorder]);
    expect(ver.stdout).to.match(/4 receipt\(s\): 3 proven, 1 missing, 0 contradicted/);
    expect(ver.stdout).to.match(/#4 missing +\(inclusion: no_proof\)/);
    expect(ver.code).to.equal(1);

    // Time range outside the receipts: nothing. Wrong device: refused.
    const empty = await runAudit(["export", "--worker", market.worker!.url, "--device", market.device.address, "--from", "2001-01-01T00:00:00Z", "--to", "2001-01-02T00:00:00Z"]);
    expect(empty.code).to.equal(0);
    expect(coverageLineWire.parse(JSON.parse(empty.stdout)).coverage.receipts).to.equal(0);
    const wrong = await runAudit(["export", "--worker", market.worker!.url, "--device", `0x${"12".repeat(20)}`]);
    expect(wrong.code).to.equal(70);
    expect(wrong.stderr).to.match(/is device 0x[0-9a-fA-F]{40}, not 0x1212/);

    // A tampered line: contradicted, exit 2; the next receipt's chain link fails too.
    const tampered = lines.map((l, i) => {
      if (i !== 1) return l;
      const j = JSON.parse(l) as { receipt: { outputHash: `0x${string}` } };
      j.receipt.outputHash = flip(j.receipt.outputHash);
      return JSON.stringify(j);
    });
    writeFileSync(file, `${[...tampered, all[4]].join("\n")}\n`);
    const bad = await runAudit(["verify", file, "--rpc", net.chain.url, "--flight-recorder", market.contracts.flightRecorder]);
    expect(bad.code).to.equal(2);
    expect(bad.stdout).to.match(/#2 contradicted .*signature: receipt_altered - changed after the device signed it .*the change is in channelId, inputHash, outputHash, timestamp/);
    expect(bad.stdout).to.match(/#3 contradicted .*chainLink: previous_mismatch/);
    expect(bad.stdout).to.match(/1 proven, 1 missing, 2 contradicted/);
  });

  it("an export with holes does not pass: absent anchored receipts, a removed line, an empty file, a channel's missing receipt", async () => {
    const verify = (name: string, text: string) => {
      const f = path.join(dir, name);
      writeFileSync(f, text);
      return runAudit(["verify", f, "--rpc", net.chain.url, "--flight-recorder", market.contracts.flightRecorder]);
    };
    const full = await runAudit(["export", "--worker", market.worker!.url, "--device", market.device.address]);
    expect(full.code, full.stderr).to.equal(0);
    const all = full.stdout.trim().split("\n");
    expect(all).to.have.length(5);
    const [r1, r2, r3, r4, cov] = all as [string, string, string, string, string];
    const whole = await verify("full.jsonl", full.stdout);
    expect(whole.code, whole.stdout).to.equal(1); // #4 is not anchored yet: missing, nothing absent
    expect(whole.stdout).to.match(/claims all of its receipts: 4 receipt\(s\)/);
    expect(whole.stdout).to.match(/3 proven, 1 missing, 0 contradicted; 0 anchored receipt\(s\) absent/);

    // One anchored receipt deleted, the coverage line fixed up to match: absent, named with its anchor, exit 1.
    const fixed = JSON.stringify({ coverage: { ...JSON.parse(cov).coverage, receipts: 3 } });
    const holed = await verify("holed.jsonl", [r1, r3, r4, fixed].join("\n"));
    expect(holed.code).to.equal(1);
    expect(holed.stdout).to.match(/#2 absent_from_export \(anchor 1\.\.3\): anchored on-chain \(up to #3\) but not in the export; the hash chain from #1 to #3 cannot be checked across it/);
    expect(holed.stdout).to.match(/2 proven, 1 missing, 0 contradicted; 1 anchored receipt\(s\) absent/);
    // The same without any coverage line: taken to claim everything, so the hole still shows.
    const bare = await verify("bare.jsonl", [r1, r3, r4].join("\n"));
    expect(bare.code).to.equal(1);
    expect(bare.stdout).to.match(/no coverage line and is taken to claim all/);
    expect(bare.stdout).to.match(/#2 absent_from_export/);
    // A line removed under an unchanged coverage line: the count says so.
    const cut = await verify("cut.jsonl", [r1, r2, r3, cov].join("\n"));
    expect(cut.code).to.equal(1);
    expect(cut.stdout).to.match(/coverage line states 4 receipt\(s\), the file holds 3/);
    // Only the coverage line: all three anchored receipts are absent. An empty file proves nothing.
    const none = await verify("none.jsonl", `${fixed.replace('"receipts":3', '"receipts":0')}\n`);
    expect(none.code).to.equal(1);
    expect(none.stdout).to.match(/#1\.\.#3 absent_from_export/);
    expect(none.stdout).to.match(/0 receipt\(s\): 0 proven, 0 missing, 0 contradicted; 3 anchored receipt\(s\) absent/);
    const empty = await verify("empty.jsonl", "");
    expect(empty.code).to.equal(1);
    expect(empty.stderr).to.match(/holds no receipts and no coverage line: it proves nothing/);

    // A channel's export: other channels' receipts may be left out, but a missing receipt of this channel shows in
    // its amounts.
    const chExp = await runAudit(["export", "--worker", market.worker!.url, "--device", market.device.address, "--channel", channel.id]);
    const [c1, , c3, c4, ccov] = chExp.stdout.trim().split("\n") as [string, string, string, string, string];
    const chOk = await verify("ch.jsonl", chExp.stdout);
    expect(chOk.stdout).to.match(/this export is filtered \(channel 0x[0-9a-f]{64}\): 4 receipt\(s\), 0 anchored receipt\(s\) outside it; the channel's amounts were checked for holes/);
    expect(chOk.stdout).to.match(/0 anchored receipt\(s\) absent/);
    const chHole = await verify("ch-hole.jsonl", [c1, c3, c4, JSON.stringify({ coverage: { ...JSON.parse(ccov).coverage, receipts: 3 } })].join("\n"));
    expect(chHole.code).to.equal(1);
    expect(chHole.stdout).to.match(/#2 channel_receipt_missing \(anchor 1\.\.3\): channel 0x[0-9a-fA-F]{64}: receipt #3 is 1000 above #1 plus its own units x price/);
    // An export of another chain's contracts is refused, not audited against the wrong chain.
    const other = await verify("other.jsonl", [r1, JSON.stringify({ coverage: { ...JSON.parse(cov).coverage, chainId: 1 } })].join("\n"));
    expect(other.code).to.equal(65);
    expect(other.stderr).to.match(/the export is of chain 1 .* pass the --rpc and --flight-recorder of the export's chain/);
  });

  it("metering audit: an amount increment that is not units x the channel's price is contradicted, even when the device signed it", async () => {
    const device = privateKeyToAccount(market.device.privateKey);
    const domain = channelsDomain(market.chainId, market.contracts.paymentChannels);
    const sign = async (r: Receipt) => ({ ...r, signature: await device.signTypedData({ domain, types: receiptTypes, primaryType: "Receipt", message: r }) });
    const base = { channelId: channel.id, modelId: market.models[0]!.modelId, modelHash: market.models[0]!.hash, inputHash: keccak256(toHex("in")), outputHash: keccak256(toHex("out")), timestamp: 1_800_000_000n };
    const first = await sign({ ...base, cumulativeAmount: 10_000n, units: 1n, sequence: 100n, previous: keccak256(toHex("p")) as Hex });
    const honest = await sign({ ...base, cumulativeAmount: 12_000n, units: 2n, sequence: 101n, previous: keccak256(toHex("q")) as Hex });
    const greedy = await sign({ ...base, cumulativeAmount: 15_000n, units: 1n, sequence: 102n, previous: keccak256(toHex("r")) as Hex });
    const ctx = await auditContext(clientsFor(net, 3).publicClient, market.contracts.flightRecorder);
    const { receipts } = await auditExport([first, honest, greedy].map((receipt) => ({ device: market.device.address, receipt })), ctx);
    expect(receipts[0]!.checks.metering, "no predecessor in the export: not checked").to.equal(undefined);
    expect(receipts[1]!.checks.metering).to.deep.equal({ valid: true });
    expect(receipts[2]!.checks.metering).to.deep.equal({ valid: false, reason: "amount_not_units_x_price" });
    expect(receipts[2]!.status).to.equal("contradicted");
    // With a receipt of the device missing in between, the increment may span several answers: not judged.
    const gap = await auditExport([first, greedy].map((receipt) => ({ device: market.device.address, receipt })), ctx);
    expect(gap.receipts[1]!.checks.metering).to.equal(undefined);
  });

  it("readable errors for bad input files and arguments", async () => {
    const file = path.join(dir, "bad.jsonl");
    writeFileSync(file, `{"device": "0x12"}\n`);
    const r = await runAudit(["verify", file, "--rpc", net.chain.url, "--flight-recorder", market.contracts.flightRecorder]);
    expect(r.code).to.equal(65);
    expect(r.stderr).to.match(/bad\.jsonl:1: not a receipt line/);
    writeFileSync(file, "not json\n");
    expect((await runAudit(["verify", file, "--flight-recorder", market.contracts.flightRecorder])).stderr).to.match(/bad\.jsonl:1: not JSON/);
    const usage = await runAudit(["export", "--worker", market.worker!.url]);
    expect(usage.code).to.equal(64);
    expect(usage.stderr).to.match(/--device/);
    const missing = await runAudit(["verify", path.join(dir, "nope.jsonl"), "--flight-recorder", market.contracts.flightRecorder]);
    expect(missing.code).to.equal(65);
  });
});
