import { expect } from "chai";
import { Signature, ZeroAddress, concat, toBeHex, type ContractTransactionReceipt } from "ethers";
import {
  MAX_UINT96,
  CHALLENGE_PERIOD,
  DEPOSIT,
  FUNDS,
  LICENSE_FEE,
  MIN_STAKE,
  MODEL_OWNER_START,
  PRICE,
  PROVIDER_START,
  ROYALTY_BPS,
  channelFixture,
  channelsDomain,
  deployPlainToken,
  ethers,
  eventsOf,
  expectBalances,
  idOf,
  modelParams,
  networkHelpers,
  offerIn,
  openChannel,
  paymentChannelsAbi,
  recoverVoucher,
  registerDevice,
  signClose,
  signVoucher,
  split,
  transfersOf,
  typed,
  type Terms,
} from "./fixtures.ts";

const { loadFixture, time } = networkHelpers;
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

function mined(receipt: ContractTransactionReceipt | null): ContractTransactionReceipt {
  if (!receipt) throw new Error("transaction was not mined");
  return receipt;
}

describe("PaymentChannels: claims", () => {
  describe("claim", () => {
    it("pays a session-key voucher: provider share to the payee, royalty accrued to the model", async () => {
      const m = await loadFixture(channelFixture);
      expect(m.terms.signer).not.to.equal(m.terms.payer);
      const sig = await signVoucher(m, m.sessionKey, m.id, 10_000n);
      // Anyone may submit; the money goes to the payee of the terms, never to the submitter.
      const tx = m.channels.connect(m.other).claim(m.terms, 10_000n, sig);
      await expect(tx).to.emit(m.channels, "Claimed").withArgs(m.id, m.provider, 10_000n, 9_000n, 1_000n);
      await expect(tx).to.emit(m.usdc, "Transfer").withArgs(m.channels, m.provider, 9_000n);
      const c = await m.channels.getChannel(m.id);
      expect([c.deposit, c.claimed, c.closesAt, c.settled]).to.deep.equal([DEPOSIT, 10_000n, 0n, false]);
      expect(await m.channels.royaltiesOf(1n, m.usdc)).to.equal(1_000n);
      await expectBalances(m.usdc, [
        [m.provider, PROVIDER_START + 9_000n],
        [m.channels, DEPOSIT - 9_000n],
        [m.other, FUNDS],
        [m.payer, FUNDS - DEPOSIT],
        [m.modelOwner, MODEL_OWNER_START],
      ]);
    });

    it("pays only the delta of a later voucher", async () => {
      const m = await loadFixture(channelFixture);
      await m.channels.claim(m.terms, 10_000n, await signVoucher(m, m.sessionKey, m.id, 10_000n));
      const tx = m.channels.claim(m.terms, 25_000n, await signVoucher(m, m.sessionKey, m.id, 25_000n));
      await expect(tx).to.emit(m.channels, "Claimed").withArgs(m.id, m.provider, 25_000n, 13_500n, 1_500n);
      await expect(tx).to.emit(m.usdc, "Transfer").withArgs(m.channels, m.provider, 13_500n);
      expect(await m.channels.royaltiesOf(1n, m.usdc)).to.equal(2_500n);
      expect((await m.channels.getChannel(m.id)).claimed).to.equal(25_000n);
      await expectBalances(m.usdc, [[m.provider, PROVIDER_START + 22_500n], [m.channels, DEPOSIT - 22_500n]]);
    });

    it("never pays a voucher twice, nor one at or below the claimed amount", async () => {
      const m = await loadFixture(channelFixture);
      const zero = await signVoucher(m, m.sessionKey, m.id, 0n);
      await expect(m.channels.claim(m.terms, 0n, zero)).to.be.revertedWithCustomError(m.channels, "NothingToClaim").withArgs(m.id, 0n, 0n);
      const low = await signVoucher(m, m.sessionKey, m.id, 5_000n);
      const sig = await signVoucher(m, m.sessionKey, m.id, 10_000n);
      await m.channels.claim(m.terms, 10_000n, sig);
      await expect(m.channels.claim(m.terms, 10_000n, sig))
        .to.be.revertedWithCustomError(m.channels, "NothingToClaim")
        .withArgs(m.id, 10_000n, 10_000n);
      await expect(m.channels.claim(m.terms, 5_000n, low)).to.be.revertedWithCustomError(m.channels, "NothingToClaim").withArgs(m.id, 5_000n, 10_000n);
      await expectBalances(m.usdc, [[m.provider, PROVIDER_START + 9_000n]]);
    });

    it("pays up to the deposit and not a unit more, until a top-up", async () => {
      const m = await loadFixture(channelFixture);
      const over = await signVoucher(m, m.sessionKey, m.id, DEPOSIT + 1n);
      await expect(m.channels.claim(m.terms, DEPOSIT + 1n, over))
        .to.be.revertedWithCustomError(m.channels, "ChannelAmountTooHigh")
        .withArgs(DEPOSIT + 1n, DEPOSIT);
      await expect(m.channels.claim(m.terms, DEPOSIT, await signVoucher(m, m.sessionKey, m.id, DEPOSIT)))
        .to.emit(m.channels, "Claimed")
        .withArgs(m.id, m.provider, DEPOSIT, 45_000_000n, 5_000_000n);
      await m.channels.connect(m.payer).topUp(m.terms, 1n);
      await expect(m.channels.claim(m.terms, DEPOSIT + 1n, over)).to.emit(m.channels, "Claimed").withArgs(m.id, m.provider, DEPOSIT + 1n, 1n, 0n);
      // The channel holds exactly the accrued royalty now.
      await expectBalances(m.usdc, [[m.channels, 5_000_000n], [m.provider, PROVIDER_START + 45_000_001n]]);
    });

    it("accepts only the terms' signer: not the payer, the device or a tampered amount", async () => {
      const m = await loadFixture(channelFixture);
      const byPayer = await signVoucher(m, m.payer, m.id, 10_000n);
      await expect(m.channels.claim(m.terms, 10_000n, byPayer))
        .to.be.revertedWithCustomError(m.channels, "InvalidSignature")
        .withArgs(m.id, m.sessionKey.address, m.payer);
      const byDevice = await signVoucher(m, m.deviceKey, m.id, 10_000n);
      await expect(m.channels.claim(m.terms, 10_000n, byDevice))
        .to.be.revertedWithCustomError(m.channels, "InvalidSignature")
        .withArgs(m.id, m.sessionKey.address, m.deviceKey);
      const sig = await signVoucher(m, m.sessionKey, m.id, 10_000n);
      await expect(m.channels.claim(m.terms, 20_000n, sig))
        .to.be.revertedWithCustomError(m.channels, "InvalidSignature")
        .withArgs(m.id, m.sessionKey.address, await recoverVoucher(m, m.id, 20_000n, sig));
      // A device's close consent is not a voucher either.
      const close = await signClose(m, m.sessionKey, m.id, 10_000n);
      await expect(m.channels.claim(m.terms, 10_000n, close))
        .to.be.revertedWithCustomError(m.channels, "InvalidSignature")
        .withArgs(m.id, m.sessionKey.address, await recoverVoucher(m, m.id, 10_000n, close));
    });

    it("refuses malformed and malleated signatures", async () => {
      const m = await loadFixture(channelFixture);
      const bad = (sig: string) =>
        expect(m.channels.claim(m.terms, 10_000n, sig))
          .to.be.revertedWithCustomError(m.channels, "InvalidSignature")
          .withArgs(m.id, m.sessionKey.address, ZeroAddress);
      await bad("0x");
      await bad("0x" + "11".repeat(64));
      await bad("0x" + "00".repeat(65));
      // The same signature with s' = n - s (and the other v) recovers to the same key; OpenZeppelin refuses high s.
      const sig = Signature.from(await signVoucher(m, m.sessionKey, m.id, 10_000n));
      await bad(concat([sig.r, toBeHex(SECP256K1_N - BigInt(sig.s), 32), toBeHex(sig.v === 27 ? 28 : 27, 1)]));
      await expect(m.channels.claim(m.terms, 10_000n, sig.serialized)).to.emit(m.channels, "Claimed");
    });

    it("refuses terms in a non-canonical ABI encoding, on open and on claim", async () => {
      const m = await loadFixture(channelFixture);
      // Dirty the high-order bytes of the payer word: the same address to a lax decoder, another id to a hash.
      const dirty = (data: string) => data.slice(0, 10) + "01" + data.slice(12);
      const fresh = { ...m.terms, salt: 2n };
      await expect(
        m.payer.sendTransaction({ to: m.channels, data: dirty(m.channels.interface.encodeFunctionData("open", [fresh, DEPOSIT])) }),
      ).to.revert(ethers);
      expect((await m.channels.getChannel(idOf(fresh))).deposit).to.equal(0n);
      const sig = await signVoucher(m, m.sessionKey, m.id, 10_000n);
      await expect(
        m.other.sendTransaction({ to: m.channels, data: dirty(m.channels.interface.encodeFunctionData("claim", [m.terms, 10_000n, sig])) }),
      ).to.revert(ethers);
      expect((await m.channels.getChannel(m.id)).claimed).to.equal(0n);
      await expectBalances(m.usdc, [[m.channels, DEPOSIT], [m.provider, PROVIDER_START]]);
    });

    it("refuses unknown and settled channels", async () => {
      const m = await loadFixture(channelFixture);
      const unknown: Terms = { ...m.terms, salt: 2n };
      const sig = await signVoucher(m, m.sessionKey, idOf(unknown), 1n);
      await expect(m.channels.claim(unknown, 1n, sig)).to.be.revertedWithCustomError(m.channels, "ChannelNotFound").withArgs(idOf(unknown));
      await m.channels.connect(m.payer).closeCooperatively(m.terms, 0n, await signClose(m, m.deviceKey, m.id, 0n));
      await expect(m.channels.claim(m.terms, 1n, await signVoucher(m, m.sessionKey, m.id, 1n)))
        .to.be.revertedWithCustomError(m.channels, "ChannelIsSettled")
        .withArgs(m.id);
    });
  });

  describe("voucher replay", () => {
    it("a voucher of one channel does not pay on another channel of the same signer", async () => {
      const m = await loadFixture(channelFixture);
      const second = await openChannel(m, { salt: 2n });
      const sig = await signVoucher(m, m.sessionKey, m.id, 10_000n);
      await expect(m.channels.claim(second.terms, 10_000n, sig))
        .to.be.revertedWithCustomError(m.channels, "InvalidSignature")
        .withArgs(second.id, m.sessionKey.address, await recoverVoucher(m, second.id, 10_000n, sig));
      expect((await m.channels.getChannel(second.id)).claimed).to.equal(0n);
    });

    it("a voucher signed for another chain id does not pay", async () => {
      const m = await loadFixture(channelFixture);
      const foreign = await signVoucher(m, m.sessionKey, m.id, 10_000n, channelsDomain(1n, await m.channels.getAddress()));
      await expect(m.channels.claim(m.terms, 10_000n, foreign))
        .to.be.revertedWithCustomError(m.channels, "InvalidSignature")
        .withArgs(m.id, m.sessionKey.address, await recoverVoucher(m, m.id, 10_000n, foreign));
    });

    it("a voucher signed for another PaymentChannels contract does not pay, even for the same channel id", async () => {
      const m = await loadFixture(channelFixture);
      const other = typed(await ethers.deployContract("PaymentChannels", [m.devices, m.models, CHALLENGE_PERIOD]), paymentChannelsAbi);
      await m.usdc.connect(m.payer).approve(other, DEPOSIT);
      await other.connect(m.payer).open(m.terms, DEPOSIT);
      // Same terms, same id: only the EIP-712 domain tells the two channels apart.
      expect(await other.channelId(m.terms)).to.equal(m.id);
      const forOther = await signVoucher(m, m.sessionKey, m.id, 10_000n, channelsDomain(m.chainId, await other.getAddress()));
      const forThis = await signVoucher(m, m.sessionKey, m.id, 10_000n);
      await expect(m.channels.claim(m.terms, 10_000n, forOther))
        .to.be.revertedWithCustomError(m.channels, "InvalidSignature")
        .withArgs(m.id, m.sessionKey.address, await recoverVoucher(m, m.id, 10_000n, forOther));
      await expect(other.claim(m.terms, 10_000n, forThis)).to.be.revertedWithCustomError(other, "InvalidSignature");
      await expect(other.claim(m.terms, 10_000n, forOther)).to.emit(other, "Claimed").withArgs(m.id, m.provider, 10_000n, 9_000n, 1_000n);
      await expect(m.channels.claim(m.terms, 10_000n, forThis)).to.emit(m.channels, "Claimed").withArgs(m.id, m.provider, 10_000n, 9_000n, 1_000n);
      await expectBalances(m.usdc, [[m.channels, DEPOSIT - 9_000n], [other, DEPOSIT - 9_000n], [m.provider, PROVIDER_START + 18_000n]]);
    });
  });

  describe("royalty split", () => {
    async function oddRoyaltyFixture() {
      const m = await channelFixture();
      // 3.33% royalty, so almost every delta rounds.
      await m.models.connect(m.modelOwner).setTerms(1n, 333, LICENSE_FEE);
      const odd = await openChannel(m, { royaltyBps: 333, salt: 2n });
      return { ...m, odd };
    }

    it("computes the royalty on the cumulative amount: royalty(cumulative) - royalty(claimed), rounded down once", async () => {
      const m = await loadFixture(oddRoyaltyFixture);
      const { terms, id } = m.odd;
      const claim = async (amount: bigint) => m.channels.claim(terms, amount, await signVoucher(m, m.sessionKey, id, amount));
      await expect(claim(1_001n)).to.emit(m.channels, "Claimed").withArgs(id, m.provider, 1_001n, 968n, 33n); // 33.33 -> 33
      await expect(claim(1_002n)).to.emit(m.channels, "Claimed").withArgs(id, m.provider, 1_002n, 1n, 0n); // 33.36 -> 33
      await expect(claim(4_003n)).to.emit(m.channels, "Claimed").withArgs(id, m.provider, 4_003n, 2_901n, 100n); // 133.29 -> 133
      // Exactly floor(3.33% of 4,003) = 133 accrued, as one claim of 4,003 would have.
      expect(await m.channels.royaltiesOf(1n, m.usdc)).to.equal(133n);
      await expectBalances(m.usdc, [[m.provider, PROVIDER_START + 3_870n], [m.channels, 2n * DEPOSIT - 3_870n]]);
    });

    it("cannot farm royalty dust: twenty claims of 9 units at 10% pay the same royalty as one claim of 180", async () => {
      const m = await loadFixture(channelFixture);
      const claim = async (amount: bigint) => m.channels.claim(m.terms, amount, await signVoucher(m, m.sessionKey, m.id, amount));
      // Per-delta rounding would give 0 royalty on each 9-unit delta; cumulative rounding gives 18 in all.
      for (let i = 1n; i <= 20n; i++) await claim(9n * i);
      expect(await m.channels.royaltiesOf(1n, m.usdc)).to.equal(18n);
      await expectBalances(m.usdc, [[m.provider, PROVIDER_START + 162n], [m.channels, DEPOSIT - 162n]]);
    });

    it("splits at the cap and with no royalty at all", async () => {
      const m = await loadFixture(channelFixture);
      await m.models.connect(m.modelOwner).setTerms(1n, 5_000, LICENSE_FEE);
      const half = await openChannel(m, { royaltyBps: 5_000, salt: 2n });
      await expect(m.channels.claim(half.terms, 3n, await signVoucher(m, m.sessionKey, half.id, 3n)))
        .to.emit(m.channels, "Claimed")
        .withArgs(half.id, m.provider, 3n, 2n, 1n);
      await m.models.connect(m.modelOwner).setTerms(1n, 0, LICENSE_FEE);
      const none = await openChannel(m, { royaltyBps: 0, salt: 3n });
      await expect(m.channels.claim(none.terms, 999n, await signVoucher(m, m.sessionKey, none.id, 999n)))
        .to.emit(m.channels, "Claimed")
        .withArgs(none.id, m.provider, 999n, 999n, 0n);
      expect(await m.channels.royaltiesOf(1n, m.usdc)).to.equal(1n);
      await expectBalances(m.usdc, [[m.provider, PROVIDER_START + 1_001n]]);
    });

    it("keeps the terms a channel was opened with, whatever the owners change later", async () => {
      const m = await loadFixture(channelFixture);
      await m.models.connect(m.modelOwner).setTerms(1n, 3_000, LICENSE_FEE);
      await m.devices.connect(m.provider).setOffering(m.deviceKey, 1n, m.usdc, PRICE * 2n);
      await m.models.connect(m.modelOwner).transferModelOwnership(1n, m.other);
      await m.devices.connect(m.provider).startExit(m.deviceKey);
      await expect(m.channels.claim(m.terms, 10_000n, await signVoucher(m, m.sessionKey, m.id, 10_000n)))
        .to.emit(m.channels, "Claimed")
        .withArgs(m.id, m.provider, 10_000n, 9_000n, 1_000n);
      expect(await m.channels.royaltiesOf(1n, m.usdc)).to.equal(1_000n);
      // The device has left the market since; its earnings still arrive to the unit.
      await expectBalances(m.usdc, [[m.provider, PROVIDER_START + 9_000n], [m.channels, DEPOSIT - 9_000n]]);
    });
  });

  describe("claimMany", () => {
    /**
     * Six channels of one payer: A1-A3 to the provider in TestUSDC (model 1), D1 to the provider in TestUSDC
     * for model 2 (5% royalty), B1 to provider2's device in TestUSDC, C1 to the provider in a token without permit.
     */
    async function batchFixture() {
      const m = await channelFixture();
      const plain = await deployPlainToken();
      await offerIn(m, plain);
      await m.usdc.connect(m.provider2).approve(m.models, LICENSE_FEE);
      await m.models.connect(m.provider2).takeLicense(1n, m.provider2, MAX_UINT96);
      await registerDevice(m, m.provider2, m.deviceKey2);
      await m.devices.connect(m.provider2).setOffering(m.deviceKey2, 1n, m.usdc, PRICE);
      await m.models.connect(m.modelOwner).publish(modelParams({ name: "second", royaltyBps: 500 }));
      await m.models.connect(m.provider).takeLicense(2n, m.provider, MAX_UINT96);
      await m.devices.connect(m.provider).setOffering(m.deviceKey, 2n, m.usdc, PRICE);
      const A1 = { terms: m.terms, id: m.id };
      const A2 = await openChannel(m, { salt: 2n });
      const A3 = await openChannel(m, { salt: 3n });
      const D1 = await openChannel(m, { salt: 4n, modelId: 2n, royaltyBps: 500 });
      const B1 = await openChannel(m, { salt: 5n, device: m.deviceKey2.address, payee: m.provider2.address });
      const C1 = await openChannel(m, { salt: 6n, token: await plain.getAddress() });
      return { ...m, plain, A1, A2, A3, D1, B1, C1 };
    }
    type Batch = Awaited<ReturnType<typeof batchFixture>>;
    type Channel = Batch["A1"];

    async function item(m: Batch, ch: Channel, amount: bigint) {
      return { terms: ch.terms, cumulativeAmount: amount, signature: await signVoucher(m, m.sessionKey, ch.id, amount) };
    }

    /** Every Transfer in a receipt across both tokens, in log order, as [token, to, value]. */
    async function allTransfers(m: Batch, receipt: ContractTransactionReceipt) {
      const names = new Map([
        [await m.usdc.getAddress(), "usdc"],
        [await m.plain.getAddress(), "plain"],
      ]);
      const out: [string, string, bigint][] = [];
      for (const log of receipt.logs) {
        const token = names.get(log.address);
        if (!token) continue;
        const parsed = m.usdc.interface.parseLog(log);
        if (parsed?.name === "Transfer") out.push([token, parsed.args[1] as string, parsed.args[2] as bigint]);
      }
      return out;
    }

    it("refuses an empty batch", async () => {
      const m = await loadFixture(channelFixture);
      await expect(m.channels.claimMany([])).to.be.revertedWithCustomError(m.channels, "EmptyBatch");
    });

    it("pays many channels of one payee and token with one transfer", async () => {
      const m = await loadFixture(channelFixture);
      const chans = [{ terms: m.terms, id: m.id }];
      for (let salt = 2n; salt <= 20n; salt++) chans.push(await openChannel(m, { salt }, 1_000_000n));
      const amounts = chans.map((_, i) => BigInt(i + 1) * 10_007n);
      const claims = await Promise.all(
        chans.map(async (c, i) => ({
          terms: c.terms,
          cumulativeAmount: amounts[i] ?? 0n,
          signature: await signVoucher(m, m.sessionKey, c.id, amounts[i] ?? 0n),
        })),
      );
      const receipt = mined(await (await m.channels.connect(m.other).claimMany(claims)).wait());
      const parts = amounts.map((a) => split(a, ROYALTY_BPS));
      const payout = parts.reduce((s, p) => s + p.provider, 0n);
      const royalty = parts.reduce((s, p) => s + p.royalty, 0n);
      expect(payout + royalty).to.equal(amounts.reduce((s, a) => s + a, 0n));
      expect(await transfersOf(receipt, m.usdc)).to.deep.equal([[await m.channels.getAddress(), m.provider.address, payout]]);
      expect(await eventsOf(receipt, m.channels)).to.deep.equal(chans.map(() => "Claimed"));
      for (const [i, c] of chans.entries()) {
        expect((await m.channels.getChannel(c.id)).claimed).to.equal(amounts[i]);
        await expect(receipt)
          .to.emit(m.channels, "Claimed")
          .withArgs(c.id, m.provider, amounts[i], parts[i]?.provider, parts[i]?.royalty);
      }
      expect(await m.channels.royaltiesOf(1n, m.usdc)).to.equal(royalty);
      await expectBalances(m.usdc, [
        [m.provider, PROVIDER_START + payout],
        [m.channels, DEPOSIT + 19n * 1_000_000n - payout],
        [m.payer, FUNDS - DEPOSIT - 19n * 1_000_000n],
      ]);
    });

    it("flushes a transfer whenever payee or token changes, and keeps royalties per model and token", async () => {
      const m = await loadFixture(batchFixture);
      const claims = [
        await item(m, m.A1, 10_000n), // 9,000 + 1,000
        await item(m, m.D1, 20_000n), // 19,000 + 1,000 (5%)
        await item(m, m.A2, 30_001n), // 27,001 + 3,000
        await item(m, m.B1, 40_000n), // 36,000 + 4,000, to provider2
        await item(m, m.C1, 50_000n), // 45,000 + 5,000, in the plain token
        await item(m, m.A3, 60_003n), // 54,003 + 6,000
      ];
      const receipt = mined(await (await m.channels.claimMany(claims)).wait());
      expect(await allTransfers(m, receipt)).to.deep.equal([
        ["usdc", m.provider.address, 55_001n],
        ["usdc", m.provider2.address, 36_000n],
        ["plain", m.provider.address, 45_000n],
        ["usdc", m.provider.address, 54_003n],
      ]);
      await expect(receipt).to.emit(m.channels, "Claimed").withArgs(m.D1.id, m.provider, 20_000n, 19_000n, 1_000n);
      await expect(receipt).to.emit(m.channels, "Claimed").withArgs(m.B1.id, m.provider2, 40_000n, 36_000n, 4_000n);
      expect(await m.channels.royaltiesOf(1n, m.usdc)).to.equal(14_000n);
      expect(await m.channels.royaltiesOf(2n, m.usdc)).to.equal(1_000n);
      expect(await m.channels.royaltiesOf(1n, m.plain)).to.equal(5_000n);
      expect(await m.channels.royaltiesOf(2n, m.plain)).to.equal(0n);
      await expectBalances(m.usdc, [
        [m.provider, PROVIDER_START + 109_004n],
        [m.provider2, FUNDS - LICENSE_FEE - MIN_STAKE + 36_000n],
        [m.channels, 5n * DEPOSIT - 145_004n],
      ]);
      await expectBalances(m.plain, [[m.provider, 45_000n], [m.channels, DEPOSIT - 45_000n]]);
    });

    it("skips vouchers already claimed, inside the batch too, and pays the rest", async () => {
      const m = await loadFixture(batchFixture);
      await m.channels.claim(m.A1.terms, 5_000n, await signVoucher(m, m.sessionKey, m.A1.id, 5_000n));
      const claims = [
        await item(m, m.A1, 5_000n), // equal to claimed: skipped
        await item(m, m.A1, 3_000n), // below: skipped
        await item(m, m.A2, 7_000n),
        await item(m, m.A2, 7_000n), // duplicate: skipped
        await item(m, m.A2, 9_000n), // a later voucher in the same batch: pays the delta 2,000
        await item(m, m.A2, 8_000n), // below the new claimed amount: skipped
      ];
      const receipt = mined(await (await m.channels.claimMany(claims)).wait());
      expect(await eventsOf(receipt, m.channels)).to.deep.equal(["Claimed", "Claimed"]);
      await expect(receipt).to.emit(m.channels, "Claimed").withArgs(m.A2.id, m.provider, 7_000n, 6_300n, 700n);
      await expect(receipt).to.emit(m.channels, "Claimed").withArgs(m.A2.id, m.provider, 9_000n, 1_800n, 200n);
      expect(await transfersOf(receipt, m.usdc)).to.deep.equal([[await m.channels.getAddress(), m.provider.address, 8_100n]]);
      expect((await m.channels.getChannel(m.A1.id)).claimed).to.equal(5_000n);
      expect((await m.channels.getChannel(m.A2.id)).claimed).to.equal(9_000n);
      expect(await m.channels.royaltiesOf(1n, m.usdc)).to.equal(500n + 900n);
      await expectBalances(m.usdc, [[m.provider, PROVIDER_START + 4_500n + 8_100n]]);
    });

    it("moves nothing when every voucher was claimed already, even when the first one is skipped", async () => {
      const m = await loadFixture(batchFixture);
      await m.channels.claimMany([await item(m, m.A1, 5_000n), await item(m, m.B1, 5_000n)]);
      const none = mined(await (await m.channels.claimMany([await item(m, m.A1, 5_000n), await item(m, m.B1, 4_000n)])).wait());
      expect(await eventsOf(none, m.channels)).to.deep.equal([]);
      expect(await transfersOf(none, m.usdc)).to.deep.equal([]);
      // A skipped first entry (provider) followed by another payee: only provider2 is paid.
      const mixed = mined(await (await m.channels.claimMany([await item(m, m.A1, 5_000n), await item(m, m.B1, 6_000n)])).wait());
      expect(await transfersOf(mixed, m.usdc)).to.deep.equal([[await m.channels.getAddress(), m.provider2.address, 900n]]);
      await expectBalances(m.usdc, [
        [m.provider, PROVIDER_START + 4_500n],
        [m.provider2, FUNDS - LICENSE_FEE - MIN_STAKE + 5_400n],
      ]);
    });

    it("is atomic: one bad voucher reverts the whole batch with its reason", async () => {
      const m = await loadFixture(batchFixture);
      const forged = { ...(await item(m, m.A2, 7_000n)), signature: await signVoucher(m, m.payer, m.A2.id, 7_000n) };
      await expect(m.channels.claimMany([await item(m, m.A1, 5_000n), forged, await item(m, m.B1, 1n)]))
        .to.be.revertedWithCustomError(m.channels, "InvalidSignature")
        .withArgs(m.A2.id, m.sessionKey.address, m.payer);
      // A voucher of A1 presented for A2 (cross-channel replay) fails the same way.
      const replay = { terms: m.A2.terms, cumulativeAmount: 5_000n, signature: (await item(m, m.A1, 5_000n)).signature };
      await expect(m.channels.claimMany([replay]))
        .to.be.revertedWithCustomError(m.channels, "InvalidSignature")
        .withArgs(m.A2.id, m.sessionKey.address, await recoverVoucher(m, m.A2.id, 5_000n, replay.signature));
      await expect(m.channels.claimMany([await item(m, m.A1, 5_000n), await item(m, m.A3, DEPOSIT + 1n)]))
        .to.be.revertedWithCustomError(m.channels, "ChannelAmountTooHigh")
        .withArgs(DEPOSIT + 1n, DEPOSIT);
      const unknown = { ...m.A1.terms, salt: 77n };
      await expect(
        m.channels.claimMany([{ terms: unknown, cumulativeAmount: 1n, signature: await signVoucher(m, m.sessionKey, idOf(unknown), 1n) }]),
      )
        .to.be.revertedWithCustomError(m.channels, "ChannelNotFound")
        .withArgs(idOf(unknown));
      expect((await m.channels.getChannel(m.A1.id)).claimed).to.equal(0n);
      await expectBalances(m.usdc, [[m.provider, PROVIDER_START], [m.channels, 5n * DEPOSIT]]);
    });

    it("refuses settled channels and channels past their challenge period", async () => {
      const m = await loadFixture(batchFixture);
      await m.channels.connect(m.payer).closeCooperatively(m.A3.terms, 0n, await signClose(m, m.deviceKey, m.A3.id, 0n));
      await expect(m.channels.claimMany([await item(m, m.A1, 1n), await item(m, m.A3, 1n)]))
        .to.be.revertedWithCustomError(m.channels, "ChannelIsSettled")
        .withArgs(m.A3.id);
      await m.channels.connect(m.payer).requestClose(m.A2.terms);
      const { closesAt } = await m.channels.getChannel(m.A2.id);
      await time.setNextBlockTimestamp(closesAt);
      await expect(m.channels.claimMany([await item(m, m.A1, 1n), await item(m, m.A2, 1n)]))
        .to.be.revertedWithCustomError(m.channels, "ChallengePeriodOver")
        .withArgs(m.A2.id, closesAt);
    });
  });
});
