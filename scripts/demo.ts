// `npm run demo`: a small fleet on the local marketplace. Three devices (workers on their own ports, two owners,
// different prices) serve the two demo models (published by two different owners); several buyers send paid
// inferences on real inputs (espeak-ng speech for the voice-activity model, rendered text lines for the OCR
// direction classifier) for DEMO_SECONDS; then settlement (the workers' settlers claim during the run, buyers close
// their channels cooperatively, model owners withdraw royalties) and a table read back from the chain.
//
// Where it runs: the chain named by EDGEPAY_RPC_URL (contracts from EDGEPAY_* addresses or the generated
// deployment EDGEPAY_DEPLOYMENT), else the running `npm start` stack (.edgepay/stack.json), else a chain of its own
// that it starts, deploys to and stops again.
//
// Settings: DEMO_SECONDS (60), DEMO_BUYERS (5), DEMO_DEPOSIT (channel deposit in USDC, 2), DEMO_ETH_USD (3000) and
// DEMO_REFERENCE_GWEI (0.01) to value gas, DEMO_CHAIN_PORT (own chain). Ctrl-C ends the run early and settles;
// a second Ctrl-C aborts.
//
// A rogue: `npm run demo -- --rogue 0.3` (or DEMO_ROGUE=0.3) adds a fourth device serving the VAD model that answers
// wrong on 30 % of calls (scripts/lib/demo-rogue.ts); every buyer then spot-checks at DEMO_SPOT_CHECK (default
// DEFAULT_SPOT_CHECK_RATE) with the honest devices as verifiers, the one that catches it opens a dispute, the honest
// devices vote as the committee, and the report shows from the chain when it was caught, what it earned and lost,
// and what checking cost.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { isAddressEqual, type Address, type Hex, type PublicClient } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { createBuyer, DEFAULT_SPOT_CHECK_RATE, EdgepayClientError, type Buyer } from "../protocol/client/index.ts";
import type { SpotCheckRecord } from "../protocol/client/spot-check-records.ts";
import { initialVadState, ocrClsInput, sileroVadInputs, vadFrames, CLS_LABELS } from "../protocol/client/inputs.ts";
import { answerDisputesAbi, deployments, deviceRegistryAbi, paymentChannelsAbi } from "../protocol/generated/contracts.ts";
import type { Tensor } from "../protocol/tensors.ts";
import type { Contracts } from "../worker/config.ts";
import { freePort, rpc, startChain, type RunningChain } from "./lib/chain.ts";
import { deployLocal, forgetDeployment } from "./lib/deploy.ts";
import { formatReport, readDemoReport, reportJson, usdc } from "./lib/demo-report.ts";
import { answerDisputesOf, decideRogueDispute, disputeChain, ensureTolerance, joinPool, openRogueDispute, startRogue, type Rogue } from "./lib/demo-rogue.ts";
import { formatRogueReport, readRogueReport } from "./lib/demo-rogue-report.ts";
import type { OpenedDispute } from "./lib/immune-dispute.ts";
import { speechSamples, textImages, type SpeechSample, type TextImage } from "./lib/demo-inputs.ts";
import {
  connectMarketplace,
  ensureDemoModels,
  faucet,
  provisionDevice,
  ROLES,
  runWorker,
  sendEth,
  sendTx,
  TEST_KEYS,
  walletOf,
  type ProvisionedDevice,
  type PublishedModel,
} from "./lib/marketplace.ts";
import type { ManagedChild } from "./lib/processes.ts";
import { bold, fmtUsdc, paint, secs, step } from "./lib/progress.ts";
import { readStack, stateDir } from "./lib/stack.ts";

function setting(name: string, fallback: number, min = 0): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) {
    console.error(`npm run demo: ${name}=${raw} is not a number >= ${min}`);
    process.exit(2);
  }
  return n;
}

