"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { useBlockNumber } from "wagmi";
import { useEdgepay } from "../hooks/useEdgepay.ts";
import { ConnectButton } from "./ConnectButton.tsx";
import { HeaderBalance } from "./HeaderBalance.tsx";

const LINKS = [
  { href: "/", label: "Market" },
  { href: "/buy", label: "Buy credits" },
  { href: "/try", label: "Try it" },
  { href: "/provider", label: "Provider" },
  { href: "/models", label: "Model owner" },
  { href: "/audit", label: "Audit" },
];

export function Nav() {
  const path = usePathname();
  const config = useEdgepay();
  const { data: block } = useBlockNumber({ watch: true });
  return (
    <header className="nav">
      <strong className="brand">Edgepay</strong>
      <nav>
        {LINKS.map((l) => (
          <Link key={l.href} href={l.href} className={path === l.href ? "active" : undefined}>
            {l.label}
          </Link>
        ))}
      </nav>
      <span className="muted small" title={config.rpcUrl}>
        block {block?.toString() ?? "…"}
      </span>
      <HeaderBalance />
      <ConnectButton />
    </header>
  );
}
