// DeviceReputation: ERC-8004-shaped feedback about devices, given only by buyers with a channel to the device.
import { expect } from "chai";
import { ZeroAddress, ZeroHash, type ContractTransactionReceipt } from "ethers";
import { deviceReputationAbi } from "../../protocol/generated/contracts.ts";
import { DEPOSIT, channelFixture, ethers, idOf, networkHelpers, termsFor, typed, type Terms } from "./fixtures.ts";

const { loadFixture } = networkHelpers;

async function reputationFixture() {
  const c = await channelFixture();
  const reputation = typed(await ethers.deployContract("DeviceReputation", [c.channels, c.devices]), deviceReputationAbi);
  const agentId = BigInt(await c.deviceKey.getAddress());
  return { ...c, reputation, agentId };
}
type Ctx = Awaited<ReturnType<typeof reputationFixture>>;

/** A spot-check result (1 passed, 0 failed) from the channel's payer. */
function spotCheck(c: Ctx, passed: boolean, terms: Terms = c.terms, from = c.payer) {
  return c.reputation.connect(from).giveFeedback(terms, passed ? 1n : 0n, 0, "spotCheck", "1", "http://127.0.0.1:7001", "", ZeroHash);
}

function mined(receipt: ContractTransactionReceipt | null): ContractTransactionReceipt {
  if (!receipt) throw new Error("transaction was not mined");
  return receipt;
}

