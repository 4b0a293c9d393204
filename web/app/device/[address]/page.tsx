"use client";
import Link from "next/link";
import { useParams } from "next/navigation";
import { erc20Abi, getAddress, isAddress, type Address } from "viem";
import { useReadContracts } from "wagmi";
import { Addr } from "../../../components/Addr.tsx";
import { Health } from "../../../components/Health.tsx";
import { Reputation } from "../../../components/Reputation.tsx";
import { Pager } from "../../../components/Pager.tsx";
import { useDeviceActivity } from "../../../hooks/useDeviceActivity.ts";
import { useDevices } from "../../../hooks/useDevices.ts";
import { useEdgepay } from "../../../hooks/useEdgepay.ts";
import { HEALTH_HISTORY, useHealthHistory } from "../../../hooks/useHealthHistory.ts";
import { useModels } from "../../../hooks/useModels.ts";
import { useToken } from "../../../hooks/useToken.ts";
import type { DeviceInfo } from "../../../lib/chain-reads.ts";
import { formatAmount, formatTime } from "../../../lib/format.ts";

export default function DevicePage() {
  const params = useParams<{ address: string }>();
  const raw = decodeURIComponent(params.address ?? "");
  if (!isAddress(raw)) {
    return (
      <>
        <h1>Device</h1>
        <p className="error" role="alert">
          &quot;{raw}&quot; is not a device address: 40 hex digits after 0x.
        </p>
      </>
    );
  }
  return <Device address={getAddress(raw)} />;
}

function Device({ address }: { address: Address }) {
  const devices = useDevices();
  const d = devices.data?.find((x) => x.device.toLowerCase() === address.toLowerCase());
  return (
    <>
      <h1>
        Device <Addr value={address} />
      </h1>
      {devices.isLoading && <p className="muted">Reading the device registry…</p>}
      {devices.data && !d && <p className="muted">No device {address} is registered.</p>}
      {d && (
        <>
          <Summary device={d} />
          <section className="card" aria-label="reputation section">
            <h2>Reputation</h2>
            <Reputation device={d.device} detailed />
            <p className="muted">From the chain: FlightRecorder anchors, buyers&apos; feedback in DeviceReputation (ERC-8004 shaped), dispute outcomes and slashes.</p>
          </section>
          <Offerings device={d} />
          <HealthHistory endpoint={d.endpoint} />
          <ClaimsAndAnchors device={d} />
        </>
      )}
    </>
  );
}

function Summary({ device: d }: { device: DeviceInfo }) {
  const token = useToken();
  return (
    <section className="card" aria-label="device">
      <div className="stats">
        <div className="stat">
          State
          <b>
            <span className={`badge ${d.status === "Active" ? "ok" : d.status === "Paused" ? "warn" : "bad"}`} data-testid="device-status">
              {d.status}
            </span>
          </b>
        </div>
        <div className="stat">
          Stake<b data-testid="device-stake" data-value={d.stake.toString()}>{token.format(d.stake)}</b>
        </div>
        <div className="stat">
          Owner
          <b>
            <Addr value={d.owner} />
          </b>
        </div>
        <div className="stat">
          Health
          <b>
            <Health endpoint={d.endpoint} />
          </b>
        </div>
      </div>
      <p className="muted small">
        endpoint <code>{d.endpoint}</code> · {d.metadata}
      </p>
    </section>
  );
}

/** Symbol and decimals of each token the device is paid in. */
function useTokenMeta(tokens: readonly Address[]) {
  const { data } = useReadContracts({
    allowFailure: true,
    contracts: tokens.flatMap((t) => [
      { address: t, abi: erc20Abi, functionName: "symbol" } as const,
      { address: t, abi: erc20Abi, functionName: "decimals" } as const,
    ]),
  });
  return (t: Address, v: bigint) => {
    const i = tokens.findIndex((x) => x.toLowerCase() === t.toLowerCase());
    const symbol = data?.[2 * i]?.result as string | undefined;
    const decimals = data?.[2 * i + 1]?.result as number | undefined;
    return decimals === undefined ? `${v} units` : formatAmount(v, Number(decimals), symbol);
  };
}

