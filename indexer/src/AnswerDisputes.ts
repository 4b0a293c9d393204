import { ponder } from "ponder:registry";
import { dispute } from "ponder:schema";
import { DisputeOutcome } from "@edgepay/protocol/reputation";
import { bumpReputation } from "./reputation.ts";

const answerId = (id: string) => `answer:${id.toLowerCase()}`;
const OUTCOMES: Record<number, string> = { [DisputeOutcome.DeviceLost]: "device_lost", [DisputeOutcome.ReporterLost]: "reporter_lost", [DisputeOutcome.NoDecision]: "no_decision" };

ponder.on("AnswerDisputes:DisputeOpened", async ({ event, context }) => {
  const { id, device, reporter, receiptDigest, bond } = event.args;
  await context.db.insert(dispute).values({
    id: answerId(id),
    kind: "answer",
    device,
    reporter,
    state: "open",
    digest: receiptDigest,
    bond,
    openedBlock: event.block.number,
    updatedBlock: event.block.number,
  });
});

ponder.on("AnswerDisputes:DisputeResolved", async ({ event, context }) => {
  const { id, outcome, slashed } = event.args;
  const row = await context.db.update(dispute, { id: answerId(id) }).set({ state: "resolved", outcome: OUTCOMES[outcome] ?? `unknown(${outcome})`, slashed, updatedBlock: event.block.number });
  if (outcome === DisputeOutcome.DeviceLost) await bumpReputation(context.db, row.device, event.block.number, (c) => ({ disputesLost: c.disputesLost + 1 }));
  else if (outcome === DisputeOutcome.ReporterLost) await bumpReputation(context.db, row.device, event.block.number, (c) => ({ disputesWon: c.disputesWon + 1 }));
});
