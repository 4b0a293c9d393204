// Browser-compatible buyer client: channels, paid inference with receipt checks, pluggable storage.
export { Buyer, createBuyer, type AutoOpen, type BuyerEvent, type BuyerOptions, type ChannelSummary, type InferOptions, type InferResult, type OpenArgs, type PreparedPayment, type RecoveryOutcome, type SpendIntent, type VerifiedOfferings } from "./buyer.ts";
export {
  closeChannelCooperatively,
  listChannelsOf,
  openChannel,
  readChannel,
  readModelHash,
  readOfferingTerms,
  readRegistries,
  readTolerance,
  requestCloseChannel,
  statusOf,
  topUpChannel,
  withdrawChannel,
  type Approval,
  type BuyerWallet,
  type ChainContext,
  type ChannelListing,
  type ChannelState,
  type Registries,
} from "./chain.ts";
export { CLIENT_ERROR_CODES, EdgepayClientError, decodeEdgepayRevert, describeContractError, type ClientErrorCode } from "./errors.ts";
export {
  DEFAULT_SPOT_CHECK_RATE,
  SpotCheckUnavailable,
  checkSpotCheckOptions,
  drawSpotCheck,
  judge,
  type LocalVerifier,
  type SpotCheckOptions,
  type SpotCheckVerifier,
} from "./spot-check.ts";
export {
  quarantineRecordFromJson,
  quarantineRecordToJson,
  spotCheckRecordFromJson,
  spotCheckRecordToJson,
  type QuarantineRecord,
  type SpotCheckEvidence,
  type SpotCheckOutcome,
  type SpotCheckRecord,
  type SpotCheckVerifierRecord,
} from "./spot-check-records.ts";
export {
  DISPUTE_OUTCOMES,
  DISPUTE_PHASES,
  SEAT_STATES,
  advanceDispute,
  joinVerifierPool,
  openAnswerDispute,
  readDispute,
  readDisputeParameters,
  readDisputeTolerance,
  sendDisputeTx,
  type AdvanceStep,
  type DisputeContext,
  type DisputeOutcome,
  type DisputePhase,
  type DisputeSeat,
  type DisputeView,
  type OpenedDispute,
  type SeatState,
} from "./answer-dispute.ts";
export { commitVoteCall, judgeDisputedAnswer, readDisputedAnswer, revealVoteCall, type DisputedAnswer } from "./answer-dispute-vote.ts";
export { DISPUTE_EVIDENCE_REASONS, disputeEvidence, type AnswerDisputeEvidence, type DisputeEvidenceReason, type DisputeEvidenceResult } from "./dispute-evidence.ts";
export { disputeSpotCheck, reviewDisputedQuarantines, type BuyerDisputeOptions, type QuarantineReview } from "./buyer-disputes.ts";
export { addressOfPublicKey, randomUint256 } from "./keys.ts";
export { BuyerReputation, type BuyerReputationOptions, type FeedbackSent, type WorkerView } from "./reputation.ts";
export {
  MemoryBuyerStore,
  channelRecordFromJson,
  channelRecordToJson,
  receiptRecordFromJson,
  receiptRecordToJson,
  type BuyerStore,
  type ChannelRecord,
  type ChannelRecordJson,
  type InDoubtRequest,
  type ReceiptRecord,
  type ReceiptRecordJson,
} from "./store.ts";
export { RECEIPT_REJECT_REASONS, verifyReceipt, type ExpectedReceipt, type ReceiptRejectReason, type Verification } from "./verify.ts";
export {
  CLOSE_BODY,
  encodeInferRequest,
  fetchChannelInfo,
  fetchOfferings,
  inferBody,
  postInfer,
  readInferAnswer,
  requestCloseSignature,
  type FetchLike,
  type HttpOptions,
  type InferAnswer,
  type InferEncoding,
  type InferOk,
  type InferRequestBody,
} from "./worker-api.ts";
export { decodeTensorFrame, encodeTensorFrame, TENSORS_MEDIA_TYPE, TensorFrameError } from "../tensor-binary.ts";
export { callPaidTool, paymentRequiredOf, toolErrorOf, type McpCallTool, type McpPaidCall, type McpToolResult } from "./mcp-payment.ts";
