// FlightRecorder: receipt verification, anchors (alone and with claims), equivocation and omission disputes, and
// the Merkle format shared with protocol/merkle.ts.
import { expect } from "chai";
import { anyUint } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import { network } from "hardhat";
import { AbiCoder, TypedDataEncoder, Wallet, ZeroAddress, ZeroHash, concat, keccak256, type ContractTransactionReceipt } from "ethers";
import type { Hex } from "viem";
import { anchorBatch, anchorCommitment, checkHashChain, checkReceiptProof, receiptProof, receiptProofToWire, receiptProofWire } from "../../protocol/audit.ts";
import { buildReceiptTree, getProof, hashPair, merkleRoot, processProof, receiptLeaf, verifyProof } from "../../protocol/merkle.ts";
import type { Receipt } from "../../protocol/receipt.ts";
import { receiptTypes } from "../../protocol/eip712.ts";
import { TEST_KEYS } from "../../scripts/lib/localnet.ts";
import EdgepayLocal from "../../ignition/modules/EdgepayLocal.ts";
import { flightRecorderAbi } from "../../protocol/generated/contracts.ts";
import { DEPOSIT, MIN_STAKE, PRICE, Status, UNBONDING_DELAY, channelsDomain, ethers, idOf, networkHelpers, signVoucher, termsFor } from "./fixtures.ts";
import {
  ANSWER_WINDOW,
  BOND,
  OTHER_DEVICE_WALLET,
  DEVICE_WALLET,
  REPORTER_BPS,
  SLASHER_ROLE,
  SLASH_BPS,
  addSecondDevice,
  deployRecorder,
  digestOf,
  h,
  receiptAt,
  receiptChain,
  recorderFixture,
  recoverDigest,
  signReceipt,
  type RecorderContext,
} from "./flight-recorder.helpers.ts";
import { typed } from "./typed.ts";

const { loadFixture, time } = networkHelpers;
/** Hardhat account 0, Ignition's default sender and so the default treasury. */
const TEST_ADDRESS_0 = new Wallet(TEST_KEYS[0]).address;
const ChallengeStatus = { None: 0n, Open: 1n, Answered: 2n, Enforced: 3n } as const;

/** Anchors `receipts` (consecutive, from the device's next sequence) from the device key; returns the batch. */
async function anchorReceipts(c: RecorderContext, receipts: readonly Receipt[], device = c.deviceKey) {
  const batch = anchorBatch((await device.getAddress()) as Hex, receipts[0]!.sequence, receipts.map((r) => digestOf(c, r)));
  await c.recorder.connect(device).anchor(batch.root, batch.fromSeq, batch.toSeq, batch.head);
  return batch;
}

/** A context with receipts 1..10 anchored, receipt 5 signed and held by the buyer. */
async function anchoredFixture() {
  const c = await recorderFixture();
  const receipts = receiptChain(c, 1n, 10);
  const batch = await anchorReceipts(c, receipts);
  const held = receipts[4]!;
  return { ...c, receipts, batch, held, heldSig: await signReceipt(c, held), heldDigest: digestOf(c, held) };
}

