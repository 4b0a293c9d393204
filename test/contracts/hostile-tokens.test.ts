// Tokens that fight back: a transfer hook that re-enters the contract, and a token that returns false.
// The mock is test-only (contracts/test/MisbehavingERC20.sol).
import { expect } from "chai";
import {
  MAX_UINT96,
  DEPOSIT,
  FUNDS,
  LICENSE_FEE,
  MIN_STAKE,
  UNBONDING_DELAY,
  deviceRegistryAbi,
  ethers,
  expectBalances,
  marketFixture,
  modelParams,
  networkHelpers,
  offerIn,
  openChannel,
  signBinding,
  signVoucher,
  testUsdcAbi,
  typed,
} from "./fixtures.ts";

const { loadFixture, time } = networkHelpers;

async function hostileFixture() {
  const m = await marketFixture();
  const contract = await ethers.deployContract("MisbehavingERC20");
  const bad = typed(contract, testUsdcAbi);
  await offerIn(m, bad);
  const { terms, id } = await openChannel(m, { token: await bad.getAddress() }, 1_000_000n);
  // The mock's own controls are not part of any generated ABI: reach them by name.
  const setHook = (target: string, data: string) => contract.getFunction("setHook")(target, data);
  const setReturnFalse = (on: boolean) => contract.getFunction("setReturnFalse")(on);
  return { ...m, bad, terms, id, setHook, setReturnFalse };
}

describe("hostile tokens", () => {
  describe("re-entrancy through a token hook", () => {
    it("a payout cannot re-enter claim: the re-entrant call fails the transfer, whose amount is credited", async () => {
      const m = await loadFixture(hostileFixture);
      const channels = await m.channels.getAddress();
      const second = await signVoucher(m, m.sessionKey, m.id, 20_000n);
      await m.setHook(channels, m.channels.interface.encodeFunctionData("claim", [m.terms, 20_000n, second]));
      await expect(m.channels.claim(m.terms, 10_000n, await signVoucher(m, m.sessionKey, m.id, 10_000n)))
        .to.emit(m.channels, "TransferCredited")
        .withArgs(m.provider, m.bad, 9_000n);
      // The re-entrant claim of 20,000 did not happen; the first one is booked once.
      expect((await m.channels.getChannel(m.id)).claimed).to.equal(10_000n);
      await expectBalances(m.bad, [[m.channels, 1_000_000n], [m.provider, 0n]]);
    });

    it("a deposit pull cannot re-enter, and neither can a refund", async () => {
      const m = await loadFixture(hostileFixture);
      const channels = await m.channels.getAddress();
      const reenter = m.channels.interface.encodeFunctionData("claim", [m.terms, 10_000n, await signVoucher(m, m.sessionKey, m.id, 10_000n)]);
      await m.setHook(channels, reenter);
      await expect(m.channels.connect(m.payer).topUp(m.terms, 5n)).to.be.revertedWithCustomError(m.channels, "ReentrancyGuardReentrantCall");
      // The failed top-up rolled back, so the hook is still armed for the refund transfer.
      await m.channels.connect(m.payer).requestClose(m.terms);
      await time.increase(3600n);
      // The refund's transfer re-enters, fails, and the refund is credited instead: the channel still settles.
      await expect(m.channels.withdraw(m.terms)).to.emit(m.channels, "TransferCredited").withArgs(m.payer, m.bad, 1_000_000n);
      expect((await m.channels.getChannel(m.id)).settled).to.equal(true);
      await expectBalances(m.bad, [[m.channels, 1_000_000n], [m.payer, FUNDS - 1_000_000n]]);
    });
  });

  describe("a token that returns false", () => {
    it("fails deposits with SafeERC20FailedOperation; a payout returning false is credited, not lost", async () => {
      const m = await loadFixture(hostileFixture);
      await m.setReturnFalse(true);
      await expect(m.channels.connect(m.payer).open({ ...m.terms, salt: 2n }, DEPOSIT))
        .to.be.revertedWithCustomError(m.channels, "SafeERC20FailedOperation")
        .withArgs(m.bad);
      await expect(m.channels.claim(m.terms, 10_000n, await signVoucher(m, m.sessionKey, m.id, 10_000n)))
        .to.emit(m.channels, "TransferCredited")
        .withArgs(m.provider, m.bad, 9_000n);
      expect((await m.channels.getChannel(m.id)).claimed).to.equal(10_000n);
      // Withdrawing the credit while the token still returns false fails loudly and keeps the credit.
      await expect(m.channels.connect(m.provider).withdrawCredit(m.bad, m.provider))
        .to.be.revertedWithCustomError(m.channels, "SafeERC20FailedOperation")
        .withArgs(m.bad);
      await m.setReturnFalse(false);
      await m.channels.connect(m.provider).withdrawCredit(m.bad, m.provider);
      await expectBalances(m.bad, [[m.provider, 9_000n], [m.channels, 1_000_000n - 9_000n]]);
    });

    it("fails a license fee and a stake with SafeERC20FailedOperation", async () => {
      const m = await loadFixture(hostileFixture);
      await m.models.connect(m.modelOwner).publish(modelParams({ licenseToken: await m.bad.getAddress(), licenseFee: LICENSE_FEE }));
      await m.setReturnFalse(true);
      await expect(m.models.connect(m.provider).takeLicense(2n, m.provider, MAX_UINT96))
        .to.be.revertedWithCustomError(m.models, "SafeERC20FailedOperation")
        .withArgs(m.bad);
      expect(await m.models.hasLicense(2n, m.provider)).to.equal(false);

      const devices = typed(
        await ethers.deployContract("DeviceRegistry", [m.bad, MIN_STAKE, UNBONDING_DELAY, m.models, m.admin]),
        deviceRegistryAbi,
      );
      const deadline = BigInt(await time.latest()) + 100n;
      const sig = await signBinding({ ...m, devices }, m.deviceKey2, m.provider2.address, deadline);
      await expect(devices.connect(m.provider2).register(m.deviceKey2, "http://x", "", MIN_STAKE, deadline, sig))
        .to.be.revertedWithCustomError(devices, "SafeERC20FailedOperation")
        .withArgs(m.bad);
    });
  });
});