const SECONDS = setting("DEMO_SECONDS", 60, 1);
const BUYERS = Math.floor(setting("DEMO_BUYERS", 5, 1));
const DEPOSIT = BigInt(Math.round(setting("DEMO_DEPOSIT", 2, 0.01) * 1e6));
const ETH_USD = setting("DEMO_ETH_USD", 3000);
const REFERENCE_GWEI = setting("DEMO_REFERENCE_GWEI", 0.01);
const ROGUE = rogueSetting();
const SPOT_CHECK_RATE = setting("DEMO_SPOT_CHECK", DEFAULT_SPOT_CHECK_RATE);
if (SPOT_CHECK_RATE > 1) {
  console.error(`npm run demo: DEMO_SPOT_CHECK=${SPOT_CHECK_RATE} is not a rate within 0..1`);
  process.exit(2);
}
const DIR = path.join(stateDir(), "demo");
const LOGS = path.join(DIR, "logs");
const started = Date.now();

/** `--rogue <p>` or DEMO_ROGUE=<p>: the share of wrong answers of the extra rogue device (0 < p <= 1), or none. */
function rogueSetting(): number | undefined {
  const i = process.argv.indexOf("--rogue");
  const raw = i >= 0 ? (process.argv[i + 1] ?? "") : process.env.DEMO_ROGUE?.trim() || undefined;
  if (raw === undefined) return undefined;
  const p = Number(raw);
  if (!(p > 0 && p <= 1)) {
    console.error(`npm run demo: --rogue takes the share of wrong answers, a number in (0, 1]; got ${raw === "" ? "nothing" : raw}`);
    process.exit(2);
  }
  return p;
}

// ------------------------------------------------------------------ where to run

interface Target {
  rpcUrl: string;
  contracts: Contracts;
  source: string;
  own?: { chain: RunningChain; deploymentId: string };
}

function envContracts(): Contracts | undefined {
  const e = process.env;
  const id = e.EDGEPAY_DEPLOYMENT?.trim() || "local";
  const d = deployments.find((x) => x.deploymentId === id);
  const pick = (name: string, fallback: string | undefined) => (e[name]?.trim() || fallback) as Address | undefined;
  const c = {
    paymentChannels: pick("EDGEPAY_PAYMENT_CHANNELS", d?.paymentChannels),
    deviceRegistry: pick("EDGEPAY_DEVICE_REGISTRY", d?.deviceRegistry),
    modelRegistry: pick("EDGEPAY_MODEL_REGISTRY", d?.modelRegistry),
    token: pick("EDGEPAY_TOKEN", d?.token),
  };
  if (!(c.paymentChannels && c.deviceRegistry && c.modelRegistry && c.token)) return undefined;
  // The receipt anchors' contract is optional: workers claim without anchoring when it is unknown.
  const flightRecorder = pick("EDGEPAY_FLIGHT_RECORDER", d?.paymentChannels?.toLowerCase() === c.paymentChannels.toLowerCase() ? d?.flightRecorder : undefined);
  return { ...(c as Contracts), ...(flightRecorder ? { flightRecorder } : {}) };
}

async function findTarget(): Promise<Target> {
  const rpcUrl = process.env.EDGEPAY_RPC_URL?.trim();
  if (rpcUrl) {
    const contracts = envContracts();
    if (!contracts) throw new Error(`EDGEPAY_RPC_URL is set but the contract addresses are not: set EDGEPAY_PAYMENT_CHANNELS, EDGEPAY_DEVICE_REGISTRY, EDGEPAY_MODEL_REGISTRY and EDGEPAY_TOKEN, or EDGEPAY_DEPLOYMENT`);
    await rpc(rpcUrl, "eth_chainId").catch(() => {
      throw new Error(`no chain answers at EDGEPAY_RPC_URL=${rpcUrl}`);
    });
    return { rpcUrl, contracts, source: `EDGEPAY_RPC_URL ${rpcUrl}` };
  }
  const stack = readStack();
  if (stack && (await rpc(stack.rpcUrl, "eth_chainId").then(() => true, () => false))) {
    return { rpcUrl: stack.rpcUrl, contracts: stack.contracts, source: `the running npm start stack (${stack.rpcUrl}, ${stack.dashboardUrl ? `dashboard ${stack.dashboardUrl}` : "no dashboard"})` };
  }
  const port = process.env.DEMO_CHAIN_PORT ? Number(process.env.DEMO_CHAIN_PORT) : await freePort();
  const chain = await startChain({ port, detached: true });
  const deploymentId = `demo-${port}`;
  try {
    const d = await deployLocal({ rpcPort: port, deploymentId });
    return {
      rpcUrl: chain.url,
      contracts: { paymentChannels: d.paymentChannels, deviceRegistry: d.deviceRegistry, modelRegistry: d.modelRegistry, token: d.token, flightRecorder: d.flightRecorder },
      source: `its own chain on ${chain.url} (no npm start stack found; it stops when the demo ends)`,
      own: { chain, deploymentId },
    };
  } catch (error) {
    await chain.stop();
    await forgetDeployment(deploymentId);
    throw error;
  }
}

