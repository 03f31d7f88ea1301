// The converted-model cache: a model's weight graphs, already converted and quantised, kept on disk
// as ONNX files so that the next load skips reading, converting and quantising the checkpoint.
//
// Layout: <cache dir>/<entry>/manifest.json + graph-NNN.onnx (the graph) + graph-NNN.weights (its
// weights, ONNX external data at offsets onnxruntime maps into memory: opening a cached 7B is then
// no protobuf parse and no copy of 7 GB), one entry per checkpoint and options (the key). An entry
// is written in a temporary directory and renamed into place only once every graph and the manifest
// are on disk, so an interrupted or concurrent write never leaves an entry that gets read. Every
// file is checked against the manifest's size and SHA-1 when it is read (an integrity check against
// truncation and bit rot, not against an adversary; the weights file's on a worker thread while
// onnxruntime opens the graph, and the graph is used only once it passed); a bad one is rebuilt from
// the checkpoint and replaced, with a warning. Failing to write (no disk space, no permission) costs
// only the cache: the load goes on, with a warning.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { GraphBuilder, GraphInput } from '../onnx/builder.js';
import { FileChecksums } from './file-checksum.js';
import { GraphSession, type GraphOpener, type SessionSettings } from './session.js';

/** Bumped whenever the graphs built from the same weights change, so older entries are never used. */
export const GRAPH_CACHE_FORMAT = 3;
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

interface ManifestFile {
  readonly file: string;
  readonly bytes: number;
  readonly sha1: string;
}

interface ManifestGraph extends ManifestFile {
  readonly label: string;
  readonly name: string;
  readonly inputs: readonly GraphInput[];
  readonly weightBytes: number;
  /** The graph's external data; null when every initialiser is small enough to sit in the graph file. */
  readonly weights: ManifestFile | null;
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
  /** Writes `chunks` one after another as the file's contents. */
  writeFile(path: string, chunks: readonly Uint8Array[]): void;
}

