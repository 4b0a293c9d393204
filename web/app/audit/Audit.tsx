"use client";
import { useState } from "react";
import type { Hex } from "viem";
import type { Check, ReceiptAudit } from "../../../protocol/client/audit.ts";
import { receiptToWire } from "../../../protocol/receipt.ts";
import type { ReceiptRecord } from "../../../protocol/client/store.ts";
import { Addr } from "../../components/Addr.tsx";
import { useEdgepay } from "../../hooks/useEdgepay.ts";
import { useModels } from "../../hooks/useModels.ts";
import { useReceiptAudit } from "../../hooks/useReceiptAudit.ts";
import { useSessionReceipts } from "../../hooks/useSessionReceipts.ts";
import { parseAuditInput } from "../../lib/audit-input.ts";

const REASONS: Record<string, string> = {
  wrong_signer: "signed by another key than the channel's device (or for another chain or contract)",
  receipt_altered: "changed after the device signed it: the device anchored a different receipt at this position",
  malformed_signature: "the signature does not recover to any address",
  bad_signature: "the signature does not recover to any address",
  wrong_input_hash: "the receipt's input hash is not the hash of your input",
  wrong_output_hash: "the receipt's output hash is not the hash of your output",
  no_proof: "no inclusion proof: the JSON has none and the worker gave none",
  not_anchored: "not anchored yet: the device has not posted this receipt's range on-chain (it anchors with its claims)",
  anchor_not_on_chain: "the proof's anchor is not the one on-chain for this range: the device anchored something else",
  not_included: "the proof does not lead from this receipt to the anchor's root",
  sequence_out_of_range: "the receipt's sequence lies outside the proof's anchor range",
  head_mismatch: "the anchor's head does not match the proof",
  unknown_receipt: "the device says it has no receipt with this sequence (an omission: it can be challenged on-chain)",
  worker_unreachable: "the device's worker did not answer the proof request",
  no_endpoint: "the device has no endpoint to ask for the proof",
  malformed_proof: "the worker's answer is not a receipt proof",
  proof_from_other_device: "the worker answered with a proof for another device",
  model_hash_mismatch: "the receipt's model hash is not the registry's contentHash for this model id",
  unknown_model: "the ModelRegistry has no model with this id",
};

const CHECK_NAMES: Record<string, string> = {
  signature: "device signature",
  inputHash: "input hash = your input",
  outputHash: "output hash = your output",
  inclusion: "inclusion in the on-chain anchor",
  model: "model hash = ModelRegistry contentHash",
  chainLink: "hash chain link",
  metering: "amount = units x price",
};

const BYTES32 = /^0x[0-9a-fA-F]{64}$/;

export function Audit() {
  const config = useEdgepay();
  const session = useSessionReceipts();
  const models = useModels();
  const audit = useReceiptAudit();
  const [text, setText] = useState("");
  const [picked, setPicked] = useState<ReceiptRecord>();
  const [inputHash, setInputHash] = useState("");
  const [outputHash, setOutputHash] = useState("");
  const [problem, setProblem] = useState<string>();

  const pick = (value: string) => {
    const record = session.data?.[Number(value)];
    setPicked(record);
    audit.reset();
    setProblem(undefined);
    if (record) setText(JSON.stringify({ device: record.device, receipt: receiptToWire(record.receipt) }, null, 2));
  };

  const upload = async (file: File | undefined) => {
    if (!file) return;
    setPicked(undefined);
    audit.reset();
    setText(await file.text());
  };

  const run = () => {
    setProblem(undefined);
    audit.reset();
    const parsed = parseAuditInput(text);
    if (!parsed.ok) return setProblem(parsed.message);
    for (const [name, value] of [["your input hash", inputHash], ["your output hash", outputHash]] as const) {
      if (value.trim() && !BYTES32.test(value.trim())) return setProblem(`${name} must be 0x followed by 64 hex digits (hashTensors of the tensors), got "${value.trim().slice(0, 80)}".`);
    }
    // The session's record applies only while the text is still that receipt.
    const record = picked && picked.receipt.signature.toLowerCase() === parsed.receipt.signature.toLowerCase() ? picked : undefined;
    audit.mutate({
      receipt: parsed.receipt,
      device: parsed.device ?? record?.device,
      line: parsed.line,
      endpoint: record?.endpoint,
      own: { ...(inputHash.trim() ? { inputHash: inputHash.trim() as Hex } : {}), ...(outputHash.trim() ? { outputHash: outputHash.trim() as Hex } : {}) },
    });
  };

  const sessionRecord = audit.data && picked?.receipt.signature === audit.variables?.receipt.signature ? picked : undefined;

  return (
    <>
      {!config.contracts.flightRecorder && (
        <p className="card error" role="alert">
          This dashboard was started without a FlightRecorder address (EDGEPAY_FLIGHT_RECORDER): signatures and model hashes can be checked, anchors cannot.
        </p>
      )}
      <section className="card" aria-label="receipt to audit">
        <div className="row">
          <label>
            From this session{" "}
            <select aria-label="session receipt" value={picked ? String(session.data?.indexOf(picked) ?? "") : ""} onChange={(e) => pick(e.target.value)}>
              <option value="">{session.data?.length ? `${session.data.length} receipt(s): pick one` : "no receipts in this browser yet"}</option>
              {session.data?.map((r, i) => (
                <option key={`${r.device}-${r.receipt.sequence}`} value={i}>
                  #{r.receipt.sequence.toString()} · model #{r.receipt.modelId.toString()} · {new Date(r.receivedAt).toLocaleTimeString()}
                </option>
              ))}
            </select>
          </label>
          <label>
            or upload <input type="file" aria-label="receipt file" accept=".json,.jsonl,application/json" onChange={(e) => void upload(e.target.files?.[0])} />
          </label>
        </div>
        <label className="small muted" htmlFor="receipt-json">
          Receipt JSON: a signed receipt, or {"{ device, receipt, anchor, proof }"} (one line of an audit export or GET /v1/receipts/:seq/proof)
        </label>
        <textarea
          id="receipt-json"
          aria-label="receipt JSON"
          rows={12}
          style={{ width: "100%", fontFamily: "monospace" }}
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            audit.reset();
          }}
        />
        <div className="row">
          <label className="small">
            your input hash (optional) <input aria-label="your input hash" size={40} value={inputHash} onChange={(e) => setInputHash(e.target.value)} />
          </label>
          <label className="small">
            your output hash (optional) <input aria-label="your output hash" size={40} value={outputHash} onChange={(e) => setOutputHash(e.target.value)} />
          </label>
        </div>
        <div className="row" style={{ marginTop: 10 }}>
          <button onClick={run} disabled={audit.isPending || !text.trim()}>
            {audit.isPending ? "Checking…" : "Check receipt"}
          </button>
        </div>
        {(problem || audit.error) && (
          <p className="error" role="alert">
            {problem ?? audit.error?.message}
          </p>
        )}
      </section>
      {audit.data && <AuditResult audit={audit.data.audit} proofSource={audit.data.proofSource} record={sessionRecord} version={models.data?.find((m) => m.modelId === audit.data.audit.model?.modelId)?.version} />}
    </>
  );
}

