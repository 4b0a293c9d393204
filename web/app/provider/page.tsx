"use client";
import { useMemo, useState } from "react";
import { formatEther, parseEther, type Address } from "viem";
import { useBalance, useConfig, useConnection, useReadContracts } from "wagmi";
import { readContract, sendTransaction, writeContract } from "wagmi/actions";
import { deviceRegistryAbi, modelRegistryAbi, testUsdcAbi } from "../../../protocol/generated/contracts.ts";
import { Addr } from "../../components/Addr.tsx";
import { Health } from "../../components/Health.tsx";
import { LineChart } from "../../components/LineChart.tsx";
import { RequireWallet } from "../../components/RequireWallet.tsx";
import { TxList } from "../../components/TxList.tsx";
import { useChainNow } from "../../hooks/useChainNow.ts";
import { useChannels } from "../../hooks/useChannels.ts";
import { useClaimNow } from "../../hooks/useClaimNow.ts";
import { useClaims } from "../../hooks/useClaims.ts";
import { usePaged } from "../../hooks/usePaged.ts";
import { Pager } from "../../components/Pager.tsx";
import { readClaimsPage } from "../../lib/list-reads.ts";
import { useDevices } from "../../hooks/useDevices.ts";
import { useEdgepay } from "../../hooks/useEdgepay.ts";
import { useLicenses } from "../../hooks/useLicenses.ts";
import { useModels } from "../../hooks/useModels.ts";
import { useToken } from "../../hooks/useToken.ts";
import { useTxRunner, type ActionRunner } from "../../hooks/useTxRunner.ts";
import { ActionError, FieldError } from "../../components/ActionError.tsx";
import { Credits } from "../../components/Credits.tsx";
import { checkRegistration } from "../../lib/registration-check.ts";
import { useWorkerChannel } from "../../hooks/useWorkerChannel.ts";
import { parseBinding } from "../../lib/binding.ts";
import type { ChannelInfo, DeviceInfo } from "../../lib/chain-reads.ts";
import { formatDuration, formatTime, parseAmount } from "../../lib/format.ts";

type Runner = ReturnType<typeof useTxRunner>;

export default function ProviderPage() {
  const runner = useTxRunner();
  return (
    <>
      <h1>Provider</h1>
      <p className="muted">Register your edge devices, stake, take model licenses, publish offerings and collect what buyers pay.</p>
      <RequireWallet what="manage your devices">
        <Provider runner={runner} />
      </RequireWallet>
      <TxList entries={runner.entries} />
    </>
  );
}

function Provider({ runner }: { runner: Runner }) {
  const { address } = useConnection();
  const devices = useDevices();
  const mine = (devices.data ?? []).filter((d) => d.owner.toLowerCase() === address!.toLowerCase());
  return (
    <>
      <Earnings account={address!} devices={mine} />
      <Credits runner={runner} account={address!} role="payee" />
      <div className="grid2">
        <Register runner={runner} account={address!} />
        <Licenses runner={runner} account={address!} />
      </div>
      <section className="card" aria-label="my devices">
        <h2>Your devices ({mine.length})</h2>
        {mine.length === 0 && <p className="muted">No device registered from this wallet yet.</p>}
        {mine.map((d) => (
          <DeviceCard key={d.device} device={d} runner={runner} account={address!} />
        ))}
      </section>
      <AtRisk devices={mine} />
    </>
  );
}

