// A cheating device must not escape its slash by exiting: DeviceRegistry keeps the stake while an omission
// challenge is open against the device (FlightRecorder.stakeLock) and until the unbonding delay after its last
// anchor, so a challenge opened late in the unbonding period, or against receipts anchored after startExit,
// still takes the stake.
import { expect } from "chai";
import { ZeroAddress } from "ethers";
import type { Hex } from "viem";
import { anchorBatch } from "../../protocol/audit.ts";
import { getProof } from "../../protocol/merkle.ts";
import type { Receipt } from "../../protocol/receipt.ts";
import { MIN_STAKE, PROVIDER_START, Status, UNBONDING_DELAY, expectBalances, networkHelpers } from "./fixtures.ts";
import {
  ANSWER_WINDOW,
  BOND,
  deployRecorder,
  digestOf,
  h,
  receiptAt,
  receiptChain,
  recorderFixture,
  signReceipt,
  type RecorderContext,
} from "./flight-recorder.helpers.ts";

const { loadFixture, time } = networkHelpers;
const DEFAULT_ADMIN_ROLE = "0x" + "00".repeat(32);

async function anchor(c: RecorderContext, receipts: readonly Receipt[]) {
  const batch = anchorBatch((await c.deviceKey.getAddress()) as Hex, receipts[0]!.sequence, receipts.map((r) => digestOf(c, r)));
  await c.recorder.connect(c.deviceKey).anchor(batch.root, batch.fromSeq, batch.toSeq, batch.head);
  return batch;
}

/** Receipts 1..10 anchored; the buyer holds a receipt 5 that the anchored tree does not contain (an omission). */
async function omissionFixture() {
  const c = await recorderFixture();
  const honest = receiptChain(c, 1n, 10);
  const batch = await anchor(c, honest);
  const held = receiptAt(c, 5n, { previous: honest[4]!.previous, outputHash: h("what the buyer got") });
  const device = await c.deviceKey.getAddress();
  return { ...c, honest, batch, held, heldSig: await signReceipt(c, held), heldDigest: digestOf(c, held), device };
}

