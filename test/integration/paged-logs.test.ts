// protocol/paged-logs.ts against a provider that caps eth_getLogs at 1,000 blocks and fails every fourth call: a
// scan over a chain padded to thousands of blocks returns exactly the logs an uncapped node returns, in order, and
// says how far it got; an unpaged scan through the same proxy is refused (the cap is real).
import { expect } from "chai";
import { createPublicClient, http, toHex, type PublicClient } from "viem";
import { testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { getContractEventsPaged, rangeRefusal, scanPaged, type ScanProgress } from "../../protocol/paged-logs.ts";
import { rpc } from "../../scripts/lib/chain.ts";
import { clientsFor, startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { startRpcProxy, type RpcProxy } from "../../scripts/lib/rpc-proxy.ts";

describe("paged eth_getLogs scans (protocol/paged-logs.ts)", function () {
  this.timeout(180_000);
  let net: Localnet;
  let proxy: RpcProxy;
  let direct: PublicClient;
  let capped: PublicClient;

  before(async () => {
    net = await startLocalnet();
    direct = clientsFor(net, 0).publicClient as PublicClient;
    proxy = await startRpcProxy(net.chain.url, { maxLogRange: 1_000 });
    capped = createPublicClient({ chain: net.viemChain, transport: http(proxy.url, { retryCount: 0 }) }) as PublicClient;
    const { walletClient, account } = clientsFor(net, 3);
    const faucet = async (amount: bigint) => {
      const hash = await walletClient.writeContract({ address: net.deployment.token, abi: testUsdcAbi, functionName: "faucet", args: [account.address, amount] });
      await direct.waitForTransactionReceipt({ hash });
    };
    // Events spread over ~4,000 blocks: before, between and after two long stretches of empty blocks.
    await faucet(1n);
    await faucet(2n);
    await rpc(net.chain.url, "hardhat_mine", [toHex(2_500)]);
    await faucet(3n);
    await rpc(net.chain.url, "hardhat_mine", [toHex(1_499)]);
    await faucet(4n);
  });
  after(async () => {
    await proxy?.stop();
    await net?.stop();
  });

  const transfers = { address: () => net.deployment.token, abi: testUsdcAbi, eventName: "Transfer" as const };

  it("an unpaged scan through the capped provider is refused", async () => {
    let error: unknown;
    try {
      await capped.getContractEvents({ address: transfers.address(), abi: testUsdcAbi, eventName: "Transfer", fromBlock: 0n, toBlock: "latest" });
    } catch (e) {
      error = e;
    }
    expect(rangeRefusal(error).refused, String(error)).to.equal(true);
  });

  it("returns exactly the uncapped node's logs, in order, through the cap and transient failures, with progress", async () => {
    const truth = await direct.getContractEvents({ address: transfers.address(), abi: testUsdcAbi, eventName: "Transfer", fromBlock: 0n, toBlock: "latest" });
    const head = await direct.getBlockNumber();
    expect(head).to.be.greaterThan(4_000n);
    proxy.faults.failEvery = 4;
    const refusedBefore = { ...proxy.refused };
    const progress: ScanProgress[] = [];
    const logs = await getContractEventsPaged(
      capped,
      { address: transfers.address(), abi: testUsdcAbi, eventName: "Transfer" },
      { fromBlock: 0n, maxRange: 5_000, backoffMs: 10, onProgress: (p) => progress.push(p) },
    );
    proxy.faults.failEvery = undefined;
    const key = (l: { transactionHash: string; logIndex: number }) => `${l.transactionHash}#${l.logIndex}`;
    expect(logs.map(key)).to.deep.equal(truth.map(key));
    expect(logs.map((l) => l.args.value)).to.deep.equal(truth.map((l) => l.args.value));
    // The provider's cap was learnt from its message (1,000), not halved down to something smaller.
    expect(proxy.refused.range - refusedBefore.range).to.be.at.least(1);
    expect(proxy.refused.transient - refusedBefore.transient).to.be.at.least(1);
    expect(progress.at(-1)!.range).to.equal(1_000n);
    expect(progress.at(-1)!.scannedTo).to.equal(head);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.scannedTo).to.be.greaterThan(progress[i - 1]!.scannedTo);
    expect(progress.at(-1)!.found).to.equal(truth.length);
  });

  it("a span of one block refused, or a range failing more than `retries` times, throws naming the blocks", async () => {
    proxy.faults.failEvery = 1;
    let error: Error | undefined;
    try {
      await getContractEventsPaged(capped, { address: transfers.address(), abi: testUsdcAbi, eventName: "Transfer" }, { fromBlock: 10n, toBlock: 900n, retries: 2, backoffMs: 5 });
    } catch (e) {
      error = e as Error;
    } finally {
      proxy.faults.failEvery = undefined;
    }
    expect(error?.message).to.match(/^eth_getLogs for blocks 10\.\.900 failed 3 times/);
    const refusedAlways = scanPaged(
      async () => 5n,
      async () => {
        throw new Error("block range is too wide");
      },
      { fromBlock: 0n, toBlock: 5n, retries: 0 },
    );
    let e2: Error | undefined;
    await refusedAlways.catch((e: Error) => (e2 = e));
    expect(e2?.message).to.match(/^eth_getLogs for blocks 0\.\.0 failed 1 times: block range is too wide/);
  });

  it("recognises providers' range refusals and the span they name", () => {
    expect(rangeRefusal(new Error("eth_getLogs range of 4001 blocks is too large. Max range: 1000"))).to.deep.equal({ refused: true, suggested: 1000n });
    expect(rangeRefusal(new Error("requested too many blocks from 0 to 5000, maximum is set to 2048"))).to.deep.equal({ refused: true, suggested: 2048n });
    expect(rangeRefusal(new Error("Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range"))).to.deep.include({ refused: true });
    expect(rangeRefusal(new Error("query returned more than 10000 results"))).to.deep.include({ refused: true });
    expect(rangeRefusal(new Error("eth_getLogs is limited to a 10,000 range"))).to.deep.equal({ refused: true, suggested: 10000n });
    expect(rangeRefusal(new Error("execution reverted"))).to.deep.equal({ refused: false });
    expect(rangeRefusal(new Error("fetch failed: ECONNREFUSED"))).to.deep.equal({ refused: false });
  });
});
