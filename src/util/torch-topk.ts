// torch.topk's order on the CPU, ties included. Methods whose code picks by torch.topk depend on the
// order it returns tied values in (SparseVLM's clustering numbers its clusters by the rank of their
// centres, and mutual nearest neighbours tie in density), and that order is no stable rule: ATen's
// topk_impl_loop (aten/src/ATen/native/TopKImpl.h) puts (value, index) pairs through libstdc++'s
// std::partial_sort when k * 64 <= n, else std::nth_element at k - 1 followed by std::sort of the
// first k - 1, with a comparator on the value alone. This file replays those libstdc++ algorithms
// (introselect, introsort with median-of-three pivots and insertion sort below 16 elements, heap
// select/sort) step by step so that ties resolve as they do there (checked against torch 1.13 in
// src/util/torch-topk.test.ts).
// Legend: q the working array of indices into `values`, comp(a, b) = "a goes before b".

type Comp = (a: number, b: number) => boolean;

const SORT_THRESHOLD = 16; // libstdc++'s _S_threshold

function swap(q: number[], a: number, b: number): void {
  const t = q[a]!;
  q[a] = q[b]!;
  q[b] = t;
}

function log2Floor(n: number): number {
  return 31 - Math.clz32(n);
}

// ---- heap (std::__adjust_heap, __push_heap, __make_heap, __pop_heap, __heap_select, __sort_heap) ----

function pushHeap(q: number[], first: number, hole: number, top: number, value: number, comp: Comp): void {
  let parent = Math.trunc((hole - 1) / 2);
  while (hole > top && comp(q[first + parent]!, value)) {
    q[first + hole] = q[first + parent]!;
    hole = parent;
    parent = Math.trunc((hole - 1) / 2);
  }
  q[first + hole] = value;
}

function adjustHeap(q: number[], first: number, hole: number, len: number, value: number, comp: Comp): void {
  const top = hole;
  let child = hole;
  while (child < Math.trunc((len - 1) / 2)) {
    child = 2 * (child + 1);
    if (comp(q[first + child]!, q[first + child - 1]!)) child--;
    q[first + hole] = q[first + child]!;
    hole = child;
  }
  if ((len & 1) === 0 && child === Math.trunc((len - 2) / 2)) {
    child = 2 * (child + 1);
    q[first + hole] = q[first + child - 1]!;
    hole = child - 1;
  }
  pushHeap(q, first, hole, top, value, comp);
}

function makeHeap(q: number[], first: number, last: number, comp: Comp): void {
  const len = last - first;
  if (len < 2) return;
  for (let parent = Math.trunc((len - 2) / 2); ; parent--) {
    adjustHeap(q, first, parent, len, q[first + parent]!, comp);
    if (parent === 0) return;
  }
}

function popHeap(q: number[], first: number, last: number, result: number, comp: Comp): void {
  const value = q[result]!;
  q[result] = q[first]!;
  adjustHeap(q, first, 0, last - first, value, comp);
}

function heapSelect(q: number[], first: number, middle: number, last: number, comp: Comp): void {
  makeHeap(q, first, middle, comp);
  for (let i = middle; i < last; i++) if (comp(q[i]!, q[first]!)) popHeap(q, first, middle, i, comp);
}

function sortHeap(q: number[], first: number, last: number, comp: Comp): void {
  while (last - first > 1) {
    last--;
    popHeap(q, first, last, last, comp);
  }
}

function partialSort(q: number[], first: number, middle: number, last: number, comp: Comp): void {
  heapSelect(q, first, middle, last, comp);
  sortHeap(q, first, middle, comp);
}

// ---- quicksort pieces (std::__move_median_to_first, __unguarded_partition(_pivot)) ----

function moveMedianToFirst(q: number[], result: number, a: number, b: number, c: number, comp: Comp): void {
  if (comp(q[a]!, q[b]!)) {
    if (comp(q[b]!, q[c]!)) swap(q, result, b);
    else if (comp(q[a]!, q[c]!)) swap(q, result, c);
    else swap(q, result, a);
  } else if (comp(q[a]!, q[c]!)) swap(q, result, a);
  else if (comp(q[b]!, q[c]!)) swap(q, result, c);
  else swap(q, result, b);
}

