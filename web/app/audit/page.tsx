import { Audit } from "./Audit.tsx";

export default function AuditPage() {
  return (
    <>
      <h1>Audit a receipt</h1>
      <p className="muted">
        Every paid answer comes with a receipt signed by the device: which model version answered, the hashes of the input and output (never the data),
        and its place in the device&apos;s hash-chained log, whose Merkle roots the device anchors on-chain. Paste or upload a receipt, or pick one this
        browser paid for, and each claim it makes is checked against the chain.
      </p>
      <Audit />
    </>
  );
}
