import { ponder } from "ponder:registry";
import { anchor, dispute } from "ponder:schema";
import { bumpReputation } from "./reputation.ts";

const omissionId = (device: string, digest: string) => `omission:${device.toLowerCase()}:${digest.toLowerCase()}`;

ponder.on("FlightRecorder:Anchored", async ({ event, context }) => {
  const { device, fromSeq, toSeq, root, head } = event.args;
  await context.db.insert(anchor).values({ id: event.id, device, fromSeq, toSeq, root, head, block: event.block.number, timestamp: event.block.timestamp, txHash: event.transaction.hash });
  await bumpReputation(context.db, device, event.block.number, (c) => ({ receiptsAnchored: c.receiptsAnchored + (toSeq - fromSeq + 1n) }));
});

ponder.on("FlightRecorder:OmissionChallenged", async ({ event, context }) => {
  const { device, digest, challenger, sequence, root, deadline, bond } = event.args;
  // A digest answered or enforced before may be challenged again: the row is reopened with the new challenge.
  const values = { kind: "omission", device, reporter: challenger, state: "open", digest, sequence, root, deadline, bond, answerer: null, slashed: null, reward: null, openedBlock: event.block.number, updatedBlock: event.block.number };
  await context.db
    .insert(dispute)
    .values({ id: omissionId(device, digest), ...values })
    .onConflictDoUpdate(values);
});

ponder.on("FlightRecorder:OmissionAnswered", async ({ event, context }) => {
  const { device, digest, answerer } = event.args;
  await context.db.update(dispute, { id: omissionId(device, digest) }).set({ state: "answered", answerer, updatedBlock: event.block.number });
  await bumpReputation(context.db, device, event.block.number, (c) => ({ disputesWon: c.disputesWon + 1 }));
});

ponder.on("FlightRecorder:OmissionEnforced", async ({ event, context }) => {
  const { device, digest, slashed, reward } = event.args;
  await context.db.update(dispute, { id: omissionId(device, digest) }).set({ state: "enforced", slashed, reward, updatedBlock: event.block.number });
  await bumpReputation(context.db, device, event.block.number, (c) => ({ disputesLost: c.disputesLost + 1 }));
});

ponder.on("FlightRecorder:EquivocationProven", async ({ event, context }) => {
  const { device, reporter, digestA, digestB, slashed, reward } = event.args;
  await context.db.insert(dispute).values({
    id: `equivocation:${event.id}`,
    kind: "equivocation",
    device,
    reporter,
    state: "proven",
    digest: digestA,
    digestB,
    slashed,
    reward,
    openedBlock: event.block.number,
    updatedBlock: event.block.number,
  });
  await bumpReputation(context.db, device, event.block.number, (c) => ({ disputesLost: c.disputesLost + 1 }));
});