function Register({ runner, account }: { runner: Runner; account: Address }) {
  const config = useConfig();
  const edgepay = useEdgepay();
  const token = useToken(account);
  const [bindingText, setBindingText] = useState("");
  // Nothing is prefilled: a device registered at an endpoint its owner did not give cannot be reached by buyers.
  // The operator's known workers (EDGEPAY_WORKERS) are only suggestions in the URL field.
  const [workerUrl, setWorkerUrl] = useState("");
  const [endpoint, setEndpoint] = useState("");
  const [metadata, setMetadata] = useState('{"hardware":"cpu","region":"local"}');
  const [stake, setStake] = useState("10");
  const [fetchNote, setFetchNote] = useState<{ ok: boolean; text: string }>();
  const { data: reg } = useReadContracts({
    allowFailure: false,
    contracts: [
      { address: edgepay.contracts.deviceRegistry, abi: deviceRegistryAbi, functionName: "minStake" },
      { address: edgepay.contracts.deviceRegistry, abi: deviceRegistryAbi, functionName: "stakeToken" },
      { address: edgepay.contracts.deviceRegistry, abi: deviceRegistryAbi, functionName: "unbondingDelay" },
    ],
  });

  const initHint = `start the worker on the device with \`node worker/cli.ts init --owner ${account}\` and paste what it prints below`;
  const fetchBinding = async () => {
    setFetchNote(undefined);
    const base = workerUrl.trim().replace(/\/$/, "");
    if (!base) return setFetchNote({ ok: false, text: `Give the worker's URL first (e.g. http://192.168.1.20:8787), or ${initHint}.` });
    if (urlProblem(base)) return setFetchNote({ ok: false, text: `${urlProblem(base)} Check the URL.` });
    try {
      const res = await fetch(`${base}/v1/binding?owner=${account}`, { signal: AbortSignal.timeout(5_000) });
      if (!res.ok) {
        const body = (await res.json().catch(() => undefined)) as { error?: { message?: string } } | undefined;
        const why = body?.error?.message ? ` (${body.error.message})` : "";
        setFetchNote({
          ok: false,
          text:
            res.status === 404
              ? `The worker at ${base} publishes no binding for you (HTTP 404${why}). Check the URL, or ${initHint}. Nothing was sent.`
              : `The worker at ${base} answered HTTP ${res.status}${why}. Check the URL, or ${initHint}.`,
        });
        return;
      }
      setBindingText(JSON.stringify(await res.json(), null, 2));
      setEndpoint(base);
      setFetchNote({ ok: true, text: "Binding fetched from the worker." });
    } catch (e) {
      setFetchNote({
        ok: false,
        text: `Could not reach a worker at ${base} (${e instanceof Error ? e.message : String(e)}). Check the URL and that the worker runs there, or ${initHint}.`,
      });
    }
  };
  // The binding and the endpoint are checked as they are typed, next to their fields.
  const parsedBinding = bindingText.trim() ? parseBinding(bindingText) : undefined;
  const bindingError = parsedBinding && !parsedBinding.ok ? parsedBinding.reason : undefined;
  const endpointError = endpoint.trim() ? urlProblem(endpoint.trim()) : undefined;

  const register = (r: ActionRunner) => async () => {
    const parsed = parseBinding(bindingText);
    if (!parsed.ok) return r.fail("Register device", parsed.reason);
    const b = parsed.binding;
    if (b.owner && b.owner.toLowerCase() !== account.toLowerCase()) {
      return r.fail("Register device", `This binding is for owner ${b.owner}, but your wallet is ${account}. Run the worker's init with your address.`);
    }
    const value = parseAmount(stake, token.decimals);
    if (value === undefined) return r.fail("Register device", `"${stake}" is not an amount.`);
    const url = (endpoint || b.endpoint || "").trim();
    if (!url) return r.fail("Register device", "Give the device's HTTP endpoint (the worker's URL, as buyers reach it). Nothing was sent.");
    if (urlProblem(url)) return r.fail("Register device", `${urlProblem(url)} Nothing was sent.`);
    const stakeToken = reg?.[1] ?? edgepay.contracts.token;
    // Everything the registration needs is checked before the stake approval, so no approval is left behind
    // by a registration that cannot succeed.
    const problem = await checkRegistration(config, {
      binding: b,
      owner: account,
      stake: value,
      stakeToken,
      minStake: reg?.[0],
      chainId: edgepay.chainId,
      deviceRegistry: edgepay.contracts.deviceRegistry,
      format: token.format,
    });
    if (problem) return r.fail("Register device", `${problem} Nothing was sent.`);
    const allowance = await readContract(config, { address: stakeToken, abi: testUsdcAbi, functionName: "allowance", args: [account, edgepay.contracts.deviceRegistry] });
    if (allowance < value) {
      const ok = await r.send(`Approve stake ${token.format(value)}`, () =>
        writeContract(config, { address: stakeToken, abi: testUsdcAbi, functionName: "approve", args: [edgepay.contracts.deviceRegistry, value] }),
      );
      if (!ok) return;
    }
    await r.send(`Register device ${b.device.slice(0, 10)}…`, () =>
      writeContract(config, {
        address: edgepay.contracts.deviceRegistry,
        abi: deviceRegistryAbi,
        functionName: "register",
        args: [b.device, url, metadata, value, b.deadline, b.signature],
      }),
    );
  };

  return (
    <section className="card" aria-label="register device">
      <h2>Register a device</h2>
      <p className="muted small">
        On the device, the worker&apos;s <code>init</code> creates the device key and prints a binding: the key&apos;s signature that your wallet ({account.slice(0, 10)}…) owns it.
        Paste it here, or fetch it from the worker if it publishes one.
      </p>
      <div className="row">
        <label>
          Worker URL
          <input value={workerUrl} onChange={(e) => setWorkerUrl(e.target.value)} placeholder="http://<device>:8787" aria-label="worker url" list="known-workers" />
          <datalist id="known-workers">
            {edgepay.workers.map((w) => (
              <option key={w} value={w} />
            ))}
          </datalist>
        </label>
        <button className="ghost" onClick={fetchBinding}>
          Fetch binding
        </button>
      </div>
      {fetchNote &&
        (fetchNote.ok ? (
          <p className="ok small" data-testid="fetch-binding-note">
            {fetchNote.text}
          </p>
        ) : (
          <p className="error small" role="alert" data-testid="fetch-binding-error">
            {fetchNote.text}
          </p>
        ))}
      <label style={{ marginTop: 8 }}>
        Binding JSON
        <textarea rows={5} value={bindingText} onChange={(e) => setBindingText(e.target.value)} aria-label="binding json" placeholder='{"device":"0x…","owner":"0x…","deadline":"…","signature":"0x…"}' aria-invalid={!!bindingError} />
        <FieldError message={bindingError} testId="binding-error" />
      </label>
      <div className="row" style={{ marginTop: 8 }}>
        <label>
          Endpoint (buyers call this)
          <input value={endpoint} onChange={(e) => setEndpoint(e.target.value)} aria-label="endpoint" placeholder="http://<device>:8787" aria-invalid={!!endpointError} />
          <FieldError message={endpointError} testId="endpoint-error" />
        </label>
        <label>
          Metadata
          <input value={metadata} onChange={(e) => setMetadata(e.target.value)} aria-label="metadata" />
        </label>
        <label>
          Stake ({token.symbol}, min {reg ? token.format(reg[0]) : "…"})
          <input value={stake} onChange={(e) => setStake(e.target.value)} aria-label="stake" style={{ width: 90 }} />
        </label>
        <button onClick={() => runner.guard("register", (r) => register(r)())} disabled={runner.isPending("register") || !!bindingError || !!endpointError}>
          {runner.isPending("register") ? "Registering…" : "Register device"}
        </button>
      </div>
      <ActionError entry={runner.errorOf("register")} testId="register-error" />
      {reg && <p className="muted small">The stake unbonds {formatDuration(Number(reg[2]))} after you exit; a slash can take it for proven misbehaviour.</p>}
    </section>
  );
}

