// The worker as a committee member of wrong-answer disputes: finds the seats drawn for its device (MemberSeated),
// reads the disputed inputs from the openDispute calldata, re-runs its own copy of the model, compares the accused
// device's outputs with its own under the model's on-chain tolerance, commits the vote, and reveals it once the
// commit window is over. Votes and salts are in SQLite (votes.ts) before anything is sent, so a restart continues.
import { randomBytes } from "node:crypto";
import type { Address, Hex, PublicClient } from "viem";
import { answerDisputesAbi } from "@edgepay/protocol/generated/contracts";
import { getContractEventsPaged } from "@edgepay/protocol/paged-logs";
import { readDispute, readDisputeParameters, readDisputeTolerance } from "@edgepay/protocol/client/answer-dispute";
import { commitVoteCall, judgeDisputedAnswer, readDisputedAnswer, revealVoteCall } from "@edgepay/protocol/client/answer-dispute-vote";
import { decodeEdgepayRevert } from "@edgepay/protocol/client/errors";
import type { Tensor } from "@edgepay/protocol/tensors";
import type { TxSender } from "../settlement/sender.ts";
import type { Store } from "../store/db.ts";
import { DisputeVotes, type VoteRow } from "./votes.ts";

const CURSOR_KEY = "disputes.seatedScannedTo";

export interface MemberOptions {
  answerDisputes: Address;
  device: Address;
  /** Models this device verifies (it must serve them: its own runtime re-runs the inputs). */
  run: (modelId: bigint, inputs: Record<string, Tensor>) => Promise<Record<string, Tensor>> | undefined;
  fromBlock: bigint;
  getLogsRange?: number;
  log: (level: "error" | "info", msg: string) => void;
}

export class DisputeMember {
  readonly votes: DisputeVotes;
  readonly #client: PublicClient;
  readonly #sender: TxSender;
  readonly #store: Store;
  readonly #opts: MemberOptions;
  #modelRegistry?: Address;

  constructor(args: { client: PublicClient; sender: TxSender; store: Store; options: MemberOptions }) {
    this.#client = args.client;
    this.#sender = args.sender;
    this.#store = args.store;
    this.#opts = args.options;
    this.votes = new DisputeVotes(args.store);
  }

  get #ctx() {
    return { publicClient: this.#client, answerDisputes: this.#opts.answerDisputes };
  }

  /** Models of `modelIds` whose pool this device is not in (the owner joins: AnswerDisputes.joinPool). */
  async missingPools(modelIds: bigint[]): Promise<bigint[]> {
    const missing: bigint[] = [];
    for (const modelId of modelIds) {
      const v = await this.#client.readContract({ address: this.#opts.answerDisputes, abi: answerDisputesAbi, functionName: "getVerifier", args: [modelId, this.#opts.device] });
      if (v.index === 0) missing.push(modelId);
    }
    return missing;
  }

  /** One round: new seats, then every open seat moved as far as the chain allows. */
  async poll() {
    await this.#scanSeats();
    for (const row of this.votes.open()) {
      try {
        await this.#act(row);
      } catch (error) {
        this.#opts.log("error", `dispute ${row.disputeId}: ${describe(error)}`);
      }
    }
  }

