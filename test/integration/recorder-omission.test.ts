// Omission end to end with a real worker: receipts anchored by the worker's claims; bad challenges refused with
// their custom error and no state change; a challenge of a logged receipt answered by the worker itself, and one
// answered by the buyer with the proof from GET /v1/receipts/:seq/proof; and a signed receipt inside an anchored
// range that the device cannot prove (made here with the device's keystore key, SIMULATING A DEVICE THAT ANCHORED
// A DOCTORED LOG) -> the window passes -> enforce slashes.
import { expect } from "chai";
import { generatePrivateKey } from "viem/accounts";
import type { Address, Hex } from "viem";
import { deviceRegistryAbi, flightRecorderAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { receiptProofWire } from "../../protocol/audit.ts";
import { receiptDigest, type SignedReceipt } from "../../protocol/receipt.ts";
import { rpc } from "../../scripts/lib/chain.ts";
import { clientsFor, startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { openChannel, setupMarket, type Market, type TestChannel } from "../../scripts/lib/worker-fixture.ts";
import { anchoredSeq, getJson, paidInfer, waitFor } from "../helpers/recorder.ts";
import { flip, receiptArg, revertOf, signReceiptWith } from "../helpers/disputes.ts";

const BUYER = 3;
const BOND = 1_000_000n;
const STATUS = { None: 0, Open: 1, Answered: 2, Enforced: 3 } as const;

describe("flight recorder: omission challenges (real worker)", function () {
  this.timeout(240_000);
  let net: Localnet;
  let market: Market;
  let channel: TestChannel;
  const receipts: SignedReceipt[] = [];

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    market = await setupMarket(net, {
      config: { settlement: { claimThreshold: "3000", maxAgeSeconds: 3600, closeSafetySeconds: 30, minBatch: 1, pollIntervalMs: 200 } },
    });
    channel = await openChannel(market, { buyer: BUYER, deposit: 1_000_000n });
    // Two claims of 3 receipts each: anchors 1..3 and 4..6; receipt 7 stays unanchored.
    for (let i = 1n; i <= 7n; i++) {
      receipts.push((await paidInfer(market, channel, 1000n * i)).receipt);
      if (i === 3n) await waitFor("anchor 1..3", async () => ((await anchoredSeq(market)) === 3n ? true : undefined));
      if (i === 6n) await waitFor("anchor 4..6", async () => ((await anchoredSeq(market)) === 6n ? true : undefined));
    }
    const buyer = clientsFor(net, BUYER);
    for (const [fn, args] of [
      ["faucet", [buyer.account.address, 10n * BOND]],
      ["approve", [market.contracts.flightRecorder, 10n * BOND]],
    ] as const) {
      const hash = await buyer.walletClient.writeContract({ address: market.token, abi: testUsdcAbi, functionName: fn, args: args as never });
      await buyer.publicClient.waitForTransactionReceipt({ hash });
    }
  });
  after(async () => {
    await market?.stop();
    await net?.stop();
  });

  const buyer = () => clientsFor(net, BUYER);
  const pc = () => market.contracts.paymentChannels;
  const proofOf = async (seq: bigint) => receiptProofWire.parse((await getJson(`${market.worker!.url}/v1/receipts/${seq}/proof`)).body);
  const simulate = (functionName: "challengeOmission" | "answerOmission" | "enforceOmission", args: readonly unknown[]) =>
    buyer().publicClient.simulateContract({ account: buyer().account, address: market.contracts.flightRecorder, abi: flightRecorderAbi, functionName, args } as never);
  const send = async (functionName: "challengeOmission" | "answerOmission" | "enforceOmission", args: readonly unknown[]) => {
    const { request } = (await simulate(functionName, args)) as unknown as { request: never };
    const hash = await buyer().walletClient.writeContract(request);
    const r = await buyer().publicClient.waitForTransactionReceipt({ hash });
    expect(r.status).to.equal("success");
    return r;
  };
  const challenge = (r: SignedReceipt, root: Hex, from: bigint, to: bigint) => ["challenge", [market.device.address, receiptArg(r), r.signature, root, from, to]] as const;
  const status = async (digest: Hex) =>
    (await buyer().publicClient.readContract({ address: market.contracts.flightRecorder, abi: flightRecorderAbi, functionName: "getChallenge", args: [market.device.address, digest] })).status;
  const balance = (who: Address) => buyer().publicClient.readContract({ address: market.token, abi: testUsdcAbi, functionName: "balanceOf", args: [who] });
  const stake = async () =>
    (await buyer().publicClient.readContract({ address: market.contracts.deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [market.device.address] })).stake;

  it("refuses bad challenges with their custom error and changes nothing", async () => {
    const first = await proofOf(2n);
    const second = await proofOf(5n);
    const r2 = receipts[1]!;
    const args = (r: SignedReceipt, root: Hex, from: bigint, to: bigint) => challenge(r, root, from, to)[1];
    const before = [await balance(buyer().account.address), await stake()];

    const forged = await signReceiptWith(generatePrivateKey(), r2, market.chainId, pc());
    expect((await revertOf(simulate("challengeOmission", args(forged, first.anchor.root, 1n, 3n)))).name).to.equal("InvalidReceiptSignature");
    const otherChain = await signReceiptWith(market.device.privateKey, r2, 1, pc());
    expect((await revertOf(simulate("challengeOmission", args(otherChain, first.anchor.root, 1n, 3n)))).name).to.equal("InvalidReceiptSignature");
    // Receipt 7 is genuine but not anchored yet.
    const unanchored = await revertOf(simulate("challengeOmission", args(receipts[6]!, second.anchor.root, 4n, 6n)));
    expect(unanchored.name).to.equal("SequenceNotAnchored");
    expect(unanchored.args[1]).to.equal(7n);
    expect(unanchored.args[2]).to.equal(6n);
    // Wrong root, wrong range.
    expect((await revertOf(simulate("challengeOmission", args(r2, flip(first.anchor.root), 1n, 3n)))).name).to.equal("AnchorNotFound");
    expect((await revertOf(simulate("challengeOmission", args(r2, first.anchor.root, 2n, 3n)))).name).to.equal("AnchorNotFound");
    // A real anchor that does not hold this sequence.
    expect((await revertOf(simulate("challengeOmission", args(r2, second.anchor.root, 4n, 6n)))).name).to.equal("SequenceOutOfRange");
    // Answering a challenge that does not exist.
    const digest2 = receiptDigest(r2, market.chainId, pc());
    expect((await revertOf(simulate("answerOmission", [market.device.address, digest2, first.proof]))).name).to.equal("ChallengeNotOpen");
    expect((await revertOf(simulate("enforceOmission", [market.device.address, digest2]))).name).to.equal("ChallengeNotOpen");

    expect(await status(digest2)).to.equal(STATUS.None);
    expect([await balance(buyer().account.address), await stake()]).to.deep.equal(before);
  });

  it("a challenge of a logged receipt is answered by the worker itself; the bond goes to the device owner", async () => {
    const r = receipts[1]!;
    const p = await proofOf(r.sequence);
    const digest = receiptDigest(r, market.chainId, pc());
    const ownerBefore = await balance(market.provider);
    await send("challengeOmission", challenge(r, p.anchor.root, p.anchor.fromSeq, p.anchor.toSeq)[1]);
    await waitFor("the worker's answer", async () => ((await status(digest)) === STATUS.Answered ? true : undefined));
    expect((await balance(market.provider)) - ownerBefore).to.equal(BOND);
    const tx = market.worker!.internals.store.txs().find((t) => t.kind === "answerOmission");
    expect(tx?.state).to.equal("mined");
    expect((await revertOf(simulate("challengeOmission", challenge(r, p.anchor.root, p.anchor.fromSeq, p.anchor.toSeq)[1]))).name).to.equal("ChallengeExists");
  });

  it("the buyer answers with the proof from GET /v1/receipts/:seq/proof; malformed proofs are refused", async () => {
    // This worker does not defend itself: the buyer closes its own false alarm with the device's public proof.
    await market.worker!.stop();
    market.worker = undefined;
    await market.startWorker({ recorder: { answerChallenges: false } });
    const r = receipts[4]!;
    const p = await proofOf(r.sequence);
    const digest = receiptDigest(r, market.chainId, pc());
    await send("challengeOmission", challenge(r, p.anchor.root, p.anchor.fromSeq, p.anchor.toSeq)[1]);
    expect(await status(digest)).to.equal(STATUS.Open);

    const wrong = await revertOf(simulate("answerOmission", [market.device.address, digest, [flip(p.proof[0]!), ...p.proof.slice(1)]]));
    expect(wrong.name).to.equal("InvalidInclusionProof");
    expect((await revertOf(simulate("answerOmission", [market.device.address, digest, []]))).name).to.equal("InvalidInclusionProof");
    // Another receipt's proof does not prove this one.
    const other = await proofOf(4n);
    expect((await revertOf(simulate("answerOmission", [market.device.address, digest, other.proof]))).name).to.equal("InvalidInclusionProof");
    expect(await status(digest)).to.equal(STATUS.Open);

    await send("answerOmission", [market.device.address, digest, p.proof]);
    expect(await status(digest)).to.equal(STATUS.Answered);
    expect((await revertOf(simulate("enforceOmission", [market.device.address, digest]))).name).to.equal("ChallengeNotOpen");
  });

  it("a signed receipt the device cannot prove: the window passes, enforce slashes the device", async () => {
    await market.worker!.stop();
    market.worker = undefined;
    await market.startWorker(); // answers challenges again: it finds no such receipt in its log
    // SIMULATED DOCTORED LOG: the device key signed this receipt 3 for the buyer, but anchored another one.
    const real = receipts[2]!;
    const hidden = await signReceiptWith(market.device.privateKey, { ...real, outputHash: flip(real.outputHash) }, market.chainId, pc());
    const p = await proofOf(3n);
    const digest = receiptDigest(hidden, market.chainId, pc());
    const challenger = buyer().account.address;
    const before = await balance(challenger);
    const staked = await stake();
    await send("challengeOmission", challenge(hidden, p.anchor.root, 1n, 3n)[1]);
    expect((await balance(challenger)) - before).to.equal(-BOND);

    // The real receipt's proof does not prove the hidden one.
    expect((await revertOf(simulate("answerOmission", [market.device.address, digest, p.proof]))).name).to.equal("InvalidInclusionProof");
    const early = await revertOf(simulate("enforceOmission", [market.device.address, digest]));
    expect(early.name).to.equal("AnswerWindowOpen");

    const window = await buyer().publicClient.readContract({ address: market.contracts.flightRecorder, abi: flightRecorderAbi, functionName: "answerWindow" });
    await rpc(net.chain.url, "evm_increaseTime", [Number(window) + 1]);
    await rpc(net.chain.url, "evm_mine");
    expect(await status(digest)).to.equal(STATUS.Open);
    expect((await revertOf(simulate("answerOmission", [market.device.address, digest, p.proof]))).name).to.equal("AnswerWindowOver");

    await send("enforceOmission", [market.device.address, digest]);
    expect(await status(digest)).to.equal(STATUS.Enforced);
    const reward = (staked * 2_000n) / 10_000n;
    expect((await balance(challenger)) - before).to.equal(reward);
    expect(await stake()).to.equal(0n);
    expect((await revertOf(simulate("enforceOmission", [market.device.address, digest]))).name).to.equal("ChallengeNotOpen");
  });
});
