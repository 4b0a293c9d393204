"use client";
import { useState } from "react";
import { type Address, type Hex } from "viem";
import { useConfig, useConnection, useReadContracts } from "wagmi";
import { writeContract } from "wagmi/actions";
import { modelRegistryAbi, paymentChannelsAbi } from "../../../protocol/generated/contracts.ts";
import { Addr } from "../../components/Addr.tsx";
import { LineChart } from "../../components/LineChart.tsx";
import { RequireWallet } from "../../components/RequireWallet.tsx";
import { TxList } from "../../components/TxList.tsx";
import { useEdgepay } from "../../hooks/useEdgepay.ts";
import { useLicenses } from "../../hooks/useLicenses.ts";
import { useModelRoyalties } from "../../hooks/useModelRoyalties.ts";
import { useModels } from "../../hooks/useModels.ts";
import { useToken } from "../../hooks/useToken.ts";
import { useTxRunner } from "../../hooks/useTxRunner.ts";
import type { ModelInfo } from "../../lib/chain-reads.ts";
import { formatBps, parseAmount } from "../../lib/format.ts";
import { checkOnnx } from "../../lib/onnx-check.ts";
import { ActionError, FieldError } from "../../components/ActionError.tsx";

type Runner = ReturnType<typeof useTxRunner>;
const COLORS = ["#5aa9ff", "#3fcf8e", "#f2b84b", "#ff6b6b", "#b48cff", "#4fd1c5"];

export default function ModelsPage() {
  const runner = useTxRunner();
  return (
    <>
      <h1>Model owner</h1>
      <p className="muted">
        Publish ONNX models with a royalty on every paid inference and an optional one-time license fee for providers. The registry stores the file&apos;s
        sha256, so workers and buyers can prove which model answered.
      </p>
      <RequireWallet what="publish models">
        <Owner runner={runner} />
      </RequireWallet>
      <TxList entries={runner.entries} />
    </>
  );
}

function Owner({ runner }: { runner: Runner }) {
  const { address } = useConnection();
  const models = useModels();
  const mine = (models.data ?? []).filter((m) => m.owner.toLowerCase() === address!.toLowerCase());
  return (
    <>
      <Publish runner={runner} account={address!} mine={mine} />
      <Royalties account={address!} mine={mine} runner={runner} source={models.data?.source} />
    </>
  );
}

