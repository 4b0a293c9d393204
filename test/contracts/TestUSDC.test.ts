import { expect } from "chai";
import { Signature, TypedDataEncoder, ZeroAddress, toBeHex, verifyTypedData } from "ethers";
import { FUNDS, deployFixture, expectBalances, networkHelpers, permitDomain, permitTypes, signPermit } from "./fixtures.ts";

const { loadFixture, time } = networkHelpers;
const LIMIT = 10_000_000_000n;
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

describe("TestUSDC", () => {
  it("is a 6-decimal token with a 10,000-token faucet limit", async () => {
    const { usdc } = await loadFixture(deployFixture);
    expect(await usdc.name()).to.equal("Test USD Coin");
    expect(await usdc.symbol()).to.equal("tUSDC");
    expect(await usdc.decimals()).to.equal(6n);
    expect(await usdc.FAUCET_LIMIT()).to.equal(LIMIT);
    // Five funded accounts in the fixture.
    expect(await usdc.totalSupply()).to.equal(5n * FUNDS);
  });

  describe("faucet", () => {
    it("mints exactly the amount asked, up to the limit, to anyone", async () => {
      const { usdc, admin, other } = await loadFixture(deployFixture);
      await expect(usdc.connect(other).faucet(admin, LIMIT)).to.emit(usdc, "Transfer").withArgs(ZeroAddress, admin, LIMIT);
      await usdc.faucet(admin, 1n);
      await expectBalances(usdc, [[admin, LIMIT + 1n], [other, FUNDS]]);
      expect(await usdc.totalSupply()).to.equal(5n * FUNDS + LIMIT + 1n);
    });

    it("refuses more than the limit in one call", async () => {
      const { usdc, admin } = await loadFixture(deployFixture);
      await expect(usdc.faucet(admin, LIMIT + 1n))
        .to.be.revertedWithCustomError(usdc, "FaucetLimitExceeded")
        .withArgs(LIMIT + 1n, LIMIT);
    });

    it("refuses the zero address", async () => {
      const { usdc } = await loadFixture(deployFixture);
      await expect(usdc.faucet(ZeroAddress, 1n)).to.be.revertedWithCustomError(usdc, "ERC20InvalidReceiver").withArgs(ZeroAddress);
    });
  });

  describe("ERC-20", () => {
    it("transfers and reports balances to the unit", async () => {
      const { usdc, payer, other } = await loadFixture(deployFixture);
      await expect(usdc.connect(payer).transfer(other, 123_456n)).to.emit(usdc, "Transfer").withArgs(payer, other, 123_456n);
      await expectBalances(usdc, [[payer, FUNDS - 123_456n], [other, FUNDS + 123_456n]]);
    });

    it("refuses a transfer above the balance and to the zero address", async () => {
      const { usdc, payer, other } = await loadFixture(deployFixture);
      await expect(usdc.connect(payer).transfer(other, FUNDS + 1n))
        .to.be.revertedWithCustomError(usdc, "ERC20InsufficientBalance")
        .withArgs(payer, FUNDS, FUNDS + 1n);
      await expect(usdc.connect(payer).transfer(ZeroAddress, 1n))
        .to.be.revertedWithCustomError(usdc, "ERC20InvalidReceiver")
        .withArgs(ZeroAddress);
    });

    it("approves and spends allowances with transferFrom", async () => {
      const { usdc, payer, other, admin } = await loadFixture(deployFixture);
      await expect(usdc.connect(payer).approve(other, 1_000n)).to.emit(usdc, "Approval").withArgs(payer, other, 1_000n);
      expect(await usdc.allowance(payer, other)).to.equal(1_000n);
      await expect(usdc.connect(other).transferFrom(payer, admin, 400n)).to.emit(usdc, "Transfer").withArgs(payer, admin, 400n);
      expect(await usdc.allowance(payer, other)).to.equal(600n);
      await expectBalances(usdc, [[payer, FUNDS - 400n], [admin, 400n], [other, FUNDS]]);
      await expect(usdc.connect(other).transferFrom(payer, admin, 601n))
        .to.be.revertedWithCustomError(usdc, "ERC20InsufficientAllowance")
        .withArgs(other, 600n, 601n);
    });

    it("refuses to approve the zero address", async () => {
      const { usdc, payer } = await loadFixture(deployFixture);
      await expect(usdc.connect(payer).approve(ZeroAddress, 1n)).to.be.revertedWithCustomError(usdc, "ERC20InvalidSpender").withArgs(ZeroAddress);
    });
  });

  describe("permit (EIP-2612)", () => {
    it("exposes its EIP-712 domain", async () => {
      const d = await loadFixture(deployFixture);
      const domain = await permitDomain(d);
      expect(await d.usdc.DOMAIN_SEPARATOR()).to.equal(TypedDataEncoder.hashDomain(domain));
      const [fields, name, version, chainId, verifyingContract, salt, extensions] = await d.usdc.eip712Domain();
      expect([fields, name, version, chainId, verifyingContract, salt, extensions.length]).to.deep.equal([
        "0x0f",
        "Test USD Coin",
        "1",
        d.chainId,
        await d.usdc.getAddress(),
        "0x" + "00".repeat(32),
        0,
      ]);
    });

    it("sets the allowance from a signature and bumps the nonce", async () => {
      const d = await loadFixture(deployFixture);
      const { usdc, payer, other } = d;
      const deadline = BigInt(await time.latest()) + 600n;
      const { v, r, s, nonce } = await signPermit(d, payer, other.address, 7_000n, deadline);
      expect(nonce).to.equal(0n);
      // Anyone may submit the permit: `other` pays the gas here.
      await expect(usdc.connect(other).permit(payer, other, 7_000n, deadline, v, r, s))
        .to.emit(usdc, "Approval")
        .withArgs(payer, other, 7_000n);
      expect(await usdc.allowance(payer, other)).to.equal(7_000n);
      expect(await usdc.nonces(payer)).to.equal(1n);
    });

    it("refuses a replayed permit, naming the key it recovers", async () => {
      const d = await loadFixture(deployFixture);
      const { usdc, payer, other } = d;
      const deadline = BigInt(await time.latest()) + 600n;
      const { v, r, s, signature } = await signPermit(d, payer, other.address, 7_000n, deadline);
      await usdc.permit(payer, other, 7_000n, deadline, v, r, s);
      // The nonce moved on, so the same signature now recovers to an unrelated key.
      const recovered = verifyTypedData(
        await permitDomain(d),
        permitTypes,
        { owner: payer.address, spender: other.address, value: 7_000n, nonce: 1n, deadline },
        signature,
      );
      await expect(usdc.permit(payer, other, 7_000n, deadline, v, r, s))
        .to.be.revertedWithCustomError(usdc, "ERC2612InvalidSigner")
        .withArgs(recovered, payer);
    });

    it("refuses malformed and malleated permit signatures", async () => {
      const d = await loadFixture(deployFixture);
      const { usdc, payer, other } = d;
      const deadline = BigInt(await time.latest()) + 600n;
      const { v, r, s } = await signPermit(d, payer, other.address, 7_000n, deadline);
      const highS = toBeHex(SECP256K1_N - BigInt(s), 32);
      await expect(usdc.permit(payer, other, 7_000n, deadline, v === 27 ? 28 : 27, r, highS))
        .to.be.revertedWithCustomError(usdc, "ECDSAInvalidSignatureS")
        .withArgs(highS);
      await expect(usdc.permit(payer, other, 7_000n, deadline, 0, r, s)).to.be.revertedWithCustomError(usdc, "ECDSAInvalidSignature");
      expect(await usdc.nonces(payer)).to.equal(0n);
    });

    it("refuses a permit signed by another key and an expired one", async () => {
      const d = await loadFixture(deployFixture);
      const { usdc, payer, other } = d;
      const deadline = BigInt(await time.latest()) + 600n;
      // `other` signs the payer's permit with its own key.
      const forged = Signature.from(
        await other.signTypedData(await permitDomain(d), permitTypes, {
          owner: payer.address,
          spender: other.address,
          value: 7_000n,
          nonce: 0n,
          deadline,
        }),
      );
      await expect(usdc.permit(payer, other, 7_000n, deadline, forged.v, forged.r, forged.s))
        .to.be.revertedWithCustomError(usdc, "ERC2612InvalidSigner")
        .withArgs(other, payer);
      const late = await signPermit(d, payer, other.address, 7_000n, deadline);
      await time.increaseTo(deadline + 1n);
      await expect(usdc.permit(payer, other, 7_000n, deadline, late.v, late.r, late.s))
        .to.be.revertedWithCustomError(usdc, "ERC2612ExpiredSignature")
        .withArgs(deadline);
    });
  });
});
