// AnswerDisputes: verifier pool, front-running-safe opening with on-chain evidence checks, committee draw with
// exclusions, commit-reveal votes with replacement of absent members, and the money of every outcome.
import { expect } from "chai";
import { Wallet, ZeroAddress, keccak256, toUtf8Bytes, type Signer } from "ethers";
import type { Hex } from "viem";
import { answerDisputeId } from "../../protocol/answer-disputes.ts";
import { disputeEvidence } from "../../protocol/client/dispute-evidence.ts";
import type { SpotCheckEvidence } from "../../protocol/client/spot-check-records.ts";
import type { ChannelTerms } from "../../protocol/terms.ts";
import { tensorToWire, type Tensor } from "../../protocol/tensors.ts";
import { answerDisputesAbi } from "../../protocol/generated/contracts.ts";
import { MAX_UINT96 as MAX_UINT96_LOCAL, MIN_STAKE, Status, UNBONDING_DELAY, ethers, idOf, networkHelpers, registerDevice, termsFor } from "./fixtures.ts";
import { OTHER_DEVICE_WALLET } from "./flight-recorder.helpers.ts";
import {
  CLAIMED_OUTPUTS,
  COMMIT_WINDOW,
  DEVICE_OUTPUTS,
  INPUTS,
  K,
  Outcome,
  PENALTY_BPS,
  Phase,
  REPORTER_BOND,
  REPORTER_BPS,
  REVEAL_WINDOW,
  SALT,
  SLASH_BPS,
  SeatState,
  VERIFIER_BOND,
  VERIFIER_BPS,
  commit,
  commitmentOf,
  config,
  digestOf,
  disputesFixture,
  evidence,
  f32,
  hex,
  receiptFor,
  signReceipt,
  voteCommitment,
  voteSalt,
  type DisputesContext,
  type Evidence,
} from "./answer-disputes.helpers.ts";
import { typed } from "./typed.ts";

const { loadFixture, time, mine } = networkHelpers;

async function open(c: DisputesContext, ev?: Evidence, reporter: Signer = c.payer) {
  const e = ev ?? (await evidence(c));
  await commit(c, e, reporter);
  await c.disputes.connect(reporter).openDispute(c.deviceKey, e, SALT);
  return { ev: e, id: await c.disputes.disputeId(c.deviceKey, digestOf(c, e.receipt)) };
}

/** A dispute opened by the payer about receipt 1, committee drawn. */
async function votingFixture() {
  const c = await disputesFixture();
  const { ev, id } = await open(c);
  await mine(1);
  await c.disputes.drawCommittee(id);
  const seats = await c.disputes.getSeats(id);
  const byDevice = new Map(c.honest.map((v) => [v.device.address, v]));
  const members = seats.map((s) => {
    const v = byDevice.get(s.verifier);
    if (!v) throw new Error(`seated ${s.verifier} is not an honest verifier`);
    return v;
  });
  return { ...c, ev, id, members };
}

type Voting = Awaited<ReturnType<typeof votingFixture>>;

async function commitVotes(c: Voting, votes: readonly (boolean | undefined)[]) {
  for (const [i, vote] of votes.entries()) {
    if (vote === undefined) continue;
    const m = c.members[i]!;
    await c.disputes.connect(m.device).commitVote(c.id, voteCommitment(c.id, m.device.address, vote, voteSalt(m.device.address)));
  }
}

async function revealVotes(c: Voting, votes: readonly (boolean | undefined)[]) {
  const d = await c.disputes.getDispute(c.id);
  if (BigInt(await time.latest()) < d.commitDeadline + 1n) await time.increaseTo(d.commitDeadline + 1n);
  for (const [i, vote] of votes.entries()) {
    if (vote === undefined) continue;
    const m = c.members[i]!;
    await c.disputes.connect(m.device).revealVote(c.id, vote, voteSalt(m.device.address));
  }
}

async function afterReveal(c: Voting) {
  const d = await c.disputes.getDispute(c.id);
  await time.increaseTo(d.revealDeadline + 1n);
}

/** Token balances of every party of a dispute. */
async function balances(c: Voting) {
  const of = async (a: string | Signer) => c.usdc.balanceOf(typeof a === "string" ? a : await a.getAddress());
  return {
    reporter: await of(c.payer),
    deviceOwner: await of(c.provider),
    treasury: await of(c.treasury),
    contract: await of(await c.disputes.getAddress()),
    members: await Promise.all(c.members.map((m) => of(m.owner))),
    stake: (await c.devices.getDevice(c.deviceKey)).stake,
  };
}

/** What the contract owes: every pool member's bond left plus open disputes' bonds. */
async function owed(c: DisputesContext, openBonds = 0n) {
  let total = openBonds;
  for (const device of (await c.disputes.poolOf(c.modelId)) as readonly string[]) total += (await c.disputes.getVerifier(c.modelId, device)).bond;
  return total;
}

