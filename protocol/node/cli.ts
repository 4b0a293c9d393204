// `npm run buyer -- <command>`: the buyer's command line. The payer key comes from EDGEPAY_BUYER_KEY; channels'
// session keys and receipts live in the store directory (EDGEPAY_BUYER_HOME, default ~/.edgepay/buyer).
import { homedir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { createPublicClient, createWalletClient, formatUnits, http, isAddress, parseUnits, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { deployments, testUsdcAbi } from "../generated/contracts.ts";
import { indexerClient } from "../indexer/client.ts";
import { Buyer, EdgepayClientError, advanceDispute, describeContractError, readDispute, type BuyerEvent, type InferResult, type SpotCheckOptions } from "../client/index.ts";
import { CLS_LABELS, initialVadState, sileroVadInputs } from "../client/inputs.ts";
import type { Tensor } from "../tensors.ts";
import { FileBuyerStore } from "./file-store.ts";
import { readInputFile } from "./inputs.ts";

const USAGE = `usage: npm run buyer -- <command> [options]

commands:
  channels [--payer 0x..]                       channels of the payer with their remaining credit
  open --device 0x.. --model ID --deposit AMOUNT [--token 0x..] [--worker URL] [--permit]
  topup --channel 0x.. --amount AMOUNT [--permit]
  close --channel 0x.. [--cooperative [--worker URL]]
                                                start the challenge period, or settle at once with the device
  withdraw --channel 0x..                       refund after the challenge period
  infer --worker URL[,URL...] --model ID --input FILE [--device 0x..] [--deposit AMOUNT] [--max-frames N] [--recover-wait SECONDS]
                                                FILE: .json tensors, .wav (16 kHz mono PCM, voice activity) or
                                                .png (text direction); --deposit opens a channel when none has credit.
                                                Cost = units x price per unit (the model's unit rule in the offerings).
                                                A request whose answer was lost is kept in doubt: it is recovered from
                                                the same device (waiting up to --recover-wait, default 30 s), never
                                                paid again on another device
                                                --spot-check RATE --verifier URL[,URL...]|local:FILE re-checks that share
                                                of calls (0..1) on other devices (paid) or locally (onnxruntime-node, the
                                                file's sha256 must be the model's on-chain hash); a device that fails is
                                                quarantined: no voucher is signed to it again
  spot-checks [--device 0x..]                   spot checks run by this buyer (passed, failed with evidence, inconclusive)
  quarantine                                    devices this buyer signs no voucher to
  clear-quarantine --device 0x..                let vouchers go to a quarantined device again
  dispute <spot-check id>                       open a dispute about a failed spot check's answer (AnswerDisputes): posts
                                                the reporter bond; a committee of staked verifiers re-runs the inputs
  dispute-status <dispute id>                   phase, deadlines, committee seats and votes, outcome
  dispute-advance <dispute id>                  do what is due (anyone may): draw the committee, replace members that
                                                did not commit, resolve after the reveal window
  review-quarantine                             lift the quarantine of devices that won their dispute
  recover [--channel 0x..]                      re-send requests in doubt to their device and get the paid answers
  receipts [--channel 0x..]                     receipts kept for this buyer

amounts are in token units with decimals (e.g. 2.5). environment:
  EDGEPAY_BUYER_KEY        payer private key (0x..)
  EDGEPAY_RPC_URL          chain RPC (default http://127.0.0.1:8545)
  EDGEPAY_PAYMENT_CHANNELS PaymentChannels address (default: the generated deployment of the chain)
  EDGEPAY_BUYER_HOME       store directory (default ~/.edgepay/buyer)
  EDGEPAY_INDEXER_URL      indexer (indexer/, e.g. http://127.0.0.1:42069): \`channels\` lists from it; without it (or
                           when it does not answer) the chain's logs are scanned in bounded ranges
  EDGEPAY_ANSWER_DISPUTES  AnswerDisputes address (default: the generated deployment of the chain)`;

const { positionals, values } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        payer: { type: "string" },
        device: { type: "string" },
        model: { type: "string" },
        deposit: { type: "string" },
        token: { type: "string" },
        worker: { type: "string" },
        permit: { type: "boolean", default: false },
        channel: { type: "string" },
        amount: { type: "string" },
        cooperative: { type: "boolean", default: false },
        input: { type: "string" },
        "max-frames": { type: "string" },
        "recover-wait": { type: "string" },
        "spot-check": { type: "string" },
        verifier: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    fail(`${(error as Error).message}\n\n${USAGE}`);
  }
})();

