// Which tokens a worker offers x402 `exact` for, on a real chain: a token reporting its EIP-712 domain (ERC-5267) is
// offered under it; a token named in `exactTokens` (as Circle's USDC must be: it has no eip712Domain()) is offered
// only when the configured name and version hash to its DOMAIN_SEPARATOR(); a wrong name or version, or a token
// with neither, is not offered, and the reason names what to fix. The configuration schema refuses a bad entry.
import { expect } from "chai";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createPublicClient, http, type Abi, type Address, type Hex, type PublicClient } from "viem";
import { paymentChannelsAbi } from "../../protocol/generated/contracts.ts";
import { clientsFor, startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { resolveConfig } from "../../worker/config.ts";
import { loadExactOffers } from "../../worker/http/x402-exact.ts";

const DEVICE = "0x00000000000000000000000000000000000000d1" as Address;

describe("x402 exact: which tokens are offered, and under which EIP-712 domain", function () {
  this.timeout(120_000);
  let net: Localnet;
  let client: PublicClient;
  let plainToken: Address;

  before(async () => {
    net = await startLocalnet();
    client = createPublicClient({ transport: http(net.chain.url) }) as PublicClient;
    // A token with neither eip712Domain() nor DOMAIN_SEPARATOR() (no permit, no EIP-3009).
    const plain = JSON.parse(readFileSync(path.join(ROOT, "artifacts/contracts/test/PlainERC20.sol/PlainERC20.json"), "utf8")) as { abi: Abi; bytecode: Hex };
    const { walletClient, publicClient } = clientsFor(net, 9);
    const hash = await walletClient.deployContract({ abi: plain.abi, bytecode: plain.bytecode, args: ["Plain", "PLN"] });
    plainToken = (await publicClient.waitForTransactionReceipt({ hash })).contractAddress as Address;
  });
  after(async () => net?.stop());

  async function offersFor(token: Address, domains?: { token: Address; name: string; version: string }[]) {
    const skipped: string[] = [];
    const offers = await loadExactOffers(
      client,
      net.deployment.paymentChannels,
      DEVICE,
      new Map([["1", { token, runtime: { modelId: 1n } }]]),
      (_id, why) => skipped.push(why),
      { chainId: net.deployment.chainId, domains },
    );
    return { offer: offers.get("1"), skipped };
  }

  it("takes an ERC-5267 token's domain from the token, and pays into the offering's receiver", async () => {
    const { offer, skipped } = await offersFor(net.deployment.token);
    expect(skipped).to.deep.equal([]);
    expect(offer).to.include({ name: "Test USD Coin", version: "1" });
    const receiver = await client.readContract({ address: net.deployment.paymentChannels, abi: paymentChannelsAbi, functionName: "exactReceiver", args: [DEVICE, 1n, net.deployment.token] });
    expect(offer!.receiver).to.equal(receiver);
  });

  it("uses a configured domain only when it hashes to the token's DOMAIN_SEPARATOR()", async () => {
    const token = net.deployment.token;
    const right = await offersFor(token, [{ token, name: "Test USD Coin", version: "1" }]);
    expect(right.skipped).to.deep.equal([]);
    expect(right.offer).to.include({ name: "Test USD Coin", version: "1" });
    // One character off in either field: not offered (signatures under it would never verify on-chain).
    for (const wrong of [{ name: "Test USD Coin", version: "2" }, { name: "USD Coin", version: "1" }]) {
      const r = await offersFor(token, [{ token, ...wrong }]);
      expect(r.offer, JSON.stringify(wrong)).to.equal(undefined);
      expect(r.skipped[0]).to.match(/DOMAIN_SEPARATOR\(\) is another domain's: fix the name or version/);
    }
    // An entry for another token changes nothing for this one.
    const other = await offersFor(token, [{ token: plainToken, name: "x", version: "9" }]);
    expect(other.offer).to.include({ name: "Test USD Coin", version: "1" });
  });

  it("does not offer a token whose domain it cannot establish, and says what to configure", async () => {
    const bare = await offersFor(plainToken);
    expect(bare.offer).to.equal(undefined);
    expect(bare.skipped[0]).to.match(/no ERC-5267 eip712Domain\(\) \(name its domain in exactTokens\)/);
    const configured = await offersFor(plainToken, [{ token: plainToken, name: "Plain", version: "1" }]);
    expect(configured.offer).to.equal(undefined);
    expect(configured.skipped[0]).to.match(/has no DOMAIN_SEPARATOR\(\)/);
  });

  it("the worker configuration takes exactTokens entries and refuses bad ones naming the field", () => {
    const base = { dataDir: "/tmp/x", rpcUrl: "http://127.0.0.1:8545", models: [{ modelId: 1, file: "m.onnx" }], contracts: { paymentChannels: net.deployment.paymentChannels, deviceRegistry: net.deployment.deviceRegistry, modelRegistry: net.deployment.modelRegistry, token: net.deployment.token } };
    const ok = resolveConfig({ ...base, exactTokens: [{ token: net.deployment.token, name: "USD Coin", version: "2" }] }, "test", "/tmp");
    expect(ok.exactTokens).to.have.length(1);
    expect(resolveConfig(base, "test", "/tmp").exactTokens).to.deep.equal([]);
    expect(() => resolveConfig({ ...base, exactTokens: [{ token: "0x1234", name: "USD Coin", version: "2" }] }, "test", "/tmp")).to.throw(/exactTokens/);
    expect(() => resolveConfig({ ...base, exactTokens: [{ token: net.deployment.token, name: "", version: "2" }] }, "test", "/tmp")).to.throw(/exactTokens/);
  });
});