describe("AnswerDisputes", () => {
  describe("deployment", () => {
    it("refuses zero addresses, even or oversized committees, out-of-range bps and zero windows", async () => {
      const c = await loadFixture(disputesFixture);
      const deploy = (over: Parameters<typeof config>[1], args?: unknown[]) =>
        ethers.deployContract("AnswerDisputes", args ?? [c.channels, c.devices, c.models, c.recorder, config(c.treasury, over)]);
      const factory = await ethers.getContractFactory("AnswerDisputes");
      await expect(deploy({}, [ZeroAddress, c.devices, c.models, c.recorder, config(c.treasury)])).to.be.revertedWithCustomError(factory, "ZeroAddress");
      await expect(deploy({}, [c.channels, c.devices, ZeroAddress, c.recorder, config(c.treasury)])).to.be.revertedWithCustomError(factory, "ZeroAddress");
      await expect(deploy({ treasury: ZeroAddress })).to.be.revertedWithCustomError(factory, "ZeroAddress");
      for (const size of [0, 2, 11]) {
        await expect(deploy({ committeeSize: size })).to.be.revertedWithCustomError(factory, "InvalidCommitteeSize").withArgs(size);
      }
      await expect(deploy({ slashBps: 0n })).to.be.revertedWithCustomError(factory, "InvalidBps").withArgs(0);
      await expect(deploy({ slashBps: 10_001n })).to.be.revertedWithCustomError(factory, "InvalidBps").withArgs(10_001);
      await expect(deploy({ reporterBps: 5_000n, verifierBps: 5_001n })).to.be.revertedWithCustomError(factory, "InvalidBps").withArgs(10_001);
      await expect(deploy({ penaltyBps: 10_001n })).to.be.revertedWithCustomError(factory, "InvalidBps").withArgs(10_001);
      await expect(deploy({ commitWindow: 0n })).to.be.revertedWithCustomError(factory, "ZeroWindow");
      await expect(deploy({ revealWindow: 0n })).to.be.revertedWithCustomError(factory, "ZeroWindow");
      // Limits: committee 9, all bps at their maximum, no inner guard.
      await deploy({ committeeSize: 9, slashBps: 10_000n, reporterBps: 4_000n, verifierBps: 6_000n, penaltyBps: 10_000n });
      await deploy({}, [c.channels, c.devices, c.models, ZeroAddress, config(c.treasury)]);
    });
  });

  describe("verifier pool", () => {
    it("joins with a bond and leaves with it (swap-and-pop keeps the pool consistent)", async () => {
      const c = await loadFixture(disputesFixture);
      const pool = await c.disputes.poolOf(c.modelId);
      expect(pool.length).to.equal(7);
      expect(await c.usdc.balanceOf(c.disputes)).to.equal(7n * VERIFIER_BOND);
      const first = c.honest[0]!;
      const before = await c.usdc.balanceOf(first.owner);
      await expect(c.disputes.connect(first.owner).leavePool(c.modelId, first.device))
        .to.emit(c.disputes, "VerifierLeft")
        .withArgs(c.modelId, first.device.address, await first.owner.getAddress(), VERIFIER_BOND);
      expect(await c.usdc.balanceOf(first.owner)).to.equal(before + VERIFIER_BOND);
      const after = await c.disputes.poolOf(c.modelId);
      expect(after.length).to.equal(6);
      expect(after).to.not.include(first.device.address);
      for (const [i, device] of (after as readonly string[]).entries()) expect((await c.disputes.getVerifier(c.modelId, device)).index).to.equal(BigInt(i + 1));
      expect(await c.usdc.balanceOf(c.disputes)).to.equal(6n * VERIFIER_BOND);
    });

    it("refuses a non-owner, an inactive device, an unlicensed owner, a second join, and a stranger leaving", async () => {
      const c = await loadFixture(disputesFixture);
      const v = c.honest[0]!;
      await expect(c.disputes.connect(c.other).joinPool(c.modelId, v.device))
        .to.be.revertedWithCustomError(c.disputes, "NotDeviceOwner")
        .withArgs(v.device.address, await c.other.getAddress());
      await expect(c.disputes.connect(v.owner).joinPool(c.modelId, v.device))
        .to.be.revertedWithCustomError(c.disputes, "AlreadyVerifier")
        .withArgs(c.modelId, v.device.address);
      // Model 2 exists but nobody licensed it.
      await c.models.connect(c.modelOwner).publish({ name: "other", contentHash: keccak256(toUtf8Bytes("other")), uri: "ipfs://o", royaltyBps: 0, licenseToken: ZeroAddress, licenseFee: 0n });
      await expect(c.disputes.connect(v.owner).joinPool(2n, v.device))
        .to.be.revertedWithCustomError(c.disputes, "ModelNotLicensed")
        .withArgs(2n, await v.owner.getAddress());
      await c.devices.connect(v.owner).pause(v.device);
      await c.models.connect(v.owner).takeLicense(2n, v.owner, 0n);
      await expect(c.disputes.connect(v.owner).joinPool(2n, v.device)).to.be.revertedWithCustomError(c.disputes, "DeviceNotActive").withArgs(v.device.address);
      await expect(c.disputes.connect(c.other).leavePool(c.modelId, v.device))
        .to.be.revertedWithCustomError(c.disputes, "NotDeviceOwner")
        .withArgs(v.device.address, await c.other.getAddress());
      await expect(c.disputes.connect(v.owner).leavePool(2n, v.device)).to.be.revertedWithCustomError(c.disputes, "NotVerifier").withArgs(2n, v.device.address);
    });

    it("caps a model's pool at MAX_POOL", async () => {
      const c = await loadFixture(disputesFixture);
      const max = Number(await c.disputes.MAX_POOL());
      const owner = c.other;
      await c.usdc.faucet(owner, 1_000_000_000n);
      await c.usdc.connect(owner).approve(c.models, MAX_UINT96_LOCAL);
      await c.models.connect(owner).takeLicense(c.modelId, owner, MAX_UINT96_LOCAL);
      await c.usdc.connect(owner).approve(c.disputes, MAX_UINT96_LOCAL);
      const stake = MIN_STAKE;
      let device: Wallet | undefined;
      for (let i = (await c.disputes.poolOf(c.modelId)).length; i <= max; i++) {
        device = new Wallet(keccak256(toUtf8Bytes(`pool filler ${i}`)));
        if (i % 10 === 0) await c.usdc.faucet(owner, 1_000_000_000n);
        await registerDevice(c, owner, device, stake);
        if (i < max) await c.disputes.connect(owner).joinPool(c.modelId, device);
      }
      expect((await c.disputes.poolOf(c.modelId)).length).to.equal(max);
      await expect(c.disputes.connect(owner).joinPool(c.modelId, device!)).to.be.revertedWithCustomError(c.disputes, "PoolFull").withArgs(c.modelId, max);
    });

    it("keeps a seated verifier in the pool until the dispute is resolved", async () => {
      const c = await loadFixture(votingFixture);
      const m = c.members[0]!;
      await expect(c.disputes.connect(m.owner).leavePool(c.modelId, m.device))
        .to.be.revertedWithCustomError(c.disputes, "VerifierBusy")
        .withArgs(c.modelId, m.device.address, 1n);
    });
  });

  describe("opening", () => {
    it("opens with the committed evidence: pulls the bond, holds the device's stake, emits the evidence digests", async () => {
      const c = await loadFixture(disputesFixture);
      const ev = await evidence(c);
      await commit(c, ev);
      const before = await c.usdc.balanceOf(c.payer);
      const digest = digestOf(c, ev.receipt);
      const id = await c.disputes.disputeId(c.deviceKey, digest);
      const block = (await ethers.provider.getBlockNumber()) + 1;
      await expect(c.disputes.connect(c.payer).openDispute(c.deviceKey, ev, SALT))
        .to.emit(c.disputes, "DisputeOpened")
        .withArgs(id, await c.deviceKey.getAddress(), await c.payer.getAddress(), c.modelId, digest, keccak256(ev.claimedOutputs), REPORTER_BOND, block + 1);
      expect(await c.usdc.balanceOf(c.payer)).to.equal(before - REPORTER_BOND);
      expect(id).to.equal(answerDisputeId((await c.deviceKey.getAddress()) as Hex, digest));
      const d = await c.disputes.getDispute(id);
      expect(d.phase).to.equal(Phase.Drawing);
      expect(d.deviceOwner).to.equal(await c.provider.getAddress());
      expect((await c.disputes.stakeLock(c.deviceKey))[0]).to.equal(1n);
      // The commitment is spent: it cannot open a second time.
      expect(await c.disputes.commitmentBlock(await commitmentOf(c, await c.payer.getAddress(), ev))).to.equal(0n);
    });

    it("gives a copier of the open transaction nothing: the commitment binds the reporter's address", async () => {
      const c = await loadFixture(disputesFixture);
      const ev = await evidence(c);
      await commit(c, ev);
      const copier = c.other;
      await expect(c.disputes.connect(copier).openDispute(c.deviceKey, ev, SALT))
        .to.be.revertedWithCustomError(c.disputes, "CommitmentNotFound")
        .withArgs(await commitmentOf(c, await copier.getAddress(), ev));
      // The copier commits now; the reporter's open still lands first and the copier's open finds the dispute taken.
      await commit(c, ev, copier);
      await c.disputes.connect(c.payer).openDispute(c.deviceKey, ev, SALT);
      const id = await c.disputes.disputeId(c.deviceKey, digestOf(c, ev.receipt));
      await c.usdc.connect(copier).approve(c.disputes, REPORTER_BOND);
      await expect(c.disputes.connect(copier).openDispute(c.deviceKey, ev, SALT)).to.be.revertedWithCustomError(c.disputes, "DisputeExists").withArgs(id);
      expect((await c.disputes.getDispute(id)).reporter).to.equal(await c.payer.getAddress());
    });

    it("refuses a commitment made twice, and an open without a commitment", async () => {
      const c = await loadFixture(disputesFixture);
      const ev = await evidence(c);
      await expect(c.disputes.connect(c.payer).openDispute(c.deviceKey, ev, SALT)).to.be.revertedWithCustomError(c.disputes, "CommitmentNotFound");
      await commit(c, ev);
      const commitment = await commitmentOf(c, await c.payer.getAddress(), ev);
      await expect(c.disputes.connect(c.payer).commitEvidence(commitment)).to.be.revertedWithCustomError(c.disputes, "CommitmentExists").withArgs(commitment);
    });

    it("accepts an open from the block after the commitment up to OPEN_WINDOW_BLOCKS after it, not in its block or later", async () => {
      const c = await loadFixture(disputesFixture);
      const ev = await evidence(c);
      const commitment = await commitmentOf(c, await c.payer.getAddress(), ev);
      // Same block: both transactions in one block.
      await ethers.provider.send("evm_setAutomine", [false]);
      try {
        await c.disputes.connect(c.payer).commitEvidence(commitment, { gasLimit: 200_000 });
        const sameBlock = await c.disputes.connect(c.payer).openDispute(c.deviceKey, ev, SALT, { gasLimit: 3_000_000 });
        await mine(1);
        const receipt = await ethers.provider.getTransactionReceipt(sameBlock.hash);
        expect(receipt?.status).to.equal(0);
      } finally {
        await ethers.provider.send("evm_setAutomine", [true]);
      }
      const at = await c.disputes.commitmentBlock(commitment);
      expect(at).to.be.greaterThan(0n);
      const window = await c.disputes.OPEN_WINDOW_BLOCKS();
      // Block at + window + 1 (one too late).
      await mine(Number(window));
      await expect(c.disputes.connect(c.payer).openDispute(c.deviceKey, ev, SALT))
        .to.be.revertedWithCustomError(c.disputes, "CommitmentExpired")
        .withArgs(at, at + window);
    });

    it("refuses an open in the commitment's own block (CommitmentTooFresh), and lets an expired commitment be renewed", async () => {
      const c = await loadFixture(disputesFixture);
      const ev = await evidence(c);
      const opener = await ethers.deployContract("SameBlockOpener");
      const commitment = await commitmentOf(c, await opener.getAddress(), ev);
      const block = (await ethers.provider.getBlockNumber()) + 1;
      await expect(opener.getFunction("commitAndOpen")(c.disputes, commitment, c.deviceKey, ev, SALT))
        .to.be.revertedWithCustomError(c.disputes, "CommitmentTooFresh")
        .withArgs(block);
      // The payer's commitment, let expire, then committed again and usable.
      await commit(c, ev);
      const mine256 = Number(await c.disputes.OPEN_WINDOW_BLOCKS());
      const own = await commitmentOf(c, await c.payer.getAddress(), ev);
      await expect(c.disputes.connect(c.payer).commitEvidence(own)).to.be.revertedWithCustomError(c.disputes, "CommitmentExists");
      await mine(mine256);
      await c.disputes.connect(c.payer).commitEvidence(own);
      await c.disputes.connect(c.payer).openDispute(c.deviceKey, ev, SALT);
      expect((await c.disputes.stakeLock(c.deviceKey))[0]).to.equal(1n);
    });

    it("accepts an open exactly OPEN_WINDOW_BLOCKS after the commitment", async () => {
      const c = await loadFixture(disputesFixture);
      const ev = await evidence(c);
      await commit(c, ev);
      const at = await c.disputes.commitmentBlock(await commitmentOf(c, await c.payer.getAddress(), ev));
      await mine(Number(await c.disputes.OPEN_WINDOW_BLOCKS()) - 1);
      await c.disputes.connect(c.payer).openDispute(c.deviceKey, ev, SALT);
      expect(BigInt(await ethers.provider.getBlockNumber())).to.equal(at + 256n);
    });

    it("refuses a forged receipt, foreign channel terms, another device's channel and a model the device was not paid for", async () => {
      const c = await loadFixture(disputesFixture);
      const reporter = await c.payer.getAddress();
      const accused = await c.deviceKey.getAddress();
      const tryOpen = async (ev: Evidence, device: string = accused) => {
        if ((await c.disputes.commitmentBlock(await commitmentOf(c, reporter, ev))) === 0n) await commit(c, ev);
        return c.disputes.connect(c.payer).openDispute(device, ev, SALT);
      };
      const before = await c.usdc.balanceOf(reporter);
      // Signed by a key that is not the device's.
      const receipt = receiptFor(c);
      const forged = await evidence(c, { receipt, signature: await signReceipt(c, receipt, OTHER_DEVICE_WALLET) });
      await expect(tryOpen(forged))
        .to.be.revertedWithCustomError(c.disputes, "InvalidReceiptSignature")
        .withArgs(await c.deviceKey.getAddress(), digestOf(c, receipt), OTHER_DEVICE_WALLET.address);
      // Terms that are not the receipt's channel.
      const otherTerms = await termsFor(c, { salt: 99n });
      await expect(tryOpen(await evidence(c, { terms: otherTerms })))
        .to.be.revertedWithCustomError(c.disputes, "ChannelMismatch")
        .withArgs(c.id, idOf(otherTerms));
      // A receipt for a channel that was never opened.
      const unopened = receiptFor(c, INPUTS, DEVICE_OUTPUTS, { channelId: idOf(otherTerms) as Hex });
      await expect(tryOpen(await evidence(c, { receipt: unopened, terms: otherTerms })))
        .to.be.revertedWithCustomError(c.disputes, "ChannelNotFound")
        .withArgs(idOf(otherTerms));
      // Another registered device signs a receipt for the fixture channel, which is not its channel.
      const siblingReceipt = receiptFor(c);
      const sibling = await evidence(c, { receipt: siblingReceipt, signature: await signReceipt(c, siblingReceipt, c.accusedSibling) });
      await expect(tryOpen(sibling, c.accusedSibling.address))
        .to.be.revertedWithCustomError(c.disputes, "DeviceNotInChannel")
        .withArgs(await c.deviceKey.getAddress(), c.accusedSibling.address);
      // A receipt naming a model file other than the registry's, or another model than the channel's.
      const wrongHash = receiptFor(c, INPUTS, DEVICE_OUTPUTS, { modelHash: keccak256(toUtf8Bytes("swapped.onnx")) as Hex });
      await expect(tryOpen(await evidence(c, { receipt: wrongHash })))
        .to.be.revertedWithCustomError(c.disputes, "ModelNotOffered")
        .withArgs(c.modelId, wrongHash.modelHash, c.modelId, (await c.models.getModel(c.modelId)).contentHash);
      const hash2 = keccak256(toUtf8Bytes("model 2"));
      await c.models.connect(c.modelOwner).publish({ name: "m2", contentHash: hash2, uri: "ipfs://2", royaltyBps: 0, licenseToken: ZeroAddress, licenseFee: 0n });
      const wrongModel = receiptFor(c, INPUTS, DEVICE_OUTPUTS, { modelId: 2n, modelHash: hash2 as Hex });
      await expect(tryOpen(await evidence(c, { receipt: wrongModel })))
        .to.be.revertedWithCustomError(c.disputes, "ModelNotOffered")
        .withArgs(2n, hash2, c.modelId, hash2);
      // Nothing was taken or opened.
      expect(await c.usdc.balanceOf(reporter)).to.equal(before);
      expect((await c.disputes.stakeLock(c.deviceKey))[0]).to.equal(0n);
    });

    it("refuses inputs or outputs that are not the receipt's, oversized or malformed evidence, and outputs within tolerance", async () => {
      const c = await loadFixture(disputesFixture);
      const reporter = await c.payer.getAddress();
      const tryOpen = async (ev: Evidence) => {
        if ((await c.disputes.commitmentBlock(await commitmentOf(c, reporter, ev))) === 0n) await commit(c, ev);
        return c.disputes.connect(c.payer).openDispute(c.deviceKey, ev, SALT);
      };
      const receipt = receiptFor(c);
      const otherInputs = hex({ x: f32([1, 4], [1, 2, 3, 5]) });
      await expect(tryOpen(await evidence(c, { inputs: otherInputs })))
        .to.be.revertedWithCustomError(c.disputes, "InputHashMismatch")
        .withArgs(receipt.inputHash, ethers.sha256(otherInputs));
      // The reporter's claimed outputs passed off as the device's.
      const claimed = hex(CLAIMED_OUTPUTS);
      await expect(tryOpen(await evidence(c, { outputs: claimed })))
        .to.be.revertedWithCustomError(c.disputes, "OutputHashMismatch")
        .withArgs(receipt.outputHash, ethers.sha256(claimed));
      const max = await c.disputes.MAX_OUTPUT_BYTES();
      const big = "0x" + "00".repeat(Number(max) + 1);
      await expect(tryOpen(await evidence(c, { claimedOutputs: big }))).to.be.revertedWithCustomError(c.disputes, "EvidenceTooLarge").withArgs(max + 1n, max);
      const maxIn = await c.disputes.MAX_INPUT_BYTES();
      await expect(tryOpen(await evidence(c, { inputs: "0x" + "00".repeat(Number(maxIn) + 1) })))
        .to.be.revertedWithCustomError(c.disputes, "EvidenceTooLarge")
        .withArgs(maxIn + 1n, maxIn);
      await expect(tryOpen(await evidence(c, { claimedOutputs: "0x1234" }))).to.be.revertedWithCustomError(c.disputes, "MalformedTensors").withArgs(0);
      // Truncated: the last element's bytes are missing.
      const truncated = claimed.slice(0, -8);
      await expect(tryOpen(await evidence(c, { claimedOutputs: truncated }))).to.be.revertedWithCustomError(c.disputes, "MalformedTensors");
      // 5e-5 relative on every element: inside the model's 1e-4.
      const close = hex({ y: f32([1, 3], [0.1 * (1 + 5e-5), 0.2, 0.7 * (1 - 5e-5)]) });
      await expect(tryOpen(await evidence(c, { claimedOutputs: close }))).to.be.revertedWithCustomError(c.disputes, "WithinTolerance").withArgs(c.modelId);
      // 3e-4 relative on one element: outside, so the dispute opens.
      const far = hex({ y: f32([1, 3], [0.1, 0.2, 0.7 * (1 + 3e-4)]) });
      await tryOpen(await evidence(c, { claimedOutputs: far }));
      expect((await c.disputes.stakeLock(c.deviceKey))[0]).to.equal(1n);
    });

    it("refuses a device with no stake left and a pool smaller than a committee", async () => {
      const c = await loadFixture(disputesFixture);
      const small = typed(
        await ethers.deployContract("AnswerDisputes", [c.channels, c.devices, c.models, ZeroAddress, config(c.treasury, { committeeSize: 9 })]),
        answerDisputesAbi,
      );
      await c.usdc.connect(c.payer).approve(small, REPORTER_BOND);
      const ev = await evidence(c);
      const commitment = await commitmentOf(c, await c.payer.getAddress(), ev);
      await small.connect(c.payer).commitEvidence(commitment);
      await expect(small.connect(c.payer).openDispute(c.deviceKey, ev, SALT)).to.be.revertedWithCustomError(small, "PoolTooSmall").withArgs(c.modelId, 0n, 9n);
      // The whole stake slashed by the recorder's role holder (the test grants the admin the role to take it).
      await c.devices.connect(c.admin).grantRole(await c.devices.SLASHER_ROLE(), c.admin);
      await c.devices.connect(c.admin).slash(c.deviceKey, MIN_STAKE, c.admin, false);
      await commit(c, ev);
      await expect(c.disputes.connect(c.payer).openDispute(c.deviceKey, ev, SALT)).to.be.revertedWithCustomError(c.disputes, "NothingAtStake").withArgs(await c.deviceKey.getAddress());
    });
  });

  describe("committee", () => {
    it("draws from the hash of the block after the open, never the accused, its owner's devices or the reporter's", async () => {
      const c = await loadFixture(disputesFixture);
      const { id } = await open(c);
      const seedBlock = (await c.disputes.getDispute(id)).seedBlock;
      // In the seed block itself the hash is not known yet.
      await expect(c.disputes.drawCommittee(id)).to.be.revertedWithCustomError(c.disputes, "SeedNotReady").withArgs(seedBlock);
      await mine(1);
      await c.disputes.drawCommittee(id);
      const seats = await c.disputes.getSeats(id);
      expect(seats.length).to.equal(K);
      const honest = c.honest.map((v) => v.device.address);
      for (const s of seats) expect(honest).to.include(s.verifier);
      expect(new Set(seats.map((s) => s.verifier)).size).to.equal(K);
      const d = await c.disputes.getDispute(id);
      expect(d.phase).to.equal(Phase.Voting);
      expect(d.commitDeadline).to.equal(BigInt(await time.latest()) + COMMIT_WINDOW);
      expect(d.revealDeadline).to.equal(d.commitDeadline + REVEAL_WINDOW);
      await expect(c.disputes.drawCommittee(id)).to.be.revertedWithCustomError(c.disputes, "WrongPhase").withArgs(id, Phase.Voting);
    });

    it("excludes across many draws: only the 4 eligible verifiers are ever seated", async () => {
      const c = await loadFixture(disputesFixture);
      const seen = new Set<string>();
      for (let sequence = 1n; sequence <= 6n; sequence++) {
        const receipt = receiptFor(c, INPUTS, DEVICE_OUTPUTS, { sequence });
        const { id } = await open(c, await evidence(c, { receipt }));
        await mine(1);
        await c.disputes.drawCommittee(id);
        for (const s of await c.disputes.getSeats(id)) seen.add(s.verifier);
      }
      expect([...seen].sort()).to.deep.equal(c.honest.map((v) => v.device.address).sort());
    });

    it("renews a seed block whose hash went out of reach instead of drawing from it", async () => {
      const c = await loadFixture(disputesFixture);
      const { id } = await open(c);
      await mine(300);
      const next = (await ethers.provider.getBlockNumber()) + 2;
      await expect(c.disputes.drawCommittee(id)).to.emit(c.disputes, "SeedRenewed").withArgs(id, next);
      expect((await c.disputes.getDispute(id)).phase).to.equal(Phase.Drawing);
      await mine(1);
      await c.disputes.drawCommittee(id);
      expect((await c.disputes.getSeats(id)).length).to.equal(K);
    });
  });

  describe("votes", () => {
    it("accepts commits up to and including the commit deadline", async () => {
      const c = await loadFixture(votingFixture);
      const d = await c.disputes.getDispute(c.id);
      const [a, b] = c.members as [Voting["members"][0], Voting["members"][0]];
      await time.setNextBlockTimestamp(d.commitDeadline);
      await c.disputes.connect(a.device).commitVote(c.id, voteCommitment(c.id, a.device.address, false, voteSalt(a.device.address)));
      await expect(c.disputes.connect(b.device).commitVote(c.id, keccak256("0x01")))
        .to.be.revertedWithCustomError(c.disputes, "CommitWindowOver")
        .withArgs(c.id, d.commitDeadline);
    });

    it("refuses votes from outside the committee, a second commit, a reveal that does not match, and reveals outside the window", async () => {
      const c = await loadFixture(votingFixture);
      await expect(c.disputes.connect(c.other).commitVote(c.id, keccak256("0x01"))).to.be.revertedWithCustomError(c.disputes, "NotSeated").withArgs(c.id, await c.other.getAddress());
      const unknown = keccak256("0x1234");
      for (const call of [
        c.disputes.commitVote(unknown, keccak256("0x01")),
        c.disputes.revealVote(unknown, true, keccak256("0x01")),
        c.disputes.drawCommittee(unknown),
        c.disputes.replaceAbsent(unknown),
        c.disputes.resolve(unknown),
      ]) {
        await expect(call).to.be.revertedWithCustomError(c.disputes, "WrongPhase").withArgs(unknown, Phase.None);
      }
      await commitVotes(c, [false, false, true]);
      const m = c.members[0]!;
      await expect(c.disputes.connect(m.device).commitVote(c.id, keccak256("0x01"))).to.be.revertedWithCustomError(c.disputes, "NotSeated").withArgs(c.id, m.device.address);
      const d = await c.disputes.getDispute(c.id);
      // At the commit deadline the reveal window is not open yet.
      await time.setNextBlockTimestamp(d.commitDeadline);
      await expect(c.disputes.connect(m.device).revealVote(c.id, false, voteSalt(m.device.address)))
        .to.be.revertedWithCustomError(c.disputes, "CommitWindowOpen")
        .withArgs(c.id, d.commitDeadline);
      await time.setNextBlockTimestamp(d.commitDeadline + 1n);
      await expect(c.disputes.connect(m.device).revealVote(c.id, true, voteSalt(m.device.address))).to.be.revertedWithCustomError(c.disputes, "InvalidReveal").withArgs(c.id, m.device.address);
      await c.disputes.connect(m.device).revealVote(c.id, false, voteSalt(m.device.address));
      await expect(c.disputes.connect(m.device).revealVote(c.id, false, voteSalt(m.device.address))).to.be.revertedWithCustomError(c.disputes, "NotSeated");
      // The last second of the reveal window is in; the next is out.
      const second = c.members[1]!;
      const third = c.members[2]!;
      await time.setNextBlockTimestamp(d.revealDeadline);
      await c.disputes.connect(second.device).revealVote(c.id, false, voteSalt(second.device.address));
      await expect(c.disputes.connect(third.device).revealVote(c.id, true, voteSalt(third.device.address)))
        .to.be.revertedWithCustomError(c.disputes, "RevealWindowOver")
        .withArgs(c.id, d.revealDeadline);
    });

    it("resolves only after the reveal deadline, and only once", async () => {
      const c = await loadFixture(votingFixture);
      await commitVotes(c, [false, false, false]);
      await revealVotes(c, [false, false, false]);
      const d = await c.disputes.getDispute(c.id);
      await time.setNextBlockTimestamp(d.revealDeadline);
      await expect(c.disputes.resolve(c.id)).to.be.revertedWithCustomError(c.disputes, "RevealWindowOpen").withArgs(c.id, d.revealDeadline);
      await time.setNextBlockTimestamp(d.revealDeadline + 1n);
      await c.disputes.resolve(c.id);
      await expect(c.disputes.resolve(c.id)).to.be.revertedWithCustomError(c.disputes, "WrongPhase").withArgs(c.id, Phase.Resolved);
    });

    it("replaces a member that did not commit, once the commit window closed, and penalises it", async () => {
      const c = await loadFixture(votingFixture);
      await commitVotes(c, [false, false, undefined]);
      await expect(c.disputes.replaceAbsent(c.id)).to.be.revertedWithCustomError(c.disputes, "CommitWindowOpen");
      const d = await c.disputes.getDispute(c.id);
      await time.increaseTo(d.commitDeadline + 1n);
      // Revealing before the replacement would show the newcomer the votes.
      const m0 = c.members[0]!;
      await expect(c.disputes.connect(m0.device).revealVote(c.id, false, voteSalt(m0.device.address)))
        .to.be.revertedWithCustomError(c.disputes, "ReplacementPending")
        .withArgs(c.id, 1n);
      const absent = c.members[2]!;
      const spare = c.honest.find((v) => !c.members.includes(v))!;
      await expect(c.disputes.replaceAbsent(c.id))
        .to.emit(c.disputes, "MemberReplaced")
        .withArgs(c.id, absent.device.address, 2n)
        .and.to.emit(c.disputes, "MemberSeated");
      const seats = await c.disputes.getSeats(c.id);
      expect(seats.map((s) => s.verifier)).to.deep.equal([...c.members.map((m) => m.device.address), spare.device.address]);
      expect(seats[2]!.state).to.equal(SeatState.Replaced);
      await expect(c.disputes.connect(absent.device).commitVote(c.id, keccak256("0x01")))
        .to.be.revertedWithCustomError(c.disputes, "NotSeated")
        .withArgs(c.id, absent.device.address);
      // The newcomer commits in the new window; with all present there is nothing to replace.
      await c.disputes.connect(spare.device).commitVote(c.id, voteCommitment(c.id, spare.device.address, false, voteSalt(spare.device.address)));
      const d2 = await c.disputes.getDispute(c.id);
      await time.increaseTo(d2.commitDeadline + 1n);
      await expect(c.disputes.replaceAbsent(c.id)).to.be.revertedWithCustomError(c.disputes, "NothingToReplace").withArgs(c.id);
      for (const v of [c.members[0]!, c.members[1]!, spare]) await c.disputes.connect(v.device).revealVote(c.id, false, voteSalt(v.device.address));
      await time.increaseTo(d2.revealDeadline + 1n);
      const absentOwner = await absent.owner.getAddress();
      const absentBefore = await c.usdc.balanceOf(absentOwner);
      const winners = [c.members[0]!, c.members[1]!, spare];
      const winnersBefore = await Promise.all(winners.map((v) => c.usdc.balanceOf(v.owner)));
      const penalty = (VERIFIER_BOND * PENALTY_BPS) / 10_000n;
      await expect(c.disputes.resolve(c.id)).to.emit(c.disputes, "VerifierPenalised").withArgs(c.id, absent.device.address, penalty);
      expect((await c.disputes.getVerifier(c.modelId, absent.device)).bond).to.equal(VERIFIER_BOND - penalty);
      expect(await c.usdc.balanceOf(absentOwner)).to.equal(absentBefore);
      // Device lost: the 3 present members share the verifiers' part of the slash plus the absentee's penalty.
      const pot = (MIN_STAKE * SLASH_BPS * VERIFIER_BPS) / 10_000n / 10_000n + penalty;
      for (const [i, v] of winners.entries()) {
        expect((await c.disputes.getVerifier(c.modelId, v.device)).seats).to.equal(0n);
        expect((await c.usdc.balanceOf(v.owner)) - winnersBefore[i]!).to.equal(pot / 3n);
      }
      expect((await c.disputes.getDispute(c.id)).outcome).to.equal(Outcome.DeviceLost);
      expect(await c.usdc.balanceOf(c.disputes)).to.equal(await owed(c));
    });

    it("does not draw a verifier whose bond fell below the verifier bond after a penalty", async () => {
      const c = await loadFixture(votingFixture);
      await commitVotes(c, [false, false, true]);
      await revealVotes(c, [false, false, true]);
      await afterReveal(c);
      await c.disputes.resolve(c.id);
      const penalised = c.members[2]!.device.address;
      expect((await c.disputes.getVerifier(c.modelId, penalised)).bond).to.be.lessThan(VERIFIER_BOND);
      // A second device of the same model is accused now (the first was removed). Paused devices are not drawn either:
      // with the spare and the first provider's second device paused, only the two majority members are eligible,
      // so a draw that ignored the bond would seat the penalised one for certain.
      const spare = c.honest.find((v) => !c.members.includes(v))!;
      await c.devices.connect(spare.owner).pause(spare.device);
      await c.devices.connect(c.provider).pause(c.accusedSibling);
      await c.usdc.connect(c.provider2).approve(c.models, MAX_UINT96_LOCAL);
      await c.models.connect(c.provider2).takeLicense(c.modelId, c.provider2, MAX_UINT96_LOCAL);
      await registerDevice(c, c.provider2, c.deviceKey2);
      await c.devices.connect(c.provider2).setOffering(c.deviceKey2, c.modelId, c.usdc, 1_000n);
      const terms = await termsFor(c, { device: await c.deviceKey2.getAddress(), payee: await c.provider2.getAddress(), salt: 7n });
      await c.channels.connect(c.payer).open(terms, 1_000_000n);
      const receipt = receiptFor(c, INPUTS, DEVICE_OUTPUTS, { channelId: idOf(terms) as Hex });
      const ev = await evidence(c, { receipt, terms, signature: await signReceipt(c, receipt, c.deviceKey2) });
      await commit(c, ev);
      await c.disputes.connect(c.payer).openDispute(c.deviceKey2, ev, SALT);
      const id = await c.disputes.disputeId(c.deviceKey2, digestOf(c, receipt));
      await mine(1);
      await c.disputes.drawCommittee(id);
      const seats = (await c.disputes.getSeats(id)).map((x) => x.verifier);
      expect([...seats].sort()).to.deep.equal([c.members[0]!.device.address, c.members[1]!.device.address].sort());
    });

    it("stops replacing after MAX_ROUNDS and then lets the present members reveal", async () => {
      const c = await loadFixture(votingFixture);
      await commitVotes(c, [false, false, undefined]);
      for (let round = 0; round < 2; round++) {
        await time.increaseTo((await c.disputes.getDispute(c.id)).commitDeadline + 1n);
        await c.disputes.replaceAbsent(c.id);
      }
      // Round 1 seated the spare, who did not commit either; round 2 found nobody left.
      const d = await c.disputes.getDispute(c.id);
      expect(d.rounds).to.equal(2n);
      expect(d.seats).to.equal(4n);
      expect(d.active).to.equal(2n);
      await time.increaseTo(d.commitDeadline + 1n);
      await expect(c.disputes.replaceAbsent(c.id)).to.be.revertedWithCustomError(c.disputes, "NothingToReplace");
      await revealVotes(c, [false, false, undefined]);
      await afterReveal(c);
      await c.disputes.resolve(c.id);
      expect((await c.disputes.getDispute(c.id)).outcome).to.equal(Outcome.DeviceLost);
    });
  });

  describe("money", () => {
    it("device loses: slashed to reporter, majority verifiers and treasury; the dissenter pays its penalty to the majority", async () => {
      const c = await loadFixture(votingFixture);
      await commitVotes(c, [false, false, true]);
      await revealVotes(c, [false, false, true]);
      await afterReveal(c);
      const before = await balances(c);
      expect(before.contract).to.equal(await owed(c, REPORTER_BOND));
      await c.disputes.resolve(c.id);
      const after = await balances(c);
      const slashed = (MIN_STAKE * SLASH_BPS) / 10_000n;
      const reward = (slashed * REPORTER_BPS) / 10_000n;
      const toVerifiers = (slashed * VERIFIER_BPS) / 10_000n;
      const penalty = (VERIFIER_BOND * PENALTY_BPS) / 10_000n;
      const share = (toVerifiers + penalty) / 2n;
      const dust = toVerifiers + penalty - 2n * share;
      expect(after.stake).to.equal(before.stake - slashed);
      expect(after.reporter - before.reporter).to.equal(reward + REPORTER_BOND);
      expect(after.members[0]! - before.members[0]!).to.equal(share);
      expect(after.members[1]! - before.members[1]!).to.equal(share);
      expect(after.members[2]!).to.equal(before.members[2]!);
      expect((await c.disputes.getVerifier(c.modelId, c.members[2]!.device)).bond).to.equal(VERIFIER_BOND - penalty);
      expect(after.treasury - before.treasury).to.equal(slashed - reward - toVerifiers + dust);
      expect(after.deviceOwner).to.equal(before.deviceOwner);
      // Everything that moved adds up: the stake slashed plus the bonds the contract released.
      const paidOut = after.reporter - before.reporter + after.treasury - before.treasury + 2n * share;
      expect(paidOut).to.equal(slashed + REPORTER_BOND + penalty);
      expect(after.contract).to.equal(await owed(c));
      expect((await c.devices.getDevice(c.deviceKey)).status).to.equal(Status.Removed);
      expect((await c.disputes.stakeLock(c.deviceKey))[0]).to.equal(0n);
    });

    it("reporter loses: the bond goes to the majority verifiers and the device owner", async () => {
      const c = await loadFixture(votingFixture);
      await commitVotes(c, [true, true, true]);
      await revealVotes(c, [true, true, true]);
      await afterReveal(c);
      const before = await balances(c);
      await expect(c.disputes.resolve(c.id)).to.emit(c.disputes, "DisputeResolved");
      const after = await balances(c);
      const toVerifiers = (REPORTER_BOND * VERIFIER_BPS) / 10_000n;
      const share = toVerifiers / 3n;
      expect(after.reporter).to.equal(before.reporter);
      expect(after.deviceOwner - before.deviceOwner).to.equal(REPORTER_BOND - toVerifiers);
      for (let i = 0; i < 3; i++) expect(after.members[i]! - before.members[i]!).to.equal(share);
      expect(after.treasury - before.treasury).to.equal(toVerifiers - 3n * share);
      expect(after.stake).to.equal(before.stake);
      expect(after.contract).to.equal(await owed(c));
      expect((await c.disputes.getDispute(c.id)).outcome).to.equal(Outcome.ReporterLost);
      expect((await c.devices.getDevice(c.deviceKey)).status).to.equal(Status.Active);
    });

    it("no quorum: the bond returns, nobody is slashed, the members that did not reveal pay the treasury", async () => {
      const c = await loadFixture(votingFixture);
      await commitVotes(c, [false, false, false]);
      await revealVotes(c, [false, undefined, undefined]);
      await afterReveal(c);
      const before = await balances(c);
      await c.disputes.resolve(c.id);
      const after = await balances(c);
      const penalty = (VERIFIER_BOND * PENALTY_BPS) / 10_000n;
      expect(after.reporter - before.reporter).to.equal(REPORTER_BOND);
      expect(after.treasury - before.treasury).to.equal(2n * penalty);
      expect(after.stake).to.equal(before.stake);
      for (let i = 0; i < 3; i++) expect(after.members[i]).to.equal(before.members[i]);
      expect(after.contract).to.equal(await owed(c));
      expect((await c.disputes.getDispute(c.id)).outcome).to.equal(Outcome.NoDecision);
    });

    it("holds the device's stake while the dispute is open, and passes on the recorder's lock", async () => {
      const c = await loadFixture(votingFixture);
      await commitVotes(c, [true, true, true]);
      await c.recorder.connect(c.deviceKey).anchor(keccak256("0x01"), 1n, 1n, keccak256("0x02"));
      const anchoredAt = BigInt(await time.latest());
      expect(await c.disputes.stakeLock(c.deviceKey)).to.deep.equal([1n, anchoredAt]);
      await c.devices.connect(c.provider).startExit(c.deviceKey);
      await time.increase(UNBONDING_DELAY + 1n);
      await expect(c.devices.connect(c.provider).withdrawStake(c.deviceKey))
        .to.be.revertedWithCustomError(c.devices, "DisputesOpen")
        .withArgs(await c.deviceKey.getAddress(), 1n);
      // Nobody revealed in time: no decision, the dispute closes and releases the stake.
      await c.disputes.resolve(c.id);
      expect((await c.disputes.getDispute(c.id)).outcome).to.equal(Outcome.NoDecision);
      const stake = (await c.devices.getDevice(c.deviceKey)).stake;
      const owner = await c.provider.getAddress();
      const before = await c.usdc.balanceOf(owner);
      await c.devices.connect(c.provider).withdrawStake(c.deviceKey);
      expect(await c.usdc.balanceOf(owner)).to.equal(before + stake);
    });
  });

  describe("from a failed spot check (protocol/client/dispute-evidence.ts)", () => {
    const wire = (t: Record<string, Tensor>) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, tensorToWire(v)]));

    it("builds evidence the contract accepts, and names what is wrong with evidence it would refuse", async () => {
      const c = await loadFixture(disputesFixture);
      const receipt = receiptFor(c);
      const signature = (await signReceipt(c, receipt)) as Hex;
      const spot: SpotCheckEvidence = { receipt: { ...receipt, signature }, inputs: wire(INPUTS), outputs: wire(DEVICE_OUTPUTS), reference: wire(CLAIMED_OUTPUTS) };
      const terms = c.terms as unknown as ChannelTerms;
      const built = disputeEvidence(spot, terms);
      if (!built.valid) throw new Error(`evidence refused: ${built.reason}`);
      const ev = { ...built.evidence, terms: c.terms };
      await commit(c, ev);
      await c.disputes.connect(c.payer).openDispute(c.deviceKey, ev, SALT);
      expect((await c.disputes.stakeLock(c.deviceKey))[0]).to.equal(1n);

      const reasonOf = (r: ReturnType<typeof disputeEvidence>) => (r.valid ? "valid" : r.reason);
      expect(reasonOf(disputeEvidence({ ...spot, inputs: wire({ x: f32([1, 4], [1, 2, 3, 5]) }) }, terms))).to.equal("input_hash_mismatch");
      expect(reasonOf(disputeEvidence({ ...spot, outputs: wire(CLAIMED_OUTPUTS) }, terms))).to.equal("output_hash_mismatch");
      expect(reasonOf(disputeEvidence(spot, { ...terms, salt: 99n }))).to.equal("channel_mismatch");
      expect(reasonOf(disputeEvidence({ ...spot, reference: wire({ y: f32([1, 3000], new Array(3000).fill(0)) }) }, terms))).to.equal("outputs_too_large");
      expect(reasonOf(disputeEvidence({ ...spot, reference: { y: { type: "float32", dims: [1, 3], data: [1] } } }, terms))).to.equal("invalid_tensors");
    });
  });

  describe("TensorTolerance parity with protocol/tolerance.ts", () => {
    it("gives the off-chain verdict on random float32 outputs under exact, absolute and relative tolerances", async () => {
      const { compareOutputs } = await import("../../protocol/tolerance.ts");
      const harness = await ethers.deployContract("TensorToleranceHarness");
      let seed = 12345;
      const rand = () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      const kinds = [
        { kind: "exact", code: 0, bound: 0n },
        { kind: "absolute", code: 1, bound: 1_000n },
        { kind: "relative", code: 2, bound: 100_000n },
      ] as const;
      let disagreements = 0;
      let within = 0;
      for (let trial = 0; trial < 60; trial++) {
        const n = 1 + Math.floor(rand() * 8);
        const a = Array.from({ length: n }, () => (rand() - 0.5) * 10 ** Math.floor(rand() * 6 - 3));
        const scale = [0, 1e-7, 5e-5, 2e-4, 1e-2][Math.floor(rand() * 5)]!;
        const b = a.map((x) => (rand() < 0.5 ? x * (1 + scale * (rand() - 0.5) * 2) : x + scale * (rand() - 0.5)));
        const ta = { out: f32([n], a) };
        const tb = { out: f32([n], b) };
        const t = kinds[trial % 3]!;
        const off = compareOutputs(ta, tb, { kind: t.kind, bound: t.bound }).valid;
        const on = (await harness.getFunction("withinTolerance")(hex(ta), hex(tb), { kind: t.code, bound: t.bound })) as boolean;
        if (on !== off) disagreements++;
        if (on) within++;
      }
      expect(disagreements).to.equal(0);
      // Both verdicts occurred, so the comparison could have failed either way.
      expect(within).to.be.greaterThan(5);
      expect(within).to.be.lessThan(55);
      // Special values: NaN == NaN, -0 == +0, infinities only equal themselves, shapes and names must agree.
      const tol = { kind: 2, bound: 100_000n };
      const call = (x: Record<string, ReturnType<typeof f32>>, y: Record<string, ReturnType<typeof f32>>) =>
        harness.getFunction("withinTolerance")(hex(x), hex(y), tol) as Promise<boolean>;
      expect(await call({ o: f32([2], [NaN, 1]) }, { o: f32([2], [NaN, 1]) })).to.equal(true);
      expect(await call({ o: f32([2], [NaN, 1]) }, { o: f32([2], [0, 1]) })).to.equal(false);
      expect(await call({ o: f32([1], [Infinity]) }, { o: f32([1], [-Infinity]) })).to.equal(false);
      expect(await call({ o: f32([1], [Infinity]) }, { o: f32([1], [Infinity]) })).to.equal(true);
      expect(await call({ o: f32([2], [1, 2]) }, { o: f32([1, 2], [1, 2]) })).to.equal(false);
      expect(await call({ o: f32([2], [1, 2]) }, { p: f32([2], [1, 2]) })).to.equal(false);
      expect(await call({ o: f32([2], [1, 2]) }, { o: f32([2], [1, 2]), p: f32([1], [0]) })).to.equal(false);
      // The floor M/1024: a near-zero element compared at the tensor's scale.
      expect(await call({ o: f32([2], [1000, 1e-6]) }, { o: f32([2], [1000, 2e-6]) })).to.equal(true);
    });
  });
});