async function sha256File(file: File): Promise<Hex> {
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return `0x${Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function Publish({ runner, account, mine }: { runner: Runner; account: Address; mine: ModelInfo[] }) {
  const config = useConfig();
  const edgepay = useEdgepay();
  const token = useToken(account);
  const [hash, setHash] = useState<Hex>();
  const [fileName, setFileName] = useState<string>();
  const [size, setSize] = useState<number>();
  const [name, setName] = useState("");
  const [uri, setUri] = useState("");
  const [royalty, setRoyalty] = useState("10");
  const [fee, setFee] = useState("0");
  const [predecessor, setPredecessor] = useState("0");
  const [hashing, setHashing] = useState(false);
  const [fileError, setFileError] = useState<string>();
  const [nameEdited, setNameEdited] = useState(false);
  const [uriEdited, setUriEdited] = useState(false);
  const heads = mine.filter((m) => m.successor === 0n && !m.deprecated);

  const pick = async (file: File | undefined) => {
    setHash(undefined);
    setFileError(undefined);
    if (!file) return;
    setHashing(true);
    setFileName(file.name);
    setSize(file.size);
    const bytes = new Uint8Array(await file.arrayBuffer());
    const check = checkOnnx(file.name, bytes);
    if (!check.ok) {
      setHashing(false);
      setFileError(check.reason);
      return;
    }
    setHash(await sha256File(file));
    setHashing(false);
    // Name and URI follow the file picked last, unless the person typed their own.
    if (!nameEdited) setName(file.name.replace(/\.onnx$/i, ""));
    if (!uriEdited) setUri(`npm:${file.name}`);
  };

  const publish = async () => {
    if (fileError) return runner.fail("Publish model", fileError);
    if (!hash) return runner.fail("Publish model", "Pick the .onnx file first: its sha256 is the model's identity.");
    const pct = Number(royalty);
    if (!Number.isFinite(pct) || pct < 0) return runner.fail("Publish model", `"${royalty}" is not a royalty percentage.`);
    const royaltyBps = Math.round(pct * 100);
    const licenseFee = parseAmount(fee || "0", token.decimals);
    if (licenseFee === undefined) return runner.fail("Publish model", `"${fee}" is not a fee.`);
    const params = { name: name.trim(), contentHash: hash, uri: uri.trim(), royaltyBps, licenseToken: edgepay.contracts.token, licenseFee };
    const pred = BigInt(predecessor || "0");
    if (pred > 0n) {
      await runner.send(`Publish ${params.name} as a new version of #${pred}`, () =>
        writeContract(config, { address: edgepay.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "publishVersion", args: [pred, params] }),
      );
    } else {
      await runner.send(`Publish ${params.name}`, () =>
        writeContract(config, { address: edgepay.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "publish", args: [params] }),
      );
    }
  };

  return (
    <section className="card" aria-label="publish model">
      <h2>Publish a model</h2>
      <div className="row">
        <label>
          ONNX file (hashed here, never uploaded)
          <input type="file" accept=".onnx" aria-label="onnx file" onChange={(e) => void pick(e.target.files?.[0])} />
        </label>
        <div className="small">
          {hashing && <span className="muted">computing sha256…</span>}
          <FieldError message={fileError} testId="onnx-error" />
          {hash && (
            <span data-testid="content-hash">
              {fileName} · {size?.toLocaleString()} bytes · sha256 <Addr value={hash} />
            </span>
          )}
        </div>
      </div>
      <div className="row" style={{ marginTop: 8 }}>
        <label>
          Name
          <input value={name} onChange={(e) => (setName(e.target.value), setNameEdited(e.target.value !== ""))} aria-label="model name" />
        </label>
        <label>
          URI
          <input value={uri} onChange={(e) => (setUri(e.target.value), setUriEdited(e.target.value !== ""))} aria-label="model uri" />
        </label>
        <label>
          Royalty (%)
          <input value={royalty} onChange={(e) => setRoyalty(e.target.value)} aria-label="royalty" style={{ width: 70 }} />
        </label>
        <label>
          License fee ({token.symbol})
          <input value={fee} onChange={(e) => setFee(e.target.value)} aria-label="license fee" style={{ width: 80 }} />
        </label>
        <label>
          Version of
          <select value={predecessor} onChange={(e) => setPredecessor(e.target.value)} aria-label="predecessor">
            <option value="0">a new model</option>
            {heads.map((m) => (
              <option key={m.modelId.toString()} value={m.modelId.toString()}>
                new version of #{m.modelId.toString()} {m.name} v{m.version}
              </option>
            ))}
          </select>
        </label>
        <button onClick={publish} disabled={runner.busy || hashing || !hash || !!fileError}>
          Publish
        </button>
      </div>
      <ActionError entry={runner.errorWhere((l) => l.startsWith("Publish"))} testId="publish-error" />
      <p className="muted small">Royalty is capped at 50%. Running channels keep the royalty they opened with; a change applies to new channels.</p>
    </section>
  );
}

