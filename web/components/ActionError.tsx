import type { TxEntry } from "../hooks/useTxRunner.ts";

/** The failure of a form's latest action, shown next to that form (not only in the log below the fold). */
export function ActionError({ entry, testId }: { entry: TxEntry | undefined; testId?: string }) {
  if (!entry) return null;
  return (
    <p className="error" role="alert" data-testid={testId} data-action-error={entry.action}>
      {entry.status === "rejected" ? "Refused in the wallet" : `${entry.label} failed`}: {entry.message}
    </p>
  );
}

/** A validation message next to the field it is about (nothing is sent while one is shown). */
export function FieldError({ message, testId }: { message: string | undefined; testId?: string }) {
  if (!message) return null;
  return (
    <span className="error small field-error" role="alert" data-testid={testId}>
      {message}
    </span>
  );
}