// ------------------------------------------------------------------ the fleet

interface DemoDevice extends ProvisionedDevice {
  label: string;
  worker?: ManagedChild;
}

interface DemoBuyer {
  label: string;
  key: Hex;
  address: Address;
  kind: "vad" | "ocr";
  model: PublishedModel;
  workers: string[];
  client: Buyer;
  /** Answers received per worker URL (client-side, for progress and a cross-check against the chain only). */
  answers: Map<string, number>;
  errors: number;
  lastError?: string;
  /** VAD: frames judged speech / all frames; OCR: directions right / all images. */
  hits: number;
  total: number;
}

let target: Target | undefined;
let fleet: DemoDevice[] = [];
let rogue: Rogue | undefined;
let runUntil = 0;
let settling = false;
let aborting = false;

let lastSignal = 0;
process.on("SIGINT", () => {
  // npm forwards the terminal's SIGINT to us as well: one Ctrl-C can arrive twice within milliseconds.
  if (Date.now() - lastSignal < 1_500) return;
  lastSignal = Date.now();
  if (!settling && runUntil > Date.now()) {
    console.log("\nCtrl-C: ending the run now and settling (Ctrl-C again to abort)");
    runUntil = Date.now();
    settling = true;
    return;
  }
  void abort("aborted");
});
process.on("SIGTERM", () => void abort("SIGTERM"));

async function abort(reason: string, code = 130) {
  if (aborting) return;
  aborting = true;
  console.log(`\n${reason}: stopping the demo's workers${target?.own ? " and chain" : ""}...`);
  await Promise.all([...fleet.map((d) => d.worker?.stop(15_000)), rogue?.worker.stop()]);
  if (target?.own) {
    await target.own.chain.stop();
    await forgetDeployment(target.own.deploymentId);
  }
  process.exit(code);
}

