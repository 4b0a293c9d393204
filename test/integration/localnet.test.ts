import { expect } from "chai";
import { testUsdcAbi, paymentChannelsAbi } from "../../protocol/generated/contracts.ts";
import { clientsFor, startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";

describe("localnet harness", function () {
  this.timeout(120_000);
  let net: Localnet;
  before(async () => {
    net = await startLocalnet({ challengePeriod: 120n });
  });
  after(async () => net?.stop());

  it("deploys the marketplace with Ignition and honours deploy parameters", async () => {
    const { publicClient } = clientsFor(net, 0);
    expect(await publicClient.getChainId()).to.equal(31337);
    expect(await publicClient.readContract({ address: net.deployment.token, abi: testUsdcAbi, functionName: "decimals" })).to.equal(6);
    expect(
      await publicClient.readContract({ address: net.deployment.paymentChannels, abi: paymentChannelsAbi, functionName: "challengePeriod" }),
    ).to.equal(120);
  });
});
