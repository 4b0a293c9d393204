"use client";
import { useState } from "react";
import { useBuyerStore } from "../hooks/useBuyerStore.ts";
import { useEdgepay } from "../hooks/useEdgepay.ts";
import { decryptKeys, encryptKeys, passphraseProblem } from "../lib/key-backup.ts";

/**
 * Export this browser's channel session keys to a file encrypted with a passphrase, and import such a file (in
 * another browser, or after clearing site data). An imported record never lowers what this browser knows was
 * paid or signed on a channel.
 */
export function SessionKeyBackup({ onImported }: { onImported?: () => void }) {
  const edgepay = useEdgepay();
  const store = useBuyerStore();
  const [passphrase, setPassphrase] = useState("");
  const [file, setFile] = useState<File>();
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string }>();
  const weak = passphrase ? passphraseProblem(passphrase) : undefined;

  const exportKeys = async () => {
    setBusy(true);
    setMessage(undefined);
    try {
      const records = await store.listChannels();
      if (records.length === 0) throw new Error("No session key in this browser to export.");
      const backup = await encryptKeys(records, passphrase);
      const blob = new Blob([JSON.stringify(backup, null, 2)], { type: "application/json" });
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = `edgepay-session-keys-${edgepay.chainId}-${new Date().toISOString().slice(0, 10)}.json`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setMessage({ ok: true, text: `Exported ${records.length} session key(s), encrypted with your passphrase.` });
    } catch (e) {
      setMessage({ ok: false, text: e instanceof Error ? e.message : String(e) });
    } finally {
      setBusy(false);
    }
  };

  const importKeys = async () => {
    if (!file) return;
    setBusy(true);
    setMessage(undefined);
    try {
      const records = await decryptKeys(await file.text(), passphrase);
      let added = 0;
      for (const r of records) {
        if (r.chainId !== edgepay.chainId || r.paymentChannels.toLowerCase() !== edgepay.contracts.paymentChannels.toLowerCase()) continue;
        const mine = await store.getChannel(r.channelId);
        const max = (a: bigint, b: bigint) => (a > b ? a : b);
        await store.putChannel(
          mine ? { ...mine, paid: max(mine.paid, r.paid), signed: max(mine.signed, r.signed), closing: mine.closing || r.closing } : r,
        );
        if (!mine) added++;
      }
      setMessage({ ok: true, text: `Imported ${records.length} session key(s) (${added} new) for this chain.` });
      onImported?.();
    } catch (e) {
      setMessage({ ok: false, text: e instanceof Error ? e.message : String(e) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-label="session key backup">
      <h2>Back up session keys</h2>
      <p className="muted small">
        Each channel&apos;s session key lives only in this browser. Export them to a file encrypted with a passphrase (PBKDF2 + AES-GCM, in this
        browser) to move them or keep a copy; the file is useless without the passphrase.
      </p>
      <div className="row">
        <label>
          Passphrase
          <input type="password" value={passphrase} onChange={(e) => setPassphrase(e.target.value)} aria-label="backup passphrase" autoComplete="new-password" />
        </label>
        <button onClick={exportKeys} disabled={busy || !passphrase || !!weak}>
          Export session keys
        </button>
        <label>
          Backup file
          <input type="file" accept="application/json,.json" aria-label="backup file" onChange={(e) => setFile(e.target.files?.[0])} />
        </label>
        <button className="ghost" onClick={importKeys} disabled={busy || !passphrase || !file}>
          Import session keys
        </button>
      </div>
      {weak && <span className="error small field-error">{weak}</span>}
      {message && (
        <p className={message.ok ? "ok small" : "error"} role={message.ok ? "status" : "alert"} data-testid="backup-message">
          {message.text}
        </p>
      )}
    </section>
  );
}
