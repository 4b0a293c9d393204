// Equivocation end to end with a real worker: receipts from the running worker, false accusations refused with
// their custom error and no state change, then two receipts from the same device key for the same model and input
// with different outputs slash the device, pay the reporter and remove the device from the market.
// An honest worker never signs such a pair (CPU inference is deterministic): the second receipt is made in this
// test with the device's keystore key, SIMULATING A TAMPERING DEVICE.
import { expect } from "chai";
import { generatePrivateKey } from "viem/accounts";
import type { Address, Hex } from "viem";
import { deviceRegistryAbi, flightRecorderAbi, paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import type { SignedReceipt } from "../../protocol/receipt.ts";
import { clientsFor, startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { openChannel, setupMarket, vadInputs, type Market, type TestChannel } from "../../scripts/lib/worker-fixture.ts";
import { paidInfer } from "../helpers/recorder.ts";
import { flip, receiptArg, revertOf, signReceiptWith } from "../helpers/disputes.ts";

const REPORTER = 6;
const STATUS_ACTIVE = 1;
const STATUS_REMOVED = 4;

describe("flight recorder: equivocation (real worker)", function () {
  this.timeout(240_000);
  let net: Localnet;
  let market: Market;
  let channel: TestChannel;
  let a: SignedReceipt;
  let same: SignedReceipt;

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    market = await setupMarket(net);
    channel = await openChannel(market, { buyer: 3, deposit: 1_000_000n });
    // The same input twice: two genuine receipts with the same (deterministic) output.
    a = (await paidInfer(market, channel, 1000n, vadInputs(7))).receipt;
    same = (await paidInfer(market, channel, 2000n, vadInputs(7))).receipt;
  });
  after(async () => {
    await market?.stop();
    await net?.stop();
  });

  const reporter = () => clientsFor(net, REPORTER);
  const report = (x: SignedReceipt, y: SignedReceipt, device: Address = market.device.address) =>
    reporter().publicClient.simulateContract({
      account: reporter().account,
      address: market.contracts.flightRecorder,
      abi: flightRecorderAbi,
      functionName: "reportEquivocation",
      args: [device, receiptArg(x), x.signature, receiptArg(y), y.signature],
    });
  const deviceRecord = () =>
    reporter().publicClient.readContract({ address: market.contracts.deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [market.device.address] });
  const balance = (who: Address) =>
    reporter().publicClient.readContract({ address: market.token, abi: testUsdcAbi, functionName: "balanceOf", args: [who] });

  it("false accusations fail with their custom error and change nothing", async () => {
    const before = await deviceRecord();
    expect(same.inputHash).to.equal(a.inputHash);
    expect(same.sequence).to.equal(a.sequence + 1n);
    // Two genuine receipts, same input: same output.
    expect((await revertOf(report(a, same))).name).to.equal("IdenticalOutputs");
    // A different output "signed" by another key: a forgery.
    const forged = await signReceiptWith(generatePrivateKey(), { ...a, outputHash: flip(a.outputHash) }, market.chainId, market.contracts.paymentChannels);
    const forgedErr = await revertOf(report(a, forged));
    expect(forgedErr.name).to.equal("InvalidReceiptSignature");
    expect((forgedErr.args[0] as string).toLowerCase()).to.equal(market.device.address.toLowerCase());
    // The device's own key, but for another chain or another contract: not a receipt of this market.
    const otherChain = await signReceiptWith(market.device.privateKey, { ...a, outputHash: flip(a.outputHash) }, 1, market.contracts.paymentChannels);
    expect((await revertOf(report(a, otherChain))).name).to.equal("InvalidReceiptSignature");
    const otherContract = await signReceiptWith(market.device.privateKey, { ...a, outputHash: flip(a.outputHash) }, market.chainId, `0x${"42".repeat(20)}`);
    expect((await revertOf(report(a, otherContract))).name).to.equal("InvalidReceiptSignature");
    // A malformed signature.
    const malformed = { ...same, outputHash: flip(a.outputHash), signature: `0x${"ab".repeat(65)}` as Hex };
    expect((await revertOf(report(a, malformed))).name).to.equal("InvalidReceiptSignature");
    // Same device, different inputs or models: no equivocation.
    const otherInput = await signReceiptWith(market.device.privateKey, { ...a, inputHash: flip(a.inputHash), outputHash: flip(a.outputHash) }, market.chainId, market.contracts.paymentChannels);
    expect((await revertOf(report(a, otherInput))).name).to.equal("InputMismatch");
    const otherModel = await signReceiptWith(market.device.privateKey, { ...a, modelId: a.modelId + 1n, outputHash: flip(a.outputHash) }, market.chainId, market.contracts.paymentChannels);
    expect((await revertOf(report(a, otherModel))).name).to.equal("ModelMismatch");
    // Genuine receipts named under another device's address.
    expect((await revertOf(report(a, same, reporter().account.address))).name).to.equal("InvalidReceiptSignature");

    const after = await deviceRecord();
    expect(after.stake).to.equal(before.stake);
    expect(after.status).to.equal(STATUS_ACTIVE);
  });

  it("two outputs for one input from the device key slash the stake, pay the reporter and remove the device", async () => {
    // SIMULATED TAMPERING DEVICE: the device key signs a second, different output for receipt a's model and input.
    const tampered = await signReceiptWith(
      market.device.privateKey,
      { ...a, sequence: same.sequence + 1n, cumulativeAmount: 3000n, outputHash: flip(a.outputHash) },
      market.chainId,
      market.contracts.paymentChannels,
    );
    const { publicClient, walletClient, account } = reporter();
    const treasury = clientsFor(net, 0).account.address;
    const stake = (await deviceRecord()).stake;
    const [reporterBefore, treasuryBefore] = [await balance(account.address), await balance(treasury)];
    const { request } = await report(a, tampered);
    const hash = await walletClient.writeContract(request);
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    expect(receipt.status).to.equal("success");

    const reward = (stake * 2_000n) / 10_000n;
    expect((await balance(account.address)) - reporterBefore).to.equal(reward);
    expect((await balance(treasury)) - treasuryBefore).to.equal(stake - reward);
    const after = await deviceRecord();
    expect(after.stake).to.equal(0n);
    expect(after.status).to.equal(STATUS_REMOVED);
    const log = await publicClient.readContract({ address: market.contracts.flightRecorder, abi: flightRecorderAbi, functionName: "deviceLog", args: [market.device.address] });
    expect(log.convicted).to.equal(true);

    // Convicted once only; and no buyer can open a new channel to it.
    expect((await revertOf(report(a, tampered))).name).to.equal("AlreadyConvicted");
    const buyer = clientsFor(net, 4);
    const pay = async (h: Promise<Hex>) => expect((await buyer.publicClient.waitForTransactionReceipt({ hash: await h })).status).to.equal("success");
    await pay(buyer.walletClient.writeContract({ address: market.token, abi: testUsdcAbi, functionName: "faucet", args: [buyer.account.address, 10_000n] }));
    await pay(buyer.walletClient.writeContract({ address: market.token, abi: testUsdcAbi, functionName: "approve", args: [market.contracts.paymentChannels, 10_000n] }));
    const openErr = await revertOf(
      buyer.publicClient.simulateContract({
        account: buyer.account,
        address: market.contracts.paymentChannels,
        // The registry's error bubbles up through PaymentChannels.
        abi: [...paymentChannelsAbi, ...deviceRegistryAbi.filter((x) => x.type === "error")],
        functionName: "open",
        args: [{ ...channel.terms, payer: buyer.account.address, salt: 99n }, 10_000n],
      }),
    );
    expect(openErr.name).to.equal("InvalidDeviceStatus");
    expect(openErr.args[1]).to.equal(STATUS_REMOVED);
  });
});
