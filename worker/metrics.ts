// Prometheus metrics of one worker (its own registry, so several workers can share a process in tests).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export function createMetrics(defaults = true) {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry, prefix: "edgepay_worker_" });
  const m = {
    registry,
    inferences: new Counter({ name: "edgepay_inferences_total", help: "Paid inferences answered", labelNames: ["model"], registers: [registry] }),
    inferenceFailures: new Counter({
      name: "edgepay_inference_failures_total",
      help: "Inferences that failed (payment not consumed)",
      labelNames: ["model"],
      registers: [registry],
    }),
    latency: new Histogram({
      name: "edgepay_request_duration_seconds",
      help: "Paid inference request latency, body read to answer",
      labelNames: ["model"],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    paymentRequired: new Counter({ name: "edgepay_payment_required_total", help: "402 answers", labelNames: ["reason"], registers: [registry] }),
    rejectedVouchers: new Counter({
      name: "edgepay_rejected_vouchers_total",
      help: "Vouchers rejected, by reason",
      labelNames: ["reason"],
      registers: [registry],
    }),
    badRequests: new Counter({ name: "edgepay_bad_requests_total", help: "4xx answers other than payment", labelNames: ["code"], registers: [registry] }),
    replays: new Counter({
      name: "edgepay_replayed_answers_total",
      help: "Answers re-sent for a repeated identical voucher (a lost answer; no second payment)",
      registers: [registry],
    }),
    recoveries: new Counter({ name: "edgepay_signature_recoveries_total", help: "ECDSA recoveries of vouchers", labelNames: ["kind"], registers: [registry] }),
    deferredFailures: new Counter({
      name: "edgepay_deferred_verification_failures_total",
      help: "MAC-authenticated vouchers whose deferred ECDSA check failed (channel blocked)",
      registers: [registry],
    }),
    unclaimedValue: new Gauge({ name: "edgepay_unclaimed_value", help: "Accepted, not yet claimed value (token units)", labelNames: ["token"], registers: [registry] }),
    openChannels: new Gauge({ name: "edgepay_open_channels", help: "Channels of this device not settled", registers: [registry] }),
    claims: new Counter({ name: "edgepay_claims_total", help: "Claim transactions by outcome", labelNames: ["outcome"], registers: [registry] }),
    claimedValue: new Counter({ name: "edgepay_claimed_value_total", help: "Value claimed on-chain (token units)", registers: [registry] }),
    commitDuration: new Histogram({
      name: "edgepay_commit_duration_seconds",
      help: "Group transaction time in the writer thread, fsync included",
      buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1],
      registers: [registry],
    }),
    commitRoundTrip: new Histogram({
      name: "edgepay_commit_round_trip_seconds",
      help: "From handing a group to the writer thread until the event loop hears it is durable",
      buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1],
      registers: [registry],
    }),
    commitBatch: new Histogram({
      name: "edgepay_commit_batch_size",
      help: "Requests per group-commit transaction",
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers: [registry],
    }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
