// Wires the committee member into a running worker: checks the pools at start, then polls on its own timer.
import type { Address, PublicClient } from "viem";
import type { ResolvedConfig } from "../config.ts";
import type { ServedModel } from "../http/app.ts";
import type { TxSender } from "../settlement/sender.ts";
import type { Store } from "../store/db.ts";
import { DisputeMember } from "./member.ts";

export interface RunningMember {
  member: DisputeMember;
  stop(): Promise<void>;
}

/** Starts the member when `verifier` is configured; undefined otherwise. Throws on a config it cannot honour. */
export async function startDisputeMember(args: {
  config: ResolvedConfig;
  client: PublicClient;
  sender: TxSender;
  store: Store;
  device: Address;
  models: Map<string, ServedModel>;
  log: (level: "error" | "info", msg: string) => void;
}): Promise<RunningMember | undefined> {
  const { config, models, log } = args;
  if (!config.verifier) return undefined;
  const answerDisputes = config.contracts.answerDisputes;
  if (!answerDisputes) throw new Error("verifier is configured but contracts.answerDisputes is not: set the AnswerDisputes address");
  const modelIds = config.verifier.models ?? [...models.values()].map((m) => m.runtime.modelId);
  for (const id of modelIds) {
    if (!models.has(id.toString())) throw new Error(`verifier.models names model ${id}, which this worker does not serve (it re-runs disputed inputs on its own copy)`);
  }
  const verified = new Set(modelIds.map(String));
  const member = new DisputeMember({
    client: args.client,
    sender: args.sender,
    store: args.store,
    options: {
      answerDisputes,
      device: args.device,
      fromBlock: config.fromBlock,
      getLogsRange: config.index.getLogsRange,
      log,
      run: (modelId, inputs) => {
        const served = verified.has(modelId.toString()) ? models.get(modelId.toString()) : undefined;
        if (!served) return undefined;
        served.runtime.validate(inputs);
        return served.runtime.run(inputs);
      },
    },
  });
  const missing = await member.missingPools(modelIds);
  for (const id of missing) log("error", `device ${args.device} is not in the verifier pool of model ${id}: its owner joins it (worker/cli.ts join-pool --model ${id})`);
  log("info", `verifier for models ${modelIds.join(", ")} on AnswerDisputes ${answerDisputes}`);
  let running: Promise<void> | undefined;
  const tick = () => {
    running ??= member
      .poll()
      .catch((error: unknown) => log("error", `disputes: ${(error as Error).message.split("\n")[0]}`))
      .finally(() => (running = undefined));
  };
  tick();
  const timer = setInterval(tick, config.verifier.pollIntervalMs ?? config.settlement.pollIntervalMs);
  return {
    member,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
