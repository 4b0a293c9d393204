import { ponder } from "ponder:registry";
import { channel, claim, claimTx, credit, royalty } from "ponder:schema";

ponder.on("PaymentChannels:ChannelOpened", async ({ event, context }) => {
  const { channelId, terms, deposit } = event.args;
  await context.db.insert(channel).values({
    id: channelId,
    payer: terms.payer,
    signer: terms.signer,
    device: terms.device,
    payee: terms.payee,
    token: terms.token,
    modelId: terms.modelId,
    price: terms.price,
    royaltyBps: terms.royaltyBps,
    salt: terms.salt,
    deposit,
    claimed: 0n,
    providerPaid: 0n,
    royaltyPaid: 0n,
    claims: 0,
    state: "open",
    openedBlock: event.block.number,
    openedAt: event.block.timestamp,
    updatedBlock: event.block.number,
  });
});

ponder.on("PaymentChannels:ChannelToppedUp", async ({ event, context }) => {
  await context.db.update(channel, { id: event.args.channelId }).set({ deposit: event.args.deposit, updatedBlock: event.block.number });
});

ponder.on("PaymentChannels:Claimed", async ({ event, context }) => {
  const { channelId, payee, cumulativeAmount, providerAmount, royalty: royaltyAmount } = event.args;
  const ch = await context.db
    .update(channel, { id: channelId })
    .set((row) => ({
      claimed: cumulativeAmount,
      providerPaid: row.providerPaid + providerAmount,
      royaltyPaid: row.royaltyPaid + royaltyAmount,
      claims: row.claims + 1,
      updatedBlock: event.block.number,
    }));
  const receipt = event.transactionReceipt;
  await context.db.insert(claim).values({
    id: event.id,
    channelId,
    payee,
    device: ch.device,
    modelId: ch.modelId,
    cumulativeAmount,
    providerAmount,
    royalty: royaltyAmount,
    txGasUsed: receipt.gasUsed,
    block: event.block.number,
    timestamp: event.block.timestamp,
    txHash: event.transaction.hash,
    logIndex: event.log.logIndex,
  });
  const paid = providerAmount + royaltyAmount;
  await context.db
    .insert(claimTx)
    .values({
      id: event.transaction.hash,
      sender: receipt.from,
      gasUsed: receipt.gasUsed,
      effectiveGasPrice: receipt.effectiveGasPrice,
      claims: 1,
      amount: paid,
      block: event.block.number,
    })
    .onConflictDoUpdate((row) => ({ claims: row.claims + 1, amount: row.amount + paid }));
  await context.db
    .insert(royalty)
    .values({ modelId: ch.modelId, token: ch.token, accrued: royaltyAmount, withdrawn: 0n, claims: 1, updatedBlock: event.block.number })
    .onConflictDoUpdate((row) => ({ accrued: row.accrued + royaltyAmount, claims: row.claims + 1, updatedBlock: event.block.number }));
});

ponder.on("PaymentChannels:CloseRequested", async ({ event, context }) => {
  await context.db.update(channel, { id: event.args.channelId }).set({ state: "closing", closesAt: event.args.closesAt, updatedBlock: event.block.number });
});

ponder.on("PaymentChannels:ChannelSettled", async ({ event, context }) => {
  const { channelId, claimed, refund, cooperative } = event.args;
  await context.db.update(channel, { id: channelId }).set({ state: "settled", claimed, refund, cooperative, updatedBlock: event.block.number });
});

ponder.on("PaymentChannels:RoyaltiesWithdrawn", async ({ event, context }) => {
  const { modelId, token, amount } = event.args;
  await context.db
    .insert(royalty)
    .values({ modelId, token, accrued: 0n, withdrawn: amount, claims: 0, updatedBlock: event.block.number })
    .onConflictDoUpdate((row) => ({ withdrawn: row.withdrawn + amount, updatedBlock: event.block.number }));
});

ponder.on("PaymentChannels:TransferCredited", async ({ event, context }) => {
  const { account, token, amount } = event.args;
  await context.db
    .insert(credit)
    .values({ account, token, credited: amount, withdrawn: 0n, updatedBlock: event.block.number })
    .onConflictDoUpdate((row) => ({ credited: row.credited + amount, updatedBlock: event.block.number }));
});

ponder.on("PaymentChannels:CreditWithdrawn", async ({ event, context }) => {
  const { account, token, amount } = event.args;
  await context.db
    .insert(credit)
    .values({ account, token, credited: 0n, withdrawn: amount, updatedBlock: event.block.number })
    .onConflictDoUpdate((row) => ({ withdrawn: row.withdrawn + amount, updatedBlock: event.block.number }));
});
