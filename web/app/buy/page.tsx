"use client";
import { useSearchParams } from "next/navigation";
import { Suspense, useMemo, useState } from "react";
import { formatUnits, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { useConfig, useConnection } from "wagmi";
import { readContract, writeContract } from "wagmi/actions";
import { deviceRegistryAbi, modelRegistryAbi, paymentChannelsAbi, testUsdcAbi } from "../../../protocol/generated/contracts.ts";
import { channelIdOf, type ChannelTerms } from "../../../protocol/terms.ts";
import { randomUint256 } from "../../../protocol/client/keys.ts";
import { Addr } from "../../components/Addr.tsx";
import { RequireWallet } from "../../components/RequireWallet.tsx";
import { TxList } from "../../components/TxList.tsx";
import { ActionError, FieldError } from "../../components/ActionError.tsx";
import { useBuyerStore } from "../../hooks/useBuyerStore.ts";
import { useChainNow } from "../../hooks/useChainNow.ts";
import { Pager } from "../../components/Pager.tsx";
import { usePaged } from "../../hooks/usePaged.ts";
import { readChannelsPage } from "../../lib/list-reads.ts";
import { useDevices } from "../../hooks/useDevices.ts";
import { useEdgepay } from "../../hooks/useEdgepay.ts";
import { useModels } from "../../hooks/useModels.ts";
import { useToken } from "../../hooks/useToken.ts";
import { useTxRunner, type ActionRunner } from "../../hooks/useTxRunner.ts";
import { useCooperativeClose } from "../../hooks/useCooperativeClose.ts";
import { useWorkerHealth } from "../../hooks/useWorkerHealth.ts";
import { Credits } from "../../components/Credits.tsx";
import { DevChainPanel } from "../../components/DevChainPanel.tsx";
import { SessionKeyBackup } from "../../components/SessionKeyBackup.tsx";
import type { ChannelInfo } from "../../lib/chain-reads.ts";
import { describeError } from "../../lib/errors.ts";
import { formatDuration, parseAmount } from "../../lib/format.ts";
import { signPermit } from "../../lib/permit.ts";
import { LOCAL_CHAIN_ID } from "../../lib/runtime-config.ts";

type Runner = ReturnType<typeof useTxRunner>;

export default function BuyPage() {
  const runner = useTxRunner();
  return (
    <>
      <h1>Buy inference credits</h1>
      <p className="muted">
        Open a payment channel to one device offering: your deposit is locked in the PaymentChannels contract, and each inference is paid by a voucher
        signed in this browser by a session key, without a wallet prompt. Unused credit comes back after a close.
      </p>
      <RequireWallet what="buy credits">
        <Suspense fallback={<p className="muted">Loading…</p>}>
          <Buy runner={runner} />
        </Suspense>
      </RequireWallet>
      <TxList entries={runner.entries} />
    </>
  );
}

function Buy({ runner }: { runner: Runner }) {
  const edgepay = useEdgepay();
  const { address } = useConnection();
  const token = useToken(address);
  const [keysRevision, setKeysRevision] = useState(0);
  return (
    <>
      <div className="stats">
        <div className="stat">
          Your balance<b data-testid="token-balance">{token.balance !== undefined ? token.format(token.balance) : "…"}</b>
        </div>
        <div className="stat">
          Allowance to PaymentChannels<b>{token.allowance !== undefined ? token.format(token.allowance) : "…"}</b>
        </div>
      </div>
      <div className="grid2">
        {edgepay.chainId === LOCAL_CHAIN_ID && <Faucet runner={runner} account={address!} />}
        <OpenChannel runner={runner} account={address!} />
      </div>
      <Credits runner={runner} account={address!} role="payer" />
      <MyChannels key={keysRevision} runner={runner} account={address!} />
      <SessionKeyBackup onImported={() => setKeysRevision((r) => r + 1)} />
      <DevChainPanel />
    </>
  );
}

function Faucet({ runner, account }: { runner: Runner; account: Address }) {
  const config = useConfig();
  const token = useToken(account);
  const [amount, setAmount] = useState("100");
  const go = (r: ActionRunner) => async () => {
    const value = parseAmount(amount, token.decimals);
    if (value === undefined || value === 0n) return r.fail("Faucet", `"${amount}" is not a positive amount.`);
    await r.send(`Faucet ${token.format(value)}`, () =>
      writeContract(config, { address: token.address, abi: testUsdcAbi, functionName: "faucet", args: [account, value] }),
    );
  };
  return (
    <section className="card" aria-label="faucet">
      <h2>Test tokens (local chain only)</h2>
      <p className="muted small">TestUSDC has an open faucet on the local chain: up to 10,000 per call.</p>
      <div className="row">
        <label>
          Amount
          <input value={amount} onChange={(e) => setAmount(e.target.value)} aria-label="faucet amount" />
        </label>
        <button onClick={() => runner.guard("faucet", (r) => go(r)())} disabled={runner.isPending("faucet")}>
          Get {token.symbol}
        </button>
      </div>
      <ActionError entry={runner.errorOf("faucet")} />
    </section>
  );
}

function OpenChannel({ runner, account }: { runner: Runner; account: Address }) {
  const config = useConfig();
  const edgepay = useEdgepay();
  const devices = useDevices();
  const models = useModels();
  const token = useToken(account);
  const store = useBuyerStore();
  // Buy from a Market row or a device page arrives with ?device=0x…&model=N: that offering is preselected.
  const query = useSearchParams();
  const [picked, setChoice] = useState<string>();
  const fromQuery = query.get("device") && query.get("model") ? `${query.get("device")}:${query.get("model")}`.toLowerCase() : "";
  const choice = picked ?? fromQuery;
  const [deposit, setDeposit] = useState("10");
  const [mode, setMode] = useState<"approve" | "permit">("approve");
  const [opened, setOpened] = useState<Hex>();

  const offerings = useMemo(
    () =>
      (devices.data ?? [])
        .filter((d) => d.status === "Active")
        .flatMap((d) =>
          d.offerings
            .filter((o) => o.token.toLowerCase() === edgepay.contracts.token.toLowerCase())
            .map((o) => ({ key: `${d.device}:${o.modelId}`, device: d, offering: o, model: models.data?.find((m) => m.modelId === o.modelId) })),
        ),
    [devices.data, models.data, edgepay.contracts.token],
  );
  // A requested offering that is not (or no longer) active is said so, not silently swapped for another device.
  const requested = choice ? offerings.find((o) => o.key.toLowerCase() === choice.toLowerCase()) : undefined;
  const missing = !!choice && !requested && devices.data !== undefined;
  const selected = missing ? undefined : (requested ?? offerings[0]);
  // A device whose worker does not answer cannot serve what a channel to it buys: say so before any deposit.
  const health = useWorkerHealth(selected?.device.endpoint);
  const [openAnyway, setOpenAnyway] = useState(false);
  const dead = !!health.data && !health.data.ok;

  const value = parseAmount(deposit, token.decimals);
  const depositError =
    value === undefined || value === 0n
      ? `"${deposit}" is not a positive amount.`
      : token.balance !== undefined && value > token.balance
        ? `Your balance is ${token.format(token.balance)}: not enough for a deposit of ${token.format(value)}.`
        : undefined;

  const open = (r: ActionRunner) => async () => {
    if (!selected || value === undefined || depositError) return;
    const { device, offering } = selected;
    // Everything is checked before the first transaction: balance (fresh from the chain), then terms.
    let payee: Address, price: bigint, royaltyBps: number;
    try {
      const balance = await readContract(config, { address: offering.token, abi: testUsdcAbi, functionName: "balanceOf", args: [account] });
      if (balance < value) return r.fail("Open channel", `Your balance is ${token.format(balance)}: not enough for a deposit of ${token.format(value)}. Nothing was sent.`);
      // Terms must equal the chain's current offering, payee and royalty: read them fresh.
      const [[owner, p], [, roy]] = await Promise.all([
        readContract(config, { address: edgepay.contracts.deviceRegistry, abi: deviceRegistryAbi, functionName: "channelTerms", args: [device.device, offering.modelId, offering.token] }),
        readContract(config, { address: edgepay.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "channelTerms", args: [offering.modelId] }),
      ]);
      [payee, price, royaltyBps] = [owner, p, Number(roy)];
    } catch (error) {
      return r.fail("Open channel", describeError(error));
    }
    const signerKey = generatePrivateKey();
    const terms: ChannelTerms = {
      payer: account,
      signer: privateKeyToAccount(signerKey).address,
      device: device.device,
      payee,
      token: offering.token,
      modelId: offering.modelId,
      price,
      royaltyBps,
      salt: randomUint256(),
    };
    const channelId = channelIdOf(terms);
    // The session key is stored before the channel exists, so a closed tab cannot orphan a funded channel.
    await store.putChannel({
      channelId,
      chainId: edgepay.chainId,
      paymentChannels: edgepay.contracts.paymentChannels,
      terms,
      signerKey,
      paid: 0n,
      signed: 0n,
      deposit: value,
      closing: false,
      endpoint: device.endpoint,
      openedAt: Date.now(),
    });
    if (mode === "permit") {
      const permit = await r.sign(`Sign permit for ${token.format(value)}`, () =>
        signPermit(config, { owner: account, token: offering.token, spender: edgepay.contracts.paymentChannels, value }),
      );
      if (!permit) return;
      const ok = await r.send(`Open channel with permit, deposit ${token.format(value)}`, () =>
        writeContract(config, {
          address: edgepay.contracts.paymentChannels,
          abi: paymentChannelsAbi,
          functionName: "openWithPermit",
          args: [terms, value, permit.deadline, permit.v, permit.r, permit.s],
        }),
      );
      if (ok) setOpened(channelId);
      return;
    }
    // Exactly the deposit is approved (never an open-ended allowance), and only when the current one is short.
    const allowance = await readContract(config, { address: offering.token, abi: testUsdcAbi, functionName: "allowance", args: [account, edgepay.contracts.paymentChannels] });
    if (allowance < value) {
      const approved = await r.send(`Approve ${token.format(value)}`, () =>
        writeContract(config, { address: offering.token, abi: testUsdcAbi, functionName: "approve", args: [edgepay.contracts.paymentChannels, value] }),
      );
      if (!approved) return;
    }
    const ok = await r.send(`Open channel, deposit ${token.format(value)}`, () =>
      writeContract(config, { address: edgepay.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "open", args: [terms, value] }),
    );
    if (ok) setOpened(channelId);
  };

  return (
    <section className="card" aria-label="open channel">
      <h2>Open a channel</h2>
      {offerings.length === 0 ? (
        <p className="muted">No active offering yet.</p>
      ) : (
        <>
          <label>
            Offering
            <select value={selected?.key ?? ""} onChange={(e) => (setChoice(e.target.value), setOpenAnyway(false))} aria-label="offering">
              {missing && <option value="">pick an offering</option>}
              {offerings.map((o) => (
                <option key={o.key} value={o.key}>
                  {o.model ? `#${o.model.modelId} ${o.model.name}` : `model #${o.offering.modelId}`} · {token.format(o.offering.price)} per call · {o.device.endpoint}
                </option>
              ))}
            </select>
          </label>
          {missing && (
            <p className="error small" role="alert" data-testid="offering-missing">
              The device and model you came for ({choice.split(":")[0]}, model #{choice.split(":")[1]}) have no active offering in {token.symbol}: pick one above.
            </p>
          )}
          {selected && (
            <p className="small" data-testid="offering-health" data-health={health.data ? (health.data.ok ? "up" : "down") : "unknown"}>
              {!health.data && <span className="muted">checking the device&apos;s worker…</span>}
              {health.data?.ok && <span className="ok">device answers ({health.data.latencyMs} ms)</span>}
              {dead && (
                <span className="error" role="alert">
                  This device&apos;s worker at {selected.device.endpoint} does not answer ({String(health.data!.status)}
                  {health.data!.detail ? `: ${health.data!.detail}` : ""}). A channel to it cannot be used until it is back; the deposit comes back only
                  after a close.{" "}
                  <label className="inline">
                    <input type="checkbox" checked={openAnyway} onChange={(e) => setOpenAnyway(e.target.checked)} aria-label="open anyway" /> open anyway
                  </label>
                </span>
              )}
            </p>
          )}
          <div className="row" style={{ marginTop: 10 }}>
            <label>
              Deposit ({token.symbol})
              <span className="row">
                <input value={deposit} onChange={(e) => setDeposit(e.target.value)} aria-label="deposit" aria-invalid={!!depositError} />
                <button
                  type="button"
                  className="ghost"
                  onClick={() => token.balance !== undefined && setDeposit(formatUnits(token.balance, token.decimals))}
                  disabled={token.balance === undefined}
                >
                  Max
                </button>
              </span>
              <FieldError message={depositError} testId="deposit-error" />
            </label>
            <label>
              Pay with
              <select value={mode} onChange={(e) => setMode(e.target.value as "approve" | "permit")} aria-label="approval mode">
                <option value="approve">approve, then open (2 transactions)</option>
                <option value="permit">permit signature (1 transaction)</option>
              </select>
            </label>
            <button
              onClick={() => runner.guard("open-channel", (r) => open(r)())}
              disabled={runner.isPending("open-channel") || !!depositError || !selected || (dead && !openAnyway)}
            >
              {runner.isPending("open-channel") ? "Opening…" : "Open channel"}
            </button>
          </div>
          <ActionError entry={runner.errorOf("open-channel")} testId="open-channel-error" />
          {selected && parseAmount(deposit, token.decimals) !== undefined && selected.offering.price > 0n && (
            <p className="muted small">
              Buys {(parseAmount(deposit, token.decimals)! / selected.offering.price).toString()} inferences at {token.format(selected.offering.price)}; royalty{" "}
              {selected.model ? `${selected.model.royaltyBps / 100}%` : "?"} of each goes to the model owner.
            </p>
          )}
          <p className="note">
            A new session key is generated in this browser for the channel and named as its voucher signer. It is kept in this browser&apos;s localStorage
            only (never sent anywhere); it can spend at most this channel&apos;s deposit. Clearing site data loses it: close the channel first.
          </p>
          {opened && (
            <p className="ok" data-testid="opened-channel">
              Channel <Addr value={opened} /> is open. Run an inference on the Try it page.
            </p>
          )}
        </>
      )}
    </section>
  );
}

function MyChannels({ runner, account }: { runner: Runner; account: Address }) {
  // Newest first, one page at a time (the indexer's database sorts and cuts when configured).
  const channels = usePaged(["myChannels", account], (src, page) => readChannelsPage(src, { payer: account }, page));
  const list = channels.data?.items ?? [];
  return (
    <section className="card" aria-label="my channels" data-read-source={channels.data?.source}>
      <h2>Your channels{channels.data ? ` (${channels.data.totalCount})` : ""}</h2>
      {channels.isLoading && <p className="muted">Reading channels…</p>}
      {channels.error && <p className="error">{channels.error.message}</p>}
      {channels.data && list.length === 0 && <p className="muted">No channel yet.</p>}
      {list.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>Channel</th>
              <th>Model / price</th>
              <th>Deposit</th>
              <th>Signed / claimed</th>
              <th>Credit left</th>
              <th>State</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {list.map((c) => (
              <ChannelRow key={c.channelId} channel={c} runner={runner} account={account} />
            ))}
          </tbody>
        </table>
      )}
      <Pager paged={channels} label="channels" />
    </section>
  );
}

function ChannelRow({ channel: c, runner, account }: { channel: ChannelInfo; runner: Runner; account: Address }) {
  const config = useConfig();
  const edgepay = useEdgepay();
  const token = useToken(account);
  const store = useBuyerStore();
  const models = useModels();
  const devices = useDevices();
  const now = useChainNow();
  const closeNow = useCooperativeClose();
  const [topUp, setTopUp] = useState("5");
  const record = typeof window !== "undefined" ? store.getChannelSync(c.channelId) : undefined;
  const signed = record?.signed ?? c.claimed;
  const spent = signed > c.claimed ? signed : c.claimed;
  // A settled channel has paid out everything: nothing is left to spend, whatever the deposit was.
  const credit = c.settled ? 0n : c.deposit - spent;
  const model = models.data?.find((m) => m.modelId === c.terms.modelId);
  const endpoint = record?.endpoint ?? devices.data?.find((d) => d.device.toLowerCase() === c.terms.device.toLowerCase())?.endpoint;
  const remaining = c.closesAt && now !== undefined ? c.closesAt - now : undefined;
  const state = c.settled ? "settled" : c.closesAt === 0 ? "open" : remaining !== undefined && remaining > 0 ? "closing" : "withdrawable";
  const pc = edgepay.contracts.paymentChannels;
  const key = (what: string) => `${what}:${c.channelId}`;
  const topUpValue = parseAmount(topUp, token.decimals);
  const topUpError =
    topUpValue === undefined || topUpValue === 0n
      ? `"${topUp}" is not a positive amount.`
      : token.balance !== undefined && topUpValue > token.balance
        ? `Your balance is ${token.format(token.balance)}.`
        : undefined;

  const doTopUp = (r: ActionRunner) => async () => {
    if (topUpValue === undefined || topUpError) return;
    const value = topUpValue;
    const balance = await readContract(config, { address: c.terms.token, abi: testUsdcAbi, functionName: "balanceOf", args: [account] });
    if (balance < value) return r.fail("Top up", `Your balance is ${token.format(balance)}: not enough to add ${token.format(value)}. Nothing was sent.`);
    const allowance = await readContract(config, { address: c.terms.token, abi: testUsdcAbi, functionName: "allowance", args: [account, pc] });
    if (allowance < value) {
      const ok = await r.send(`Approve ${token.format(value)}`, () =>
        writeContract(config, { address: c.terms.token, abi: testUsdcAbi, functionName: "approve", args: [pc, value] }),
      );
      if (!ok) return;
    }
    await r.send(`Top up ${token.format(value)}`, () => writeContract(config, { address: pc, abi: paymentChannelsAbi, functionName: "topUp", args: [c.terms, value] }));
  };
  const requestClose = (r: ActionRunner) => async () => {
    if (
      !window.confirm(
        `Request a close of this channel? It cannot be undone: the channel stops taking payments, the device may still claim during the challenge period, and only then can you withdraw the rest. "Close now" refunds at once when the device answers.`,
      )
    )
      return;
    await r.send("Request close", () => writeContract(config, { address: pc, abi: paymentChannelsAbi, functionName: "requestClose", args: [c.terms] }));
  };
  const cooperative = (r: ActionRunner) => async () => {
    await r.send("Close now (cooperative)", () => closeNow(c.channelId, endpoint));
  };
  const withdraw = (r: ActionRunner) => () =>
    r.send("Withdraw refund", () => writeContract(config, { address: pc, abi: paymentChannelsAbi, functionName: "withdraw", args: [c.terms] }));

  return (
    <tr data-channel={c.channelId} data-state={state}>
      <td>
        <Addr value={c.channelId} />
        <div className="muted small">
          device <Addr value={c.terms.device} />
        </div>
        <div className="small">{record ? <span className="ok">session key in this browser</span> : <span className="warn-text">session key not in this browser</span>}</div>
      </td>
      <td>
        {model ? `#${model.modelId} ${model.name}` : `#${c.terms.modelId}`}
        <div className="muted small">{token.format(c.terms.price)} per call</div>
      </td>
      <td>{token.format(c.deposit)}</td>
      <td>
        {token.format(signed)}
        <div className="muted small">claimed {token.format(c.claimed)}</div>
      </td>
      <td data-testid="credit-left">
        <b>{token.format(credit)}</b>
        <div className="muted small">{c.terms.price > 0n ? `${credit / c.terms.price} calls` : ""}</div>
      </td>
      <td>
        {state === "open" && <span className="badge ok">open</span>}
        {state === "closing" && (
          <span className="badge warn" data-testid="countdown">
            closing · {formatDuration(remaining ?? 0)} left
          </span>
        )}
        {state === "withdrawable" && <span className="badge warn">challenge period over</span>}
        {state === "settled" && <span className="badge">settled</span>}
      </td>
      <td>
        {state === "open" && (
          <>
            <div className="row">
              <input value={topUp} onChange={(e) => setTopUp(e.target.value)} aria-label="top up amount" aria-invalid={!!topUpError} style={{ width: 70 }} />
              <button onClick={() => runner.guard(key("topup"), (r) => doTopUp(r)())} disabled={runner.isPending(key("topup")) || !!topUpError}>
                {runner.isPending(key("topup")) ? "Topping up…" : "Top up"}
              </button>
            </div>
            <FieldError message={topUpError} testId="topup-error" />
            <div className="row">
              {record && (
                <button
                  onClick={() => runner.guard(key("close"), (r) => cooperative(r)())}
                  disabled={runner.isPending(key("close")) || runner.isPending(key("request-close"))}
                  title="The device signs the close for what you paid: the rest comes back in this transaction."
                >
                  {runner.isPending(key("close")) ? "Closing…" : "Close now"}
                </button>
              )}
              <button
                className="ghost"
                onClick={() => runner.guard(key("request-close"), (r) => requestClose(r)())}
                disabled={runner.isPending(key("request-close")) || runner.isPending(key("close"))}
                title="Without the device: starts the challenge period, then you withdraw."
              >
                Request close
              </button>
            </div>
          </>
        )}
        {state === "closing" && <span className="muted small">The provider may still claim until the period ends.</span>}
        {state === "withdrawable" && (
          <button onClick={() => runner.guard(key("withdraw"), (r) => withdraw(r)())} disabled={runner.isPending(key("withdraw"))}>
            Withdraw {token.format(c.deposit - c.claimed)}
          </button>
        )}
        {[key("topup"), key("close"), key("request-close"), key("withdraw")].map((k) => (
          <ActionError key={k} entry={runner.errorOf(k)} />
        ))}
      </td>
    </tr>
  );
}