/** Why `text` is not an http(s) URL a browser can call, or undefined. */
function urlProblem(text: string): string | undefined {
  try {
    const u = new URL(text);
    return u.protocol === "http:" || u.protocol === "https:" ? undefined : `"${text}" is not an http(s) URL.`;
  } catch {
    return `"${text}" is not a URL (like http://192.168.1.20:8787).`;
  }
}

function Licenses({ runner, account }: { runner: Runner; account: Address }) {
  const config = useConfig();
  const edgepay = useEdgepay();
  const models = useModels();
  const licenses = useLicenses();
  const token = useToken(account);
  const mine = new Set((licenses.data ?? []).filter((l) => l.licensee.toLowerCase() === account.toLowerCase()).map((l) => l.modelId));
  const available = (models.data ?? []).filter((m) => !m.deprecated && !mine.has(m.modelId));
  const [choice, setChoice] = useState("");
  const model = available.find((m) => m.modelId.toString() === choice) ?? available[0];

  const take = async () => {
    if (!model) return;
    if (model.licenseFee > 0n) {
      const balance = await readContract(config, { address: model.licenseToken, abi: testUsdcAbi, functionName: "balanceOf", args: [account] });
      if (balance < model.licenseFee) {
        return runner.fail(`Take license for #${model.modelId} ${model.name}`, `Your balance is ${token.format(balance)}: the license fee is ${token.format(model.licenseFee)}. Nothing was sent.`);
      }
      const allowance = await readContract(config, { address: model.licenseToken, abi: testUsdcAbi, functionName: "allowance", args: [account, edgepay.contracts.modelRegistry] });
      if (allowance < model.licenseFee) {
        const ok = await runner.send(`Approve license fee ${token.format(model.licenseFee)}`, () =>
          writeContract(config, { address: model.licenseToken, abi: testUsdcAbi, functionName: "approve", args: [edgepay.contracts.modelRegistry, model.licenseFee] }),
        );
        if (!ok) return;
      }
    }
    await runner.send(`Take license for #${model.modelId} ${model.name}`, () =>
      writeContract(config, { address: edgepay.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "takeLicense", args: [model.modelId, account, model.licenseFee] }),
    );
  };

  return (
    <section className="card" aria-label="licenses">
      <h2>Model licenses</h2>
      <p className="muted small">A device may only offer a model whose license its owner holds. The one-time fee goes to the model owner.</p>
      <p className="small">
        You hold:{" "}
        {mine.size === 0
          ? "none"
          : [...mine].map((id) => (
              <span key={id.toString()} className="badge ok" data-license={id.toString()}>
                #{id.toString()} {models.data?.find((m) => m.modelId === id)?.name}
              </span>
            ))}
      </p>
      {available.length > 0 && (
        <div className="row">
          <label>
            Model
            <select value={model?.modelId.toString()} onChange={(e) => setChoice(e.target.value)} aria-label="license model">
              {available.map((m) => (
                <option key={m.modelId.toString()} value={m.modelId.toString()}>
                  #{m.modelId.toString()} {m.name} v{m.version} · fee {m.licenseFee > 0n ? token.format(m.licenseFee) : "free"}
                </option>
              ))}
            </select>
          </label>
          <button onClick={take} disabled={runner.busy}>
            Take license
          </button>
        </div>
      )}
      <ActionError entry={runner.errorWhere((l) => l.startsWith("Take license") || l.startsWith("Approve license fee"))} testId="license-error" />
    </section>
  );
}

