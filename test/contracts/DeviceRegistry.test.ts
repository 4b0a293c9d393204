import { expect } from "chai";
import { TypedDataEncoder, ZeroAddress, id as keccakText } from "ethers";
import {
  MAX_UINT96,
  FUNDS,
  LICENSE_FEE,
  MIN_STAKE,
  PRICE,
  PROVIDER_START,
  Status,
  UNBONDING_DELAY,
  bindingDomain,
  deployFixture,
  ethers,
  expectBalances,
  marketFixture,
  modelParams,
  networkHelpers,
  recoverBinding,
  registerDevice,
  signBinding,
  type Market,
} from "./fixtures.ts";

const { loadFixture, time } = networkHelpers;
const SLASHER_ROLE = keccakText("SLASHER_ROLE");

/** The market plus a second, free, model that the provider has not licensed, and a slasher. */
async function registryFixture() {
  const m = await marketFixture();
  await m.models.connect(m.modelOwner).publish(modelParams({ name: "second" }));
  await m.devices.connect(m.admin).grantRole(SLASHER_ROLE, m.slasher);
  return m;
}

async function nextTimestamp(): Promise<bigint> {
  const t = BigInt(await time.latest()) + 10n;
  await time.setNextBlockTimestamp(t);
  return t;
}

async function exit(m: Market): Promise<bigint> {
  const t = await nextTimestamp();
  await m.devices.connect(m.provider).startExit(m.deviceKey);
  return t + UNBONDING_DELAY;
}

