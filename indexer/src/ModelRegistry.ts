import { ponder } from "ponder:registry";
import { license, model } from "ponder:schema";

ponder.on("ModelRegistry:ModelPublished", async ({ event, context }) => {
  const a = event.args;
  await context.db.insert(model).values({
    id: a.modelId,
    owner: a.owner,
    predecessor: a.predecessor,
    version: a.version,
    contentHash: a.contentHash,
    royaltyBps: a.royaltyBps,
    licenseToken: a.licenseToken,
    licenseFee: a.licenseFee,
    name: a.name,
    uri: a.uri,
    deprecated: false,
    licenses: 0,
    publishedBlock: event.block.number,
    publishedAt: event.block.timestamp,
    updatedBlock: event.block.number,
  });
});

ponder.on("ModelRegistry:ModelTermsUpdated", async ({ event, context }) => {
  await context.db
    .update(model, { id: event.args.modelId })
    .set({ royaltyBps: event.args.royaltyBps, licenseFee: event.args.licenseFee, updatedBlock: event.block.number });
});

ponder.on("ModelRegistry:ModelDeprecated", async ({ event, context }) => {
  await context.db.update(model, { id: event.args.modelId }).set({ deprecated: true, updatedBlock: event.block.number });
});

ponder.on("ModelRegistry:ModelOwnershipTransferred", async ({ event, context }) => {
  await context.db.update(model, { id: event.args.modelId }).set({ owner: event.args.newOwner, updatedBlock: event.block.number });
});

ponder.on("ModelRegistry:LicenseTaken", async ({ event, context }) => {
  const { modelId, licensee, payer, token, fee } = event.args;
  await context.db.insert(license).values({ modelId, licensee, payer, token, fee, block: event.block.number, txHash: event.transaction.hash });
  await context.db.update(model, { id: modelId }).set((row) => ({ licenses: row.licenses + 1, updatedBlock: event.block.number }));
});
