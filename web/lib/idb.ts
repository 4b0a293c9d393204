// A minimal promise wrapper over IndexedDB for the dashboard's own data (activity history, receipts).
// One database per purpose; each store has a `key` keyPath and a `scope` index (account + chain, or channel).

export interface IdbStoreSpec {
  db: string;
  store: string;
  version?: number;
}

const opened = new Map<string, Promise<IDBDatabase>>();

export function openStore(spec: IdbStoreSpec): Promise<IDBDatabase> {
  const id = `${spec.db}/${spec.version ?? 1}`;
  let p = opened.get(id);
  if (!p) {
    p = new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open(spec.db, spec.version ?? 1);
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains(spec.store)) {
          const store = db.createObjectStore(spec.store, { keyPath: "key" });
          store.createIndex("scope", "scope");
        }
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error ?? new Error(`IndexedDB ${spec.db} did not open`));
    });
    opened.set(id, p);
    p.catch(() => opened.delete(id));
  }
  return p;
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
    tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
  });
}

/** Writes (upserts) records, all or none; rejects with the browser's error (e.g. QuotaExceededError). */
export async function putAll<T extends { key: string; scope: string }>(spec: IdbStoreSpec, records: readonly T[]): Promise<void> {
  const db = await openStore(spec);
  const tx = db.transaction(spec.store, "readwrite");
  const store = tx.objectStore(spec.store);
  for (const r of records) store.put(r);
  await done(tx);
}

export async function listScope<T>(spec: IdbStoreSpec, scope?: string): Promise<T[]> {
  const db = await openStore(spec);
  const tx = db.transaction(spec.store, "readonly");
  const store = tx.objectStore(spec.store);
  const req = scope === undefined ? store.getAll() : store.index("scope").getAll(IDBKeyRange.only(scope));
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result as T[]);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB read failed"));
  });
}