function DeviceCard({ device: d, runner, account }: { device: DeviceInfo; runner: Runner; account: Address }) {
  const config = useConfig();
  const edgepay = useEdgepay();
  const token = useToken(account);
  const models = useModels();
  const licenses = useLicenses();
  const now = useChainNow();
  const [price, setPrice] = useState("0.01");
  const [modelChoice, setModelChoice] = useState("");
  const [stakeMore, setStakeMore] = useState("5");
  const [endpoint, setEndpoint] = useState(d.endpoint);
  const licensed = (models.data ?? []).filter(
    (m) => !m.deprecated && licenses.data?.some((l) => l.modelId === m.modelId && l.licensee.toLowerCase() === account.toLowerCase()),
  );
  const model = licensed.find((m) => m.modelId.toString() === modelChoice) ?? licensed[0];
  const reg = edgepay.contracts.deviceRegistry;
  const write = (label: string, functionName: "pause" | "unpause" | "startExit" | "withdrawStake") =>
    runner.send(label, () => writeContract(config, { address: reg, abi: deviceRegistryAbi, functionName, args: [d.device] }));

  const setOffering = async (modelId: bigint, value: bigint) => {
    await runner.send(value === 0n ? `Remove offering of model #${modelId}` : `Offer model #${modelId} at ${token.format(value)}`, () =>
      writeContract(config, { address: reg, abi: deviceRegistryAbi, functionName: "setOffering", args: [d.device, modelId, edgepay.contracts.token, value] }),
    );
  };
  const offer = async () => {
    if (!model) return runner.fail("Set offering", "Take a model license first.");
    const value = parseAmount(price, token.decimals);
    if (value === undefined || value === 0n) return runner.fail("Set offering", `"${price}" is not a positive price.`);
    await setOffering(model.modelId, value);
  };
  const addStake = async () => {
    const value = parseAmount(stakeMore, token.decimals);
    if (value === undefined || value === 0n) return runner.fail("Add stake", `"${stakeMore}" is not a positive amount.`);
    const balance = await readContract(config, { address: edgepay.contracts.token, abi: testUsdcAbi, functionName: "balanceOf", args: [account] });
    if (balance < value) return runner.fail("Add stake", `Your balance is ${token.format(balance)}: not enough to add ${token.format(value)}. Nothing was sent.`);
    const allowance = await readContract(config, { address: edgepay.contracts.token, abi: testUsdcAbi, functionName: "allowance", args: [account, reg] });
    if (allowance < value) {
      const ok = await runner.send(`Approve ${token.format(value)}`, () =>
        writeContract(config, { address: edgepay.contracts.token, abi: testUsdcAbi, functionName: "approve", args: [reg, value] }),
      );
      if (!ok) return;
    }
    await runner.send(`Add stake ${token.format(value)}`, () => writeContract(config, { address: reg, abi: deviceRegistryAbi, functionName: "addStake", args: [d.device, value] }));
  };
  const unbonded = d.unbondingEnds > 0 && now !== undefined && now >= d.unbondingEnds;
  const gas = useBalance({ address: d.device });
  const [fund, setFund] = useState("0.05");
  const sendGas = async () => {
    let value: bigint;
    try {
      value = parseEther(fund);
    } catch {
      return runner.fail("Fund device key", `"${fund}" is not an ETH amount.`);
    }
    await runner.send(`Send ${fund} ETH to the device key for its claim gas`, () => sendTransaction(config, { to: d.device, value }));
  };

  return (
    <div className="card" data-device={d.device} style={{ background: "var(--panel2)" }}>
      <div className="row" style={{ justifyContent: "space-between" }}>
        <div>
          <b>
            Device <Addr value={d.device} />
          </b>{" "}
          <span className={`badge ${d.status === "Active" ? "ok" : d.status === "Paused" ? "warn" : "bad"}`} data-testid="device-status">
            {d.status}
          </span>{" "}
          <Health endpoint={d.endpoint} />
          <div className="muted small">
            stake {token.format(d.stake)} · {d.endpoint} · {d.metadata}
          </div>
          <div className="small">
            The worker claims with the device key, which pays the gas: it holds{" "}
            <b data-testid="device-gas">{gas.data ? `${Number(formatEther(gas.data.value)).toPrecision(3)} ETH` : "…"}</b>{" "}
            <input value={fund} onChange={(e) => setFund(e.target.value)} aria-label="fund eth" style={{ width: 60 }} />{" "}
            <button className="ghost" onClick={sendGas} disabled={runner.busy}>
              Send ETH
            </button>
          </div>
        </div>
        <div className="row">
          {d.status === "Active" && (
            <button className="ghost" onClick={() => write("Pause device", "pause")} disabled={runner.busy}>
              Pause
            </button>
          )}
          {d.status === "Paused" && (
            <button onClick={() => write("Unpause device", "unpause")} disabled={runner.busy}>
              Unpause
            </button>
          )}
          {(d.status === "Active" || d.status === "Paused") && (
            <button className="danger" onClick={() =>
                window.confirm(
                  `Exit device ${d.device}? It cannot be undone: the device stops taking new channels for good, and the stake unbonds before it can be withdrawn.`,
                ) && write("Start exit", "startExit")
              } disabled={runner.busy}>
              Exit
            </button>
          )}
          {d.endpoint && <ClaimNow device={d.device} endpoint={d.endpoint} />}
          {(d.status === "Exiting" || d.status === "Removed") && (
            <button onClick={() => write("Withdraw stake", "withdrawStake")} disabled={runner.busy || !unbonded} title={unbonded ? "" : "still unbonding"}>
              Withdraw stake {unbonded ? "" : `(in ${formatDuration(d.unbondingEnds - (now ?? 0))})`}
            </button>
          )}
        </div>
      </div>
      <ActionError
        entry={runner.errorWhere((l) =>
          ["Pause device", "Unpause device", "Start exit", "Withdraw stake", "Add stake", "Approve ", "Send ", "Offer model", "Remove offering", "Update endpoint"].some((p) => l.startsWith(p)),
        )}
        testId="device-error"
      />
      <h3>Offerings</h3>
      {d.offerings.length === 0 && <p className="muted small">None: buyers cannot open channels to this device yet.</p>}
      <ul>
        {d.offerings.map((o) => (
          <li key={`${o.modelId}`} data-offering={o.modelId.toString()}>
            #{o.modelId.toString()} {models.data?.find((m) => m.modelId === o.modelId)?.name} · {token.format(o.price)} per inference{" "}
            <button className="ghost" onClick={() => setOffering(o.modelId, 0n)} disabled={runner.busy}>
              remove
            </button>
          </li>
        ))}
      </ul>
      {(d.status === "Active" || d.status === "Paused") && (
        <div className="row">
          <label>
            Licensed model
            <select value={model?.modelId.toString()} onChange={(e) => setModelChoice(e.target.value)} aria-label="offering model">
              {licensed.length === 0 && <option value="">no license yet</option>}
              {licensed.map((m) => (
                <option key={m.modelId.toString()} value={m.modelId.toString()}>
                  #{m.modelId.toString()} {m.name}
                </option>
              ))}
            </select>
          </label>
          <label>
            Price per inference ({token.symbol})
            <input value={price} onChange={(e) => setPrice(e.target.value)} aria-label="price" style={{ width: 90 }} />
          </label>
          <button onClick={offer} disabled={runner.busy}>
            Set offering
          </button>
          <label>
            Add stake
            <input value={stakeMore} onChange={(e) => setStakeMore(e.target.value)} aria-label="add stake" style={{ width: 70 }} />
          </label>
          <button className="ghost" onClick={addStake} disabled={runner.busy}>
            Add stake
          </button>
          <label>
            Endpoint
            <input value={endpoint} onChange={(e) => setEndpoint(e.target.value)} aria-label="new endpoint" />
          </label>
          <button
            className="ghost"
            disabled={runner.busy || endpoint === d.endpoint}
            onClick={() =>
              runner.send("Update endpoint", () => writeContract(config, { address: reg, abi: deviceRegistryAbi, functionName: "updateDevice", args: [d.device, endpoint, d.metadata] }))
            }
          >
            Update
          </button>
        </div>
      )}
    </div>
  );
}

