// Flight recorder, record side, with a real worker on a real chain: the receipt log refuses UPDATE/DELETE, new
// receipts are anchored inside the settler's claim (claimAndAnchor) and on the interval (plain anchor), anchors are
// recorded in SQLite and re-read from the chain after a restart, and GET /v1/receipts/:seq/proof and
// GET /v1/receipts serve proofs that verify offline and against the on-chain anchor.
import { expect } from "chai";
import { decodeFunctionData, type Hex } from "viem";
import { flightRecorderAbi, paymentChannelsAbi } from "../../protocol/generated/contracts.ts";
import { checkHashChain, checkReceiptProof, receiptProofWire } from "../../protocol/audit.ts";
import { receiptPageWire, hasProof } from "../../protocol/audit-export.ts";
import { RecorderLog } from "../../worker/recorder/log.ts";
import { clientsFor, startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { openChannel, setupMarket, type Market, type TestChannel } from "../../scripts/lib/worker-fixture.ts";
import { anchoredSeq, getJson, isAnchored, paidInfer, waitFor } from "../helpers/recorder.ts";

describe("flight recorder: receipt log and anchors (real worker)", function () {
  this.timeout(240_000);
  let net: Localnet;
  let market: Market;
  let channel: TestChannel;

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    market = await setupMarket(net, {
      config: { settlement: { claimThreshold: "3000", maxAgeSeconds: 3600, closeSafetySeconds: 30, minBatch: 1, pollIntervalMs: 200 }, recorder: { anchorIntervalSeconds: 3600 } },
    });
    channel = await openChannel(market, { buyer: 3, deposit: 1_000_000n });
  });
  after(async () => {
    await market?.stop();
    await net?.stop();
  });

  it("answers 404 receipt_not_anchored before the first anchor, 404 unknown_receipt and 400 for bad sequences", async () => {
    await paidInfer(market, channel, 1000n);
    const url = market.worker!.url;
    const notYet = await getJson(`${url}/v1/receipts/1/proof`);
    expect(notYet.status).to.equal(404);
    expect((notYet.body.error as { code: string }).code).to.equal("receipt_not_anchored");
    const unknown = await getJson(`${url}/v1/receipts/99/proof`);
    expect(unknown.status).to.equal(404);
    expect((unknown.body.error as { code: string }).code).to.equal("unknown_receipt");
    for (const bad of ["0", "-1", "abc", "1e3", "99999999999999999999"]) {
      const r = await getJson(`${url}/v1/receipts/${bad}/proof`);
      expect(r.status, bad).to.equal(400);
      expect((r.body.error as { code: string }).code).to.equal("bad_request");
    }
    const post = await fetch(`${url}/v1/receipts/1/proof`, { method: "POST" });
    expect(post.status).to.equal(405);
  });

  it("refuses UPDATE and DELETE on the receipts table (append-only, enforced by SQLite)", () => {
    const log = new RecorderLog(market.worker!.internals.store);
    const db = market.worker!.internals.store.db;
    expect(() => db.prepare("UPDATE receipts SET output_hash = ? WHERE sequence = 1").run(`0x${"00".repeat(32)}`)).to.throw(/append-only: UPDATE refused/);
    expect(() => db.prepare("DELETE FROM receipts WHERE sequence = 1").run()).to.throw(/append-only: DELETE refused/);
    expect(() => db.prepare("DELETE FROM receipts").run()).to.throw(/append-only/);
    expect(log.receipt(1n)?.sequence).to.equal(1n);
  });

  it("anchors the new receipts in the claim transaction (claimAndAnchor) and serves proofs to that anchor", async () => {
    await paidInfer(market, channel, 2000n);
    await paidInfer(market, channel, 3000n);
    const store = market.worker!.internals.store;
    const tx = await waitFor("the claimAndAnchor transaction", () => store.txs().find((t) => t.kind === "claimAndAnchor" && t.state === "mined"));
    const log = new RecorderLog(store);
    const anchor = await waitFor("the anchor row", () => log.anchors()[0]);
    expect(anchor.fromSeq).to.equal(1n);
    expect(anchor.toSeq).to.equal(3n);
    expect(anchor.txHash).to.equal(tx.hash);
    expect(await isAnchored(market, anchor.root, 1n, 3n)).to.equal(true);
    expect(await anchoredSeq(market)).to.equal(3n);

    // One transaction: the claim went through FlightRecorder to PaymentChannels.
    const { publicClient } = clientsFor(net, 0);
    const sent = await publicClient.getTransaction({ hash: tx.hash });
    const call = decodeFunctionData({ abi: flightRecorderAbi, data: sent.input });
    expect(call.functionName).to.equal("claimAndAnchor");
    const onchain = await publicClient.readContract({ address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [channel.id] });
    expect(onchain.claimed).to.equal(3000n);

    for (const seq of [1n, 2n, 3n]) {
      const r = await getJson(`${market.worker!.url}/v1/receipts/${seq}/proof`);
      expect(r.status).to.equal(200);
      const p = receiptProofWire.parse(r.body);
      expect(p.receipt.sequence).to.equal(seq);
      expect(p.anchor.transactionHash).to.equal(tx.hash);
      const check = await checkReceiptProof(p, market.chainId, market.contracts.paymentChannels);
      expect(check, `receipt ${seq}`).to.deep.include({ valid: true });
      expect(await isAnchored(market, p.anchor.root, p.anchor.fromSeq, p.anchor.toSeq)).to.equal(true);
    }
  });

  it("anchors on the interval when nothing is due to claim, and re-reads anchors after a restart", async () => {
    await paidInfer(market, channel, 4000n);
    await market.worker!.stop();
    market.worker = undefined;
    // The claim at shutdown carried receipt 4's anchor (final settlement claims and anchors).
    await market.startWorker({ recorder: { anchorIntervalSeconds: 1 }, settlement: { claimThreshold: "1000000000", maxAgeSeconds: 3600, closeSafetySeconds: 30, minBatch: 1, pollIntervalMs: 200 } });
    expect(await anchoredSeq(market)).to.equal(4n);
    await paidInfer(market, channel, 5000n);
    await paidInfer(market, channel, 6000n);
    const store = market.worker!.internals.store;
    const log = new RecorderLog(store);
    await waitFor("an anchor up to receipt 6", () => log.anchors().find((a) => a.toSeq === 6n));
    // The 1 s interval anchors 5..6 in one plain anchor transaction, or 5 and then 6 when the second call comes later
    // than a tick (a loaded machine): either way the anchors after 4 are contiguous and each is a mined plain anchor.
    const after4 = log.anchors().filter((a) => a.fromSeq > 4n).sort((a, b) => Number(a.fromSeq - b.fromSeq));
    expect(after4[0]!.fromSeq).to.equal(5n);
    for (let i = 1; i < after4.length; i++) expect(after4[i]!.fromSeq).to.equal(after4[i - 1]!.toSeq + 1n);
    expect(after4.at(-1)!.toSeq).to.equal(6n);
    const plain = new Set(store.txs().filter((t) => t.kind === "anchor" && t.state === "mined").map((t) => t.hash));
    for (const a of after4) expect(plain.has(a.txHash), `anchor ${a.fromSeq}..${a.toSeq} in a plain anchor transaction`).to.equal(true);
    expect(await anchoredSeq(market)).to.equal(6n);

    // The export page: every receipt of the channel with its proof, one unbroken hash chain.
    const page = receiptPageWire.parse((await getJson(`${market.worker!.url}/v1/receipts?channel=${channel.id}`)).body);
    expect(page.receipts.map((r) => r.receipt.sequence)).to.deep.equal([1n, 2n, 3n, 4n, 5n, 6n]);
    expect(page.receipts.every(hasProof)).to.equal(true);
    expect(checkHashChain(page.receipts.map((r) => r.receipt), market.chainId, market.contracts.paymentChannels)).to.deep.include({ valid: true });
    const none = receiptPageWire.parse((await getJson(`${market.worker!.url}/v1/receipts?channel=0x${"11".repeat(32)}`)).body);
    expect(none.receipts).to.deep.equal([]);
    const paged = receiptPageWire.parse((await getJson(`${market.worker!.url}/v1/receipts?limit=4`)).body);
    expect(paged.receipts).to.have.length(4);
    expect(paged.next).to.equal("4");
    const bad = await getJson(`${market.worker!.url}/v1/receipts?from=yesterday`);
    expect(bad.status).to.equal(400);
    const badChannel = await getJson(`${market.worker!.url}/v1/receipts?channel=0x12`);
    expect(badChannel.status).to.equal(400);
  });

  it("the anchoring gas per receipt of the live claimAndAnchor is reported", async () => {
    const store = market.worker!.internals.store;
    const anchored = store.txs().find((t) => t.kind === "claimAndAnchor")!;
    expect(anchored.gasUsed).to.be.a("bigint");
    // A claim of one channel alone is ~60k; the anchor adds a storage word and an event (gas/snapshot.md).
    expect(Number(anchored.gasUsed)).to.be.within(80_000, 140_000);
    const hash: Hex = anchored.hash;
    expect(hash).to.match(/^0x[0-9a-f]{64}$/);
  });
});
