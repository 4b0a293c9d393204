"use client";
import Link from "next/link";
import { useEffect, useMemo, useState } from "react";
import { Addr } from "../components/Addr.tsx";
import { Health } from "../components/Health.tsx";
import { Reputation } from "../components/Reputation.tsx";
import { Pager } from "../components/Pager.tsx";
import { useMarketDevices } from "../hooks/useMarketDevices.ts";
import { useLicenses } from "../hooks/useLicenses.ts";
import { useModels } from "../hooks/useModels.ts";
import { useToken } from "../hooks/useToken.ts";
import type { DeviceInfo, ModelInfo, Offering } from "../lib/chain-reads.ts";
import type { MarketSort } from "../lib/market-reads.ts";
import { formatBps } from "../lib/format.ts";

type ModelSort = "id" | "royalty" | "fee" | "licenses";

export default function MarketPage() {
  const models = useModels();
  const licenses = useLicenses();
  const token = useToken();
  const [modelFilter, setModelFilter] = useState("all");
  const [text, setText] = useState("");
  const [deviceSort, setDeviceSort] = useState<MarketSort>("price");
  // The search goes to the source: one read when typing pauses, not one per key.
  const [search, setSearch] = useState("");
  useEffect(() => {
    const t = setTimeout(() => setSearch(text.trim()), 300);
    return () => clearTimeout(t);
  }, [text]);
  const devices = useMarketDevices({ modelId: modelFilter === "all" ? undefined : BigInt(modelFilter), text: search || undefined }, deviceSort);
  const [modelSort, setModelSort] = useState<ModelSort>("id");
  const [showDeprecated, setShowDeprecated] = useState(false);

  const modelName = (id: bigint) => models.data?.find((m) => m.modelId === id)?.name ?? `#${id}`;

  // The page comes filtered and sorted by the source; here only what each row shows and what its Buy opens.
  const rows = useMemo(() => {
    const list: (DeviceInfo & { price?: bigint; buy?: Offering })[] = (devices.data?.items ?? [])
      .map((d) => {
        const shown = d.offerings.filter((o) => modelFilter === "all" || o.modelId.toString() === modelFilter);
        const prices = shown.map((o) => o.price);
        // What the row's Buy opens: the cheapest offering shown, in the dashboard's payment token.
        const buyable = shown.filter((o) => o.token.toLowerCase() === token.address.toLowerCase()).sort((a, b) => (a.price < b.price ? -1 : a.price > b.price ? 1 : 0));
        return { ...d, price: prices.length ? prices.reduce((a, b) => (a < b ? a : b)) : undefined, buy: buyable[0] };
      });
    return list;
  }, [devices.data, modelFilter, token.address]);

  const licenseCounts = useMemo(() => {
    const counts = new Map<bigint, number>();
    for (const l of licenses.data ?? []) counts.set(l.modelId, (counts.get(l.modelId) ?? 0) + 1);
    return counts;
  }, [licenses.data]);
  const licenseCount = (id: bigint) => licenseCounts.get(id) ?? 0;
  const modelRows = useMemo(() => {
    const list: ModelInfo[] = (models.data ?? [])
      .filter((m) => showDeprecated || !m.deprecated)
      .filter((m) => !text || `${m.name} ${m.uri} ${m.owner}`.toLowerCase().includes(text.toLowerCase()));
    const cmp = {
      id: (a: ModelInfo, b: ModelInfo) => Number(a.modelId - b.modelId),
      royalty: (a: ModelInfo, b: ModelInfo) => a.royaltyBps - b.royaltyBps,
      fee: (a: ModelInfo, b: ModelInfo) => Number(a.licenseFee - b.licenseFee),
      licenses: (a: ModelInfo, b: ModelInfo) => (licenseCounts.get(b.modelId) ?? 0) - (licenseCounts.get(a.modelId) ?? 0),
    }[modelSort];
    return list.sort(cmp);
  }, [models.data, licenseCounts, text, modelSort, showDeprecated]);

  return (
    <>
      <h1>Market</h1>
      <p className="muted">Edge devices selling ONNX inference per call, and the models they serve. Lists come from the indexer when one is configured (its freshness shows above), else from the chain; health comes live from each worker.</p>
      <div className="card row">
        <label>
          Model
          <select value={modelFilter} onChange={(e) => setModelFilter(e.target.value)} aria-label="filter by model">
            <option value="all">all models</option>
            {models.data?.map((m) => (
              <option key={m.modelId.toString()} value={m.modelId.toString()}>
                #{m.modelId.toString()} {m.name} v{m.version}
              </option>
            ))}
          </select>
        </label>
        <label>
          Search
          <input value={text} onChange={(e) => setText(e.target.value)} placeholder="name, endpoint, region, address" aria-label="search" />
        </label>
        <label>
          Sort devices by
          <select value={deviceSort} onChange={(e) => setDeviceSort(e.target.value as MarketSort)} aria-label="sort devices">
            <option value="price">lowest price</option>
            <option value="stake">highest stake</option>
            <option value="status">status</option>
          </select>
        </label>
      </div>

      <section className="card" aria-label="devices" data-read-source={devices.data?.source}>
        <h2>Devices ({devices.data?.totalCount ?? 0}{deviceSort === "price" ? " offerings" : ""})</h2>
        {deviceSort === "price" && <p className="muted small">Cheapest offering first; a device with offerings on several pages shows on each. Devices without an active offering are listed under the other sorts.</p>}
        {devices.isLoading && <p className="muted">Reading the device registry…</p>}
        {devices.error && <p className="error">{devices.error.message}</p>}
        {devices.data && rows.length === 0 && <p className="muted">No device matches. Providers register devices on the Provider page.</p>}
        {rows.length > 0 && (
          <table>
            <thead>
              <tr>
                <th>Device</th>
                <th>Status</th>
                <th>Stake</th>
                <th>Offerings (price per inference)</th>
                <th>Endpoint</th>
                <th>Health</th>
                <th title="0..100 from spot checks, uptime, disputes and slashes on chain">Reputation</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {rows.map((d) => (
                <tr key={d.device} data-device={d.device}>
                  <td>
                    <Link href={`/device/${d.device}`} title="offerings, health history, claims and anchors">
                      <Addr value={d.device} />
                    </Link>
                    <div className="muted small">owner <Addr value={d.owner} /></div>
                    {d.metadata && <div className="muted small">{d.metadata}</div>}
                  </td>
                  <td>
                    <span className={`badge ${d.status === "Active" ? "ok" : d.status === "Paused" ? "warn" : "bad"}`}>{d.status}</span>
                  </td>
                  <td>{token.format(d.stake)}</td>
                  <td>
                    {d.offerings.length === 0 && <span className="muted">none</span>}
                    {d.offerings.map((o) => (
                      <div key={`${o.modelId}-${o.token}`}>
                        {modelName(o.modelId)} · <b>{token.format(o.price)}</b>
                      </div>
                    ))}
                  </td>
                  <td>
                    <code>{d.endpoint}</code>
                  </td>
                  <td>
                    <Health endpoint={d.endpoint} />
                  </td>
                  <td>
                    <Reputation device={d.device} />
                  </td>
                  <td>
                    {d.status === "Active" && d.buy && (
                      <Link className="button" href={`/buy?device=${d.device}&model=${d.buy.modelId}`} title={`open a channel to this device for model #${d.buy.modelId}`}>
                        Buy
                      </Link>
                    )}{" "}
                    <Link className="button ghost" href={`/device/${d.device}`}>
                      Details
                    </Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <Pager paged={devices} label="devices" />
      </section>

      <section className="card" aria-label="models">
        <div className="row" style={{ justifyContent: "space-between" }}>
          <h2>Models ({modelRows.length})</h2>
          <div className="row">
            <label>
              Sort models by
              <select value={modelSort} onChange={(e) => setModelSort(e.target.value as ModelSort)} aria-label="sort models">
                <option value="id">newest id last</option>
                <option value="royalty">lowest royalty</option>
                <option value="fee">lowest license fee</option>
                <option value="licenses">most licensed</option>
              </select>
            </label>
            <label style={{ flexDirection: "row", alignItems: "center" }}>
              <input type="checkbox" checked={showDeprecated} onChange={(e) => setShowDeprecated(e.target.checked)} /> deprecated too
            </label>
          </div>
        </div>
        {models.isLoading && <p className="muted">Reading the model registry…</p>}
        {models.data && modelRows.length === 0 && <p className="muted">No model yet. Model owners publish on the Model owner page.</p>}
        {modelRows.length > 0 && (
          <table>
            <thead>
              <tr>
                <th>Model</th>
                <th>Version</th>
                <th>Royalty</th>
                <th>License fee</th>
                <th>Licenses</th>
                <th>Owner</th>
                <th>sha256 of the .onnx</th>
              </tr>
            </thead>
            <tbody>
              {modelRows.map((m) => (
                <tr key={m.modelId.toString()} data-model={m.modelId.toString()}>
                  <td>
                    <b>#{m.modelId.toString()} {m.name}</b>
                    {m.deprecated && <span className="badge bad"> deprecated</span>}
                    <div className="muted small">{m.uri}</div>
                  </td>
                  <td>
                    v{m.version}
                    {m.predecessor > 0n && <div className="muted small">replaces #{m.predecessor.toString()}</div>}
                    {m.successor > 0n && <div className="warn-text small">superseded by #{m.successor.toString()}</div>}
                  </td>
                  <td>{formatBps(m.royaltyBps)}</td>
                  <td>{m.licenseFee > 0n ? token.format(m.licenseFee) : "free"}</td>
                  <td>{licenseCount(m.modelId)}</td>
                  <td>
                    <Addr value={m.owner} />
                  </td>
                  <td>
                    <Addr value={m.contentHash} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
