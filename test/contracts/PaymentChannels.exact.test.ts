// x402 `exact` settlement: EIP-3009 authorizations to an offering's CREATE2 receiver, split like a channel claim.
import { expect } from "chai";
import { ZeroAddress, getCreate2Address, hexlify, keccak256, randomBytes, AbiCoder, type Signer } from "ethers";
import { transferWithAuthorizationTypes } from "../../protocol/eip712.ts";
import {
  FUNDS,
  MODEL_OWNER_START,
  PRICE,
  PROVIDER_START,
  ROYALTY_BPS,
  expectBalances,
  marketFixture,
  networkHelpers,
  permitDomain,
  split,
  type Market,
} from "./fixtures.ts";

const { loadFixture, time } = networkHelpers;
const types = { TransferWithAuthorization: [...transferWithAuthorizationTypes.TransferWithAuthorization] };

interface ExactAuth {
  from: string;
  value: bigint;
  validAfter: bigint;
  validBefore: bigint;
  nonce: string;
  signature: string;
}

async function receiverOf(m: Market) {
  return m.channels.exactReceiver(m.deviceKey, m.modelId, m.usdc);
}

/** An authorization of `from` paying `value` to `to` (the offering's receiver unless given). */
async function authorize(m: Market, from: Signer, value: bigint, overrides: { to?: string; validAfter?: bigint; validBefore?: bigint } = {}): Promise<ExactAuth> {
  const now = BigInt(await time.latest());
  const message = {
    from: await from.getAddress(),
    to: overrides.to ?? (await receiverOf(m)),
    value,
    validAfter: overrides.validAfter ?? 0n,
    validBefore: overrides.validBefore ?? now + 600n,
    nonce: hexlify(randomBytes(32)),
  };
  const signature = await from.signTypedData(await permitDomain(m), types, message);
  return { from: message.from, value, validAfter: message.validAfter, validBefore: message.validBefore, nonce: message.nonce, signature };
}

const settle = (m: Market, auths: ExactAuth[], caller: Signer = m.other) => m.channels.connect(caller).settleExact(m.deviceKey, m.modelId, m.usdc, auths);

