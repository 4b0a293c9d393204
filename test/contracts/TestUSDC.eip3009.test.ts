import { expect } from "chai";
import { hexlify, randomBytes, type Signer } from "ethers";
import { cancelAuthorizationTypes, receiveWithAuthorizationTypes, transferWithAuthorizationTypes } from "../../protocol/eip712.ts";
import { FUNDS, deployFixture, expectBalances, networkHelpers, permitDomain, type Deployed } from "./fixtures.ts";

const { loadFixture, time } = networkHelpers;
const VALUE = 1_234n;

interface Auth {
  from: string;
  to: string;
  value: bigint;
  validAfter: bigint;
  validBefore: bigint;
  nonce: string;
}

async function authFor(d: Deployed, from: Signer, to: Signer, overrides: Partial<Auth> = {}): Promise<Auth> {
  const now = BigInt(await time.latest());
  return { from: await from.getAddress(), to: await to.getAddress(), value: VALUE, validAfter: 0n, validBefore: now + 600n, nonce: hexlify(randomBytes(32)), ...overrides };
}

async function sign(d: Deployed, signer: Signer, auth: Auth, kind: "transfer" | "receive" = "transfer") {
  const types = kind === "transfer" ? transferWithAuthorizationTypes : receiveWithAuthorizationTypes;
  return signer.signTypedData(await permitDomain(d), { [Object.keys(types)[0]!]: [...Object.values(types)[0]!] }, auth);
}

const args = (a: Auth, sig: string) => [a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, sig] as const;

