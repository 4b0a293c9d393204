// Test vectors of docs/protocol.md: every value a client must produce or check, computed here from the protocol's
// reference code, with the byte layouts built by hand next to it (so the doc's bytes are checked twice). The doc
// embeds the JSON this prints (`node test/helpers/protocol-vectors.ts`); test/integration/protocol-vectors.test.ts
// holds the doc and this code equal.
import { sha256 as nobleSha256 } from "@noble/hashes/sha2";
import { bytesToHex, concat, encodeAbiParameters, hexToBytes, keccak256, toBytes, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { HARDHAT_DEV_KEYS } from "../../protocol/dev-keys.ts";
import { receiptTypes } from "../../protocol/eip712.ts";
import { receiptDigest, type Receipt } from "../../protocol/receipt.ts";
import { bodyHash, inferPath, publicKeyOf, requestMac, requestMacMessage, sessionKey } from "../../protocol/session.ts";
import { hashTensors, type Tensor } from "../../protocol/tensors.ts";
import { channelIdOf, type ChannelTerms } from "../../protocol/terms.ts";
import { costOf, countUnits, DEMO_UNIT_RULES } from "../../protocol/units.ts";
import { channelsDomainSeparator, encodeVoucherHeader, signVoucher, voucherDigest } from "../../protocol/voucher.ts";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { DEMO_MODELS } from "../../worker/models/demo.ts";
import { ROOT } from "../../scripts/lib/paths.ts";

export const CHAIN_ID = 31337;
export const PAYMENT_CHANNELS = "0x5FbDB2315678afecb367f032d93F642f64180aa3" as const;
/** Hardhat dev keys: #3 signs vouchers (a channel's session key), #9 is the device key. Worthless anywhere else. */
export const SIGNER_KEY = HARDHAT_DEV_KEYS[3];
export const DEVICE_KEY = HARDHAT_DEV_KEYS[9];

/** The worked example of the canonical tensor hash: two tensors, given out of name order. */
export function workedTensors(): Record<string, Tensor> {
  return {
    sr: { type: "int64", dims: [], data: BigInt64Array.of(16000n) },
    input: { type: "float32", dims: [1, 4], data: Float32Array.of(0.5, -0.25, -0, 1) },
  };
}

const TYPE_CODES = { float32: 1, float64: 2, int64: 3, int32: 4, int16: 5, int8: 6, uint8: 7, bool: 8 } as const;

/** The canonical encoding, built by hand from the doc's description (big-endian header fields, LE element bytes). */
export function canonicalBytes(tensors: Record<string, Tensor>): Uint8Array {
  const parts: Uint8Array[] = [new TextEncoder().encode("edgepay.tensors.v1")];
  const be = (bytes: number, v: bigint) => {
    const out = new Uint8Array(bytes);
    for (let i = bytes - 1; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
    return out;
  };
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name]!;
    const n = new TextEncoder().encode(name);
    let data = t.data;
    if (data instanceof Float32Array || data instanceof Float64Array) data = data.map((v) => (v === 0 ? 0 : v));
    const elems = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    parts.push(be(4, BigInt(n.length)), n, be(1, BigInt(TYPE_CODES[t.type])), be(4, BigInt(t.dims.length)), ...t.dims.map((d) => be(8, BigInt(d))), be(8, BigInt(elems.length)), elems);
  }
  return hexToBytes(concat(parts.map((p) => bytesToHex(p))));
}

