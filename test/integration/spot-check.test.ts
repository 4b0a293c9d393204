// Spot checks against real processes: a local chain, three real workers serving the same published Silero VAD model
// (an honest one, a rogue whose answers are off by 0.05, and one off by 1e-6, within the model's declared bound),
// and buyers re-checking every call (rate 1) with a paid device verifier or onnxruntime-node locally. The rogue is
// caught on its first wrong answer and quarantined: its next call is refused before any voucher is signed.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { Address, Hex } from "viem";
import { modelRegistryAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { Buyer, DEFAULT_SPOT_CHECK_RATE, drawSpotCheck, EdgepayClientError, MemoryBuyerStore, type SpendIntent, type SpotCheckOptions } from "../../protocol/client/index.ts";
import { initialVadState, sileroVadInputs } from "../../protocol/client/inputs.ts";
import { OnnxLocalVerifier } from "../../protocol/node/local-verifier.ts";
import { recoverReceiptSigner } from "../../protocol/receipt.ts";
import { tensorFromWire, type Tensor } from "../../protocol/tensors.ts";
import { clientsFor, startLocalnet, TEST_KEYS, type Localnet } from "../../scripts/lib/localnet.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { MODEL_OWNER_INDEX, PPOCR_DIRECTION_CLS, setupMarket, SILERO_VAD_V5, type Market } from "../../scripts/lib/worker-fixture.ts";

const PRICE = 1_000n;
/** Absolute 1e-4, in the registry's 1e-9 units. */
const BOUND = 100_000n;
const ROGUE_DELTA = 0.05;
const SUBTLE_DELTA = 1e-6;

function frame(seed: number): Record<string, Tensor> {
  const f = new Float32Array(512);
  for (let i = 0; i < f.length; i++) f[i] = 0.4 * Math.sin((2 * Math.PI * (120 + 7 * seed) * (i + 512 * seed)) / 16000);
  return sileroVadInputs(f, initialVadState());
}

async function expectClientError(p: Promise<unknown>, code: string): Promise<EdgepayClientError> {
  try {
    await p;
  } catch (error) {
    expect(error, String(error)).to.be.instanceOf(EdgepayClientError);
    expect((error as EdgepayClientError).code, (error as Error).message).to.equal(code);
    return error as EdgepayClientError;
  }
  throw new Error(`expected ${code}, the call succeeded`);
}

describe("client: spot checks and quarantine against real workers", function () {
  this.timeout(240_000);
  let net: Localnet;
  let honest: Market;
  let rogue: Market;
  let subtle: Market;
  let modelId: bigint;
  const url = (m: Market) => m.worker!.url;

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    honest = await setupMarket(net, { models: [{ file: SILERO_VAD_V5, name: "Silero VAD v5", price: PRICE }] });
    modelId = honest.models[0]!.modelId;
    // Same model id, same on-chain content hash, same file: only the answers differ (worker/models/fault.ts).
    rogue = await setupMarket(net, { reuseModels: honest.models, startOptions: { faults: { outputs: { probability: 1, delta: ROGUE_DELTA } } } });
    subtle = await setupMarket(net, { reuseModels: honest.models, startOptions: { faults: { outputs: { probability: 1, delta: SUBTLE_DELTA } } } });
    const owner = clientsFor(net, MODEL_OWNER_INDEX);
    await owner.publicClient.waitForTransactionReceipt({
      hash: await owner.walletClient.writeContract({ address: honest.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "setTolerance", args: [modelId, { kind: 1, bound: BOUND }] }),
    });
    for (const index of [3, 4, 5]) {
      const { walletClient, publicClient, account } = clientsFor(net, index);
      await publicClient.waitForTransactionReceipt({ hash: await walletClient.writeContract({ address: honest.token, abi: testUsdcAbi, functionName: "faucet", args: [account.address, 100_000_000n] }) });
    }
  });
  after(async () => {
    for (const m of [honest, rogue, subtle]) await m?.stop();
    await net?.stop();
  });

  function newBuyer(index: number, spotCheck?: SpotCheckOptions) {
    const { publicClient, walletClient } = clientsFor(net, index);
    return new Buyer({
      publicClient,
      wallet: walletClient,
      paymentChannels: honest.contracts.paymentChannels,
      store: new MemoryBuyerStore(),
      http: { timeoutMs: 20_000 },
      retryDelayMs: 20,
      autoOpen: { deposit: 100n * PRICE },
      spotCheck,
    });
  }

  async function lastAccepted(m: Market, channelId: Hex): Promise<bigint> {
    const res = await fetch(`${url(m)}/v1/channels/${channelId}`);
    return BigInt(((await res.json()) as { lastAccepted: string }).lastAccepted);
  }

  async function channelTo(buyer: Buyer, device: Address) {
    const all = await buyer.store.listChannels();
    const found = all.filter((c) => c.terms.device.toLowerCase() === device.toLowerCase());
    expect(found, `one channel to ${device}`).to.have.length(1);
    return found[0]!;
  }

  it("refuses a rate outside 0..1 and a device verifier without workers", () => {
    expect(() => newBuyer(3, { rate: 1.5, verifier: { kind: "device", workers: ["http://127.0.0.1:1"] } })).to.throw(/spotCheck.rate must be within 0..1, got 1.5/);
    expect(() => newBuyer(3, { rate: -0.1, verifier: { kind: "device", workers: ["http://127.0.0.1:1"] } })).to.throw(/got -0.1/);
    expect(() => newBuyer(3, { verifier: { kind: "device", workers: [] } })).to.throw(/workers is empty/);
  });

  it("draws checks at the configured rate (0 never, 1 always, 0.25 about a quarter)", () => {
    const count = (rate: number, n: number) => Array.from({ length: n }, () => drawSpotCheck(rate)).filter(Boolean).length;
    expect(count(0, 1000)).to.equal(0);
    expect(count(1, 1000)).to.equal(1000);
    // 4,000 draws at 0.25: mean 1,000, sd 27; outside 5 sd has probability below 1e-6.
    expect(count(0.25, 4000)).to.be.within(863, 1137);
    expect(DEFAULT_SPOT_CHECK_RATE).to.equal(0.02);
  });

  it("without checks (rate 0) the rogue's wrong answers come with valid receipts: nothing else catches them", async () => {
    const buyer = newBuyer(4, { rate: 0, verifier: { kind: "device", workers: [url(honest)] } });
    const wrong = await buyer.infer(modelId, frame(1), { workers: [url(rogue)] });
    const right = await buyer.infer(modelId, frame(1), { workers: [url(honest)] });
    expect(Math.abs((wrong.outputs.output!.data[0] as number) - (right.outputs.output!.data[0] as number))).to.be.closeTo(ROGUE_DELTA, 1e-6);
    expect(await buyer.spotChecks()).to.deep.equal([]);
    expect(await buyer.quarantined()).to.deep.equal([]);
  });

  it("device verifier (paid): honest and within-bound devices pass; the rogue is caught on its first wrong answer, quarantined and refused before any voucher", async () => {
    const buyer = newBuyer(3, { rate: 1, verifier: { kind: "device", workers: [url(honest), url(subtle)] } });

    // The honest device is checked by the only other verifier, `subtle`, whose answers are 1e-6 off: within 1e-4.
    // The check's payment goes through the call's `authorize` (an agent's budget covers its checks).
    const intents: SpendIntent[] = [];
    const ok = await buyer.infer(modelId, frame(2), { workers: [url(honest)], authorize: (i) => void intents.push(i) });
    expect(intents.map((i) => [i.kind, i.device])).to.deep.equal([
      ["open", honest.device.address],
      ["voucher", honest.device.address],
      ["open", subtle.device.address],
      ["voucher", subtle.device.address],
    ]);
    // `subtle` is checked by the honest device.
    await buyer.infer(modelId, frame(3), { workers: [url(subtle)] });
    let checks = await buyer.spotChecks();
    expect(checks.map((c) => [c.device, c.outcome, c.verifier?.kind === "device" && c.verifier.device, c.cost])).to.deep.equal([
      [honest.device.address, "passed", subtle.device.address, PRICE],
      [subtle.device.address, "passed", honest.device.address, PRICE],
    ]);
    expect(checks[0]!.id).to.equal(`${ok.channelId}:${ok.receipt.sequence}`);
    expect(checks[0]!.tolerance).to.deep.equal({ kind: "absolute", bound: BOUND });

    // The rogue: its answer is paid, then found wrong against the honest device (which is paid for the check).
    const verifierChannel = (await channelTo(buyer, honest.device.address)).channelId;
    const verifierBefore = await lastAccepted(honest, verifierChannel);
    const failed = await expectClientError(buyer.infer(modelId, frame(4), { workers: [url(rogue)] }), "spot_check_failed");
    expect(failed.reason).to.equal("value_out_of_tolerance");
    expect(failed.message).to.include(rogue.device.address).and.include("quarantined");
    expect(await lastAccepted(honest, verifierChannel)).to.equal(verifierBefore + PRICE);

    // A budget that refuses to pay the verifier: no verdict, the paid answer is returned, nothing is quarantined.
    const unchecked = await buyer.infer(modelId, frame(15), {
      workers: [url(subtle)],
      authorize: (i) => {
        if (i.device === honest.device.address) throw new Error("over budget");
      },
    });
    expect(unchecked.device).to.equal(subtle.device.address);
    expect((await buyer.spotChecks({ device: subtle.device.address })).map((c) => [c.outcome, c.reason, c.cost])).to.deep.equal([
      ["passed", undefined, PRICE],
      ["inconclusive", "verifier_error", 0n],
    ]);
    expect(await lastAccepted(honest, verifierChannel)).to.equal(verifierBefore + PRICE);

    checks = await buyer.spotChecks({ device: rogue.device.address });
    expect(checks).to.have.length(1);
    const check = checks[0]!;
    expect([check.outcome, check.reason, check.cost, check.mismatch?.output]).to.deep.equal(["failed", "value_out_of_tolerance", PRICE, "output"]);
    expect(check.mismatch!.difference).to.be.closeTo(ROGUE_DELTA, 1e-6);
    expect(check.mismatch!.allowed).to.be.closeTo(1e-4, 1e-12);
    // Evidence for a dispute: the rogue's own signature over the wrong answer, the inputs and both outputs.
    const evidence = check.evidence!;
    expect(await recoverReceiptSigner(evidence.receipt, honest.chainId, honest.contracts.paymentChannels)).to.equal(rogue.device.address);
    expect(evidence.receipt.sequence).to.equal(check.sequence);
    const theirs = tensorFromWire("output", evidence.outputs.output!).data[0] as number;
    const reference = tensorFromWire("output", evidence.reference.output!).data[0] as number;
    expect(theirs - reference).to.be.closeTo(ROGUE_DELTA, 1e-6);
    expect(evidence.inputs.input!.data).to.have.length(512);
    expect(await recoverReceiptSigner(evidence.verifierReceipt!, honest.chainId, honest.contracts.paymentChannels)).to.equal(honest.device.address);

    const [q] = await buyer.quarantined();
    expect(q).to.deep.include({ device: rogue.device.address, modelId, checkId: check.id, reason: "value_out_of_tolerance" });

    // The next call to the rogue is refused before anything is signed: the channel's signed amount does not move,
    // the device accepted nothing more, and no one (verifier included) was paid.
    const rogueChannel = await channelTo(buyer, rogue.device.address);
    const rogueAccepted = await lastAccepted(rogue, rogueChannel.channelId);
    expect(rogueAccepted).to.equal(rogueChannel.signed);
    const refused = await expectClientError(buyer.infer(modelId, frame(5), { workers: [url(rogue)] }), "device_quarantined");
    expect(refused.message).to.include(rogue.device.address).and.include(check.id);
    expect((await channelTo(buyer, rogue.device.address)).signed).to.equal(rogueChannel.signed);
    expect(await lastAccepted(rogue, rogueChannel.channelId)).to.equal(rogueAccepted);
    expect(await lastAccepted(honest, verifierChannel)).to.equal(verifierBefore + PRICE);
    expect(await buyer.spotChecks()).to.have.length(4);

    // Named first in a list, the quarantined device is skipped for the next worker.
    const served = await buyer.infer(modelId, frame(6), { workers: [url(rogue), url(honest)] });
    expect(served.device).to.equal(honest.device.address);
    expect((await channelTo(buyer, rogue.device.address)).signed).to.equal(rogueChannel.signed);

    // Cleared by hand, the rogue is paid again, and caught again.
    expect((await buyer.clearQuarantine(rogue.device.address))?.checkId).to.equal(check.id);
    expect(await buyer.quarantined()).to.deep.equal([]);
    await expectClientError(buyer.infer(modelId, frame(7), { workers: [url(rogue)] }), "spot_check_failed");
    expect((await channelTo(buyer, rogue.device.address)).signed).to.equal(rogueChannel.signed + PRICE);
    expect((await buyer.quarantined()).map((x) => x.device)).to.deep.equal([rogue.device.address]);
  });

  it("local verifier (onnxruntime-node, the file's sha256 checked against the chain): no second device needed, nothing paid for checks", async () => {
    const runner = new OnnxLocalVerifier({ files: { [modelId.toString()]: SILERO_VAD_V5 } });
    try {
      const buyer = newBuyer(4, { rate: 1, verifier: { kind: "local", runner } });
      await buyer.infer(modelId, frame(8), { workers: [url(honest)] });
      await buyer.infer(modelId, frame(9), { workers: [url(subtle)] });
      await expectClientError(buyer.infer(modelId, frame(10), { workers: [url(rogue)] }), "spot_check_failed");
      const checks = await buyer.spotChecks();
      expect(checks.map((c) => [c.device, c.outcome, c.verifier, c.cost])).to.deep.equal([
        [honest.device.address, "passed", { kind: "local", runner: "onnxruntime-node" }, 0n],
        [subtle.device.address, "passed", { kind: "local", runner: "onnxruntime-node" }, 0n],
        [rogue.device.address, "failed", { kind: "local", runner: "onnxruntime-node" }, 0n],
      ]);
      await expectClientError(buyer.infer(modelId, frame(11), { workers: [url(rogue)] }), "device_quarantined");

      // A file that is not the published model is never used: no verdict, no quarantine, the answer is returned.
      const wrongFile = new OnnxLocalVerifier({ files: { [modelId.toString()]: PPOCR_DIRECTION_CLS } });
      const other = newBuyer(4, { rate: 1, verifier: { kind: "local", runner: wrongFile } });
      const r = await other.infer(modelId, frame(12), { workers: [url(honest)] });
      expect(r.outputs.output).to.not.equal(undefined);
      expect((await other.spotChecks()).map((c) => [c.outcome, c.reason])).to.deep.equal([["inconclusive", "model_hash_mismatch"]]);
      expect(await other.quarantined()).to.deep.equal([]);
      await wrongFile.release();

      // The tolerance is read from the chain at each check: declared exact, the 1e-6 device now fails.
      const owner = clientsFor(net, MODEL_OWNER_INDEX);
      await owner.publicClient.waitForTransactionReceipt({
        hash: await owner.walletClient.writeContract({ address: honest.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "setTolerance", args: [modelId, { kind: 0, bound: 0n }] }),
      });
      const strict = newBuyer(4, { rate: 1, verifier: { kind: "local", runner } });
      await strict.infer(modelId, frame(13), { workers: [url(honest)] });
      const e = await expectClientError(strict.infer(modelId, frame(14), { workers: [url(subtle)] }), "spot_check_failed");
      expect(e.reason).to.equal("value_out_of_tolerance");
      const last = (await strict.spotChecks()).at(-1)!;
      expect(last.tolerance).to.deep.equal({ kind: "exact", bound: 0n });
      expect(last.mismatch!.allowed).to.equal(0);
    } finally {
      await runner.release();
    }
  });

  it("CLI: --spot-check 1 --verifier local:FILE catches the rogue; quarantine lists it, infer refuses it, clear-quarantine lets it go", async () => {
    // The rogue is 0.05 off: caught whichever tolerance the previous test left on the model.
    const dir = await mkdtemp(path.join(tmpdir(), "edgepay-spotcheck-cli-"));
    const env = {
      ...process.env,
      EDGEPAY_RPC_URL: net.chain.url,
      EDGEPAY_PAYMENT_CHANNELS: honest.contracts.paymentChannels,
      EDGEPAY_BUYER_KEY: TEST_KEYS[5],
      EDGEPAY_BUYER_HOME: path.join(dir, "store"),
    };
    const cli = async (...args: string[]) => {
      try {
        const { stdout, stderr } = await promisify(execFile)(process.execPath, [path.join(ROOT, "protocol/node/cli.ts"), ...args], { cwd: ROOT, env, timeout: 60_000 });
        return { code: 0, stdout, stderr };
      } catch (error) {
        const e = error as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    };
    try {
      const input = path.join(dir, "frame.json");
      const { writeFile } = await import("node:fs/promises");
      const f = frame(20);
      await writeFile(input, JSON.stringify(Object.fromEntries(Object.entries(f).map(([k, t]) => [k, { type: t.type, dims: t.dims, data: Array.from(t.data as ArrayLike<number | bigint>, (x) => (typeof x === "bigint" ? x.toString() : x)) }]))));
      const check = ["--spot-check", "1", "--verifier", `local:${SILERO_VAD_V5}`];
      const args = (m: Market) => ["infer", "--worker", url(m), "--model", modelId.toString(), "--input", input, "--deposit", "0.01", ...check];
      const bad = await cli(...args(rogue));
      expect(bad.code).to.equal(1);
      expect(bad.stderr).to.include("error: spot_check_failed").and.include(rogue.device.address).and.include(`device ${rogue.device.address} quarantined`);
      const listed = await cli("quarantine");
      expect(listed.stdout).to.match(new RegExp(`^${rogue.device.address} model=${modelId} failed check 0x[0-9a-f]{64}:\\d+ \\(value_out_of_tolerance\\)`));
      const refused = await cli(...args(rogue));
      expect(refused.code).to.equal(1);
      expect(refused.stderr).to.match(/^error: device_quarantined: .*is quarantined/);
      const cleared = await cli("clear-quarantine", "--device", rogue.device.address);
      expect(cleared.stdout).to.match(/^cleared 0x/);
      // (Each CLI process takes seconds to start on a loaded machine: the list commands' empty cases and the other
      // argument errors are left to the library tests.)
      const badRate = await cli("quarantine", "--spot-check", "2", "--verifier", url(honest));
      expect(badRate.stderr.trim()).to.equal('error: --spot-check must be a share of calls within 0..1, got "2"');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