function AuditResult({ audit, proofSource, record, version }: { audit: ReceiptAudit; proofSource: string; record?: ReceiptRecord; version?: number }) {
  const rows: { key: string; name: string; check: Check }[] = [];
  for (const [key, check] of Object.entries(audit.checks)) if (check) rows.push({ key, name: CHECK_NAMES[key] ?? key, check });
  // A session receipt was checked against this browser's own input and output tensors the moment it arrived.
  if (record && !audit.checks.inputHash && !audit.checks.outputHash) {
    rows.splice(1, 0, { key: "arrival", name: "input and output hashes = what this browser sent and got (checked on arrival)", check: record.verification });
  }
  return (
    <section className="card" aria-label="audit result" data-testid="audit-result">
      <div className="stats">
        <div className="stat">
          Receipt<b data-testid="audit-status">{audit.status}</b>
        </div>
        <div className="stat">
          Device<b>
            <Addr value={audit.device} />
          </b>
        </div>
        <div className="stat">
          Sequence<b data-testid="audit-sequence">{audit.sequence.toString()}</b>
        </div>
      </div>
      <ul className="checks" data-testid="audit-checks">
        {rows.map(({ key, name, check }) => (
          <li key={key} data-check={key} data-ok={String(check.valid)}>
            <span className={check.valid ? "ok" : "error"}>{check.valid ? "✔" : "✘"}</span> <b>{name}</b>{" "}
            {!check.valid && (
              <span className="small" data-reason={check.reason}>
                {REASONS[check.reason] ?? check.reason} <code className="muted">({check.reason})</code>
                {"detail" in check && check.detail ? <span data-detail> ({check.detail})</span> : null}
              </span>
            )}
          </li>
        ))}
      </ul>
      <h3>Anchor</h3>
      {audit.anchor ? (
        <p data-testid="anchor">
          Receipts {audit.anchor.fromSeq.toString()}–{audit.anchor.toSeq.toString()}, root <Addr value={audit.anchor.root} />, anchored in transaction{" "}
          <code data-testid="anchor-tx">{audit.anchor.transactionHash ?? "(event not found)"}</code> at block{" "}
          <b data-testid="anchor-block">{audit.anchor.blockNumber?.toString() ?? "?"}</b>.
        </p>
      ) : (
        <p className="muted" data-testid="anchor">
          No on-chain anchor holds this receipt (yet).
        </p>
      )}
      <p className="muted small">Proof from {proofSource}.</p>
      <h3>Model version</h3>
      {audit.model ? (
        <p data-testid="model-version">
          #{audit.model.modelId.toString()} <b data-testid="model-name">{audit.model.name}</b> version <b data-testid="model-version-number">{version ?? "?"}</b>, contentHash{" "}
          <code data-testid="model-hash">{audit.model.contentHash}</code>
          {audit.model.deprecated && <span className="warn-text"> (deprecated)</span>}
        </p>
      ) : (
        <p className="muted" data-testid="model-version">
          The ModelRegistry has no model with this receipt&apos;s model id.
        </p>
      )}
      <p className="muted small">
        Receipt digest <code>{audit.digest}</code>
      </p>
    </section>
  );
}
