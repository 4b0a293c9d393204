"use client";
import { useState } from "react";
import { useChainId, useConnect, useConnection, useConnectors, useDisconnect, useSwitchChain } from "wagmi";
import { DEV_ACCOUNTS } from "../lib/dev-wallet.ts";
import { describeError } from "../lib/errors.ts";
import { shortHex } from "../lib/format.ts";

type DevConnector = { selectAccount(i: number): void; accountIndex(): number };

/** Wallet picker: EIP-6963 wallets, a legacy injected wallet, and the dev wallet on the local chain. */
export function ConnectButton() {
  const connection = useConnection();
  const connectors = useConnectors();
  const connect = useConnect();
  const disconnect = useDisconnect();
  const chainId = useChainId();
  const switchChain = useSwitchChain();
  const [open, setOpen] = useState(false);

  if (connection.status === "connected" && connection.address) {
    const connector = connection.connector;
    const dev = connector?.type === "devWallet" ? (connector as unknown as DevConnector) : undefined;
    const wrongChain = connection.chainId !== chainId;
    return (
      <div className="wallet" data-testid="wallet">
        <span className="muted">{connector?.name}</span>
        {dev ? (
          <select
            aria-label="dev account"
            value={dev.accountIndex()}
            onChange={(e) => dev.selectAccount(Number(e.target.value))}
          >
            {DEV_ACCOUNTS.map((a, i) => (
              <option key={a} value={i}>
                #{i} {shortHex(a)}
              </option>
            ))}
          </select>
        ) : (
          <code data-testid="account" title={connection.address}>
            {shortHex(connection.address)}
          </code>
        )}
        {wrongChain && (
          <button className="warn" onClick={() => switchChain.mutate({ chainId })}>
            Switch to chain {chainId}
          </button>
        )}
        <button className="ghost" onClick={() => disconnect.mutate({ connector })}>
          Disconnect
        </button>
      </div>
    );
  }

  // A discovered EIP-6963 wallet makes the generic window.ethereum entry redundant.
  const discovered = connectors.filter((c) => c.type === "injected" && c.id !== "injected");
  const shown = connectors.filter((c) => !(c.id === "injected" && discovered.length > 0));
  return (
    <div className="wallet">
      <button onClick={() => setOpen((o) => !o)} aria-expanded={open}>
        {connection.status === "connecting" || connection.status === "reconnecting" ? "Connecting…" : "Connect wallet"}
      </button>
      {open && (
        <div className="menu" role="menu">
          {shown.map((c) => (
            <button
              key={c.uid}
              role="menuitem"
              onClick={() => connect.mutate({ connector: c }, { onSuccess: () => setOpen(false) })}
            >
              {/* Wallet icons are data: URLs announced by the wallet (EIP-6963), not files next/image could optimise. */}
              {/* eslint-disable-next-line @next/next/no-img-element */}
              {c.icon && <img src={c.icon} alt="" width={16} height={16} />} {c.id === "injected" ? "Browser wallet" : c.name}
            </button>
          ))}
          {shown.length === 0 && <p className="muted">No wallet found. Install a browser wallet.</p>}
        </div>
      )}
      {connect.error && <span className="error">{describeError(connect.error)}</span>}
    </div>
  );
}
