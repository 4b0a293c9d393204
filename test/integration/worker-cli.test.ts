// The worker CLI as a headless device owner uses it: `init` makes an owner-only encrypted keystore and prints the
// device address and the owner's binding signature (never the key), `register` puts the device on-chain, `serve`
// serves. Bad configs and a model file that does not match its registry hash fail with errors that say what is wrong.
// `init --owner` checks the chain before it creates a key, and a re-run reuses the key.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { decodeEventLog, recoverTypedDataAddress, type Address, type Hex } from "viem";
import { deviceBindingTypes, deviceRegistryDomain } from "../../protocol/eip712.ts";
import { deviceRegistryAbi, modelRegistryAbi } from "../../protocol/generated/contracts.ts";
import { freePort } from "../../scripts/lib/chain.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { keystorePath, unlockKeystore } from "../../worker/keystore.ts";
import { PPOCR_DIRECTION_CLS, SILERO_VAD_V5 } from "../../worker/models/demo.ts";
import { clientsFor, startLocalnet, TEST_KEYS, type Localnet } from "../../scripts/lib/localnet.ts";
import { sha256OfFile, spawnWorker, vadInputs } from "../../scripts/lib/worker-fixture.ts";

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, "worker/cli.ts"), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

function field(output: string, name: string): string {
  const m = new RegExp(`^${name}: (.+)$`, "m").exec(output);
  if (!m) throw new Error(`no "${name}:" line in:\n${output}`);
  return m[1]!.trim();
}

