"use client";
import { useWorkerHealth } from "../hooks/useWorkerHealth.ts";

/** Live health badge of a worker endpoint. */
export function Health({ endpoint }: { endpoint: string }) {
  const { data, isLoading } = useWorkerHealth(endpoint);
  if (isLoading || !data) return <span className="badge">checking…</span>;
  if (data.ok)
    return (
      <span className="badge ok" data-health="up" title={data.detail}>
        up · {data.latencyMs} ms
      </span>
    );
  return (
    <span className="badge bad" data-health="down" title={data.detail}>
      {data.status === "unreachable" ? "unreachable" : `HTTP ${data.status}`}
    </span>
  );
}
