// Typed ethers contracts for the tests, derived at compile time from the generated `as const` ABIs
// (protocol/generated/contracts.ts): a renamed function or a wrong argument fails `tsc`, not a test at run time.
import type { Abi, AbiFunction, AbiParameter } from "viem";
import type { Addressable, BaseContract, ContractRunner, ContractTransactionResponse, Overrides } from "ethers";

type Components<P> = P extends { components: infer C extends readonly AbiParameter[] } ? C : never;

/** What ethers accepts for one ABI parameter. */
type In<P extends AbiParameter> = P["type"] extends "tuple"
  ? StructIn<Components<P>>
  : P["type"] extends "tuple[]"
    ? readonly StructIn<Components<P>>[]
    : P["type"] extends `${string}[]`
      ? readonly unknown[]
      : ScalarIn<P["type"]>;

type ScalarIn<T extends string> = T extends `uint${string}` | `int${string}`
  ? bigint | number
  : T extends "address"
    ? string | Addressable
    : T extends "bool"
      ? boolean
      : T extends "string"
        ? string
        : T extends `bytes${string}`
          ? string | Uint8Array
          : never;

type StructIn<C extends readonly AbiParameter[]> = { [K in C[number] as K["name"] & string]: In<K> };

/** What ethers returns for one ABI parameter (structs as named fields of a Result). */
type Out<P extends AbiParameter> = P["type"] extends "tuple"
  ? StructOut<Components<P>>
  : P["type"] extends "tuple[]"
    ? readonly StructOut<Components<P>>[]
    : P["type"] extends `${string}[]`
      ? readonly unknown[]
      : ScalarOut<P["type"]>;

type ScalarOut<T extends string> = T extends `uint${string}` | `int${string}`
  ? bigint
  : T extends "bool"
    ? boolean
    : string;

type StructOut<C extends readonly AbiParameter[]> = { readonly [K in C[number] as K["name"] & string]: Out<K> };

type InList<P extends readonly AbiParameter[]> = P extends readonly [
  infer H extends AbiParameter,
  ...infer R extends readonly AbiParameter[],
]
  ? [In<H>, ...InList<R>]
  : [];

type OutList<P extends readonly AbiParameter[]> = P extends readonly [
  infer H extends AbiParameter,
  ...infer R extends readonly AbiParameter[],
]
  ? readonly [Out<H>, ...OutList<R>]
  : readonly [];

type Args<F extends AbiFunction> = InList<F["inputs"]>;

type Returns<F extends AbiFunction> = F["outputs"] extends readonly []
  ? void
  : F["outputs"] extends readonly [infer O extends AbiParameter]
    ? Out<O>
    : OutList<F["outputs"]>;

type Method<F extends AbiFunction> = F["stateMutability"] extends "view" | "pure"
  ? (...args: Args<F>) => Promise<Returns<F>>
  : ((...args: [...Args<F>] | [...Args<F>, Overrides]) => Promise<ContractTransactionResponse>) & {
      staticCall(...args: Args<F>): Promise<Returns<F>>;
    };

type Functions<A extends Abi> = Extract<A[number], { type: "function" }>;

/** An ethers contract whose functions are typed from `A`. */
export type Typed<A extends Abi> = {
  [N in Functions<A>["name"]]: Method<Extract<Functions<A>, { name: N }>>;
} & {
  connect(runner: ContractRunner | null): Typed<A>;
} & Omit<BaseContract, "connect">;

/** Narrows an untyped ethers contract to the ABI it was deployed from. */
export function typed<A extends Abi>(contract: BaseContract, _abi: A): Typed<A> {
  return contract as unknown as Typed<A>;
}
