"use client";
import { useMemo, useRef, useState } from "react";
import type { Address } from "viem";
import { useConnection } from "wagmi";
import { useQuery } from "@tanstack/react-query";
import { CLS_LABELS, initialVadState, ocrClsInput, sileroVadInputs, vadFrames } from "../../../protocol/client/inputs.ts";
import { hashTensors, tensorFromWire, tensorMapWire, type Tensor } from "../../../protocol/tensors.ts";
import type { SignedReceipt } from "../../../protocol/receipt.ts";
import { UnitError, unitsOf, type UnitRule } from "../../../protocol/units.ts";
import { Addr } from "../../components/Addr.tsx";
import { LineChart } from "../../components/LineChart.tsx";
import { RequireWallet } from "../../components/RequireWallet.tsx";
import { useBuyer } from "../../hooks/useBuyer.ts";
import { useBuyerStore } from "../../hooks/useBuyerStore.ts";
import { useChannels } from "../../hooks/useChannels.ts";
import { useDevices } from "../../hooks/useDevices.ts";
import { useEdgepay } from "../../hooks/useEdgepay.ts";
import { useModels } from "../../hooks/useModels.ts";
import { useToken } from "../../hooks/useToken.ts";
import { decodeTo16k, startRecording } from "../../lib/audio.ts";
import { imageFilePixels, softmax } from "../../lib/image.ts";
import { checkReceipt, type ReceiptCheck } from "../../lib/receipt-checks.ts";
import { shortHex } from "../../lib/format.ts";
import type { LocalStorageBuyerStore } from "../../lib/session-store.ts";
import { FieldError } from "../../components/ActionError.tsx";
import { describeBuyerError } from "../../lib/buyer-error.ts";

type Kind = "vad" | "ocr" | "json";

const MAX_FRAMES = 500;

interface RunResult {
  calls: number;
  paid: bigint;
  receipt: SignedReceipt;
  checks: ReceiptCheck[];
  channelId: string;
  summary: string;
  vad?: number[];
  ocr?: { label: string; p: number }[];
  outputsPreview?: string;
}

export default function TryPage() {
  return (
    <>
      <h1>Try it: a paid inference from this browser</h1>
      <p className="muted">
        Each call is paid with a voucher signed by the channel&apos;s session key kept in this browser: no wallet prompt per inference. The device answers
        with a receipt signed by its key, which is checked here against what was paid, sent and received.
      </p>
      <RequireWallet what="run paid inferences">
        <Try />
      </RequireWallet>
    </>
  );
}