async function main() {
  console.log(
    `${bold("Edgepay demo")}: ${SECONDS} s of paid inference by ${BUYERS} buyers on 3 devices${ROGUE ? ` and a rogue wrong on ${ROGUE * 100} % of its answers` : ""} (files in ${DIR}/)`,
  );
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(LOGS, { recursive: true });

  target = await findTarget();
  step("ok", "chain", `using ${target.source}`);
  const m = await connectMarketplace(target.rpcUrl, target.contracts);

  // Models (reused when the stack already published them) and inputs.
  const models = await ensureDemoModels(m);
  const vad = models.find((x) => x.key === "silero-vad")!;
  const ocr = models.find((x) => x.key === "ppocr-cls")!;
  for (const x of models) step("ok", "models", `#${x.modelId} ${x.name}, owner ${x.owner}, royalty ${x.royaltyBps / 100}%`);
  const speech = speechSamples(path.join(DIR, "inputs"));
  const images = textImages(path.join(DIR, "inputs"), 10);
  step(
    "ok",
    "inputs",
    speech[0]!.source === "espeak-ng"
      ? `${speech.length} spoken sentences from espeak-ng (16 kHz WAV) and ${images.length} rendered text lines (half upside down)`
      : `${speech.length} SYNTHETIC voiced waveforms (espeak-ng is not installed; apt-get install espeak-ng for real speech) and ${images.length} rendered text lines`,
  );

  // Devices: two owners, different prices; every device a separate worker process on its own port.
  const provider = TEST_KEYS[ROLES.provider]!;
  const provider2 = TEST_KEYS[ROLES.provider2]!;
  const plans: { label: string; owner: Hex; offerings: { model: PublishedModel; price: bigint }[] }[] = [
    { label: "edge-a", owner: provider, offerings: [{ model: vad, price: 1_000n }, { model: ocr, price: 2_000n }] },
    { label: "edge-b", owner: provider2, offerings: [{ model: vad, price: 800n }, { model: ocr, price: 2_500n }] },
    { label: "edge-c", owner: provider2, offerings: [{ model: vad, price: 1_200n }] },
  ];
  for (const [i, plan] of plans.entries()) {
    const t = Date.now();
    const device = await provisionDevice(m, {
      ownerKey: plan.owner,
      dataDir: path.join(DIR, "devices", plan.label),
      port: await freePort(),
      offerings: plan.offerings,
      metadata: { name: plan.label },
      // Claims during the run once a channel owes 0.2 USDC or a voucher is 20 s old; one transaction for all due channels.
      settlement: { claimThreshold: "200000", maxAgeSeconds: 20, closeSafetySeconds: 30, minBatch: 1, pollIntervalMs: 500, stuckAfterMs: 30_000 },
    });
    const d: DemoDevice = { ...device, label: plan.label };
    fleet.push(d);
    d.worker = await runWorker(device, { logFile: path.join(LOGS, `${plan.label}.log`) });
    const offers = device.offerings.map((o) => `#${o.modelId} at ${fmtUsdc(o.price)}`).join(", ");
    step("ok", "devices", `${plan.label} ${device.device} (owner #${i === 0 ? ROLES.provider : ROLES.provider2}) on ${device.endpoint}: ${offers} USDC (${secs(t)})`);
  }

  // The rogue: the honest VAD devices form the model's verifier pool (the dispute's committee), the model gets a
  // tolerance if it has none, and the faulty worker starts in this process (faults are programmatic only).
  let disputes: Address | undefined;
  if (ROGUE) {
    const tol = await ensureTolerance(m, vad, TEST_KEYS[ROLES.vadOwner]!);
    step("ok", "rogue", `model #${vad.modelId} tolerance ${tol.kind} ${tol.bound}e-9${tol.changed ? " (set now by its owner: it had none)" : ""}`);
    disputes = await answerDisputesOf(m);
    const honestVad = fleet.filter((d) => d.offerings.some((o) => o.modelId === vad.modelId));
    if (disputes) {
      await joinPool(m, disputes, vad.modelId, honestVad.map((d) => ({ device: d.device, ownerKey: plans[fleet.indexOf(d)]!.owner })));
      step("ok", "rogue", `${honestVad.map((d) => d.label).join(", ")} joined the verifier pool of AnswerDisputes ${disputes}`);
    } else step("fail", "rogue", "this deployment has no AnswerDisputes (DeviceRegistry.stakeGuard): the rogue can be caught, not disputed");
    rogue = await startRogue(m, {
      ownerKey: TEST_KEYS[ROLES.rogueOwner]!,
      dataDir: path.join(DIR, "devices", "edge-rogue"),
      port: await freePort(),
      model: vad,
      price: 700n,
      probability: ROGUE,
      logFile: path.join(LOGS, "edge-rogue.log"),
      settlement: { claimThreshold: "200000", maxAgeSeconds: 20, closeSafetySeconds: 30, minBatch: 1, pollIntervalMs: 500, stuckAfterMs: 30_000 },
    });
    step("ok", "rogue", `edge-rogue ${rogue.device} (owner #${ROLES.rogueOwner}) on ${rogue.endpoint}: #${vad.modelId} at ${fmtUsdc(700n)} USDC (the cheapest), wrong on ${ROGUE * 100} % of answers`);
  }
  let caught: { buyer: Address; block: bigint; checkId: string; label: string } | undefined;
  const catching: Promise<void>[] = [];

  // Buyers: fresh accounts funded with ETH for gas and test USDC; each pays through the buyer client, which opens
  // a channel (session key as voucher signer) on first use and fails over to the next device if one stops answering.
  const buyers: DemoBuyer[] = [];
  const publicClient = m.publicClient;
  for (let i = 0; i < BUYERS; i++) {
    const kind = i % 2 === 0 ? "vad" : "ocr";
    const model = kind === "vad" ? vad : ocr;
    const offering = fleet.filter((d) => d.offerings.some((o) => o.modelId === model.modelId)).map((d) => d.endpoint);
    const ordinal = Math.floor(i / 2) % offering.length;
    const key = generatePrivateKey();
    const address = privateKeyToAccount(key).address;
    const label = `buyer-${i + 1} (${kind === "vad" ? "speech" : "text"})`;
    await sendEth(m, address, "1");
    await faucet(m, TEST_KEYS[ROLES.funder]!, address, 10n * DEPOSIT);
    const client = createBuyer({
      publicClient,
      wallet: walletOf(m, key),
      paymentChannels: m.contracts.paymentChannels,
      autoOpen: { deposit: DEPOSIT },
      retries: 1,
      retryDelayMs: 100,
      // With a rogue in the market every buyer re-checks a share of its calls on another honest device (paid).
      // Verifiers in the buyer's own order, so checks spread over the honest devices as the buyers do.
      ...(ROGUE ? { spotCheck: { rate: SPOT_CHECK_RATE, verifier: { kind: "device" as const, workers: [...offering.slice(ordinal), ...offering.slice(0, ordinal)] } } } : {}),
      onEvent: (event) => {
        if (event.type !== "spot_check" || event.check.outcome !== "failed" || caught || !rogue || event.check.device.toLowerCase() !== rogue.device.toLowerCase()) return;
        const check = event.check;
        catching.push(
          publicClient.getBlockNumber().then((block) => {
            caught ??= { buyer: address, block, checkId: check.id, label };
            step("fail", "rogue", `${label} caught edge-rogue: spot check ${check.id.slice(0, 10)}… failed (${check.reason}) at block ${block}; quarantined`);
          }),
        );
      },
    });
    buyers.push({
      label,
      key,
      address,
      kind,
      model,
      // The rogue is the cheapest VAD device: speech buyers try it first.
      workers: [...(rogue && kind === "vad" ? [rogue.endpoint] : []), ...offering.slice(ordinal), ...offering.slice(0, ordinal)],
      client,
      answers: new Map(),
      errors: 0,
      hits: 0,
      total: 0,
    });
  }
  step("ok", "buyers", `${buyers.length} fresh accounts, each with 1 ETH and ${fmtUsdc(10n * DEPOSIT)} test USDC; channels of ${fmtUsdc(DEPOSIT)} USDC open on first use`);

  // ---------------------------------------------------------------- the run
  const fromBlock = (await publicClient.getBlockNumber({ cacheTime: 0 })) + 1n;
  runUntil = Date.now() + SECONDS * 1000;
  console.log(`\n${bold("Running")} for ${SECONDS} s (Ctrl-C ends early and settles)...`);
  const runStart = Date.now();
  const ticker = setInterval(() => printProgress(buyers, fleet, runStart), Math.min(10_000, Math.max(2_000, (SECONDS * 1000) / 6)));
  await Promise.all(buyers.map((b) => (b.kind === "vad" ? runSpeech(b, speech) : runText(b, images))));
  clearInterval(ticker);
  printProgress(buyers, fleet, runStart);
  settling = true;
  await Promise.all(catching);

  // The buyer that caught the rogue reports it at once (before the channels settle): commit, then open.
  let opened: OpenedDispute | undefined;
  const checks: SpotCheckRecord[] = [];
  for (const b of buyers) checks.push(...(await b.client.spotChecks()));
  if (rogue && caught && disputes) {
    const reporter = buyers.find((b) => b.address === caught!.buyer)!;
    const check = checks.find((c) => c.id === caught!.checkId)!;
    const record = (await reporter.client.store.listChannels()).find((c) => c.channelId === check.channelId);
    const treasury = await publicClient.readContract({ address: disputes, abi: answerDisputesAbi, functionName: "treasury" });
    try {
      opened = await openRogueDispute(m, disputeChain(m, disputes, treasury), reporter.key, check, record!.terms);
      step("ok", "rogue", `${reporter.label} opened dispute ${opened.id.slice(0, 10)}… at block ${opened.openBlock} (bond and evidence: the device-signed receipt, inputs, both outputs)`);
    } catch (error) {
      step("fail", "rogue", `opening the dispute failed: ${(error as Error).message.split("\n")[0]}`);
    }
  }

  // ---------------------------------------------------------------- settlement
  console.log(`\n${bold("Settling")}...`);
  let t = Date.now();
  let closed = 0;
  for (const b of buyers) {
    for (const record of await b.client.store.listChannels()) {
      const state = await publicClient.readContract({ address: m.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [record.channelId] });
      if (state.settled) continue;
      try {
        await b.client.closeCooperatively(record.channelId);
        closed++;
      } catch (error) {
        step("fail", "close", `${b.label} channel ${record.channelId.slice(0, 10)}…: ${(error as Error).message.split("\n")[0]}`);
      }
    }
  }
  step("ok", "buyers", `closed ${closed} channels cooperatively (device-signed final amount, refund in the same transaction) in ${secs(t)}`);
  t = Date.now();
  await Promise.all([...fleet.map((d) => d.worker?.stop(30_000)), rogue?.worker.stop()]);
  step("ok", "devices", `workers stopped; their settlers flushed and claimed anything still unclaimed (${secs(t)})`);
  t = Date.now();
  for (const model of models) {
    const owed = await publicClient.readContract({ address: m.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "royaltiesOf", args: [model.modelId, m.contracts.token] });
    if (owed === 0n) continue;
    const ownerKey = TEST_KEYS.find((k) => isAddressEqual(privateKeyToAccount(k).address, model.owner));
    if (!ownerKey) continue;
    await sendTx(m, ownerKey, `withdraw royalties of model ${model.modelId}`, {
      address: m.contracts.paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "withdrawRoyalties",
      args: [model.modelId, m.contracts.token, model.owner],
    });
    step("ok", "royalties", `owner ${model.owner} withdrew ${usdc(owed)} USDC of model #${model.modelId} (${secs(t)})`);
  }
  // The committee: the honest VAD devices' keys vote (this script re-runs the model for each), then resolve. The
  // vote windows (an hour each) are skipped with evm_increaseTime: a local chain only.
  if (rogue && opened && disputes) {
    t = Date.now();
    const treasury = await publicClient.readContract({ address: disputes, abi: answerDisputesAbi, functionName: "treasury" });
    const committee = fleet.filter((d) => d.offerings.some((o) => o.modelId === vad.modelId)).map((d) => d.dataDir);
    try {
      const { resolution, votes } = await decideRogueDispute(disputeChain(m, disputes, treasury), opened, buyers.find((b) => b.address === caught!.buyer)!.key, vad, committee);
      step("ok", "rogue", `committee voted ${votes.map((v) => (v.deviceRight ? "right" : "wrong")).join(", ")}; resolved at block ${resolution.block}: slashed ${usdc(resolution.slashed)} USDC (${secs(t)})`);
    } catch (error) {
      step("fail", "rogue", `the committee could not decide the dispute here (${(error as Error).message.split("\n")[0]}); it stays open on-chain`);
    }
  }
  // Uncached: viem keeps a block number read seconds ago (the dispute's log scans read one), not the resolve's block.
  const toBlock = await publicClient.getBlockNumber({ cacheTime: 0 });

  // ---------------------------------------------------------------- the table
  const devicesInReport = [...fleet, ...(rogue ? [rogue] : [])];
  const labels = new Map<string, string>([...devicesInReport.map((d) => [d.device.toLowerCase(), d.label] as const), ...buyers.map((b) => [b.address.toLowerCase(), b.label] as const)]);
  const report = await readDemoReport(publicClient as PublicClient, {
    contracts: m.contracts,
    devices: devicesInReport.map((d) => d.device),
    accounts: [...buyers.map((b) => b.address), ...devicesInReport.map((d) => d.device), ...models.map((x) => x.owner)],
    fromBlock,
    toBlock,
    ethUsd: ETH_USD,
    referenceGwei: REFERENCE_GWEI,
  });
  console.log(`\n${bold("Result")}\n`);
  console.log(formatReport(report, labels));
  const rogueReport = rogue
    ? await readRogueReport(publicClient as PublicClient, {
        paymentChannels: m.contracts.paymentChannels,
        deviceRegistry: m.contracts.deviceRegistry,
        ...(disputes ? { answerDisputes: disputes } : {}),
        rogue: { device: rogue.device, owner: rogue.owner, probability: rogue.probability },
        ...(caught ? { caught: { buyer: caught.buyer, block: caught.block, checkId: caught.checkId } } : {}),
        ...(opened ? { disputeId: opened.id } : {}),
        checks,
        fromBlock,
        toBlock,
      })
    : undefined;
  if (rogueReport) console.log(`\n${formatRogueReport(rogueReport)}`);

  // The buyers' own counts, only as a check of the chain's figures: every answer paid, nothing paid without one.
  const clientCounts = new Map<string, number>();
  for (const b of buyers) for (const [url, n] of b.answers) clientCounts.set(url, (clientCounts.get(url) ?? 0) + n);
  // Spot checks are paid calls too: the verifier's answer, one call at its price per check.
  for (const c of checks) {
    if (c.verifier?.kind !== "device" || c.cost === 0n) continue;
    const v = c.verifier;
    const price = fleet.find((d) => d.endpoint === v.endpoint)?.offerings.find((o) => o.modelId === c.modelId)?.price;
    if (price) clientCounts.set(v.endpoint, (clientCounts.get(v.endpoint) ?? 0) + Number(c.cost / price));
  }
  const mismatches = devicesInReport.filter((d) => BigInt(clientCounts.get(d.endpoint) ?? 0) !== report.devices.find((r) => isAddressEqual(r.device, d.device))!.inferences);
  console.log(
    mismatches.length === 0
      ? `\nCheck: the buyers received exactly the units of work the chain says they paid for on every device (${[...clientCounts.values()].reduce((a, n) => a + n, 0)} units: frames and images).`
      : `\n${paint("31", "MISMATCH")}: answers received vs paid on-chain differ for ${mismatches.map((d) => `${d.label} (${clientCounts.get(d.endpoint) ?? 0} received)`).join(", ")}`,
  );
  const quality = buyers.map((b) => `${b.label}: ${b.kind === "vad" ? `${b.hits}/${b.total} frames speech` : `${b.hits}/${b.total} directions right`}`);
  console.log(`Model outputs (client side): ${quality.join("; ")}.`);
  const errors = buyers.reduce((a, b) => a + b.errors, 0);
  if (errors) console.log(`Buyer-side errors: ${errors} (${buyers.filter((b) => b.lastError).map((b) => `${b.label}: ${b.lastError}`).join("; ")})`);

  const file = path.join(DIR, "report.json");
  writeFileSync(
    file,
    reportJson({
      settings: { seconds: SECONDS, buyers: BUYERS, deposit: DEPOSIT, ethUsd: ETH_USD, referenceGwei: REFERENCE_GWEI, speech: speech[0]!.source },
      rpcUrl: target.rpcUrl,
      contracts: m.contracts,
      fleet: fleet.map((d) => ({ label: d.label, device: d.device, owner: d.owner, endpoint: d.endpoint, offerings: d.offerings })),
      ...(rogue ? { rogue: { label: rogue.label, device: rogue.device, owner: rogue.owner, endpoint: rogue.endpoint, probability: rogue.probability, offerings: rogue.offerings }, spotCheckRate: SPOT_CHECK_RATE, rogueReport } : {}),
      buyers: buyers.map((b) => ({ label: b.label, address: b.address, kind: b.kind, modelId: b.model.modelId, answers: Object.fromEntries(b.answers), errors: b.errors })),
      clientAnswers: Object.fromEntries(clientCounts),
      report,
    }) + "\n",
  );
  console.log(`\nreport: ${file}   (done in ${secs(started)})`);

  if (target.own) {
    await target.own.chain.stop();
    await forgetDeployment(target.own.deploymentId);
  } else {
    // The chain lives on (npm start's dashboard shows it): pause the demo's devices, whose workers are gone.
    for (const [i, d] of fleet.entries()) {
      await sendTx(m, plans[i]!.owner, `pause ${d.label}`, { address: m.contracts.deviceRegistry, abi: deviceRegistryAbi, functionName: "pause", args: [d.device] });
    }
    step("ok", "devices", `paused on-chain (their workers are stopped), so the dashboard's market no longer offers them`);
  }
  if (rogue && !target.own) {
    const d = await publicClient.readContract({ address: m.contracts.deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [rogue.device] });
    if (d.status === 1) await sendTx(m, TEST_KEYS[ROLES.rogueOwner]!, "pause edge-rogue", { address: m.contracts.deviceRegistry, abi: deviceRegistryAbi, functionName: "pause", args: [rogue.device] });
  }
  const healthy = report.anomalies.length === 0 && mismatches.length === 0 && report.totals.inferences > 0n;
  process.exit(healthy ? 0 : 1);
}