const DISK_WRITES: CacheWrites = {
  writeFile(path, chunks) {
    const fd = openSync(path, 'w');
    try {
      for (const bytes of chunks) {
        let done = 0;
        while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
      }
      // No fsync: every file's SHA-1 is checked when the entry is read, so one a crash left short
      // or empty is found and rebuilt; syncing cost ~0.25 s a 7B decoder layer.
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
      if (manifest) entries.push({ path, source: manifest.source, bytes: manifest.graphs.reduce((sum, g) => sum + g.bytes + (g.weights?.bytes ?? 0), 0) });
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

  /** @internal Writes `chunks` to `path`, or warns and returns false. */
  tryWrite(path: string, chunks: readonly Uint8Array[]): boolean {
    try {
      this.writes.writeFile(path, chunks);
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
  private written: WrittenGraph[] | null = null;
  private readonly temporary: string;
  /** How many graphs came from the cache, for reports. */
  hits = 0;
  private readonly checksums = new FileChecksums();

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
      const session = await this.openCached(cached);
      if (session) {
        this.hits++;
        return session;
      }
    }
    const graph = build();
    const stored = this.manifest ? await this.repair(label, graph) : this.record(label, graph);
    if (stored) {
      try {
        return await GraphSession.fromFile(stored.path, stored.graph, this.settings);
      } catch (error) {
        // What was just written does not read back (a failing disk): the load goes on from memory.
        this.cache.warning(`the converted-model cache file ${stored.path} does not open after writing (${(error as Error).message}); this load goes on without the cache`);
        if (!this.manifest) this.abandon();
      }
    }
    return GraphSession.create(graph, this.settings);
  }

  /** Completes a new entry: writes its manifest (once the weights' checksums are in) and renames it into place. */
  async finish(): Promise<void> {
    const written = this.written;
    this.written = null;
    if (written === null) {
      void this.checksums.close();
      return;
    }
    let graphs: ManifestGraph[];
    try {
      graphs = await Promise.all(written.map(async ({ weights, ...graph }) => ({ ...graph, weights: weights && { ...weights, sha1: await weights.sha1 } })));
    } catch (error) {
      this.cache.warning(`a converted-model cache file in ${this.temporary} does not read back (${(error as Error).message}); the entry is not kept`);
      rmSync(this.temporary, { recursive: true, force: true });
      return;
    } finally {
      void this.checksums.close();
    }
    const manifest: Manifest = { format: GRAPH_CACHE_FORMAT, key: this.key, source: this.source, graphs };
    if (!this.cache.tryWrite(join(this.temporary, MANIFEST), [new TextEncoder().encode(JSON.stringify(manifest))])) {
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
    void this.checksums.close();
    this.written = null;
    rmSync(this.temporary, { recursive: true, force: true });
  }

  /**
   * The cached graph opened, or null (with a warning) when a file of it is missing or differs from
   * the manifest. Its weights file is hashed on the worker while onnxruntime maps it.
   */
  private async openCached(graph: ManifestGraph): Promise<GraphSession | null> {
    const path = join(this.entryPath, graph.file);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch {
      return this.corrupt(path, 'missing');
    }
    if (bytes.byteLength !== graph.bytes) return this.corrupt(path, `${bytes.byteLength} bytes, expected ${graph.bytes}`);
    if (sha1([bytes]) !== graph.sha1) return this.corrupt(path, 'contents differ from the manifest');
    if (graph.weights === null) return GraphSession.fromModel({ name: graph.name, bytes, inputs: graph.inputs, weightBytes: graph.weightBytes }, this.settings);
    const weightsPath = join(this.entryPath, graph.weights.file);
    let size: number;
    try {
      size = statSync(weightsPath).size;
    } catch {
      return this.corrupt(weightsPath, 'missing');
    }
    if (size !== graph.weights.bytes) return this.corrupt(weightsPath, `${size} bytes, expected ${graph.weights.bytes}`);
    const digest = this.checksums.sha1(weightsPath).catch(() => null);
    let session: GraphSession;
    try {
      session = await GraphSession.fromFile(path, graph, this.settings);
    } catch (error) {
      await digest;
      return this.corrupt(path, `onnxruntime does not open it (${(error as Error).message})`);
    }
    if ((await digest) !== graph.weights.sha1) {
      await session.release();
      return this.corrupt(weightsPath, 'contents differ from the manifest');
    }
    return session;
  }

  private corrupt(path: string, found: string): null {
    this.cache.warning(`converted-model cache file ${path} is corrupt (${found}); rebuilding it from the checkpoint`);
    return null;
  }

  /** Adds `graph` to the new entry; where it was written, or null when the entry was given up. */
  private record(label: string, graph: GraphBuilder): StoredGraph | null {
    if (this.written === null) return null;
    const stored = this.store(this.temporary, `graph-${String(this.written.length).padStart(3, '0')}`, graph, '');
    if (!stored) {
      this.abandon();
      return null;
    }
    this.written.push({ label, ...stored });
    return { path: join(this.temporary, stored.file), graph: stored };
  }

  /** Replaces a bad graph of the existing entry with the rebuilt one (same key, so same bytes); null when it could not. */
  private async repair(label: string, graph: GraphBuilder): Promise<StoredGraph | null> {
    const cached = this.manifest!.graphs.find((g) => g.label === label);
    if (!cached) return this.mismatch(label);
    const base = cached.file.replace(/\.onnx$/, '');
    const temporary = `.tmp-${process.pid}`;
    const stored = this.store(this.entryPath, base, graph, temporary);
    if (!stored) return null;
    const files = [stored, ...(stored.weights ? [stored.weights] : [])];
    const weightsSha1 = stored.weights ? await stored.weights.sha1.catch(() => null) : undefined;
    if (cached.sha1 !== stored.sha1 || cached.weights?.sha1 !== weightsSha1) {
      for (const file of files) rmSync(join(this.entryPath, file.file + temporary), { force: true });
      return this.mismatch(label);
    }
    // The weights first: the graph file names them.
    for (const file of files.reverse()) renameSync(join(this.entryPath, file.file + temporary), join(this.entryPath, file.file));
    return { path: join(this.entryPath, stored.file), graph: stored };
  }

  /** The entry does not match what this code builds: drop it; the next load writes a new one. */
  private mismatch(label: string): null {
    this.cache.warning(`converted-model cache entry ${this.entryPath} does not match the checkpoint's graph "${label}"; removing it`);
    rmSync(this.entryPath, { recursive: true, force: true });
    return null;
  }

  /** The SHA-1 of a file just written, from the checksum worker; a load given up never asks for it, so its failure is handled here. */
  private weightsDigest(path: string): Promise<string> {
    const digest = this.checksums.sha1(path);
    digest.catch(() => undefined);
    return digest;
  }

  /**
   * Writes `graph` as `base`.onnx and `base`.weights (each name + `suffix`) into `dir`; null when a
   * write failed. The weights' SHA-1 is taken from the file as written, on the checksum worker,
   * while this thread goes on (hashing a 7B's 7 GB here cost ~5 s of the first load).
   */
  private store(dir: string, base: string, graph: GraphBuilder, suffix: string): Omit<WrittenGraph, 'label'> | null {
    const weightsFile = `${base}.weights`;
    const { model, data, dataBytes } = graph.toModelWithExternalData(weightsFile);
    if (dataBytes > 0 && !this.cache.tryWrite(join(dir, weightsFile + suffix), data)) return null;
    const file = `${base}.onnx`;
    if (!this.cache.tryWrite(join(dir, file + suffix), [model])) {
      rmSync(join(dir, weightsFile + suffix), { force: true });
      return null;
    }
    return {
      file,
      bytes: model.byteLength,
      sha1: sha1([model]),
      name: graph.graphName,
      inputs: graph.inputList,
      weightBytes: graph.initializerBytes,
      weights: dataBytes > 0 ? { file: weightsFile, bytes: dataBytes, sha1: this.weightsDigest(join(dir, weightsFile + suffix)) } : null,
    };
  }
}

/** A graph of a new entry: its manifest line, the weights' checksum still being computed. */
interface WrittenGraph extends Omit<ManifestGraph, 'weights'> {
  readonly weights: (Omit<ManifestFile, 'sha1'> & { readonly sha1: Promise<string> }) | null;
}

/** A graph written to the cache: its file, and what opening it needs. */
interface StoredGraph {
  readonly path: string;
  readonly graph: Omit<WrittenGraph, 'label'>;
}

function sha1(chunks: readonly Uint8Array[]): string {
  const hash = createHash('sha1');
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
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
