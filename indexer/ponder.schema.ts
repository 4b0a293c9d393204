// The index: one table per thing the market shows. Amounts are token base units (bigint, numeric in SQL); addresses
// lowercase hex. Every row that an event created or changed carries that event's block, so a reorg (Ponder rolls
// back rows written by orphaned blocks) and "how fresh is this" both have an answer.
import { index, onchainTable, primaryKey } from "ponder";

/** Devices: DeviceRegistered, StakeAdded, DeviceUpdated, DeviceStatusChanged, StakeWithdrawn, DeviceSlashed. */
export const device = onchainTable(
  "device",
  (t) => ({
    id: t.hex().primaryKey(),
    owner: t.hex().notNull(),
    stake: t.bigint().notNull(),
    /** DeviceRegistry.Status by name: active, paused, exiting, removed, withdrawn. */
    status: t.text().notNull(),
    unbondingEnds: t.bigint().notNull(),
    endpoint: t.text().notNull(),
    metadata: t.text().notNull(),
    slashedTotal: t.bigint().notNull(),
    registeredBlock: t.bigint().notNull(),
    updatedBlock: t.bigint().notNull(),
  }),
  (table) => ({ ownerIdx: index().on(table.owner) }),
);

/** Offerings (OfferingSet): price 0 withdraws an offering; the row stays with active = false. */
export const offering = onchainTable(
  "offering",
  (t) => ({
    device: t.hex().notNull(),
    modelId: t.bigint().notNull(),
    token: t.hex().notNull(),
    price: t.bigint().notNull(),
    active: t.boolean().notNull(),
    updatedBlock: t.bigint().notNull(),
  }),
  (table) => ({ pk: primaryKey({ columns: [table.device, table.modelId, table.token] }), modelIdx: index().on(table.modelId) }),
);

/** Models (ModelPublished, ModelTermsUpdated, ModelDeprecated, ModelOwnershipTransferred); a new version is a new row. */
export const model = onchainTable(
  "model",
  (t) => ({
    id: t.bigint().primaryKey(),
    owner: t.hex().notNull(),
    /** 0 for a first version. */
    predecessor: t.bigint().notNull(),
    version: t.integer().notNull(),
    contentHash: t.hex().notNull(),
    royaltyBps: t.integer().notNull(),
    licenseToken: t.hex().notNull(),
    licenseFee: t.bigint().notNull(),
    name: t.text().notNull(),
    uri: t.text().notNull(),
    deprecated: t.boolean().notNull(),
    licenses: t.integer().notNull(),
    publishedBlock: t.bigint().notNull(),
    publishedAt: t.bigint().notNull(),
    updatedBlock: t.bigint().notNull(),
  }),
  (table) => ({ ownerIdx: index().on(table.owner), predecessorIdx: index().on(table.predecessor) }),
);

/** Licenses (LicenseTaken). */
export const license = onchainTable(
  "license",
  (t) => ({
    modelId: t.bigint().notNull(),
    licensee: t.hex().notNull(),
    payer: t.hex().notNull(),
    token: t.hex().notNull(),
    fee: t.bigint().notNull(),
    block: t.bigint().notNull(),
    txHash: t.hex().notNull(),
  }),
  (table) => ({ pk: primaryKey({ columns: [table.modelId, table.licensee] }), licenseeIdx: index().on(table.licensee) }),
);

/** Channels: terms from ChannelOpened, money from ChannelToppedUp / Claimed, close state from CloseRequested / ChannelSettled. */
export const channel = onchainTable(
  "channel",
  (t) => ({
    id: t.hex().primaryKey(),
    payer: t.hex().notNull(),
    signer: t.hex().notNull(),
    device: t.hex().notNull(),
    payee: t.hex().notNull(),
    token: t.hex().notNull(),
    modelId: t.bigint().notNull(),
    price: t.bigint().notNull(),
    royaltyBps: t.integer().notNull(),
    salt: t.bigint().notNull(),
    deposit: t.bigint().notNull(),
    /** Cumulative amount paid out (the latest claim's cumulativeAmount). */
    claimed: t.bigint().notNull(),
    providerPaid: t.bigint().notNull(),
    royaltyPaid: t.bigint().notNull(),
    claims: t.integer().notNull(),
    /** open, closing (a close was requested; closesAt set) or settled. */
    state: t.text().notNull(),
    closesAt: t.bigint(),
    refund: t.bigint(),
    cooperative: t.boolean(),
    openedBlock: t.bigint().notNull(),
    openedAt: t.bigint().notNull(),
    updatedBlock: t.bigint().notNull(),
  }),
  (table) => ({
    payerIdx: index().on(table.payer),
    // A buyer's channels newest first (the Buy page) without sorting all of them.
    payerOpenedIdx: index().on(table.payer, table.openedBlock),
    deviceIdx: index().on(table.device),
    payeeIdx: index().on(table.payee),
    modelIdx: index().on(table.modelId),
    stateIdx: index().on(table.state),
  }),
);

