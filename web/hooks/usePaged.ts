"use client";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import type { ListSource, PageRequest, SourcedPage } from "../lib/list-reads.ts";
import { useListSource } from "./useListSource.ts";

export const DEFAULT_PAGE_SIZE = 20;

export interface Paged<T> {
  data: SourcedPage<T> | undefined;
  isLoading: boolean;
  error: Error | null;
  page: number;
  pages: number;
  pageSize: number;
  next: () => void;
  prev: () => void;
  setPageSize: (n: number) => void;
}

/** One page of a list (offset paging; the source does the sorting and cutting), with next/prev controls. */
export function usePaged<T>(key: readonly unknown[], read: (src: ListSource, page: PageRequest) => Promise<SourcedPage<T>>, options: { pageSize?: number; enabled?: boolean } = {}): Paged<T> {
  const src = useListSource();
  const [pageSize, setSize] = useState(options.pageSize ?? DEFAULT_PAGE_SIZE);
  const [page, setPage] = useState(0);
  // Another filter or sort is another list: start it at its first page.
  const listKey = JSON.stringify(key, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  useEffect(() => setPage(0), [listKey]);
  const query = useQuery({
    queryKey: ["edgepay", "paged", ...key, src?.indexer?.url ?? null, page, pageSize],
    queryFn: () => read(src!, { offset: page * pageSize, limit: pageSize }),
    enabled: !!src && (options.enabled ?? true),
    placeholderData: keepPreviousData,
  });
  const total = query.data?.totalCount ?? 0;
  const pages = Math.max(1, Math.ceil(total / pageSize));
  return {
    data: query.data,
    isLoading: query.isLoading,
    error: query.error,
    page,
    pages,
    pageSize,
    next: () => setPage((p) => (p + 1 < pages ? p + 1 : p)),
    prev: () => setPage((p) => (p > 0 ? p - 1 : 0)),
    setPageSize: (n: number) => {
      setSize(n);
      setPage(0);
    },
  };
}
