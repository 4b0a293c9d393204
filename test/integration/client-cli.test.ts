// The buyer CLI as a person uses it: open a channel, run paid inferences on a WAV and a PNG, list channels and
// receipts, close cooperatively; mistakes get one readable line, contract reverts their decoded custom error.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { PNG } from "pngjs";
import { ROOT } from "../../scripts/lib/paths.ts";
import { testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { clientsFor, startLocalnet, TEST_KEYS, type Localnet } from "../../scripts/lib/localnet.ts";
import { PPOCR_DIRECTION_CLS, setupMarket, SILERO_VAD_V5, type Market } from "../../scripts/lib/worker-fixture.ts";

const run = promisify(execFile);
const CLI = path.join(ROOT, "protocol/node/cli.ts");

describe("client: buyer CLI", function () {
  this.timeout(240_000);
  let net: Localnet;
  let market: Market;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  const buyer = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: ROOT, env, timeout: 60_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    market = await setupMarket(net, {
      models: [
        { file: SILERO_VAD_V5, name: "Silero VAD v5", price: 1_000n },
        { file: PPOCR_DIRECTION_CLS, name: "PaddleOCR direction", price: 5_000n },
      ],
    });
    dir = await mkdtemp(path.join(tmpdir(), "edgepay-cli-"));
    env = {
      ...process.env,
      EDGEPAY_RPC_URL: net.chain.url,
      EDGEPAY_PAYMENT_CHANNELS: market.contracts.paymentChannels,
      EDGEPAY_BUYER_KEY: TEST_KEYS[6],
      EDGEPAY_BUYER_HOME: path.join(dir, "store"),
    };
    // The buyer's tokens come from the local faucet, as a newcomer would get them.
    const c = clientsFor(net, 6);
    await c.publicClient.waitForTransactionReceipt({ hash: await c.walletClient.writeContract({ address: market.token, abi: testUsdcAbi, functionName: "faucet", args: [c.account.address, 1_000_000n] }) });

    // Half a second of a tone, 16 kHz mono 16-bit PCM.
    const samples = new Int16Array(8000).map((_, i) => Math.round(9000 * Math.sin((2 * Math.PI * 180 * i) / 16000)));
    const header = Buffer.alloc(44);
    header.write("RIFF", 0);
    header.writeUInt32LE(36 + samples.byteLength, 4);
    header.write("WAVEfmt ", 8);
    header.writeUInt32LE(16, 16);
    header.writeUInt16LE(1, 20);
    header.writeUInt16LE(1, 22);
    header.writeUInt32LE(16000, 24);
    header.writeUInt32LE(32000, 28);
    header.writeUInt16LE(2, 32);
    header.writeUInt16LE(16, 34);
    header.write("data", 36);
    header.writeUInt32LE(samples.byteLength, 40);
    await writeFile(path.join(dir, "tone.wav"), Buffer.concat([header, Buffer.from(samples.buffer)]));
    const png = new PNG({ width: 120, height: 30 });
    png.data.fill(255);
    for (let y = 8; y < 22; y++) for (let x = 4; x < 116; x++) if (x % 10 < 6) png.data.fill(30, (y * 120 + x) * 4, (y * 120 + x) * 4 + 3);
    await writeFile(path.join(dir, "line.png"), PNG.sync.write(png));
  });
  after(async () => {
    await market?.stop();
    await net?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("opens a channel, pays per 32 ms frame of a WAV, and keeps verified receipts", async () => {
    const url = market.worker!.url;
    const open = await buyer("open", "--worker", url, "--model", market.models[0]!.modelId.toString(), "--deposit", "0.05");
    expect(open.code, open.stderr).to.equal(0);
    expect(open.stdout).to.match(/opened 0x[0-9a-f]{64}\n\s+deposit 0\.05, price 0\.001 per unit of work/);

    const infer = await buyer("infer", "--worker", url, "--model", market.models[0]!.modelId.toString(), "--input", path.join(dir, "tone.wav"), "--max-frames", "6");
    expect(infer.code, infer.stderr).to.equal(0);
    expect(infer.stdout).to.match(/speech per 32 ms frame \(# = speech\): [#.]{6}\n/);
    expect(infer.stdout).to.match(/paid 6000 token units for 6 answer\(s\)/);

    const receipts = await buyer("receipts");
    expect(receipts.stdout.trim().split("\n")).to.have.length(6);
    expect(receipts.stdout).to.not.match(/REJECTED/);
  });

  it("classifies a PNG's text direction, opening a channel on the fly with --deposit", async () => {
    const url = market.worker!.url;
    const infer = await buyer("infer", "--worker", url, "--model", market.models[1]!.modelId.toString(), "--input", path.join(dir, "line.png"), "--deposit", "0.02");
    expect(infer.code, infer.stderr).to.equal(0);
    expect(infer.stdout).to.match(/text direction: (0|180)° \(p=[01]\.\d{3}\) for a 120x30 image/);
    expect(infer.stderr).to.match(/opening a channel/);
  });

  it("lists channels with remaining credit and closes one cooperatively", async () => {
    const list = await buyer("channels");
    expect(list.code, list.stderr).to.equal(0);
    const lines = list.stdout.trim().split("\n");
    expect(lines).to.have.length(2);
    const vad = lines.find((l) => / model=1 /.test(l))!;
    expect(vad).to.match(/open\s+model=1 .* price=0\.001 deposit=0\.05 claimed=0 remaining=0\.044/);
    const channelId = vad.slice(0, 66);
    const close = await buyer("close", "--channel", channelId, "--cooperative");
    expect(close.code, close.stderr).to.equal(0);
    expect(close.stdout).to.match(/settled 0x[0-9a-f]{64} cooperatively at 6000 token units paid/);
    const after = await buyer("channels");
    expect(after.stdout).to.match(new RegExp(`${channelId}\\s+settled .* claimed=0\\.006 remaining=0`));
  });

  it("explains mistakes in one line, with contract errors decoded", async () => {
    const badModel = await buyer("open", "--device", market.device.address, "--model", "abc", "--deposit", "1");
    expect(badModel.code).to.equal(1);
    expect(badModel.stderr.trim()).to.equal('error: --model must be a model id (1, 2, ...), got "abc"');

    const noKey = await run(process.execPath, [CLI, "channels"], { cwd: ROOT, env: { ...env, EDGEPAY_BUYER_KEY: "" } }).catch((e: { stderr: string }) => e);
    expect((noKey as { stderr: string }).stderr).to.match(/set EDGEPAY_BUYER_KEY/);

    const list = await buyer("channels");
    const open = list.stdout.split("\n").find((l) => /\bopen\b/.test(l))!.slice(0, 66);
    const early = await buyer("withdraw", "--channel", open);
    expect(early.code).to.equal(1);
    expect(early.stderr).to.match(/^error: transaction_failed: withdraw failed: ChannelNotClosing\(channelId=0x[0-9a-f]{64}\)/);

    const missing = await buyer("infer", "--worker", market.worker!.url, "--model", "1", "--input", path.join(dir, "nope.wav"));
    expect(missing.stderr).to.match(/error: cannot read .*nope\.wav: ENOENT/);

    const unknown = await buyer("fly");
    expect(unknown.stderr).to.match(/error: unknown command "fly"/);
  });
});
