import { expect } from "chai";
import { TypedDataEncoder, ZeroAddress, ZeroHash, id as keccakText } from "ethers";
import { channelIdOf } from "../../protocol/terms.ts";
import {
  CHALLENGE_PERIOD,
  DEPOSIT,
  FUNDS,
  MAX_UINT96,
  PRICE,
  ROYALTY_BPS,
  Status,
  channelFixture,
  channelsDomain,
  deployFeeToken,
  testUsdcAbi,
  typed,
  deployPlainToken,
  ethers,
  expectBalances,
  idOf,
  marketFixture,
  networkHelpers,
  offerIn,
  openChannel,
  signClose,
  signPermit,
  signVoucher,
  termsFor,
  termsTuple,
  type Terms,
} from "./fixtures.ts";

const { loadFixture, time } = networkHelpers;
const pair = [
  { name: "channelId", type: "bytes32" },
  { name: "cumulativeAmount", type: "uint256" },
];

describe("PaymentChannels: deployment, open, top-up", () => {
  describe("deployment and views", () => {
    it("keeps its wiring and challenge period", async () => {
      const { channels, devices, models } = await loadFixture(marketFixture);
      expect(await channels.deviceRegistry()).to.equal(await devices.getAddress());
      expect(await channels.modelRegistry()).to.equal(await models.getAddress());
      expect(await channels.challengePeriod()).to.equal(CHALLENGE_PERIOD);
      expect(await channels.VOUCHER_TYPEHASH()).to.equal(keccakText("Voucher(bytes32 channelId,uint256 cumulativeAmount)"));
      expect(await channels.CLOSE_TYPEHASH()).to.equal(keccakText("CloseChannel(bytes32 channelId,uint256 cumulativeAmount)"));
    });

    it("refuses zero registries", async () => {
      const { channels, devices, models } = await loadFixture(marketFixture);
      const factory = await ethers.getContractFactory("PaymentChannels");
      await expect(factory.deploy(ZeroAddress, models, 1n)).to.be.revertedWithCustomError(channels, "ZeroAddress");
      await expect(factory.deploy(devices, ZeroAddress, 1n)).to.be.revertedWithCustomError(channels, "ZeroAddress");
    });

    it("derives the channel id as keccak256(abi.encode(terms)), like protocol/terms.ts", async () => {
      const m = await loadFixture(marketFixture);
      const terms = await termsFor(m, { salt: 2n ** 255n + 7n });
      const id = await m.channels.channelId(terms);
      expect(id).to.equal(idOf(terms));
      expect(id).to.equal(channelIdOf(terms as Parameters<typeof channelIdOf>[0]));
      expect(await m.channels.channelId({ ...terms, salt: terms.salt + 1n })).not.to.equal(id);
    });

    it("computes voucher and close digests under its EIP-712 domain", async () => {
      const m = await loadFixture(marketFixture);
      const domain = channelsDomain(m.chainId, await m.channels.getAddress());
      const value = { channelId: keccakText("some channel"), cumulativeAmount: 123n };
      expect(await m.channels.voucherDigest(value.channelId, value.cumulativeAmount)).to.equal(TypedDataEncoder.hash(domain, { Voucher: pair }, value));
      expect(await m.channels.closeDigest(value.channelId, value.cumulativeAmount)).to.equal(
        TypedDataEncoder.hash(domain, { CloseChannel: pair }, value),
      );
      const [, name, version, chainId, verifyingContract] = await m.channels.eip712Domain();
      expect([name, version, chainId, verifyingContract]).to.deep.equal(["Edgepay PaymentChannels", "1", m.chainId, await m.channels.getAddress()]);
    });

    it("reports unknown channels and royalties as zero", async () => {
      const { channels, usdc } = await loadFixture(marketFixture);
      const c = await channels.getChannel(ZeroHash);
      expect([c.deposit, c.claimed, c.closesAt, c.settled]).to.deep.equal([0n, 0n, 0n, false]);
      expect(await channels.royaltiesOf(1n, usdc)).to.equal(0n);
    });
  });

  describe("open", () => {
    it("opens a channel on the current offering and pulls the deposit", async () => {
      const m = await loadFixture(marketFixture);
      const { channels, usdc, payer, deviceKey, provider } = m;
      const terms = await termsFor(m);
      const id = idOf(terms);
      expect(await channels.connect(payer).open.staticCall(terms, DEPOSIT)).to.equal(id);
      const tx = channels.connect(payer).open(terms, DEPOSIT);
      await expect(tx).to.emit(channels, "ChannelOpened").withArgs(id, payer, deviceKey, termsTuple(terms), DEPOSIT);
      await expect(tx).to.emit(usdc, "Transfer").withArgs(payer, channels, DEPOSIT);
      const c = await channels.getChannel(id);
      expect([c.deposit, c.claimed, c.closesAt, c.settled]).to.deep.equal([DEPOSIT, 0n, 0n, false]);
      await expectBalances(usdc, [[payer, FUNDS - DEPOSIT], [channels, DEPOSIT]]);
      expect(terms.payee).to.equal(provider.address);
    });

    it("lets the payer sign its own vouchers (signer = payer)", async () => {
      const m = await loadFixture(marketFixture);
      const { terms, id } = await openChannel(m, { signer: m.payer.address });
      expect((await m.channels.getChannel(id)).deposit).to.equal(DEPOSIT);
      expect(terms.signer).to.equal(terms.payer);
    });

    it("refuses the same terms twice; another salt is another channel", async () => {
      const m = await loadFixture(channelFixture);
      await expect(m.channels.connect(m.payer).open(m.terms, 1n)).to.be.revertedWithCustomError(m.channels, "ChannelExists").withArgs(m.id);
      const { id } = await openChannel(m, { salt: 2n }, 1n);
      expect(id).not.to.equal(m.id);
      expect((await m.channels.getChannel(id)).deposit).to.equal(1n);
      await expectBalances(m.usdc, [[m.payer, FUNDS - DEPOSIT - 1n], [m.channels, DEPOSIT + 1n]]);
    });

    it("is for the payer named in the terms only", async () => {
      const m = await loadFixture(marketFixture);
      const terms = await termsFor(m);
      await expect(m.channels.connect(m.other).open(terms, DEPOSIT))
        .to.be.revertedWithCustomError(m.channels, "NotPayer")
        .withArgs(idOf(terms), m.other);
    });

    it("refuses a zero signer or token and a zero deposit", async () => {
      const m = await loadFixture(marketFixture);
      const open = (t: Terms, deposit = DEPOSIT) => m.channels.connect(m.payer).open(t, deposit);
      await expect(open(await termsFor(m, { signer: ZeroAddress }))).to.be.revertedWithCustomError(m.channels, "ZeroAddress");
      await expect(open(await termsFor(m, { token: ZeroAddress }))).to.be.revertedWithCustomError(m.channels, "ZeroAddress");
      await expect(open(await termsFor(m), 0n)).to.be.revertedWithCustomError(m.channels, "ZeroAmount");
    });

    it("refuses terms that differ from the current offering, model royalty or device owner", async () => {
      const m = await loadFixture(marketFixture);
      const open = async (o: Partial<Terms>) => m.channels.connect(m.payer).open(await termsFor(m, o), DEPOSIT);
      await expect(open({ price: PRICE - 1n })).to.be.revertedWithCustomError(m.channels, "PriceMismatch").withArgs(PRICE - 1n, PRICE);
      await expect(open({ price: PRICE + 1n })).to.be.revertedWithCustomError(m.channels, "PriceMismatch").withArgs(PRICE + 1n, PRICE);
      await expect(open({ payee: m.other.address })).to.be.revertedWithCustomError(m.channels, "PayeeMismatch").withArgs(m.other, m.provider);
      await expect(open({ royaltyBps: ROYALTY_BPS - 1 }))
        .to.be.revertedWithCustomError(m.channels, "RoyaltyMismatch")
        .withArgs(ROYALTY_BPS - 1, ROYALTY_BPS);
    });

    it("refuses devices that are unknown, paused or without the offering, and deprecated models", async () => {
      const m = await loadFixture(marketFixture);
      const open = async (o: Partial<Terms>) => m.channels.connect(m.payer).open(await termsFor(m, o), DEPOSIT);
      await expect(open({ device: m.deviceKey2.address })).to.be.revertedWithCustomError(m.devices, "DeviceNotFound").withArgs(m.deviceKey2);
      await expect(open({ modelId: 2n }))
        .to.be.revertedWithCustomError(m.devices, "OfferingNotFound")
        .withArgs(m.deviceKey, 2n, m.usdc);
      await expect(open({ token: m.other.address }))
        .to.be.revertedWithCustomError(m.devices, "OfferingNotFound")
        .withArgs(m.deviceKey, 1n, m.other);
      await m.devices.connect(m.provider).pause(m.deviceKey);
      await expect(open({})).to.be.revertedWithCustomError(m.devices, "InvalidDeviceStatus").withArgs(m.deviceKey, Status.Paused);
      await m.devices.connect(m.provider).unpause(m.deviceKey);
      await m.models.connect(m.modelOwner).deprecate(1n);
      await expect(open({})).to.be.revertedWithCustomError(m.models, "ModelIsDeprecated").withArgs(1n);
      await expectBalances(m.usdc, [[m.payer, FUNDS], [m.channels, 0n]]);
    });

    it("fails on a missing allowance and keeps no state", async () => {
      const m = await loadFixture(marketFixture);
      await m.usdc.connect(m.payer).approve(m.channels, DEPOSIT - 1n);
      const terms = await termsFor(m);
      await expect(m.channels.connect(m.payer).open(terms, DEPOSIT))
        .to.be.revertedWithCustomError(m.usdc, "ERC20InsufficientAllowance")
        .withArgs(m.channels, DEPOSIT - 1n, DEPOSIT);
      expect((await m.channels.getChannel(idOf(terms))).deposit).to.equal(0n);
    });
  });

  describe("openWithPermit", () => {
    async function permitFixture() {
      const m = await marketFixture();
      await m.usdc.connect(m.payer).approve(m.channels, 0n);
      const terms = await termsFor(m);
      const deadline = BigInt(await time.latest()) + 3600n;
      const permit = await signPermit(m, m.payer, m.channels, DEPOSIT, deadline);
      return { ...m, terms, id: idOf(terms), deadline, permit };
    }

    it("opens with an EIP-2612 permit instead of an approval", async () => {
      const m = await loadFixture(permitFixture);
      const { v, r, s } = m.permit;
      const tx = m.channels.connect(m.payer).openWithPermit(m.terms, DEPOSIT, m.deadline, v, r, s);
      await expect(tx).to.emit(m.channels, "ChannelOpened").withArgs(m.id, m.payer, m.deviceKey, termsTuple(m.terms), DEPOSIT);
      await expect(tx).to.emit(m.usdc, "Approval").withArgs(m.payer, m.channels, DEPOSIT);
      expect(await m.usdc.nonces(m.payer)).to.equal(1n);
      expect(await m.usdc.allowance(m.payer, m.channels)).to.equal(0n);
      await expectBalances(m.usdc, [[m.payer, FUNDS - DEPOSIT], [m.channels, DEPOSIT]]);
    });

    it("still opens when someone front-ran the permit", async () => {
      const m = await loadFixture(permitFixture);
      const { v, r, s } = m.permit;
      // A watcher copies the permit from the mempool and submits it first: the allowance is already there.
      await m.usdc.connect(m.other).permit(m.payer, m.channels, DEPOSIT, m.deadline, v, r, s);
      const tx = m.channels.connect(m.payer).openWithPermit(m.terms, DEPOSIT, m.deadline, v, r, s);
      await expect(tx).to.emit(m.channels, "ChannelOpened").withArgs(m.id, m.payer, m.deviceKey, termsTuple(m.terms), DEPOSIT);
      await expect(tx).not.to.emit(m.usdc, "Approval");
      await expectBalances(m.usdc, [[m.payer, FUNDS - DEPOSIT], [m.channels, DEPOSIT]]);
    });

    it("falls back to the allowance when the permit is bad, and fails without one", async () => {
      const m = await loadFixture(permitFixture);
      const { v, r, s } = m.permit;
      await time.increaseTo(m.deadline + 1n);
      await expect(m.channels.connect(m.payer).openWithPermit(m.terms, DEPOSIT, m.deadline, v, r, s))
        .to.be.revertedWithCustomError(m.usdc, "ERC20InsufficientAllowance")
        .withArgs(m.channels, 0n, DEPOSIT);
      await m.usdc.connect(m.payer).approve(m.channels, DEPOSIT);
      await expect(m.channels.connect(m.payer).openWithPermit(m.terms, DEPOSIT, m.deadline, v, r, s)).to.emit(m.channels, "ChannelOpened");
    });

    it("cannot be submitted by anyone but the payer", async () => {
      const m = await loadFixture(permitFixture);
      const { v, r, s } = m.permit;
      await expect(m.channels.connect(m.other).openWithPermit(m.terms, DEPOSIT, m.deadline, v, r, s))
        .to.be.revertedWithCustomError(m.channels, "NotPayer")
        .withArgs(m.id, m.other);
    });

    it("works with a token that has no permit, given an allowance", async () => {
      const m = await loadFixture(marketFixture);
      const plain = await deployPlainToken();
      await offerIn(m, plain);
      const terms = await termsFor(m, { token: await plain.getAddress() });
      await plain.connect(m.payer).approve(m.channels, 0n);
      await expect(m.channels.connect(m.payer).openWithPermit(terms, DEPOSIT, 0n, 27, ZeroHash, ZeroHash))
        .to.be.revertedWithCustomError(plain, "ERC20InsufficientAllowance")
        .withArgs(m.channels, 0n, DEPOSIT);
      await plain.connect(m.payer).approve(m.channels, DEPOSIT);
      await expect(m.channels.connect(m.payer).openWithPermit(terms, DEPOSIT, 0n, 27, ZeroHash, ZeroHash))
        .to.emit(m.channels, "ChannelOpened")
        .withArgs(idOf(terms), m.payer, m.deviceKey, termsTuple(terms), DEPOSIT);
      await expectBalances(plain, [[m.payer, FUNDS - DEPOSIT], [m.channels, DEPOSIT]]);
    });
  });

  describe("topUp", () => {
    it("adds to the deposit, from the payer or anyone", async () => {
      const m = await loadFixture(channelFixture);
      const tx = m.channels.connect(m.payer).topUp(m.terms, 7_000_000n);
      await expect(tx).to.emit(m.channels, "ChannelToppedUp").withArgs(m.id, 7_000_000n, DEPOSIT + 7_000_000n);
      await expect(tx).to.emit(m.usdc, "Transfer").withArgs(m.payer, m.channels, 7_000_000n);
      // A sponsor may fund someone else's channel; the refund still belongs to the payer.
      await m.usdc.connect(m.other).approve(m.channels, 1n);
      await expect(m.channels.connect(m.other).topUp(m.terms, 1n)).to.emit(m.channels, "ChannelToppedUp").withArgs(m.id, 1n, DEPOSIT + 7_000_001n);
      expect((await m.channels.getChannel(m.id)).deposit).to.equal(DEPOSIT + 7_000_001n);
      await expectBalances(m.usdc, [[m.payer, FUNDS - DEPOSIT - 7_000_000n], [m.other, FUNDS - 1n], [m.channels, DEPOSIT + 7_000_001n]]);
    });

    it("refuses zero, unknown, closing and settled channels", async () => {
      const m = await loadFixture(channelFixture);
      const payer = m.channels.connect(m.payer);
      await expect(payer.topUp(m.terms, 0n)).to.be.revertedWithCustomError(m.channels, "ZeroAmount");
      const unknown = { ...m.terms, salt: 99n };
      await expect(payer.topUp(unknown, 1n)).to.be.revertedWithCustomError(m.channels, "ChannelNotFound").withArgs(idOf(unknown));
      await time.setNextBlockTimestamp(BigInt(await time.latest()) + 5n);
      await payer.requestClose(m.terms);
      const { closesAt } = await m.channels.getChannel(m.id);
      await expect(payer.topUp(m.terms, 1n)).to.be.revertedWithCustomError(m.channels, "ChannelClosing").withArgs(m.id, closesAt);
      await payer.closeCooperatively(m.terms, 0n, await signClose(m, m.deviceKey, m.id, 0n));
      await expect(payer.topUp(m.terms, 1n)).to.be.revertedWithCustomError(m.channels, "ChannelIsSettled").withArgs(m.id);
    });

    it("refuses a deposit beyond 96 bits", async () => {
      const m = await loadFixture(marketFixture);
      const plain = await deployPlainToken();
      await offerIn(m, plain, MAX_UINT96 + 10n);
      const { terms, id } = await openChannel(m, { token: await plain.getAddress() }, MAX_UINT96 - 5n);
      await m.channels.connect(m.payer).topUp(terms, 5n);
      expect((await m.channels.getChannel(id)).deposit).to.equal(MAX_UINT96);
      await expect(m.channels.connect(m.payer).topUp(terms, 1n))
        .to.be.revertedWithCustomError(m.channels, "DepositOverflow")
        .withArgs(MAX_UINT96, 1n);
    });
  });

  describe("topUpWithPermit", () => {
    async function topUpPermitFixture() {
      const m = await channelFixture();
      await m.usdc.connect(m.payer).approve(m.channels, 0n);
      const deadline = BigInt(await time.latest()) + 3600n;
      const permit = await signPermit(m, m.payer, m.channels, 2_000_000n, deadline);
      return { ...m, deadline, permit };
    }

    it("tops up with a permit, also after a front-run", async () => {
      const m = await loadFixture(topUpPermitFixture);
      const { v, r, s } = m.permit;
      await expect(m.channels.connect(m.payer).topUpWithPermit(m.terms, 2_000_000n, m.deadline, v, r, s))
        .to.emit(m.channels, "ChannelToppedUp")
        .withArgs(m.id, 2_000_000n, DEPOSIT + 2_000_000n);
      const again = await signPermit(m, m.payer, m.channels, 3_000_000n, m.deadline);
      await m.usdc.connect(m.other).permit(m.payer, m.channels, 3_000_000n, m.deadline, again.v, again.r, again.s);
      await expect(m.channels.connect(m.payer).topUpWithPermit(m.terms, 3_000_000n, m.deadline, again.v, again.r, again.s))
        .to.emit(m.channels, "ChannelToppedUp")
        .withArgs(m.id, 3_000_000n, DEPOSIT + 5_000_000n);
      expect(await m.usdc.nonces(m.payer)).to.equal(2n);
      await expectBalances(m.usdc, [[m.payer, FUNDS - DEPOSIT - 5_000_000n], [m.channels, DEPOSIT + 5_000_000n]]);
    });

    it("fails without a usable permit or allowance, and on a closing channel", async () => {
      const m = await loadFixture(topUpPermitFixture);
      const { v, r, s } = m.permit;
      // The permit was for 2 tokens; asking for 3 makes the permit invalid and there is no allowance.
      await expect(m.channels.connect(m.payer).topUpWithPermit(m.terms, 3_000_000n, m.deadline, v, r, s))
        .to.be.revertedWithCustomError(m.usdc, "ERC20InsufficientAllowance")
        .withArgs(m.channels, 0n, 3_000_000n);
      await m.channels.connect(m.payer).requestClose(m.terms);
      const { closesAt } = await m.channels.getChannel(m.id);
      await expect(m.channels.connect(m.payer).topUpWithPermit(m.terms, 2_000_000n, m.deadline, v, r, s))
        .to.be.revertedWithCustomError(m.channels, "ChannelClosing")
        .withArgs(m.id, closesAt);
      expect(await m.usdc.nonces(m.payer)).to.equal(0n);
    });
  });

  describe("token policy: exact-transfer tokens only", () => {
    it("refuses a fee-on-transfer token at open with UnsupportedToken(token, asked, received), nothing moves", async () => {
      const m = await loadFixture(marketFixture);
      const fee = await deployFeeToken(100); // 1% burnt on every transfer
      await offerIn(m, fee, 10_000_000n);
      const terms = await termsFor(m, { token: await fee.getAddress() });
      await expect(m.channels.connect(m.payer).open(terms, 1_000_000n))
        .to.be.revertedWithCustomError(m.channels, "UnsupportedToken")
        .withArgs(fee, 1_000_000n, 990_000n);
      const all = await deployFeeToken(10_000);
      await offerIn(m, all, 10_000_000n);
      await expect(m.channels.connect(m.payer).open(await termsFor(m, { token: await all.getAddress() }), 1_000n))
        .to.be.revertedWithCustomError(m.channels, "UnsupportedToken")
        .withArgs(all, 1_000n, 0n);
      await expectBalances(fee, [[m.payer, 10_000_000n], [m.channels, 0n]]);
    });

    it("refuses a sender-taxed token at open (the self-transfer probe loses the tax), nothing moves", async () => {
      const m = await loadFixture(marketFixture);
      const taxed = typed(await ethers.deployContract("SenderTaxedERC20", [200]), testUsdcAbi); // 2% on the sender
      await offerIn(m, taxed, 10_000_000n);
      const terms = await termsFor(m, { token: await taxed.getAddress() });
      // The pull delivers the full 1,000,000 (the payer pays the tax); the probe then costs the contract 20,000.
      await expect(m.channels.connect(m.payer).open(terms, 1_000_000n))
        .to.be.revertedWithCustomError(m.channels, "UnsupportedToken")
        .withArgs(taxed, 0n, 20_000n);
      await expectBalances(taxed, [[m.payer, 10_000_000n], [m.channels, 0n]]);
    });
  });

  describe("deployment bounds and signers", () => {
    it("refuses a challenge period below 60 s or above 30 days with ChallengePeriodOutOfRange(value, min, max)", async () => {
      const { channels, devices, models } = await loadFixture(marketFixture);
      const factory = await ethers.getContractFactory("PaymentChannels");
      const MAX = 30n * 24n * 3600n;
      for (const bad of [0n, 59n, MAX + 1n, 2n ** 40n - 1n]) {
        await expect(factory.deploy(devices, models, bad))
          .to.be.revertedWithCustomError(channels, "ChallengePeriodOutOfRange")
          .withArgs(bad, 60n, MAX);
      }
      for (const ok of [60n, MAX]) expect(await (await factory.deploy(devices, models, ok)).getFunction("challengePeriod")()).to.equal(ok);
      expect(await channels.MIN_CHALLENGE_PERIOD()).to.equal(60n);
      expect(await channels.MAX_CHALLENGE_PERIOD()).to.equal(MAX);
    });

    it("refuses a contract (ERC-1271) voucher signer at open with SignerIsContract, accepts an EIP-7702 delegated key", async () => {
      const m = await loadFixture(marketFixture);
      const wallet = await m.usdc.getAddress(); // any contract stands in for a smart-contract wallet
      await expect(m.channels.connect(m.payer).open(await termsFor(m, { signer: wallet }), DEPOSIT))
        .to.be.revertedWithCustomError(m.channels, "SignerIsContract")
        .withArgs(wallet);
      await expectBalances(m.usdc, [[m.payer, FUNDS], [m.channels, 0n]]);
      // A 7702 delegation designator (0xef0100 || implementation) on the session key: still an ECDSA key.
      await networkHelpers.setCode(m.sessionKey.address, "0xef0100" + wallet.slice(2).toLowerCase());
      const { terms, id } = await openChannel(m);
      await expect(m.channels.claim(terms, 10_000n, await signVoucher(m, m.sessionKey, id, 10_000n)))
        .to.emit(m.channels, "Claimed")
        .withArgs(id, m.provider, 10_000n, 9_000n, 1_000n);
    });
  });
});
