import { expect } from "chai";
import { ZeroAddress, type ContractTransactionReceipt } from "ethers";
import {
  CHALLENGE_PERIOD,
  DEPOSIT,
  FUNDS,
  MODEL_OWNER_START,
  PROVIDER_START,
  channelFixture,
  deployPlainToken,
  eventsOf,
  expectBalances,
  idOf,
  networkHelpers,
  offerIn,
  openChannel,
  recoverClose,
  signClose,
  signVoucher,
  transfersOf,
  type Terms,
} from "./fixtures.ts";

const { loadFixture, time } = networkHelpers;

function mined(receipt: ContractTransactionReceipt | null): ContractTransactionReceipt {
  if (!receipt) throw new Error("transaction was not mined");
  return receipt;
}

/** The channel fixture with a close requested at a known time; `closesAt` is its end. */
async function closingFixture() {
  const m = await channelFixture();
  const t = BigInt(await time.latest()) + 10n;
  await time.setNextBlockTimestamp(t);
  await m.channels.connect(m.payer).requestClose(m.terms);
  return { ...m, closesAt: t + CHALLENGE_PERIOD };
}

describe("PaymentChannels: close, settle, royalties", () => {
  describe("requestClose", () => {
    it("starts the challenge period, for the payer only", async () => {
      const m = await loadFixture(channelFixture);
      for (const stranger of [m.other, m.provider, m.deviceKey]) {
        await expect(m.channels.connect(stranger).requestClose(m.terms))
          .to.be.revertedWithCustomError(m.channels, "NotPayer")
          .withArgs(m.id, stranger);
      }
      const t = BigInt(await time.latest()) + 10n;
      await time.setNextBlockTimestamp(t);
      await expect(m.channels.connect(m.payer).requestClose(m.terms)).to.emit(m.channels, "CloseRequested").withArgs(m.id, t + CHALLENGE_PERIOD);
      const c = await m.channels.getChannel(m.id);
      expect([c.deposit, c.claimed, c.closesAt, c.settled]).to.deep.equal([DEPOSIT, 0n, t + CHALLENGE_PERIOD, false]);
    });

    it("refuses a second request, unknown and settled channels", async () => {
      const m = await loadFixture(closingFixture);
      await expect(m.channels.connect(m.payer).requestClose(m.terms))
        .to.be.revertedWithCustomError(m.channels, "ChannelClosing")
        .withArgs(m.id, m.closesAt);
      const unknown: Terms = { ...m.terms, salt: 5n };
      await expect(m.channels.connect(m.payer).requestClose(unknown)).to.be.revertedWithCustomError(m.channels, "ChannelNotFound").withArgs(idOf(unknown));
      await time.increaseTo(m.closesAt);
      await m.channels.withdraw(m.terms);
      await expect(m.channels.connect(m.payer).requestClose(m.terms)).to.be.revertedWithCustomError(m.channels, "ChannelIsSettled").withArgs(m.id);
    });
  });

  describe("challenge period", () => {
    it("lets the provider claim until the last second before closesAt", async () => {
      const m = await loadFixture(closingFixture);
      const sig = await signVoucher(m, m.sessionKey, m.id, 30_000n);
      await time.setNextBlockTimestamp(m.closesAt - 1n);
      await expect(m.channels.claim(m.terms, 30_000n, sig)).to.emit(m.channels, "Claimed").withArgs(m.id, m.provider, 30_000n, 27_000n, 3_000n);
      await expectBalances(m.usdc, [[m.provider, PROVIDER_START + 27_000n]]);
    });

    it("refuses claims at and after closesAt", async () => {
      const m = await loadFixture(closingFixture);
      const sig = await signVoucher(m, m.sessionKey, m.id, 30_000n);
      await time.setNextBlockTimestamp(m.closesAt);
      await expect(m.channels.claim(m.terms, 30_000n, sig))
        .to.be.revertedWithCustomError(m.channels, "ChallengePeriodOver")
        .withArgs(m.id, m.closesAt);
      await time.increaseTo(m.closesAt + 1000n);
      await expect(m.channels.claim(m.terms, 30_000n, sig))
        .to.be.revertedWithCustomError(m.channels, "ChallengePeriodOver")
        .withArgs(m.id, m.closesAt);
    });
  });

  describe("withdraw", () => {
    it("refuses before a close request and during the challenge period", async () => {
      const m = await loadFixture(channelFixture);
      await expect(m.channels.connect(m.payer).withdraw(m.terms)).to.be.revertedWithCustomError(m.channels, "ChannelNotClosing").withArgs(m.id);
      const t = BigInt(await time.latest()) + 10n;
      await time.setNextBlockTimestamp(t);
      await m.channels.connect(m.payer).requestClose(m.terms);
      const closesAt = t + CHALLENGE_PERIOD;
      await expect(m.channels.connect(m.payer).withdraw(m.terms))
        .to.be.revertedWithCustomError(m.channels, "ChallengePeriodActive")
        .withArgs(m.id, closesAt);
      await time.setNextBlockTimestamp(closesAt - 1n);
      await expect(m.channels.connect(m.payer).withdraw(m.terms))
        .to.be.revertedWithCustomError(m.channels, "ChallengePeriodActive")
        .withArgs(m.id, closesAt);
      const unknown: Terms = { ...m.terms, salt: 5n };
      await expect(m.channels.withdraw(unknown)).to.be.revertedWithCustomError(m.channels, "ChannelNotFound").withArgs(idOf(unknown));
    });

    it("refunds the unclaimed rest to the payer at closesAt, whoever calls", async () => {
      const m = await loadFixture(closingFixture);
      await m.channels.claim(m.terms, 30_000n, await signVoucher(m, m.sessionKey, m.id, 30_000n));
      await time.setNextBlockTimestamp(m.closesAt);
      const tx = m.channels.connect(m.other).withdraw(m.terms);
      await expect(tx).to.emit(m.channels, "ChannelSettled").withArgs(m.id, 30_000n, DEPOSIT - 30_000n, false);
      await expect(tx).to.emit(m.usdc, "Transfer").withArgs(m.channels, m.payer, DEPOSIT - 30_000n);
      const c = await m.channels.getChannel(m.id);
      expect([c.deposit, c.claimed, c.closesAt, c.settled]).to.deep.equal([DEPOSIT, 30_000n, m.closesAt, true]);
      // Left in the contract: exactly the accrued royalty.
      await expectBalances(m.usdc, [
        [m.payer, FUNDS - 30_000n],
        [m.provider, PROVIDER_START + 27_000n],
        [m.other, FUNDS],
        [m.channels, 3_000n],
      ]);
      expect(await m.channels.royaltiesOf(1n, m.usdc)).to.equal(3_000n);
    });

    it("settles a fully claimed channel without a transfer", async () => {
      const m = await loadFixture(closingFixture);
      await m.channels.claim(m.terms, DEPOSIT, await signVoucher(m, m.sessionKey, m.id, DEPOSIT));
      await time.increaseTo(m.closesAt);
      const receipt = mined(await (await m.channels.withdraw(m.terms)).wait());
      await expect(receipt).to.emit(m.channels, "ChannelSettled").withArgs(m.id, DEPOSIT, 0n, false);
      expect(await transfersOf(receipt, m.usdc)).to.deep.equal([]);
    });

    it("leaves a settled channel dead: no claim, top-up, withdrawal, close, or reopening with the same terms", async () => {
      const m = await loadFixture(closingFixture);
      await time.increaseTo(m.closesAt);
      await m.channels.withdraw(m.terms);
      const payer = m.channels.connect(m.payer);
      const settled = (p: Promise<unknown>) => expect(p).to.be.revertedWithCustomError(m.channels, "ChannelIsSettled").withArgs(m.id);
      await settled(m.channels.withdraw(m.terms));
      await settled(m.channels.claim(m.terms, 1n, await signVoucher(m, m.sessionKey, m.id, 1n)));
      await settled(payer.topUp(m.terms, 1n));
      await settled(payer.closeCooperatively(m.terms, 0n, await signClose(m, m.deviceKey, m.id, 0n)));
      await expect(payer.open(m.terms, DEPOSIT)).to.be.revertedWithCustomError(m.channels, "ChannelExists").withArgs(m.id);
      await expectBalances(m.usdc, [[m.payer, FUNDS], [m.channels, 0n]]);
      // The same offering with a fresh salt opens normally.
      const again = await openChannel(m, { salt: 2n });
      expect((await m.channels.getChannel(again.id)).deposit).to.equal(DEPOSIT);
    });
  });

  describe("closeCooperatively", () => {
    it("pays the device-signed final amount and refunds the rest at once", async () => {
      const m = await loadFixture(channelFixture);
      await m.channels.claim(m.terms, 10_000n, await signVoucher(m, m.sessionKey, m.id, 10_000n));
      const sig = await signClose(m, m.deviceKey, m.id, 12_000n);
      const receipt = mined(await (await m.channels.connect(m.payer).closeCooperatively(m.terms, 12_000n, sig)).wait());
      await expect(receipt).to.emit(m.channels, "Claimed").withArgs(m.id, m.provider, 12_000n, 1_800n, 200n);
      await expect(receipt).to.emit(m.channels, "ChannelSettled").withArgs(m.id, 12_000n, DEPOSIT - 12_000n, true);
      expect(await eventsOf(receipt, m.channels)).to.deep.equal(["Claimed", "ChannelSettled"]);
      const channels = await m.channels.getAddress();
      expect(await transfersOf(receipt, m.usdc)).to.deep.equal([
        [channels, m.provider.address, 1_800n],
        [channels, m.payer.address, DEPOSIT - 12_000n],
      ]);
      const c = await m.channels.getChannel(m.id);
      expect([c.deposit, c.claimed, c.closesAt, c.settled]).to.deep.equal([DEPOSIT, 12_000n, 0n, true]);
      expect(await m.channels.royaltiesOf(1n, m.usdc)).to.equal(1_200n);
      await expectBalances(m.usdc, [
        [m.payer, FUNDS - 12_000n],
        [m.provider, PROVIDER_START + 10_800n],
        [m.channels, 1_200n],
      ]);
    });

    it("settles at the claimed amount without a claim, and at zero with a full refund", async () => {
      const m = await loadFixture(channelFixture);
      await m.channels.claim(m.terms, 10_000n, await signVoucher(m, m.sessionKey, m.id, 10_000n));
      const receipt = mined(
        await (await m.channels.connect(m.payer).closeCooperatively(m.terms, 10_000n, await signClose(m, m.deviceKey, m.id, 10_000n))).wait(),
      );
      expect(await eventsOf(receipt, m.channels)).to.deep.equal(["ChannelSettled"]);
      await expect(receipt).to.emit(m.channels, "ChannelSettled").withArgs(m.id, 10_000n, DEPOSIT - 10_000n, true);
      const fresh = await openChannel(m, { salt: 2n });
      await expect(m.channels.connect(m.payer).closeCooperatively(fresh.terms, 0n, await signClose(m, m.deviceKey, fresh.id, 0n)))
        .to.emit(m.channels, "ChannelSettled")
        .withArgs(fresh.id, 0n, DEPOSIT, true);
      await expectBalances(m.usdc, [[m.payer, FUNDS - 10_000n], [m.channels, 1_000n]]);
    });

    it("works during the challenge period, instead of waiting for it", async () => {
      const m = await loadFixture(closingFixture);
      await expect(m.channels.connect(m.payer).closeCooperatively(m.terms, 5_000n, await signClose(m, m.deviceKey, m.id, 5_000n)))
        .to.emit(m.channels, "ChannelSettled")
        .withArgs(m.id, 5_000n, DEPOSIT - 5_000n, true);
      await expectBalances(m.usdc, [[m.payer, FUNDS - 5_000n], [m.provider, PROVIDER_START + 4_500n], [m.channels, 500n]]);
    });

    it("refuses strangers, amounts above the deposit or below the claimed amount", async () => {
      const m = await loadFixture(channelFixture);
      const sig = await signClose(m, m.deviceKey, m.id, 5_000n);
      for (const stranger of [m.provider, m.deviceKey, m.other]) {
        await expect(m.channels.connect(stranger).closeCooperatively(m.terms, 5_000n, sig))
          .to.be.revertedWithCustomError(m.channels, "NotPayer")
          .withArgs(m.id, stranger);
      }
      await expect(m.channels.connect(m.payer).closeCooperatively(m.terms, DEPOSIT + 1n, await signClose(m, m.deviceKey, m.id, DEPOSIT + 1n)))
        .to.be.revertedWithCustomError(m.channels, "ChannelAmountTooHigh")
        .withArgs(DEPOSIT + 1n, DEPOSIT);
      await m.channels.claim(m.terms, 10_000n, await signVoucher(m, m.sessionKey, m.id, 10_000n));
      // The device cannot be made to give back what a voucher already paid.
      await expect(m.channels.connect(m.payer).closeCooperatively(m.terms, 5_000n, sig))
        .to.be.revertedWithCustomError(m.channels, "AmountBelowClaimed")
        .withArgs(5_000n, 10_000n);
      const unknown: Terms = { ...m.terms, salt: 5n };
      await expect(m.channels.connect(m.payer).closeCooperatively(unknown, 0n, sig))
        .to.be.revertedWithCustomError(m.channels, "ChannelNotFound")
        .withArgs(idOf(unknown));
    });

    it("needs the device key's CloseChannel signature: not the owner's, not a voucher, not another channel's", async () => {
      const m = await loadFixture(channelFixture);
      const payer = m.channels.connect(m.payer);
      const recover = (channelId: string, amount: bigint, sig: string) => recoverClose(m, channelId, amount, sig);

      const byOwner = await signClose(m, m.provider, m.id, 5_000n);
      await expect(payer.closeCooperatively(m.terms, 5_000n, byOwner))
        .to.be.revertedWithCustomError(m.channels, "InvalidSignature")
        .withArgs(m.id, m.deviceKey, m.provider);
      const byBuyer = await signClose(m, m.sessionKey, m.id, 5_000n);
      await expect(payer.closeCooperatively(m.terms, 5_000n, byBuyer))
        .to.be.revertedWithCustomError(m.channels, "InvalidSignature")
        .withArgs(m.id, m.deviceKey, m.sessionKey.address);
      // A Voucher the device signed is a different EIP-712 type: it recovers to someone else as a close.
      const voucher = await signVoucher(m, m.deviceKey, m.id, 5_000n);
      await expect(payer.closeCooperatively(m.terms, 5_000n, voucher))
        .to.be.revertedWithCustomError(m.channels, "InvalidSignature")
        .withArgs(m.id, m.deviceKey, await recover(m.id, 5_000n, voucher));
      const other = await openChannel(m, { salt: 2n });
      const forOther = await signClose(m, m.deviceKey, other.id, 5_000n);
      await expect(payer.closeCooperatively(m.terms, 5_000n, forOther))
        .to.be.revertedWithCustomError(m.channels, "InvalidSignature")
        .withArgs(m.id, m.deviceKey, await recover(m.id, 5_000n, forOther));
      const tampered = await signClose(m, m.deviceKey, m.id, 5_000n);
      await expect(payer.closeCooperatively(m.terms, 4_000n, tampered))
        .to.be.revertedWithCustomError(m.channels, "InvalidSignature")
        .withArgs(m.id, m.deviceKey, await recover(m.id, 4_000n, tampered));
      await expect(payer.closeCooperatively(m.terms, 5_000n, "0x")).to.be.revertedWithCustomError(m.channels, "InvalidSignature").withArgs(m.id, m.deviceKey, ZeroAddress);
    });
  });

  describe("withdrawRoyalties", () => {
    async function royaltyFixture() {
      const m = await channelFixture();
      await m.channels.claim(m.terms, 123_457n, await signVoucher(m, m.sessionKey, m.id, 123_457n));
      return m; // royalty 12,345 accrued (12,345.7 rounded down)
    }

    it("sends the model's accrued royalty to any address the owner names", async () => {
      const m = await loadFixture(royaltyFixture);
      expect(await m.channels.royaltiesOf(1n, m.usdc)).to.equal(12_345n);
      const tx = m.channels.connect(m.modelOwner).withdrawRoyalties(1n, m.usdc, m.other);
      await expect(tx).to.emit(m.channels, "RoyaltiesWithdrawn").withArgs(1n, m.usdc, m.other, 12_345n);
      await expect(tx).to.emit(m.usdc, "Transfer").withArgs(m.channels, m.other, 12_345n);
      expect(await m.channels.royaltiesOf(1n, m.usdc)).to.equal(0n);
      await expectBalances(m.usdc, [
        [m.other, FUNDS + 12_345n],
        [m.modelOwner, MODEL_OWNER_START],
        [m.channels, DEPOSIT - 123_457n],
      ]);
      await expect(m.channels.connect(m.modelOwner).withdrawRoyalties(1n, m.usdc, m.other)).to.be.revertedWithCustomError(m.channels, "ZeroAmount");
    });

    it("belongs to the current owner after a transfer, including what accrued before it", async () => {
      const m = await loadFixture(royaltyFixture);
      await m.models.connect(m.modelOwner).transferModelOwnership(1n, m.other);
      await m.channels.claim(m.terms, 133_457n, await signVoucher(m, m.sessionKey, m.id, 133_457n));
      await expect(m.channels.connect(m.modelOwner).withdrawRoyalties(1n, m.usdc, m.modelOwner))
        .to.be.revertedWithCustomError(m.channels, "NotRoyaltyOwner")
        .withArgs(1n, m.modelOwner);
      await expect(m.channels.connect(m.other).withdrawRoyalties(1n, m.usdc, m.other))
        .to.emit(m.channels, "RoyaltiesWithdrawn")
        .withArgs(1n, m.usdc, m.other, 13_345n);
      await expectBalances(m.usdc, [[m.other, FUNDS + 13_345n], [m.modelOwner, MODEL_OWNER_START]]);
    });

    it("refuses strangers, a zero recipient, unknown models and empty balances", async () => {
      const m = await loadFixture(royaltyFixture);
      await expect(m.channels.connect(m.provider).withdrawRoyalties(1n, m.usdc, m.provider))
        .to.be.revertedWithCustomError(m.channels, "NotRoyaltyOwner")
        .withArgs(1n, m.provider);
      await expect(m.channels.connect(m.modelOwner).withdrawRoyalties(1n, m.usdc, ZeroAddress)).to.be.revertedWithCustomError(m.channels, "ZeroAddress");
      await expect(m.channels.connect(m.modelOwner).withdrawRoyalties(7n, m.usdc, m.modelOwner))
        .to.be.revertedWithCustomError(m.models, "ModelNotFound")
        .withArgs(7n);
      // Royalties are kept per token: nothing accrued in another token.
      await expect(m.channels.connect(m.modelOwner).withdrawRoyalties(1n, m.other, m.modelOwner)).to.be.revertedWithCustomError(
        m.channels,
        "ZeroAmount",
      );
    });
  });

  it("leaves no token behind: every unit deposited reaches the provider, the model owner or the payer", async () => {
    const m = await loadFixture(channelFixture);
    const plain = await deployPlainToken();
    await offerIn(m, plain);
    const b = await openChannel(m, { salt: 2n }, 7_777_777n);
    const p = await openChannel(m, { token: await plain.getAddress() }, 3_333_333n);
    await m.channels.connect(m.payer).topUp(m.terms, 1_111n);
    // Channel 1: two claims, then a close request, a last claim inside the period, and a withdrawal.
    await m.channels.claim(m.terms, 1_234_567n, await signVoucher(m, m.sessionKey, m.id, 1_234_567n));
    await m.channels.connect(m.payer).requestClose(m.terms);
    await m.channels.claimMany([
      { terms: m.terms, cumulativeAmount: 2_345_679n, signature: await signVoucher(m, m.sessionKey, m.id, 2_345_679n) },
      { terms: b.terms, cumulativeAmount: 999_999n, signature: await signVoucher(m, m.sessionKey, b.id, 999_999n) },
      { terms: p.terms, cumulativeAmount: 3_333_333n, signature: await signVoucher(m, m.sessionKey, p.id, 3_333_333n) },
    ]);
    await time.increase(CHALLENGE_PERIOD);
    await m.channels.withdraw(m.terms);
    // Channel 2: cooperative close above its claims. Channel 3 was claimed in full and stays open, empty.
    await m.channels.connect(m.payer).closeCooperatively(b.terms, 1_000_005n, await signClose(m, m.deviceKey, b.id, 1_000_005n));
    await m.channels.connect(m.modelOwner).withdrawRoyalties(1n, m.usdc, m.modelOwner);
    await m.channels.connect(m.modelOwner).withdrawRoyalties(1n, plain, m.modelOwner);

    // Royalties per claim, on cumulative amounts: 123,456 + (234,567 - 123,456) + 99,999 + (100,000 - 99,999) in
    // TestUSDC (the close's delta of 6 carries the unit that per-delta rounding would drop); 333,333 in the plain token.
    const royalty = 123_456n + 111_111n + 99_999n + 1n;
    const spent = 2_345_679n + 1_000_005n;
    await expectBalances(m.usdc, [
      [m.channels, 0n],
      [m.payer, FUNDS - spent],
      [m.provider, PROVIDER_START + spent - royalty],
      [m.modelOwner, MODEL_OWNER_START + royalty],
    ]);
    await expectBalances(plain, [
      [m.channels, 0n],
      [m.payer, FUNDS - 3_333_333n],
      [m.provider, 3_333_333n - 333_333n],
      [m.modelOwner, 333_333n],
    ]);
  });
});