const command = positionals[0];
if (!command || values.help) {
  console.log(USAGE);
  process.exit(command || values.help ? 0 : 1);
}

try {
  await main(command);
} catch (error) {
  fail(readable(error));
}

async function main(cmd: string) {
  const rpcUrl = process.env.EDGEPAY_RPC_URL ?? "http://127.0.0.1:8545";
  const publicClient = createPublicClient({ transport: http(rpcUrl) });
  let chainId: number;
  try {
    chainId = await publicClient.getChainId();
  } catch {
    throw new Error(`no chain answers at ${rpcUrl} (set EDGEPAY_RPC_URL)`);
  }
  const deployment = deployments.find((d) => d.chainId === chainId);
  const paymentChannels = (process.env.EDGEPAY_PAYMENT_CHANNELS ?? deployment?.paymentChannels) as Address | undefined;
  if (!paymentChannels || !isAddress(paymentChannels)) throw new Error(`no PaymentChannels address for chain ${chainId}: set EDGEPAY_PAYMENT_CHANNELS`);
  const key = process.env.EDGEPAY_BUYER_KEY;
  const account = key ? privateKeyToAccount(parseKey(key)) : undefined;
  const chain = { id: chainId, name: `chain ${chainId}`, nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [rpcUrl] } } };
  const wallet = account ? createWalletClient({ account, chain, transport: http(rpcUrl) }) : undefined;
  const store = new FileBuyerStore(process.env.EDGEPAY_BUYER_HOME ?? path.join(homedir(), ".edgepay", "buyer"));
  const indexerUrl = process.env.EDGEPAY_INDEXER_URL?.trim();
  const channelSource = indexerUrl
    ? {
        indexer: indexerClient(indexerUrl),
        onIndexerFallback: (e: Error) => process.stderr.write(`${e.message}: scanning the chain's logs instead\n`),
      }
    : undefined;
  const answerDisputes = (process.env.EDGEPAY_ANSWER_DISPUTES ?? (deployment?.paymentChannels === paymentChannels ? deployment?.answerDisputes : undefined)) as Address | undefined;
  if (answerDisputes !== undefined && !isAddress(answerDisputes)) throw new Error(`EDGEPAY_ANSWER_DISPUTES must be an address, got "${answerDisputes}"`);
  const buyer = new Buyer({
    publicClient,
    wallet,
    paymentChannels,
    store,
    onEvent: logEvent,
    spotCheck: await spotCheckArgs(),
    channelSource,
    ...(answerDisputes ? { disputes: { answerDisputes } } : {}),
  });
  const disputeCtx = () => {
    if (!answerDisputes) throw new Error(`no AnswerDisputes address for chain ${chainId}: set EDGEPAY_ANSWER_DISPUTES`);
    return { publicClient, answerDisputes };
  };
  const disputeIdArg = (): Hex => {
    const id = positionals[1];
    if (!id || !/^0x[0-9a-fA-F]{64}$/.test(id)) throw new Error(`give the dispute id (0x + 64 hex), got "${id ?? ""}"`);
    return id.toLowerCase() as Hex;
  };
  const needWallet = () => {
    if (!wallet) throw new Error("set EDGEPAY_BUYER_KEY to the payer's private key");
    return wallet;
  };
  const decimalsOf = async (token: Address) => publicClient.readContract({ address: token, abi: testUsdcAbi, functionName: "decimals" });
  const amountArg = async (name: "deposit" | "amount", token: Address) => {
    const text = values[name];
    if (!text) throw new Error(`--${name} is required`);
    if (!/^[0-9]+(\.[0-9]+)?$/.test(text)) throw new Error(`--${name} must be a positive decimal amount, got "${text}"`);
    return parseUnits(text, await decimalsOf(token));
  };

  switch (cmd) {
    case "channels": {
      const payer = values.payer ? addressArg("payer", values.payer) : needWallet().account.address;
      const list = await buyer.channels(payer);
      if (values.json) return printJson(list);
      if (list.length === 0) return console.log(`no channels for ${payer}`);
      for (const c of list) {
        const d = await decimalsOf(c.terms.token);
        const closes = c.state.closesAt ? ` closesAt=${new Date(Number(c.state.closesAt) * 1000).toISOString()}` : "";
        console.log(
          `${c.channelId}  ${c.status.padEnd(12)} model=${c.terms.modelId} device=${c.terms.device} price=${formatUnits(c.terms.price, d)}` +
            ` deposit=${formatUnits(c.state.deposit, d)} claimed=${formatUnits(c.state.claimed, d)} remaining=${formatUnits(c.remaining, d)}` +
            `${c.hasKey ? "" : " (no session key in this store)"}${closes}`,
        );
      }
      return;
    }
    case "open": {
      needWallet();
      const modelId = modelArg();
      let device = values.device ? addressArg("device", values.device) : undefined;
      let token = values.token ? addressArg("token", values.token) : undefined;
      if (values.worker) {
        const offers = await buyer.offerings(values.worker);
        device ??= offers.device;
        token ??= offers.models.find((m) => BigInt(m.modelId) === modelId)?.token as Address | undefined;
      }
      token ??= deployment?.token;
      if (!device) throw new Error("--device (or --worker) is required");
      if (!token) throw new Error("--token is required on this chain");
      const deposit = await amountArg("deposit", token);
      const record = await buyer.open({ device, modelId, token, deposit, approval: values.permit ? "permit" : "approve", endpoint: values.worker });
      const d = await decimalsOf(token);
      console.log(`opened ${record.channelId}\n  deposit ${formatUnits(record.deposit, d)}, price ${formatUnits(record.terms.price, d)} per unit of work, signer (session key) ${record.terms.signer}`);
      return;
    }
    case "topup": {
      const channelId = channelArg();
      const terms = (await store.getChannel(channelId))?.terms ?? (await buyer.channels()).find((c) => c.channelId === channelId)?.terms;
      if (!terms) throw new Error(`channel ${channelId} is not one of this payer's channels`);
      const hash = await buyer.topUp(channelId, await amountArg("amount", terms.token), values.permit ? "permit" : "approve");
      console.log(`topped up ${channelId} (tx ${hash})`);
      return;
    }
    case "close": {
      const channelId = channelArg();
      if (values.cooperative) {
        const { hash, amount } = await buyer.closeCooperatively(channelId, values.worker);
        console.log(`settled ${channelId} cooperatively at ${amount} token units paid (tx ${hash}); the rest was refunded`);
      } else {
        const hash = await buyer.requestClose(channelId);
        const c = (await buyer.channels()).find((x) => x.channelId === channelId);
        console.log(`close requested for ${channelId} (tx ${hash}); withdraw after ${c ? new Date(Number(c.state.closesAt) * 1000).toISOString() : "the challenge period"}`);
      }
      return;
    }
    case "withdraw": {
      const channelId = channelArg();
      const hash = await buyer.withdraw(channelId);
      console.log(`withdrew the rest of ${channelId} (tx ${hash})`);
      return;
    }
    case "infer": {
      if (!values.worker) throw new Error("--worker URL is required");
      if (!values.input) throw new Error("--input FILE is required");
      const workers = values.worker.split(",").map((s) => s.trim()).filter(Boolean);
      const modelId = modelArg();
      const input = await readInputFile(values.input);
      let autoOpen: { deposit: bigint } | undefined;
      if (values.deposit) {
        const offers = await buyer.offerings(workers[0]!);
        const token = offers.models.find((m) => BigInt(m.modelId) === modelId)?.token as Address | undefined;
        if (!token) throw new Error(`${workers[0]} does not offer model ${modelId}`);
        needWallet();
        autoOpen = { deposit: await amountArg("deposit", token) };
      }
      // --device pins the device the workers must be (checked against their offered key before anything is sent).
      const device = values.device ? addressArg("device", values.device) : undefined;
      const run = (inputs: Record<string, Tensor>) => buyer.infer(modelId, inputs, { workers, autoOpen, device });
      if (input.kind === "audio") return inferAudio(input.frames, run);
      const result = await withRecovery(() => run(input.inputs), []);
      if (!result) return;
      if (input.kind === "image") {
        const probs = result.outputs[Object.keys(result.outputs)[0]!]!.data as Float32Array;
        const best = probs[1]! > probs[0]! ? 1 : 0;
        console.log(`text direction: ${CLS_LABELS[best]} (p=${probs[best]!.toFixed(3)}) for a ${input.width}x${input.height} image`);
      } else {
        printJson(Object.fromEntries(Object.entries(result.outputs).map(([k, t]) => [k, { type: t.type, dims: t.dims, data: Array.from(t.data as ArrayLike<number | bigint>, String) }])));
      }
      printPaid([result]);
      return;
    }
    case "spot-checks": {
      const list = await buyer.spotChecks(values.device ? { device: addressArg("device", values.device) } : {});
      if (values.json) return printJson(list);
      for (const c of list) {
        const by = c.verifier ? (c.verifier.kind === "device" ? `device ${c.verifier.device}` : c.verifier.runner) : "no verifier";
        console.log(`${c.id} device=${c.device} model=${c.modelId} ${c.outcome.toUpperCase()}${c.reason ? ` (${c.reason})` : ""} by ${by}, cost=${c.cost}`);
      }
      if (list.length === 0) console.log("no spot checks");
      return;
    }
    case "quarantine": {
      const list = await buyer.quarantined();
      if (values.json) return printJson(list);
      for (const q of list) console.log(`${q.device} model=${q.modelId} failed check ${q.checkId} (${q.reason}) at ${new Date(q.at).toISOString()}${q.disputeId ? ` dispute ${q.disputeId}` : ""}`);
      if (list.length === 0) console.log("no device is quarantined");
      return;
    }
    case "clear-quarantine": {
      if (!values.device) throw new Error("--device 0x.. is required");
      const cleared = await buyer.clearQuarantine(addressArg("device", values.device));
      console.log(cleared ? `cleared ${cleared.device} (it failed check ${cleared.checkId})` : `${values.device} is not quarantined`);
      return;
    }
    case "dispute": {
      const checkId = positionals[1];
      if (!checkId || !/^0x[0-9a-fA-F]{64}:[0-9]+$/.test(checkId)) throw new Error(`give the failed spot check's id (<channel id>:<sequence>, see spot-checks), got "${checkId ?? ""}"`);
      disputeCtx();
      needWallet();
      const d = await buyer.disputeAnswer(checkId.toLowerCase());
      if (values.json) return printJson(d);
      console.log(`dispute ${d.id} opened (bond ${d.bond} posted by ${d.reporter}, open tx ${d.openTx}); the committee is drawn once block ${d.seedBlock} is mined: \`npm run buyer -- dispute-advance ${d.id}\``);
      return;
    }
    case "dispute-status": {
      const d = await readDispute(disputeCtx(), disputeIdArg());
      if (values.json) return printJson(d);
      if (d.phase === "none") throw new Error(`no dispute ${d.id} on AnswerDisputes ${answerDisputes}`);
      console.log(`dispute ${d.id}: ${d.phase}${d.phase === "resolved" ? `, ${d.outcome}` : ""}`);
      console.log(`  device ${d.device} (owner ${d.deviceOwner}), model ${d.modelId}, reporter ${d.reporter}, bond ${d.bond}`);
      if (d.phase === "drawing") console.log(`  committee drawn from block ${d.seedBlock}`);
      else console.log(`  commit until ${d.commitDeadline}, reveal until ${d.revealDeadline}; votes: ${d.votesWrong} wrong, ${d.votesRight} right; ${d.committed}/${d.active} committed, replacement rounds ${d.rounds}`);
      for (const [i, seat] of d.seats.entries()) console.log(`  seat ${i}: ${seat.verifier} ${seat.state}${seat.state === "revealed" ? ` (device ${seat.deviceRight ? "right" : "wrong"})` : ""}`);
      return;
    }
    case "dispute-advance": {
      const r = await advanceDispute(disputeCtx(), needWallet(), disputeIdArg());
      console.log(r.step === "waiting" ? `waiting for ${r.waitingFor}` : r.step === "done" ? "resolved already" : `${r.step} (tx ${r.hash})`);
      return;
    }
    case "review-quarantine": {
      disputeCtx();
      const list = await buyer.reviewQuarantines();
      if (values.json) return printJson(list);
      for (const r of list) console.log(`${r.device}: dispute ${r.disputeId} ${r.outcome}, quarantine ${r.quarantine}`);
      if (list.length === 0) console.log("no quarantined device has a dispute");
      return;
    }
    case "recover": {
      const outcomes = await buyer.recover(values.channel ? { channelId: channelArg() } : {});
      if (values.json) return printJson(outcomes.map((o) => (o.status === "recovered" ? { ...o, result: { receipt: o.result.receipt, units: o.result.units, cost: o.result.cost } } : o)));
      if (outcomes.length === 0) console.log("no request in doubt");
      for (const o of outcomes) {
        const what =
          o.status === "recovered"
            ? `answer recovered (receipt #${o.result.receipt.sequence}, ${o.result.units} unit(s), ${o.result.cost} token units)`
            : o.status === "paid_unanswered"
              ? `paid, the device cannot replay the answer: ${o.message}`
              : o.status === "not_accepted"
                ? `never accepted by the device, nothing paid: ${o.message}`
                : `still in doubt (device unreachable): ${o.message}`;
        console.log(`${o.channelId} at ${o.amount}: ${what}`);
      }
      await printInDoubt();
      return;
    }
    case "receipts": {
      const list = await store.listReceipts(values.channel ? { channelId: channelArg() } : {});
      if (values.json) return printJson(list);
      for (const r of list) {
        const x = r.receipt;
        console.log(
          `#${x.sequence} ${x.channelId.slice(0, 10)}.. amount=${x.cumulativeAmount} units=${x.units} model=${x.modelId} in=${x.inputHash.slice(0, 10)}.. out=${x.outputHash.slice(0, 10)}..` +
            ` ${r.verification.valid ? "verified" : `REJECTED (${r.verification.reason})`}`,
        );
      }
      if (list.length === 0) console.log("no receipts");
      return;
    }
    default:
      throw new Error(`unknown command "${cmd}"\n\n${USAGE}`);
  }

  async function inferAudio(frames: Float32Array[], run: (inputs: Record<string, Tensor>) => Promise<InferResult>) {
    const max = values["max-frames"] ? Number(values["max-frames"]) : frames.length;
    if (!Number.isInteger(max) || max < 1) throw new Error("--max-frames must be a positive integer");
    let state = initialVadState();
    const results: InferResult[] = [];
    const speech: string[] = [];
    for (const [i, frame] of frames.slice(0, max).entries()) {
      const result = await withRecovery(() => run(sileroVadInputs(frame, state)), results);
      if (!result) return;
      results.push(result);
      // The model is recurrent: its next state goes with the next frame.
      state = result.outputs.stateN ?? state;
      const p = (result.outputs.output?.data as Float32Array | undefined)?.[0] ?? 0;
      speech.push(p >= 0.5 ? "#" : ".");
      if (values.json) console.log(JSON.stringify({ frame: i, startSeconds: (i * 512) / 16000, probability: p }));
    }
    console.log(`speech per 32 ms frame (# = speech): ${speech.join("")}`);
    printPaid(results);
    await printInDoubt();
  }

  /**
   * Runs one paid request. An answer in doubt (paid, connection lost) is recovered from the device it was sent to,
   * waiting up to --recover-wait seconds for it to come back; it is never paid again elsewhere. Undefined (after
   * printing what was paid and what is in doubt) when it cannot be recovered in time.
   */
  async function withRecovery(send: () => Promise<InferResult>, done: InferResult[]): Promise<InferResult | undefined> {
    const waitMs = (values["recover-wait"] ? Number(values["recover-wait"]) : 30) * 1000;
    for (let attempt = 0; ; attempt++) {
      try {
        return await send();
      } catch (error) {
        if (!(error instanceof EdgepayClientError) || error.code !== "answer_in_doubt" || attempt > 0) throw error;
        console.error(`answer in doubt, recovering it from the same device: ${error.message.split("\n")[0]}`);
      }
      const until = Date.now() + waitMs;
      for (;;) {
        const outcomes = await buyer.recover();
        const recovered = outcomes.find((o) => o.status === "recovered");
        if (recovered && recovered.status === "recovered") return recovered.result;
        if (outcomes.some((o) => o.status === "not_accepted")) break; // nothing was paid: send it again
        if (outcomes.some((o) => o.status === "paid_unanswered")) {
          console.error("the device was paid for that request but cannot replay its answer; stopping");
          printPaid(done);
          await printInDoubt();
          return undefined;
        }
        if (Date.now() >= until) {
          console.error(`the device did not come back within ${waitMs / 1000} s; the request stays in doubt (run \`npm run buyer -- recover\` later)`);
          printPaid(done);
          await printInDoubt();
          process.exitCode = 2;
          return undefined;
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /** The closing line: every channel paid on in this run, summed (cost = units x price per unit of each answer). */
  function printPaid(results: InferResult[]) {
    const total = results.reduce((n, r) => n + r.cost, 0n);
    const units = results.reduce((n, r) => n + r.units, 0n);
    const perChannel = new Map<string, { device: string; cost: bigint; answers: number }>();
    for (const r of results) {
      const c = perChannel.get(r.channelId) ?? { device: r.device, cost: 0n, answers: 0 };
      c.cost += r.cost;
      c.answers++;
      perChannel.set(r.channelId, c);
    }
    const list = [...perChannel].map(([id, c]) => `${c.cost} on channel ${id} to device ${c.device} (${c.answers} answer(s))`).join(", ");
    console.log(
      `paid ${total} token units for ${results.length} answer(s) (${units} unit(s) of work) on ${perChannel.size} channel(s)${list ? `: ${list}` : ""}; receipts verified and kept in ${store.dir}`,
    );
  }

  async function printInDoubt() {
    const pending = await buyer.inDoubt();
    if (pending.length === 0) return;
    const sum = pending.reduce((n, p) => n + p.cost, 0n);
    console.log(
      `in doubt: ${sum} token units signed for ${pending.length} request(s) whose answer did not arrive (${pending.map((p) => `${p.cost} on channel ${p.channelId} at ${p.endpoint}`).join(", ")}); ` +
        `the device may claim them; \`npm run buyer -- recover\` gets the answers back`,
    );
  }
}

function logEvent(e: BuyerEvent) {
  if (e.type === "channel_opening") console.error(`opening a channel to ${e.device} for model ${e.modelId} (deposit ${e.deposit})...`);
  else if (e.type === "failover") console.error(`device failed, trying the next: ${e.error}`);
  else if (e.type === "retry") console.error(`retrying the same voucher (${e.attempt}): ${e.error}`);
  else if (e.type === "in_doubt") console.error(`answer in doubt on ${e.channelId} (voucher ${e.amount}): ${e.error}`);
  else if (e.type === "recovered") console.error(`request in doubt on ${e.channelId} (voucher ${e.amount}): ${e.outcome}`);
  else if (e.type === "spot_check") console.error(`spot check of ${e.check.device} (receipt ${e.check.id}): ${e.check.outcome}${e.check.reason ? ` (${e.check.reason})` : ""}, cost ${e.check.cost}`);
  else if (e.type === "quarantined") console.error(`device ${e.quarantine.device} quarantined: no voucher is signed to it until \`npm run buyer -- clear-quarantine --device ${e.quarantine.device}\``);
}

/** `--spot-check RATE --verifier URL[,URL]|local:FILE` (with --model for the local file's model id). */
async function spotCheckArgs(): Promise<SpotCheckOptions | undefined> {
  const rate = values["spot-check"];
  if (rate === undefined) {
    if (values.verifier) throw new Error("--verifier needs --spot-check RATE");
    return undefined;
  }
  if (!/^(0(\.[0-9]+)?|1(\.0*)?)$/.test(rate)) throw new Error(`--spot-check must be a share of calls within 0..1, got "${rate}"`);
  const v = values.verifier;
  if (!v) throw new Error("--spot-check needs --verifier URL[,URL...] (other devices) or local:FILE (the model's .onnx file)");
  if (v.startsWith("local:")) {
    // Loaded only here: onnxruntime-node is heavy, and most commands never run a model.
    const { OnnxLocalVerifier } = await import("./local-verifier.ts");
    return { rate: Number(rate), verifier: { kind: "local", runner: new OnnxLocalVerifier({ files: { [modelArg().toString()]: path.resolve(v.slice("local:".length)) } }) } };
  }
  return { rate: Number(rate), verifier: { kind: "device", workers: v.split(",").map((s) => s.trim()).filter(Boolean) } };
}

function modelArg(): bigint {
  if (!values.model || !/^[1-9][0-9]*$/.test(values.model)) throw new Error(`--model must be a model id (1, 2, ...), got "${values.model ?? ""}"`);
  return BigInt(values.model);
}

function channelArg(): Hex {
  const c = values.channel;
  if (!c || !/^0x[0-9a-fA-F]{64}$/.test(c)) throw new Error(`--channel must be a 32-byte channel id (0x + 64 hex), got "${c ?? ""}"`);
  return c.toLowerCase() as Hex;
}

function addressArg(name: string, v: string): Address {
  if (!isAddress(v)) throw new Error(`--${name} must be an address (0x + 40 hex), got "${v}"`);
  return v;
}

function parseKey(key: string): Hex {
  const k = key.startsWith("0x") ? key : `0x${key}`;
  if (!/^0x[0-9a-fA-F]{64}$/.test(k)) throw new Error("EDGEPAY_BUYER_KEY must be a 32-byte hex private key");
  return k as Hex;
}

function readable(error: unknown): string {
  if (error instanceof EdgepayClientError) return `${error.code}: ${error.message}`;
  const text = describeContractError(error);
  return text;
}

function printJson(v: unknown) {
  console.log(JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x), 2));
}

function fail(message: string): never {
  console.error(`error: ${message}`);
  process.exit(1);
}