  async #scanSeats() {
    const latest = await this.#client.getBlockNumber({ cacheTime: 0 });
    const stored = this.#store.getMeta(CURSOR_KEY);
    const from = stored ? BigInt(stored) + 1n : this.#opts.fromBlock;
    if (from > latest) return;
    const logs = await getContractEventsPaged(
      this.#client,
      { address: this.#opts.answerDisputes, abi: answerDisputesAbi, eventName: "MemberSeated", args: { verifier: this.#opts.device } },
      { fromBlock: from, toBlock: latest, maxRange: this.#opts.getLogsRange },
    );
    for (const log of logs) {
      const id = log.args.id!;
      if (this.votes.get(id)) continue;
      const d = await readDispute(this.#ctx, id);
      this.votes.seat(id, d.modelId);
      this.#opts.log("info", `seated on dispute ${id} (device ${d.device}, model ${d.modelId}, commit by ${log.args.commitDeadline})`);
    }
    this.#store.setMeta(CURSOR_KEY, latest.toString());
  }

  async #act(row: VoteRow) {
    const id = row.disputeId;
    const d = await readDispute(this.#ctx, id);
    const seat = d.seats.find((s) => s.verifier.toLowerCase() === this.#opts.device.toLowerCase());
    if (d.phase === "resolved") {
      this.votes.setState(id, row.state === "committed" ? "missed" : "closed", `resolved ${d.outcome} before this member acted`);
      return;
    }
    if (!seat || seat.state === "replaced") {
      this.votes.setState(id, "missed", "replaced: no commitment by the deadline");
      this.#opts.log("error", `dispute ${id}: replaced for not committing in time`);
      return;
    }
    const now = (await this.#client.getBlock({ blockTag: "latest" })).timestamp;
    if (row.state === "seated") {
      if (now > d.commitDeadline) {
        this.votes.setState(id, "missed", `commit window ended at ${d.commitDeadline}`);
        return;
      }
      await this.#decideAndCommit(row, d.device);
      return;
    }
    if (row.state === "committing") {
      // The commitment may be mined already (a restart after sending it).
      if (seat.state === "committed" || seat.state === "revealed") this.votes.setState(id, "committed");
      else if (now <= d.commitDeadline) await this.#commit(id, row.deviceRight!, row.salt!);
      else this.votes.setState(id, "missed", `commit window ended at ${d.commitDeadline}`);
      return;
    }
    // committed: reveal once the commit window is over (and no replacement is pending: the contract says so).
    if (seat.state === "revealed") {
      this.votes.setState(id, "revealed");
      return;
    }
    if (now <= d.commitDeadline) return;
    if (now > d.revealDeadline) {
      this.votes.setState(id, "missed", `reveal window ended at ${d.revealDeadline}`);
      return;
    }
    if (d.active > d.committed && d.rounds < 2) return; // ReplacementPending: someone calls replaceAbsent first
    await this.#sender.send({ kind: "dispute_reveal", to: this.#opts.answerDisputes, data: revealVoteCall(id, row.deviceRight!, row.salt!), claims: [] });
    this.votes.setState(id, "revealed");
    this.#opts.log("info", `dispute ${id}: revealed vote device ${row.deviceRight ? "right" : "wrong"}`);
  }

  async #decideAndCommit(row: VoteRow, device: Address) {
    const id = row.disputeId;
    const disputed = await readDisputedAnswer(this.#client, this.#opts.answerDisputes, id, { fromBlock: this.#opts.fromBlock, getLogsRange: this.#opts.getLogsRange });
    if (!disputed) {
      this.votes.setState(id, "unreadable", "no openDispute calldata to read the evidence from");
      this.#opts.log("error", `dispute ${id}: the evidence cannot be read from the open transaction; not voting`);
      return;
    }
    let own: Record<string, Tensor> | undefined;
    try {
      own = await this.#opts.run(disputed.modelId, disputed.inputs);
    } catch (error) {
      this.votes.setState(id, "unreadable", `model run failed: ${describe(error)}`);
      this.#opts.log("error", `dispute ${id}: re-running model ${disputed.modelId} failed: ${describe(error)}; not voting`);
      return;
    }
    if (!own) {
      this.votes.setState(id, "unreadable", `model ${disputed.modelId} is not served here`);
      this.#opts.log("error", `dispute ${id}: model ${disputed.modelId} is not served by this worker; not voting`);
      return;
    }
    this.#modelRegistry ??= (await readDisputeParameters(this.#ctx)).modelRegistry;
    const tolerance = await readDisputeTolerance(this.#ctx, this.#modelRegistry, disputed.modelId);
    const { deviceRight, comparison } = judgeDisputedAnswer(own, disputed.outputs, tolerance);
    const note = comparison.valid ? `within tolerance (max difference ${comparison.maxDifference})` : `${comparison.reason} at ${comparison.output} (difference ${comparison.difference}, allowed ${comparison.allowed})`;
    const salt = `0x${randomBytes(32).toString("hex")}` as Hex;
    this.votes.decide(id, deviceRight, salt, note);
    this.#opts.log("info", `dispute ${id}: re-ran model ${disputed.modelId} on the evidence of ${device}: ${note}; voting device ${deviceRight ? "right" : "wrong"}`);
    await this.#commit(id, deviceRight, salt);
  }

  async #commit(id: Hex, deviceRight: boolean, salt: Hex) {
    const { data } = commitVoteCall(id, this.#opts.device, deviceRight, salt);
    await this.#sender.send({ kind: "dispute_commit", to: this.#opts.answerDisputes, data, claims: [] });
    this.votes.setState(id, "committed");
    this.#opts.log("info", `dispute ${id}: vote committed`);
  }
}

function describe(error: unknown): string {
  const data = findRevertData(error);
  const decoded = data && decodeEdgepayRevert(data);
  if (decoded) return decoded;
  return error instanceof Error ? error.message.split("\n")[0]! : String(error);
}

function findRevertData(error: unknown): Hex | undefined {
  for (let e = error as { data?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 8; e = e.cause as typeof e, depth++) {
    if (typeof e.data === "string" && e.data.startsWith("0x") && e.data.length >= 10) return e.data as Hex;
    if (e.data && typeof e.data === "object" && typeof (e.data as { data?: unknown }).data === "string") return (e.data as { data: Hex }).data;
  }
  return undefined;
}
