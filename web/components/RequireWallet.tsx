"use client";
import type { ReactNode } from "react";
import { useConnection } from "wagmi";

/** Shows its children only with a connected wallet. */
export function RequireWallet({ children, what }: { children: ReactNode; what: string }) {
  const { status } = useConnection();
  if (status !== "connected") return <p className="card muted">Connect a wallet to {what}.</p>;
  return <>{children}</>;
}