/** Claims (Claimed): one row per voucher paid; gas is the whole transaction's (a batch claim pays several). */
export const claim = onchainTable(
  "claim",
  (t) => ({
    id: t.text().primaryKey(),
    channelId: t.hex().notNull(),
    payee: t.hex().notNull(),
    device: t.hex().notNull(),
    modelId: t.bigint().notNull(),
    cumulativeAmount: t.bigint().notNull(),
    providerAmount: t.bigint().notNull(),
    royalty: t.bigint().notNull(),
    /** Gas used by the whole transaction (claim_tx.claims says how many claims shared it). */
    txGasUsed: t.bigint().notNull(),
    block: t.bigint().notNull(),
    timestamp: t.bigint().notNull(),
    txHash: t.hex().notNull(),
    logIndex: t.integer().notNull(),
  }),
  (table) => ({
    channelIdx: index().on(table.channelId),
    payeeIdx: index().on(table.payee),
    // A provider's claim history newest first (the Provider page): tens of thousands of rows per busy provider.
    payeeBlockIdx: index().on(table.payee, table.block),
    deviceIdx: index().on(table.device),
    // A model owner's royalties: the claims on its models' channels.
    modelBlockIdx: index().on(table.modelId, table.block),
    blockIdx: index().on(table.block),
  }),
);

/** Claim transactions: gas used and how many vouchers the transaction paid (batch claims pay several). */
export const claimTx = onchainTable("claim_tx", (t) => ({
  id: t.hex().primaryKey(),
  sender: t.hex().notNull(),
  gasUsed: t.bigint().notNull(),
  effectiveGasPrice: t.bigint().notNull(),
  claims: t.integer().notNull(),
  amount: t.bigint().notNull(),
  block: t.bigint().notNull(),
}));

/** Royalties per model and token: accrued by claims, withdrawn by RoyaltiesWithdrawn. */
export const royalty = onchainTable(
  "royalty",
  (t) => ({
    modelId: t.bigint().notNull(),
    token: t.hex().notNull(),
    accrued: t.bigint().notNull(),
    withdrawn: t.bigint().notNull(),
    claims: t.integer().notNull(),
    updatedBlock: t.bigint().notNull(),
  }),
  (table) => ({ pk: primaryKey({ columns: [table.modelId, table.token] }) }),
);

/** Pull-payment credits (TransferCredited, CreditWithdrawn) per account and token. */
export const credit = onchainTable(
  "credit",
  (t) => ({
    account: t.hex().notNull(),
    token: t.hex().notNull(),
    credited: t.bigint().notNull(),
    withdrawn: t.bigint().notNull(),
    updatedBlock: t.bigint().notNull(),
  }),
  (table) => ({ pk: primaryKey({ columns: [table.account, table.token] }) }),
);

/** Receipt-log anchors (Anchored). */
export const anchor = onchainTable(
  "anchor",
  (t) => ({
    id: t.text().primaryKey(),
    device: t.hex().notNull(),
    fromSeq: t.bigint().notNull(),
    toSeq: t.bigint().notNull(),
    root: t.hex().notNull(),
    head: t.hex().notNull(),
    block: t.bigint().notNull(),
    timestamp: t.bigint().notNull(),
    txHash: t.hex().notNull(),
  }),
  (table) => ({ deviceIdx: index().on(table.device) }),
);

/**
 * Disputes: omission challenges (OmissionChallenged, then OmissionAnswered or OmissionEnforced; id
 * "omission:<device>:<digest>") and equivocation proofs (EquivocationProven; id "equivocation:<event id>").
 */
