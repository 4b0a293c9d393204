// Assembles a worker: key, database, chain reader, models (hash-checked against the registry), ledger, watcher,
// settler and HTTP server. `stop()` is graceful: no new requests, pending writes flushed, final settlement.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { ChainReader } from "./chain.ts";
import { resolveConfig, type ResolvedConfig, type WorkerConfig } from "./config.ts";
import { digestSigner } from "./crypto.ts";
import { createApp, type ServedModel } from "./http/app.ts";
import { EXACT_MAX_TIMEOUT_SECONDS, EXACT_SETTLE_MARGIN_SECONDS, loadExactOffers, type ExactContext } from "./http/x402-exact.ts";
import { ExactPayments } from "./store/exact.ts";
import { unlockKeystore } from "./keystore.ts";
import { Ledger } from "./ledger.ts";
import { createMetrics } from "./metrics.ts";
import { ModelRuntime } from "./models/runtime.ts";
import type { OutputFault } from "./models/fault.ts";
import { resolveUnitRule } from "./metering.ts";
import { TxSender } from "./settlement/sender.ts";
import { Settler } from "./settlement/settler.ts";
import { GroupCommitter } from "./store/committer.ts";
import { PhaseTimings } from "./perf/phase-timings.ts";
import { Store } from "./store/db.ts";
import { lockDataDir } from "./store/lock.ts";
import { ChainWatcher } from "./watcher.ts";
import { Anchorer } from "./recorder/anchorer.ts";
import { startDisputeMember, type RunningMember } from "./disputes/start.ts";
import { RecorderLog } from "./recorder/log.ts";
import { ProofCache } from "./recorder/proofs.ts";
import { challengePeriodProblem, IndexFollower } from "./chain/channel-index.ts";
import { ConnectionGuard, serverOptions, UnpaidLimiter } from "./http/limits.ts";
import { Gauge } from "prom-client";

export interface RunningWorker {
  url: string;
  device: Address;
  /** Graceful stop: stop accepting, flush, verify deferred vouchers, claim everything claimable, close the DB. */
  stop(): Promise<void>;
  /** Internals for tests and tools. */
  internals: {
    config: ResolvedConfig;
    store: Store;
    ledger: Ledger;
    settler: Settler;
    watcher: ChainWatcher;
    metrics: ReturnType<typeof createMetrics>;
    index: IndexFollower;
    guard: ConnectionGuard;
    models: Map<string, ServedModel>;
    /** The dispute committee member (config `verifier`). */
    disputes?: RunningMember;
  };
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  /** Serve POST /v1/unpaid/infer/:modelId (the benchmark's unpaid baseline). Never on in production. */
  unpaidRoute?: boolean;
  /**
   * Test and demo only: serve wrong answers (worker/models/fault.ts) for the spot-check tests and a rogue device in
   * the demo. Deliberately not part of WorkerConfig, so no config file, environment variable or request turns it on.
   */
  faults?: { outputs?: OutputFault };
  /** Line logger (default: console with the config's level). */
  log?: (level: "error" | "info" | "debug", msg: string) => void;
}

const LEVELS = { silent: 0, error: 1, info: 2, debug: 3 } as const;

