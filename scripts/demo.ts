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
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { isAddressEqual, type Address, type Hex, type PublicClient } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { createBuyer, type Buyer } from "../protocol/client/index.ts";
import { initialVadState, ocrClsInput, sileroVadInputs, vadFrames, CLS_LABELS } from "../protocol/client/inputs.ts";
import { deployments, deviceRegistryAbi, paymentChannelsAbi } from "../protocol/generated/contracts.ts";
import type { Tensor } from "../protocol/tensors.ts";
import type { Contracts } from "../worker/config.ts";
import { freePort, rpc, startChain, type RunningChain } from "./lib/chain.ts";
import { deployLocal, forgetDeployment } from "./lib/deploy.ts";
import { formatReport, readDemoReport, reportJson, usdc } from "./lib/demo-report.ts";
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
const DIR = path.join(stateDir(), "demo");
const LOGS = path.join(DIR, "logs");
const started = Date.now();

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
  await Promise.all(fleet.map((d) => d.worker?.stop(15_000)));
  if (target?.own) {
    await target.own.chain.stop();
    await forgetDeployment(target.own.deploymentId);
  }
  process.exit(code);
}

async function main() {
  console.log(`${bold("Edgepay demo")}: ${SECONDS} s of paid inference by ${BUYERS} buyers on 3 devices (files in ${DIR}/)`);
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
    await sendEth(m, address, "1");
    await faucet(m, TEST_KEYS[ROLES.funder]!, address, 10n * DEPOSIT);
    const client = createBuyer({
      publicClient,
      wallet: walletOf(m, key),
      paymentChannels: m.contracts.paymentChannels,
      autoOpen: { deposit: DEPOSIT },
      retries: 1,
      retryDelayMs: 100,
    });
    buyers.push({
      label: `buyer-${i + 1} (${kind === "vad" ? "speech" : "text"})`,
      key,
      address,
      kind,
      model,
      workers: [...offering.slice(ordinal), ...offering.slice(0, ordinal)],
      client,
      answers: new Map(),
      errors: 0,
      hits: 0,
      total: 0,
    });
  }
  step("ok", "buyers", `${buyers.length} fresh accounts, each with 1 ETH and ${fmtUsdc(10n * DEPOSIT)} test USDC; channels of ${fmtUsdc(DEPOSIT)} USDC open on first use`);

  // ---------------------------------------------------------------- the run
  const fromBlock = (await publicClient.getBlockNumber()) + 1n;
  runUntil = Date.now() + SECONDS * 1000;
  console.log(`\n${bold("Running")} for ${SECONDS} s (Ctrl-C ends early and settles)...`);
  const runStart = Date.now();
  const ticker = setInterval(() => printProgress(buyers, fleet, runStart), Math.min(10_000, Math.max(2_000, (SECONDS * 1000) / 6)));
  await Promise.all(buyers.map((b) => (b.kind === "vad" ? runSpeech(b, speech) : runText(b, images))));
  clearInterval(ticker);
  printProgress(buyers, fleet, runStart);
  settling = true;

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
  await Promise.all(fleet.map((d) => d.worker?.stop(30_000)));
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
  const toBlock = await publicClient.getBlockNumber();

  // ---------------------------------------------------------------- the table
  const labels = new Map<string, string>([...fleet.map((d) => [d.device.toLowerCase(), d.label] as const), ...buyers.map((b) => [b.address.toLowerCase(), b.label] as const)]);
  const report = await readDemoReport(publicClient as PublicClient, {
    contracts: m.contracts,
    devices: fleet.map((d) => d.device),
    accounts: [...buyers.map((b) => b.address), ...fleet.map((d) => d.device), ...models.map((x) => x.owner)],
    fromBlock,
    toBlock,
    ethUsd: ETH_USD,
    referenceGwei: REFERENCE_GWEI,
  });
  console.log(`\n${bold("Result")}\n`);
  console.log(formatReport(report, labels));

  // The buyers' own counts, only as a check of the chain's figures: every answer paid, nothing paid without one.
  const clientCounts = new Map<string, number>();
  for (const b of buyers) for (const [url, n] of b.answers) clientCounts.set(url, (clientCounts.get(url) ?? 0) + n);
  const mismatches = fleet.filter((d) => BigInt(clientCounts.get(d.endpoint) ?? 0) !== report.devices.find((r) => isAddressEqual(r.device, d.device))!.inferences);
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
