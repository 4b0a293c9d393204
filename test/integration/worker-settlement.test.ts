// The settler's rules on a real chain: a claim batch waits for `minBatch` due channels and then goes out as one
// claimMany; an old unclaimed voucher is claimed whatever its amount; a transaction recorded as signed before a
// crash is broadcast as the same bytes on restart (never a second transaction with a new nonce); a top-up is seen
// at once by the deposit check.
import { expect } from "chai";
import Database from "better-sqlite3";
import path from "node:path";
import { encodeFunctionData, keccak256, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { DB_FILE, Store } from "../../worker/store/db.ts";
import { waitFor } from "../../scripts/lib/chain.ts";
import { clientsFor, startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { openChannel, setupMarket, spawnWorker, vadInputs, paidHeaders,
  type Market, type TestChannel } from "../../scripts/lib/worker-fixture.ts";

describe("worker: settlement", function () {
  this.timeout(300_000);
  let net: Localnet;
  let market: Market;

  before(async () => {
    net = await startLocalnet({ challengePeriod: 3600n });
    market = await setupMarket(net, {
      start: false,
      config: { settlement: { claimThreshold: "3000", maxAgeSeconds: 86_400, closeSafetySeconds: 30, minBatch: 3, pollIntervalMs: 200 } },
    });
  });
  after(async () => {
    await market?.stop();
    await net?.stop();
  });

  async function pay(url: string, ch: TestChannel, amount: bigint) {
    const body = JSON.stringify({ inputs: vadInputs(Number(amount % 89n)) });
    const res = await fetch(`${url}/v1/infer/${market.models[0]!.modelId}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(await paidHeaders(market, ch, amount, body)) },
      body,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
  afterEach(async () => {
    const w = market.worker;
    market.worker = undefined;
    await w?.stop();
  });

  const claimed = async (ch: TestChannel) =>
    (await clientsFor(net, 0).publicClient.readContract({ address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [ch.id] })).claimed;

  it("waits for minBatch due channels, then claims them all in one claimMany", async () => {
    const w = await market.startWorker();
    const chans = [await openChannel(market, { buyer: 3, deposit: 100_000n }), await openChannel(market, { buyer: 4, deposit: 100_000n }), await openChannel(market, { buyer: 5, deposit: 100_000n })];
    // The third channel becomes due with its last payment (3,000 = the threshold), so what the batch claims does not
    // depend on how fast payments go against the settler's polls.
    const payments = [3n, 4n, 3n];
    for (const [i, ch] of chans.entries()) {
      for (let k = 1n; k <= payments[i]!; k++) expect((await pay(w.url, ch, 1_000n * k)).status).to.equal(200);
      if (i < 2) {
        // Due but alone: nothing is sent yet.
        await new Promise((r) => setTimeout(r, 800));
        expect(await claimed(ch)).to.equal(0n);
      }
    }
    await waitFor("batch claim", async () => (await claimed(chans[2]!)) === 3_000n, 30_000);
    expect(await claimed(chans[0]!)).to.equal(3_000n);
    expect(await claimed(chans[1]!)).to.equal(4_000n);
    // One transaction carries all three claims (claimMany, or the flight recorder's claimAndAnchor around it).
    const txs = w.internals.store.txs().filter((t) => t.claims.length > 0);
    expect(txs).to.have.length(1);
    expect(txs[0]!.kind).to.match(/^(claimMany|claimAndAnchor)$/);
    expect(txs[0]!.state).to.equal("mined");
    expect(txs[0]!.claims.map((c) => c.amount).sort()).to.deep.equal(["3000", "3000", "4000"]);
  });

  it("claims an old voucher whatever its amount", async () => {
    const w = await market.startWorker({ settlement: { claimThreshold: "1000000000", maxAgeSeconds: 2, closeSafetySeconds: 30, minBatch: 5, pollIntervalMs: 200 } });
    const ch = await openChannel(market, { buyer: 6, deposit: 100_000n });
    const started = Date.now();
    expect((await pay(w.url, ch, 1_000n)).status).to.equal(200);
    await waitFor("age claim", async () => (await claimed(ch)) === 1_000n, 20_000);
    expect(Date.now() - started).to.be.at.least(2_000);
  });

  it("sees a top-up at once: a voucher above the old deposit is accepted right after it", async () => {
    const w = await market.startWorker();
    const ch = await openChannel(market, { buyer: 8, deposit: 2_000n });
    expect((await pay(w.url, ch, 1_000n)).status).to.equal(200);
    expect((await pay(w.url, ch, 2_000n)).status).to.equal(200);
    const over = await pay(w.url, ch, 3_000n);
    expect((over.body.error as { code: string }).code).to.equal("amount_exceeds_deposit");
    const buyer = clientsFor(net, 8);
    await buyer.publicClient.waitForTransactionReceipt({
      hash: await buyer.walletClient.writeContract({ address: market.token, abi: testUsdcAbi, functionName: "faucet", args: [buyer.account.address, 5_000n] }),
    });
    await buyer.publicClient.waitForTransactionReceipt({
      hash: await buyer.walletClient.writeContract({ address: market.token, abi: testUsdcAbi, functionName: "approve", args: [market.contracts.paymentChannels, 5_000n] }),
    });
    await buyer.publicClient.waitForTransactionReceipt({
      hash: await buyer.walletClient.writeContract({ address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "topUp", args: [ch.terms, 5_000n] }),
    });
    await new Promise((r) => setTimeout(r, 1_100)); // the deposit is re-read at most once a second per channel
    expect((await pay(w.url, ch, 3_000n)).status).to.equal(200);
  });

  it("broadcasts a transaction recorded before a crash as the same bytes on restart, and sends no second one", async () => {
    const proc = await spawnWorker(market.configFile);
    const ch = await openChannel(market, { buyer: 9, deposit: 100_000n });
    for (let k = 1n; k <= 2n; k++) expect((await pay(proc.url, ch, 1_000n * k)).status).to.equal(200);
    // The second voucher came with its (mandatory) request MAC, so its ECDSA check was deferred to the background
    // pass: wait until that is durable, as the claim below needs the verified voucher.
    await waitFor("deferred voucher verified", async () => {
      const db = new Database(path.join(market.dataDir, DB_FILE), { readonly: true });
      try {
        return (db.prepare("SELECT verified_amount FROM channels WHERE id = ?").get(ch.id) as { verified_amount: string } | undefined)?.verified_amount === "2000";
      } finally {
        db.close();
      }
    }, 10_000);
    proc.child.kill("SIGKILL");
    await proc.exited;

    // What the settler does before it broadcasts: sign locally and record the transaction as `signed`.
    const store = new Store(market.dataDir);
    const row = store.channel(ch.id)!;
    expect(row.verifiedAmount).to.equal(2_000n);
    const device = privateKeyToAccount(market.device.privateKey);
    const { publicClient } = clientsFor(net, 0);
    const nonce = await publicClient.getTransactionCount({ address: device.address, blockTag: "pending" });
    const fees = await publicClient.estimateFeesPerGas();
    const raw = await device.signTransaction({
      type: "eip1559",
      chainId: market.chainId,
      nonce,
      to: market.contracts.paymentChannels,
      data: encodeFunctionData({ abi: paymentChannelsAbi, functionName: "claim", args: [row.terms, row.verifiedAmount, row.verifiedSig!] }),
      gas: 300_000n,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    });
    const hash = keccak256(raw) as Hex;
    store.insertTx({ kind: "claim", nonce, hash, raw, claims: [{ channelId: ch.id, amount: "2000" }], state: "signed" });
    store.close();

    // By the settler's rules the channel is not due (threshold 3000, minBatch 3): only the recorded transaction pays it.
    const proc2 = await spawnWorker(market.configFile);
    await waitFor("reconciled claim", async () => (await claimed(ch)) === 2_000n, 20_000);
    const receipt = await publicClient.getTransactionReceipt({ hash });
    expect(receipt.status).to.equal("success");
    proc2.child.kill("SIGTERM");
    expect(await proc2.exited, `exit by ${proc2.signal()}: ${proc2.stderr()}`).to.equal(0);
    const after = new Store(market.dataDir);
    const forChannel = after.txs().filter((t) => t.claims.some((c) => c.channelId === ch.id));
    after.close();
    expect(forChannel.map((t) => [t.hash, t.state]), "one transaction for the claim, the recorded one").to.deep.equal([[hash, "mined"]]);
  });
});
