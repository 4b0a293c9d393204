// The buyer's receipt check: a genuine receipt passes, and every kind of tampering is rejected with its own reason.
import { expect } from "chai";
import { keccak256, toHex, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { channelsDomain, receiptTypes } from "../../protocol/eip712.ts";
import type { Receipt, SignedReceipt } from "../../protocol/receipt.ts";
import { hashTensors, type Tensor } from "../../protocol/tensors.ts";
import { RECEIPT_REJECT_REASONS, verifyReceipt, type ExpectedReceipt } from "../../protocol/client/verify.ts";
import { MemoryBuyerStore, channelRecordFromJson, channelRecordToJson, receiptRecordFromJson, receiptRecordToJson } from "../../protocol/client/store.ts";

const chainId = 31337;
const paymentChannels = "0x5FbDB2315678afecb367f032d93F642f64180aa3" as Address;
const device = privateKeyToAccount(generatePrivateKey());
const other = privateKeyToAccount(generatePrivateKey());

const inputs: Record<string, Tensor> = {
  input: { type: "float32", dims: [1, 4], data: Float32Array.of(0.1, -0.2, 0.3, 0.4) },
  sr: { type: "int64", dims: [], data: BigInt64Array.of(16000n) },
};
const outputs: Record<string, Tensor> = { output: { type: "float32", dims: [1, 1], data: Float32Array.of(0.87) } };

const base: Receipt = {
  channelId: keccak256(toHex("channel")),
  cumulativeAmount: 3_000n,
  units: 3n,
  sequence: 7n,
  modelId: 1n,
  modelHash: keccak256(toHex("model bytes")),
  inputHash: hashTensors(inputs),
  outputHash: hashTensors(outputs),
  previous: keccak256(toHex("previous receipt")),
  timestamp: 1_700_000_000n,
};

async function sign(r: Receipt, by = device): Promise<SignedReceipt> {
  const signature = await by.signTypedData({ domain: channelsDomain(chainId, paymentChannels), types: receiptTypes, primaryType: "Receipt", message: r });
  return { ...r, signature };
}

function expected(over: Partial<ExpectedReceipt> = {}): ExpectedReceipt {
  return {
    device: device.address,
    channelId: base.channelId,
    cumulativeAmount: base.cumulativeAmount,
    modelId: base.modelId,
    modelHash: base.modelHash,
    inputHash: hashTensors(inputs),
    outputHash: hashTensors(outputs),
    ...over,
  };
}

const domain = { chainId, paymentChannels };

describe("client: receipt verification", () => {
  it("accepts a receipt signed by the device for exactly what was paid, sent and received", async () => {
    expect(await verifyReceipt(await sign(base), expected(), domain)).to.deep.equal({ valid: true });
    expect(await verifyReceipt(await sign(base), expected({ lastSequence: 6n }), domain)).to.deep.equal({ valid: true });
  });

  const cases: [string, string, (r: SignedReceipt) => Promise<SignedReceipt> | SignedReceipt, Partial<ExpectedReceipt>?][] = [
    ["wrong_signer", "signed by another key", () => sign(base, other)],
    ["wrong_signer", "a field changed after signing", (r) => ({ ...r, timestamp: r.timestamp + 1n })],
    ["malformed_signature", "a signature that recovers nothing", (r) => ({ ...r, signature: `0x${"00".repeat(65)}` as Hex })],
    ["wrong_channel", "another channel", (r) => sign({ ...r, channelId: keccak256(toHex("another channel")) })],
    ["wrong_amount", "another amount", (r) => sign({ ...r, cumulativeAmount: r.cumulativeAmount + 1n })],
    ["wrong_units", "other units of work than paid for", (r) => sign({ ...r, units: r.units + 1n }), { units: 3n }],
    ["wrong_model", "another model id", (r) => sign({ ...r, modelId: 2n })],
    ["wrong_model_hash", "another model file", (r) => sign({ ...r, modelHash: keccak256(toHex("a different model")) })],
    ["wrong_input_hash", "another input", (r) => sign({ ...r, inputHash: hashTensors({ ...inputs, sr: { type: "int64", dims: [], data: BigInt64Array.of(8000n) } }) })],
    ["wrong_output_hash", "another output", (r) => sign({ ...r, outputHash: hashTensors({ output: { type: "float32", dims: [1, 1], data: Float32Array.of(0.11) } }) })],
    ["sequence_not_increasing", "a sequence already seen", (r) => r, { lastSequence: 7n }],
  ];
  for (const [reason, what, tamper, over] of cases) {
    it(`rejects ${what} with ${reason}`, async () => {
      const receipt = await tamper(await sign(base));
      expect(await verifyReceipt(receipt, expected(over), domain)).to.deep.equal({ valid: false, reason });
    });
  }

  it("covers every reason it can return", () => {
    expect(new Set(cases.map((c) => c[0]))).to.deep.equal(new Set(RECEIPT_REJECT_REASONS));
  });

  it("rejects a receipt signed for another chain or contract", async () => {
    const r = await sign(base);
    expect(await verifyReceipt(r, expected(), { chainId: 1, paymentChannels })).to.deep.equal({ valid: false, reason: "wrong_signer" });
    expect(await verifyReceipt(r, expected(), { chainId, paymentChannels: other.address })).to.deep.equal({ valid: false, reason: "wrong_signer" });
  });

  it("output hashes distinguish a changed element, dims or type", () => {
    const h = hashTensors(outputs);
    expect(hashTensors({ output: { type: "float32", dims: [1, 1], data: Float32Array.of(0.8700001) } })).to.not.equal(h);
    expect(hashTensors({ output: { type: "float32", dims: [1], data: Float32Array.of(0.87) } })).to.not.equal(h);
    expect(hashTensors({ out: { type: "float32", dims: [1, 1], data: Float32Array.of(0.87) } })).to.not.equal(h);
  });

  it("store records survive a JSON round trip (file and browser stores persist them so)", async () => {
    const receipt = await sign(base);
    const record = { receipt, device: device.address, endpoint: "http://127.0.0.1:1", price: 1000n, verification: { valid: true as const }, receivedAt: 1 };
    expect(receiptRecordFromJson(JSON.parse(JSON.stringify(receiptRecordToJson(record))))).to.deep.equal(record);
    const channel = {
      channelId: base.channelId,
      chainId,
      paymentChannels,
      terms: { payer: other.address, signer: other.address, device: device.address, payee: other.address, token: other.address, modelId: 1n, price: 1000n, royaltyBps: 500, salt: 2n ** 255n },
      signerKey: generatePrivateKey(),
      paid: 5000n,
      signed: 6000n,
      deposit: 10n ** 24n,
      closing: false,
      endpoint: "http://127.0.0.1:1",
      openedAt: 5,
    };
    expect(channelRecordFromJson(JSON.parse(JSON.stringify(channelRecordToJson(channel))))).to.deep.equal(channel);
    // A request in doubt (paid, answer lost) survives too, with its exact voucher and inputs for recovery.
    const inDoubt = {
      ...channel,
      inDoubt: { amount: 6000n, units: 1, cost: 1000n, modelId: 1n, voucher: "0xab:6000:0xcd", mac: "ef", inputs: { sr: { type: "int64" as const, dims: [], data: ["16000"] } }, endpoint: "http://127.0.0.1:1", at: 9 },
    };
    expect(channelRecordFromJson(JSON.parse(JSON.stringify(channelRecordToJson(inDoubt))))).to.deep.equal(inDoubt);
    const store = new MemoryBuyerStore();
    await store.putChannel(channel);
    const copy = (await store.getChannel(base.channelId.toUpperCase().replace("0X", "0x") as Hex))!;
    copy.paid = 0n;
    expect((await store.getChannel(base.channelId))!.paid).to.equal(5000n);
  });
});