function unguardedPartition(q: number[], first: number, last: number, pivot: number, comp: Comp): number {
  for (;;) {
    while (comp(q[first]!, q[pivot]!)) first++;
    last--;
    while (comp(q[pivot]!, q[last]!)) last--;
    if (!(first < last)) return first;
    swap(q, first, last);
    first++;
  }
}

function unguardedPartitionPivot(q: number[], first: number, last: number, comp: Comp): number {
  const mid = first + Math.trunc((last - first) / 2);
  moveMedianToFirst(q, first, first + 1, mid, last - 1, comp);
  return unguardedPartition(q, first + 1, last, first, comp);
}

// ---- insertion sorts (std::__insertion_sort, __unguarded_linear_insert) ----

function unguardedLinearInsert(q: number[], last: number, comp: Comp): void {
  const value = q[last]!;
  let next = last - 1;
  while (comp(value, q[next]!)) {
    q[last] = q[next]!;
    last = next;
    next--;
  }
  q[last] = value;
}

function insertionSort(q: number[], first: number, last: number, comp: Comp): void {
  if (first === last) return;
  for (let i = first + 1; i < last; i++) {
    if (comp(q[i]!, q[first]!)) {
      const value = q[i]!;
      for (let j = i; j > first; j--) q[j] = q[j - 1]!;
      q[first] = value;
    } else {
      unguardedLinearInsert(q, i, comp);
    }
  }
}

// ---- std::sort and std::nth_element ----

function introsortLoop(q: number[], first: number, last: number, depth: number, comp: Comp): void {
  while (last - first > SORT_THRESHOLD) {
    if (depth === 0) {
      partialSort(q, first, last, last, comp);
      return;
    }
    depth--;
    const cut = unguardedPartitionPivot(q, first, last, comp);
    introsortLoop(q, cut, last, depth, comp);
    last = cut;
  }
}

function sort(q: number[], first: number, last: number, comp: Comp): void {
  if (first === last) return;
  introsortLoop(q, first, last, 2 * log2Floor(last - first), comp);
  if (last - first > SORT_THRESHOLD) {
    insertionSort(q, first, first + SORT_THRESHOLD, comp);
    for (let i = first + SORT_THRESHOLD; i < last; i++) unguardedLinearInsert(q, i, comp);
  } else {
    insertionSort(q, first, last, comp);
  }
}

function nthElement(q: number[], first: number, nth: number, last: number, comp: Comp): void {
  if (first === last || nth === last) return;
  let depth = 2 * log2Floor(last - first);
  while (last - first > 3) {
    if (depth === 0) {
      heapSelect(q, first, nth + 1, last, comp);
      swap(q, first, nth);
      return;
    }
    depth--;
    const cut = unguardedPartitionPivot(q, first, last, comp);
    if (cut <= nth) first = cut;
    else last = cut;
  }
  insertionSort(q, first, last, comp);
}

/**
 * Indices of the k largest (or smallest) values in the order torch.topk(values, k, largest, sorted=True)
 * returns them on the CPU; NaN counts as the largest (and, for `largest = false`, as the smallest last).
 */
export function torchTopk(values: ArrayLike<number>, k: number, largest = true): number[] {
  const n = values.length;
  if (!Number.isInteger(k) || k < 0 || k > n) throw new RangeError(`topk: k = ${k} outside 0..${n}`);
  if (k === 0) return [];
  const comp: Comp = largest
    ? (a, b) => (Number.isNaN(values[a]!) && !Number.isNaN(values[b]!)) || values[a]! > values[b]!
    : (a, b) => (!Number.isNaN(values[a]!) && Number.isNaN(values[b]!)) || values[a]! < values[b]!;
  const q = Array.from({ length: n }, (_, i) => i);
  if (k * 64 <= n) {
    partialSort(q, 0, k, n, comp);
  } else {
    nthElement(q, 0, k - 1, n, comp);
    sort(q, 0, k - 1, comp);
  }
  return q.slice(0, k);
}