describe("DeviceRegistry", () => {
  describe("deployment", () => {
    it("keeps its parameters and grants the admin role", async () => {
      const { devices, usdc, models, admin } = await loadFixture(deployFixture);
      expect(await devices.stakeToken()).to.equal(await usdc.getAddress());
      expect(await devices.minStake()).to.equal(MIN_STAKE);
      expect(await devices.unbondingDelay()).to.equal(UNBONDING_DELAY);
      expect(await devices.modelRegistry()).to.equal(await models.getAddress());
      expect(await devices.SLASHER_ROLE()).to.equal(SLASHER_ROLE);
      expect(await devices.DEVICE_BINDING_TYPEHASH()).to.equal(keccakText("DeviceBinding(address device,address owner,uint256 deadline)"));
      expect(await devices.hasRole(await devices.DEFAULT_ADMIN_ROLE(), admin)).to.equal(true);
      expect(await devices.hasRole(SLASHER_ROLE, admin)).to.equal(false);
    });

    it("refuses zero addresses", async () => {
      const { devices, usdc, models, admin } = await loadFixture(deployFixture);
      const factory = await ethers.getContractFactory("DeviceRegistry");
      for (const args of [
        [ZeroAddress, MIN_STAKE, UNBONDING_DELAY, models, admin],
        [usdc, MIN_STAKE, UNBONDING_DELAY, ZeroAddress, admin],
        [usdc, MIN_STAKE, UNBONDING_DELAY, models, ZeroAddress],
      ]) {
        await expect(factory.deploy(...args)).to.be.revertedWithCustomError(devices, "ZeroAddress");
      }
    });

    it("computes the EIP-712 binding digest a device key signs", async () => {
      const d = await loadFixture(deployFixture);
      const value = { device: d.deviceKey.address, owner: d.provider.address, deadline: 12345n };
      const types = {
        DeviceBinding: [
          { name: "device", type: "address" },
          { name: "owner", type: "address" },
          { name: "deadline", type: "uint256" },
        ],
      };
      expect(await d.devices.bindingDigest(value.device, value.owner, value.deadline)).to.equal(
        TypedDataEncoder.hash(await bindingDomain(d), types, value),
      );
    });
  });

  describe("register", () => {
    it("registers the device key for its owner and pulls the stake", async () => {
      const d = await loadFixture(deployFixture);
      const { devices, usdc, provider, deviceKey } = d;
      const stake = MIN_STAKE + 1n;
      const deadline = BigInt(await time.latest()) + 100n;
      const sig = await signBinding(d, deviceKey, provider.address, deadline);
      await usdc.connect(provider).approve(devices, stake);
      const tx = devices.connect(provider).register(deviceKey, "http://10.0.0.7:7001", '{"hw":"rpi5"}', stake, deadline, sig);
      await expect(tx)
        .to.emit(devices, "DeviceRegistered")
        .withArgs(deviceKey, provider, stake, "http://10.0.0.7:7001", '{"hw":"rpi5"}');
      await expect(tx).to.emit(usdc, "Transfer").withArgs(provider, devices, stake);
      const dev = await devices.getDevice(deviceKey);
      expect([dev.owner, dev.status, dev.unbondingEnds, dev.stake, dev.endpoint, dev.metadata]).to.deep.equal([
        provider.address,
        Status.Active,
        0n,
        stake,
        "http://10.0.0.7:7001",
        '{"hw":"rpi5"}',
      ]);
      await expectBalances(usdc, [[provider, FUNDS - stake], [devices, stake]]);
    });

    it("accepts a binding in the very second of its deadline and not after", async () => {
      const d = await loadFixture(deployFixture);
      const { devices, usdc, provider, provider2, deviceKey, deviceKey2 } = d;
      const deadline = BigInt(await time.latest()) + 100n;
      await usdc.connect(provider).approve(devices, MIN_STAKE);
      await usdc.connect(provider2).approve(devices, MIN_STAKE);
      const late = await signBinding(d, deviceKey2, provider2.address, deadline);
      await time.setNextBlockTimestamp(deadline);
      await devices.connect(provider).register(deviceKey, "http://a", "", MIN_STAKE, deadline, await signBinding(d, deviceKey, provider.address, deadline));
      await time.setNextBlockTimestamp(deadline + 1n);
      await expect(devices.connect(provider2).register(deviceKey2, "http://b", "", MIN_STAKE, deadline, late))
        .to.be.revertedWithCustomError(devices, "BindingExpired")
        .withArgs(deadline, deadline + 1n);
    });

    it("refuses a binding the device key signed for another owner", async () => {
      const d = await loadFixture(deployFixture);
      const { devices, usdc, provider, other, deviceKey } = d;
      const deadline = BigInt(await time.latest()) + 100n;
      // The key consented to `provider`; `other` copies the signature from the mempool.
      const sig = await signBinding(d, deviceKey, provider.address, deadline);
      await usdc.connect(other).approve(devices, MIN_STAKE);
      const recovered = await recoverBinding(d, deviceKey.address, other.address, deadline, sig);
      expect(recovered).not.to.equal(deviceKey.address);
      await expect(devices.connect(other).register(deviceKey, "http://x", "", MIN_STAKE, deadline, sig))
        .to.be.revertedWithCustomError(devices, "InvalidBinding")
        .withArgs(deviceKey, recovered);
    });

    it("refuses a binding signed by another key, for another deadline, or malformed", async () => {
      const d = await loadFixture(deployFixture);
      const { devices, usdc, provider, deviceKey } = d;
      const deadline = BigInt(await time.latest()) + 100n;
      await usdc.connect(provider).approve(devices, MIN_STAKE);
      const reg = devices.connect(provider);
      // The owner signs for a key it does not hold.
      const byOwner = await signBinding(d, provider, provider.address, deadline, deviceKey.address);
      await expect(reg.register(deviceKey, "http://x", "", MIN_STAKE, deadline, byOwner))
        .to.be.revertedWithCustomError(devices, "InvalidBinding")
        .withArgs(deviceKey, provider);
      // A genuine signature, but over a shorter deadline than the one submitted.
      const short = await signBinding(d, deviceKey, provider.address, deadline - 50n);
      await expect(reg.register(deviceKey, "http://x", "", MIN_STAKE, deadline, short))
        .to.be.revertedWithCustomError(devices, "InvalidBinding")
        .withArgs(deviceKey, await recoverBinding(d, deviceKey.address, provider.address, deadline, short));
      await expect(reg.register(deviceKey, "http://x", "", MIN_STAKE, deadline, "0x1234"))
        .to.be.revertedWithCustomError(devices, "InvalidBinding")
        .withArgs(deviceKey, ZeroAddress);
    });

    it("refuses a key registered before, a low stake, a zero device and an empty endpoint", async () => {
      const d = await loadFixture(marketFixture);
      const { devices, usdc, provider, provider2, deviceKey, deviceKey2 } = d;
      const deadline = BigInt(await time.latest()) + 100n;
      await usdc.connect(provider2).approve(devices, MIN_STAKE);
      const reg = devices.connect(provider2);
      // Already registered by `provider`, even with the key's fresh consent to provider2.
      await expect(reg.register(deviceKey, "http://x", "", MIN_STAKE, deadline, await signBinding(d, deviceKey, provider2.address, deadline)))
        .to.be.revertedWithCustomError(devices, "DeviceAlreadyRegistered")
        .withArgs(deviceKey);
      await expect(registerDevice(d, provider, deviceKey)).to.be.revertedWithCustomError(devices, "DeviceAlreadyRegistered").withArgs(deviceKey);
      const sig2 = await signBinding(d, deviceKey2, provider2.address, deadline);
      await expect(reg.register(deviceKey2, "http://x", "", MIN_STAKE - 1n, deadline, sig2))
        .to.be.revertedWithCustomError(devices, "StakeTooLow")
        .withArgs(MIN_STAKE - 1n, MIN_STAKE);
      await expect(reg.register(ZeroAddress, "http://x", "", MIN_STAKE, deadline, sig2)).to.be.revertedWithCustomError(devices, "ZeroAddress");
      await expect(reg.register(deviceKey2, "", "", MIN_STAKE, deadline, sig2)).to.be.revertedWithCustomError(devices, "EmptyEndpoint");
    });

    it("fails without the stake allowance and leaves nothing behind", async () => {
      const d = await loadFixture(deployFixture);
      const { devices, usdc, provider, deviceKey } = d;
      const deadline = BigInt(await time.latest()) + 100n;
      await usdc.connect(provider).approve(devices, MIN_STAKE - 1n);
      await expect(
        devices.connect(provider).register(deviceKey, "http://x", "", MIN_STAKE, deadline, await signBinding(d, deviceKey, provider.address, deadline)),
      )
        .to.be.revertedWithCustomError(usdc, "ERC20InsufficientAllowance")
        .withArgs(devices, MIN_STAKE - 1n, MIN_STAKE);
      await expect(devices.getDevice(deviceKey)).to.be.revertedWithCustomError(devices, "DeviceNotFound").withArgs(deviceKey);
    });
  });

  describe("addStake", () => {
    it("adds stake while active or paused", async () => {
      const { devices, usdc, provider, deviceKey } = await loadFixture(registryFixture);
      await usdc.connect(provider).approve(devices, 5_000_001n);
      const tx = devices.connect(provider).addStake(deviceKey, 5_000_000n);
      await expect(tx).to.emit(devices, "StakeAdded").withArgs(deviceKey, 5_000_000n, MIN_STAKE + 5_000_000n);
      await expect(tx).to.emit(usdc, "Transfer").withArgs(provider, devices, 5_000_000n);
      await devices.connect(provider).pause(deviceKey);
      await expect(devices.connect(provider).addStake(deviceKey, 1n)).to.emit(devices, "StakeAdded").withArgs(deviceKey, 1n, MIN_STAKE + 5_000_001n);
      expect((await devices.getDevice(deviceKey)).stake).to.equal(MIN_STAKE + 5_000_001n);
      await expectBalances(usdc, [[provider, PROVIDER_START - 5_000_001n], [devices, MIN_STAKE + 5_000_001n]]);
    });

    it("refuses zero, strangers, unknown and exiting devices", async () => {
      const m = await loadFixture(registryFixture);
      const { devices, provider, other, deviceKey, deviceKey2 } = m;
      await expect(devices.connect(provider).addStake(deviceKey, 0n)).to.be.revertedWithCustomError(devices, "ZeroAmount");
      await expect(devices.connect(other).addStake(deviceKey, 1n)).to.be.revertedWithCustomError(devices, "NotDeviceOwner").withArgs(deviceKey, other);
      await expect(devices.connect(provider).addStake(deviceKey2, 1n)).to.be.revertedWithCustomError(devices, "DeviceNotFound").withArgs(deviceKey2);
      await exit(m);
      await expect(devices.connect(provider).addStake(deviceKey, 1n))
        .to.be.revertedWithCustomError(devices, "InvalidDeviceStatus")
        .withArgs(deviceKey, Status.Exiting);
    });
  });

  describe("updateDevice", () => {
    it("changes endpoint and metadata while active or paused", async () => {
      const { devices, provider, deviceKey } = await loadFixture(registryFixture);
      await expect(devices.connect(provider).updateDevice(deviceKey, "https://edge.example:8443", '{"region":"eu"}'))
        .to.emit(devices, "DeviceUpdated")
        .withArgs(deviceKey, "https://edge.example:8443", '{"region":"eu"}');
      await devices.connect(provider).pause(deviceKey);
      await expect(devices.connect(provider).updateDevice(deviceKey, "http://b", "")).to.emit(devices, "DeviceUpdated").withArgs(deviceKey, "http://b", "");
      const dev = await devices.getDevice(deviceKey);
      expect([dev.endpoint, dev.metadata]).to.deep.equal(["http://b", ""]);
    });

    it("refuses an empty endpoint, strangers, unknown and exiting devices", async () => {
      const m = await loadFixture(registryFixture);
      const { devices, provider, other, deviceKey, deviceKey2 } = m;
      await expect(devices.connect(provider).updateDevice(deviceKey, "", "{}")).to.be.revertedWithCustomError(devices, "EmptyEndpoint");
      await expect(devices.connect(other).updateDevice(deviceKey, "http://x", "")).to.be.revertedWithCustomError(devices, "NotDeviceOwner").withArgs(deviceKey, other);
      await expect(devices.connect(provider).updateDevice(deviceKey2, "http://x", "")).to.be.revertedWithCustomError(devices, "DeviceNotFound").withArgs(deviceKey2);
      await exit(m);
      await expect(devices.connect(provider).updateDevice(deviceKey, "http://x", ""))
        .to.be.revertedWithCustomError(devices, "InvalidDeviceStatus")
        .withArgs(deviceKey, Status.Exiting);
    });
  });

  describe("setOffering", () => {
    it("sets, reprices and removes an offering per token", async () => {
      const { devices, models, usdc, provider, deviceKey, other } = await loadFixture(registryFixture);
      await models.connect(provider).takeLicense(2n, provider, MAX_UINT96);
      const reg = devices.connect(provider);
      await expect(reg.setOffering(deviceKey, 2n, usdc, 777n)).to.emit(devices, "OfferingSet").withArgs(deviceKey, 2n, usdc, 777n);
      // Any ERC-20 works as the payment token; the same model in another token is a separate offering.
      await expect(reg.setOffering(deviceKey, 2n, other, 5n)).to.emit(devices, "OfferingSet").withArgs(deviceKey, 2n, other, 5n);
      await expect(reg.setOffering(deviceKey, 2n, usdc, 778n)).to.emit(devices, "OfferingSet").withArgs(deviceKey, 2n, usdc, 778n);
      expect(await devices.offeringPrice(deviceKey, 2n, usdc)).to.equal(778n);
      expect(await devices.offeringPrice(deviceKey, 2n, other)).to.equal(5n);
      expect(await devices.channelTerms(deviceKey, 2n, usdc)).to.deep.equal([provider.address, 778n]);
      await expect(reg.setOffering(deviceKey, 2n, usdc, 0n)).to.emit(devices, "OfferingSet").withArgs(deviceKey, 2n, usdc, 0n);
      expect(await devices.offeringPrice(deviceKey, 2n, usdc)).to.equal(0n);
      await expect(devices.channelTerms(deviceKey, 2n, usdc))
        .to.be.revertedWithCustomError(devices, "OfferingNotFound")
        .withArgs(deviceKey, 2n, usdc);
      await expect(reg.setOffering(deviceKey, 2n, usdc, 0n))
        .to.be.revertedWithCustomError(devices, "OfferingNotFound")
        .withArgs(deviceKey, 2n, usdc);
      // The market fixture's offering is untouched.
      expect(await devices.channelTerms(deviceKey, 1n, usdc)).to.deep.equal([provider.address, PRICE]);
    });

    it("requires the owner's license of a live model", async () => {
      const { devices, models, modelOwner, usdc, provider, deviceKey } = await loadFixture(registryFixture);
      const reg = devices.connect(provider);
      await expect(reg.setOffering(deviceKey, 2n, usdc, 1n)).to.be.revertedWithCustomError(devices, "ModelNotLicensed").withArgs(2n, provider);
      await expect(reg.setOffering(deviceKey, 9n, usdc, 1n)).to.be.revertedWithCustomError(models, "ModelNotFound").withArgs(9n);
      await models.connect(modelOwner).deprecate(1n);
      await expect(reg.setOffering(deviceKey, 1n, usdc, 2n)).to.be.revertedWithCustomError(models, "ModelIsDeprecated").withArgs(1n);
      // Withdrawing an offering of a deprecated model stays possible.
      await expect(reg.setOffering(deviceKey, 1n, usdc, 0n)).to.emit(devices, "OfferingSet").withArgs(deviceKey, 1n, usdc, 0n);
    });

    it("works while paused and refuses a zero token, strangers, unknown and exiting devices", async () => {
      const m = await loadFixture(registryFixture);
      const { devices, usdc, provider, other, deviceKey, deviceKey2 } = m;
      await devices.connect(provider).pause(deviceKey);
      await expect(devices.connect(provider).setOffering(deviceKey, 1n, usdc, 3n)).to.emit(devices, "OfferingSet").withArgs(deviceKey, 1n, usdc, 3n);
      await expect(devices.connect(provider).setOffering(deviceKey, 1n, ZeroAddress, 3n)).to.be.revertedWithCustomError(devices, "ZeroAddress");
      await expect(devices.connect(other).setOffering(deviceKey, 1n, usdc, 3n)).to.be.revertedWithCustomError(devices, "NotDeviceOwner").withArgs(deviceKey, other);
      await expect(devices.connect(provider).setOffering(deviceKey2, 1n, usdc, 3n)).to.be.revertedWithCustomError(devices, "DeviceNotFound").withArgs(deviceKey2);
      await exit(m);
      await expect(devices.connect(provider).setOffering(deviceKey, 1n, usdc, 3n))
        .to.be.revertedWithCustomError(devices, "InvalidDeviceStatus")
        .withArgs(deviceKey, Status.Exiting);
    });
  });

  describe("pause / unpause", () => {
    it("takes the device off the market and back", async () => {
      const { devices, usdc, provider, deviceKey } = await loadFixture(registryFixture);
      await expect(devices.connect(provider).pause(deviceKey)).to.emit(devices, "DeviceStatusChanged").withArgs(deviceKey, Status.Paused, 0n);
      expect((await devices.getDevice(deviceKey)).status).to.equal(Status.Paused);
      await expect(devices.channelTerms(deviceKey, 1n, usdc)).to.be.revertedWithCustomError(devices, "InvalidDeviceStatus").withArgs(deviceKey, Status.Paused);
      // The offering survives the pause.
      expect(await devices.offeringPrice(deviceKey, 1n, usdc)).to.equal(PRICE);
      await expect(devices.connect(provider).unpause(deviceKey)).to.emit(devices, "DeviceStatusChanged").withArgs(deviceKey, Status.Active, 0n);
      expect(await devices.channelTerms(deviceKey, 1n, usdc)).to.deep.equal([provider.address, PRICE]);
    });

    it("refuses the wrong status, strangers and unknown devices", async () => {
      const { devices, provider, other, deviceKey, deviceKey2 } = await loadFixture(registryFixture);
      await expect(devices.connect(provider).unpause(deviceKey)).to.be.revertedWithCustomError(devices, "InvalidDeviceStatus").withArgs(deviceKey, Status.Active);
      await expect(devices.connect(other).pause(deviceKey)).to.be.revertedWithCustomError(devices, "NotDeviceOwner").withArgs(deviceKey, other);
      await expect(devices.connect(provider).pause(deviceKey2)).to.be.revertedWithCustomError(devices, "DeviceNotFound").withArgs(deviceKey2);
      await devices.connect(provider).pause(deviceKey);
      await expect(devices.connect(provider).pause(deviceKey)).to.be.revertedWithCustomError(devices, "InvalidDeviceStatus").withArgs(deviceKey, Status.Paused);
      await expect(devices.connect(other).unpause(deviceKey)).to.be.revertedWithCustomError(devices, "NotDeviceOwner").withArgs(deviceKey, other);
      await expect(devices.connect(provider).unpause(deviceKey2)).to.be.revertedWithCustomError(devices, "DeviceNotFound").withArgs(deviceKey2);
    });
  });

  describe("startExit / withdrawStake", () => {
    it("unbonds for the delay, then returns the whole stake to the owner", async () => {
      const m = await loadFixture(registryFixture);
      const { devices, usdc, provider, deviceKey } = m;
      const t = await nextTimestamp();
      await expect(devices.connect(provider).startExit(deviceKey))
        .to.emit(devices, "DeviceStatusChanged")
        .withArgs(deviceKey, Status.Exiting, t + UNBONDING_DELAY);
      const ends = t + UNBONDING_DELAY;
      expect((await devices.getDevice(deviceKey)).unbondingEnds).to.equal(ends);
      await expect(devices.channelTerms(deviceKey, 1n, usdc)).to.be.revertedWithCustomError(devices, "InvalidDeviceStatus").withArgs(deviceKey, Status.Exiting);

      await time.setNextBlockTimestamp(ends - 1n);
      await expect(devices.connect(provider).withdrawStake(deviceKey)).to.be.revertedWithCustomError(devices, "StillUnbonding").withArgs(deviceKey, ends);
      await time.setNextBlockTimestamp(ends);
      const tx = devices.connect(provider).withdrawStake(deviceKey);
      await expect(tx).to.emit(devices, "StakeWithdrawn").withArgs(deviceKey, provider, MIN_STAKE);
      await expect(tx).to.emit(devices, "DeviceStatusChanged").withArgs(deviceKey, Status.Withdrawn, 0n);
      await expect(tx).to.emit(usdc, "Transfer").withArgs(devices, provider, MIN_STAKE);
      const dev = await devices.getDevice(deviceKey);
      expect([dev.status, dev.stake, dev.unbondingEnds]).to.deep.equal([Status.Withdrawn, 0n, 0n]);
      await expectBalances(usdc, [[provider, FUNDS - LICENSE_FEE], [devices, 0n]]);

      // Final: no second withdrawal, and the key can never be registered again.
      await expect(devices.connect(provider).withdrawStake(deviceKey)).to.be.revertedWithCustomError(devices, "InvalidDeviceStatus").withArgs(deviceKey, Status.Withdrawn);
      await expect(registerDevice(m, provider, deviceKey)).to.be.revertedWithCustomError(devices, "DeviceAlreadyRegistered").withArgs(deviceKey);
    });

    it("exits from paused, but not twice; withdraws only after an exit, by the owner", async () => {
      const { devices, provider, other, deviceKey, deviceKey2 } = await loadFixture(registryFixture);
      await expect(devices.connect(provider).withdrawStake(deviceKey)).to.be.revertedWithCustomError(devices, "InvalidDeviceStatus").withArgs(deviceKey, Status.Active);
      await expect(devices.connect(other).startExit(deviceKey)).to.be.revertedWithCustomError(devices, "NotDeviceOwner").withArgs(deviceKey, other);
      await expect(devices.connect(provider).startExit(deviceKey2)).to.be.revertedWithCustomError(devices, "DeviceNotFound").withArgs(deviceKey2);
      await devices.connect(provider).pause(deviceKey);
      await devices.connect(provider).startExit(deviceKey);
      await expect(devices.connect(provider).startExit(deviceKey)).to.be.revertedWithCustomError(devices, "InvalidDeviceStatus").withArgs(deviceKey, Status.Exiting);
      await expect(devices.connect(provider).unpause(deviceKey)).to.be.revertedWithCustomError(devices, "InvalidDeviceStatus").withArgs(deviceKey, Status.Exiting);
      await time.increase(UNBONDING_DELAY);
      await expect(devices.connect(other).withdrawStake(deviceKey)).to.be.revertedWithCustomError(devices, "NotDeviceOwner").withArgs(deviceKey, other);
      await expect(devices.connect(provider).withdrawStake(deviceKey2)).to.be.revertedWithCustomError(devices, "DeviceNotFound").withArgs(deviceKey2);
    });
  });

  describe("slash", () => {
    it("is guarded by SLASHER_ROLE, which the admin grants and revokes", async () => {
      const { devices, admin, other, slasher, deviceKey } = await loadFixture(registryFixture);
      await expect(devices.connect(other).slash(deviceKey, 1n, other, false))
        .to.be.revertedWithCustomError(devices, "AccessControlUnauthorizedAccount")
        .withArgs(other, SLASHER_ROLE);
      // The admin itself cannot slash without the role.
      await expect(devices.connect(admin).slash(deviceKey, 1n, other, false))
        .to.be.revertedWithCustomError(devices, "AccessControlUnauthorizedAccount")
        .withArgs(admin, SLASHER_ROLE);
      await expect(devices.connect(admin).revokeRole(SLASHER_ROLE, slasher)).to.emit(devices, "RoleRevoked").withArgs(SLASHER_ROLE, slasher, admin);
      await expect(devices.connect(slasher).slash(deviceKey, 1n, other, false))
        .to.be.revertedWithCustomError(devices, "AccessControlUnauthorizedAccount")
        .withArgs(slasher, SLASHER_ROLE);
      await expect(devices.connect(admin).grantRole(SLASHER_ROLE, slasher)).to.emit(devices, "RoleGranted").withArgs(SLASHER_ROLE, slasher, admin);
      await expect(devices.connect(other).grantRole(SLASHER_ROLE, other))
        .to.be.revertedWithCustomError(devices, "AccessControlUnauthorizedAccount")
        .withArgs(other, await devices.DEFAULT_ADMIN_ROLE());
    });

    it("lets a slasher renounce its own role only, with confirmation", async () => {
      const { devices, slasher, other } = await loadFixture(registryFixture);
      expect(await devices.getRoleAdmin(SLASHER_ROLE)).to.equal(await devices.DEFAULT_ADMIN_ROLE());
      await expect(devices.connect(other).renounceRole(SLASHER_ROLE, slasher)).to.be.revertedWithCustomError(
        devices,
        "AccessControlBadConfirmation",
      );
      await expect(devices.connect(slasher).renounceRole(SLASHER_ROLE, slasher))
        .to.emit(devices, "RoleRevoked")
        .withArgs(SLASHER_ROLE, slasher, slasher);
      expect(await devices.hasRole(SLASHER_ROLE, slasher)).to.equal(false);
    });

    it("advertises AccessControl through ERC-165", async () => {
      const { devices } = await loadFixture(registryFixture);
      expect(await devices.supportsInterface("0x01ffc9a7")).to.equal(true); // IERC165
      expect(await devices.supportsInterface("0x7965db0b")).to.equal(true); // IAccessControl
      expect(await devices.supportsInterface("0xffffffff")).to.equal(false);
    });

    it("without removal takes stake to the beneficiary and leaves the device serving", async () => {
      const { devices, usdc, slasher, other, provider, deviceKey } = await loadFixture(registryFixture);
      const tx = devices.connect(slasher).slash(deviceKey, 3_000_000n, other, false);
      await expect(tx).to.emit(devices, "DeviceSlashed").withArgs(deviceKey, other, 3_000_000n, false);
      await expect(tx).to.emit(usdc, "Transfer").withArgs(devices, other, 3_000_000n);
      await expect(tx).not.to.emit(devices, "DeviceStatusChanged");
      const dev = await devices.getDevice(deviceKey);
      expect([dev.status, dev.stake]).to.deep.equal([Status.Active, MIN_STAKE - 3_000_000n]);
      expect(await devices.channelTerms(deviceKey, 1n, usdc)).to.deep.equal([provider.address, PRICE]);
      await expectBalances(usdc, [[other, FUNDS + 3_000_000n], [devices, MIN_STAKE - 3_000_000n], [provider, PROVIDER_START]]);
    });

    it("with removal takes the device off the market and restarts the unbonding", async () => {
      const m = await loadFixture(registryFixture);
      const { devices, usdc, slasher, other, provider, deviceKey } = m;
      const exitEnds = await exit(m);
      await time.increase(UNBONDING_DELAY / 2n);
      const t = await nextTimestamp();
      const tx = devices.connect(slasher).slash(deviceKey, 4_000_000n, other, true);
      await expect(tx).to.emit(devices, "DeviceSlashed").withArgs(deviceKey, other, 4_000_000n, true);
      await expect(tx).to.emit(devices, "DeviceStatusChanged").withArgs(deviceKey, Status.Removed, t + UNBONDING_DELAY);
      const ends = t + UNBONDING_DELAY;
      expect(ends).to.be.greaterThan(exitEnds);
      await expect(devices.channelTerms(deviceKey, 1n, usdc)).to.be.revertedWithCustomError(devices, "InvalidDeviceStatus").withArgs(deviceKey, Status.Removed);
      await expect(devices.connect(provider).addStake(deviceKey, 1n)).to.be.revertedWithCustomError(devices, "InvalidDeviceStatus").withArgs(deviceKey, Status.Removed);

      // A second removal slash does not push the unbonding further.
      const again = devices.connect(slasher).slash(deviceKey, 1_000_000n, other, true);
      await expect(again).to.emit(devices, "DeviceSlashed").withArgs(deviceKey, other, 1_000_000n, true);
      await expect(again).not.to.emit(devices, "DeviceStatusChanged");
      expect((await devices.getDevice(deviceKey)).unbondingEnds).to.equal(ends);

      await time.setNextBlockTimestamp(exitEnds);
      await expect(devices.connect(provider).withdrawStake(deviceKey)).to.be.revertedWithCustomError(devices, "StillUnbonding").withArgs(deviceKey, ends);
      await time.setNextBlockTimestamp(ends);
      await expect(devices.connect(provider).withdrawStake(deviceKey)).to.emit(devices, "StakeWithdrawn").withArgs(deviceKey, provider, MIN_STAKE - 5_000_000n);
      await expectBalances(usdc, [[other, FUNDS + 5_000_000n], [provider, PROVIDER_START + MIN_STAKE - 5_000_000n], [devices, 0n]]);
    });

    it("can take the whole stake, after which the withdrawal moves nothing", async () => {
      const { devices, usdc, slasher, other, provider, deviceKey } = await loadFixture(registryFixture);
      await devices.connect(slasher).slash(deviceKey, MIN_STAKE, other, true);
      await time.increase(UNBONDING_DELAY);
      const tx = devices.connect(provider).withdrawStake(deviceKey);
      await expect(tx).to.emit(devices, "StakeWithdrawn").withArgs(deviceKey, provider, 0n);
      await expect(tx).not.to.emit(usdc, "Transfer");
      await expectBalances(usdc, [[other, FUNDS + MIN_STAKE], [provider, PROVIDER_START], [devices, 0n]]);
    });

    it("refuses more than the stake, a zero beneficiary and unknown devices", async () => {
      const { devices, slasher, other, deviceKey, deviceKey2 } = await loadFixture(registryFixture);
      await expect(devices.connect(slasher).slash(deviceKey, MIN_STAKE + 1n, other, false))
        .to.be.revertedWithCustomError(devices, "SlashExceedsStake")
        .withArgs(MIN_STAKE + 1n, MIN_STAKE);
      await expect(devices.connect(slasher).slash(deviceKey, 1n, ZeroAddress, false)).to.be.revertedWithCustomError(devices, "ZeroAddress");
      await expect(devices.connect(slasher).slash(deviceKey2, 1n, other, false)).to.be.revertedWithCustomError(devices, "DeviceNotFound").withArgs(deviceKey2);
    });
  });

  describe("views", () => {
    it("refuse unknown devices; an unknown offering prices at zero", async () => {
      const { devices, usdc, deviceKey2 } = await loadFixture(registryFixture);
      await expect(devices.getDevice(deviceKey2)).to.be.revertedWithCustomError(devices, "DeviceNotFound").withArgs(deviceKey2);
      await expect(devices.channelTerms(deviceKey2, 1n, usdc)).to.be.revertedWithCustomError(devices, "DeviceNotFound").withArgs(deviceKey2);
      expect(await devices.offeringPrice(deviceKey2, 1n, usdc)).to.equal(0n);
    });
  });
});
