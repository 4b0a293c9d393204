// Seeds a local chain with a marketplace of a given size for the scale rehearsal (scripts/scale.ts): model owners
// publish models, device owners license them, register devices (each bound by its own key's EIP-712 signature) and
// offer two models per owner, payers open channels to those devices, and relayers claim every channel several
// times with vouchers signed natively. Events are spread over a long chain by padding with empty blocks between
// batches. Everything goes through the real contracts; counts are read back from the chain by the caller.
import { encodeFunctionData, keccak256, maxUint256, toHex, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { deviceRegistryAbi, modelRegistryAbi, paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { deviceBindingTypes, deviceRegistryDomain } from "../../protocol/eip712.ts";
import { channelIdOf, type ChannelTerms } from "../../protocol/terms.ts";
import { createVoucherHasher } from "../../protocol/voucher.ts";
import { digestSigner } from "../../worker/crypto.ts";
import type { BulkRpc, BulkTx } from "./scale-rpc.ts";

export interface ScaleTargets {
  devices: number;
  models: number;
  channels: number;
  claims: number;
  /** Chain length to reach (empty blocks are spread between the seeding batches). */
  blocks: number;
}

/** The issue's rehearsal size, times `factor` (CI runs a small fraction). */
export function scaledTargets(factor: number): ScaleTargets {
  const n = (full: number, min: number) => Math.max(min, Math.round(full * factor));
  return { devices: n(1_000, 10), models: n(200, 2), channels: n(50_000, 20), claims: n(200_000, 40), blocks: n(1_000_000, 1_000) };
}

export interface ScaleContracts {
  chainId: number;
  token: Address;
  modelRegistry: Address;
  deviceRegistry: Address;
  paymentChannels: Address;
}

export interface SeedResult {
  /** The payer with the most channels (the "busy buyer") and the device owner with the most claims ("busy provider"). */
  busyBuyer: Address;
  busyProvider: Address;
  transactions: number;
  gasUsed: bigint;
  seconds: number;
}

const DEVICES_PER_OWNER = 10;
const MODELS_PER_OWNER = 2;
const PRICE = 1_000n;
const ROYALTY_BPS = 500;
const DEPOSIT = 1_000_000n;
const CLAIMS_PER_BATCH = 100;
const TIP_BLOCKS = 64;
/** claimMany transactions per JSON-RPC request: 100 claims are ~70 KB of calldata hex, and the node caps request bodies. */
const CLAIM_TXS_PER_REQUEST = 4;

/** A deterministic address (impersonated on the node: no key needed) for role `role` number `i`. */
function roleAddress(role: string, i: number): Address {
  return `0x${keccak256(toHex(`edgepay-scale:${role}:${i}`)).slice(26)}` as Address;
}

/** A deterministic private key (device keys must sign their binding; the voucher signer signs vouchers). */
function roleKey(role: string, i: number): Hex {
  return keccak256(toHex(`edgepay-scale-key:${role}:${i}`));
}

const tx = (from: Address, to: Address, data: Hex, gas: bigint): BulkTx => ({ from, to, data, gas });

export async function seedMarket(
  rpc: BulkRpc,
  c: ScaleContracts,
  t: ScaleTargets,
  log: (line: string) => void,
): Promise<SeedResult> {
  const started = performance.now();
  let gasUsed = 0n;
  const owners = Math.max(1, Math.ceil(t.devices / DEVICES_PER_OWNER));
  const modelOwners = Array.from({ length: Math.min(20, t.models) }, (_, i) => roleAddress("model-owner", i));
  const deviceOwners = Array.from({ length: owners }, (_, i) => roleAddress("device-owner", i));
  const payerCount = Math.max(2, Math.ceil(t.channels / 100));
  const payers = Array.from({ length: payerCount }, (_, i) => roleAddress("payer", i));
  const relayer = roleAddress("relayer", 0);
  await rpc.impersonate([...modelOwners, ...deviceOwners, ...payers, relayer]);
  await rpc.setAutomine(false);
  const startBlock = await rpc.blockNumber();
  // Phases below pad about this many blocks after each batch, so events spread over the whole chain.
  const chunks = (n: number, size: number) => Math.ceil(n / size);
  const batches =
    chunks(t.models, 400) +
    chunks(owners * (2 + MODELS_PER_OWNER), 400) +
    chunks(t.devices * (1 + MODELS_PER_OWNER), 120) +
    chunks(payers.length * 2, 400) +
    chunks(t.channels, 400) +
    chunks(Math.ceil(t.claims / CLAIMS_PER_BATCH) + Math.ceil(t.claims / t.channels), CLAIM_TXS_PER_REQUEST);
  const padEach = Math.max(0, Math.floor((t.blocks - Number(startBlock)) / batches));
  const step = async (name: string, txs: BulkTx[], batchSize = 400) => {
    const t0 = performance.now();
    for (let i = 0; i < txs.length; i += batchSize) {
      gasUsed += await rpc.send(txs.slice(i, i + batchSize), { batchSize });
      await rpc.padBlocks(padEach);
    }
    log(`${name}: ${txs.length} transactions in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  };

  // Models.
  const models: bigint[] = [];
  const first = (await rpc.call<Hex>("eth_call", [{ to: c.modelRegistry, data: encodeFunctionData({ abi: modelRegistryAbi, functionName: "modelCount" }) }, "latest"])) as Hex;
  const base = BigInt(first);
  await step(
    `publish ${t.models} models`,
    Array.from({ length: t.models }, (_, i) => {
      models.push(base + BigInt(i) + 1n);
      return tx(
        modelOwners[i % modelOwners.length]!,
        c.modelRegistry,
        encodeFunctionData({
          abi: modelRegistryAbi,
          functionName: "publish",
          args: [{ name: `scale model ${i}`, contentHash: keccak256(toHex(`model-${i}`)), uri: `https://models.example/${i}.onnx`, royaltyBps: ROYALTY_BPS, licenseToken: c.token, licenseFee: 0n }],
        }),
        400_000n,
      );
    }),
  );

  // Device owners: tokens, approvals, licenses for their models, then devices and offerings.
  const ownerModels = (j: number) => Array.from({ length: MODELS_PER_OWNER }, (_, k) => models[(j * MODELS_PER_OWNER + k) % models.length]!);
  const setup: BulkTx[] = [];
  for (const [j, owner] of deviceOwners.entries()) {
    setup.push(tx(owner, c.token, encodeFunctionData({ abi: testUsdcAbi, functionName: "faucet", args: [owner, 10_000_000_000n] }), 100_000n));
    setup.push(tx(owner, c.token, encodeFunctionData({ abi: testUsdcAbi, functionName: "approve", args: [c.deviceRegistry, maxUint256] }), 100_000n));
    for (const modelId of ownerModels(j)) {
      setup.push(tx(owner, c.modelRegistry, encodeFunctionData({ abi: modelRegistryAbi, functionName: "takeLicense", args: [modelId, owner, 0n] }), 200_000n));
    }
  }
  await step(`${owners} device owners: tokens, approvals, licenses`, setup);

  const minStake = BigInt(await rpc.call<Hex>("eth_call", [{ to: c.deviceRegistry, data: encodeFunctionData({ abi: deviceRegistryAbi, functionName: "minStake" }) }, "latest"]));
  const deadline = BigInt(Math.floor(Date.now() / 1000) + 30 * 86_400);
  const devices: { address: Address; owner: Address; ownerIndex: number }[] = [];
  const registrations: BulkTx[] = [];
  for (let i = 0; i < t.devices; i++) {
    const ownerIndex = Math.floor(i / DEVICES_PER_OWNER);
    const owner = deviceOwners[ownerIndex]!;
    const key = privateKeyToAccount(roleKey("device", i));
    const binding = await key.signTypedData({
      domain: deviceRegistryDomain(c.chainId, c.deviceRegistry),
      types: deviceBindingTypes,
      primaryType: "DeviceBinding",
      message: { device: key.address, owner, deadline },
    });
    devices.push({ address: key.address, owner, ownerIndex });
    registrations.push(
      tx(owner, c.deviceRegistry, encodeFunctionData({ abi: deviceRegistryAbi, functionName: "register", args: [key.address, `http://device-${i}.example:8080`, "{}", minStake, deadline, binding] }), 400_000n),
    );
    for (const modelId of ownerModels(ownerIndex)) {
      registrations.push(tx(owner, c.deviceRegistry, encodeFunctionData({ abi: deviceRegistryAbi, functionName: "setOffering", args: [key.address, modelId, c.token, PRICE] }), 200_000n));
    }
  }
  await step(`register ${t.devices} devices with ${MODELS_PER_OWNER} offerings each`, registrations, 120);

  // Payers: tokens and approvals, then channels. Payer 0 is the busy buyer (a tenth of all channels, up to 2,000).
  const payerSetup = payers.flatMap((p) => [
    tx(p, c.token, encodeFunctionData({ abi: testUsdcAbi, functionName: "faucet", args: [p, 10_000_000_000n] }), 100_000n),
    tx(p, c.token, encodeFunctionData({ abi: testUsdcAbi, functionName: "approve", args: [c.paymentChannels, maxUint256] }), 100_000n),
  ]);
  await step(`${payers.length} payers: tokens and approvals`, payerSetup);
  const signer = digestSigner(roleKey("voucher-signer", 0));
  const busyShare = Math.min(2_000, Math.floor(t.channels / 10));
  const channels: ChannelTerms[] = [];
  const opens: BulkTx[] = [];
  for (let i = 0; i < t.channels; i++) {
    const payer = i < busyShare ? payers[0]! : payers[1 + ((i - busyShare) % (payers.length - 1))]!;
    // The busy provider (device owner 0) serves a fifth of the channels, the rest spread over every device.
    const device = i % 5 === 0 ? devices[i % Math.min(DEVICES_PER_OWNER, devices.length)]! : devices[i % devices.length]!;
    const modelId = ownerModels(device.ownerIndex)[i % MODELS_PER_OWNER]!;
    const terms: ChannelTerms = { payer, signer: signer.address, device: device.address, payee: device.owner, token: c.token, modelId, price: PRICE, royaltyBps: ROYALTY_BPS, salt: BigInt(i) };
    channels.push(terms);
    opens.push(tx(payer, c.paymentChannels, encodeFunctionData({ abi: paymentChannelsAbi, functionName: "open", args: [terms, DEPOSIT] }), 300_000n));
  }
  await step(`open ${t.channels} channels`, opens);

  // Claims: rounds over all channels, each round one more answer's price per channel, 100 claims per claimMany.
  const hash = createVoucherHasher(c.chainId, c.paymentChannels);
  const rounds = Math.max(1, Math.ceil(t.claims / t.channels));
  const claimTxs: BulkTx[] = [];
  let claimCount = 0;
  for (let round = 1; round <= rounds && claimCount < t.claims; round++) {
    const batch: { terms: ChannelTerms; cumulativeAmount: bigint; signature: Hex }[] = [];
    const flush = () => {
      if (batch.length === 0) return;
      claimTxs.push(tx(relayer, c.paymentChannels, encodeFunctionData({ abi: paymentChannelsAbi, functionName: "claimMany", args: [batch.splice(0)] }), 6_000_000n));
    };
    for (const terms of channels) {
      if (claimCount >= t.claims) break;
      const cumulativeAmount = PRICE * BigInt(round);
      batch.push({ terms, cumulativeAmount, signature: signer.sign(hash(channelIdOf(terms), cumulativeAmount)) });
      claimCount++;
      if (batch.length === CLAIMS_PER_BATCH) flush();
    }
    flush();
  }
  await step(`${claimCount} claims in ${claimTxs.length} claimMany transactions`, claimTxs, CLAIM_TXS_PER_REQUEST);

  const now = await rpc.blockNumber();
  if (now < BigInt(t.blocks)) await rpc.padBlocks(t.blocks - Number(now) - TIP_BLOCKS);
  // hardhat_mine's blocks do not chain their parent hashes; an indexer following the head (Ponder checks parents
  // within its 30-block finality window) would take them for a deep reorg. The tip is mined block by block.
  for (let i = 0; i < TIP_BLOCKS; i++) await rpc.call("evm_mine");
  await rpc.setAutomine(true);
  return {
    busyBuyer: payers[0]!,
    busyProvider: deviceOwners[0]!,
    transactions: rpc.sent,
    gasUsed,
    seconds: (performance.now() - started) / 1000,
  };
}
