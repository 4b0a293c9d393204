// The scale rehearsal's small version (1/50 of `npm run scale`): seeding through the real contracts produces exactly
// the devices, models, channels and claims it was asked for on a padded chain, and the dashboard's page reads
// (web/lib/chain-reads.ts) find all of them. The full rehearsal is a script; its figures are in the README.
import { expect } from "chai";
import { createPublicClient, http, type PublicClient } from "viem";
import { deviceRegistryAbi, modelRegistryAbi, paymentChannelsAbi } from "../../protocol/generated/contracts.ts";
import { startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { BulkRpc } from "../../scripts/lib/scale-rpc.ts";
import { scaledTargets, seedMarket, type SeedResult } from "../../scripts/lib/scale-seed.ts";
import { measureScans } from "../../scripts/lib/scale-measure.ts";

describe("scale rehearsal, small: seeding and today's page reads", function () {
  this.timeout(600_000);
  const targets = scaledTargets(0.02);
  let net: Localnet;
  let seeded: SeedResult;
  let client: PublicClient;

  before(async () => {
    net = await startLocalnet({ challengePeriod: 86_400n });
    const d = net.deployment;
    seeded = await seedMarket(new BulkRpc(net.chain.url), { chainId: d.chainId, token: d.token, modelRegistry: d.modelRegistry, deviceRegistry: d.deviceRegistry, paymentChannels: d.paymentChannels }, targets, () => {});
    client = createPublicClient({ transport: http(net.chain.url) }) as PublicClient;
  });
  after(async () => net?.stop());

  it("puts exactly the asked-for market on a chain of the asked-for length", async () => {
    const d = net.deployment;
    expect(await client.getBlockNumber()).to.be.gte(BigInt(targets.blocks));
    const count = async (address: `0x${string}`, abi: typeof modelRegistryAbi | typeof deviceRegistryAbi | typeof paymentChannelsAbi, eventName: string) =>
      (await client.getContractEvents({ address, abi, eventName: eventName as never, fromBlock: 0n })).length;
    expect(await count(d.modelRegistry, modelRegistryAbi, "ModelPublished")).to.equal(targets.models);
    expect(await count(d.deviceRegistry, deviceRegistryAbi, "DeviceRegistered")).to.equal(targets.devices);
    expect(await count(d.paymentChannels, paymentChannelsAbi, "ChannelOpened")).to.equal(targets.channels);
    expect(await count(d.paymentChannels, paymentChannelsAbi, "Claimed")).to.equal(targets.claims);
    // Events are spread over the chain, not packed at its start.
    const published = await client.getContractEvents({ address: d.modelRegistry, abi: modelRegistryAbi, eventName: "ModelPublished", fromBlock: 0n });
    const claimed = await client.getContractEvents({ address: d.paymentChannels, abi: paymentChannelsAbi, eventName: "Claimed", fromBlock: 0n });
    expect(Number(claimed.at(-1)!.blockNumber - published[0]!.blockNumber)).to.be.greaterThan(targets.blocks / 2);
  });

  it("the dashboard's reads find every row the chain holds for the busy buyer and provider", async () => {
    const d = net.deployment;
    const config = { chainId: d.chainId, rpcUrl: net.chain.url, deploymentId: "scale-test", contracts: { ...d }, fromBlock: "0", workers: [] };
    const reads = await measureScans(config, seeded);
    const byPage = Object.fromEntries(reads.map((r) => [r.page, r]));
    expect(byPage.Market!.rows).to.equal(targets.models + targets.devices);
    const buyerChannels = await client.getContractEvents({ address: d.paymentChannels, abi: paymentChannelsAbi, eventName: "ChannelOpened", args: { payer: seeded.busyBuyer }, fromBlock: 0n });
    expect(byPage.Buy!.rows).to.equal(buyerChannels.length).and.to.be.greaterThan(0);
    const providerClaims = await client.getContractEvents({ address: d.paymentChannels, abi: paymentChannelsAbi, eventName: "Claimed", args: { payee: seeded.busyProvider }, fromBlock: 0n });
    expect(byPage.Provider!.rows).to.equal(providerClaims.length).and.to.be.greaterThan(0);
    // One view per channel row: the request count grows with the list, which is what the index removes.
    expect(byPage.Buy!.rpcRequests).to.be.greaterThan(buyerChannels.length);
  });
});