describe("DeviceReputation", () => {
  describe("deployment", () => {
    it("refuses zero addresses and exposes the device registry as ERC-8004's identity registry", async () => {
      const c = await loadFixture(reputationFixture);
      const factory = await ethers.getContractFactory("DeviceReputation");
      await expect(factory.deploy(ZeroAddress, c.devices)).to.be.revertedWithCustomError(c.reputation, "ZeroAddress");
      await expect(factory.deploy(c.channels, ZeroAddress)).to.be.revertedWithCustomError(c.reputation, "ZeroAddress");
      expect(await c.reputation.getIdentityRegistry()).to.equal(await c.devices.getAddress());
      expect(await c.reputation.agentIdOf(c.deviceKey)).to.equal(c.agentId);
    });
  });

  describe("giveFeedback", () => {
    it("stores the payer's feedback and emits ERC-8004's NewFeedback and the channel it was given against", async () => {
      const c = await loadFixture(reputationFixture);
      const payer = await c.payer.getAddress();
      await expect(spotCheck(c, true))
        .to.emit(c.reputation, "NewFeedback")
        .withArgs(c.agentId, payer, 1n, 1n, 0n, "spotCheck", "spotCheck", "1", "http://127.0.0.1:7001", "", ZeroHash)
        .and.to.emit(c.reputation, "FeedbackChannel")
        .withArgs(await c.deviceKey.getAddress(), payer, 1n, c.id);
      await spotCheck(c, false);
      expect(await c.reputation.getLastIndex(c.agentId, payer)).to.equal(2n);
      expect(await c.reputation.getClients(c.agentId)).to.deep.equal([payer]);
      const [value, decimals, tag1, tag2, revoked] = await c.reputation.readFeedback(c.agentId, payer, 2n);
      expect([value, decimals, tag1, tag2, revoked]).to.deep.equal([0n, 0n, "spotCheck", "1", false]);
    });

    it("accepts the channel's session key (voucher signer) as the client", async () => {
      const c = await loadFixture(reputationFixture);
      const session = c.sessionKey.connect(ethers.provider);
      await c.other.sendTransaction({ to: session.address, value: 10n ** 18n });
      await spotCheck(c, true, c.terms, session as never);
      expect(await c.reputation.getLastIndex(c.agentId, session.address)).to.equal(1n);
    });

    it("refuses terms of a channel that was never opened", async () => {
      const c = await loadFixture(reputationFixture);
      const terms = { ...c.terms, salt: 99n };
      await expect(spotCheck(c, false, terms)).to.be.revertedWithCustomError(c.reputation, "ChannelNotFound").withArgs(idOf(terms));
    });

    it("refuses a stranger quoting someone else's channel", async () => {
      const c = await loadFixture(reputationFixture);
      await expect(spotCheck(c, false, c.terms, c.other))
        .to.be.revertedWithCustomError(c.reputation, "NotChannelPayer")
        .withArgs(c.id, await c.other.getAddress());
    });

    it("refuses a device owner rating its own device through a channel it paid", async () => {
      const c = await loadFixture(reputationFixture);
      const owner = await c.provider.getAddress();
      await c.usdc.connect(c.provider).approve(c.channels, DEPOSIT);
      const { terms } = await openChannelFrom(c, c.provider, { payer: owner, signer: owner, salt: 7n });
      await expect(spotCheck(c, true, terms, c.provider))
        .to.be.revertedWithCustomError(c.reputation, "SelfFeedback")
        .withArgs(await c.deviceKey.getAddress(), owner);
    });

    it("refuses the device key itself holding the channel's voucher key", async () => {
      const c = await loadFixture(reputationFixture);
      const device = await c.deviceKey.getAddress();
      // The device key as the channel's signer: it holds a channel key but is the rated device.
      const { terms } = await openChannelFrom(c, c.payer, { signer: device, salt: 8n });
      await c.other.sendTransaction({ to: device, value: 10n ** 18n });
      await expect(spotCheck(c, true, terms, c.deviceKey)).to.be.revertedWithCustomError(c.reputation, "SelfFeedback").withArgs(device, device);
    });

    it("bounds decimals (18 accepted, 19 refused) and string lengths (64/256 bytes accepted, one more refused)", async () => {
      const c = await loadFixture(reputationFixture);
      const r = c.reputation.connect(c.payer);
      await r.giveFeedback(c.terms, 9_950n, 18, "uptime", "1", "", "", ZeroHash);
      await expect(r.giveFeedback(c.terms, 1n, 19, "uptime", "1", "", "", ZeroHash))
        .to.be.revertedWithCustomError(c.reputation, "InvalidValueDecimals")
        .withArgs(19);
      const tag64 = "t".repeat(64);
      const uri256 = "u".repeat(256);
      await r.giveFeedback(c.terms, 1n, 0, tag64, tag64, uri256, uri256, ZeroHash);
      for (const [args, length, max] of [
        [[tag64 + "t", "", "", ""], 65, 64],
        [["", tag64 + "t", "", ""], 65, 64],
        [["", "", uri256 + "u", ""], 257, 256],
        [["", "", "", uri256 + "u"], 257, 256],
      ] as const) {
        await expect(r.giveFeedback(c.terms, 1n, 0, args[0], args[1], args[2], args[3], ZeroHash))
          .to.be.revertedWithCustomError(c.reputation, "StringTooLong")
          .withArgs(length, max);
      }
    });
  });

  describe("revokeFeedback", () => {
    it("lets the giver revoke once; others, unknown indexes and a second revoke are refused", async () => {
      const c = await loadFixture(reputationFixture);
      const payer = await c.payer.getAddress();
      await spotCheck(c, false);
      await expect(c.reputation.connect(c.other).revokeFeedback(c.agentId, 1n))
        .to.be.revertedWithCustomError(c.reputation, "FeedbackNotFound")
        .withArgs(c.agentId, await c.other.getAddress(), 1n);
      for (const index of [0n, 2n]) {
        await expect(c.reputation.connect(c.payer).revokeFeedback(c.agentId, index))
          .to.be.revertedWithCustomError(c.reputation, "FeedbackNotFound")
          .withArgs(c.agentId, payer, index);
      }
      await expect(c.reputation.connect(c.payer).revokeFeedback(c.agentId, 1n)).to.emit(c.reputation, "FeedbackRevoked").withArgs(c.agentId, payer, 1n);
      await expect(c.reputation.connect(c.payer).revokeFeedback(c.agentId, 1n))
        .to.be.revertedWithCustomError(c.reputation, "AlreadyRevoked")
        .withArgs(c.agentId, payer, 1n);
      expect((await c.reputation.readFeedback(c.agentId, payer, 1n))[4]).to.equal(true);
      await expect(c.reputation.readFeedback(c.agentId, payer, 2n)).to.be.revertedWithCustomError(c.reputation, "FeedbackNotFound");
      await expect(c.reputation.readFeedback(c.agentId, payer, 0n)).to.be.revertedWithCustomError(c.reputation, "FeedbackNotFound");
    });
  });

  describe("getSummary", () => {
    it("averages non-revoked feedback of the given clients by tag, at the largest decimals", async () => {
      const c = await loadFixture(reputationFixture);
      const payer = await c.payer.getAddress();
      const other = await c.other.getAddress();
      await c.usdc.connect(c.other).approve(c.channels, DEPOSIT);
      const { terms: otherTerms } = await openChannelFrom(c, c.other, { payer: other, signer: other, salt: 3n });
      const r = c.reputation;
      await spotCheck(c, true);
      await spotCheck(c, false);
      await spotCheck(c, true, otherTerms, c.other);
      await r.connect(c.payer).giveFeedback(c.terms, 9_900n, 2, "uptime", "1", "", "", ZeroHash); // 99.00
      await r.connect(c.other).giveFeedback(otherTerms, 95n, 0, "uptime", "1", "", "", ZeroHash); // 95
      await expect(r.getSummary(c.agentId, [], "", "")).to.be.revertedWithCustomError(r, "ClientsRequired");
      expect(await r.getSummary(c.agentId, [payer, other], "spotCheck", "")).to.deep.equal([3n, 0n, 0n]); // 2/3 -> 0
      expect(await r.getSummary(c.agentId, [payer], "spotCheck", "1")).to.deep.equal([2n, 0n, 0n]);
      expect(await r.getSummary(c.agentId, [payer, other], "uptime", "")).to.deep.equal([2n, 9_700n, 2n]); // 97.00
      expect(await r.getSummary(c.agentId, [payer, other], "uptime", "2")).to.deep.equal([0n, 0n, 0n]);
      expect(await r.getSummary(c.agentId, [payer, other], "", "")).to.deep.equal([5n, (100n + 0n + 100n + 9_900n + 9_500n) / 5n, 2n]);
      await r.connect(c.payer).revokeFeedback(c.agentId, 2n);
      expect(await r.getSummary(c.agentId, [payer, other], "spotCheck", "")).to.deep.equal([2n, 1n, 0n]);
    });
  });
});

/** Opens a channel to the market's device paid by `from`, with `overrides` on the default terms. */
async function openChannelFrom(c: Ctx, from: Ctx["payer"], overrides: Partial<Terms>) {
  const terms = await termsFor(c, overrides);
  const receipt = mined(await (await c.channels.connect(from).open(terms, DEPOSIT)).wait());
  expect(receipt.status).to.equal(1);
  return { terms, id: idOf(terms) };
}
