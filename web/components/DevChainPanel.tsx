"use client";
import { useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { useEdgepay } from "../hooks/useEdgepay.ts";
import { useChainNow } from "../hooks/useChainNow.ts";
import { LOCAL_CHAIN_ID } from "../lib/runtime-config.ts";
import { formatTime } from "../lib/format.ts";

/**
 * Local chain only (chain id 31337): moves the chain's clock forward (evm_increaseTime + evm_mine), so challenge
 * periods and unbonding delays can be tried out without waiting. Renders nothing on any other chain.
 */
export function DevChainPanel() {
  const edgepay = useEdgepay();
  const now = useChainNow();
  const queryClient = useQueryClient();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  if (edgepay.chainId !== LOCAL_CHAIN_ID) return null;

  const rpc = async (method: string, params: unknown[]) => {
    const res = await fetch(edgepay.rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: Date.now(), method, params }),
    });
    const body = (await res.json()) as { error?: { message: string } };
    if (body.error) throw new Error(body.error.message);
  };
  const advance = async (seconds: number) => {
    setBusy(true);
    setError(undefined);
    try {
      await rpc("evm_increaseTime", [seconds]);
      await rpc("evm_mine", []);
      await queryClient.invalidateQueries();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card dev-panel" aria-label="developer panel">
      <h3>Developer: local chain time</h3>
      <p className="muted small">Chain time {now !== undefined ? formatTime(now) : "…"}. Moves this local chain&apos;s clock forward and mines a block.</p>
      <div className="row">
        {[
          ["+1 h", 3600],
          ["+1 d", 86_400],
          ["+7 d", 7 * 86_400],
        ].map(([label, s]) => (
          <button key={label} className="ghost" disabled={busy} onClick={() => void advance(Number(s))}>
            {label}
          </button>
        ))}
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
