// The tuning cache's identity and format. One file per identity: the adapter (vendor,
// architecture, device, description, runtime), Graft's version and a hash of the shader files
// the tuner chooses among; a change to any of them starts a new file, so a stale choice is never
// used. The file holds `{ format, identity, choices: { "<family> <key>": TuneChoice } }`.
import { VERSION } from '../../core/index.ts';
import type { Runtime, TuneChoice } from '../runtime/index.ts';
import { tuneFamilies } from './families.ts';

const FORMAT = 1;

/** What a cached choice is valid for. */
export interface TuneIdentity {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  runtime: string;
  graft: string;
  shaders: string;
}

/** FNV-1a, 32 bits, as 8 hex digits (an identity check, not security). */
export function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

export function tuneIdentity(rt: Runtime): TuneIdentity {
  const texts = new Set<string>();
  for (const f of Object.values(tuneFamilies)) for (const k of f.sources) texts.add(k.wgsl);
  const r = rt.report;
  return { vendor: r.vendor, architecture: r.architecture, device: r.device, description: r.description, runtime: r.runtime, graft: VERSION, shaders: fnv1a([...texts].join('\0')) };
}

/** A file name for the identity: readable adapter words, then a hash of the whole identity. */
export function identityName(id: TuneIdentity): string {
  const words = [id.vendor, id.architecture, id.device].filter(Boolean).join('-').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
  return `${words || 'adapter'}-${fnv1a(JSON.stringify(id))}`;
}

export function serialize(id: TuneIdentity, choices: ReadonlyMap<string, TuneChoice>): string {
  const sorted = Object.fromEntries([...choices].sort(([a], [b]) => (a < b ? -1 : 1)));
  return JSON.stringify({ format: FORMAT, identity: id, choices: sorted }, null, 1) + '\n';
}

/**
 * The choices of a cache text. Throws an Error naming the problem when the text is not a cache of
 * this format or holds another identity (the file name derives from it: an edit, or a collision).
 */
export function parseCache(text: string, id: TuneIdentity): Map<string, TuneChoice> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`not JSON (${(e as Error).message})`);
  }
  const d = data as { format?: unknown; identity?: unknown; choices?: unknown };
  if (!d || typeof d !== 'object' || d.format !== FORMAT || typeof d.choices !== 'object' || d.choices === null) {
    throw new Error(`not a tuning cache of format ${FORMAT}`);
  }
  if (JSON.stringify(d.identity) !== JSON.stringify(id)) throw new Error('it was written for another adapter, Graft version or shader set');
  const out = new Map<string, TuneChoice>();
  for (const [k, v] of Object.entries(d.choices as Record<string, unknown>)) {
    const c = v as TuneChoice;
    if (!c || typeof c.variant !== 'string') throw new Error(`entry '${k}' has no variant`);
    out.set(k, c);
  }
  return out;
}