export const dispute = onchainTable(
  "dispute",
  (t) => ({
    id: t.text().primaryKey(),
    kind: t.text().notNull(),
    device: t.hex().notNull(),
    /** Challenger (omission) or reporter (equivocation). */
    reporter: t.hex().notNull(),
    /** open, answered, enforced (omission), proven (equivocation); open, resolved (answer, from AnswerDisputes). */
    state: t.text().notNull(),
    digest: t.hex().notNull(),
    digestB: t.hex(),
    sequence: t.bigint(),
    root: t.hex(),
    deadline: t.bigint(),
    bond: t.bigint(),
    answerer: t.hex(),
    slashed: t.bigint(),
    reward: t.bigint(),
    /** Answer disputes once resolved: device_lost, reporter_lost or no_decision. */
    outcome: t.text(),
    openedBlock: t.bigint().notNull(),
    updatedBlock: t.bigint().notNull(),
  }),
  (table) => ({ deviceIdx: index().on(table.device), stateIdx: index().on(table.state) }),
);

/** Slashes (DeviceSlashed). */
export const slash = onchainTable(
  "slash",
  (t) => ({
    id: t.text().primaryKey(),
    device: t.hex().notNull(),
    beneficiary: t.hex().notNull(),
    amount: t.bigint().notNull(),
    removed: t.boolean().notNull(),
    block: t.bigint().notNull(),
    txHash: t.hex().notNull(),
  }),
  (table) => ({ deviceIdx: index().on(table.device) }),
);

/** Buyers' feedback (DeviceReputation NewFeedback / FeedbackRevoked / FeedbackChannel), one row per entry. */
export const feedback = onchainTable(
  "feedback",
  (t) => ({
    /** device:client:feedbackIndex. */
    id: t.text().primaryKey(),
    device: t.hex().notNull(),
    client: t.hex().notNull(),
    feedbackIndex: t.bigint().notNull(),
    value: t.bigint().notNull(),
    valueDecimals: t.integer().notNull(),
    tag1: t.text().notNull(),
    tag2: t.text().notNull(),
    endpoint: t.text().notNull(),
    feedbackUri: t.text().notNull(),
    feedbackHash: t.hex().notNull(),
    /** The payment channel it was given against. */
    channelId: t.hex(),
    revoked: t.boolean().notNull(),
    block: t.bigint().notNull(),
    txHash: t.hex().notNull(),
  }),
  (table) => ({ deviceIdx: index().on(table.device), clientIdx: index().on(table.client) }),
);

/** FeedbackChannel logs, which precede their NewFeedback in the same transaction: joined into `feedback`. */
export const feedbackChannel = onchainTable("feedback_channel", (t) => ({ id: t.text().primaryKey(), channelId: t.hex().notNull() }));

/** Failed spot checks per device and buyer, not revoked: a device's failingClients counts rows with failed > 0. */
export const feedbackClient = onchainTable(
  "feedback_client",
  (t) => ({ device: t.hex().notNull(), client: t.hex().notNull(), failed: t.integer().notNull() }),
  (table) => ({ pk: primaryKey({ columns: [table.device, table.client] }) }),
);

/** Transactions that slashed a device (device:txHash): a slash paid to several beneficiaries counts once. */
export const slashTx = onchainTable("slash_tx", (t) => ({ id: t.text().primaryKey() }));

/**
 * Per device: the counts of protocol/reputation-score.ts ReputationCounts and the score, kept up to date by the
 * handlers of FlightRecorder, AnswerDisputes, DeviceRegistry and DeviceReputation (equal to protocol/reputation.ts
 * readReputation over the same blocks).
 */
export const reputation = onchainTable(
  "reputation",
  (t) => ({
    id: t.hex().primaryKey(),
    receiptsAnchored: t.bigint().notNull(),
    spotChecksPassed: t.integer().notNull(),
    spotChecksFailed: t.integer().notNull(),
    failingClients: t.integer().notNull(),
    uptimeReports: t.integer().notNull(),
    /** Sum of the uptime reports in basis points (uptimeBps = floor(sum / reports)). */
    uptimeBpsSum: t.bigint().notNull(),
    uptimeBps: t.integer(),
    disputesWon: t.integer().notNull(),
    disputesLost: t.integer().notNull(),
    slashes: t.integer().notNull(),
    slashedAmount: t.bigint().notNull(),
    /** 0..100, protocol/reputation-score.ts reputationScore. */
    score: t.integer().notNull(),
    updatedBlock: t.bigint().notNull(),
  }),
  (table) => ({ scoreIdx: index().on(table.score) }),
);
