import { ponder } from "ponder:registry";
import { device, offering, slash, slashTx } from "ponder:schema";
import { bumpReputation } from "./reputation.ts";
import { deviceStatusName } from "./status.ts";

ponder.on("DeviceRegistry:DeviceRegistered", async ({ event, context }) => {
  const { device: id, owner, stake, endpoint, metadata } = event.args;
  await context.db.insert(device).values({
    id,
    owner,
    stake,
    status: "active",
    unbondingEnds: 0n,
    endpoint,
    metadata,
    slashedTotal: 0n,
    registeredBlock: event.block.number,
    updatedBlock: event.block.number,
  });
});

ponder.on("DeviceRegistry:StakeAdded", async ({ event, context }) => {
  // The event carries the new total: no arithmetic that a missed event could skew.
  await context.db.update(device, { id: event.args.device }).set({ stake: event.args.stake, updatedBlock: event.block.number });
});

ponder.on("DeviceRegistry:DeviceUpdated", async ({ event, context }) => {
  await context.db.update(device, { id: event.args.device }).set({ endpoint: event.args.endpoint, metadata: event.args.metadata, updatedBlock: event.block.number });
});

ponder.on("DeviceRegistry:DeviceStatusChanged", async ({ event, context }) => {
  await context.db
    .update(device, { id: event.args.device })
    .set({ status: deviceStatusName(event.args.status), unbondingEnds: event.args.unbondingEnds, updatedBlock: event.block.number });
});

ponder.on("DeviceRegistry:StakeWithdrawn", async ({ event, context }) => {
  await context.db.update(device, { id: event.args.device }).set({ stake: 0n, updatedBlock: event.block.number });
});

ponder.on("DeviceRegistry:DeviceSlashed", async ({ event, context }) => {
  const { device: id, beneficiary, amount, removed } = event.args;
  await context.db.update(device, { id }).set((row) => ({ stake: row.stake - amount, slashedTotal: row.slashedTotal + amount, updatedBlock: event.block.number }));
  await context.db.insert(slash).values({ id: event.id, device: id, beneficiary, amount, removed, block: event.block.number, txHash: event.transaction.hash });
  const txKey = `${id.toLowerCase()}:${event.transaction.hash}`;
  const again = (await context.db.find(slashTx, { id: txKey })) !== null;
  if (!again) await context.db.insert(slashTx).values({ id: txKey });
  await bumpReputation(context.db, id, event.block.number, (c) => ({ slashes: c.slashes + (again ? 0 : 1), slashedAmount: c.slashedAmount + amount }));
});

ponder.on("DeviceRegistry:OfferingSet", async ({ event, context }) => {
  const { device: id, modelId, token, price } = event.args;
  await context.db
    .insert(offering)
    .values({ device: id, modelId, token, price, active: price !== 0n, updatedBlock: event.block.number })
    .onConflictDoUpdate({ price, active: price !== 0n, updatedBlock: event.block.number });
});