function Offerings({ device: d }: { device: DeviceInfo }) {
  const models = useModels();
  const edgepay = useEdgepay();
  // The Buy page opens channels in the dashboard's payment token: other tokens' offerings are listed, not offered.
  const buyable = (t: Address) => t.toLowerCase() === edgepay.contracts.token.toLowerCase();
  const tokens = [...new Set(d.offerings.map((o) => o.token))];
  const format = useTokenMeta(tokens);
  return (
    <section className="card" aria-label="offerings">
      <h2>Offerings</h2>
      {d.offerings.length === 0 ? (
        <p className="muted">None: buyers cannot open channels to this device.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Model</th>
              <th>Price per unit</th>
              <th>Token</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {d.offerings.map((o) => {
              const m = models.data?.find((x) => x.modelId === o.modelId);
              return (
                <tr key={`${o.modelId}-${o.token}`} data-offering={o.modelId.toString()} data-token={o.token.toLowerCase()}>
                  <td>
                    #{o.modelId.toString()} {m?.name}
                    {m && <span className="muted small"> v{m.version}</span>}
                  </td>
                  <td data-testid="offering-price" data-value={o.price.toString()}>
                    {format(o.token, o.price)}
                  </td>
                  <td>
                    <Addr value={o.token} />
                  </td>
                  <td>
                    {d.status === "Active" && buyable(o.token) && (
                      <Link className="button" href={`/buy?device=${d.device}&model=${o.modelId}&token=${o.token}`}>
                        Buy
                      </Link>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

function HealthHistory({ endpoint }: { endpoint: string }) {
  const { checks } = useHealthHistory(endpoint);
  const up = checks.filter((c) => c.ok).length;
  return (
    <section className="card" aria-label="health history">
      <h2>Health</h2>
      <p className="muted small">
        This page asks the worker for <code>{endpoint}/healthz</code> every 10 s and keeps the last {HEALTH_HISTORY} answers while the tab is open.
      </p>
      <p data-testid="health-summary">
        {checks.length === 0 ? "checking…" : `up in ${up} of the last ${checks.length} checks`}
      </p>
      <ol className="small" data-testid="health-history">
        {checks.map((c) => (
          <li key={c.at} data-ok={String(c.ok)}>
            {new Date(c.at).toLocaleTimeString()} ·{" "}
            {c.ok ? <span className="ok">up · {c.latencyMs} ms</span> : <span className="error">{c.status === "unreachable" ? "unreachable" : `HTTP ${c.status}`}</span>}
            {c.detail && !c.ok ? <span className="muted"> ({c.detail})</span> : null}
          </li>
        ))}
      </ol>
    </section>
  );
}

function ClaimsAndAnchors({ device: d }: { device: DeviceInfo }) {
  const activity = useDeviceActivity(d.device);
  const channelPage = activity.channels.data?.items ?? [];
  const offered = [...new Set(d.offerings.map((o) => o.token))];
  const tokens = [...new Set([...channelPage.map((c) => c.terms.token), ...offered])];
  const format = useTokenMeta(tokens);
  // A claim's token is its channel's; a channel off the page shown is priced in the device's one token when it has one.
  const tokenOf = (id: string) => channelPage.find((c) => c.channelId.toLowerCase() === id.toLowerCase())?.terms.token ?? (offered.length === 1 ? offered[0] : undefined);
  const claims = activity.claims.data?.items ?? [];
  const anchors = activity.anchors.data?.items ?? [];
  return (
    <>
      <section className="card" aria-label="claims">
        <h2>Claims ({activity.claims.data?.totalCount ?? "…"})</h2>
        <p className="muted small">Claimed events on channels whose terms name this device ({activity.channels.data?.totalCount ?? "…"} channels opened to it).</p>
        {activity.claims.error && <p className="error">{activity.claims.error.message}</p>}
        {activity.claims.data && claims.length === 0 && <p className="muted">No claim yet.</p>}
        {claims.length > 0 && (
          <table>
            <thead>
              <tr>
                <th>When</th>
                <th>Channel</th>
                <th>Voucher total</th>
                <th>Paid to the provider</th>
                <th>Royalty</th>
                <th>Transaction</th>
              </tr>
            </thead>
            <tbody>
              {claims.map((c) => {
                const t = tokenOf(c.channelId);
                const f = (v: bigint) => (t ? format(t, v) : v.toString());
                return (
                  <tr key={`${c.txHash}-${c.channelId}`} data-testid="device-claim" data-channel={c.channelId.toLowerCase()} data-amount={c.cumulativeAmount.toString()}>
                    <td>{formatTime(c.timestamp)}</td>
                    <td>
                      <Addr value={c.channelId} />
                    </td>
                    <td>{f(c.cumulativeAmount)}</td>
                    <td>{f(c.providerAmount)}</td>
                    <td>{f(c.royalty)}</td>
                    <td>
                      <Addr value={c.txHash} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
        <Pager paged={activity.claims} label="claims" />
      </section>
      <section className="card" aria-label="anchors">
        <h2>Anchors ({activity.anchors.data?.totalCount ?? "…"})</h2>
        <p className="muted small">Merkle roots of this device&apos;s receipt log, anchored on the FlightRecorder with its claims.</p>
        {activity.anchors.data && anchors.length === 0 && <p className="muted">No anchor yet.</p>}
        {anchors.length > 0 && (
          <table>
            <thead>
              <tr>
                <th>When</th>
                <th>Receipts</th>
                <th>Root</th>
                <th>Head</th>
                <th>Transaction</th>
              </tr>
            </thead>
            <tbody>
              {anchors.map((a) => (
                <tr key={`${a.txHash}-${a.fromSeq}`} data-testid="device-anchor" data-to-seq={a.toSeq.toString()}>
                  <td>{formatTime(a.timestamp)}</td>
                  <td>
                    #{a.fromSeq.toString()}–#{a.toSeq.toString()}
                  </td>
                  <td>
                    <Addr value={a.root} />
                  </td>
                  <td>
                    <Addr value={a.head} />
                  </td>
                  <td>
                    <Addr value={a.txHash} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <Pager paged={activity.anchors} label="anchors" />
      </section>
    </>
  );
}