function Royalties({ account, mine, runner, source }: { account: Address; mine: ModelInfo[]; runner: Runner; source: "indexer" | "rpc" | undefined }) {
  const edgepay = useEdgepay();
  const token = useToken(account);
  const licenses = useLicenses();
  // Only the claims on this owner's models (the database selects them by model when an indexer is configured).
  const royalties = useModelRoyalties(mine.map((m) => m.modelId));
  const royaltyClaims = [...(royalties.data?.entries() ?? [])]
    .flatMap(([modelId, claims]) => claims.map((c) => ({ ...c, modelId })))
    .sort((a, b) => a.timestamp - b.timestamp);
  const { data: balances } = useReadContracts({
    allowFailure: false,
    contracts: mine.map((m) => ({
      address: edgepay.contracts.paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "royaltiesOf" as const,
      args: [m.modelId, edgepay.contracts.token] as const,
    })),
  });
  const series = mine
    .map((m, i) => {
      let total = 0n;
      const own = royaltyClaims.filter((c) => c.modelId === m.modelId);
      const points = own.length ? [{ x: own[0]!.timestamp - 60, y: 0 }] : [];
      for (const c of own) {
        total += c.royalty;
        points.push({ x: c.timestamp, y: Number(total) / 10 ** token.decimals });
      }
      return { name: `#${m.modelId} ${m.name}`, color: COLORS[i % COLORS.length]!, points };
    })
    .filter((s) => s.points.length > 0);

  return (
    <section className="card" aria-label="your models" data-read-source={source}>
      <h2>Your models and royalties</h2>
      {mine.length === 0 && <p className="muted">You have not published a model from this wallet.</p>}
      {series.length > 0 && (
        <LineChart
          title={`royalties earned (${token.symbol}) over time, per model`}
          series={series}
          step
          formatX={(x) => new Date(x * 1000).toLocaleTimeString()}
          formatY={(y) => y.toFixed(3)}
        />
      )}
      {mine.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>Model</th>
              <th>Terms</th>
              <th>Royalties earned</th>
              <th>Withdrawable</th>
              <th>Licenses taken</th>
              <th>Change terms</th>
            </tr>
          </thead>
          <tbody>
            {mine.map((m, i) => {
              const earned = royaltyClaims.filter((c) => c.modelId === m.modelId).reduce((s, c) => s + c.royalty, 0n);
              const lic = (licenses.data ?? []).filter((l) => l.modelId === m.modelId);
              return (
                <ModelRow
                  key={m.modelId.toString()}
                  model={m}
                  earned={earned}
                  withdrawable={balances?.[i]}
                  licenses={lic}
                  runner={runner}
                  account={account}
                />
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

function ModelRow({
  model: m,
  earned,
  withdrawable,
  licenses,
  runner,
  account,
}: {
  model: ModelInfo;
  earned: bigint;
  withdrawable?: bigint;
  licenses: { licensee: Address; fee: bigint }[];
  runner: Runner;
  account: Address;
}) {
  const config = useConfig();
  const edgepay = useEdgepay();
  const token = useToken(account);
  const [royalty, setRoyalty] = useState(String(m.royaltyBps / 100));
  const [fee, setFee] = useState(token.format(m.licenseFee).split(" ")[0]!.replace(/,/g, ""));
  const fees = licenses.reduce((s, l) => s + l.fee, 0n);
  const setTerms = async () => {
    const bps = Math.round(Number(royalty) * 100);
    const value = parseAmount(fee, token.decimals);
    if (!Number.isFinite(bps) || value === undefined) return runner.fail("Set terms", "Royalty must be a percentage and the fee an amount.");
    await runner.send(`Set terms of #${m.modelId}: ${formatBps(bps)}, fee ${token.format(value)}`, () =>
      writeContract(config, { address: edgepay.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "setTerms", args: [m.modelId, bps, value] }),
    );
  };
  return (
    <tr data-model={m.modelId.toString()}>
      <td>
        <b>
          #{m.modelId.toString()} {m.name}
        </b>{" "}
        v{m.version} {m.deprecated && <span className="badge bad">deprecated</span>}
        {m.successor > 0n && <span className="badge warn">superseded by #{m.successor.toString()}</span>}
        <div className="muted small">
          <Addr value={m.contentHash} />
        </div>
      </td>
      <td>
        {formatBps(m.royaltyBps)} royalty
        <div className="muted small">license {m.licenseFee > 0n ? token.format(m.licenseFee) : "free"}</div>
      </td>
      <td data-testid="royalties-earned">{token.format(earned)}</td>
      <td>
        <span data-testid="royalties-withdrawable">{withdrawable !== undefined ? token.format(withdrawable) : "…"}</span>{" "}
        {withdrawable !== undefined && withdrawable > 0n && (
          <button
            onClick={() =>
              runner.send(`Withdraw royalties of #${m.modelId}`, () =>
                writeContract(config, {
                  address: edgepay.contracts.paymentChannels,
                  abi: paymentChannelsAbi,
                  functionName: "withdrawRoyalties",
                  args: [m.modelId, edgepay.contracts.token, account],
                }),
              )
            }
            disabled={runner.busy}
          >
            Withdraw
          </button>
        )}
      </td>
      <td>
        {licenses.length}
        {fees > 0n && <div className="muted small">fees {token.format(fees)}</div>}
        {licenses.map((l) => (
          <div key={l.licensee} className="small">
            <Addr value={l.licensee} />
          </div>
        ))}
      </td>
      <td>
        {!m.deprecated && (
          <div className="row">
            <input value={royalty} onChange={(e) => setRoyalty(e.target.value)} aria-label={`royalty of ${m.modelId}`} style={{ width: 50 }} />%
            <input value={fee} onChange={(e) => setFee(e.target.value)} aria-label={`fee of ${m.modelId}`} style={{ width: 60 }} />
            <button className="ghost" onClick={setTerms} disabled={runner.busy}>
              Set
            </button>
            <button
              className="ghost"
              onClick={() =>
                window.confirm(`Deprecate model #${m.modelId}? It cannot be undone: no new licenses or versions build on it.`) &&
                runner.send(`Deprecate #${m.modelId}`, () =>
                  writeContract(config, { address: edgepay.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "deprecate", args: [m.modelId] }),
                )
              }
              disabled={runner.busy}
            >
              Deprecate
            </button>
          </div>
        )}
      </td>
    </tr>
  );
}