describe("stake freeze: disputes keep a device's stake slashable", () => {
  it("an omission challenge opened in the last answer window of the unbonding period blocks withdrawStake (DisputesOpen) and is enforced against the full stake", async () => {
    const c = await loadFixture(omissionFixture);
    await c.devices.connect(c.provider).startExit(c.device);
    const { unbondingEnds } = await c.devices.getDevice(c.device);
    await time.setNextBlockTimestamp(unbondingEnds - ANSWER_WINDOW / 2n);
    await c.recorder.connect(c.payer).challengeOmission(c.device, c.held, c.heldSig, c.batch.root, 1n, 10n);
    expect(await c.recorder.stakeLock(c.device)).to.deep.equal([1n, (await c.recorder.deviceLog(c.device)).lastAnchorAt]);

    await time.setNextBlockTimestamp(unbondingEnds);
    await expect(c.devices.connect(c.provider).withdrawStake(c.device))
      .to.be.revertedWithCustomError(c.devices, "DisputesOpen")
      .withArgs(c.device, 1n);
    expect((await c.devices.getDevice(c.device)).stake).to.equal(MIN_STAKE);

    const payerBefore = await c.usdc.balanceOf(c.payer);
    const { deadline } = await c.recorder.getChallenge(c.device, c.heldDigest);
    await time.setNextBlockTimestamp(deadline + 1n);
    const half = MIN_STAKE / 2n;
    await expect(c.recorder.connect(c.other).enforceOmission(c.device, c.heldDigest))
      .to.emit(c.recorder, "OmissionEnforced")
      .withArgs(c.device, c.heldDigest, c.payer, MIN_STAKE, half);
    await expectBalances(c.usdc, [
      [c.payer, payerBefore + half + BOND],
      [c.treasury, half],
      [c.provider, PROVIDER_START],
      [c.devices, 0n],
      [c.recorder, 0n],
    ]);
    expect((await c.recorder.stakeLock(c.device))[0]).to.equal(0n);
  });

  it("a device that keeps anchoring after startExit cannot withdraw until the unbonding delay after its last anchor (StillUnbonding), so late receipts stay challengeable", async () => {
    const c = await loadFixture(omissionFixture);
    await c.devices.connect(c.provider).startExit(c.device);
    const { unbondingEnds } = await c.devices.getDevice(c.device);
    // Six days into the unbonding the device still serves its open channels and anchors receipts 11..20,
    // leaving out the receipt 15 the buyer holds.
    await time.setNextBlockTimestamp(unbondingEnds - 24n * 3600n);
    const late = receiptChain(c, 11n, 10, digestOf(c, c.honest[9]!));
    const lateBatch = await anchor(c, late);
    const lastAnchorAt = (await c.recorder.deviceLog(c.device)).lastAnchorAt;
    expect(lastAnchorAt).to.equal(unbondingEnds - 24n * 3600n);
    await time.setNextBlockTimestamp(unbondingEnds);
    await expect(c.devices.connect(c.provider).withdrawStake(c.device))
      .to.be.revertedWithCustomError(c.devices, "StillUnbonding")
      .withArgs(c.device, lastAnchorAt + UNBONDING_DELAY);

    // Five days after the original unbonding end the buyer challenges the late omission; the stake is there.
    const held = receiptAt(c, 15n, { previous: late[4]!.previous, outputHash: h("late answer the buyer got") });
    await time.setNextBlockTimestamp(unbondingEnds + 5n * 24n * 3600n);
    await c.recorder.connect(c.payer).challengeOmission(c.device, held, await signReceipt(c, held), lateBatch.root, 11n, 20n);
    await time.increase(ANSWER_WINDOW + 1n);
    const payerBefore = await c.usdc.balanceOf(c.payer);
    await expect(c.recorder.enforceOmission(c.device, digestOf(c, held)))
      .to.emit(c.recorder, "OmissionEnforced")
      .withArgs(c.device, digestOf(c, held), c.payer, MIN_STAKE, MIN_STAKE / 2n);
    await expectBalances(c.usdc, [
      [c.payer, payerBefore + MIN_STAKE / 2n + BOND],
      [c.provider, PROVIDER_START],
      [c.devices, 0n],
    ]);
  });

  it("an answered challenge releases the stake: the owner withdraws it in full once unbonded", async () => {
    const c = await loadFixture(omissionFixture);
    // The buyer challenges a receipt that is in the tree (receipt 5 as anchored): the device answers.
    const real = c.honest[4]!;
    await c.devices.connect(c.provider).startExit(c.device);
    const { unbondingEnds } = await c.devices.getDevice(c.device);
    await time.setNextBlockTimestamp(unbondingEnds - 3600n);
    await c.recorder.connect(c.payer).challengeOmission(c.device, real, await signReceipt(c, real), c.batch.root, 1n, 10n);
    await c.recorder.connect(c.deviceKey).answerOmission(c.device, digestOf(c, real), getProof(c.batch.tree, 4));
    expect((await c.recorder.stakeLock(c.device))[0]).to.equal(0n);
    await time.setNextBlockTimestamp(unbondingEnds);
    await expect(c.devices.connect(c.provider).withdrawStake(c.device))
      .to.emit(c.devices, "StakeWithdrawn")
      .withArgs(c.device, c.provider, MIN_STAKE);
    expect((await c.devices.getDevice(c.device)).status).to.equal(Status.Withdrawn);
    await expectBalances(c.usdc, [[c.provider, PROVIDER_START + MIN_STAKE + BOND], [c.devices, 0n]]);
  });

  it("the stake guard is wired once, by the admin only", async () => {
    const c = await loadFixture(recorderFixture);
    expect(await c.devices.stakeGuard()).to.equal(await c.recorder.getAddress());
    const other = await deployRecorder(c);
    await expect(c.devices.connect(c.admin).setStakeGuard(other))
      .to.be.revertedWithCustomError(c.devices, "StakeGuardAlreadySet")
      .withArgs(c.recorder);
    await expect(c.devices.connect(c.other).setStakeGuard(other))
      .to.be.revertedWithCustomError(c.devices, "AccessControlUnauthorizedAccount")
      .withArgs(c.other, DEFAULT_ADMIN_ROLE);
    await expect(c.devices.connect(c.admin).setStakeGuard(ZeroAddress)).to.be.revertedWithCustomError(c.devices, "ZeroAddress");
  });
});
