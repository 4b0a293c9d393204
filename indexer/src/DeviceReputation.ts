import { ponder } from "ponder:registry";
import { feedback, feedbackChannel, feedbackClient } from "ponder:schema";
import { SPOT_CHECK_TAG, UPTIME_TAG, uptimeBps } from "@edgepay/protocol/reputation";
import { bumpReputation } from "./reputation.ts";

/** agentId -> device key (DeviceReputation.agentIdOf). */
const deviceOf = (agentId: bigint) => `0x${agentId.toString(16).padStart(40, "0")}` as `0x${string}`;
const feedbackId = (device: string, client: string, index: bigint) => `${device.toLowerCase()}:${client.toLowerCase()}:${index}`;

ponder.on("DeviceReputation:FeedbackChannel", async ({ event, context }) => {
  const { device, clientAddress, feedbackIndex, channelId } = event.args;
  await context.db.insert(feedbackChannel).values({ id: feedbackId(device, clientAddress, feedbackIndex), channelId });
});

ponder.on("DeviceReputation:NewFeedback", async ({ event, context }) => {
  const { agentId, clientAddress: client, feedbackIndex, value, valueDecimals, tag1, tag2, endpoint, feedbackURI, feedbackHash } = event.args;
  const device = deviceOf(agentId);
  const id = feedbackId(device, client, feedbackIndex);
  const channel = await context.db.find(feedbackChannel, { id });
  await context.db.insert(feedback).values({
    id,
    device,
    client,
    feedbackIndex,
    value,
    valueDecimals,
    tag1,
    tag2,
    endpoint,
    feedbackUri: feedbackURI,
    feedbackHash,
    channelId: channel?.channelId ?? null,
    revoked: false,
    block: event.block.number,
    txHash: event.transaction.hash,
  });
  await count(context.db, device, client, tag1, value, valueDecimals, event.block.number, 1);
});

ponder.on("DeviceReputation:FeedbackRevoked", async ({ event, context }) => {
  const { agentId, clientAddress: client, feedbackIndex } = event.args;
  const device = deviceOf(agentId);
  const row = await context.db.find(feedback, { id: feedbackId(device, client, feedbackIndex) });
  if (!row || row.revoked) return;
  await context.db.update(feedback, { id: row.id }).set({ revoked: true });
  await count(context.db, device, client, row.tag1, row.value, row.valueDecimals, event.block.number, -1);
});

/** Adds (+1) or removes (-1) one entry from the device's counts, as protocol/reputation.ts feedbackCounts counts it. */
async function count(
  db: Parameters<typeof bumpReputation>[0],
  device: `0x${string}`,
  client: `0x${string}`,
  tag1: string,
  value: bigint,
  valueDecimals: number,
  block: bigint,
  sign: 1 | -1,
) {
  if (tag1 === SPOT_CHECK_TAG && value > 0n) {
    await bumpReputation(db, device, block, (c) => ({ spotChecksPassed: c.spotChecksPassed + sign }));
  } else if (tag1 === SPOT_CHECK_TAG) {
    const key = { device: device.toLowerCase() as `0x${string}`, client: client.toLowerCase() as `0x${string}` };
    const before = (await db.find(feedbackClient, key))?.failed ?? 0;
    const after = before + sign;
    await db.insert(feedbackClient).values({ ...key, failed: after }).onConflictDoUpdate({ failed: after });
    const failingDelta = before === 0 && after > 0 ? 1 : before > 0 && after === 0 ? -1 : 0;
    await bumpReputation(db, device, block, (c) => ({ spotChecksFailed: c.spotChecksFailed + sign, failingClients: c.failingClients + failingDelta }));
  } else if (tag1 === UPTIME_TAG) {
    const bps = BigInt(uptimeBps(value, valueDecimals));
    await bumpReputation(db, device, block, (c) => ({ uptimeReports: c.uptimeReports + sign, uptimeBpsSum: c.uptimeBpsSum + BigInt(sign) * bps }));
  }
}
