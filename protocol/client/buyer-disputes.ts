// The buyer's side of disputes about wrong answers: a failed spot check's kept evidence becomes a dispute
// (dispute-evidence.ts + answer-dispute.ts), its id is kept on the quarantine, and the quarantine stays until a
// resolved dispute clears the device (the committee found its answer acceptable); a device that lost stays out.
import type { Address, Hex } from "viem";
import { openAnswerDispute, readDispute, type DisputeContext, type DisputeOutcome, type OpenedDispute } from "./answer-dispute.ts";
import type { BuyerWallet } from "./chain.ts";
import { disputeEvidence } from "./dispute-evidence.ts";
import { EdgepayClientError } from "./errors.ts";
import type { BuyerStore } from "./store.ts";

export interface BuyerDisputeOptions {
  /** The AnswerDisputes contract of the buyer's deployment. */
  answerDisputes: Address;
  /** Open a dispute as soon as a spot check fails (the reporter bond is posted from the buyer's wallet). */
  auto?: boolean;
}

/** Opens a dispute about failed spot check `checkId` (`<channelId>:<sequence>`), recording its id on the quarantine. */
export async function disputeSpotCheck(store: BuyerStore, ctx: DisputeContext, wallet: BuyerWallet | undefined, checkId: string): Promise<OpenedDispute> {
  if (!wallet) throw new EdgepayClientError("bad_argument", "disputing needs a wallet: the reporter posts a bond");
  const check = (await store.listSpotChecks()).find((c) => c.id === checkId);
  if (!check) throw new EdgepayClientError("dispute_refused", `no spot check ${checkId} in this store`, { reason: "no_evidence" });
  if (check.outcome !== "failed" || !check.evidence) {
    throw new EdgepayClientError("dispute_refused", `spot check ${checkId} ${check.outcome}: only a failed check keeps evidence to dispute`, { reason: "no_evidence" });
  }
  const channel = await store.getChannel(check.channelId);
  if (!channel) throw new EdgepayClientError("dispute_refused", `channel ${check.channelId} of spot check ${checkId} is not in this store (its terms are part of the evidence)`, { reason: "no_evidence" });
  const built = disputeEvidence(check.evidence, channel.terms);
  if (!built.valid) throw new EdgepayClientError("dispute_refused", `the evidence of spot check ${checkId} would be refused on-chain: ${built.detail}`, { reason: built.reason });
  const opened = await openAnswerDispute(ctx, wallet, check.device, built.evidence);
  const q = await store.getQuarantine(check.device);
  if (q) await store.putQuarantine({ ...q, disputeId: opened.id });
  return opened;
}

export interface QuarantineReview {
  device: Address;
  disputeId: Hex;
  outcome: DisputeOutcome;
  /** lifted: the committee found the device's answer acceptable; kept: otherwise, or not resolved yet. */
  quarantine: "lifted" | "kept";
}

/** Reads the disputes of quarantined devices and lifts each quarantine whose dispute the device won. */
export async function reviewDisputedQuarantines(store: BuyerStore, ctx: DisputeContext): Promise<QuarantineReview[]> {
  const out: QuarantineReview[] = [];
  for (const q of await store.listQuarantines()) {
    if (!q.disputeId) continue;
    const d = await readDispute(ctx, q.disputeId);
    const cleared = d.phase === "resolved" && d.outcome === "reporter_lost";
    if (cleared) await store.deleteQuarantine(q.device);
    out.push({ device: q.device, disputeId: q.disputeId, outcome: d.outcome, quarantine: cleared ? "lifted" : "kept" });
  }
  return out;
}
