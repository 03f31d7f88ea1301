// The iteration order of CPython's `list(set(keys))` for non-negative integers (hash(n) = n), which
// DART's code uses as its pivot visiting order (dart.md section 2.1). CPython's set is an
// open-addressing table: 8 slots to start, slot = key & mask, a collision probes up to 9 following
// slots (when they exist) and otherwise jumps by perturbation; after an insertion that fills 3/5 of
// the table it grows to the smallest power of two above 4 x used, re-inserting the old entries in
// slot order. Iteration walks the slots in ascending order. (setobject.c, unchanged since 3.7.)

const LINEAR_PROBES = 9;

/** Keys in the order CPython iterates a set built by adding them one by one (duplicates once). */
export function pythonSetOrder(keys: readonly number[]): number[] {
  for (const key of keys) {
    if (!Number.isSafeInteger(key) || key < 0) throw new RangeError(`pythonSetOrder: expected non-negative integers, found ${key}`);
  }
  let table: (number | null)[] = new Array<number | null>(8).fill(null);
  let fill = 0;
  let used = 0;
  for (const key of keys) {
    const mask = table.length - 1;
    let i = key & mask;
    let perturb = key;
    let added = false;
    let present = false;
    while (!added && !present) {
      const probes = i + LINEAR_PROBES <= mask ? LINEAR_PROBES : 0;
      for (let j = i; j <= i + probes; j++) {
        if (table[j] === null) {
          table[j] = key;
          fill++;
          used++;
          added = true;
          break;
        }
        if (table[j] === key) {
          present = true;
          break;
        }
      }
      if (!added && !present) {
        perturb = Math.floor(perturb / 32);
        i = (i * 5 + 1 + perturb) & mask;
      }
    }
    if (added && fill * 5 >= mask * 3) {
      let size = 8;
      while (size <= (used > 50000 ? used * 2 : used * 4)) size *= 2;
      const old = table;
      table = new Array<number | null>(size).fill(null);
      for (const k of old) if (k !== null) insertClean(table, k);
      fill = used;
    }
  }
  return table.filter((k): k is number => k !== null);
}

/** Re-insertion after a resize: the key cannot be present, so the first free slot takes it. */
function insertClean(table: (number | null)[], key: number): void {
  const mask = table.length - 1;
  let i = key & mask;
  let perturb = key;
  for (;;) {
    if (table[i] === null) {
      table[i] = key;
      return;
    }
    if (i + LINEAR_PROBES <= mask) {
      for (let j = 1; j <= LINEAR_PROBES; j++) {
        if (table[i + j] === null) {
          table[i + j] = key;
          return;
        }
      }
    }
    perturb = Math.floor(perturb / 32);
    i = (i * 5 + 1 + perturb) & mask;
  }
}
