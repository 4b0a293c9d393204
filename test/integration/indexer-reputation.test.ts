// The indexer's `reputation` and `feedback` tables against protocol/reputation.ts readReputation on the same chain:
// buyers' spot checks (passed, failed, one revoked), uptime reports, anchors, and a proven equivocation (a lost
// dispute and a slash), indexed by the backfill, then one more failure indexed live. Every count and the score must
// equal what the chain's logs say. One indexer start-up (Ponder's build and PGlite) dominates the runtime.
import { indexerClient } from "../../protocol/indexer/client.ts";
import { reputationsOf } from "../../protocol/indexer/queries.ts";
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { keccak256, toHex, type Address, type Hex, type PublicClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { deviceReputationAbi, flightRecorderAbi } from "../../protocol/generated/contracts.ts";
import { readReputation, reputationToWire, type ReputationSources } from "../../protocol/reputation.ts";
import { freePort } from "../../scripts/lib/chain.ts";
import { indexerQuery, startIndexer, waitCaughtUp, type RunningIndexer } from "../../scripts/lib/indexer.ts";
import { clientsFor, startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { openChannel, setupMarket, SILERO_VAD_V5, type Market, type TestChannel } from "../../scripts/lib/worker-fixture.ts";
import { receiptArg, signReceiptWith } from "../helpers/disputes.ts";

const FIELDS = "id receiptsAnchored spotChecksPassed spotChecksFailed failingClients uptimeReports uptimeBps disputesWon disputesLost slashes slashedAmount score";

describe("indexer: reputation table equals protocol/reputation.ts", function () {
  this.timeout(300_000);
  let net: Localnet;
  let a: Market;
  let b: Market;
  let reader: PublicClient;
  let sources: ReputationSources;
  let dir: string;
  let indexer: RunningIndexer | undefined;

  async function mined(hash: Promise<Hex>) {
    const receipt = await reader.waitForTransactionReceipt({ hash: await hash });
    if (receipt.status !== "success") throw new Error(`transaction ${receipt.transactionHash} reverted`);
    return receipt;
  }

  function give(ch: TestChannel, buyer: number, tag1: string, value: bigint, decimals = 0) {
    const { walletClient, account } = clientsFor(net, buyer);
    return mined(
      walletClient.writeContract({
        account,
        address: sources.deviceReputation!,
        abi: deviceReputationAbi,
        functionName: "giveFeedback",
        args: [ch.terms, value, decimals, tag1, ch.terms.modelId.toString(), "http://edge", "", `0x${"00".repeat(32)}`],
      }),
    );
  }

  async function expectIndexEqualsChain() {
    await waitCaughtUp(indexer!, net.chain.url);
    const indexed = await indexerQuery<{ reputations: { items: Record<string, unknown>[] } }>(indexer!.url, `{ reputations(orderBy: "id", limit: 100) { items { ${FIELDS} } } }`);
    const rows = new Map(indexed.reputations.items.map((r) => [String(r.id).toLowerCase(), r]));
    for (const m of [a, b]) {
      const fromChain = reputationToWire(await readReputation(reader, sources, m.device.address));
      const row = rows.get(m.device.address.toLowerCase());
      expect(row, `reputation row of ${m.device.address}`).to.not.equal(undefined);
      const { device: _device, ...expected } = fromChain;
      // GraphQL returns bigints as decimal strings, integers as numbers.
      expect({ ...row, id: undefined }).to.deep.equal({ ...expected, id: undefined });
    }
    // The dashboard's batched read (protocol/indexer/queries.ts reputationsOf) gives the chain reader's values too.
    const viaClient = await reputationsOf(indexerClient(indexer!.url), [a.device.address, b.device.address]);
    for (const m of [a, b]) {
      const { device: _d, ...fromChain } = await readReputation(reader, sources, m.device.address);
      const { id: _id, ...got } = viaClient.get(m.device.address)!;
      expect(got).to.deep.equal(fromChain);
    }
    return rows;
  }

  before(async () => {
    net = await startLocalnet({ challengePeriod: 3600n });
    reader = clientsFor(net, 0).publicClient as PublicClient;
    a = await setupMarket(net, { start: false, models: [{ file: SILERO_VAD_V5, name: "Silero VAD v5" }] });
    b = await setupMarket(net, { start: false, reuseModels: a.models });
    const d = net.deployment;
    sources = { deviceRegistry: d.deviceRegistry, flightRecorder: d.flightRecorder, answerDisputes: d.answerDisputes, deviceReputation: d.deviceReputation };
    dir = mkdtempSync(path.join(tmpdir(), "edgepay-indexer-reputation-"));
  });

  after(async () => {
    await indexer?.stop().catch(() => undefined);
    for (const m of [a, b]) await m?.stop();
    await net?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("backfilled feedback, anchors, an equivocation and a slash, then a live failure: the index equals the chain", async () => {
    const a3 = await openChannel(a, { buyer: 3, deposit: 100_000n });
    const a4 = await openChannel(a, { buyer: 4, deposit: 100_000n });
    const b3 = await openChannel(b, { buyer: 3, deposit: 100_000n });
    await give(a3, 3, "spotCheck", 1n);
    await give(a3, 3, "spotCheck", 0n);
    await give(a3, 3, "spotCheck", 0n);
    await give(a4, 4, "spotCheck", 0n);
    await give(a4, 4, "uptime", 9_950n, 2);
    await give(a3, 3, "uptime", 97n, 0);
    await give(b3, 3, "spotCheck", 1n);
    await give(b3, 3, "starred", 80n);
    // Buyer 4 takes its failure back: device a keeps one failing buyer (3), with two failures.
    const { walletClient } = clientsFor(net, 4);
    await mined(walletClient.writeContract({ address: sources.deviceReputation!, abi: deviceReputationAbi, functionName: "revokeFeedback", args: [BigInt(a.device.address), 1n] }));

    // Device a anchors receipts 1..7; device b signs two outputs for one input and is slashed for it.
    const deviceA = privateKeyToAccount(a.device.privateKey);
    await mined(
      clientsFor(net, 0).walletClient.writeContract({ account: deviceA, address: sources.flightRecorder!, abi: flightRecorderAbi, functionName: "anchor", args: [keccak256(toHex("root")), 1n, 7n, keccak256(toHex("head"))] }),
    );
    const base = {
      channelId: b3.id,
      cumulativeAmount: 1_000n,
      units: 1n,
      sequence: 1n,
      modelId: b3.terms.modelId,
      modelHash: a.models[0]!.hash,
      inputHash: keccak256(toHex("input")),
      outputHash: keccak256(toHex("output a")),
      previous: `0x${"00".repeat(32)}` as Hex,
      timestamp: 1n,
    };
    const r1 = await signReceiptWith(b.device.privateKey, base, b.chainId, b.contracts.paymentChannels);
    const r2 = await signReceiptWith(b.device.privateKey, { ...base, outputHash: keccak256(toHex("output b")) }, b.chainId, b.contracts.paymentChannels);
    await mined(
      clientsFor(net, 7).walletClient.writeContract({
        address: sources.flightRecorder!,
        abi: flightRecorderAbi,
        functionName: "reportEquivocation",
        args: [b.device.address as Address, receiptArg(r1), r1.signature, receiptArg(r2), r2.signature],
      }),
    );

    indexer = await startIndexer({
      rpcUrl: net.chain.url,
      chainId: a.chainId,
      contracts: { ...a.contracts, answerDisputes: sources.answerDisputes, deviceReputation: sources.deviceReputation },
      port: await freePort(),
      dataDir: path.join(dir, "pglite"),
      pollingIntervalMs: 200,
      logFile: path.join(dir, "indexer.log"),
    });
    let rows = await expectIndexEqualsChain();
    const rowA = rows.get(a.device.address.toLowerCase())!;
    const rowB = rows.get(b.device.address.toLowerCase())!;
    // The chain's own story, spelled out: a: 1 pass, 2 failures from 1 buyer (the third revoked), uptime (99.50 + 97) / 2.
    expect([rowA.spotChecksPassed, rowA.spotChecksFailed, rowA.failingClients, rowA.uptimeReports, rowA.uptimeBps, rowA.receiptsAnchored]).to.deep.equal([1, 2, 1, 2, 9_825, "7"]);
    expect([rowB.spotChecksPassed, rowB.disputesLost, rowB.slashes, rowB.slashedAmount]).to.deep.equal([1, 1, 1, "10000000"]);
    expect(rowB.score as number).to.be.below(rowA.score as number);

    // The feedback rows carry the channel each entry was given against.
    const fb = await indexerQuery<{ feedbacks: { items: { client: string; feedbackIndex: string; channelId: string; revoked: boolean }[] } }>(
      indexer.url,
      `{ feedbacks(where: { device: "${a.device.address.toLowerCase()}" }, orderBy: "block", limit: 100) { items { client feedbackIndex channelId revoked } } }`,
    );
    expect(fb.feedbacks.items.map((f) => [f.channelId, f.revoked])).to.deep.equal([
      [a3.id, false],
      [a3.id, false],
      [a3.id, false],
      [a4.id, true],
      [a4.id, false],
      [a3.id, false],
    ]);

    // Live: buyer 4 reports a failure again (a second failing buyer).
    await give(a4, 4, "spotCheck", 0n);
    rows = await expectIndexEqualsChain();
    expect(rows.get(a.device.address.toLowerCase())!.failingClients).to.equal(2);
  });
});
