// The CLI's file store: channels (with session keys) survive a restart, files are owner-only, receipts append.
import { expect } from "chai";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Address, Hex } from "viem";
import { generatePrivateKey } from "viem/accounts";
import type { ChannelRecord, ReceiptRecord } from "../../protocol/client/store.ts";
import { FileBuyerStore } from "../../protocol/node/file-store.ts";
import type { SpotCheckRecord } from "../../protocol/client/spot-check-records.ts";

const A = "0x00000000000000000000000000000000000000aa" as Address;

function channel(n: number): ChannelRecord {
  return {
    channelId: `0x${n.toString(16).padStart(64, "0")}` as Hex,
    chainId: 31337,
    paymentChannels: A,
    terms: { payer: A, signer: A, device: A, payee: A, token: A, modelId: 1n, price: 1000n, royaltyBps: 100, salt: 2n ** 200n + BigInt(n) },
    signerKey: generatePrivateKey(),
    paid: BigInt(n) * 1000n,
    signed: BigInt(n) * 1000n + 1000n,
    deposit: 10n ** 20n,
    closing: false,
    openedAt: n,
  };
}

describe("client: file-backed buyer store", () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), "edgepay-store-"))));
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it("keeps channels across instances, owner-only, with exact bigints", async () => {
    const a = new FileBuyerStore(dir);
    await a.putChannel(channel(1));
    await Promise.all([a.putChannel(channel(2)), a.putChannel({ ...channel(1), paid: 5000n })]);
    const b = new FileBuyerStore(dir);
    const list = await b.listChannels();
    expect(list).to.have.length(2);
    expect((await b.getChannel(channel(1).channelId))!.paid).to.equal(5000n);
    expect((await b.getChannel(channel(2).channelId))!.terms.salt).to.equal(2n ** 200n + 2n);
    expect((await stat(path.join(dir, "channels.json"))).mode & 0o777).to.equal(0o600);
  });

  it("appends receipts and filters them by channel", async () => {
    const s = new FileBuyerStore(dir);
    const receipt = (c: number, amount: bigint): ReceiptRecord => ({
      receipt: {
        channelId: channel(c).channelId,
        cumulativeAmount: amount,
        units: 1n,
        sequence: amount,
        modelId: 1n,
        modelHash: `0x${"11".repeat(32)}`,
        inputHash: `0x${"22".repeat(32)}`,
        outputHash: `0x${"33".repeat(32)}`,
        previous: `0x${"44".repeat(32)}`,
        timestamp: 1n,
        signature: `0x${"55".repeat(65)}`,
      },
      device: A,
      endpoint: "http://127.0.0.1:1",
      price: 1000n,
      verification: amount === 3n ? { valid: false, reason: "wrong_output_hash" } : { valid: true },
      receivedAt: 1,
    });
    for (const [c, amount] of [[1, 1n], [2, 2n], [1, 3n]] as const) await s.addReceipt(receipt(c, amount));
    expect((await new FileBuyerStore(dir).listReceipts()).map((r) => r.receipt.cumulativeAmount)).to.deep.equal([1n, 2n, 3n]);
    const ofOne = await s.listReceipts({ channelId: channel(1).channelId });
    expect(ofOne.map((r) => r.verification)).to.deep.equal([{ valid: true }, { valid: false, reason: "wrong_output_hash" }]);
    expect((await readFile(path.join(dir, "receipts.jsonl"), "utf8")).trim().split("\n")).to.have.length(3);
  });

  it("keeps spot checks (with a failed one's evidence, bigints exact) and quarantines across instances", async () => {
    const B = "0x00000000000000000000000000000000000000bb" as Address;
    const receipt = {
      channelId: channel(1).channelId,
      cumulativeAmount: 2n ** 100n,
      units: 1n,
      sequence: 7n,
      modelId: 1n,
      modelHash: `0x${"11".repeat(32)}` as Hex,
      inputHash: `0x${"22".repeat(32)}` as Hex,
      outputHash: `0x${"33".repeat(32)}` as Hex,
      previous: `0x${"44".repeat(32)}` as Hex,
      timestamp: 1n,
      signature: `0x${"55".repeat(65)}` as Hex,
    };
    const failed: SpotCheckRecord = {
      id: `${receipt.channelId}:7`,
      device: B,
      endpoint: "http://127.0.0.1:2",
      modelId: 1n,
      channelId: receipt.channelId,
      sequence: 7n,
      cumulativeAmount: 2n ** 100n,
      outcome: "failed",
      reason: "value_out_of_tolerance",
      mismatch: { reason: "value_out_of_tolerance", output: "y", index: 3, expected: "1", actual: "2", difference: 1, allowed: 0.0001 },
      verifier: { kind: "device", device: A, endpoint: "http://127.0.0.1:1", channelId: channel(2).channelId, sequence: 9n },
      tolerance: { kind: "absolute", bound: 100_000n },
      cost: 1000n,
      at: 5,
      evidence: { receipt, inputs: { x: { type: "int64", dims: [1], data: ["9007199254740993"] } }, outputs: { y: { type: "float32", dims: [1], data: [2] } }, reference: { y: { type: "float32", dims: [1], data: [1] } }, verifierReceipt: { ...receipt, sequence: 9n } },
    };
    const passed: SpotCheckRecord = { ...failed, id: "x", device: A, outcome: "passed", reason: undefined, mismatch: undefined, evidence: undefined, verifier: { kind: "local", runner: "onnxruntime-node" }, cost: 0n };
    const s = new FileBuyerStore(dir);
    await s.addSpotCheck(failed);
    await s.addSpotCheck(passed);
    await s.putQuarantine({ device: B, modelId: 1n, checkId: failed.id, channelId: failed.channelId, sequence: 7n, reason: "value_out_of_tolerance", at: 5 });
    const t = new FileBuyerStore(dir);
    const [again] = await t.listSpotChecks({ device: B });
    expect(JSON.parse(JSON.stringify(again, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v)))).to.deep.equal(JSON.parse(JSON.stringify(failed, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v))));
    expect((await t.listSpotChecks()).map((c) => c.outcome)).to.deep.equal(["failed", "passed"]);
    expect((await t.getQuarantine(B))?.sequence).to.equal(7n);
    expect(await t.getQuarantine(A)).to.equal(undefined);
    expect((await stat(path.join(dir, "quarantine.json"))).mode & 0o777).to.equal(0o600);
    await t.deleteQuarantine(B);
    expect(await new FileBuyerStore(dir).listQuarantines()).to.deep.equal([]);
  });

  it("refuses a damaged store with a message naming the file", async () => {
    await writeFile(path.join(dir, "channels.json"), "{ not json");
    const error = await new FileBuyerStore(dir).listChannels().catch((e: Error) => e);
    expect((error as Error).message).to.match(/cannot read the buyer store .*channels\.json/);
  });
});
