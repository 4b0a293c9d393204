"use client";
import { useState } from "react";
import { shortHex } from "../lib/format.ts";

/** A transaction hash, shortened, with a button that copies the full hash. */
export function CopyHash({ hash }: { hash: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(hash);
    } catch {
      // No clipboard permission (e.g. plain http on another host): select it for a manual copy instead.
      window.prompt("Transaction hash", hash);
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <span className="copy-hash" data-hash={hash}>
      <code className="tx-hash" title={hash}>
        {shortHex(hash, 8, 6)}
      </code>{" "}
      <button type="button" className="ghost small-button" onClick={copy} aria-label={`copy hash ${hash}`}>
        {copied ? "copied" : "copy"}
      </button>
    </span>
  );
}
