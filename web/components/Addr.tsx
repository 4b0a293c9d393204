import { shortHex } from "../lib/format.ts";

/** An address or hash, shortened, with the full value on hover and for copy. */
export function Addr({ value, label }: { value: string; label?: string }) {
  return (
    <code className="addr" title={value} data-value={value}>
      {label ?? shortHex(value)}
    </code>
  );
}