function printProgress(buyers: DemoBuyer[], devices: DemoDevice[], since: number) {
  const per = devices.map((d) => `${d.label} ${buyers.reduce((a, b) => a + (b.answers.get(d.endpoint) ?? 0), 0)}`).join(", ");
  const total = buyers.reduce((a, b) => a + [...b.answers.values()].reduce((x, y) => x + y, 0), 0);
  const errors = buyers.reduce((a, b) => a + b.errors, 0);
  step("run", `${((Date.now() - since) / 1000).toFixed(0)} s`, `${total} paid answers (${per})${errors ? `, ${errors} errors` : ""}`);
}

async function paidCall(b: DemoBuyer, inputs: Record<string, Tensor>): Promise<Record<string, Tensor> | undefined> {
  try {
    const r = await b.client.infer(b.model.modelId, inputs, { workers: b.workers });
    // Metered pricing: count the units of work paid (a VAD frame, an OCR image), what the chain's claims add up to.
    b.answers.set(r.endpoint, (b.answers.get(r.endpoint) ?? 0) + Number(r.units));
    // Stick with the device that answered; the others stay behind it for failover.
    if (b.workers[0] !== r.endpoint) b.workers = [r.endpoint, ...b.workers.filter((w) => w !== r.endpoint)];
    return r.outputs;
  } catch (error) {
    if (error instanceof EdgepayClientError && error.code === "spot_check_failed") {
      // Paid and received, but wrong: count the units the device was paid for; the answer is not used.
      const failed = (await b.client.spotChecks()).filter((c) => c.outcome === "failed").at(-1);
      const units = failed?.evidence?.receipt.units ?? 0n;
      if (failed) b.answers.set(failed.endpoint, (b.answers.get(failed.endpoint) ?? 0) + Number(units));
      return undefined;
    }
    b.errors++;
    b.lastError = (error as Error).message.split("\n")[0];
    if (b.errors > 50) {
      runUntil = 0;
      throw new Error(`${b.label}: too many errors, last: ${b.lastError}`);
    }
    return undefined;
  }
}