function Try() {
  const { address } = useConnection();
  const edgepay = useEdgepay();
  const token = useToken(address);
  const store = useBuyerStore();
  const buyer = useBuyer();
  const channels = useChannels({ payer: address });
  const devices = useDevices();
  const models = useModels();
  const [choice, setChoice] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [progress, setProgress] = useState<string>();
  const [result, setResult] = useState<RunResult>();
  const [file, setFile] = useState<File>();
  const [recorded, setRecorded] = useState<ArrayBuffer>();
  const [recording, setRecording] = useState<{ stop: () => Promise<ArrayBuffer> }>();
  const [frames, setFrames] = useState("16");
  const [json, setJson] = useState("");
  const [preview, setPreview] = useState<string>();
  const fileInput = useRef<HTMLInputElement>(null);
  const running = useRef(false);
  const [audioFrames, setAudioFrames] = useState<number>();
  const [storageWarning, setStorageWarning] = useState<string>();

  // Usable: open, session key here, credit for one more call. The store is read on every render (it is local and
  // cheap): a run moves a channel's paid amount without a new block.
  const open = useMemo(
    () =>
      (channels.data ?? [])
        .filter((c) => !c.settled && c.closesAt === 0)
        .map((c) => ({
          c,
          device: devices.data?.find((d) => d.device.toLowerCase() === c.terms.device.toLowerCase()),
          model: models.data?.find((m) => m.modelId === c.terms.modelId),
        }))
        .sort((a, b) => Number(b.c.openedBlock - a.c.openedBlock)),
    [channels.data, devices.data, models.data],
  );
  const usable = open
    .map((u) => ({ ...u, record: store.getChannelSync(u.c.channelId) }))
    .filter((u) => !!u.record)
    .map((u) => ({ ...u, credit: u.c.deposit - (u.record!.paid > u.c.claimed ? u.record!.paid : u.c.claimed) }))
    .filter((u) => u.credit >= u.c.terms.price);
  const selected = usable.find((u) => u.c.channelId === choice) ?? usable[0];
  const endpoint = selected?.device?.endpoint;

  const offerings = useQuery({
    queryKey: ["workerOfferings", endpoint],
    enabled: !!buyer && !!endpoint,
    queryFn: () => buyer!.offerings(endpoint!),
    retry: false,
  });
  const spec = offerings.data?.models.find((m) => selected && BigInt(m.modelId) === selected.c.terms.modelId);
  const kind: Kind | undefined = spec
    ? spec.inputs.some((i) => i.name === "state") && spec.inputs.some((i) => i.name === "sr")
      ? "vad"
      : spec.inputs.length === 1 && spec.inputs[0]!.dims.length === 4 && String(spec.inputs[0]!.dims[1]) === "3"
        ? "ocr"
        : "json"
    : undefined;

  // What a run will cost, shown before it starts: no value is coerced, an invalid one disables the run.
  const framesCount = /^[0-9]+$/.test(frames.trim()) ? Number(frames.trim()) : undefined;
  const framesError =
    kind !== "vad"
      ? undefined
      : framesCount === undefined
        ? "Enter a whole number of frames, 1 to 500."
        : framesCount < 1
          ? "At least 1 frame."
          : framesCount > MAX_FRAMES
            ? `At most ${MAX_FRAMES} frames per run.`
            : audioFrames !== undefined && framesCount > audioFrames
              ? `The audio has only ${audioFrames} frames.`
              : undefined;
  // Custom tensors: one call of as many units as the model's published rule counts in them (a batch costs its units).
  const jsonUnits = ((): { units?: number; error?: string } => {
    if (kind !== "json" || !spec) return {};
    try {
      const parsed = tensorMapWire.safeParse(JSON.parse(json || "{}"));
      if (!parsed.success) return { error: "Not a tensor map: {\"<name>\": {\"type\", \"dims\", \"data\"}}." };
      return { units: unitsOf(spec.unit as UnitRule, parsed.data) };
    } catch (e) {
      return { error: e instanceof UnitError ? e.message : `Not JSON: ${(e as Error).message}` };
    }
  })();
  const calls = kind === "vad" ? (framesError ? undefined : framesCount) : kind === "json" ? (jsonUnits.units !== undefined ? 1 : undefined) : kind ? 1 : undefined;
  const unitsPerCall = kind === "json" ? (jsonUnits.units ?? 1) : 1;
  const total = calls !== undefined && selected ? BigInt(calls) * BigInt(unitsPerCall) * selected.c.terms.price : undefined;
  const creditError = total !== undefined && selected && total > selected.credit ? `That costs ${token.format(total)}, more than the channel's credit of ${token.format(selected.credit)}.` : undefined;

  const run = async () => {
    if (!buyer || !selected || !endpoint || !kind || calls === undefined || creditError || running.current) return;
    running.current = true;
    setBusy(true);
    setError(undefined);
    setResult(undefined);
    const modelId = selected.c.terms.modelId;
    const modelHash = selected.model?.contentHash;
    try {
      // Before paying: can this browser record what it pays for (channel record and receipts)?
      const storage = await store.storageProblem(calls);
      if (storage) throw new Error(storage);
      const call = async (inputs: Record<string, Tensor>) => {
        // Pays from the selected channel and no other; the receipt must name that channel.
        const r = await buyer.infer(modelId, inputs, { workers: [endpoint], channelId: selected.c.channelId });
        const record = store.getChannelSync(selected.c.channelId);
        const checks = await checkReceipt(r.receipt, {
          device: selected.c.terms.device,
          channelId: selected.c.channelId,
          amount: record?.paid ?? 0n,
          modelId,
          modelHash: modelHash ?? "0x",
          inputHash: hashTensors(inputs),
          outputHash: hashTensors(r.outputs),
          chainId: edgepay.chainId,
          paymentChannels: edgepay.contracts.paymentChannels,
        });
        return { ...r, checks };
      };
      if (kind === "vad") {
        const bytes = recorded ?? (file ? await file.arrayBuffer() : undefined);
        if (!bytes) throw new Error("Choose a WAV file or record audio first.");
        const samples = await decodeTo16k(bytes);
        if (framesCount === undefined) throw new Error(framesError ?? "Enter the number of frames.");
        const available = vadFrames({ sampleRate: 16_000, channels: 1, samples });
        if (framesCount > available.length) throw new Error(`The audio has ${available.length} frames; ${framesCount} were asked. Nothing was paid.`);
        const all = available.slice(0, framesCount);
        let state = initialVadState();
        const probs: number[] = [];
        let paid = 0n;
        let last: Awaited<ReturnType<typeof call>> | undefined;
        for (const [i, frame] of all.entries()) {
          setProgress(`frame ${i + 1} of ${all.length}`);
          last = await call(sileroVadInputs(frame, state));
          // Metered: each answer costs its units x the price per unit (the client signed exactly that).
          paid += last.cost;
          probs.push(Number((last.outputs.output!.data as Float32Array)[0]));
          state = last.outputs.stateN!;
        }
        const speech = probs.filter((p) => p >= 0.5).length;
        setResult({
          calls: all.length,
          paid,
          receipt: last!.receipt,
          checks: last!.checks,
          channelId: last!.channelId,
          vad: probs,
          summary: `${speech} of ${all.length} frames (32 ms each) look like speech (p ≥ 0.5); max p = ${Math.max(...probs).toFixed(3)}`,
        });
      } else if (kind === "ocr") {
        if (!file) throw new Error("Choose an image first.");
        const { pixels, preview: p } = await imageFilePixels(file);
        setPreview(p);
        const r = await call(ocrClsInput(pixels));
        const logits = Array.from(Object.values(r.outputs)[0]!.data as Float32Array);
        // The classifier ends in a softmax already; normalising again is harmless and guards raw logits.
        const probs = logits.every((v) => v >= 0 && v <= 1) && Math.abs(logits.reduce((a, b) => a + b, 0) - 1) < 1e-3 ? logits : softmax(logits);
        const ocr = probs.map((p, i) => ({ label: CLS_LABELS[i] ?? String(i), p }));
        const best = ocr.reduce((a, b) => (b.p > a.p ? b : a));
        setResult({ calls: 1, paid: r.cost, receipt: r.receipt, checks: r.checks, channelId: r.channelId, ocr, summary: `text is rotated ${best.label} (p = ${best.p.toFixed(3)})` });
      } else {
        const parsed = tensorMapWire.safeParse(JSON.parse(json || "{}"));
        if (!parsed.success) throw new Error(`The tensors JSON is not valid: ${parsed.error.issues[0]?.message}`);
        const inputs = Object.fromEntries(Object.entries(parsed.data).map(([k, w]) => [k, tensorFromWire(k, w)]));
        const r = await call(inputs);
        const outputsPreview = Object.entries(r.outputs)
          .map(([k, t]) => `${k} [${t.dims.join(",")}]: ${Array.from(t.data as ArrayLike<number | bigint>).slice(0, 8).join(", ")}${t.data.length > 8 ? ", …" : ""}`)
          .join("\n");
        setResult({ calls: 1, paid: r.cost, receipt: r.receipt, checks: r.checks, channelId: r.channelId, outputsPreview, summary: "outputs below" });
      }
    } catch (e) {
      setError(describeBuyerError(e));
    } finally {
      const unsaved = (buyer.store as Partial<LocalStorageBuyerStore>).unsaved?.length ?? 0;
      if (unsaved) setStorageWarning(`${unsaved} receipt(s) could not be saved (browser storage full): they are kept in this tab only (the Audit page lists them while it stays open); free some storage.`);
      setBusy(false);
      setProgress(undefined);
      running.current = false;
    }
  };

  const countFrames = async (source: Blob | ArrayBuffer | undefined) => {
    setAudioFrames(undefined);
    if (!source) return;
    try {
      const bytes = source instanceof ArrayBuffer ? source : await source.arrayBuffer();
      setAudioFrames(vadFrames({ sampleRate: 16_000, channels: 1, samples: await decodeTo16k(bytes.slice(0)) }).length);
    } catch {
      // Not decodable: the run says so.
    }
  };

  const toggleRecording = async () => {
    if (recording) {
      const bytes = await recording.stop();
      setRecorded(bytes);
      void countFrames(bytes);
      setRecording(undefined);
      return;
    }
    try {
      setRecording(await startRecording());
    } catch (e) {
      setError(`The microphone is not available: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  // Another channel (maybe another model): results, previews and inputs of the previous one no longer apply.
  const changeChannel = (id: string) => {
    setChoice(id);
    setResult(undefined);
    setPreview(undefined);
    setError(undefined);
    setFile(undefined);
    setRecorded(undefined);
    setAudioFrames(undefined);
  };

  if (channels.isLoading) return <p className="muted">Reading your channels…</p>;
  if (usable.length === 0)
    return (
      <p className="card muted">
        No open channel with credit and a session key in this browser. Open one on the <a href="/buy">Buy credits</a> page.
      </p>
    );

  return (
    <>
      <section className="card" aria-label="inference">
        <div className="row">
          <label>
            Channel (offering)
            <select value={selected?.c.channelId} onChange={(e) => changeChannel(e.target.value)} aria-label="channel">
              {usable.map((u) => (
                <option key={u.c.channelId} value={u.c.channelId}>
                  {u.model ? `#${u.model.modelId} ${u.model.name}` : `model #${u.c.terms.modelId}`} · {token.format(u.c.terms.price)}/call · channel {shortHex(u.c.channelId)} · deposit{" "}
                  {token.format(u.c.deposit)} · credit {token.format(u.credit)} · {u.device?.endpoint ?? "?"}
                </option>
              ))}
            </select>
          </label>
        </div>
        {offerings.error && <p className="error">The worker at {endpoint} failed its offerings check: {describeBuyerError(offerings.error)}</p>}
        {spec && (
          <p className="muted small">
            The worker serves <b>{spec.name}</b> (hash <Addr value={spec.modelHash} />), inputs {spec.inputs.map((i) => `${i.name} ${i.type}[${i.dims.map((d) => (/^[0-9]+$/.test(String(d)) ? d : "?")).join(",")}]`).join(", ")}.
          </p>
        )}
        {kind === "vad" && (
          <div className="row">
            <label>
              Audio (WAV or any format the browser decodes)
              <input ref={fileInput} type="file" accept="audio/*,.wav" aria-label="audio file" onChange={(e) => (setFile(e.target.files?.[0]), setRecorded(undefined), void countFrames(e.target.files?.[0]))} />
            </label>
            <button className="ghost" onClick={toggleRecording}>
              {recording ? "Stop recording" : recorded ? "Record again" : "Record"}
            </button>
            <label>
              Frames to analyse (one paid call each)
              <input value={frames} onChange={(e) => setFrames(e.target.value)} aria-label="frames" aria-invalid={!!framesError} style={{ width: 80 }} />
              <FieldError message={framesError} testId="frames-error" />
              {audioFrames !== undefined && <span className="muted small">the audio has {audioFrames} frames</span>}
            </label>
          </div>
        )}
        {kind === "ocr" && (
          <div className="row">
            <label>
              Image of a text line
              <input type="file" accept="image/*" aria-label="image file" onChange={(e) => setFile(e.target.files?.[0])} />
            </label>
            {/* A data: URL made in this tab; next/image optimises remote files, not these. */}
            {/* eslint-disable-next-line @next/next/no-img-element */}
            {preview && <img src={preview} alt="what the model sees" height={48} />}
          </div>
        )}
        {kind === "json" && (
          <label>
            Input tensors as JSON, e.g. {`{"x": {"type": "float32", "dims": [1, 4], "data": [0, 1, 2, 3]}}`}
            <textarea rows={5} value={json} onChange={(e) => setJson(e.target.value)} aria-label="tensors json" />
            <FieldError message={jsonUnits.error} testId="json-error" />
          </label>
        )}
        <div className="row" style={{ marginTop: 10 }}>
          <button onClick={run} disabled={busy || !kind || calls === undefined || !!creditError}>
            {busy ? (progress ?? "Running…") : "Run paid inference"}
          </button>
          {selected && <span className="muted small">Pays {token.format(selected.c.terms.price)} per call from channel <Addr value={selected.c.channelId} /></span>}
        </div>
        {selected && calls !== undefined && total !== undefined && (
          <p className="small" data-testid="cost-preview">
            {calls} {calls === 1 ? "call" : "calls"}
            {unitsPerCall > 1 ? ` of ${unitsPerCall} units` : ""} × {token.format(selected.c.terms.price)} = <b>{token.format(total)}</b> from a credit of {token.format(selected.credit)}
          </p>
        )}
        <FieldError message={creditError} testId="credit-error" />
        {storageWarning && <p className="warn-text small">{storageWarning}</p>}
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
      </section>

      {result && <Result result={result} format={token.format} device={selected!.c.terms.device} />}
    </>
  );
}

