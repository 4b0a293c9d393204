// Disputes about wrong answers, end to end against real processes: a Hardhat node with AnswerDisputes (30 s vote
// windows, half of a losing device's stake slashed), a rogue worker whose Silero VAD answers are 0.05 off, three
// honest workers of other owners configured as verifiers (they watch for their seats, re-run the evidence on their
// own model copy, commit and reveal with their device keys, on their own), a fourth pool member that is offline,
// and buyers whose spot checks (onnxruntime-node locally) catch the rogue and open disputes, automatically or with
// the CLI. Assertions are on money: stakes, bonds, rewards, penalties and the treasury. The caught rogue's reputation
// (protocol/reputation.ts, read from the chain) shows the failed check, the lost dispute and the slash, and a buyer
// routing by reputation pays the honest device instead.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { parseEventLogs, type Address, type Hex } from "viem";
import { answerDisputesAbi, deviceRegistryAbi, modelRegistryAbi, paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import {
  Buyer,
  EdgepayClientError,
  MemoryBuyerStore,
  advanceDispute,
  disputeEvidence,
  joinVerifierPool,
  openAnswerDispute,
  readDispute,
  sendDisputeTx,
  type LocalVerifier,
  type SpotCheckOptions,
} from "../../protocol/client/index.ts";
import { initialVadState, sileroVadInputs } from "../../protocol/client/inputs.ts";
import { FileBuyerStore } from "../../protocol/node/file-store.ts";
import { OnnxLocalVerifier } from "../../protocol/node/local-verifier.ts";
import { readReputation, type ReputationSources } from "../../protocol/reputation.ts";
import { tensorToWire, type Tensor } from "../../protocol/tensors.ts";
import { clientsFor, startLocalnet, TEST_KEYS, type Localnet } from "../../scripts/lib/localnet.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { MODEL_OWNER_INDEX, setupMarket, SILERO_VAD_V5, type Market } from "../../scripts/lib/worker-fixture.ts";

const PRICE = 1_000n;
const BOUND = 100_000n; // absolute 1e-4
const ROGUE_DELTA = 0.05;
const WINDOW = 30n;
const STAKE = 10_000_000n; // the registry's minimum, what every fixture device stakes
const REPORTER_BOND = 5_000_000n;
const VERIFIER_BOND = 1_000_000n;
// Test keys: 0 deployer and treasury, 1 model owner, 2 the rogue's owner, 3 reporter, 4/5/6 owners of the honest
// verifiers A/B/C, 7 owner of the offline verifier D, 8 a buyer with a false report (later routing by reputation),
// 9 a lying reporter / caller.
const TREASURY = 0;

function frame(seed: number): Record<string, Tensor> {
  const f = new Float32Array(512);
  for (let i = 0; i < f.length; i++) f[i] = 0.4 * Math.sin((2 * Math.PI * (150 + 11 * seed) * (i + 512 * seed)) / 16000);
  return sileroVadInputs(f, initialVadState());
}

function shifted(tensors: Record<string, Tensor>, delta: number): Record<string, Tensor> {
  return Object.fromEntries(
    Object.entries(tensors).map(([name, t]) => [name, name === "output" ? { ...t, data: Float32Array.from(t.data as Float32Array, (v) => v + delta) } : t]),
  );
}

async function rejects(p: Promise<unknown>): Promise<EdgepayClientError> {
  try {
    await p;
  } catch (error) {
    expect(error, String(error)).to.be.instanceOf(EdgepayClientError);
    return error as EdgepayClientError;
  }
  throw new Error("expected a rejection, the call succeeded");
}

describe("disputes about wrong answers: reporter, committee of real workers, resolution and money", function () {
  this.timeout(240_000);
  let net: Localnet;
  let rogue: Market;
  let honest: Market[]; // A, B, C: verifiers, running
  let offline: Market; // D: verifier, never started
  let modelId: bigint;
  let answerDisputes: Address;
  let runner: OnnxLocalVerifier;
  const ctx = () => ({ publicClient: clientsFor(net, 0).publicClient, answerDisputes });
  const url = (m: Market) => m.worker!.url;

  async function rpc(method: string, params: unknown[] = []) {
    const res = await fetch(net.chain.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
    const body = (await res.json()) as { error?: { message: string } };
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
  }
  const mine = () => rpc("evm_mine");
  async function passTime(seconds: bigint) {
    await rpc("evm_increaseTime", [Number(seconds)]);
    await mine();
  }
  async function waitFor(what: string, check: () => Promise<boolean>, ms = 60_000) {
    const until = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const balance = (index: number) =>
    clientsFor(net, 0).publicClient.readContract({ address: net.deployment.token, abi: testUsdcAbi, functionName: "balanceOf", args: [clientsFor(net, index).account.address] });
  const stakeOf = async (device: Address) =>
    (await clientsFor(net, 0).publicClient.readContract({ address: net.deployment.deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [device] })).stake;
  const verifierBond = async (device: Address) =>
    (await clientsFor(net, 0).publicClient.readContract({ address: answerDisputes, abi: answerDisputesAbi, functionName: "getVerifier", args: [modelId, device] })).bond;
  async function resolvedEvent(hash: Hex) {
    const receipt = await clientsFor(net, 0).publicClient.getTransactionReceipt({ hash });
    return {
      resolved: parseEventLogs({ abi: answerDisputesAbi, logs: receipt.logs, eventName: "DisputeResolved" })[0]!.args,
      penalised: parseEventLogs({ abi: answerDisputesAbi, logs: receipt.logs, eventName: "VerifierPenalised" }).map((l) => [l.args.verifier, l.args.amount]),
    };
  }

  const reputationSources = (): ReputationSources => ({
    deviceRegistry: net.deployment.deviceRegistry,
    flightRecorder: net.deployment.flightRecorder,
    answerDisputes,
    deviceReputation: net.deployment.deviceReputation!,
  });
  const reputationOf = (device: Address) => readReputation(clientsFor(net, 0).publicClient, reputationSources(), device);

  function newBuyer(index: number, spotCheck?: SpotCheckOptions, auto = true, reputation = false) {
    const { publicClient, walletClient } = clientsFor(net, index);
    const { deviceRegistry: _registry, ...sources } = reputationSources();
    return new Buyer({
      publicClient,
      wallet: walletClient,
      paymentChannels: net.deployment.paymentChannels,
      store: new MemoryBuyerStore(),
      http: { timeoutMs: 20_000 },
      retryDelayMs: 20,
      autoOpen: { deposit: 100n * PRICE },
      spotCheck,
      disputes: { answerDisputes, auto },
      ...(reputation ? { reputation: { ...sources, ttlSeconds: 0 } } : {}),
    });
  }

  /** Mines past the seed block, draws, and returns the committee. */
  async function draw(id: Hex) {
    await mine();
    expect((await advanceDispute(ctx(), clientsFor(net, 9).walletClient, id)).step).to.equal("drawn");
    return (await readDispute(ctx(), id)).seats.map((s) => s.verifier);
  }

  // The CLI's buyer (key 6, owner of verifier C) catches the rogue in `before`, while the rogue still serves.
  let cliDir: string;
  let cliEnv: NodeJS.ProcessEnv;
  let cliCheckId: string;
  const cli = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [path.join(ROOT, "protocol/node/cli.ts"), ...args], { cwd: ROOT, env: cliEnv, timeout: 90_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n, slashBps: 5_000n, voteCommitWindow: WINDOW, voteRevealWindow: WINDOW });
    answerDisputes = net.deployment.answerDisputes!;
    if (!net.deployment.deviceReputation) throw new Error("the local deployment has no DeviceReputation");
    rogue = await setupMarket(net, {
      models: [{ file: SILERO_VAD_V5, name: "Silero VAD v5", price: PRICE }],
      startOptions: { faults: { outputs: { probability: 1, delta: ROGUE_DELTA } } },
    });
    modelId = rogue.models[0]!.modelId;
    const owner = clientsFor(net, MODEL_OWNER_INDEX);
    await owner.publicClient.waitForTransactionReceipt({
      hash: await owner.walletClient.writeContract({ address: net.deployment.modelRegistry, abi: modelRegistryAbi, functionName: "setTolerance", args: [modelId, { kind: 1, bound: BOUND }] }),
    });
    const verifierConfig = { verifier: {}, logLevel: "error" as const };
    // Different owners, so in parallel (each owner's transactions keep their own nonces).
    const markets = await Promise.all([
      ...[4, 5, 6].map((index) => setupMarket(net, { reuseModels: rogue.models, providerIndex: index, config: verifierConfig, start: false })),
      setupMarket(net, { reuseModels: rogue.models, providerIndex: 7, config: verifierConfig, start: false }),
    ]);
    honest = markets.slice(0, 3);
    offline = markets[3]!;
    // The owners join the pool (the device key cannot: joinPool pulls the owner's bond).
    for (const [i, m] of honest.entries()) await joinVerifierPool(ctx(), clientsFor(net, 4 + i).walletClient, modelId, m.device.address);
    await Promise.all(honest.map((m) => m.startWorker()));
    for (const index of [3, 6, 8, 9]) {
      const { walletClient, publicClient, account } = clientsFor(net, index);
      await publicClient.waitForTransactionReceipt({ hash: await walletClient.writeContract({ address: net.deployment.token, abi: testUsdcAbi, functionName: "faucet", args: [account.address, 100_000_000n] }) });
    }
    runner = new OnnxLocalVerifier({ files: { [modelId.toString()]: SILERO_VAD_V5 } });

    cliDir = await mkdtemp(path.join(tmpdir(), "edgepay-dispute-cli-"));
    cliEnv = {
      ...process.env,
      EDGEPAY_RPC_URL: net.chain.url,
      EDGEPAY_PAYMENT_CHANNELS: net.deployment.paymentChannels,
      EDGEPAY_ANSWER_DISPUTES: answerDisputes,
      EDGEPAY_BUYER_KEY: TEST_KEYS[6],
      EDGEPAY_BUYER_HOME: path.join(cliDir, "store"),
    };
    // The CLI's store, filled in-process (a CLI process takes many seconds to start on a loaded machine).
    const { publicClient, walletClient } = clientsFor(net, 6);
    const cliBuyer = new Buyer({
      publicClient,
      wallet: walletClient,
      paymentChannels: net.deployment.paymentChannels,
      store: new FileBuyerStore(path.join(cliDir, "store")),
      autoOpen: { deposit: 100n * PRICE },
      spotCheck: { rate: 1, verifier: { kind: "local", runner } },
    });
    const caught = await rejects(cliBuyer.infer(modelId, frame(30), { workers: [url(rogue)] }));
    expect(caught.code).to.equal("spot_check_failed");
    cliCheckId = (await cliBuyer.spotChecks())[0]!.id;
  });

  after(async () => {
    await runner?.release();
    for (const m of [rogue, ...(honest ?? []), offline]) await m?.stop();
    await net?.stop();
    if (cliDir) await rm(cliDir, { recursive: true, force: true });
  });

  it("a false report (the device's answer within tolerance) is refused before any transaction, and a passed check has nothing to dispute", async () => {
    const buyer = newBuyer(8, { rate: 1, verifier: { kind: "local", runner } });
    const inputs = frame(1);
    const result = await buyer.infer(modelId, inputs, { workers: [url(honest[0]!)] });
    const [check] = await buyer.spotChecks();
    expect(check!.outcome).to.equal("passed");
    const noEvidence = await rejects(buyer.disputeAnswer(check!.id));
    expect([noEvidence.code, noEvidence.reason]).to.deep.equal(["dispute_refused", "no_evidence"]);

    // Claimed outputs 5e-5 off the device's (bound 1e-4): the evidence is well formed, the claim is not a dispute.
    const { publicClient, walletClient, account } = clientsFor(net, 8);
    const channel = (await buyer.store.getChannel(result.channelId))!;
    const wire = (t: Record<string, Tensor>) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, tensorToWire(v)]));
    const built = disputeEvidence({ receipt: result.receipt, inputs: wire(inputs), outputs: wire(result.outputs), reference: wire(shifted(result.outputs, 5e-5)) }, channel.terms);
    expect(built.valid).to.equal(true);
    const evidence = built.valid ? built.evidence : undefined!;
    const [tokens, eth, nonce] = await Promise.all([balance(8), publicClient.getBalance({ address: account.address }), publicClient.getTransactionCount({ address: account.address })]);
    const refused = await rejects(openAnswerDispute(ctx(), walletClient, honest[0]!.device.address, evidence));
    expect([refused.code, refused.reason]).to.deep.equal(["dispute_refused", "within_tolerance"]);
    expect(refused.message).to.include("within model").and.include("nothing was sent");
    // Evidence altered after signing: the receipt's hashes no longer match.
    const tampered = disputeEvidence({ receipt: result.receipt, inputs: wire(frame(2)), outputs: wire(result.outputs), reference: wire(shifted(result.outputs, 0.5)) }, channel.terms);
    expect(tampered).to.deep.include({ valid: false, reason: "input_hash_mismatch" });
    // The contract's own refusal, decoded (simulated, so no gas): an open without a commitment.
    const direct = await rejects(sendDisputeTx(ctx(), walletClient, "openDispute", [honest[0]!.device.address, evidence, `0x${"11".repeat(32)}`]));
    expect(direct.code).to.equal("transaction_failed");
    expect(direct.message).to.match(/^openDispute failed: CommitmentNotFound\(commitment=0x[0-9a-f]{64}\)$/);
    expect([await balance(8), await publicClient.getBalance({ address: account.address }), await publicClient.getTransactionCount({ address: account.address })]).to.deep.equal([tokens, eth, nonce]);
  });

  it("the rogue is caught, the dispute opens by itself, the honest workers vote it wrong (one restarted between commit and reveal): stake slashed, reporter and verifiers paid, rogue stays quarantined, its reputation shows it and routing avoids it", async () => {
    // The reporter also posts its spot checks as on-chain feedback (BuyerOptions.reputation).
    const reporter = newBuyer(3, { rate: 1, verifier: { kind: "local", runner } }, true, true);
    const stake0 = await stakeOf(rogue.device.address);
    expect(stake0).to.equal(STAKE);

    const failed = await rejects(reporter.infer(modelId, frame(3), { workers: [url(rogue)] }));
    expect(failed.code).to.equal("spot_check_failed");
    const id = /dispute (0x[0-9a-f]{64}) opened/.exec(failed.message)?.[1] as Hex;
    expect(id, failed.message).to.not.equal(undefined);
    const reporter0 = await balance(3);
    const [q] = await reporter.quarantined();
    expect(q).to.deep.include({ device: rogue.device.address, disputeId: id });
    let d = await readDispute(ctx(), id);
    expect([d.phase, d.device, d.reporter, d.bond]).to.deep.equal(["drawing", rogue.device.address, clientsFor(net, 3).account.address, REPORTER_BOND]);
    // The same receipt cannot be disputed twice: refused before gas.
    const again = await rejects(reporter.disputeAnswer(q!.checkId));
    expect([again.code, again.reason]).to.deep.equal(["dispute_refused", "dispute_exists"]);

    // Drawing needs the seed block (the one after the open) mined first.
    expect((await advanceDispute(ctx(), clientsFor(net, 9).walletClient, id)).step).to.equal("waiting");
    const seated = await draw(id);
    expect([...seated].sort()).to.deep.equal(honest.map((m) => m.device.address).sort());

    // The workers commit on their own; A restarts before revealing and finds its vote and salt in SQLite.
    await waitFor("three commitments", async () => (await readDispute(ctx(), id)).committed === 3);
    const a = honest[0]!;
    await a.worker!.stop();
    a.worker = undefined;
    await a.startWorker();
    expect(a.worker!.internals.disputes!.member.votes.get(id)).to.deep.include({ state: "committed", deviceRight: false });
    // Measured after the restart: A's graceful stop claimed what an earlier test's buyer paid it.
    const owners0 = await Promise.all([4, 5, 6].map(balance));
    const treasury0 = await balance(TREASURY);
    await passTime(WINDOW + 1n);
    await waitFor("three reveals", async () => (await readDispute(ctx(), id)).votesWrong === 3);
    expect((await advanceDispute(ctx(), clientsFor(net, 9).walletClient, id)).step).to.equal("waiting");
    await passTime(WINDOW + 1n);
    const resolved = await advanceDispute(ctx(), clientsFor(net, 9).walletClient, id);
    expect(resolved.step).to.equal("resolved");

    // Half the stake (5 USDC): 20 % to the reporter with its bond back, 30 % to the three verifiers, the rest to the treasury.
    const slashed = stake0 / 2n;
    const { resolved: ev, penalised } = await resolvedEvent(resolved.hash!);
    expect([ev.outcome, ev.votesWrong, ev.votesRight, ev.slashed, ev.reporterPaid, ev.verifiersPaid, ev.treasuryPaid]).to.deep.equal([
      1, 3n, 0n, slashed, REPORTER_BOND + slashed / 5n, (slashed * 3n) / 10n, slashed / 2n,
    ]);
    expect(penalised).to.deep.equal([]);
    expect(await stakeOf(rogue.device.address)).to.equal(stake0 - slashed);
    expect(await balance(3)).to.equal(reporter0 + REPORTER_BOND + slashed / 5n);
    expect(await Promise.all([4, 5, 6].map(balance))).to.deep.equal(owners0.map((b) => b + slashed / 10n));
    expect(await balance(TREASURY)).to.equal(treasury0 + slashed / 2n);
    for (const m of honest) expect(await verifierBond(m.device.address)).to.equal(VERIFIER_BOND);
    for (const m of honest) expect(m.worker!.internals.disputes!.member.votes.get(id)?.state).to.equal("revealed");
    d = await readDispute(ctx(), id);
    expect([d.phase, d.outcome]).to.deep.equal(["resolved", "device_lost"]);

    // The device lost: the quarantine stays, and no voucher goes to it (the channel's signed amount does not move).
    expect(await reporter.reviewQuarantines()).to.deep.equal([{ device: rogue.device.address, disputeId: id, outcome: "device_lost", quarantine: "kept" }]);
    const rogueChannel = (await reporter.store.listChannels()).find((c) => c.terms.device === rogue.device.address)!;
    expect(rogueChannel.signed).to.equal(PRICE);
    expect((await rejects(reporter.infer(modelId, frame(4), { workers: [url(rogue)] }))).code).to.equal("device_quarantined");
    expect((await reporter.store.getChannel(rogueChannel.channelId))!.signed).to.equal(PRICE);

    // Reputation, from the chain: the reporter's failed check (feedback it posted), the lost dispute, the slash.
    const bad = await reputationOf(rogue.device.address);
    expect(bad.spotChecksFailed).to.be.at.least(1);
    expect([bad.failingClients, bad.disputesLost, bad.disputesWon, bad.slashes, bad.slashedAmount]).to.deep.equal([1, 1, 0, 1, slashed]);
    const good = await reputationOf(honest[1]!.device.address);
    expect([good.spotChecksFailed, good.disputesLost, good.slashes]).to.deep.equal([0, 0, 0]);
    expect(bad.score).to.be.below(good.score);

    // A buyer that never checked the rogue, routing by price and reputation, given [rogue, honest] at the same price:
    // its only channel and every voucher go to the honest device.
    const router = newBuyer(8, undefined, false, true);
    const { publicClient, account } = clientsFor(net, 8);
    const [routerTokens, fromBlock] = await Promise.all([balance(8), publicClient.getBlockNumber()]);
    for (const seed of [6, 7]) expect((await router.infer(modelId, frame(seed), { workers: [url(rogue), url(honest[1]!)] })).device).to.equal(honest[1]!.device.address);
    expect((await router.store.listChannels()).map((c) => [c.terms.device, c.signed])).to.deep.equal([[honest[1]!.device.address, 2n * PRICE]]);
    expect(await balance(8)).to.equal(routerTokens - 100n * PRICE);
    const opened = await publicClient.getContractEvents({ address: net.deployment.paymentChannels, abi: paymentChannelsAbi, eventName: "ChannelOpened", args: { payer: account.address }, fromBlock: fromBlock + 1n });
    expect(opened.map((e) => e.args.device)).to.deep.equal([honest[1]!.device.address]);
  });

  it("a reporter whose reference is wrong loses its bond to the device owner and the majority, and its quarantine of the honest device is lifted", async () => {
    // A buyer with a broken local verifier (answers 0.05 off) blames honest device A.
    const lying: LocalVerifier = { name: "broken", run: async (id, hash, inputs) => shifted(await runner.run(id, hash, inputs), ROGUE_DELTA) };
    const reporter = newBuyer(9, { rate: 1, verifier: { kind: "local", runner: lying } });
    const a = honest[0]!;
    const failed = await rejects(reporter.infer(modelId, frame(5), { workers: [url(a)] }));
    const id = /dispute (0x[0-9a-f]{64}) opened/.exec(failed.message)![1] as Hex;
    const before = await Promise.all([9, 4, 5, 6].map(balance));
    // A is the accused: the committee is B and C, the only eligible members.
    expect([...(await draw(id))].sort()).to.deep.equal([honest[1]!.device.address, honest[2]!.device.address].sort());
    await waitFor("two commitments", async () => (await readDispute(ctx(), id)).committed === 2);
    await passTime(WINDOW + 1n);
    await waitFor("two reveals", async () => (await readDispute(ctx(), id)).votesRight === 2);
    await passTime(WINDOW + 1n);
    const resolved = await advanceDispute(ctx(), clientsFor(net, 8).walletClient, id);
    const { resolved: ev } = await resolvedEvent(resolved.hash!);
    expect([ev.outcome, ev.votesRight, ev.votesWrong, ev.slashed, ev.reporterPaid]).to.deep.equal([2, 2n, 0n, 0n, 0n]);
    const toVerifiers = (REPORTER_BOND * 3n) / 10n;
    expect(await Promise.all([9, 4, 5, 6].map(balance))).to.deep.equal([
      before[0]!, // the bond was taken at the open
      before[1]! + REPORTER_BOND - toVerifiers,
      before[2]! + toVerifiers / 2n,
      before[3]! + toVerifiers / 2n,
    ]);
    expect(await stakeOf(a.device.address)).to.equal(STAKE);
    expect(await reporter.reviewQuarantines()).to.deep.equal([{ device: a.device.address, disputeId: id, outcome: "reporter_lost", quarantine: "lifted" }]);
    expect(await reporter.quarantined()).to.deep.equal([]);
  });

  it("CLI: join-pool, dispute and dispute-status; an offline member is replaced and penalised, the two present decide", async () => {
    const d = offline.device.address;
    // D's owner joins with the worker CLI while the reporter opens with the buyer CLI (two processes at once).
    const [joined, opened] = await Promise.all([
      promisify(execFile)(process.execPath, [path.join(ROOT, "worker/cli.ts"), "join-pool", "--config", offline.configFile], {
        cwd: ROOT,
        env: { ...process.env, EDGEPAY_OWNER_KEY: TEST_KEYS[7] },
        timeout: 90_000,
      }),
      cli("dispute", cliCheckId),
    ]);
    expect(joined.stdout).to.match(new RegExp(`^model ${modelId}: ${d} joined the verifier pool \\(tx 0x[0-9a-f]{64}\\)`));
    expect(await verifierBond(d)).to.equal(VERIFIER_BOND);
    expect(opened.code, opened.stderr).to.equal(0);
    const id = /^dispute (0x[0-9a-f]{64}) opened \(bond 5000000 posted by 0x/.exec(opened.stdout)?.[1] as Hex;
    expect(id, opened.stdout).to.not.equal(undefined);

    const stake0 = await stakeOf(rogue.device.address);
    const before = await Promise.all([6, 4, 5, 7, TREASURY].map(balance));
    // C's owner reports: C sits out; A, B and the offline D are drawn.
    expect([...(await draw(id))].sort()).to.deep.equal([honest[0]!.device.address, honest[1]!.device.address, d].sort());
    await waitFor("two commitments", async () => (await readDispute(ctx(), id)).committed === 2);
    await passTime(WINDOW + 1n);
    const replaced = await advanceDispute(ctx(), clientsFor(net, 9).walletClient, id);
    expect(replaced.step).to.equal("replaced");
    let view = await readDispute(ctx(), id);
    expect(view.seats.find((s) => s.verifier === d)?.state).to.equal("replaced");
    expect([view.active, view.committed, view.rounds]).to.deep.equal([2, 2, 1]);
    // The windows restarted with the replacement round: reveals come after the new commit deadline.
    await passTime(WINDOW + 1n);
    await waitFor("two reveals", async () => (await readDispute(ctx(), id)).votesWrong === 2);
    await passTime(WINDOW + 1n);
    const resolved = await advanceDispute(ctx(), clientsFor(net, 9).walletClient, id);
    const slashed = stake0 / 2n;
    const penalty = VERIFIER_BOND / 2n;
    const pot = (slashed * 3n) / 10n + penalty;
    const { resolved: ev, penalised } = await resolvedEvent(resolved.hash!);
    expect(penalised).to.deep.equal([[d, penalty]]);
    expect([ev.outcome, ev.slashed, ev.verifiersPaid]).to.deep.equal([1, slashed, pot]);
    expect(await verifierBond(d)).to.equal(VERIFIER_BOND - penalty);
    expect(await Promise.all([6, 4, 5, 7, TREASURY].map(balance))).to.deep.equal([
      before[0]! + REPORTER_BOND + slashed / 5n,
      before[1]! + pot / 2n,
      before[2]! + pot / 2n,
      before[3]!,
      before[4]! + slashed - slashed / 5n - (slashed * 3n) / 10n,
    ]);
    view = await readDispute(ctx(), id);
    const final = await cli("dispute-status", id);
    expect(final.stdout).to.include(`dispute ${id}: resolved, device_lost`).and.include("votes: 2 wrong, 0 right").and.include(`${d} replaced`);
    expect(view.outcome).to.equal("device_lost");
    const cliBuyer = new Buyer({ publicClient: clientsFor(net, 6).publicClient, paymentChannels: net.deployment.paymentChannels, store: new FileBuyerStore(path.join(cliDir, "store")), disputes: { answerDisputes } });
    expect(await cliBuyer.reviewQuarantines()).to.deep.equal([{ device: rogue.device.address, disputeId: id, outcome: "device_lost", quarantine: "kept" }]);
  });
});