export async function startWorker(input: WorkerConfig | ResolvedConfig, options: StartOptions = {}): Promise<RunningWorker> {
  const config = resolveConfig(input);
  const level = LEVELS[config.logLevel];
  const log =
    options.log ??
    ((l: "error" | "info" | "debug", msg: string) => {
      if (LEVELS[l] <= level) (l === "error" ? console.error : console.log)(`[worker] ${msg}`);
    });

  const key = unlockKeystore(config.dataDir, options.env ?? process.env);
  const device = digestSigner(key.privateKey);
  const chain = new ChainReader(config.rpcUrl, config.contracts, config.fromBlock);
  const chainId = await chain.chainId().catch((e: unknown) => {
    throw new Error(`cannot reach the chain at ${config.rpcUrl}: ${(e as Error).message.split("\n")[0]}`);
  });

  // Deployment guard: a challenge period the worker cannot claim inside is a loss waiting to happen.
  const challengePeriod = await chain.challengePeriod();
  const problem = challengePeriodProblem(challengePeriod, config);
  if (problem) throw new Error(problem);

  const record = await chain.device(device.address);
  if (!record) {
    throw new Error(`device ${device.address} is not registered in DeviceRegistry ${config.contracts.deviceRegistry}: run \`worker/cli.ts register\``);
  }
  let payee: Address = record.owner;

  const models = new Map<string, ServedModel>();
  const loaded: ModelRuntime[] = [];
  try {
    for (const m of config.models) {
      const onchain = await chain.model(m.modelId).catch(() => undefined);
      if (!onchain) throw new Error(`model ${m.modelId} does not exist in ModelRegistry ${config.contracts.modelRegistry}`);
      const runtime = await ModelRuntime.load({ modelId: m.modelId, name: m.name ?? onchain.name, file: m.file, fault: options.faults?.outputs });
      loaded.push(runtime);
      if (runtime.hash.toLowerCase() !== onchain.contentHash.toLowerCase()) {
        throw new Error(
          `model ${m.modelId} (${runtime.name}): ${m.file} has sha256 ${runtime.hash} but the ModelRegistry content hash is ${onchain.contentHash}; refusing to serve it`,
        );
      }
      const price = await chain.offeringPrice(device.address, m.modelId, config.contracts.token);
      if (price === 0n) {
        throw new Error(`model ${m.modelId} (${runtime.name}): device ${device.address} has no offering in token ${config.contracts.token}; run \`worker/cli.ts register\``);
      }
      const unit = resolveUnitRule(runtime, m.units);
      models.set(m.modelId.toString(), { runtime, token: config.contracts.token, price, unit, royaltyBps: onchain.royaltyBps });
    }
  } catch (error) {
    for (const r of loaded) await r.release().catch(() => undefined);
    throw error;
  }

  const unlock = lockDataDir(config.dataDir);
  let store: Store;
  try {
    store = new Store(config.dataDir);
  } catch (error) {
    unlock();
    for (const m of models.values()) await m.runtime.release().catch(() => undefined);
    throw error;
  }
  const metaDevice = store.getMeta("device");
  const metaChannels = store.getMeta("paymentChannels");
  if ((metaDevice && metaDevice !== device.address) || (metaChannels && metaChannels !== `${chainId}:${config.contracts.paymentChannels}`)) {
    store.close();
    unlock();
    throw new Error(
      `database ${store.file} belongs to device ${metaDevice} on ${metaChannels}, not ${device.address} on ${chainId}:${config.contracts.paymentChannels}`,
    );
  }
  store.setMeta("device", device.address);
  store.setMeta("paymentChannels", `${chainId}:${config.contracts.paymentChannels}`);

  const metrics = createMetrics();
  const committer = new GroupCommitter({
    dataDir: config.dataDir,
    receipts: { privateKey: key.privateKey, chainId, paymentChannels: config.contracts.paymentChannels },
    synchronous: config.durability === "os-buffered" ? "normal" : "full",
  });
  const timings = config.debug.timings ? new PhaseTimings() : undefined;
  if (timings) {
    committer.onGroup = ({ ops, encodeMs, phases: [decodeMs, statementsMs, hashMs, signMs, commitMs], hopMs, writerCpuUs }) =>
      timings.addGroup({ ops, encodeMs, decodeMs, statementsMs, hashMs, signMs, commitMs, hopMs }, writerCpuUs);
  }
  committer.onFlush = (size, writerMs, roundTripMs) => {
    metrics.commitBatch.observe(size);
    metrics.commitDuration.observe(writerMs / 1000);
    metrics.commitRoundTrip.observe(roundTripMs / 1000);
  };
  const lastSequence = { value: store.lastReceipt()?.sequence ?? 0n };

  let settler: Settler | undefined;
  let watcher: ChainWatcher | undefined;
  const now = () => watcher?.clock.now() ?? Math.floor(Date.now() / 1000);
  const ledger = new Ledger({
    store,
    chain,
    device,
    committer,
    options: { chainId, closeSafetySeconds: config.settlement.closeSafetySeconds, maxUnverifiedValue: config.verification.maxUnverifiedValue, maxDeferredChannels: config.verification.maxDeferredChannels, now },
    events: {
      rejected: (reason) => metrics.rejectedVouchers.inc({ reason }),
      deferredFailure: (id) => {
        metrics.deferredFailures.inc();
        log("error", `channel ${id}: a deferred voucher signature is invalid; channel blocked`);
      },
      recovered: (kind) => {
        metrics.recoveries.inc({ kind });
        timings?.count(`ecdsa recovery (${kind})`);
      },
    },
  });
  watcher = new ChainWatcher({
    chain,
    ledger,
    store,
    committer,
    device: device.address,
    getLogsRange: config.index.getLogsRange,
    getLogsRetries: config.index.getLogsRetries,
    events: { closeRequested: (id, closesAt) => {
      log("info", `close requested on ${id} (closes at ${closesAt}); claiming`);
      settler?.kick();
    } },
  });

  const index = new IndexFollower(() => watcher!.poll(), config.index);
  ledger.useIndex(index);

  const account = privateKeyToAccount(key.privateKey);
  const sender = new TxSender(chain.client, account, store, {
    chainId,
    pollMs: Math.min(500, config.settlement.pollIntervalMs),
    stuckAfterMs: config.settlement.stuckAfterMs,
    timeoutMs: Math.max(60_000, config.settlement.stuckAfterMs * 4),
    log: (msg) => log("info", msg),
  });
  // Flight recorder: append-only receipt log (triggers), anchors, proofs.
  const recorderLog = new RecorderLog(store);
  const proofs = new ProofCache(recorderLog, device.address);
  const flightRecorder = config.contracts.flightRecorder;
  const anchorer = flightRecorder
    ? new Anchorer({
        client: chain.client,
        flightRecorder,
        log: recorderLog,
        proofs,
        sender,
        device: device.address,
        options: { ...config.recorder, fromBlock: config.fromBlock, getLogsRange: config.index.getLogsRange, log: (msg) => log("info", msg) },
      })
    : undefined;
  if (!anchorer) log("info", "no FlightRecorder configured (contracts.flightRecorder): receipts are logged but not anchored");
  settler = new Settler({
    anchorer,
    ledger,
    chain,
    sender,
    metrics,
    options: { ...config.settlement, now, log: (msg) => log("info", msg) },
  });

  const abort = async (error: unknown): Promise<never> => {
    await committer.close().catch(() => undefined);
    store.close();
    unlock();
    for (const m of models.values()) await m.runtime.release().catch(() => undefined);
    throw error;
  };

  // Restart recovery: deferred vouchers from before a crash are verified before anything else uses them,
  // earlier transactions are reconciled by receipt, and the chain is caught up.
  try {
    await ledger.verifyAllDeferred();
    await sender.reconcile();
    if (anchorer) {
      await anchorer.checkDeployment(config.contracts.paymentChannels);
      await anchorer.sync();
    }
    await index.poll();
  } catch (error) {
    await abort(error);
  }

  const refreshGauges = () => {
    const unclaimed = new Map<string, bigint>();
    let open = 0;
    for (const ch of ledger.all()) {
      if (!ch.settled) open++;
      if (!ch.settled && ch.acceptedAmount > ch.claimed) unclaimed.set(ch.terms.token, (unclaimed.get(ch.terms.token) ?? 0n) + ch.acceptedAmount - ch.claimed);
    }
    metrics.unclaimedValue.reset();
    for (const [token, v] of unclaimed) metrics.unclaimedValue.set({ token }, Number(v));
    metrics.openChannels.set(open);
  };

  // x402 `exact`: offered when the PaymentChannels contract has settleExact, per model whose token's EIP-712 domain is
  // known (ERC-5267, or `exactTokens` checked against DOMAIN_SEPARATOR()); a deployment from before serves channels only.
  let exact: ExactContext | undefined;
  // A worker that serves sealed requests only does not offer `exact`: an exact request has no channel keys to seal with.
  if (config.http.requireSealed) log("info", "x402 exact not offered: http.requireSealed is set");
  else try {
    exact = {
      client: chain.client,
      sender,
      payments: new ExactPayments(store),
      paymentChannels: config.contracts.paymentChannels,
      offers: await loadExactOffers(chain.client, config.contracts.paymentChannels, device.address, models, (id, why) => log("info", `x402 exact not offered for model ${id}: ${why}`), {
        chainId,
        domains: config.exactTokens,
      }),
      maxTimeoutSeconds: EXACT_MAX_TIMEOUT_SECONDS,
      settleMarginSeconds: EXACT_SETTLE_MARGIN_SECONDS,
    };
  } catch (error) {
    log("info", `x402 exact not offered: ${(error as Error).message.split("\n")[0]}`);
  }

  const app = createApp(
    {
      config,
      chainId,
      device,
      payee: () => payee,
      models,
      ledger,
      store,
      committer,
      lastSequence,
      metrics,
      log,
      now,
      limiter: new UnpaidLimiter(config.http.unpaidPerClient),
      timings,
      exact,
      recorder: { device: device.address, chainId, paymentChannels: config.contracts.paymentChannels, flightRecorder, log: recorderLog, proofs },
      settle: {
        device: device.address,
        // {timestamp, signature}: a few hundred bytes; nothing larger is read before the signature is checked.
        maxBodyBytes: Math.min(4096, config.maxBodyBytes),
        owner: () => payee,
        refreshOwner: async () => {
          const d = await chain.device(device.address);
          if (d) payee = d.owner;
          return payee;
        },
        claimNow: () => settler!.claimNow(),
        log,
      },
      health: () => ({
        device: device.address,
        chainId,
        block: watcher!.lastBlock.toString(),
        receipts: lastSequence.value.toString(),
        pendingTxs: store.openTxs().length,
        models: [...models.keys()],
      }),
    },
    { unpaidRoute: options.unpaidRoute ?? false },
  );

  const server: Server = createServer(serverOptions(config.http), (req, res) => {
    // Once stopping, every answer closes its connection: otherwise buyers with busy keep-alive connections keep
    // being served, server.close() never completes and the final claims never run.
    if (stopping) res.setHeader("connection", "close");
    void app(req, res);
  });
  const guard = new ConnectionGuard(config.http, log);
  guard.install(server);
  new Gauge({
    name: "edgepay_http_connections",
    help: "HTTP boundary: open connections, and (cumulative) connections refused per client / at the cap, idle ones evicted, requests timed out",
    labelNames: ["state"],
    registers: [metrics.registry],
    collect() {
      this.set({ state: "open" }, guard.open);
      this.set({ state: "refused_per_client" }, guard.stats.refusedPerClient);
      this.set({ state: "refused_full" }, guard.stats.refusedFull);
      this.set({ state: "evicted" }, guard.stats.evicted);
      this.set({ state: "timed_out" }, guard.stats.timedOut);
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  }).catch((error: unknown) => abort(new Error(`cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`)));
  const address = server.address() as AddressInfo;
  const url = `http://${address.address.includes(":") ? `[${address.address}]` : address.address}:${address.port}`;

  // Background loops: chain events, deferred verification, offering refresh, gauges.
  let polling = false;
  let pollCount = 0;
  const pollTimer = setInterval(() => {
    if (polling) return;
    polling = true;
    pollCount++;
    void (async () => {
      try {
        await index.poll();
        if (pollCount % 10 === 0) {
          const d = await chain.device(device.address);
          if (d) payee = d.owner;
          for (const m of models.values()) {
            const p = await chain.offeringPrice(device.address, m.runtime.modelId, m.token);
            if (p > 0n) m.price = p;
          }
        }
        refreshGauges();
      } catch (error) {
        log("error", `chain poll: ${(error as Error).message.split("\n")[0]}`);
      } finally {
        polling = false;
      }
    })();
  }, config.settlement.pollIntervalMs);
  const verifyTimer = setInterval(() => void ledger.verifyAllDeferred().catch((e: unknown) => log("error", `verify: ${(e as Error).message}`)), config.verification.backgroundMs);
  settler.start();
  let disputes: RunningMember | undefined;
  try {
    disputes = await startDisputeMember({ config, client: chain.client, sender, store, device: device.address, models, log: (l, m) => log(l, m) });
  } catch (error) {
    clearInterval(pollTimer);
    clearInterval(verifyTimer);
    server.close();
    await settler.shutdown().catch(() => undefined);
    await abort(error);
  }
  log("info", `device ${device.address} serving ${[...models.values()].map((m) => `${m.runtime.modelId}:${m.runtime.name}`).join(", ")} at ${url} (chain ${chainId})`);

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      clearInterval(pollTimer);
      clearInterval(verifyTimer);
      await disputes?.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await committer.drain();
      try {
        await watcher!.poll().catch(() => undefined);
        await settler!.shutdown();
      } catch (error) {
        log("error", `final settlement: ${(error as Error).message.split("\n")[0]}`);
      }
      for (const m of models.values()) await m.runtime.release().catch(() => undefined);
      await committer.close();
      store.close();
      unlock();
      log("info", "stopped");
    })();
    return stopping;
  };

  return { url, device: device.address, stop, internals: { config, store, ledger, settler, watcher, metrics, index, guard, models, disputes } };
}