function Result({ result, format, device }: { result: RunResult; format: (v: bigint) => string; device: Address }) {
  return (
    <section className="card" aria-label="result" data-testid="result">
      <h2>Result</h2>
      <div className="stats">
        <div className="stat">
          Calls<b data-testid="calls">{result.calls}</b>
        </div>
        <div className="stat">
          Price paid<b data-testid="paid">{format(result.paid)}</b>
        </div>
        <div className="stat">
          Receipt<b data-testid="receipt-valid">{result.checks.every((c) => c.ok) ? "verified" : "REJECTED"}</b>
        </div>
      </div>
      <p data-testid="summary">{result.summary}</p>
      {result.vad && (
        <LineChart
          title="speech probability per 32 ms frame"
          series={[{ name: "p(speech)", color: "#5aa9ff", points: result.vad.map((y, x) => ({ x, y })) }]}
          formatX={(x) => `${((x * 512) / 16000).toFixed(2)} s`}
          formatY={(y) => y.toFixed(2)}
        />
      )}
      {result.ocr && (
        <ul>
          {result.ocr.map((o) => (
            <li key={o.label}>
              {o.label}: {(o.p * 100).toFixed(1)}%
            </li>
          ))}
        </ul>
      )}
      {result.outputsPreview && <pre>{result.outputsPreview}</pre>}
      <h3>Receipt check (last call, sequence {result.receipt.sequence.toString()})</h3>
      <ul className="checks" data-testid="receipt-checks">
        {result.checks.map((c) => (
          <li key={c.name} data-ok={c.ok}>
            <span className={c.ok ? "ok" : "error"}>{c.ok ? "✔" : "✘"}</span> <b>{c.name}</b> <span className="muted small">{c.detail}</span>
          </li>
        ))}
      </ul>
      <p className="muted small">
        Device <Addr value={device} /> · channel <Addr value={result.channelId} /> · cumulative {format(result.receipt.cumulativeAmount)}
      </p>
    </section>
  );
}
