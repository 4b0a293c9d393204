import { expect } from "chai";
import { ZeroAddress, ZeroHash, keccak256, toUtf8Bytes } from "ethers";
import {
  MAX_UINT96,
  CONTENT_HASH,
  FUNDS,
  LICENSE_FEE,
  ROYALTY_BPS,
  deployFixture,
  expectBalances,
  ethers,
  modelParams,
  networkHelpers,
} from "./fixtures.ts";

const { loadFixture } = networkHelpers;
const HASH_V2 = keccak256(toUtf8Bytes("model v2 bytes"));

/** Model 1 (free license, 10% royalty) and model 2 (5-token license fee in TestUSDC, 2.5% royalty). */
async function modelsFixture() {
  const d = await deployFixture();
  await d.models.connect(d.modelOwner).publish(modelParams());
  await d.models
    .connect(d.modelOwner)
    .publish(modelParams({ name: "ocr-det", royaltyBps: 250, licenseToken: await d.usdc.getAddress(), licenseFee: LICENSE_FEE }));
  return d;
}

describe("ModelRegistry", () => {
  describe("publish", () => {
    it("assigns ids from 1 and emits every field", async () => {
      const { models, modelOwner, usdc } = await loadFixture(deployFixture);
      expect(await models.MAX_ROYALTY_BPS()).to.equal(5_000n);
      expect(await models.modelCount()).to.equal(0n);
      expect(await models.connect(modelOwner).publish.staticCall(modelParams())).to.equal(1n);
      await expect(models.connect(modelOwner).publish(modelParams()))
        .to.emit(models, "ModelPublished")
        .withArgs(1n, modelOwner, 0n, 1n, CONTENT_HASH, ROYALTY_BPS, ZeroAddress, 0n, "silero-vad", "ipfs://silero-vad.onnx");
      const params = modelParams({ name: "ocr", royaltyBps: 5_000, licenseToken: await usdc.getAddress(), licenseFee: 9n });
      await expect(models.connect(modelOwner).publish(params))
        .to.emit(models, "ModelPublished")
        .withArgs(2n, modelOwner, 0n, 1n, CONTENT_HASH, 5_000n, usdc, 9n, "ocr", "ipfs://silero-vad.onnx");
      expect(await models.modelCount()).to.equal(2n);
    });

    it("stores the model as published", async () => {
      const { models, modelOwner, usdc } = await loadFixture(modelsFixture);
      const m = await models.getModel(2n);
      const { owner, royaltyBps, deprecated, version, predecessor, licenseToken, licenseFee, contentHash, name, uri } = m;
      expect({ owner, royaltyBps, deprecated, version, predecessor, licenseToken, licenseFee, contentHash, name, uri }).to.deep.equal({
        owner: modelOwner.address,
        royaltyBps: 250n,
        deprecated: false,
        version: 1n,
        predecessor: 0n,
        licenseToken: await usdc.getAddress(),
        licenseFee: LICENSE_FEE,
        contentHash: CONTENT_HASH,
        name: "ocr-det",
        uri: "ipfs://silero-vad.onnx",
      });
      expect(await models.channelTerms(2n)).to.deep.equal([modelOwner.address, 250n]);
      expect(await models.successorOf(2n)).to.equal(0n);
      expect(await models.hasLicense(2n, modelOwner)).to.equal(false);
    });

    it("refuses an empty name, a zero content hash, a royalty above 50% and a fee without token", async () => {
      const { models, modelOwner } = await loadFixture(deployFixture);
      const owner = models.connect(modelOwner);
      await expect(owner.publish(modelParams({ name: "" }))).to.be.revertedWithCustomError(models, "EmptyName");
      await expect(owner.publish(modelParams({ contentHash: ZeroHash }))).to.be.revertedWithCustomError(models, "EmptyContentHash");
      await expect(owner.publish(modelParams({ royaltyBps: 5_001 })))
        .to.be.revertedWithCustomError(models, "RoyaltyTooHigh")
        .withArgs(5_001, 5_000);
      await expect(owner.publish(modelParams({ licenseFee: 1n }))).to.be.revertedWithCustomError(models, "LicenseTokenMissing");
      expect(await models.modelCount()).to.equal(0n);
    });

    it("accepts the cap itself, a zero royalty and an empty URI", async () => {
      const { models, modelOwner } = await loadFixture(deployFixture);
      await models.connect(modelOwner).publish(modelParams({ royaltyBps: 5_000 }));
      await models.connect(modelOwner).publish(modelParams({ royaltyBps: 0, uri: "" }));
      expect((await models.getModel(1n)).royaltyBps).to.equal(5_000n);
      expect((await models.getModel(2n)).royaltyBps).to.equal(0n);
    });
  });

  describe("publishVersion", () => {
    it("links a new version to its predecessor", async () => {
      const { models, modelOwner } = await loadFixture(modelsFixture);
      await expect(models.connect(modelOwner).publishVersion(1n, modelParams({ name: "silero-vad v2", contentHash: HASH_V2 })))
        .to.emit(models, "ModelPublished")
        .withArgs(3n, modelOwner, 1n, 2n, HASH_V2, ROYALTY_BPS, ZeroAddress, 0n, "silero-vad v2", "ipfs://silero-vad.onnx");
      await models.connect(modelOwner).publishVersion(3n, modelParams({ name: "silero-vad v3" }));
      expect(await models.successorOf(1n)).to.equal(3n);
      expect(await models.successorOf(3n)).to.equal(4n);
      expect(await models.successorOf(4n)).to.equal(0n);
      const v3 = await models.getModel(4n);
      expect([v3.version, v3.predecessor, v3.name]).to.deep.equal([3n, 3n, "silero-vad v3"]);
    });

    it("keeps versions a line: a predecessor takes one successor", async () => {
      const { models, modelOwner } = await loadFixture(modelsFixture);
      await models.connect(modelOwner).publishVersion(1n, modelParams());
      await expect(models.connect(modelOwner).publishVersion(1n, modelParams()))
        .to.be.revertedWithCustomError(models, "VersionAlreadySuperseded")
        .withArgs(1n, 3n);
    });

    it("is for the predecessor's owner only, of an existing model, with valid params", async () => {
      const { models, modelOwner, other } = await loadFixture(modelsFixture);
      await expect(models.connect(other).publishVersion(1n, modelParams()))
        .to.be.revertedWithCustomError(models, "NotModelOwner")
        .withArgs(1n, other);
      await expect(models.connect(modelOwner).publishVersion(9n, modelParams()))
        .to.be.revertedWithCustomError(models, "ModelNotFound")
        .withArgs(9n);
      await expect(models.connect(modelOwner).publishVersion(1n, modelParams({ name: "" }))).to.be.revertedWithCustomError(models, "EmptyName");
      await expect(models.connect(modelOwner).publishVersion(1n, modelParams({ royaltyBps: 6_000 })))
        .to.be.revertedWithCustomError(models, "RoyaltyTooHigh")
        .withArgs(6_000, 5_000);
    });
  });

  describe("setTerms", () => {
    it("changes royalty and license fee", async () => {
      const { models, modelOwner } = await loadFixture(modelsFixture);
      await expect(models.connect(modelOwner).setTerms(2n, 4_000, 77n)).to.emit(models, "ModelTermsUpdated").withArgs(2n, 4_000, 77n);
      const m = await models.getModel(2n);
      expect([m.royaltyBps, m.licenseFee]).to.deep.equal([4_000n, 77n]);
      expect((await models.channelTerms(2n))[1]).to.equal(4_000n);
    });

    it("refuses a royalty above the cap, a fee without license token, a stranger and an unknown model", async () => {
      const { models, modelOwner, other } = await loadFixture(modelsFixture);
      await expect(models.connect(modelOwner).setTerms(2n, 5_001, 0n))
        .to.be.revertedWithCustomError(models, "RoyaltyTooHigh")
        .withArgs(5_001, 5_000);
      // Model 1 was published without a license token.
      await expect(models.connect(modelOwner).setTerms(1n, 100, 1n)).to.be.revertedWithCustomError(models, "LicenseTokenMissing");
      await expect(models.connect(other).setTerms(1n, 100, 0n)).to.be.revertedWithCustomError(models, "NotModelOwner").withArgs(1n, other);
      await expect(models.connect(modelOwner).setTerms(3n, 100, 0n)).to.be.revertedWithCustomError(models, "ModelNotFound").withArgs(3n);
    });
  });

  describe("transferModelOwnership", () => {
    it("hands every owner right to the new owner", async () => {
      const { models, modelOwner, other } = await loadFixture(modelsFixture);
      await expect(models.connect(modelOwner).transferModelOwnership(1n, other))
        .to.emit(models, "ModelOwnershipTransferred")
        .withArgs(1n, modelOwner, other);
      expect((await models.getModel(1n)).owner).to.equal(other.address);
      await expect(models.connect(modelOwner).setTerms(1n, 0, 0n)).to.be.revertedWithCustomError(models, "NotModelOwner").withArgs(1n, modelOwner);
      await expect(models.connect(other).setTerms(1n, 0, 0n)).to.emit(models, "ModelTermsUpdated").withArgs(1n, 0, 0n);
      // Model 2 is untouched.
      expect((await models.getModel(2n)).owner).to.equal(modelOwner.address);
    });

    it("refuses the zero owner, a stranger and an unknown model", async () => {
      const { models, modelOwner, other } = await loadFixture(modelsFixture);
      await expect(models.connect(modelOwner).transferModelOwnership(1n, ZeroAddress)).to.be.revertedWithCustomError(models, "ZeroOwner");
      await expect(models.connect(other).transferModelOwnership(1n, other))
        .to.be.revertedWithCustomError(models, "NotModelOwner")
        .withArgs(1n, other);
      await expect(models.connect(modelOwner).transferModelOwnership(5n, other))
        .to.be.revertedWithCustomError(models, "ModelNotFound")
        .withArgs(5n);
    });
  });

  describe("deprecate", () => {
    it("closes the model to new licenses and channels but keeps its record", async () => {
      const { models, modelOwner, provider } = await loadFixture(modelsFixture);
      await expect(models.connect(modelOwner).deprecate(1n)).to.emit(models, "ModelDeprecated").withArgs(1n);
      expect((await models.getModel(1n)).deprecated).to.equal(true);
      await expect(models.channelTerms(1n)).to.be.revertedWithCustomError(models, "ModelIsDeprecated").withArgs(1n);
      await expect(models.connect(provider).takeLicense(1n, provider, MAX_UINT96)).to.be.revertedWithCustomError(models, "ModelIsDeprecated").withArgs(1n);
      // A deprecated version may still be succeeded by a new one.
      await models.connect(modelOwner).publishVersion(1n, modelParams());
      expect(await models.successorOf(1n)).to.equal(3n);
    });

    it("refuses a second deprecation, a stranger and an unknown model", async () => {
      const { models, modelOwner, other } = await loadFixture(modelsFixture);
      await models.connect(modelOwner).deprecate(1n);
      await expect(models.connect(modelOwner).deprecate(1n)).to.be.revertedWithCustomError(models, "ModelIsDeprecated").withArgs(1n);
      await expect(models.connect(other).deprecate(2n)).to.be.revertedWithCustomError(models, "NotModelOwner").withArgs(2n, other);
      await expect(models.connect(modelOwner).deprecate(0n)).to.be.revertedWithCustomError(models, "ModelNotFound").withArgs(0n);
    });
  });

  describe("takeLicense", () => {
    it("licenses for free without moving tokens", async () => {
      const { models, usdc, provider, modelOwner } = await loadFixture(modelsFixture);
      const tx = models.connect(provider).takeLicense(1n, provider, MAX_UINT96);
      await expect(tx).to.emit(models, "LicenseTaken").withArgs(1n, provider, provider, ZeroAddress, 0n);
      await expect(tx).not.to.emit(usdc, "Transfer");
      expect(await models.hasLicense(1n, provider)).to.equal(true);
      expect(await models.hasLicense(2n, provider)).to.equal(false);
      await expectBalances(usdc, [[provider, FUNDS], [modelOwner, FUNDS]]);
    });

    it("pays the license fee from the caller to the model owner, for any licensee", async () => {
      const { models, usdc, provider, payer, modelOwner } = await loadFixture(modelsFixture);
      // The payer buys the license for the provider.
      await usdc.connect(payer).approve(models, LICENSE_FEE);
      const tx = models.connect(payer).takeLicense(2n, provider, MAX_UINT96);
      await expect(tx).to.emit(models, "LicenseTaken").withArgs(2n, provider, payer, usdc, LICENSE_FEE);
      await expect(tx).to.emit(usdc, "Transfer").withArgs(payer, modelOwner, LICENSE_FEE);
      expect(await models.hasLicense(2n, provider)).to.equal(true);
      expect(await models.hasLicense(2n, payer)).to.equal(false);
      await expectBalances(usdc, [[payer, FUNDS - LICENSE_FEE], [modelOwner, FUNDS + LICENSE_FEE], [provider, FUNDS], [models, 0n]]);
      expect(await usdc.allowance(payer, models)).to.equal(0n);
    });

    it("pays the fee to the current owner at the current fee", async () => {
      const { models, usdc, provider, modelOwner, other } = await loadFixture(modelsFixture);
      await models.connect(modelOwner).setTerms(2n, 250, 1_234_567n);
      await models.connect(modelOwner).transferModelOwnership(2n, other);
      await usdc.connect(provider).approve(models, 1_234_567n);
      await expect(models.connect(provider).takeLicense(2n, provider, MAX_UINT96))
        .to.emit(models, "LicenseTaken")
        .withArgs(2n, provider, provider, usdc, 1_234_567n);
      await expectBalances(usdc, [[provider, FUNDS - 1_234_567n], [other, FUNDS + 1_234_567n], [modelOwner, FUNDS]]);
    });

    it("refuses a fee raised above the caller's maximum (front-run setTerms) with LicenseFeeTooHigh(fee, maxFee)", async () => {
      const { models, usdc, provider, modelOwner } = await loadFixture(modelsFixture);
      // The provider saw LICENSE_FEE and approved generously; the owner raises the fee in the block before.
      await usdc.connect(provider).approve(models, 10n * LICENSE_FEE);
      await models.connect(modelOwner).setTerms(2n, 250, 3n * LICENSE_FEE);
      await expect(models.connect(provider).takeLicense(2n, provider, LICENSE_FEE))
        .to.be.revertedWithCustomError(models, "LicenseFeeTooHigh")
        .withArgs(3n * LICENSE_FEE, LICENSE_FEE);
      expect(await models.hasLicense(2n, provider)).to.equal(false);
      await expectBalances(usdc, [[provider, FUNDS], [modelOwner, FUNDS]]);
      // At or below the maximum it goes through, charging the current fee only.
      await models.connect(modelOwner).setTerms(2n, 250, LICENSE_FEE - 1n);
      await expect(models.connect(provider).takeLicense(2n, provider, LICENSE_FEE))
        .to.emit(models, "LicenseTaken")
        .withArgs(2n, provider, provider, usdc, LICENSE_FEE - 1n);
      await expectBalances(usdc, [[provider, FUNDS - LICENSE_FEE + 1n], [modelOwner, FUNDS + LICENSE_FEE - 1n]]);
    });

    it("refuses a second license, an unpaid fee and an unknown model", async () => {
      const { models, usdc, provider } = await loadFixture(modelsFixture);
      await models.connect(provider).takeLicense(1n, provider, MAX_UINT96);
      await expect(models.connect(provider).takeLicense(1n, provider, MAX_UINT96))
        .to.be.revertedWithCustomError(models, "AlreadyLicensed")
        .withArgs(1n, provider);
      await usdc.connect(provider).approve(models, LICENSE_FEE - 1n);
      await expect(models.connect(provider).takeLicense(2n, provider, MAX_UINT96))
        .to.be.revertedWithCustomError(usdc, "ERC20InsufficientAllowance")
        .withArgs(models, LICENSE_FEE - 1n, LICENSE_FEE);
      expect(await models.hasLicense(2n, provider)).to.equal(false);
      await expect(models.connect(provider).takeLicense(3n, provider, MAX_UINT96)).to.be.revertedWithCustomError(models, "ModelNotFound").withArgs(3n);
    });
  });

  describe("setTolerance", () => {
    const Kind = { Exact: 0, Absolute: 1, Relative: 2 } as const;
    const MAX_UINT64 = (1n << 64n) - 1n;

    it("starts as exact bytes, is set by the owner with an event, and is per version", async () => {
      const { models, modelOwner } = await loadFixture(modelsFixture);
      expect(await models.TOLERANCE_SCALE()).to.equal(1_000_000_000n);
      expect(await models.toleranceOf(1n)).to.deep.equal([0n, 0n]);
      await expect(models.connect(modelOwner).setTolerance(1n, { kind: Kind.Relative, bound: 100_000n }))
        .to.emit(models, "ToleranceSet")
        .withArgs(1n, Kind.Relative, 100_000n);
      expect(await models.toleranceOf(1n)).to.deep.equal([BigInt(Kind.Relative), 100_000n]);
      // Model 2 is untouched; a new version of model 1 declares its own.
      expect(await models.toleranceOf(2n)).to.deep.equal([0n, 0n]);
      await models.connect(modelOwner).publishVersion(1n, modelParams({ contentHash: HASH_V2 }));
      expect(await models.toleranceOf(3n)).to.deep.equal([0n, 0n]);
      // Back to exact, then the largest absolute bound; a deprecated version may still declare one.
      await expect(models.connect(modelOwner).setTolerance(1n, { kind: Kind.Exact, bound: 0n })).to.emit(models, "ToleranceSet").withArgs(1n, Kind.Exact, 0n);
      expect(await models.toleranceOf(1n)).to.deep.equal([0n, 0n]);
      await models.connect(modelOwner).deprecate(2n);
      await expect(models.connect(modelOwner).setTolerance(2n, { kind: Kind.Absolute, bound: MAX_UINT64 }))
        .to.emit(models, "ToleranceSet")
        .withArgs(2n, Kind.Absolute, MAX_UINT64);
      expect(await models.toleranceOf(2n)).to.deep.equal([BigInt(Kind.Absolute), MAX_UINT64]);
    });

    it("follows the model's owner", async () => {
      const { models, modelOwner, other } = await loadFixture(modelsFixture);
      await models.connect(modelOwner).transferModelOwnership(1n, other);
      await expect(models.connect(modelOwner).setTolerance(1n, { kind: Kind.Absolute, bound: 1n }))
        .to.be.revertedWithCustomError(models, "NotModelOwner")
        .withArgs(1n, modelOwner);
      await expect(models.connect(other).setTolerance(1n, { kind: Kind.Absolute, bound: 1n })).to.emit(models, "ToleranceSet").withArgs(1n, Kind.Absolute, 1n);
    });

    it("refuses an inconsistent bound, a stranger and an unknown model, changing nothing", async () => {
      const { models, modelOwner, other } = await loadFixture(modelsFixture);
      await models.connect(modelOwner).setTolerance(1n, { kind: Kind.Relative, bound: 5n });
      await expect(models.connect(modelOwner).setTolerance(1n, { kind: Kind.Exact, bound: 1n }))
        .to.be.revertedWithCustomError(models, "InvalidTolerance")
        .withArgs(Kind.Exact, 1n);
      await expect(models.connect(modelOwner).setTolerance(1n, { kind: Kind.Absolute, bound: 0n }))
        .to.be.revertedWithCustomError(models, "InvalidTolerance")
        .withArgs(Kind.Absolute, 0n);
      await expect(models.connect(modelOwner).setTolerance(1n, { kind: Kind.Relative, bound: 0n }))
        .to.be.revertedWithCustomError(models, "InvalidTolerance")
        .withArgs(Kind.Relative, 0n);
      await expect(models.connect(other).setTolerance(1n, { kind: Kind.Absolute, bound: 1n }))
        .to.be.revertedWithCustomError(models, "NotModelOwner")
        .withArgs(1n, other);
      await expect(models.connect(modelOwner).setTolerance(3n, { kind: Kind.Absolute, bound: 1n }))
        .to.be.revertedWithCustomError(models, "ModelNotFound")
        .withArgs(3n);
      // A kind outside the enum does not decode.
      await expect(models.connect(modelOwner).setTolerance(1n, { kind: 3, bound: 1n })).to.revert(ethers);
      expect(await models.toleranceOf(1n)).to.deep.equal([BigInt(Kind.Relative), 5n]);
      await expect(models.toleranceOf(3n)).to.be.revertedWithCustomError(models, "ModelNotFound").withArgs(3n);
    });
  });

  describe("views", () => {
    it("refuse unknown ids", async () => {
      const { models } = await loadFixture(modelsFixture);
      await expect(models.getModel(3n)).to.be.revertedWithCustomError(models, "ModelNotFound").withArgs(3n);
      await expect(models.channelTerms(3n)).to.be.revertedWithCustomError(models, "ModelNotFound").withArgs(3n);
      await expect(models.successorOf(0n)).to.be.revertedWithCustomError(models, "ModelNotFound").withArgs(0n);
      expect(await models.hasLicense(3n, ZeroAddress)).to.equal(false);
    });
  });
});
