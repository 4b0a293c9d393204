// Gas of the flight recorder: anchoring (per anchored receipt), claimAndAnchor against claimMany of the same
// claims, and the dispute calls. Deploys its own marketplace on the chain it is given, so it can run as a section
// of scripts/gas-report.ts (pass its `measure`) or alone: `npx node scripts/lib/gas-flight-recorder.ts`.
import { fileURLToPath } from "node:url";
import { gasClients } from "./gas-clients.ts";
import {
  createPublicClient,
  custom,
  keccak256,
  toBytes,
  zeroHash,
  type Address,
  type EIP1193Provider,
  type Hex,
  type PrivateKeyAccount,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { hardhat } from "viem/chains";
import { anchorBatch } from "../../protocol/audit.ts";
import { channelsDomain, deviceBindingTypes, deviceRegistryDomain, receiptTypes, voucherTypes } from "../../protocol/eip712.ts";
import { getProof } from "../../protocol/merkle.ts";
import { receiptDigest, type Receipt } from "../../protocol/receipt.ts";
import { channelIdOf, type ChannelTerms } from "../../protocol/terms.ts";
import { TEST_KEYS } from "./localnet.ts";

/** The generated ABIs and bytecode this section deploys (protocol/generated/contracts.ts). */
type Generated = typeof import("../../protocol/generated/contracts.ts");

/** Same shape as scripts/gas-report.ts' `measure`: sends one transaction and records its receipt gasUsed. */
export type Measure = (contract: string, fn: string, scenario: string, send: () => Promise<Hex>, batchSize?: number) => Promise<number>;

export interface FlightRecorderGas {
  /** Anchor of 100 receipts, steady state, divided by 100. */
  anchorPerReceiptAt100: number;
  /** claimAndAnchor minus claimMany of the same claims (100 receipts anchored), per claim-batch size. */
  claimAndAnchorOverhead: { channels: number; claimMany: number; claimAndAnchor: number; overhead: number }[];
  /** Markdown lines explaining the rows, for the report's notes. */
  notes: string[];
}

const SEQ_START = 1n;
const PRICE = 1_000n;
const MIN_STAKE = 10_000_000n;
const FAR = 2n ** 40n;

/**
 * Measures the flight recorder's calls on the chain behind `provider` (Hardhat's in-process EVM). Hardhat account 8
 * pays for everything; accounts 0-7 are left to the caller.
 */
export async function measureFlightRecorder(provider: EIP1193Provider, generated: Generated, measure: Measure): Promise<FlightRecorderGas> {
  const { publicClient, wallet, mined, deploy } = gasClients(provider);
  const chainId = await publicClient.getChainId();

  // One funded Hardhat account plays deployer, provider, payer and reporter (who sends does not change the gas of
  // these calls); the device keys that send their own anchors get ether from it.
  const admin = privateKeyToAccount(TEST_KEYS[8]!);
  const derived = (label: string) => privateKeyToAccount(keccak256(toBytes(`edgepay flight recorder gas: ${label}`)));
  const deviceA = derived("device A");
  const deviceB = derived("device B");
  const deviceC = derived("device C");
  const sessionKey = derived("session key");
  const owner = admin;
  for (const device of [deviceA, deviceB]) {
    await mined(await wallet(admin).sendTransaction({ to: device.address, value: 10n ** 19n }));
  }

  const token = {
    address: await deploy(await wallet(admin).deployContract({ abi: generated.testUsdcAbi, bytecode: generated.testUsdcBytecode })),
    abi: generated.testUsdcAbi,
  } as const;
  const models = {
    address: await deploy(await wallet(admin).deployContract({ abi: generated.modelRegistryAbi, bytecode: generated.modelRegistryBytecode })),
    abi: generated.modelRegistryAbi,
  } as const;
  const devices = {
    address: await deploy(
      await wallet(admin).deployContract({
        abi: generated.deviceRegistryAbi,
        bytecode: generated.deviceRegistryBytecode,
        args: [token.address, MIN_STAKE, 7 * 24 * 3600, models.address, admin.address],
      }),
    ),
    abi: generated.deviceRegistryAbi,
  } as const;
  const channels = {
    address: await deploy(
      await wallet(admin).deployContract({
        abi: generated.paymentChannelsAbi,
        bytecode: generated.paymentChannelsBytecode,
        args: [devices.address, models.address, 3600],
      }),
    ),
    abi: generated.paymentChannelsAbi,
  } as const;
  const treasury = derived("treasury").address;
  const recorder = {
    address: await deploy(
      await wallet(admin).deployContract({
        abi: generated.flightRecorderAbi,
        bytecode: generated.flightRecorderBytecode,
        args: [channels.address, devices.address, treasury, 10_000, 2_000, 24 * 3600, 1_000_000n],
      }),
    ),
    abi: generated.flightRecorderAbi,
  } as const;
  const send = (account: PrivateKeyAccount) => wallet(account);
  const role = await publicClient.readContract({ ...devices, functionName: "SLASHER_ROLE" });
  await mined(await send(admin).writeContract({ ...devices, functionName: "grantRole", args: [role, recorder.address] }));

  // Market: one model (10 % royalty), three devices of one provider, a payer with a standing approval.
  await mined(await send(admin).writeContract({ ...token, functionName: "faucet", args: [admin.address, 10_000_000_000n] }));
  await mined(
    await send(admin).writeContract({
      ...models,
      functionName: "publish",
      args: [{ name: "silero-vad", contentHash: keccak256(toBytes("onnx")), uri: "ipfs://x", royaltyBps: 1_000, licenseToken: token.address, licenseFee: 0n }],
    }),
  );
  const modelId = await publicClient.readContract({ ...models, functionName: "modelCount" });
  await mined(await send(owner).writeContract({ ...models, functionName: "takeLicense", args: [modelId, owner.address, 0n] }));
  await mined(await send(owner).writeContract({ ...token, functionName: "approve", args: [devices.address, 2n ** 80n] }));
  for (const device of [deviceA, deviceB, deviceC]) {
    const sig = await device.signTypedData({
      domain: deviceRegistryDomain(chainId, devices.address),
      types: deviceBindingTypes,
      primaryType: "DeviceBinding",
      message: { device: device.address, owner: owner.address, deadline: FAR },
    });
    await mined(
      await send(owner).writeContract({ ...devices, functionName: "register", args: [device.address, "http://edge", "{}", MIN_STAKE, FAR, sig] }),
    );
  }
  await mined(await send(owner).writeContract({ ...devices, functionName: "setOffering", args: [deviceA.address, modelId, token.address, PRICE] }));
  await mined(await send(admin).writeContract({ ...token, functionName: "approve", args: [channels.address, 2n ** 80n] }));
  await mined(await send(admin).writeContract({ ...token, functionName: "approve", args: [recorder.address, 2n ** 80n] }));

  let salt = 0n;
  const openChannel = async (): Promise<ChannelTerms> => {
    const terms: ChannelTerms = {
      payer: admin.address,
      signer: sessionKey.address,
      device: deviceA.address,
      payee: owner.address,
      token: token.address,
      modelId,
      price: PRICE,
      royaltyBps: 1_000,
      salt: ++salt,
    };
    await mined(await send(admin).writeContract({ ...channels, functionName: "open", args: [terms, 5_000_000n] }));
    return terms;
  };
  const claimOf = async (terms: ChannelTerms, amount: bigint) => ({
    terms,
    cumulativeAmount: amount,
    signature: await sessionKey.signTypedData({
      domain: channelsDomain(chainId, channels.address),
      types: voucherTypes,
      primaryType: "Voucher",
      message: { channelId: channelIdOf(terms), cumulativeAmount: amount },
    }),
  });

  // Receipts: hash-chained per device, as a worker keeps them.
  const logs = new Map<Address, { next: bigint; previous: Hex; receipts: Receipt[] }>();
  const receiptsFor = (device: Address, count: number, channelId: Hex): Receipt[] => {
    const log = logs.get(device) ?? { next: SEQ_START, previous: zeroHash, receipts: [] };
    const out: Receipt[] = [];
    for (let i = 0; i < count; i++) {
      const sequence = log.next++;
      const r: Receipt = {
        channelId,
        cumulativeAmount: sequence * PRICE,
        units: 1n,
        sequence,
        modelId,
        modelHash: keccak256(toBytes("onnx")),
        inputHash: keccak256(toBytes(`input ${sequence}`)),
        outputHash: keccak256(toBytes(`output ${sequence}`)),
        previous: log.previous,
        timestamp: 1_800_000_000n + sequence,
      };
      log.previous = receiptDigest(r, chainId, channels.address);
      out.push(r);
    }
    log.receipts.push(...out);
    logs.set(device, log);
    return out;
  };
  const batchOf = (device: Address, receipts: Receipt[]) =>
    anchorBatch(device, receipts[0]!.sequence, receipts.map((r) => receiptDigest(r, chainId, channels.address)));
  const anchor = (device: PrivateKeyAccount, count: number, channelId: Hex = zeroHash) => {
    const b = batchOf(device.address, receiptsFor(device.address, count, channelId));
    return { batch: b, send: () => send(device).writeContract({ ...recorder, functionName: "anchor", args: [b.root, b.fromSeq, b.toSeq, b.head] }) };
  };
  const sign = (device: PrivateKeyAccount, r: Receipt) =>
    device.signTypedData({ domain: channelsDomain(chainId, channels.address), types: receiptTypes, primaryType: "Receipt", message: r });

  // ---------------------------------------------------------------- anchors
  const first = anchor(deviceA, 100);
  await measure("FlightRecorder", "anchor", "first anchor of a device: 100 receipts", first.send, 100);
  const steady = anchor(deviceA, 100);
  const anchor100 = await measure("FlightRecorder", "anchor", "steady state: 100 receipts", steady.send, 100);
  await measure("FlightRecorder", "anchor", "steady state: 1 receipt", anchor(deviceA, 1).send, 1);
  await measure("FlightRecorder", "anchor", "steady state: 1,000 receipts", anchor(deviceA, 1_000).send, 1_000);

  // ---------------------------------------------------------------- claimAndAnchor vs claimMany
  // Two identical sets of channels, each claimed for the first time: one set by claimMany, the other by
  // claimAndAnchor with a steady-state anchor of 100 receipts. The payee and the model's royalty are already
  // non-zero, so both rows are steady state.
  const warm = await openChannel();
  await mined(await send(deviceA).writeContract({ ...channels, functionName: "claimMany", args: [[await claimOf(warm, 10n * PRICE)]] }));
  const overheads: FlightRecorderGas["claimAndAnchorOverhead"] = [];
  for (const n of [1, 10]) {
    const setA: ChannelTerms[] = [];
    const setB: ChannelTerms[] = [];
    for (let i = 0; i < n; i++) setA.push(await openChannel());
    for (let i = 0; i < n; i++) setB.push(await openChannel());
    const claimsA = await Promise.all(setA.map((t, i) => claimOf(t, BigInt(10 + i) * PRICE)));
    const claimsB = await Promise.all(setB.map((t, i) => claimOf(t, BigInt(10 + i) * PRICE)));
    const label = `${n} channel${n === 1 ? "" : "s"}`;
    const plain = await measure("PaymentChannels", "claimMany", `baseline for claimAndAnchor: ${label}, sent by the device key`, () =>
      send(deviceA).writeContract({ ...channels, functionName: "claimMany", args: [claimsA] }),
    );
    const b = batchOf(deviceA.address, receiptsFor(deviceA.address, 100, channelIdOf(setB[0]!)));
    const combined = await measure("FlightRecorder", "claimAndAnchor", `${label} + anchor of 100 receipts, steady state`, () =>
      send(deviceA).writeContract({ ...recorder, functionName: "claimAndAnchor", args: [claimsB, b.root, b.fromSeq, b.toSeq, b.head] }),
    );
    overheads.push({ channels: n, claimMany: plain, claimAndAnchor: combined, overhead: combined - plain });
  }

  // ---------------------------------------------------------------- disputes
  // Omission answered: receipt 50 of the steady-state anchor (a 100-leaf tree: a 7-hash proof).
  {
    const i = 49;
    const r = logs.get(deviceA.address)!.receipts[100 + i]!;
    const digest = receiptDigest(r, chainId, channels.address);
    await measure("FlightRecorder", "challengeOmission", "receipt in a 100-receipt anchor, 1-token bond pulled", async () =>
      send(admin).writeContract({
        ...recorder,
        functionName: "challengeOmission",
        args: [deviceA.address, r, await sign(deviceA, r), steady.batch.root, steady.batch.fromSeq, steady.batch.toSeq],
      }),
    );
    await measure("FlightRecorder", "answerOmission", "7-hash proof (100-receipt tree), bond to the device owner", () =>
      send(deviceA).writeContract({ ...recorder, functionName: "answerOmission", args: [deviceA.address, digest, getProof(steady.batch.tree, i)] }),
    );
  }
  // Omission enforced: device B anchored 10 receipts but handed out another receipt 5.
  {
    const b = anchor(deviceB, 10);
    await mined(await b.send());
    const held = { ...logs.get(deviceB.address)!.receipts[4]!, outputHash: keccak256(toBytes("other output")) };
    await mined(
      await send(admin).writeContract({
        ...recorder,
        functionName: "challengeOmission",
        args: [deviceB.address, held, await sign(deviceB, held), b.batch.root, 1n, 10n],
      }),
    );
    await publicClient.request({ method: "evm_increaseTime" as never, params: [24 * 3600 + 1] as never });
    await measure("FlightRecorder", "enforceOmission", "whole stake slashed (reporter + treasury), device removed, bond refunded", () =>
      send(admin).writeContract({
        ...recorder,
        functionName: "enforceOmission",
        args: [deviceB.address, receiptDigest(held, chainId, channels.address)],
      }),
    );
  }
  // Equivocation: device C signed two outputs for one input.
  {
    const [a] = receiptsFor(deviceC.address, 1, zeroHash);
    const b = { ...a!, sequence: 2n, outputHash: keccak256(toBytes("tampered")) };
    const sigA = await sign(deviceC, a!);
    const sigB = await sign(deviceC, b);
    await measure("FlightRecorder", "reportEquivocation", "whole stake slashed (reporter + treasury), device removed", () =>
      send(admin).writeContract({ ...recorder, functionName: "reportEquivocation", args: [deviceC.address, a!, sigA, b, sigB] }),
    );
  }

  const anchorPerReceiptAt100 = Math.round(anchor100 / 100);
  const notes = [
    `- **Flight recorder anchors**: one storage word per anchor (keccak256(root, toSeq) keyed by device and first`,
    `  sequence) plus the device's anchored sequence; the root, range and chain head are in the \`Anchored\` event.`,
    `  A standalone anchor of 100 receipts costs ${anchor100.toLocaleString("en-US")} gas in all (${anchorPerReceiptAt100} per receipt);`,
    `  the cost does not grow with the number of receipts.`,
    ...overheads.map(
      (o) =>
        `- **claimAndAnchor**, ${o.channels} channel${o.channels === 1 ? "" : "s"} + 100 receipts: ${o.claimAndAnchor.toLocaleString("en-US")} against ${o.claimMany.toLocaleString("en-US")} for claimMany of the same claims: anchoring adds ${o.overhead.toLocaleString("en-US")} (${Math.round(o.overhead / 100)} per receipt).`,
    ),
  ];
  return { anchorPerReceiptAt100, claimAndAnchorOverhead: overheads, notes };
}

// Standalone: `npx node scripts/lib/gas-flight-recorder.ts` prints the rows.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const hre = (await import("hardhat")).default;
  await hre.tasks.getTask("build").run({ quiet: true });
  const generated = await import("../../protocol/generated/contracts.ts");
  const connection = await hre.network.create();
  const publicClient = createPublicClient({ chain: hardhat, transport: custom(connection.provider) });
  const rows: string[] = [];
  const measure: Measure = async (contract, fn, scenario, sendTx, batchSize) => {
    const receipt = await publicClient.waitForTransactionReceipt({ hash: await sendTx() });
    if (receipt.status !== "success") throw new Error(`${fn} reverted`);
    const gas = Number(receipt.gasUsed);
    rows.push(`${contract.padEnd(16)} ${fn.padEnd(20)} ${gas.toLocaleString("en-US").padStart(10)}${batchSize ? ` (${Math.round(gas / batchSize)} per item)` : ""}  ${scenario}`);
    return gas;
  };
  const result = await measureFlightRecorder(connection.provider as unknown as EIP1193Provider, generated, measure);
  await connection.close();
  console.log(rows.join("\n"));
  console.log(`\n${result.notes.join("\n")}`);
}