describe("PaymentChannels.settleExact (x402 exact)", () => {
  it("the receiver is the CREATE2 clone address of (device, modelId, token), distinct per offering", async () => {
    const m = await loadFixture(marketFixture);
    const impl = await m.channels.exactReceiverImplementation();
    const salt = keccak256(AbiCoder.defaultAbiCoder().encode(["address", "uint256", "address"], [await m.deviceKey.getAddress(), m.modelId, await m.usdc.getAddress()]));
    const initCode = `0x3d602d80600a3d3981f3363d3d373d3d3d363d73${impl.slice(2).toLowerCase()}5af43d82803e903d91602b57fd5bf3`;
    expect(await receiverOf(m)).to.equal(getCreate2Address(await m.channels.getAddress(), salt, keccak256(initCode)));
    expect(await m.channels.exactReceiver(m.deviceKey, m.modelId + 1n, m.usdc)).to.not.equal(await receiverOf(m));
    expect(await m.channels.exactReceiver(m.deviceKey2, m.modelId, m.usdc)).to.not.equal(await receiverOf(m));
  });

  it("anyone settles: royalty accrued for the model, the rest to the device owner; the receiver keeps nothing", async () => {
    const m = await loadFixture(marketFixture);
    const receiver = await receiverOf(m);
    expect(await m.usdc.runner!.provider!.getCode(receiver)).to.equal("0x");
    const a = await authorize(m, m.payer, 12_345n);
    const { provider, royalty } = split(12_345n, ROYALTY_BPS);
    await expect(settle(m, [a]))
      .to.emit(m.channels, "ExactSettled").withArgs(await m.deviceKey.getAddress(), m.modelId, await m.usdc.getAddress(), await m.provider.getAddress(), 12_345n, royalty);
    await expectBalances(m.usdc, [[m.payer, FUNDS - 12_345n], [m.provider, PROVIDER_START + provider], [receiver, 0n], [m.channels, royalty], [m.other, FUNDS]]);
    expect(await m.channels.royaltiesOf(m.modelId, m.usdc)).to.equal(royalty);
    expect(await m.usdc.runner!.provider!.getCode(receiver)).to.not.equal("0x");
    // A second payment reuses the deployed receiver; royalties add up and the model owner withdraws them as for channels.
    const b = await authorize(m, m.payer, PRICE);
    await settle(m, [b]);
    const second = split(PRICE, ROYALTY_BPS);
    expect(await m.channels.royaltiesOf(m.modelId, m.usdc)).to.equal(royalty + second.royalty);
    await m.channels.connect(m.modelOwner).withdrawRoyalties(m.modelId, m.usdc, m.modelOwner);
    await expectBalances(m.usdc, [[m.modelOwner, MODEL_OWNER_START + royalty + second.royalty], [m.provider, PROVIDER_START + provider + second.provider], [m.channels, 0n]]);
  });

  it("settles a batch of authorizations of several payers in one transfer to the payee", async () => {
    const m = await loadFixture(marketFixture);
    const auths = [await authorize(m, m.payer, 1_000n), await authorize(m, m.other, 2_000n), await authorize(m, m.payer, 3_000n)];
    await settle(m, auths, m.admin);
    const { provider, royalty } = split(6_000n, ROYALTY_BPS);
    await expectBalances(m.usdc, [[m.payer, FUNDS - 4_000n], [m.other, FUNDS - 2_000n], [m.provider, PROVIDER_START + provider], [m.channels, royalty]]);
  });

  it("front-running is harmless: an authorization submitted straight to the token is skipped and its money still split", async () => {
    const m = await loadFixture(marketFixture);
    const receiver = await receiverOf(m);
    const a = await authorize(m, m.payer, 5_000n);
    const b = await authorize(m, m.payer, 7_000n);
    // The copier submits `a` to the token itself: the money can only go to the receiver.
    await m.usdc.connect(m.other).transferWithAuthorization(a.from, receiver, a.value, a.validAfter, a.validBefore, a.nonce, a.signature);
    await expectBalances(m.usdc, [[receiver, 5_000n], [m.other, FUNDS]]);
    await settle(m, [a, b], m.deviceKey);
    const { provider, royalty } = split(12_000n, ROYALTY_BPS);
    await expectBalances(m.usdc, [[m.payer, FUNDS - 12_000n], [m.provider, PROVIDER_START + provider], [m.channels, royalty], [receiver, 0n]]);
    // Settling the same authorizations again finds nothing: nothing is paid twice.
    await expect(settle(m, [a, b])).to.be.revertedWithCustomError(m.channels, "NothingToSettle").withArgs(receiver, await m.usdc.getAddress());
    // Someone front-running the settle call itself (same arguments) only settles it for the device.
    const c = await authorize(m, m.payer, 1_000n);
    await settle(m, [c], m.other);
    await expect(settle(m, [c], m.deviceKey)).to.be.revertedWithCustomError(m.channels, "NothingToSettle");
    await expectBalances(m.usdc, [[m.provider, PROVIDER_START + provider + split(1_000n, ROYALTY_BPS).provider]]);
  });

  it("an authorization for another receiver or another offering cannot be settled here", async () => {
    const m = await loadFixture(marketFixture);
    const other = await m.channels.exactReceiver(m.deviceKey, m.modelId + 7n, m.usdc);
    const a = await authorize(m, m.payer, 1_000n, { to: other });
    await expect(settle(m, [a])).to.be.revertedWithCustomError(m.usdc, "InvalidAuthorizationSignature");
    const direct = await authorize(m, m.payer, 1_000n, { to: await m.provider.getAddress() });
    await expect(settle(m, [direct])).to.be.revertedWithCustomError(m.usdc, "InvalidAuthorizationSignature");
    await expectBalances(m.usdc, [[m.payer, FUNDS], [m.provider, PROVIDER_START]]);
  });

  it("reverts the whole settlement on an expired, not yet valid or insufficiently funded authorization", async () => {
    const m = await loadFixture(marketFixture);
    const now = BigInt(await time.latest());
    const good = await authorize(m, m.payer, 1_000n);
    const expired = await authorize(m, m.payer, 1_000n, { validBefore: now });
    await expect(settle(m, [good, expired])).to.be.revertedWithCustomError(m.usdc, "AuthorizationExpired");
    const early = await authorize(m, m.payer, 1_000n, { validAfter: now + 1000n });
    await expect(settle(m, [early])).to.be.revertedWithCustomError(m.usdc, "AuthorizationNotYetValid");
    const rich = await authorize(m, m.payer, FUNDS + 1n);
    await expect(settle(m, [rich])).to.be.revertedWithCustomError(m.usdc, "ERC20InsufficientBalance");
    await expectBalances(m.usdc, [[m.payer, FUNDS], [m.provider, PROVIDER_START], [m.channels, 0n]]);
    expect(await m.usdc.authorizationState(good.from, good.nonce)).to.equal(false);
  });

  it("reverts NothingToSettle with no authorizations and an empty receiver", async () => {
    const m = await loadFixture(marketFixture);
    await expect(settle(m, [])).to.be.revertedWithCustomError(m.channels, "NothingToSettle").withArgs(await receiverOf(m), await m.usdc.getAddress());
  });

  it("refuses an offering that does not exist or a paused device (the money waits in the receiver)", async () => {
    const m = await loadFixture(marketFixture);
    await expect(m.channels.settleExact(m.deviceKey, m.modelId, ZeroAddress, [])).to.be.revertedWithCustomError(m.devices, "OfferingNotFound");
    await expect(m.channels.settleExact(m.deviceKey2, m.modelId, m.usdc, [])).to.be.revertedWithCustomError(m.devices, "DeviceNotFound");
    const receiver = await receiverOf(m);
    const a = await authorize(m, m.payer, 2_000n);
    await m.usdc.transferWithAuthorization(a.from, receiver, a.value, a.validAfter, a.validBefore, a.nonce, a.signature);
    await m.devices.connect(m.provider).pause(m.deviceKey);
    await expect(settle(m, [a])).to.be.revertedWithCustomError(m.devices, "InvalidDeviceStatus");
    await m.devices.connect(m.provider).unpause(m.deviceKey);
    await settle(m, [a]);
    await expectBalances(m.usdc, [[m.provider, PROVIDER_START + split(2_000n, ROYALTY_BPS).provider], [receiver, 0n]]);
  });

  it("splits at the model's current royalty and pays royalties to its current owner", async () => {
    const m = await loadFixture(marketFixture);
    await m.models.connect(m.modelOwner).setTerms(m.modelId, 2_500, 0n);
    await settle(m, [await authorize(m, m.payer, 10_000n)]);
    expect(await m.channels.royaltiesOf(m.modelId, m.usdc)).to.equal(2_500n);
    await expectBalances(m.usdc, [[m.provider, PROVIDER_START + 7_500n]]);
    await m.models.connect(m.modelOwner).transferModelOwnership(m.modelId, m.other);
    await expect(m.channels.connect(m.modelOwner).withdrawRoyalties(m.modelId, m.usdc, m.modelOwner)).to.be.revertedWithCustomError(m.channels, "NotRoyaltyOwner");
    await m.channels.connect(m.other).withdrawRoyalties(m.modelId, m.usdc, m.other);
    await expectBalances(m.usdc, [[m.other, FUNDS + 2_500n]]);
  });

  it("royalty at 0 and at the maximum bps; one-unit payments round the royalty down", async () => {
    const m = await loadFixture(marketFixture);
    await m.models.connect(m.modelOwner).setTerms(m.modelId, 0, 0n);
    await settle(m, [await authorize(m, m.payer, 999n)]);
    expect(await m.channels.royaltiesOf(m.modelId, m.usdc)).to.equal(0n);
    await expectBalances(m.usdc, [[m.provider, PROVIDER_START + 999n]]);
    const max = Number(await m.models.MAX_ROYALTY_BPS());
    await m.models.connect(m.modelOwner).setTerms(m.modelId, max, 0n);
    await settle(m, [await authorize(m, m.payer, 1n)]);
    expect(await m.channels.royaltiesOf(m.modelId, m.usdc)).to.equal((1n * BigInt(max)) / 10_000n);
    await settle(m, [await authorize(m, m.payer, 10_000n)]);
    expect(await m.channels.royaltiesOf(m.modelId, m.usdc)).to.equal((1n * BigInt(max)) / 10_000n + BigInt(max));
  });

  it("only PaymentChannels may sweep a receiver", async () => {
    const m = await loadFixture(marketFixture);
    await settle(m, [await authorize(m, m.payer, 1_000n)]);
    const receiver = await m.channels.runner!.provider!.getCode(await receiverOf(m));
    expect(receiver).to.not.equal("0x");
    const { ethers } = await import("./fixtures.ts");
    const clone = await ethers.getContractAt("ExactReceiver", await receiverOf(m));
    await expect(clone.connect(m.other).getFunction("sweep")(m.usdc)).to.be.revertedWithCustomError(clone, "NotPaymentChannels").withArgs(await m.other.getAddress());
    const impl = await ethers.getContractAt("ExactReceiver", await m.channels.exactReceiverImplementation());
    await expect(impl.connect(m.other).getFunction("sweep")(m.usdc)).to.be.revertedWithCustomError(impl, "NotPaymentChannels");
  });
});
