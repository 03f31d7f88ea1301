// The converted-model cache: a model's weight graphs, already converted and quantised, kept on disk
// as ONNX files so that the next load skips reading, converting and quantising the checkpoint.
//
// Layout: <cache dir>/<entry>/manifest.json + graph-NNN.onnx, one entry per checkpoint and options
// (the key). An entry is written in a temporary directory and renamed into place only once every
// graph and the manifest are on disk, so an interrupted or concurrent write never leaves an entry
// that gets read. Every graph file is checked against the manifest's size and SHA-1 when it is read
// (an integrity check against truncation and bit rot, not against an adversary); a bad one is rebuilt
// from the checkpoint and replaced, with a warning. Failing to write (no disk space, no permission)
// costs only the cache: the load goes on, with a warning.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { GraphBuilder, GraphInput } from '../onnx/builder.js';
import { GraphSession, type GraphOpener, type SerializedGraph, type SessionSettings } from './session.js';

/** Bumped whenever the graphs built from the same weights change, so older entries are never used. */
export const GRAPH_CACHE_FORMAT = 2;
const MANIFEST = 'manifest.json';
const TEMPORARY = /\.tmp-(\d+)-[0-9a-f]+$/;

/** `$VISDROP_CACHE_DIR`, else `$XDG_CACHE_HOME/visdrop`, else `~/.cache/visdrop`. */
export function defaultCacheDir(): string {
  return process.env.VISDROP_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'visdrop');
}

/** What an entry was made from; part of its key, and shown by `visdrop cache list`. */
export interface CacheSource {
  /** The checkpoint directory, absolute. */
  readonly checkpoint: string;
  /** The files the graphs are built from, with their sizes and modification times. */
  readonly files: readonly { readonly name: string; readonly bytes: number; readonly modifiedMs: number }[];
  /** Load options that change the graphs (weight format, block size). */
  readonly options: Readonly<Record<string, unknown>>;
}

interface ManifestGraph {
  readonly label: string;
  readonly file: string;
  readonly name: string;
  readonly inputs: readonly GraphInput[];
  readonly weightBytes: number;
  readonly bytes: number;
  readonly sha1: string;
}

interface Manifest {
  readonly format: number;
  readonly key: string;
  readonly source: CacheSource;
  readonly graphs: readonly ManifestGraph[];
}

export interface CacheEntryInfo {
  readonly path: string;
  readonly source: CacheSource;
  readonly bytes: number;
}

/** How the cache touches the disk for writes; tests swap it to run out of space. */
export interface CacheWrites {
  writeFile(path: string, bytes: Uint8Array): void;
}

