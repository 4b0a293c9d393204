// The README's "Deploy to another network" section, run line by line as a person would: a second local node with
// chain id 84532 stands in for Base Sepolia, with "its" USDC deployed there first (a 6-decimal ERC-20 without
// permit, not TestUSDC). Ignition deploys with that token as a parameter, codegen adds the deployment, and the
// worker, buyer CLI and dashboard configuration find it by its id alone. The test fails when a README line fails,
// when the section's variables change without the test, or when money does not move as the lines say.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { createPublicClient, createWalletClient, decodeEventLog, erc20Abi, http, type Abi, type Address, type Chain, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { modelRegistryAbi, paymentChannelsAbi } from "../../protocol/generated/contracts.ts";
import { encodeWav16 } from "../../protocol/node/inputs.ts";
import { freePort, startChain, stopProcess, waitFor, type RunningChain } from "../../scripts/lib/chain.ts";
import { forgetDeployment } from "../../scripts/lib/deploy.ts";
import { TEST_KEYS } from "../../scripts/lib/localnet.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { sha256OfFile, SILERO_VAD_V5 } from "../../scripts/lib/worker-fixture.ts";

const CHAIN_ID = 84532;
const USDC = 1_000_000n; // one token of a 6-decimal token

/** The first ```bash block after the section heading, one command per line (comments kept: they mark the steps). */
function readmeSteps(): string[] {
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const section = readme.indexOf("### Deploy to another network");
  expect(section, "README has a 'Deploy to another network' section").to.be.greaterThan(-1);
  const start = readme.indexOf("```bash\n", section) + "```bash\n".length;
  const end = readme.indexOf("\n```", start);
  return readme
    .slice(start, end)
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

function sh(line: string, env: NodeJS.ProcessEnv): { code: number | null; out: string } {
  const r = spawnSync("bash", ["-euo", "pipefail", "-c", line], { cwd: ROOT, env, encoding: "utf8", timeout: 300_000 });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

describe("another network by configuration only (README, step by step)", function () {
  this.timeout(600_000);
  let chain: RunningChain;
  let dir: string;
  let worker: ChildProcess | undefined;
  const network = `test-${CHAIN_ID}-${process.pid}`;
  const deployer = privateKeyToAccount(TEST_KEYS[9]!);
  const modelOwner = privateKeyToAccount(TEST_KEYS[1]!);
  const owner = privateKeyToAccount(TEST_KEYS[2]!);
  const buyer = privateKeyToAccount(TEST_KEYS[3]!);

  before(async () => {
    chain = await startChain({ port: await freePort(), chainId: CHAIN_ID });
    dir = mkdtempSync(path.join(tmpdir(), "edgepay-network-"));
  });
  after(async () => {
    if (worker) await stopProcess(worker);
    await chain?.stop();
    await forgetDeployment(network);
    // Put the generated module back as it was (without this test's deployment).
    spawnSync(process.execPath, ["scripts/codegen.ts"], { cwd: ROOT, stdio: "ignore" });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("deploys with the network's token, then a device serves and a buyer pays there", async () => {
    const viemChain = { id: CHAIN_ID, name: "stand-in for Base Sepolia", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [chain.url] } } } as Chain;
    const publicClient = createPublicClient({ chain: viemChain, transport: http(chain.url) });
    const wallet = (account: typeof deployer) => createWalletClient({ account, chain: viemChain, transport: http(chain.url) });
    expect(await publicClient.getChainId()).to.equal(CHAIN_ID);

    // "The network's existing token": deployed before Edgepay, by someone else, without permit.
    const plain = JSON.parse(readFileSync(path.join(ROOT, "artifacts/contracts/test/PlainERC20.sol/PlainERC20.json"), "utf8")) as { abi: Abi; bytecode: Hex };
    const tokenTx = await wallet(deployer).deployContract({ abi: plain.abi, bytecode: plain.bytecode, args: ["USD Coin", "USDC"] });
    const token = (await publicClient.waitForTransactionReceipt({ hash: tokenTx })).contractAddress as Address;
    for (const who of [owner, buyer]) {
      const hash = await wallet(deployer).writeContract({ address: token, abi: plain.abi, functionName: "faucet", args: [who.address, 100n * USDC] });
      await publicClient.waitForTransactionReceipt({ hash });
    }
    copyFileSync(SILERO_VAD_V5, path.join(dir, "model.onnx"));
    const tone = new Int16Array(8000).map((_, i) => Math.round(9000 * Math.sin((2 * Math.PI * 180 * i) / 16000)));
    writeFileSync(path.join(dir, "speech.wav"), encodeWav16(tone, 16_000));

    const devicePort = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${path.join(ROOT, "node_modules/.bin")}:${process.env.PATH}`,
      HARDHAT_DISABLE_TELEMETRY: "true",
      // No terminal here to answer Ignition's "Confirm deploy to network remote (84532)?".
      HARDHAT_IGNITION_CONFIRM_DEPLOYMENT: "yes",
      EDGEPAY_RPC_URL: chain.url,
      EDGEPAY_DEPLOYER_KEY: TEST_KEYS[9],
      NETWORK: network,
      TOKEN: token,
      DIR: dir,
      DEVICE_PORT: String(devicePort),
      OWNER: owner.address,
      OWNER_KEY: TEST_KEYS[2],
      BUYER_KEY: TEST_KEYS[3],
    };

    const steps = readmeSteps();
    const [exportLine, ...rest] = steps;
    // The section's first line exports exactly the variables this test supplies (values differ: a real network).
    expect(exportLine).to.match(/^export /);
    const exported = exportLine!.slice("export ".length).split(/\s+/).map((kv) => kv.split("=")[0]);
    expect(exported).to.deep.equal(["EDGEPAY_RPC_URL", "EDGEPAY_DEPLOYER_KEY", "NETWORK", "TOKEN", "DIR", "DEVICE_PORT"]);

    const seen = { deployed: false, published: false, served: false, paid: false, dashboard: false };
    const balanceBefore = await publicClient.readContract({ address: token, abi: erc20Abi, functionName: "balanceOf", args: [buyer.address] });
    let paymentChannels: Address | undefined;
    let buyerOut = "";

    for (const line of rest) {
      if (line.startsWith("#")) {
        if (/model owner publishes/.test(line)) {
          // The Model owner page's transaction, made here with viem.
          paymentChannels = generatedDeployment(network).paymentChannels;
          const modelRegistry = generatedDeployment(network).modelRegistry;
          const hash = await wallet(modelOwner).writeContract({
            address: modelRegistry,
            abi: modelRegistryAbi,
            functionName: "publish",
            args: [{ name: "Silero VAD v5", contentHash: sha256OfFile(SILERO_VAD_V5), uri: "npm:@ricky0123/vad-web", royaltyBps: 500, licenseToken: token, licenseFee: 0n }],
          });
          const receipt = await publicClient.waitForTransactionReceipt({ hash });
          for (const log of receipt.logs) {
            const ev = decodeEventLog({ abi: modelRegistryAbi, data: log.data, topics: log.topics });
            if (ev.eventName === "ModelPublished") env.MODEL_ID = ev.args.modelId.toString();
          }
          expect(env.MODEL_ID, "ModelPublished").to.be.a("string");
          seen.published = true;
        }
        continue;
      }
      if (line.endsWith("&")) {
        // `serve` in the background: started, then ready when the offerings answer.
        expect(line).to.match(/worker\/cli\.ts serve/);
        const child = spawn("bash", ["-c", `exec ${line.slice(0, -1)}`], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
        worker = child;
        let log = "";
        child.stdout!.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
        child.stderr!.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
        let exited: string | undefined;
        child.once("exit", (code) => (exited = `worker exited (${code}): ${log}`));
        await waitFor("worker on the other network", async () => (await fetch(`http://127.0.0.1:${devicePort}/v1/offerings`)).ok, 90_000, () => exited);
        const offerings = (await (await fetch(`http://127.0.0.1:${devicePort}/v1/offerings`)).json()) as { chainId?: number; offerings?: { modelId: string }[] };
        expect(JSON.stringify(offerings)).to.contain(env.MODEL_ID!);
        seen.served = true;
        continue;
      }
      if (/next start web/.test(line)) {
        // The dashboard's route handler builds its config from exactly this environment; a running `next start` needs
        // a production build, which this stage of the test run does not have yet (the browser suite has its own).
        const assignments = Object.fromEntries([...line.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!.replace("$NETWORK", network)]));
        const probe = spawnSync(process.execPath, ["--input-type=module", "-e", `import { readServerConfig } from "./web/lib/server-config.ts"; console.log(JSON.stringify(readServerConfig()));`], {
          cwd: ROOT,
          env: { ...env, ...assignments },
          encoding: "utf8",
        });
        expect(probe.status, probe.stderr).to.equal(0);
        const config = JSON.parse(probe.stdout) as { chainId: number; rpcUrl: string; contracts: Record<string, string> };
        expect(config.chainId).to.equal(CHAIN_ID);
        expect(config.rpcUrl).to.equal(chain.url);
        expect(config.contracts.token!.toLowerCase()).to.equal(token.toLowerCase());
        expect(config.contracts.paymentChannels).to.equal(paymentChannels);
        seen.dashboard = true;
        continue;
      }
      const r = sh(line, env);
      expect(r.code, `README line failed: ${line}\n${r.out.slice(-3000)}`).to.equal(0);
      if (/ignition deploy/.test(line)) seen.deployed = true;
      if (/npm run buyer -- infer/.test(line)) {
        buyerOut = r.out;
        seen.paid = true;
      }
    }
    expect(seen).to.deep.equal({ deployed: true, published: true, served: true, paid: true, dashboard: true });

    // codegen recorded the deployment with the chain id and the network's token, read from Ignition's journal.
    const d = generatedDeployment(network);
    expect(d.chainId).to.equal(CHAIN_ID);
    expect(d.token?.toLowerCase()).to.equal(token.toLowerCase());

    // Money: the buyer's `--deposit 1` of the network's token went into a channel of this deployment, to this device.
    expect(buyerOut).to.match(/paid \d+ token units for \d+ answer\(s\)/);
    const balanceAfter = await publicClient.readContract({ address: token, abi: erc20Abi, functionName: "balanceOf", args: [buyer.address] });
    expect(balanceBefore - balanceAfter).to.equal(USDC);
    expect(await publicClient.readContract({ address: token, abi: erc20Abi, functionName: "balanceOf", args: [paymentChannels!] })).to.equal(USDC);
    const opened = await publicClient.getContractEvents({ address: paymentChannels!, abi: paymentChannelsAbi, eventName: "ChannelOpened", fromBlock: 0n });
    expect(opened).to.have.length(1);
    expect(opened[0]!.args.payer).to.equal(buyer.address);
    expect(opened[0]!.args.terms!.token.toLowerCase()).to.equal(token.toLowerCase());
    expect(existsSync(path.join(dir, "device"))).to.equal(true);
  });
});

/** Reads the generated module's text (this process imported it before the codegen the README runs). */
function generatedDeployment(id: string): { chainId: number; token?: string; modelRegistry: Address; paymentChannels: Address } {
  const text = readFileSync(path.join(ROOT, "protocol/generated/contracts.ts"), "utf8");
  const start = text.indexOf("export const deployments");
  const json = text.slice(text.indexOf("= [", start) + 2, text.lastIndexOf("]") + 1);
  const found = (JSON.parse(json) as { deploymentId: string; chainId: number; token?: string; modelRegistry: Address; paymentChannels: Address }[]).find((x) => x.deploymentId === id);
  if (!found) throw new Error(`deployment ${id} is not in protocol/generated/contracts.ts`);
  return found;
}