describe("worker: CLI", function () {
  this.timeout(240_000);
  let net: Localnet;
  let root: string;
  let modelId: bigint;
  const ownerKey = TEST_KEYS[2];

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    root = mkdtempSync(path.join(tmpdir(), "edgepay-cli-"));
    const owner = clientsFor(net, 1);
    const hash = await owner.walletClient.writeContract({
      address: net.deployment.modelRegistry,
      abi: modelRegistryAbi,
      functionName: "publish",
      args: [{ name: "Silero VAD v5", contentHash: sha256OfFile(SILERO_VAD_V5), uri: "npm:@ricky0123/vad-web", royaltyBps: 500, licenseToken: net.deployment.token, licenseFee: 0n }],
    });
    const receipt = await owner.publicClient.waitForTransactionReceipt({ hash });
    for (const log of receipt.logs) {
      const ev = decodeEventLog({ abi: modelRegistryAbi, data: log.data, topics: log.topics });
      if (ev.eventName === "ModelPublished") modelId = ev.args.modelId;
    }
    const provider = clientsFor(net, 2);
    const { testUsdcAbi } = await import("../../protocol/generated/contracts.ts");
    await provider.publicClient.waitForTransactionReceipt({
      hash: await provider.walletClient.writeContract({ address: net.deployment.token, abi: testUsdcAbi, functionName: "faucet", args: [provider.account.address, 100_000_000n] }),
    });
  });
  after(async () => {
    rmSync(root, { recursive: true, force: true });
    await net?.stop();
  });

  function writeConfig(name: string, extra: Record<string, unknown> = {}): string {
    const file = path.join(root, name);
    writeFileSync(
      file,
      JSON.stringify({
        dataDir: "./device",
        rpcUrl: net.chain.url,
        contracts: {
          paymentChannels: net.deployment.paymentChannels,
          deviceRegistry: net.deployment.deviceRegistry,
          modelRegistry: net.deployment.modelRegistry,
          token: net.deployment.token,
        },
        models: [{ modelId: modelId.toString(), file: "demo:silero-vad", price: "2500" }],
        settlement: { pollIntervalMs: 200 },
        logLevel: "error",
        ...extra,
      }),
    );
    return file;
  }

  it("init writes an owner-only encrypted keystore, prints the address and the owner's binding, never the key", async () => {
    const config = writeConfig("worker.json");
    const owner = clientsFor(net, 2).account.address;
    const out = await cli(["init", "--config", config, "--owner", owner]);
    expect(out.code, out.stderr).to.equal(0);
    const dataDir = path.join(root, "device");
    const device = field(out.stdout, "device") as Address;
    const file = keystorePath(dataDir);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(statSync(path.join(dataDir, "device-key.passphrase")).mode & 0o777).to.equal(0o600);
    const { privateKey } = unlockKeystore(dataDir);
    expect(out.stdout + out.stderr).to.not.include(privateKey.slice(2));
    expect(readFileSync(file, "utf8")).to.not.include(privateKey.slice(2));
    const deadline = BigInt(field(out.stdout, "deadline"));
    const signer = await recoverTypedDataAddress({
      domain: deviceRegistryDomain(31337, net.deployment.deviceRegistry),
      types: deviceBindingTypes,
      primaryType: "DeviceBinding",
      message: { device, owner, deadline },
      signature: field(out.stdout, "bindingSignature") as Hex,
    });
    expect(signer).to.equal(device);

    // A re-run keeps the key and prints it again (instead of refusing).
    const again = await cli(["init", "--config", config]);
    expect(again.code, again.stderr).to.equal(0);
    expect(field(again.stdout, "device")).to.equal(device);
    expect(field(again.stdout, "key")).to.match(/^existing/);
    expect(unlockKeystore(dataDir).privateKey, "the same key").to.equal(privateKey);
  });

  it("init --owner checks the chain before creating a key: without an RPC URL, an unreachable chain or no registry it creates nothing and says what to do", async () => {
    const owner = clientsFor(net, 2).account.address;
    const dataDir = path.join(root, "onboarding");
    const keyFile = keystorePath(dataDir);
    const noChain = { EDGEPAY_RPC_URL: "", EDGEPAY_CONFIG: "", EDGEPAY_DEVICE_REGISTRY: "" };

    const noRpc = await cli(["init", "--data-dir", dataDir, "--owner", owner], noChain);
    expect(noRpc.code).to.equal(2);
    expect(existsSync(keyFile), "no key after a failed init").to.equal(false);
    expect(existsSync(path.join(dataDir, "device-key.passphrase")), "no passphrase file either").to.equal(false);
    expect(noRpc.stderr).to.match(/EDGEPAY_RPC_URL=/);
    expect(noRpc.stderr).to.match(/nothing was created/);

    const down = `http://127.0.0.1:${await freePort()}`;
    const unreachable = await cli(["init", "--data-dir", dataDir, "--owner", owner], { ...noChain, EDGEPAY_RPC_URL: down });
    expect(unreachable.code).to.equal(2);
    expect(unreachable.stderr).to.include(`cannot reach the chain at ${down}`);
    expect(existsSync(keyFile)).to.equal(false);

    // An address without a contract (e.g. a registry of another chain).
    const noContract = await cli(["init", "--data-dir", dataDir, "--owner", owner], { ...noChain, EDGEPAY_RPC_URL: net.chain.url, EDGEPAY_DEVICE_REGISTRY: owner });
    expect(noContract.code).to.equal(2);
    expect(noContract.stderr).to.include(`no contract at ${owner} on chain 31337`);
    expect(existsSync(keyFile)).to.equal(false);

    const badOwner = await cli(["init", "--data-dir", dataDir, "--owner", "0x1234"], { ...noChain, EDGEPAY_RPC_URL: net.chain.url });
    expect(badOwner.code).to.equal(2);
    expect(badOwner.stderr).to.match(/--owner must be the owner's address/);
    expect(existsSync(keyFile)).to.equal(false);

    // Fixed: the key is created and bound; running the same command again reuses it with a fresh binding.
    const env = { ...noChain, EDGEPAY_RPC_URL: net.chain.url, EDGEPAY_DEVICE_REGISTRY: net.deployment.deviceRegistry };
    const first = await cli(["init", "--data-dir", dataDir, "--owner", owner], env);
    expect(first.code, first.stderr).to.equal(0);
    expect(field(first.stdout, "key")).to.equal("created");
    const second = await cli(["init", "--data-dir", dataDir, "--owner", owner, "--deadline-seconds", "3600"], env);
    expect(second.code, second.stderr).to.equal(0);
    expect(field(second.stdout, "key")).to.match(/^existing/);
    const device = field(first.stdout, "device") as Address;
    expect(field(second.stdout, "device")).to.equal(device);
    for (const out of [first.stdout, second.stdout]) {
      const signer = await recoverTypedDataAddress({
        domain: deviceRegistryDomain(31337, net.deployment.deviceRegistry),
        types: deviceBindingTypes,
        primaryType: "DeviceBinding",
        message: { device, owner, deadline: BigInt(field(out, "deadline")) },
        signature: field(out, "bindingSignature") as Hex,
      });
      expect(signer).to.equal(device);
    }
    expect(BigInt(field(second.stdout, "deadline"))).to.be.lessThan(BigInt(field(first.stdout, "deadline")));
  });

  it("refuses to serve an unregistered device, naming the command to run", async () => {
    const out = await cli(["serve", "--config", path.join(root, "worker.json")]);
    expect(out.code).to.equal(1);
    expect(out.stderr).to.match(/is not registered .* run `worker\/cli.ts register`/);
  });

  it("register licenses the model, registers with stake, offers at the configured price and funds the device key", async () => {
    const out = await cli(["register", "--config", path.join(root, "worker.json"), "--endpoint", "http://127.0.0.1:9"], { EDGEPAY_OWNER_KEY: ownerKey });
    expect(out.code, out.stderr).to.equal(0);
    const device = field(out.stdout, "device") as Address;
    const { publicClient } = clientsFor(net, 0);
    const record = await publicClient.readContract({ address: net.deployment.deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [device] });
    expect(record.owner).to.equal(clientsFor(net, 2).account.address);
    expect(record.endpoint).to.equal("http://127.0.0.1:9");
    expect(record.stake).to.equal(10_000_000n);
    const price = await publicClient.readContract({ address: net.deployment.deviceRegistry, abi: deviceRegistryAbi, functionName: "offeringPrice", args: [device, modelId, net.deployment.token] });
    expect(price).to.equal(2500n);
    expect(await publicClient.getBalance({ address: device })).to.be.greaterThan(0n);
    // Idempotent: a second run changes nothing and says so.
    const again = await cli(["register", "--config", path.join(root, "worker.json"), "--endpoint", "http://127.0.0.1:9"], { EDGEPAY_OWNER_KEY: ownerKey });
    expect(again.code, again.stderr).to.equal(0);
    expect(field(again.stdout, "registered")).to.equal("already");
  });

  it("serve answers with the on-chain price, keeps a second worker off its data directory, and stops gracefully on SIGTERM", async () => {
    const proc = await spawnWorker(path.join(root, "worker.json"));
    const offerings = (await (await fetch(`${proc.url}/v1/offerings`)).json()) as { models: { price: string }[] };
    expect(offerings.models[0]!.price).to.equal("2500");
    const res = await fetch(`${proc.url}/v1/infer/${modelId}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ inputs: vadInputs() }) });
    expect(res.status).to.equal(402);
    // One worker per data directory.
    const second = await cli(["serve", "--config", path.join(root, "worker.json")]);
    expect(second.code).to.equal(1);
    expect(second.stderr).to.include(`in use by another worker (pid ${proc.child.pid})`);
    proc.child.kill("SIGTERM");
    expect(await proc.exited).to.equal(0);
  });

  it("refuses a model file whose sha256 differs from the registry, naming the model and both hashes", async () => {
    const config = writeConfig("wrong-file.json", { models: [{ modelId: modelId.toString(), file: PPOCR_DIRECTION_CLS }] });
    const out = await cli(["serve", "--config", config]);
    expect(out.code).to.equal(1);
    expect(out.stderr).to.include(`model ${modelId}`);
    expect(out.stderr).to.include(sha256OfFile(PPOCR_DIRECTION_CLS));
    expect(out.stderr).to.include(sha256OfFile(SILERO_VAD_V5));
  });

  it("names the bad field of an invalid config", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ rpcUrl: "not a url" }, /rpcUrl/],
      [{ port: 70000 }, /port/],
      [{ models: [] }, /models: at least one model/],
      [{ models: [{ modelId: "x", file: "demo:silero-vad" }] }, /models\.0\.modelId/],
      [{ settlement: { claimThreshold: "-5" } }, /settlement\.claimThreshold/],
      [{ contracts: { paymentChannels: "0x1234" } }, /contracts\.paymentChannels/],
      [{ models: [{ modelId: "1", file: "demo:nope" }] }, /unknown demo model "demo:nope"/],
    ];
    for (const [extra, pattern] of cases) {
      const out = await cli(["serve", "--config", writeConfig("bad.json", extra)]);
      expect(out.code, JSON.stringify(extra)).to.equal(2);
      expect(out.stderr, JSON.stringify(extra)).to.match(pattern);
    }
    const missing = await cli(["serve", "--config", path.join(root, "nope.json")]);
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.match(/cannot read config file/);
    const env = await cli(["serve", "--config", path.join(root, "worker.json")], { EDGEPAY_PORT: "eighty" });
    expect(env.code).to.equal(2);
    expect(env.stderr).to.match(/EDGEPAY_PORT=eighty: expected an integer/);
  });
});