describe("TestUSDC EIP-3009", () => {
  it("moves the value once under the holder's signature, submitted by anyone", async () => {
    const d = await loadFixture(deployFixture);
    const a = await authFor(d, d.payer, d.other);
    const sig = await sign(d, d.payer, a);
    expect(await d.usdc.authorizationState(a.from, a.nonce)).to.equal(false);
    await expect(d.usdc.connect(d.admin).transferWithAuthorization(...args(a, sig)))
      .to.emit(d.usdc, "AuthorizationUsed").withArgs(a.from, a.nonce)
      .and.to.emit(d.usdc, "Transfer").withArgs(a.from, a.to, VALUE);
    await expectBalances(d.usdc, [[d.payer, FUNDS - VALUE], [d.other, FUNDS + VALUE]]);
    expect(await d.usdc.authorizationState(a.from, a.nonce)).to.equal(true);
    await expect(d.usdc.transferWithAuthorization(...args(a, sig)))
      .to.be.revertedWithCustomError(d.usdc, "AuthorizationAlreadyUsed").withArgs(a.from, a.nonce);
    await expectBalances(d.usdc, [[d.payer, FUNDS - VALUE], [d.other, FUNDS + VALUE]]);
  });

  it("validAfter: refused at == and -1 (block time <= validAfter), accepted at +1", async () => {
    const d = await loadFixture(deployFixture);
    const t = BigInt(await time.latest()) + 100n;
    const a = await authFor(d, d.payer, d.other, { validAfter: t, validBefore: t + 1000n });
    const sig = await sign(d, d.payer, a);
    await time.setNextBlockTimestamp(t - 1n);
    await expect(d.usdc.transferWithAuthorization(...args(a, sig))).to.be.revertedWithCustomError(d.usdc, "AuthorizationNotYetValid").withArgs(t, t - 1n);
    await time.setNextBlockTimestamp(t);
    await expect(d.usdc.transferWithAuthorization(...args(a, sig))).to.be.revertedWithCustomError(d.usdc, "AuthorizationNotYetValid").withArgs(t, t);
    await expectBalances(d.usdc, [[d.payer, FUNDS], [d.other, FUNDS]]);
    await time.setNextBlockTimestamp(t + 1n);
    await d.usdc.transferWithAuthorization(...args(a, sig));
    await expectBalances(d.usdc, [[d.payer, FUNDS - VALUE], [d.other, FUNDS + VALUE]]);
  });

  it("validBefore: accepted at -1, refused at == and +1", async () => {
    const d = await loadFixture(deployFixture);
    const t = BigInt(await time.latest()) + 100n;
    const ok = await authFor(d, d.payer, d.other, { validBefore: t });
    const late = await authFor(d, d.payer, d.other, { validBefore: t });
    const later = await authFor(d, d.payer, d.other, { validBefore: t });
    await time.setNextBlockTimestamp(t - 1n);
    await d.usdc.transferWithAuthorization(...args(ok, await sign(d, d.payer, ok)));
    await time.setNextBlockTimestamp(t);
    await expect(d.usdc.transferWithAuthorization(...args(late, await sign(d, d.payer, late)))).to.be.revertedWithCustomError(d.usdc, "AuthorizationExpired").withArgs(t, t);
    await time.setNextBlockTimestamp(t + 1n);
    await expect(d.usdc.transferWithAuthorization(...args(later, await sign(d, d.payer, later)))).to.be.revertedWithCustomError(d.usdc, "AuthorizationExpired").withArgs(t, t + 1n);
    await expectBalances(d.usdc, [[d.payer, FUNDS - VALUE], [d.other, FUNDS + VALUE]]);
  });

  it("refuses a signature of another key, over other fields, of another type, or malformed", async () => {
    const d = await loadFixture(deployFixture);
    const a = await authFor(d, d.payer, d.other);
    const byOther = await sign(d, d.other, a);
    await expect(d.usdc.transferWithAuthorization(...args(a, byOther)))
      .to.be.revertedWithCustomError(d.usdc, "InvalidAuthorizationSignature").withArgs(a.from, await d.other.getAddress());
    const sig = await sign(d, d.payer, a);
    // Another value or payee than signed recovers some other address.
    await expect(d.usdc.transferWithAuthorization(...args({ ...a, value: VALUE + 1n }, sig))).to.be.revertedWithCustomError(d.usdc, "InvalidAuthorizationSignature");
    await expect(d.usdc.transferWithAuthorization(...args({ ...a, to: await d.admin.getAddress() }, sig))).to.be.revertedWithCustomError(d.usdc, "InvalidAuthorizationSignature");
    // A ReceiveWithAuthorization signature is not a TransferWithAuthorization one.
    const receiveSig = await sign(d, d.payer, a, "receive");
    await expect(d.usdc.transferWithAuthorization(...args(a, receiveSig))).to.be.revertedWithCustomError(d.usdc, "InvalidAuthorizationSignature");
    await expect(d.usdc.transferWithAuthorization(...args(a, "0x1234")))
      .to.be.revertedWithCustomError(d.usdc, "InvalidAuthorizationSignature").withArgs(a.from, "0x0000000000000000000000000000000000000000");
    await expectBalances(d.usdc, [[d.payer, FUNDS], [d.other, FUNDS]]);
    expect(await d.usdc.authorizationState(a.from, a.nonce)).to.equal(false);
  });

  it("receiveWithAuthorization: only the payee submits it", async () => {
    const d = await loadFixture(deployFixture);
    const a = await authFor(d, d.payer, d.other);
    const sig = await sign(d, d.payer, a, "receive");
    await expect(d.usdc.connect(d.admin).receiveWithAuthorization(...args(a, sig)))
      .to.be.revertedWithCustomError(d.usdc, "CallerNotPayee").withArgs(await d.admin.getAddress(), a.to);
    await d.usdc.connect(d.other).receiveWithAuthorization(...args(a, sig));
    await expectBalances(d.usdc, [[d.payer, FUNDS - VALUE], [d.other, FUNDS + VALUE]]);
    await expect(d.usdc.connect(d.other).receiveWithAuthorization(...args(a, sig))).to.be.revertedWithCustomError(d.usdc, "AuthorizationAlreadyUsed");
  });

  it("cancelAuthorization: a cancelled nonce moves nothing; cancelling twice or a used nonce is refused", async () => {
    const d = await loadFixture(deployFixture);
    const a = await authFor(d, d.payer, d.other);
    const sig = await sign(d, d.payer, a);
    const domain = await permitDomain(d);
    const types = { CancelAuthorization: [...cancelAuthorizationTypes.CancelAuthorization] };
    const cancel = await d.payer.signTypedData(domain, types, { authorizer: a.from, nonce: a.nonce });
    const wrong = await d.other.signTypedData(domain, types, { authorizer: a.from, nonce: a.nonce });
    await expect(d.usdc.cancelAuthorization(a.from, a.nonce, wrong))
      .to.be.revertedWithCustomError(d.usdc, "InvalidAuthorizationSignature").withArgs(a.from, await d.other.getAddress());
    await expect(d.usdc.connect(d.admin).cancelAuthorization(a.from, a.nonce, cancel)).to.emit(d.usdc, "AuthorizationCanceled").withArgs(a.from, a.nonce);
    expect(await d.usdc.authorizationState(a.from, a.nonce)).to.equal(true);
    await expect(d.usdc.transferWithAuthorization(...args(a, sig))).to.be.revertedWithCustomError(d.usdc, "AuthorizationWasCanceled").withArgs(a.from, a.nonce);
    await expect(d.usdc.cancelAuthorization(a.from, a.nonce, cancel)).to.be.revertedWithCustomError(d.usdc, "AuthorizationWasCanceled");
    const used = await authFor(d, d.payer, d.other);
    await d.usdc.transferWithAuthorization(...args(used, await sign(d, d.payer, used)));
    const cancelUsed = await d.payer.signTypedData(domain, types, { authorizer: used.from, nonce: used.nonce });
    await expect(d.usdc.cancelAuthorization(used.from, used.nonce, cancelUsed)).to.be.revertedWithCustomError(d.usdc, "AuthorizationAlreadyUsed");
    await expectBalances(d.usdc, [[d.payer, FUNDS - VALUE], [d.other, FUNDS + VALUE]]);
  });

  it("refuses a value above the balance (nothing used)", async () => {
    const d = await loadFixture(deployFixture);
    const a = await authFor(d, d.payer, d.other, { value: FUNDS + 1n });
    await expect(d.usdc.transferWithAuthorization(...args(a, await sign(d, d.payer, a))))
      .to.be.revertedWithCustomError(d.usdc, "ERC20InsufficientBalance").withArgs(a.from, FUNDS, FUNDS + 1n);
    expect(await d.usdc.authorizationState(a.from, a.nonce)).to.equal(false);
  });
});