/** Asks the device's worker to claim every channel with verified unclaimed value now (signed by the owner). */
function ClaimNow({ device, endpoint }: { device: Address; endpoint: string }) {
  const { state, busy, claim } = useClaimNow(device, endpoint);
  return (
    <span className="small" data-testid="claim-now">
      <button onClick={claim} disabled={busy} title="sign a request; the worker sends the claim from the device key">
        Claim now
      </button>{" "}
      {state.status === "signing" && <span className="muted">sign the request in your wallet…</span>}
      {state.status === "pending" && <span className="badge warn">claiming…</span>}
      {state.status === "sent" &&
        (state.txHash ? (
          <span className="badge ok" data-testid="claim-now-tx">
            claimed {state.channels} channel{state.channels === 1 ? "" : "s"} in <Addr value={state.txHash} />
          </span>
        ) : (
          <span className="muted">nothing to claim</span>
        ))}
      {state.status === "rejected" && <span className="muted">{state.message}</span>}
      {state.status === "failed" && <span className="badge bad">failed: {state.message}</span>}
    </span>
  );
}

function Earnings({ account, devices }: { account: Address; devices: DeviceInfo[] }) {
  const claims = useClaims(account);
  // The history table: newest first, one page at a time (sorted and cut by the indexer's database when configured).
  const history = usePaged(["providerClaims", account], (src, page) => readClaimsPage(src, { payee: account }, page));
  const token = useToken(account);
  const [ethPrice, setEthPrice] = useState("3000");
  const list = useMemo(() => [...(claims.data?.claims ?? [])].sort((a, b) => a.timestamp - b.timestamp || Number(a.blockNumber - b.blockNumber)), [claims.data]);
  const earned = list.reduce((s, c) => s + c.providerAmount, 0n);
  const costs = claims.data?.costs;
  const txs = [...new Set(list.map((c) => c.txHash))];
  const gasWei = txs.reduce((s, h) => s + (costs?.get(h)?.costWei ?? 0n), 0n);
  const gasUnits = txs.reduce((s, h) => s + (costs?.get(h)?.gasUsed ?? 0n), 0n);
  const ethPerUnit = Number(ethPrice) || 0;
  const gasInToken = Number(formatEther(gasWei)) * ethPerUnit;
  const earnedTokens = Number(earned) / 10 ** token.decimals;
  const share = earnedTokens > 0 ? (gasInToken / earnedTokens) * 100 : undefined;
  let cumulative = 0n;
  // Start from zero a minute before the first claim, so even one claim draws as a step.
  const points = list.length ? [{ x: list[0]!.timestamp - 60, y: 0 }] : [];
  for (const c of list) {
    cumulative += c.providerAmount;
    points.push({ x: c.timestamp, y: Number(cumulative) / 10 ** token.decimals });
  }
  return (
    <section className="card" aria-label="earnings" data-read-source={history.data?.source}>
      <h2>Earnings</h2>
      <div className="stats">
        <div className="stat">
          Earned (claimed)<b data-testid="earned">{token.format(earned)}</b>
        </div>
        <div className="stat">
          Claims<b>{list.length} in {txs.length} tx</b>
        </div>
        <div className="stat">
          Gas spent on claims<b>{Number(formatEther(gasWei)).toPrecision(3)} ETH</b>
          <span className="muted small">{gasUnits.toLocaleString()} gas</span>
        </div>
        <div className="stat">
          Gas as share of earnings<b data-testid="gas-share">{share === undefined ? "—" : `${share.toFixed(share < 1 ? 3 : 1)}%`}</b>
          <label className="small">
            at {token.symbol || "token"} per ETH
            <input value={ethPrice} onChange={(e) => setEthPrice(e.target.value)} aria-label="eth price" style={{ width: 80 }} />
          </label>
        </div>
        <div className="stat">
          Devices<b>{devices.length}</b>
        </div>
      </div>
      <LineChart
        title={`cumulative earnings (${token.symbol}) over time`}
        series={[{ name: "earned", color: "#3fcf8e", points }]}
        step
        formatX={(x) => new Date(x * 1000).toLocaleTimeString()}
        formatY={(y) => y.toFixed(2)}
      />
      {(history.data?.items.length ?? 0) > 0 && (
        <>
          <h3>Claim history ({history.data!.totalCount})</h3>
          <table>
            <thead>
              <tr>
                <th>When</th>
                <th>Channel</th>
                <th>Paid to you</th>
                <th>Royalty</th>
                <th>Transaction</th>
                <th>Gas (tx)</th>
                <th>Submitted by</th>
              </tr>
            </thead>
            <tbody>
              {history.data!.items.map((c) => (
                <tr key={`${c.txHash}-${c.channelId}`} data-claim={c.txHash}>
                  <td>{formatTime(c.timestamp)}</td>
                  <td>
                    <Addr value={c.channelId} />
                  </td>
                  <td>{token.format(c.providerAmount)}</td>
                  <td>{token.format(c.royalty)}</td>
                  <td>
                    <Addr value={c.txHash} />
                  </td>
                  <td>{costs?.get(c.txHash)?.gasUsed.toLocaleString()}</td>
                  <td>{costs?.get(c.txHash) && <Addr value={costs.get(c.txHash)!.from} />}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager paged={history} label="claims" />
        </>
      )}
    </section>
  );
}

function AtRisk({ devices }: { devices: DeviceInfo[] }) {
  const channels = useChannels({ devices: devices.map((d) => d.device) }, devices.length > 0);
  const open = (channels.data ?? []).filter((c) => !c.settled);
  return (
    <section className="card" aria-label="unclaimed value">
      <h2>Unclaimed value at risk</h2>
      <p className="muted small">
        Vouchers a worker accepted are worth money only once claimed on-chain. The worker keeps them and settles by itself: when a channel&apos;s unclaimed value
        passes its threshold, when it grows old, when a buyer starts a close (before the challenge period ends), and on shutdown. The vouchers live on the
        device, not in your wallet: a device&apos;s &quot;Claim now&quot; asks its worker (with a message you sign) to claim everything now. What each worker holds
        unclaimed is read live from it below.
      </p>
      {open.length === 0 ? (
        <p className="muted">No open channel to your devices.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Channel</th>
              <th>Deposit</th>
              <th>Claimed on-chain</th>
              <th>Accepted by the worker</th>
              <th>Unclaimed</th>
              <th>Close</th>
            </tr>
          </thead>
          <tbody>
            {open.map((c) => (
              <RiskRow key={c.channelId} channel={c} endpoint={devices.find((d) => d.device.toLowerCase() === c.terms.device.toLowerCase())?.endpoint} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function RiskRow({ channel: c, endpoint }: { channel: ChannelInfo; endpoint?: string }) {
  const token = useToken();
  const worker = useWorkerChannel(endpoint, c.channelId);
  const now = useChainNow();
  const accepted = worker.data?.lastAccepted;
  const unclaimed = accepted !== undefined && accepted > c.claimed ? accepted - c.claimed : 0n;
  return (
    <tr data-risk={c.channelId}>
      <td>
        <Addr value={c.channelId} />
      </td>
      <td>{token.format(c.deposit)}</td>
      <td>{token.format(c.claimed)}</td>
      <td>{worker.isLoading ? "…" : worker.error ? <span className="error">worker unreachable</span> : accepted === undefined ? "unknown to worker" : token.format(accepted)}</td>
      <td data-testid="unclaimed">
        <b className={unclaimed > 0n ? "warn-text" : undefined}>{token.format(unclaimed)}</b>
      </td>
      <td>
        {c.closesAt === 0 ? (
          <span className="muted">open</span>
        ) : (
          <span className="badge warn">closing · {formatDuration(c.closesAt - (now ?? 0))} left to claim</span>
        )}
      </td>
    </tr>
  );
}