export async function computeVectors() {
  const signer = privateKeyToAccount(SIGNER_KEY);
  const device = privateKeyToAccount(DEVICE_KEY);

  // Tensor hash.
  const tensors = workedTensors();
  const bytes = canonicalBytes(tensors);
  const tensorHash = {
    tensors: {
      input: { type: "float32", dims: [1, 4], data: [0.5, -0.25, 0, 1], note: "the third element is -0 in memory; hashed as +0" },
      sr: { type: "int64", dims: [], data: ["16000"] },
    },
    canonicalBytes: bytesToHex(bytes),
    sha256: bytesToHex(nobleSha256(bytes)),
    hashTensors: hashTensors(tensors),
  };

  // Channel terms and id.
  const terms: ChannelTerms = {
    payer: privateKeyToAccount(HARDHAT_DEV_KEYS[5]).address,
    signer: signer.address,
    device: device.address,
    payee: privateKeyToAccount(HARDHAT_DEV_KEYS[2]).address,
    token: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
    modelId: 1n,
    price: 1_000n,
    royaltyBps: 1_000,
    salt: 42n,
  };
  const channelId = channelIdOf(terms);

  // Units and cost: Silero VAD, a batch of 3 frames, after 5 frames were paid.
  const rule = DEMO_UNIT_RULES["silero-vad"];
  const dims = { input: [3, 512], state: [2, 3, 128], sr: [] };
  const units = countUnits(rule, dims);
  const lastAccepted = 5_000n;
  const cost = costOf(terms.price, units);
  const required = lastAccepted + cost;

  // Voucher for `required`.
  const separator = bytesToHex(channelsDomainSeparator(CHAIN_ID, PAYMENT_CHANNELS));
  const voucherTypeHash = keccak256(toBytes("Voucher(bytes32 channelId,uint256 cumulativeAmount)"));
  const voucherStruct = keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "bytes32" }, { type: "uint256" }], [voucherTypeHash, channelId, required]));
  const voucherManual = keccak256(concat(["0x1901", separator, voucherStruct]));
  const voucher = await signVoucher(signer, { chainId: CHAIN_ID, paymentChannels: PAYMENT_CHANNELS, channelId, cumulativeAmount: required });
  const header = encodeVoucherHeader(voucher);

  // Request MAC: binds the voucher to chain, contract, channel, amount, model, method, route and the body bytes.
  const devicePublicKey = publicKeyOf(DEVICE_KEY);
  const key = sessionKey(SIGNER_KEY, devicePublicKey, channelId);
  const body = JSON.stringify({ inputs: { sr: { type: "int64", dims: [], data: ["16000"] } } });
  const macRequest = {
    chainId: CHAIN_ID,
    paymentChannels: PAYMENT_CHANNELS,
    channelId,
    cumulativeAmount: required,
    signature: voucher.signature,
    modelId: 1n,
    method: "POST",
    path: inferPath(1n),
    bodyHash: bodyHash(body),
  };
  const macMessage = requestMacMessage(macRequest);
  const mac = requestMac(key, macRequest);

  // Receipt of that answer.
  const receipt: Receipt = {
    channelId,
    cumulativeAmount: required,
    units: BigInt(units),
    sequence: 6n,
    modelId: 1n,
    modelHash: "0xa1a7e3d6c41a1ddf5e0b4b0bb8cf1bb1dfcba3d9c4b4bb5e3e0ae3a0c2e0d1f4",
    inputHash: tensorHash.hashTensors,
    outputHash: keccak256(toBytes("example output hash")),
    previous: keccak256(toBytes("example previous receipt")),
    timestamp: 1_800_000_000n,
  };
  const receiptType = `Receipt(${receiptTypes.Receipt.map((f) => `${f.type} ${f.name}`).join(",")})`;
  const receiptTypeHash = keccak256(toBytes(receiptType));
  // EIP-712 encodeData: the type hash, then each field as one 32-byte word (uintN as uint256, bytes32 as is).
  const receiptStruct = keccak256(
    encodeAbiParameters(
      [{ type: "bytes32" }, ...receiptTypes.Receipt.map((f) => ({ type: f.type === "bytes32" ? "bytes32" : "uint256" }))] as never,
      [receiptTypeHash, ...receiptTypes.Receipt.map((f) => receipt[f.name as keyof Receipt])] as never,
    ),
  );
  const receiptManual = keccak256(concat(["0x1901", separator, receiptStruct]));
  const receiptSignature = await device.signTypedData({
    domain: { name: "Edgepay PaymentChannels", version: "1", chainId: CHAIN_ID, verifyingContract: PAYMENT_CHANNELS },
    types: receiptTypes,
    primaryType: "Receipt",
    message: receipt,
  });

  const models = Object.fromEntries(
    Object.entries(DEMO_MODELS).map(([k, m]) => [
      k,
      { file: path.relative(ROOT, m.file), sha256: `0x${createHash("sha256").update(readFileSync(m.file)).digest("hex")}`, unit: m.units.name, maxUnits: m.units.maxUnits },
    ]),
  );

  return {
    models,
    domain: { name: "Edgepay PaymentChannels", version: "1", chainId: CHAIN_ID, verifyingContract: PAYMENT_CHANNELS, separator },
    keys: { signer: SIGNER_KEY, signerAddress: signer.address, device: DEVICE_KEY, deviceAddress: device.address, devicePublicKey },
    tensorHash,
    channel: { terms: { ...terms, modelId: "1", price: "1000", salt: "42" }, channelId },
    units: { rule, dims, units, price: "1000", lastAccepted: lastAccepted.toString(), cost: cost.toString(), required: required.toString() },
    voucher: {
      typeHash: voucherTypeHash,
      structHash: voucherStruct,
      digest: voucherDigest(CHAIN_ID, PAYMENT_CHANNELS, channelId, required),
      digestByHand: voucherManual,
      signature: voucher.signature,
      header,
    },
    session: { sessionKey: bytesToHex(key), body, bodyHash: macRequest.bodyHash, message: macMessage, mac },
    receipt: {
      type: receiptType,
      typeHash: receiptTypeHash,
      fields: Object.fromEntries(Object.entries(receipt).map(([k, v]) => [k, typeof v === "bigint" ? v.toString() : v])),
      structHash: receiptStruct,
      digest: receiptDigest(receipt, CHAIN_ID, PAYMENT_CHANNELS),
      digestByHand: receiptManual,
      signature: receiptSignature,
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await computeVectors(), null, 2));
}
