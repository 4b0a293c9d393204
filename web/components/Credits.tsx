"use client";
import type { Address } from "viem";
import { useConfig } from "wagmi";
import { writeContract } from "wagmi/actions";
import { paymentChannelsAbi } from "../../protocol/generated/contracts.ts";
import { useCredits } from "../hooks/useCredits.ts";
import { useEdgepay } from "../hooks/useEdgepay.ts";
import type { useTxRunner } from "../hooks/useTxRunner.ts";
import { formatAmount } from "../lib/format.ts";
import { ActionError } from "./ActionError.tsx";
import { Addr } from "./Addr.tsx";

type Runner = ReturnType<typeof useTxRunner>;

/**
 * Payouts (as a payee) or refunds (as a payer) that PaymentChannels could not transfer (token paused, account
 * blacklisted) and credited to the account instead: shown only when non-zero, each with "Withdraw credit".
 */
export function Credits({ runner, account, role }: { runner: Runner; account: Address; role: "payee" | "payer" }) {
  const config = useConfig();
  const edgepay = useEdgepay();
  const credits = useCredits(account);
  const list = credits.data ?? [];
  if (list.length === 0) return null;
  return (
    <section className="card" aria-label="withdrawable credit">
      <h2>Withdrawable credit</h2>
      <p className="muted small">
        {role === "payee" ? "A payout" : "A refund"} to you could not be transferred (the token was paused, or your address was blocked by the token), so
        PaymentChannels kept it for you. Withdraw it to this wallet once the token lets it through.
      </p>
      <ul>
        {list.map((c) => {
          const key = `credit-${c.token.toLowerCase()}`;
          const amount = formatAmount(c.amount, c.decimals, c.symbol);
          return (
            <li key={c.token} data-testid="credit" data-token={c.token.toLowerCase()} data-amount={c.amount.toString()}>
              <b>{amount}</b> <span className="muted small">token <Addr value={c.token} /></span>{" "}
              <button
                onClick={() =>
                  runner.guard(key, (r) =>
                    r.send(`Withdraw credit ${amount}`, () =>
                      writeContract(config, { address: edgepay.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "withdrawCredit", args: [c.token, account] }),
                    ),
                  )
                }
                disabled={runner.isPending(key)}
              >
                {runner.isPending(key) ? "Withdrawing…" : "Withdraw credit"}
              </button>
              <ActionError entry={runner.errorOf(key)} testId="credit-error" />
            </li>
          );
        })}
      </ul>
    </section>
  );
}
