// Gas of wrong-answer disputes (AnswerDisputes): joining a verifier pool, committing and opening a dispute (small and
// 1,024-element float32 outputs, decoded and compared on-chain), the committee draw, votes, replacement of an absent
// member, and resolution with committees of 3 and 5. Deploys its own marketplace on the chain it is given, as
// scripts/lib/gas-flight-recorder.ts does, so it runs as a section of scripts/gas-report.ts.
import { encodeAbiParameters, keccak256, toBytes, toHex, zeroHash, type Address, type EIP1193Provider, type Hex, type PrivateKeyAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { channelsDomain, deviceBindingTypes, deviceRegistryDomain, receiptTypes } from "../../protocol/eip712.ts";
import { receiptDigest, type Receipt } from "../../protocol/receipt.ts";
import { channelIdOf, type ChannelTerms } from "../../protocol/terms.ts";
import { encodeTensors, hashTensors, type Tensor } from "../../protocol/tensors.ts";
import type { Measure } from "./gas-flight-recorder.ts";
import { gasClients } from "./gas-clients.ts";
import { TEST_KEYS } from "./localnet.ts";

type Generated = typeof import("../../protocol/generated/contracts.ts");

const MIN_STAKE = 10_000_000n;
const FAR = 2n ** 40n;
const WINDOW = 3600n;

const f32 = (values: number[]): Tensor => ({ type: "float32", dims: [1, values.length], data: Float32Array.from(values) });

/**
 * Measures AnswerDisputes on the chain behind `provider`. Hardhat account 9 deploys, owns the accused device and
 * reports it (who reports does not change the gas); six derived owners, funded by it, own one verifier device each.
 */
export async function measureAnswerDisputes(provider: EIP1193Provider, generated: Generated, measure: Measure): Promise<string[]> {
  const { publicClient, wallet: send, mined, deploy } = gasClients(provider);
  const advance = async (seconds: bigint) => {
    await provider.request({ method: "evm_increaseTime", params: [toHex(seconds)] } as never);
    await provider.request({ method: "evm_mine", params: [] } as never);
  };
  const chainId = await publicClient.getChainId();
  const admin = privateKeyToAccount(TEST_KEYS[9]!);
  const derived = (label: string) => privateKeyToAccount(keccak256(toBytes(`edgepay answer disputes gas: ${label}`)));
  const accused = derived("accused device");
  const sessionKey = derived("session key");
  const verifiers = [1, 2, 3, 4, 5, 6].map((i) => ({ owner: derived(`verifier owner ${i}`), device: derived(`verifier ${i}`) }));

  const contract = <A>(address: Address, abi: A) => ({ address, abi }) as const;
  const token = contract(
    await deploy(await send(admin).deployContract({ abi: generated.testUsdcAbi, bytecode: generated.testUsdcBytecode })),
    generated.testUsdcAbi,
  );
  const models = contract(
    await deploy(await send(admin).deployContract({ abi: generated.modelRegistryAbi, bytecode: generated.modelRegistryBytecode })),
    generated.modelRegistryAbi,
  );
  const devices = contract(
    await deploy(
      await send(admin).deployContract({
        abi: generated.deviceRegistryAbi,
        bytecode: generated.deviceRegistryBytecode,
        args: [token.address, MIN_STAKE, 7 * 24 * 3600, models.address, admin.address],
      }),
    ),
    generated.deviceRegistryAbi,
  );
  const channels = contract(
    await deploy(
      await send(admin).deployContract({
        abi: generated.paymentChannelsAbi,
        bytecode: generated.paymentChannelsBytecode,
        args: [devices.address, models.address, 3600],
      }),
    ),
    generated.paymentChannelsAbi,
  );
  const treasury = derived("treasury").address;
  const deployDisputes = async (committeeSize: number) =>
    contract(
      await deploy(
        await send(admin).deployContract({
          abi: generated.answerDisputesAbi,
          bytecode: generated.answerDisputesBytecode,
          args: [
            channels.address,
            devices.address,
            models.address,
            "0x0000000000000000000000000000000000000000",
            {
              treasury,
              committeeSize,
              // Half the stake, so one device can lose the measured disputes one after the other.
              slashBps: 5_000,
              reporterBps: 2_000,
              verifierBps: 3_000,
              penaltyBps: 5_000,
              commitWindow: Number(WINDOW),
              revealWindow: Number(WINDOW),
              reporterBond: 5_000_000n,
              verifierBond: 1_000_000n,
            },
          ],
        }),
      ),
      generated.answerDisputesAbi,
    );
  const disputes3 = await deployDisputes(3);
  const disputes5 = await deployDisputes(5);
  const role = await publicClient.readContract({ ...devices, functionName: "SLASHER_ROLE" });
  for (const d of [disputes3, disputes5]) {
    await mined(await send(admin).writeContract({ ...devices, functionName: "grantRole", args: [role, d.address] }));
  }

  // Market: one model with a relative 1e-4 tolerance; every owner licensed, one device each; the accused offers it.
  const modelHash = keccak256(toBytes("onnx"));
  await mined(
    await send(admin).writeContract({
      ...models,
      functionName: "publish",
      args: [{ name: "m", contentHash: modelHash, uri: "ipfs://m", royaltyBps: 1_000, licenseToken: token.address, licenseFee: 0n }],
    }),
  );
  const modelId = await publicClient.readContract({ ...models, functionName: "modelCount" });
  await mined(await send(admin).writeContract({ ...models, functionName: "setTolerance", args: [modelId, { kind: 2, bound: 100_000n }] }));
  const enrol = async (owner: PrivateKeyAccount, device: PrivateKeyAccount) => {
    await mined(await send(admin).sendTransaction({ to: device.address, value: 10n ** 19n }));
    if (owner !== admin) await mined(await send(admin).sendTransaction({ to: owner.address, value: 10n ** 19n }));
    await mined(await send(owner).writeContract({ ...token, functionName: "faucet", args: [owner.address, 1_000_000_000n] }));
    await mined(await send(owner).writeContract({ ...models, functionName: "takeLicense", args: [modelId, owner.address, 0n] }));
    for (const spender of [devices.address, channels.address, disputes3.address, disputes5.address]) {
      await mined(await send(owner).writeContract({ ...token, functionName: "approve", args: [spender, 2n ** 80n] }));
    }
    const sig = await device.signTypedData({
      domain: deviceRegistryDomain(chainId, devices.address),
      types: deviceBindingTypes,
      primaryType: "DeviceBinding",
      message: { device: device.address, owner: owner.address, deadline: FAR },
    });
    await mined(await send(owner).writeContract({ ...devices, functionName: "register", args: [device.address, "http://edge", "{}", MIN_STAKE * 10n, FAR, sig] }));
  };
  await enrol(admin, accused);
  await mined(await send(admin).writeContract({ ...devices, functionName: "setOffering", args: [accused.address, modelId, token.address, 1_000n] }));
  for (const v of verifiers) await enrol(v.owner, v.device);
  for (const [i, v] of verifiers.entries()) {
    const join = () => send(v.owner).writeContract({ ...disputes5, functionName: "joinPool", args: [modelId, v.device.address] });
    if (i === 0) await measure("AnswerDisputes", "joinPool", "first verifier of a model", join);
    else if (i === 1) await measure("AnswerDisputes", "joinPool", "second verifier", join);
    else await mined(await join());
    if (i < 4) await mined(await send(v.owner).writeContract({ ...disputes3, functionName: "joinPool", args: [modelId, v.device.address] }));
  }

  const terms: ChannelTerms = {
    payer: admin.address,
    signer: sessionKey.address,
    device: accused.address,
    payee: admin.address,
    token: token.address,
    modelId,
    price: 1_000n,
    royaltyBps: 1_000,
    salt: 1n,
  };
  await mined(await send(admin).writeContract({ ...channels, functionName: "open", args: [terms, 5_000_000n] }));
  const channelId = channelIdOf(terms);

  let sequence = 0n;
  const inputs = { x: f32([1, 2, 3, 4]) };
  /** Commits and opens a dispute whose device outputs have `n` float32 elements; measures both when `label` is set. */
  const openOn = async (d: typeof disputes3, n: number, label?: string) => {
    const deviceOut = { y: f32(Array.from({ length: n }, (_, i) => Math.sin(i + 1))) };
    const claimedOut = { y: f32(Array.from({ length: n }, (_, i) => (i === n - 1 ? 2 : Math.sin(i + 1)))) };
    const receipt: Receipt = {
      channelId,
      cumulativeAmount: 1_000n,
      units: 1n,
      sequence: ++sequence,
      modelId,
      modelHash,
      inputHash: hashTensors(inputs),
      outputHash: hashTensors(deviceOut),
      previous: zeroHash,
      timestamp: 1_800_000_000n,
    };
    const signature = await accused.signTypedData({ domain: channelsDomain(chainId, channels.address), types: receiptTypes, primaryType: "Receipt", message: receipt });
    const claimedOutputs = toHex(encodeTensors(claimedOut));
    const digest = receiptDigest(receipt, chainId, channels.address);
    const evidenceHash = keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "bytes32" }], [digest, keccak256(claimedOutputs)]));
    const salt = keccak256(toBytes(`salt ${sequence}`));
    const commitment = keccak256(encodeAbiParameters([{ type: "address" }, { type: "bytes32" }, { type: "bytes32" }], [admin.address, evidenceHash, salt]));
    const commit = () => send(admin).writeContract({ ...d, functionName: "commitEvidence", args: [commitment] });
    const evidence = { receipt, signature, terms, inputs: toHex(encodeTensors(inputs)), outputs: toHex(encodeTensors(deviceOut)), claimedOutputs };
    const open = () => send(admin).writeContract({ ...d, functionName: "openDispute", args: [accused.address, evidence, salt] });
    if (label) {
      if (sequence === 1n) await measure("AnswerDisputes", "commitEvidence", "reporter's commitment", commit);
      else await mined(await commit());
      await measure("AnswerDisputes", "openDispute", label, open);
    } else {
      await mined(await commit());
      await mined(await open());
    }
    return keccak256(encodeAbiParameters([{ type: "address" }, { type: "bytes32" }], [accused.address, digest]));
  };
  const byDevice = new Map(verifiers.map((v) => [v.device.address, v]));
  const seated = async (d: typeof disputes3, id: Hex) =>
    (await publicClient.readContract({ ...d, functionName: "getSeats", args: [id] })).map((s) => ({ ...byDevice.get(s.verifier)!, state: s.state }));
  const voteSalt = keccak256(toBytes("vote"));
  const voteHash = (id: Hex, verifier: Address, right: boolean) =>
    keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "address" }, { type: "bool" }, { type: "bytes32" }], [id, verifier, right, voteSalt]));

  /** A full dispute on `d`: draw, all commit, all reveal "wrong", resolve; measures the calls when `k` is set. */
  const fullDispute = async (d: typeof disputes3, k: number, outputs: number, openLabel?: string) => {
    const id = await openOn(d, outputs, openLabel);
    await provider.request({ method: "evm_mine", params: [] } as never);
    await measure("AnswerDisputes", "drawCommittee", `K = ${k}, pool of ${k === 3 ? 4 : 6}`, () => send(admin).writeContract({ ...d, functionName: "drawCommittee", args: [id] }));
    const members = await seated(d, id);
    for (const [i, m] of members.entries()) {
      const call = () => send(m.device).writeContract({ ...d, functionName: "commitVote", args: [id, voteHash(id, m.device.address, false)] });
      if (i === 0 && k === 3) await measure("AnswerDisputes", "commitVote", "one member", call);
      else await mined(await call());
    }
    await advance(WINDOW + 1n);
    for (const [i, m] of members.entries()) {
      const call = () => send(m.device).writeContract({ ...d, functionName: "revealVote", args: [id, false, voteSalt] });
      if (i === 0 && k === 3) await measure("AnswerDisputes", "revealVote", "one member", call);
      else await mined(await call());
    }
    await advance(WINDOW + 1n);
    await measure("AnswerDisputes", "resolve", `device loses, K = ${k}: 3 slashes, ${k} verifiers paid`, () =>
      send(admin).writeContract({ ...d, functionName: "resolve", args: [id] }),
    );
  };
  await fullDispute(disputes3, 3, 3, "3 float32 outputs, pool of 4");
  await fullDispute(disputes5, 5, 1_024, "1,024 float32 outputs (4 KiB each, compared on-chain)");

  // Replacement: one member of a K = 3 committee stays silent, then its replacement too. The draw's seed is a block
  // hash, which differs between runs (block timestamps are wall-clock), so the measured rows are the ones whose cost
  // does not depend on the draw order: the second round (the whole pool of 4 scanned, nobody left to seat) and the
  // order-free resolution. The first round, which seats the one verifier left, costs about 10k more.
  const id = await openOn(disputes3, 3);
  await provider.request({ method: "evm_mine", params: [] } as never);
  await mined(await send(admin).writeContract({ ...disputes3, functionName: "drawCommittee", args: [id] }));
  const members = await seated(disputes3, id);
  for (const m of members.slice(0, 2)) {
    await mined(await send(m.device).writeContract({ ...disputes3, functionName: "commitVote", args: [id, voteHash(id, m.device.address, true)] }));
  }
  await advance(WINDOW + 1n);
  await mined(await send(admin).writeContract({ ...disputes3, functionName: "replaceAbsent", args: [id] }));
  await advance(WINDOW + 1n);
  await measure("AnswerDisputes", "replaceAbsent", "1 absent of K = 3, pool of 4 scanned, nobody left to seat", () =>
    send(admin).writeContract({ ...disputes3, functionName: "replaceAbsent", args: [id] }),
  );
  await advance(WINDOW + 1n);
  for (const m of members.slice(0, 2)) {
    await mined(await send(m.device).writeContract({ ...disputes3, functionName: "revealVote", args: [id, true, voteSalt] }));
  }
  await advance(WINDOW + 1n);
  await measure("AnswerDisputes", "resolve", "reporter loses, K = 3, 2 replaced members penalised", () =>
    send(admin).writeContract({ ...disputes3, functionName: "resolve", args: [id] }),
  );
  const leaver = verifiers[5]!;
  await measure("AnswerDisputes", "leavePool", "swap-and-pop, bond refunded", () =>
    send(leaver.owner).writeContract({ ...disputes5, functionName: "leavePool", args: [modelId, leaver.device.address] }),
  );
  return [
    "- AnswerDisputes rows: `openDispute` verifies the receipt signature, the channel terms, sha256 of inputs and",
    "  device outputs, and compares the claimed outputs with the device's under the model's tolerance (float32",
    "  decoded on-chain; outputs capped at 8 KiB each); its cost grows with the output size (calldata and the",
    "  comparison). `drawCommittee` reads the whole pool (at most 64). `resolve` pays every majority member.",
  ];
}