const DISK_WRITES: CacheWrites = {
  writeFile(path, bytes) {
    const fd = openSync(path, 'w');
    try {
      let done = 0;
      while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  },
};

export interface GraphCacheOptions {
  /** Default: defaultCacheDir(). */
  readonly dir?: string;
  /** Told when the cache cannot be used or written, and the load goes on without it. */
  readonly onWarning?: (message: string) => void;
  readonly writes?: CacheWrites;
}

export class GraphCache {
  readonly dir: string;
  private readonly warn: (message: string) => void;
  private readonly writes: CacheWrites;

  constructor(options: GraphCacheOptions = {}) {
    this.dir = resolve(options.dir ?? defaultCacheDir());
    this.warn = options.onWarning ?? (() => {});
    this.writes = options.writes ?? DISK_WRITES;
  }

  /** The key of `source`: the SHA-256 of everything the graphs depend on. */
  static key(source: CacheSource): string {
    return createHash('sha256').update(JSON.stringify({ format: GRAPH_CACHE_FORMAT, source })).digest('hex');
  }

  /** Describes a checkpoint directory by the files the graphs are built from. */
  static source(checkpointDir: string, fileNames: readonly string[], options: Readonly<Record<string, unknown>>): CacheSource {
    const files = [...fileNames].sort().map((name) => {
      const stats = statSync(join(checkpointDir, name));
      return { name, bytes: stats.size, modifiedMs: stats.mtimeMs };
    });
    return { checkpoint: resolve(checkpointDir), files, options };
  }

  /** An opener that reads the entry of `source` where it exists and writes it where it does not. */
  opener(source: CacheSource, settings: SessionSettings = {}): CachedGraphOpener {
    return new CachedGraphOpener(this, source, GraphCache.key(source), settings);
  }

  /** Every complete entry, with what it was made from. */
  list(): CacheEntryInfo[] {
    if (!existsSync(this.dir)) return [];
    const entries: CacheEntryInfo[] = [];
    for (const name of readdirSync(this.dir)) {
      const path = join(this.dir, name);
      const manifest = readManifest(path);
      if (manifest) entries.push({ path, source: manifest.source, bytes: manifest.graphs.reduce((sum, g) => sum + g.bytes, 0) });
    }
    return entries;
  }

  /** Removes every entry and leftover; returns how many entries there were. */
  clear(): number {
    const count = this.list().length;
    rmSync(this.dir, { recursive: true, force: true });
    return count;
  }

  /** @internal The entry directory of `key`, named so a person can tell entries apart. */
  entryPath(source: CacheSource, key: string): string {
    return join(this.dir, `${basename(source.checkpoint)}-${key.slice(0, 16)}`);
  }

  /** @internal */
  readEntry(path: string, key: string): Manifest | null {
    const manifest = readManifest(path);
    if (manifest === null) {
      if (existsSync(path)) {
        this.warn(`converted-model cache entry ${path} has no readable manifest of format ${GRAPH_CACHE_FORMAT}; removing it and rebuilding from the checkpoint`);
        rmSync(path, { recursive: true, force: true });
      }
      return null;
    }
    return manifest.key === key ? manifest : null;
  }

  /** @internal Writes `bytes` to `path`, or warns and returns false. */
  tryWrite(path: string, bytes: Uint8Array): boolean {
    try {
      this.writes.writeFile(path, bytes);
      return true;
    } catch (error) {
      rmSync(path, { force: true });
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ENOSPC' ? 'no space left on the device' : (error as Error).message;
      this.warn(`could not write the converted-model cache (${why}); this load goes on without it`);
      return false;
    }
  }

  /** @internal Warns. */
  warning(message: string): void {
    this.warn(message);
  }

  /** @internal Removes other entries of the same checkpoint and options, and temporaries of writers no longer running. */
  prune(keep: string, source: CacheSource): void {
    for (const name of readdirSync(this.dir)) {
      const path = join(this.dir, name);
      if (path === keep) continue;
      const writer = TEMPORARY.exec(name);
      if (writer) {
        if (!isRunning(Number(writer[1]))) rmSync(path, { recursive: true, force: true });
        continue;
      }
      const manifest = readManifest(path);
      const same = manifest && manifest.source.checkpoint === source.checkpoint && JSON.stringify(manifest.source.options) === JSON.stringify(source.options);
      if (same) rmSync(path, { recursive: true, force: true });
    }
  }
}

/**
 * Opens a model's weight graphs in order, each from the cache entry when it holds a sound copy,
 * otherwise built from the checkpoint (and written to a new entry, or repaired in the existing one).
 */
export class CachedGraphOpener implements GraphOpener {
  private readonly entryPath: string;
  private readonly manifest: Manifest | null;
  /** Graphs of a new entry, written into `temporary`; null once writing failed or when reading. */
  private written: ManifestGraph[] | null = null;
  private readonly temporary: string;
  /** How many graphs came from the cache, for reports. */
  hits = 0;

  constructor(
    private readonly cache: GraphCache,
    private readonly source: CacheSource,
    private readonly key: string,
    private readonly settings: SessionSettings,
  ) {
    this.entryPath = cache.entryPath(source, key);
    this.manifest = cache.readEntry(this.entryPath, key);
    this.temporary = `${this.entryPath}.tmp-${process.pid}-${createHash('sha1').update(String(Math.random())).digest('hex').slice(0, 8)}`;
    if (this.manifest === null) {
      try {
        mkdirSync(this.temporary, { recursive: true });
        this.written = [];
      } catch (error) {
        cache.warning(`could not create the converted-model cache in ${cache.dir} (${(error as Error).message}); this load goes on without it`);
      }
    }
  }

  async open(label: string, build: () => GraphBuilder): Promise<GraphSession> {
    const cached = this.manifest?.graphs.find((g) => g.label === label);
    if (cached) {
      const bytes = this.readChecked(cached);
      if (bytes) {
        this.hits++;
        return GraphSession.fromModel({ name: cached.name, bytes, inputs: cached.inputs, weightBytes: cached.weightBytes }, this.settings);
      }
    }
    const graph = build();
    const serialized: SerializedGraph = { name: graph.graphName, bytes: graph.toModelBytes(), inputs: graph.inputList, weightBytes: graph.initializerBytes };
    if (this.manifest) this.repair(label, serialized);
    else this.record(label, serialized);
    return GraphSession.fromModel(serialized, this.settings);
  }

  /** Completes a new entry: writes its manifest and renames it into place. */
  finish(): void {
    if (this.written === null) return;
    const manifest: Manifest = { format: GRAPH_CACHE_FORMAT, key: this.key, source: this.source, graphs: this.written };
    this.written = null;
    if (!this.cache.tryWrite(join(this.temporary, MANIFEST), new TextEncoder().encode(JSON.stringify(manifest)))) {
      rmSync(this.temporary, { recursive: true, force: true });
      return;
    }
    try {
      renameSync(this.temporary, this.entryPath);
    } catch {
      // Another process finished the same entry first; theirs is as good as ours.
      rmSync(this.temporary, { recursive: true, force: true });
      return;
    }
    this.cache.prune(this.entryPath, this.source);
  }

  /** Gives up a new entry (the load failed). */
  abandon(): void {
    this.written = null;
    rmSync(this.temporary, { recursive: true, force: true });
  }

  private readChecked(graph: ManifestGraph): Uint8Array | null {
    const path = join(this.entryPath, graph.file);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch {
      return this.corrupt(path, 'missing');
    }
    if (bytes.byteLength !== graph.bytes) return this.corrupt(path, `${bytes.byteLength} bytes, expected ${graph.bytes}`);
    if (sha1(bytes) !== graph.sha1) return this.corrupt(path, 'contents differ from the manifest');
    return bytes;
  }

  private corrupt(path: string, found: string): null {
    this.cache.warning(`converted-model cache file ${path} is corrupt (${found}); rebuilding it from the checkpoint`);
    return null;
  }

  private record(label: string, graph: SerializedGraph): void {
    if (this.written === null) return;
    const file = `graph-${String(this.written.length).padStart(3, '0')}.onnx`;
    if (!this.cache.tryWrite(join(this.temporary, file), graph.bytes)) {
      this.abandon();
      return;
    }
    this.written.push({ label, file, ...describe(graph) });
  }

  /** Replaces a bad file of the existing entry with the rebuilt graph (same key, so same bytes). */
  private repair(label: string, graph: SerializedGraph): void {
    const cached = this.manifest!.graphs.find((g) => g.label === label);
    const described = describe(graph);
    if (!cached || cached.sha1 !== described.sha1) {
      // The entry does not match what this code builds: drop it; the next load writes a new one.
      this.cache.warning(`converted-model cache entry ${this.entryPath} does not match the checkpoint's graph "${label}"; removing it`);
      rmSync(this.entryPath, { recursive: true, force: true });
      return;
    }
    const path = join(this.entryPath, cached.file);
    const temporary = `${path}.tmp-${process.pid}`;
    if (this.cache.tryWrite(temporary, graph.bytes)) renameSync(temporary, path);
  }
}

function describe(graph: SerializedGraph): Omit<ManifestGraph, 'label' | 'file'> {
  return { name: graph.name, inputs: graph.inputs, weightBytes: graph.weightBytes, bytes: graph.bytes.byteLength, sha1: sha1(graph.bytes) };
}

function sha1(bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('hex');
}

function readManifest(entry: string): Manifest | null {
  try {
    const manifest = JSON.parse(readFileSync(join(entry, MANIFEST), 'utf8')) as Manifest;
    return manifest.format === GRAPH_CACHE_FORMAT && Array.isArray(manifest.graphs) ? manifest : null;
  } catch {
    return null;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