describe("FlightRecorder", () => {
  describe("deployment", () => {
    it("stores its parameters and the PaymentChannels domain separator of this chain", async () => {
      const c = await loadFixture(recorderFixture);
      const { recorder } = c;
      expect(await recorder.paymentChannels()).to.equal(c.channelsAddress);
      expect(await recorder.deviceRegistry()).to.equal(await c.devices.getAddress());
      expect(await recorder.stakeToken()).to.equal(await c.usdc.getAddress());
      expect(await recorder.treasury()).to.equal(c.treasury.address);
      expect(await recorder.slashBps()).to.equal(BigInt(SLASH_BPS));
      expect(await recorder.reporterBps()).to.equal(BigInt(REPORTER_BPS));
      expect(await recorder.answerWindow()).to.equal(ANSWER_WINDOW);
      expect(await recorder.challengeBond()).to.equal(BOND);
      expect(await recorder.domainSeparator()).to.equal(TypedDataEncoder.hashDomain(channelsDomain(c.chainId, c.channelsAddress)));
      expect(await c.devices.hasRole(SLASHER_ROLE, recorder)).to.equal(true);
    });

    it("rejects zero addresses, out-of-range basis points and answer windows", async () => {
      const c = await loadFixture(recorderFixture);
      const factory = await ethers.getContractFactory("FlightRecorder");
      const ok = [c.channels, c.devices, c.treasury.address, SLASH_BPS, REPORTER_BPS, ANSWER_WINDOW, BOND] as const;
      const args = (i: number, v: unknown) => ok.map((x, j) => (j === i ? v : x));
      for (const i of [0, 1, 2]) {
        await expect(factory.deploy(...args(i, ZeroAddress))).to.be.revertedWithCustomError(factory, "ZeroAddress");
      }
      await expect(factory.deploy(...args(3, 0))).to.be.revertedWithCustomError(factory, "InvalidBps").withArgs(0);
      await expect(factory.deploy(...args(3, 10_001))).to.be.revertedWithCustomError(factory, "InvalidBps").withArgs(10_001);
      await expect(factory.deploy(...args(4, 10_001))).to.be.revertedWithCustomError(factory, "InvalidBps").withArgs(10_001);
      await expect(factory.deploy(...args(5, 0)))
        .to.be.revertedWithCustomError(factory, "InvalidAnswerWindow")
        .withArgs(0, UNBONDING_DELAY);
      await expect(factory.deploy(...args(5, UNBONDING_DELAY)))
        .to.be.revertedWithCustomError(factory, "InvalidAnswerWindow")
        .withArgs(UNBONDING_DELAY, UNBONDING_DELAY);
      // The limits themselves are accepted.
      await factory.deploy(...args(3, 10_000));
      await factory.deploy(...args(4, 0));
      await factory.deploy(...args(5, UNBONDING_DELAY - 1n));
    });
  });

  describe("receiptDigest", () => {
    it("equals the EIP-712 digest of protocol/receipt.ts and of ethers", async () => {
      const c = await loadFixture(recorderFixture);
      const r = receiptAt(c, 7n, { previous: h("previous"), cumulativeAmount: 2n ** 200n, timestamp: 2n ** 64n - 1n });
      const onChain = await c.recorder.receiptDigest(r);
      expect(onChain).to.equal(digestOf(c, r));
      const types = { Receipt: receiptTypes.Receipt.map((f) => ({ ...f })) };
      expect(onChain).to.equal(TypedDataEncoder.hash(channelsDomain(c.chainId, c.channelsAddress), types, r));
      // The device signature over it recovers to the device key.
      expect(recoverDigest(onChain, await signReceipt(c, r))).to.equal(DEVICE_WALLET.address);
    });
  });

  describe("anchor", () => {
    it("anchors contiguous ranges, one after the other, and emits root, range and head", async () => {
      const c = await loadFixture(recorderFixture);
      const device = await c.deviceKey.getAddress();
      const first = receiptChain(c, 1n, 100);
      const b1 = anchorBatch(device as Hex, 1n, first.map((r) => digestOf(c, r)));
      await expect(c.recorder.connect(c.deviceKey).anchor(b1.root, 1n, 100n, b1.head))
        .to.emit(c.recorder, "Anchored")
        .withArgs(device, 1n, 100n, b1.root, digestOf(c, first[99]!));
      expect((await c.recorder.deviceLog(device)).anchoredSeq).to.equal(100n);
      expect(await c.recorder.isAnchored(device, b1.root, 1n, 100n)).to.equal(true);

      const second = receiptChain(c, 101n, 1, b1.head);
      const b2 = anchorBatch(device as Hex, 101n, [digestOf(c, second[0]!)]);
      await expect(c.recorder.connect(c.deviceKey).anchor(b2.root, 101n, 101n, b2.head))
        .to.emit(c.recorder, "Anchored")
        .withArgs(device, 101n, 101n, b2.root, b2.head);
      const log = await c.recorder.deviceLog(device);
      expect([log.anchoredSeq, log.convicted]).to.deep.equal([101n, false]);
      // A one-receipt tree's root is the receipt's leaf.
      expect(b2.root).to.equal(receiptLeaf(b2.head));
      expect(await c.recorder.isAnchored(device, b2.root, 101n, 101n)).to.equal(true);
      expect(await c.recorder.isAnchored(device, b1.root, 1n, 100n)).to.equal(true);
    });

    it("answers isAnchored false for any other root, range or device", async () => {
      const c = await loadFixture(anchoredFixture);
      const device = await c.deviceKey.getAddress();
      const { root } = c.batch;
      expect(await c.recorder.isAnchored(device, root, 1n, 10n)).to.equal(true);
      expect(await c.recorder.isAnchored(device, h("other root"), 1n, 10n)).to.equal(false);
      expect(await c.recorder.isAnchored(device, root, 1n, 9n)).to.equal(false);
      expect(await c.recorder.isAnchored(device, root, 2n, 10n)).to.equal(false);
      expect(await c.recorder.isAnchored(await c.other.getAddress(), root, 1n, 10n)).to.equal(false);
      expect(await c.recorder.isAnchored(device, ZeroHash, 11n, 0n)).to.equal(false);
    });

    it("keeps one storage word per anchor: keccak256(root, toSeq) keyed by (device, fromSeq)", async () => {
      const c = await loadFixture(anchoredFixture);
      const device = await c.deviceKey.getAddress();
      // _anchors is the second mapping (slot 1) after _logs (slot 0); ReentrancyGuardTransient uses no storage slot.
      const coder = AbiCoder.defaultAbiCoder();
      const inner = keccak256(coder.encode(["address", "uint256"], [device, 1n]));
      const slot = keccak256(coder.encode(["uint64", "bytes32"], [1n, inner]));
      const word = await ethers.provider.getStorage(c.recorder, slot);
      expect(word).to.equal(anchorCommitment(c.batch.root, 10n));
    });

    it("keeps each device's sequence apart", async () => {
      const c = await loadFixture(anchoredFixture);
      const other = receiptChain(c, 1n, 3);
      await anchorReceipts(c, other, c.other);
      expect((await c.recorder.deviceLog(c.other)).anchoredSeq).to.equal(3n);
      expect((await c.recorder.deviceLog(c.deviceKey)).anchoredSeq).to.equal(10n);
    });

    it("rejects a zero root", async () => {
      const c = await loadFixture(recorderFixture);
      await expect(c.recorder.connect(c.deviceKey).anchor(ZeroHash, 1n, 1n, ZeroHash)).to.be.revertedWithCustomError(c.recorder, "ZeroRoot");
    });

    it("rejects gaps, overlaps, repeats and empty or inverted ranges", async () => {
      const c = await loadFixture(anchoredFixture);
      const device = await c.deviceKey.getAddress();
      const r = h("root");
      const cases: [bigint, bigint][] = [
        [12n, 20n], // gap
        [10n, 20n], // overlap by one
        [1n, 10n], // repeat
        [0n, 5n], // sequence 0 does not exist
        [11n, 10n], // inverted
      ];
      for (const [from, to] of cases) {
        await expect(c.recorder.connect(c.deviceKey).anchor(r, from, to, r))
          .to.be.revertedWithCustomError(c.recorder, "NonContiguousAnchor")
          .withArgs(device, from, to, 11n);
      }
      // A fresh device must start at 1.
      await expect(c.recorder.connect(c.other).anchor(r, 2n, 2n, r))
        .to.be.revertedWithCustomError(c.recorder, "NonContiguousAnchor")
        .withArgs(await c.other.getAddress(), 2n, 2n, 1n);
      expect((await c.recorder.deviceLog(device)).anchoredSeq).to.equal(10n);
    });

    it("accepts the last sequence a uint64 can hold", async () => {
      const c = await loadFixture(anchoredFixture);
      const max = 2n ** 64n - 1n;
      await expect(c.recorder.connect(c.deviceKey).anchor(h("root"), 11n, max, h("head"))).to.emit(c.recorder, "Anchored");
      // No anchor can follow: the next sequence would overflow.
      await expect(c.recorder.connect(c.deviceKey).anchor(h("root"), 0n, 0n, h("head"))).to.be.revertedWithPanic(0x11);
    });
  });

  describe("Merkle proofs built by protocol/merkle.ts", () => {
    it("are accepted on-chain for every leaf position of trees of many sizes", async () => {
      const c = await loadFixture(recorderFixture);
      const device = await c.deviceKey.getAddress();
      let next = 1n;
      let previous = ZeroHash as Hex;
      for (const size of [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33, 100]) {
        const receipts = receiptChain(c, next, size, previous);
        const batch = await anchorReceipts(c, receipts);
        const picks = [...new Set([0, 1, Math.floor(size / 2), size - 2, size - 1].filter((i) => i >= 0 && i < size))];
        for (const i of picks) {
          const r = receipts[i]!;
          const digest = digestOf(c, r);
          const proof = getProof(batch.tree, i);
          expect(verifyProof(proof, batch.root, receiptLeaf(digest)), `TS verify ${size}/${i}`).to.equal(true);
          await c.recorder.connect(c.payer).challengeOmission(device, r, await signReceipt(c, r), batch.root, batch.fromSeq, batch.toSeq);
          await expect(c.recorder.connect(c.other).answerOmission(device, digest, proof), `tree of ${size}, leaf ${i}`).to.emit(
            c.recorder,
            "OmissionAnswered",
          );
        }
        next += BigInt(size);
        previous = batch.head;
      }
    });

    it("match OpenZeppelin's commutative hashing and reject wrong proofs off-chain too", async () => {
      const a = h("a");
      const b = h("b");
      expect(hashPair(a, b)).to.equal(hashPair(b, a));
      const [lo, hi] = BigInt(a) < BigInt(b) ? [a, b] : [b, a];
      expect(hashPair(a, b)).to.equal(keccak256(concat([lo, hi])));
      const leaves = [h("1"), h("2"), h("3")];
      const tree = buildReceiptTree(leaves);
      expect(tree.root).to.equal(merkleRoot(leaves.map(receiptLeaf)));
      // The odd node moves up unchanged.
      expect(tree.root).to.equal(hashPair(hashPair(receiptLeaf(leaves[0]!), receiptLeaf(leaves[1]!)), receiptLeaf(leaves[2]!)));
      expect(getProof(tree, 2)).to.deep.equal([hashPair(receiptLeaf(leaves[0]!), receiptLeaf(leaves[1]!))]);
      expect(verifyProof(getProof(tree, 0), tree.root, receiptLeaf(leaves[1]!))).to.equal(false);
      expect(verifyProof(["0x1234" as Hex], tree.root, receiptLeaf(leaves[0]!))).to.equal(false);
      // An inner node presented as a leaf does not verify: leaves are hashed once more than what they stand for.
      const inner = hashPair(receiptLeaf(leaves[0]!), receiptLeaf(leaves[1]!));
      expect(verifyProof([receiptLeaf(leaves[2]!)], tree.root, receiptLeaf(inner))).to.equal(false);
      expect(processProof([receiptLeaf(leaves[2]!)], inner)).to.equal(tree.root);
      expect(() => getProof(tree, 3)).to.throw(RangeError);
      expect(() => buildReceiptTree([])).to.throw(/at least one leaf/);
    });

    it("round-trip through the shared proof format and its offline checks", async () => {
      const c = await loadFixture(anchoredFixture);
      const device = (await c.deviceKey.getAddress()) as Hex;
      const signed = { ...c.held, signature: c.heldSig as Hex };
      const p = receiptProof(c.batch, signed, h("tx"));
      const wire = JSON.parse(JSON.stringify(receiptProofToWire(p)));
      const back = receiptProofWire.parse(wire);
      expect(back).to.deep.equal(p);
      expect(await checkReceiptProof(back, c.chainIdNumber, c.channelsAddress)).to.deep.equal({ valid: true, digest: c.heldDigest });
      expect(await c.recorder.isAnchored(device, back.anchor.root, back.anchor.fromSeq, back.anchor.toSeq)).to.equal(true);

      const bad = (over: object) => checkReceiptProof({ ...p, ...over }, c.chainIdNumber, c.channelsAddress);
      expect((await bad({ device: c.other.address })).valid).to.equal(false);
      expect(await bad({ device: c.other.address })).to.include({ reason: "bad_signature" });
      expect(await bad({ proof: p.proof.slice(1) })).to.include({ reason: "not_included" });
      expect(await bad({ anchor: { ...p.anchor, fromSeq: 6n } })).to.include({ reason: "sequence_out_of_range" });
      const last = { ...c.receipts[9]!, signature: (await signReceipt(c, c.receipts[9]!)) as Hex };
      const lastProof = receiptProof(c.batch, last);
      expect(await checkReceiptProof(lastProof, c.chainIdNumber, c.channelsAddress)).to.include({ valid: true });
      expect(await checkReceiptProof({ ...lastProof, anchor: { ...lastProof.anchor, head: h("x") } }, c.chainIdNumber, c.channelsAddress))
        .to.include({ reason: "head_mismatch" });
      expect(receiptProofWire.safeParse({ ...wire, proof: ["0x12"] }).success).to.equal(false);
      expect(receiptProofWire.safeParse({ ...wire, anchor: { ...wire.anchor, fromSeq: "0" } }).success).to.equal(false);
      expect(receiptProofWire.safeParse({ ...wire, anchor: { ...wire.anchor, fromSeq: "11" } }).success).to.equal(false);

      expect(checkHashChain(c.receipts, c.chainIdNumber, c.channelsAddress)).to.deep.equal({ valid: true, head: c.batch.head });
      const broken = c.receipts.map((r, i) => (i === 6 ? { ...r, previous: h("x") } : r));
      expect(checkHashChain(broken, c.chainIdNumber, c.channelsAddress)).to.deep.equal({ valid: false, reason: "previous_mismatch", sequence: 7n });
      const gap = c.receipts.filter((_, i) => i !== 3);
      expect(checkHashChain(gap, c.chainIdNumber, c.channelsAddress)).to.deep.equal({ valid: false, reason: "sequence_gap", sequence: 5n });
    });
  });

  describe("claimAndAnchor", () => {
    /** Three channels (two of device 1, one of device 2 with another payee) and a batch of vouchers for them. */
    async function claimsFixture() {
      const c = await recorderFixture();
      await addSecondDevice(c);
      const t1 = c.terms;
      const t2 = await termsFor(c, { salt: 2n });
      const t3 = await termsFor(c, { salt: 3n, device: await c.deviceKey2.getAddress(), payee: await c.provider2.getAddress() });
      await c.channels.connect(c.payer).open(t2, DEPOSIT);
      await c.channels.connect(c.payer).open(t3, DEPOSIT);
      // Channel 1 was claimed up to 5 already: its voucher at 5 is skipped, as claimMany skips it.
      await c.channels.connect(c.other).claim(t1, 5n * PRICE, await signVoucher(c, c.sessionKey, idOf(t1), 5n * PRICE));
      const voucher = async (t: typeof t1, amount: bigint) => ({
        terms: t,
        cumulativeAmount: amount,
        signature: await signVoucher(c, c.sessionKey, idOf(t), amount),
      });
      const claims = [await voucher(t1, 5n * PRICE), await voucher(t2, 37n * PRICE), await voucher(t3, 11n * PRICE), await voucher(t1, 23n * PRICE)];
      const receipts = receiptChain(c, 1n, 100);
      const batch = anchorBatch((await c.deviceKey.getAddress()) as Hex, 1n, receipts.map((r) => digestOf(c, r)));
      return { ...c, claims, ids: [t1, t2, t3].map(idOf), batch };
    }

    async function outcome(c: Awaited<ReturnType<typeof claimsFixture>>, receipt: ContractTransactionReceipt | null) {
      if (!receipt) throw new Error("not mined");
      const channelsAddress = await c.channels.getAddress();
      const events = receipt.logs
        .filter((l) => l.address === channelsAddress)
        .map((l) => {
          const parsed = c.channels.interface.parseLog(l);
          return [parsed?.name, ...(parsed?.args ?? [])];
        });
      const usdcAddress = await c.usdc.getAddress();
      const transfers = receipt.logs
        .filter((l) => l.address === usdcAddress)
        .map((l) => c.usdc.interface.parseLog(l)?.args.toArray());
      return {
        events,
        transfers,
        balances: await Promise.all([c.provider, c.provider2, c.payer, c.channels].map((a) => c.usdc.balanceOf(a))),
        channels: await Promise.all(
          c.ids.map(async (id) => {
            const ch = await c.channels.getChannel(id);
            return [ch.deposit, ch.claimed, ch.closesAt, ch.settled];
          }),
        ),
        royalties: await c.channels.royaltiesOf(c.modelId, c.usdc),
      };
    }

    it("pays out exactly like claimMany and anchors in the same transaction", async () => {
      let c = await loadFixture(claimsFixture);
      const viaClaimMany = await outcome(c, await (await c.channels.connect(c.other).claimMany(c.claims)).wait());
      expect(viaClaimMany.events.length).to.equal(3);

      c = await loadFixture(claimsFixture);
      const device = await c.deviceKey.getAddress();
      const tx = c.recorder.connect(c.deviceKey).claimAndAnchor(c.claims, c.batch.root, 1n, 100n, c.batch.head);
      await expect(tx).to.emit(c.recorder, "Anchored").withArgs(device, 1n, 100n, c.batch.root, c.batch.head);
      const viaRecorder = await outcome(c, await (await tx).wait());
      expect(viaRecorder).to.deep.equal(viaClaimMany);
      expect(await c.recorder.isAnchored(device, c.batch.root, 1n, 100n)).to.equal(true);
      // Nothing stays with the recorder.
      expect(await c.usdc.balanceOf(c.recorder)).to.equal(0n);
    });

    it("forwards the claims' encoding as sent, trailing bytes and all", async () => {
      const c = await loadFixture(claimsFixture);
      const data = c.recorder.interface.encodeFunctionData("claimAndAnchor", [c.claims, c.batch.root, 1n, 100n, c.batch.head]);
      await c.deviceKey.sendTransaction({ to: c.recorder, data: data + "ff".repeat(40) });
      expect((await c.channels.getChannel(c.ids[0]!)).claimed).to.equal(23n * PRICE);
      expect((await c.channels.getChannel(c.ids[1]!)).claimed).to.equal(37n * PRICE);
      expect((await c.channels.getChannel(c.ids[2]!)).claimed).to.equal(11n * PRICE);
      expect((await c.recorder.deviceLog(c.deviceKey)).anchoredSeq).to.equal(100n);
      // A claims offset that points outside the calldata is refused by the recorder's own decoder.
      const broken = data.slice(0, 10) + "ff".repeat(32) + data.slice(74);
      await expect(c.deviceKey.sendTransaction({ to: c.recorder, data: broken })).to.be.revert(ethers);
    });

    it("reverts as a whole when a claim fails: nothing anchored, nothing paid", async () => {
      const c = await loadFixture(claimsFixture);
      const device = await c.deviceKey.getAddress();
      const forged = { ...c.claims[1]!, signature: await signVoucher(c, c.payer, c.ids[1]!, 37n * PRICE) };
      await expect(c.recorder.connect(c.deviceKey).claimAndAnchor([forged], c.batch.root, 1n, 100n, c.batch.head))
        .to.be.revertedWithCustomError(c.channels, "InvalidSignature")
        .withArgs(c.ids[1], c.sessionKey.address, await c.payer.getAddress());
      await expect(c.recorder.connect(c.deviceKey).claimAndAnchor([], c.batch.root, 1n, 100n, c.batch.head)).to.be.revertedWithCustomError(
        c.channels,
        "EmptyBatch",
      );
      expect((await c.recorder.deviceLog(device)).anchoredSeq).to.equal(0n);
    });

    it("reverts as a whole when the anchor is wrong: nothing claimed", async () => {
      const c = await loadFixture(claimsFixture);
      const before = await c.usdc.balanceOf(c.provider);
      await expect(c.recorder.connect(c.deviceKey).claimAndAnchor(c.claims, c.batch.root, 2n, 100n, c.batch.head))
        .to.be.revertedWithCustomError(c.recorder, "NonContiguousAnchor")
        .withArgs(await c.deviceKey.getAddress(), 2n, 100n, 1n);
      await expect(c.recorder.connect(c.deviceKey).claimAndAnchor(c.claims, ZeroHash, 1n, 100n, c.batch.head)).to.be.revertedWithCustomError(
        c.recorder,
        "ZeroRoot",
      );
      expect(await c.usdc.balanceOf(c.provider)).to.equal(before);
      expect((await c.channels.getChannel(c.ids[1]!)).claimed).to.equal(0n);
    });

    it("adds one anchor's worth of gas to claimMany", async () => {
      let c = await loadFixture(claimsFixture);
      const plain = (await (await c.channels.connect(c.deviceKey).claimMany(c.claims)).wait())!.gasUsed;
      c = await loadFixture(claimsFixture);
      const combined = (await (await c.recorder.connect(c.deviceKey).claimAndAnchor(c.claims, c.batch.root, 1n, 100n, c.batch.head)).wait())!
        .gasUsed;
      const overhead = combined - plain;
      // A first anchor writes two fresh storage words (2 x 22.1k); the rest is the call, calldata and the event.
      expect(overhead > 44_200n, `overhead ${overhead}`).to.equal(true);
      expect(overhead < 60_000n, `overhead ${overhead}`).to.equal(true);
    });
  });

  describe("reportEquivocation", () => {
    /** Two receipts for the same model and input with different outputs, both signed by the device. */
    async function conflictFixture() {
      const c = await recorderFixture();
      const a = receiptAt(c, 3n, { inputHash: h("same input") });
      const b = receiptAt(c, 9n, { inputHash: h("same input"), outputHash: h("tampered output"), cumulativeAmount: 9n * PRICE });
      return { ...c, a, b, sigA: await signReceipt(c, a), sigB: await signReceipt(c, b) };
    }

    it("slashes the whole stake: half to the reporter, half to the treasury, and removes the device", async () => {
      const c = await loadFixture(conflictFixture);
      const device = await c.deviceKey.getAddress();
      const reporter = await c.other.getAddress();
      const reporterBefore = await c.usdc.balanceOf(reporter);
      const tx = c.recorder.connect(c.other).reportEquivocation(device, c.a, c.sigA, c.b, c.sigB);
      const half = MIN_STAKE / 2n;
      await expect(tx)
        .to.emit(c.recorder, "EquivocationProven")
        .withArgs(device, reporter, digestOf(c, c.a), digestOf(c, c.b), MIN_STAKE, half);
      await expect(tx).to.emit(c.devices, "DeviceSlashed").withArgs(device, reporter, half, false);
      await expect(tx).to.emit(c.devices, "DeviceSlashed").withArgs(device, c.treasury.address, half, true);
      const now = BigInt(await time.latest());
      await expect(tx).to.emit(c.devices, "DeviceStatusChanged").withArgs(device, Status.Removed, now + UNBONDING_DELAY);
      expect(await c.usdc.balanceOf(reporter)).to.equal(reporterBefore + half);
      expect(await c.usdc.balanceOf(c.treasury)).to.equal(half);
      const d = await c.devices.getDevice(device);
      expect(d.stake).to.equal(0n);
      expect(d.status).to.equal(Status.Removed);
      expect((await c.recorder.deviceLog(device)).convicted).to.equal(true);
    });

    it("convicts once: a partial slash leaves the rest unbonding, and a second pair is refused", async () => {
      const c = await loadFixture(conflictFixture);
      const recorder = await deployRecorder(c, { slashBps: 4_000, reporterBps: 2_500 });
      const device = await c.deviceKey.getAddress();
      await expect(recorder.connect(c.other).reportEquivocation(device, c.a, c.sigA, c.b, c.sigB))
        .to.emit(recorder, "EquivocationProven")
        .withArgs(device, await c.other.getAddress(), digestOf(c, c.a), digestOf(c, c.b), 4_000_000n, 1_000_000n);
      expect(await c.usdc.balanceOf(c.treasury)).to.equal(3_000_000n);
      expect((await c.devices.getDevice(device)).stake).to.equal(6_000_000n);
      // The same pair in the other order, or another pair: the device is convicted already.
      await expect(recorder.connect(c.other).reportEquivocation(device, c.b, c.sigB, c.a, c.sigA))
        .to.be.revertedWithCustomError(recorder, "AlreadyConvicted")
        .withArgs(device);
    });

    it("sends everything to the treasury when the reporter share is zero", async () => {
      const c = await loadFixture(conflictFixture);
      const recorder = await deployRecorder(c, { reporterBps: 0 });
      const device = await c.deviceKey.getAddress();
      const tx = recorder.connect(c.other).reportEquivocation(device, c.a, c.sigA, c.b, c.sigB);
      await expect(tx).to.emit(recorder, "EquivocationProven").withArgs(device, await c.other.getAddress(), digestOf(c, c.a), digestOf(c, c.b), MIN_STAKE, 0n);
      await expect(tx).to.emit(c.devices, "DeviceSlashed").withArgs(device, c.treasury.address, MIN_STAKE, true);
      expect(await c.usdc.balanceOf(c.treasury)).to.equal(MIN_STAKE);
    });

    describe("false accusations fail with a clear error and change nothing", () => {
      async function expectUnchanged(c: Awaited<ReturnType<typeof conflictFixture>>, run: () => Promise<void>) {
        const device = await c.deviceKey.getAddress();
        const before = [await c.devices.getDevice(device), await c.recorder.deviceLog(device), await c.usdc.balanceOf(c.other)].map(String);
        await run();
        const after = [await c.devices.getDevice(device), await c.recorder.deviceLog(device), await c.usdc.balanceOf(c.other)].map(String);
        expect(after).to.deep.equal(before);
      }

      it("identical outputs", async () => {
        const c = await loadFixture(conflictFixture);
        const device = await c.deviceKey.getAddress();
        const twin = { ...c.b, outputHash: c.a.outputHash };
        await expectUnchanged(c, async () => {
          await expect(c.recorder.reportEquivocation(device, c.a, c.sigA, twin, await signReceipt(c, twin)))
            .to.be.revertedWithCustomError(c.recorder, "IdenticalOutputs")
            .withArgs(c.a.outputHash);
          // The very same receipt twice.
          await expect(c.recorder.reportEquivocation(device, c.a, c.sigA, c.a, c.sigA))
            .to.be.revertedWithCustomError(c.recorder, "IdenticalOutputs")
            .withArgs(c.a.outputHash);
        });
      });

      it("different inputs", async () => {
        const c = await loadFixture(conflictFixture);
        const device = await c.deviceKey.getAddress();
        const other = { ...c.b, inputHash: h("another input") };
        await expect(c.recorder.reportEquivocation(device, c.a, c.sigA, other, await signReceipt(c, other)))
          .to.be.revertedWithCustomError(c.recorder, "InputMismatch")
          .withArgs(c.a.inputHash, other.inputHash);
      });

      it("different model id or model version hash", async () => {
        const c = await loadFixture(conflictFixture);
        const device = await c.deviceKey.getAddress();
        const otherId = { ...c.b, modelId: 2n };
        await expect(c.recorder.reportEquivocation(device, c.a, c.sigA, otherId, await signReceipt(c, otherId)))
          .to.be.revertedWithCustomError(c.recorder, "ModelMismatch")
          .withArgs(c.a.modelId, c.a.modelHash, 2n, c.a.modelHash);
        const otherHash = { ...c.b, modelHash: h("v2.onnx") };
        await expect(c.recorder.reportEquivocation(device, c.a, c.sigA, otherHash, await signReceipt(c, otherHash)))
          .to.be.revertedWithCustomError(c.recorder, "ModelMismatch")
          .withArgs(c.a.modelId, c.a.modelHash, c.a.modelId, otherHash.modelHash);
      });

      it("a forged signature, a malformed one, or one for the wrong device", async () => {
        const c = await loadFixture(conflictFixture);
        const device = await c.deviceKey.getAddress();
        const digestB = digestOf(c, c.b);
        const forger = Wallet.createRandom();
        const forged = await signReceipt(c, c.b, forger);
        await expectUnchanged(c, async () => {
          await expect(c.recorder.reportEquivocation(device, c.a, c.sigA, c.b, forged))
            .to.be.revertedWithCustomError(c.recorder, "InvalidReceiptSignature")
            .withArgs(device, digestB, forger.address);
          // A signature over one receipt presented with another.
          await expect(c.recorder.reportEquivocation(device, c.a, c.sigA, c.b, c.sigA))
            .to.be.revertedWithCustomError(c.recorder, "InvalidReceiptSignature")
            .withArgs(device, digestB, recoverDigest(digestB, c.sigA));
          await expect(c.recorder.reportEquivocation(device, c.a, "0x1234", c.b, c.sigB))
            .to.be.revertedWithCustomError(c.recorder, "InvalidReceiptSignature")
            .withArgs(device, digestOf(c, c.a), ZeroAddress);
          // Genuine receipts of device 1 reported against device 2.
          await expect(c.recorder.reportEquivocation(OTHER_DEVICE_WALLET.address, c.a, c.sigA, c.b, c.sigB))
            .to.be.revertedWithCustomError(c.recorder, "InvalidReceiptSignature")
            .withArgs(OTHER_DEVICE_WALLET.address, digestOf(c, c.a), device);
        });
      });

      it("receipts signed for another chain or another contract", async () => {
        const c = await loadFixture(conflictFixture);
        const device = await c.deviceKey.getAddress();
        const digestB = digestOf(c, c.b);
        const otherChain = await signReceipt(c, c.b, DEVICE_WALLET, channelsDomain(1n, c.channelsAddress));
        const otherContract = await signReceipt(c, c.b, DEVICE_WALLET, channelsDomain(c.chainId, await c.recorder.getAddress()));
        await expectUnchanged(c, async () => {
          for (const sig of [otherChain, otherContract]) {
            await expect(c.recorder.reportEquivocation(device, c.a, c.sigA, c.b, sig))
              .to.be.revertedWithCustomError(c.recorder, "InvalidReceiptSignature")
              .withArgs(device, digestB, recoverDigest(digestB, sig));
          }
        });
      });

      it("an unregistered device key, and a device with nothing left at stake", async () => {
        const c = await loadFixture(conflictFixture);
        const stranger = Wallet.createRandom();
        const sa = await signReceipt(c, c.a, stranger);
        const sb = await signReceipt(c, c.b, stranger);
        await expect(c.recorder.reportEquivocation(stranger.address, c.a, sa, c.b, sb))
          .to.be.revertedWithCustomError(c.devices, "DeviceNotFound")
          .withArgs(stranger.address);
        // The whole stake went by an earlier dispute (here a direct slash by another slasher).
        const device = await c.deviceKey.getAddress();
        await c.devices.connect(c.admin).grantRole(SLASHER_ROLE, c.slasher);
        await c.devices.connect(c.slasher).slash(device, MIN_STAKE, c.treasury.address, true);
        await expect(c.recorder.reportEquivocation(device, c.a, c.sigA, c.b, c.sigB))
          .to.be.revertedWithCustomError(c.recorder, "NothingAtStake")
          .withArgs(device);
        expect((await c.recorder.deviceLog(device)).convicted).to.equal(false);
      });

      it("a recorder without SLASHER_ROLE cannot slash", async () => {
        const c = await loadFixture(conflictFixture);
        await c.devices.connect(c.admin).revokeRole(SLASHER_ROLE, c.recorder);
        await expect(c.recorder.reportEquivocation(await c.deviceKey.getAddress(), c.a, c.sigA, c.b, c.sigB))
          .to.be.revertedWithCustomError(c.devices, "AccessControlUnauthorizedAccount")
          .withArgs(await c.recorder.getAddress(), SLASHER_ROLE);
      });
    });
  });

  describe("omission", () => {
    /**
     * The device handed the buyer receipt 5 (`held`) but anchored a tree in which sequence 5 is another receipt
     * (`substitute`, e.g. a rewritten output).
     */
    async function omittedFixture() {
      const c = await recorderFixture();
      const honest = receiptChain(c, 1n, 10);
      const held = receiptAt(c, 5n, { previous: honest[4]!.previous, outputHash: h("what the buyer got") });
      const batch = await anchorReceipts(c, honest);
      return { ...c, batch, held, heldSig: await signReceipt(c, held), heldDigest: digestOf(c, held) };
    }

    describe("challengeOmission", () => {
      it("opens a challenge, pulls the bond and records the anchored root", async () => {
        const c = await loadFixture(anchoredFixture);
        const device = await c.deviceKey.getAddress();
        const buyer = await c.payer.getAddress();
        const balance = await c.usdc.balanceOf(buyer);
        const tx = await c.recorder.connect(c.payer).challengeOmission(device, c.held, c.heldSig, c.batch.root, 1n, 10n);
        const block = await ethers.provider.getBlock((await tx.wait())!.blockNumber);
        const deadline = BigInt(block!.timestamp) + ANSWER_WINDOW;
        await expect(tx)
          .to.emit(c.recorder, "OmissionChallenged")
          .withArgs(device, c.heldDigest, buyer, 5n, c.batch.root, deadline, BOND);
        expect(await c.usdc.balanceOf(buyer)).to.equal(balance - BOND);
        expect(await c.usdc.balanceOf(c.recorder)).to.equal(BOND);
        expect(challengeFields(await c.recorder.getChallenge(device, c.heldDigest))).to.deep.equal([buyer, deadline, ChallengeStatus.Open, c.batch.root]);
        expect(challengeFields(await c.recorder.getChallenge(device, h("unknown")))).to.deep.equal([ZeroAddress, 0n, ChallengeStatus.None, ZeroHash]);
      });

      it("works without a bond when the bond is zero", async () => {
        const c = await loadFixture(anchoredFixture);
        const recorder = await deployRecorder(c, { bond: 0n });
        await anchorReceiptsWith(c, recorder);
        const balance = await c.usdc.balanceOf(c.payer);
        await expect(recorder.connect(c.payer).challengeOmission(c.deviceKey, c.held, c.heldSig, c.batch.root, 1n, 10n))
          .to.emit(recorder, "OmissionChallenged")
          .withArgs(await c.deviceKey.getAddress(), c.heldDigest, await c.payer.getAddress(), 5n, c.batch.root, anyUint, 0n);
        expect(await c.usdc.balanceOf(c.payer)).to.equal(balance);
      });

      describe("refuses, with no state change", () => {
        async function expectNoChallenge(c: Awaited<ReturnType<typeof anchoredFixture>>, digest: string) {
          expect((await c.recorder.getChallenge(c.deviceKey, digest)).status).to.equal(ChallengeStatus.None);
          expect(await c.usdc.balanceOf(c.recorder)).to.equal(0n);
        }

        it("a forged signature or one for another chain or contract", async () => {
          const c = await loadFixture(anchoredFixture);
          const device = await c.deviceKey.getAddress();
          const forger = Wallet.createRandom();
          for (const sig of [
            await signReceipt(c, c.held, forger),
            await signReceipt(c, c.held, DEVICE_WALLET, channelsDomain(31n, c.channelsAddress)),
            await signReceipt(c, c.held, DEVICE_WALLET, channelsDomain(c.chainId, await c.devices.getAddress())),
          ]) {
            await expect(c.recorder.connect(c.payer).challengeOmission(device, c.held, sig, c.batch.root, 1n, 10n))
              .to.be.revertedWithCustomError(c.recorder, "InvalidReceiptSignature")
              .withArgs(device, c.heldDigest, recoverDigest(c.heldDigest, sig));
          }
          await expectNoChallenge(c, c.heldDigest);
        });

        it("an unknown or un-anchored sequence", async () => {
          const c = await loadFixture(anchoredFixture);
          const device = await c.deviceKey.getAddress();
          for (const sequence of [11n, 1_000n, 0n]) {
            const r = receiptAt(c, sequence);
            await expect(c.recorder.connect(c.payer).challengeOmission(device, r, await signReceipt(c, r), c.batch.root, 1n, 10n))
              .to.be.revertedWithCustomError(c.recorder, "SequenceNotAnchored")
              .withArgs(device, sequence, 10n);
          }
          // A device that never anchored.
          const r = receiptAt(c, 1n);
          await expect(
            c.recorder.connect(c.payer).challengeOmission(OTHER_DEVICE_WALLET.address, r, await signReceipt(c, r, OTHER_DEVICE_WALLET), c.batch.root, 1n, 10n),
          )
            .to.be.revertedWithCustomError(c.recorder, "SequenceNotAnchored")
            .withArgs(OTHER_DEVICE_WALLET.address, 1n, 0n);
          await expectNoChallenge(c, c.heldDigest);
        });

        it("an anchor that does not exist (wrong root, start or end)", async () => {
          const c = await loadFixture(anchoredFixture);
          const device = await c.deviceKey.getAddress();
          const cases: [string, bigint, bigint][] = [
            [h("other root"), 1n, 10n],
            [c.batch.root, 1n, 9n],
            [c.batch.root, 1n, 11n],
            [c.batch.root, 2n, 10n],
            [ZeroHash, 1n, 10n],
          ];
          for (const [root, from, to] of cases) {
            await expect(c.recorder.connect(c.payer).challengeOmission(device, c.held, c.heldSig, root, from, to))
              .to.be.revertedWithCustomError(c.recorder, "AnchorNotFound")
              .withArgs(device, root, from, to);
          }
          await expectNoChallenge(c, c.heldDigest);
        });

        it("a sequence outside the anchor named", async () => {
          const c = await loadFixture(anchoredFixture);
          const device = await c.deviceKey.getAddress();
          const more = receiptChain(c, 11n, 5, c.batch.head);
          const second = await anchorReceipts(c, more);
          // Receipt 5 is in anchor 1..10, not in 11..15; receipt 13 is in 11..15, not in 1..10.
          await expect(c.recorder.connect(c.payer).challengeOmission(device, c.held, c.heldSig, second.root, 11n, 15n))
            .to.be.revertedWithCustomError(c.recorder, "SequenceOutOfRange")
            .withArgs(5n, 11n, 15n);
          const r13 = more[2]!;
          await expect(c.recorder.connect(c.payer).challengeOmission(device, r13, await signReceipt(c, r13), c.batch.root, 1n, 10n))
            .to.be.revertedWithCustomError(c.recorder, "SequenceOutOfRange")
            .withArgs(13n, 1n, 10n);
          await expectNoChallenge(c, c.heldDigest);
        });

        it("a receipt challenged before", async () => {
          const c = await loadFixture(anchoredFixture);
          const device = await c.deviceKey.getAddress();
          await c.recorder.connect(c.payer).challengeOmission(device, c.held, c.heldSig, c.batch.root, 1n, 10n);
          await expect(c.recorder.connect(c.other).challengeOmission(device, c.held, c.heldSig, c.batch.root, 1n, 10n))
            .to.be.revertedWithCustomError(c.recorder, "ChallengeExists")
            .withArgs(device, c.heldDigest, ChallengeStatus.Open);
          await c.recorder.answerOmission(device, c.heldDigest, getProof(c.batch.tree, 4));
          await expect(c.recorder.connect(c.payer).challengeOmission(device, c.held, c.heldSig, c.batch.root, 1n, 10n))
            .to.be.revertedWithCustomError(c.recorder, "ChallengeExists")
            .withArgs(device, c.heldDigest, ChallengeStatus.Answered);
        });

        it("an unregistered device, a device without stake, and a challenger without bond allowance", async () => {
          const c = await loadFixture(anchoredFixture);
          // An unregistered key that anchors (anyone may anchor under its own key) cannot be challenged.
          const r = receiptAt(c, 1n);
          const stranger = c.other;
          const strangerWallet = new Wallet(TEST_KEYS[4]);
          const b = await anchorReceipts(c, [r], stranger);
          await expect(c.recorder.connect(c.payer).challengeOmission(stranger, r, await signReceipt(c, r, strangerWallet), b.root, 1n, 1n))
            .to.be.revertedWithCustomError(c.devices, "DeviceNotFound")
            .withArgs(await stranger.getAddress());

          const device = await c.deviceKey.getAddress();
          await c.usdc.connect(c.payer).approve(c.recorder, BOND - 1n);
          await expect(c.recorder.connect(c.payer).challengeOmission(device, c.held, c.heldSig, c.batch.root, 1n, 10n))
            .to.be.revertedWithCustomError(c.usdc, "ERC20InsufficientAllowance")
            .withArgs(await c.recorder.getAddress(), BOND - 1n, BOND);

          await c.devices.connect(c.admin).grantRole(SLASHER_ROLE, c.slasher);
          await c.devices.connect(c.slasher).slash(device, MIN_STAKE, c.treasury.address, true);
          await expect(c.recorder.connect(c.payer).challengeOmission(device, c.held, c.heldSig, c.batch.root, 1n, 10n))
            .to.be.revertedWithCustomError(c.recorder, "NothingAtStake")
            .withArgs(device);
          await expectNoChallenge(c, c.heldDigest);
        });
      });
    });

    describe("answerOmission", () => {
      it("a receipt that is included: the proof answers it and the bond goes to the device owner", async () => {
        const c = await loadFixture(anchoredFixture);
        const device = await c.deviceKey.getAddress();
        await c.recorder.connect(c.payer).challengeOmission(device, c.held, c.heldSig, c.batch.root, 1n, 10n);
        const owner = await c.provider.getAddress();
        const ownerBalance = await c.usdc.balanceOf(owner);
        // Anyone may post the proof (here a watchtower); the bond goes to the owner, so copying the answer gains nothing.
        await expect(c.recorder.connect(c.other).answerOmission(device, c.heldDigest, getProof(c.batch.tree, 4)))
          .to.emit(c.recorder, "OmissionAnswered")
          .withArgs(device, c.heldDigest, await c.other.getAddress(), owner);
        expect(await c.usdc.balanceOf(owner)).to.equal(ownerBalance + BOND);
        expect(await c.usdc.balanceOf(c.recorder)).to.equal(0n);
        expect((await c.recorder.getChallenge(device, c.heldDigest)).status).to.equal(ChallengeStatus.Answered);
        const d = await c.devices.getDevice(device);
        expect(d.stake).to.equal(MIN_STAKE);
        expect(d.status).to.equal(Status.Active);
        // Nothing left to enforce or answer.
        await expect(c.recorder.enforceOmission(device, c.heldDigest))
          .to.be.revertedWithCustomError(c.recorder, "ChallengeNotOpen")
          .withArgs(device, c.heldDigest, ChallengeStatus.Answered);
        await expect(c.recorder.answerOmission(device, c.heldDigest, getProof(c.batch.tree, 4)))
          .to.be.revertedWithCustomError(c.recorder, "ChallengeNotOpen")
          .withArgs(device, c.heldDigest, ChallengeStatus.Answered);
      });

      it("accepts an answer at the last second of the window", async () => {
        const c = await loadFixture(anchoredFixture);
        const device = await c.deviceKey.getAddress();
        await c.recorder.connect(c.payer).challengeOmission(device, c.held, c.heldSig, c.batch.root, 1n, 10n);
        const { deadline } = await c.recorder.getChallenge(device, c.heldDigest);
        await time.setNextBlockTimestamp(deadline);
        await expect(c.recorder.connect(c.deviceKey).answerOmission(device, c.heldDigest, getProof(c.batch.tree, 4))).to.emit(
          c.recorder,
          "OmissionAnswered",
        );
      });

      it("rejects malformed and wrong proofs with the root they lead to", async () => {
        const c = await loadFixture(omittedFixture);
        const device = await c.deviceKey.getAddress();
        await c.recorder.connect(c.payer).challengeOmission(device, c.held, c.heldSig, c.batch.root, 1n, 10n);
        const leaf = receiptLeaf(c.heldDigest);
        const proofs: Hex[][] = [
          [], // no proof
          getProof(c.batch.tree, 4), // the substitute's path
          getProof(c.batch.tree, 4).slice(1), // truncated
          [...getProof(c.batch.tree, 4), h("extra")], // padded
          [h("junk"), h("more junk")],
        ];
        for (const proof of proofs) {
          await expect(c.recorder.connect(c.deviceKey).answerOmission(device, c.heldDigest, proof))
            .to.be.revertedWithCustomError(c.recorder, "InvalidInclusionProof")
            .withArgs(device, c.heldDigest, c.batch.root, processProof(proof, leaf));
        }
        // The substitute's digest is in the tree, but it is not the receipt challenged.
        expect(verifyProof(getProof(c.batch.tree, 4), c.batch.root, c.batch.tree.levels[0]![4]!)).to.equal(true);
        expect((await c.recorder.getChallenge(device, c.heldDigest)).status).to.equal(ChallengeStatus.Open);
      });

      it("refuses unknown challenges and answers after the window", async () => {
        const c = await loadFixture(anchoredFixture);
        const device = await c.deviceKey.getAddress();
        await expect(c.recorder.answerOmission(device, c.heldDigest, getProof(c.batch.tree, 4)))
          .to.be.revertedWithCustomError(c.recorder, "ChallengeNotOpen")
          .withArgs(device, c.heldDigest, ChallengeStatus.None);
        await c.recorder.connect(c.payer).challengeOmission(device, c.held, c.heldSig, c.batch.root, 1n, 10n);
        // Same digest, other device: another challenge id.
        await expect(c.recorder.answerOmission(OTHER_DEVICE_WALLET.address, c.heldDigest, getProof(c.batch.tree, 4)))
          .to.be.revertedWithCustomError(c.recorder, "ChallengeNotOpen")
          .withArgs(OTHER_DEVICE_WALLET.address, c.heldDigest, ChallengeStatus.None);
        const { deadline } = await c.recorder.getChallenge(device, c.heldDigest);
        await time.setNextBlockTimestamp(deadline + 1n);
        await expect(c.recorder.answerOmission(device, c.heldDigest, getProof(c.batch.tree, 4)))
          .to.be.revertedWithCustomError(c.recorder, "AnswerWindowOver")
          .withArgs(device, c.heldDigest, deadline);
      });
    });

    describe("enforceOmission", () => {
      it("slashes an unanswered omission after the window: reward and bond to the challenger, rest to the treasury", async () => {
        const c = await loadFixture(omittedFixture);
        const device = await c.deviceKey.getAddress();
        const buyer = await c.payer.getAddress();
        await c.recorder.connect(c.payer).challengeOmission(device, c.held, c.heldSig, c.batch.root, 1n, 10n);
        const buyerBalance = await c.usdc.balanceOf(buyer);
        const { deadline } = await c.recorder.getChallenge(device, c.heldDigest);
        await time.setNextBlockTimestamp(deadline);
        await expect(c.recorder.connect(c.other).enforceOmission(device, c.heldDigest))
          .to.be.revertedWithCustomError(c.recorder, "AnswerWindowOpen")
          .withArgs(device, c.heldDigest, deadline);
        // Anyone may enforce once the window is over; the challenger gets the reward.
        await time.setNextBlockTimestamp(deadline + 1n);
        const tx = c.recorder.connect(c.other).enforceOmission(device, c.heldDigest);
        const half = MIN_STAKE / 2n;
        await expect(tx).to.emit(c.recorder, "OmissionEnforced").withArgs(device, c.heldDigest, buyer, MIN_STAKE, half);
        await expect(tx).to.emit(c.devices, "DeviceSlashed").withArgs(device, buyer, half, false);
        await expect(tx).to.emit(c.devices, "DeviceSlashed").withArgs(device, c.treasury.address, half, true);
        expect(await c.usdc.balanceOf(buyer)).to.equal(buyerBalance + half + BOND);
        expect(await c.usdc.balanceOf(c.treasury)).to.equal(half);
        expect(await c.usdc.balanceOf(c.recorder)).to.equal(0n);
        const d = await c.devices.getDevice(device);
        expect(d.stake).to.equal(0n);
        expect(d.status).to.equal(Status.Removed);
        expect((await c.recorder.getChallenge(device, c.heldDigest)).status).to.equal(ChallengeStatus.Enforced);
        await expect(c.recorder.enforceOmission(device, c.heldDigest))
          .to.be.revertedWithCustomError(c.recorder, "ChallengeNotOpen")
          .withArgs(device, c.heldDigest, ChallengeStatus.Enforced);
        await expect(c.recorder.answerOmission(device, c.heldDigest, []))
          .to.be.revertedWithCustomError(c.recorder, "ChallengeNotOpen")
          .withArgs(device, c.heldDigest, ChallengeStatus.Enforced);
        await expect(c.recorder.connect(c.payer).challengeOmission(device, c.held, c.heldSig, c.batch.root, 1n, 10n))
          .to.be.revertedWithCustomError(c.recorder, "ChallengeExists")
          .withArgs(device, c.heldDigest, ChallengeStatus.Enforced);
      });

      it("refunds the bond even when an earlier dispute already took the stake", async () => {
        const c = await loadFixture(omittedFixture);
        const device = await c.deviceKey.getAddress();
        await c.recorder.connect(c.payer).challengeOmission(device, c.held, c.heldSig, c.batch.root, 1n, 10n);
        // Meanwhile the device is convicted of equivocation.
        const a = receiptAt(c, 20n, { inputHash: h("x") });
        const b = receiptAt(c, 21n, { inputHash: h("x"), outputHash: h("y") });
        await c.recorder.connect(c.other).reportEquivocation(device, a, await signReceipt(c, a), b, await signReceipt(c, b));
        const buyerBalance = await c.usdc.balanceOf(c.payer);
        await time.increase(ANSWER_WINDOW + 1n);
        await expect(c.recorder.enforceOmission(device, c.heldDigest))
          .to.emit(c.recorder, "OmissionEnforced")
          .withArgs(device, c.heldDigest, await c.payer.getAddress(), 0n, 0n);
        expect(await c.usdc.balanceOf(c.payer)).to.equal(buyerBalance + BOND);
      });

      it("refuses unknown challenges", async () => {
        const c = await loadFixture(omittedFixture);
        await expect(c.recorder.enforceOmission(c.deviceKey, c.heldDigest))
          .to.be.revertedWithCustomError(c.recorder, "ChallengeNotOpen")
          .withArgs(await c.deviceKey.getAddress(), c.heldDigest, ChallengeStatus.None);
      });
    });
  });

  describe("Ignition core module", () => {
    it("deploys the recorder wired to PaymentChannels and DeviceRegistry, holding SLASHER_ROLE", async () => {
      const { ignition } = await network.create();
      const deployed = await ignition.deploy(EdgepayLocal);
      const recorder = typed(deployed.flightRecorder, flightRecorderAbi);
      expect(await recorder.paymentChannels()).to.equal(await deployed.paymentChannels.getAddress());
      expect(await recorder.deviceRegistry()).to.equal(await deployed.deviceRegistry.getAddress());
      expect(await recorder.stakeToken()).to.equal(await deployed.token.getAddress());
      expect(await recorder.slashBps()).to.equal(10_000n);
      expect(await recorder.reporterBps()).to.equal(2_000n);
      expect(await recorder.answerWindow()).to.equal(24n * 3600n);
      expect(await recorder.challengeBond()).to.equal(1_000_000n);
      expect(await recorder.treasury()).to.equal(TEST_ADDRESS_0);
      const role = await deployed.deviceRegistry.getFunction("SLASHER_ROLE")();
      expect(role).to.equal(SLASHER_ROLE);
      expect(await deployed.deviceRegistry.getFunction("hasRole")(SLASHER_ROLE, recorder)).to.equal(true);
      // AnswerDisputes is the registry's guard and passes the recorder's lock on.
      expect(await deployed.deviceRegistry.getFunction("stakeGuard")()).to.equal(await deployed.answerDisputes.getAddress());
      expect(await deployed.answerDisputes.getFunction("innerGuard")()).to.equal(await recorder.getAddress());
      expect(await deployed.deviceRegistry.getFunction("hasRole")(SLASHER_ROLE, deployed.answerDisputes)).to.equal(true);
      // The deployer renounced the admin role: nobody can grant SLASHER_ROLE (or anything) any more.
      expect(await deployed.deviceRegistry.getFunction("hasRole")(ZeroHash, TEST_ADDRESS_0)).to.equal(false);
      await expect(deployed.deviceRegistry.getFunction("grantRole")(SLASHER_ROLE, TEST_ADDRESS_0))
        .to.be.revertedWithCustomError(deployed.deviceRegistry, "AccessControlUnauthorizedAccount")
        .withArgs(TEST_ADDRESS_0, ZeroHash);
    });
  });
});

/** The anchoredFixture's receipts anchored again on another recorder. */
async function anchorReceiptsWith(c: Awaited<ReturnType<typeof anchoredFixture>>, recorder: typeof c.recorder) {
  await recorder.connect(c.deviceKey).anchor(c.batch.root, c.batch.fromSeq, c.batch.toSeq, c.batch.head);
}

function challengeFields(ch: { challenger: string; deadline: bigint; status: bigint; root: string }) {
  return [ch.challenger, ch.deadline, ch.status, ch.root];
}