/** Streams the spoken sentences frame by frame, carrying the VAD's recurrent state from answer to answer. */
async function runSpeech(b: DemoBuyer, speech: SpeechSample[]) {
  for (let s = 0; Date.now() < runUntil; s = (s + 1) % speech.length) {
    let state = initialVadState();
    for (const frame of vadFrames({ sampleRate: 16_000, channels: 1, samples: speech[s]!.samples })) {
      if (Date.now() >= runUntil) return;
      const out = await paidCall(b, sileroVadInputs(frame, state));
      if (!out) continue;
      state = out.stateN ?? state;
      b.total++;
      if (((out.output?.data as Float32Array | undefined)?.[0] ?? 0) > 0.5) b.hits++;
    }
  }
}

/**
 * Sends the rendered text lines two per request (a batch of 2 images: metered pricing charges 2 x the price per
 * image) and checks the classifier's direction against how each was drawn.
 */
async function runText(b: DemoBuyer, images: TextImage[]) {
  for (let i = 0; Date.now() < runUntil; i = (i + 2) % images.length) {
    const pair = [images[i]!, images[(i + 1) % images.length]!];
    const one = pair.map((img) => ocrClsInput(img.pixels).x!);
    const data = new Float32Array(one.reduce((n, t) => n + t.data.length, 0));
    one.reduce((o, t) => (data.set(t.data as Float32Array, o), o + t.data.length), 0);
    const out = await paidCall(b, { x: { type: "float32", dims: [pair.length, ...one[0]!.dims.slice(1)], data } });
    if (!out) continue;
    const probs = Object.values(out)[0]!.data as Float32Array;
    pair.forEach((img, k) => {
      const label = probs[2 * k + 1]! > probs[2 * k]! ? CLS_LABELS[1] : CLS_LABELS[0];
      b.total++;
      if ((label === CLS_LABELS[1]) === img.flipped) b.hits++;
    });
  }
}

main().catch(async (error: unknown) => {
  console.error(`\n${paint("31", "npm run demo:")} ${(error as Error).message}`);
  await abort("failed", 1);
});
