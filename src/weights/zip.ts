// A minimal zip reader for torch.save archives: the central directory (zip64 too, for files over
// 4 GB), stored entries (what torch writes, data aligned to 64 bytes) and deflated ones (what a zip
// tool re-packing the archive writes), inflated with node:zlib in Node or DecompressionStream in
// the browser.
import { fileError } from './weight-file.ts';
import { hasNodeHost, inNode, nodeHost } from '../io/host.ts';

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const STORED = 0;
const DEFLATED = 8;

export interface ZipEntry {
  name: string;
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array, private readonly source: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    try {
      this.readCentralDirectory();
    } catch (e) {
      // Every read below is bounds-checked; a RangeError that still escapes is a corrupt directory.
      if (e instanceof RangeError) this.fail(`corrupt zip central directory (${e.message})`);
      throw e;
    }
  }

  private u16 = (at: number) => this.view.getUint16(at, true);
  private u32 = (at: number) => this.view.getUint32(at, true);
  private u64 = (at: number) => Number(this.view.getBigUint64(at, true));

  private fail(problem: string): never {
    throw fileError(this.source, problem);
  }

  private readCentralDirectory(): void {
    const n = this.bytes.length;
    // The end-of-central-directory record is 22 bytes plus a comment of up to 65535 bytes.
    let eocd = -1;
    for (let at = n - 22; at >= Math.max(0, n - 22 - 0xffff); at--) {
      if (this.u32(at) === EOCD_SIGNATURE) {
        eocd = at;
        break;
      }
    }
    if (eocd < 0) {
      const legacy = n >= 2 && this.bytes[0] === 0x80 && this.bytes[1] <= 5;
      this.fail(
        legacy
          ? 'not a zip archive: this is the legacy (pre-1.6) torch.save format; re-save it with a newer torch (torch.save(torch.load(f), f))'
          : 'not a zip archive (no end-of-central-directory record: not a torch.save file, or truncated)',
      );
    }
    let count = this.u16(eocd + 10);
    let directorySize = this.u32(eocd + 12);
    let directoryOffset = this.u32(eocd + 16);
    if (count === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
      const locator = eocd - 20;
      if (locator < 0 || this.u32(locator) !== ZIP64_LOCATOR_SIGNATURE) this.fail('zip64 locator missing');
      const record = this.u64(locator + 8);
      if (record + 56 > locator || this.u32(record) !== ZIP64_EOCD_SIGNATURE) this.fail('zip64 end-of-central-directory record missing');
      count = this.u64(record + 32);
      directorySize = this.u64(record + 40);
      directoryOffset = this.u64(record + 48);
    }
    if (directoryOffset + directorySize > eocd) this.fail(`central directory at ${directoryOffset} runs past the end of the file (${n} bytes): truncated`);
    let at = directoryOffset;
    const directoryEnd = directoryOffset + directorySize;
    const decoder = new TextDecoder();
    for (let i = 0; i < count; i++) {
      if (at + 46 > directoryEnd || this.u32(at) !== CENTRAL_SIGNATURE) this.fail(`corrupt central directory entry ${i}`);
      const nameLength = this.u16(at + 28);
      const extraLength = this.u16(at + 30);
      const commentLength = this.u16(at + 32);
      if (at + 46 + nameLength + extraLength + commentLength > directoryEnd) this.fail(`central directory entry ${i} runs past the end of the directory`);
      const entry: ZipEntry = {
        name: decoder.decode(this.bytes.subarray(at + 46, at + 46 + nameLength)),
        method: this.u16(at + 10),
        crc32: this.u32(at + 16),
        compressedSize: this.u32(at + 20),
        size: this.u32(at + 24),
        localHeaderOffset: this.u32(at + 42),
      };
      this.applyZip64Extra(entry, at + 46 + nameLength, extraLength);
      this.entries.set(entry.name, entry);
      at += 46 + nameLength + extraLength + commentLength;
    }
  }

  /** Sizes and offsets of 0xffffffff live in the zip64 extra field (id 1), in this order. */
  private applyZip64Extra(entry: ZipEntry, start: number, length: number): void {
    for (let at = start; at + 4 <= start + length; ) {
      const id = this.u16(at);
      const size = this.u16(at + 2);
      const fieldEnd = at + 4 + size;
      if (fieldEnd > start + length) this.fail(`zip extra field of '${entry.name}' runs past the end of its entry`);
      if (id === 1) {
        let field = at + 4;
        const next = () => {
          if (field + 8 > fieldEnd) this.fail(`zip64 extra field of '${entry.name}' is too short for the sizes it must hold`);
          field += 8;
          return this.u64(field - 8);
        };
        if (entry.size === 0xffffffff) entry.size = next();
        if (entry.compressedSize === 0xffffffff) entry.compressedSize = next();
        if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = next();
      }
      at = fieldEnd;
    }
  }

  /** The first entry whose name ends with `suffix` (torch prefixes every entry with the archive's name). */
  find(suffix: string): ZipEntry | undefined {
    for (const e of this.entries.values()) if (e.name === suffix || e.name.endsWith(`/${suffix}`)) return e;
    return undefined;
  }

  /** An entry's uncompressed bytes. Stored entries are views into the archive (no copy). */
  async read(entry: ZipEntry): Promise<Uint8Array> {
    const at = entry.localHeaderOffset;
    if (at + 30 > this.bytes.length || this.u32(at) !== LOCAL_SIGNATURE) this.fail(`corrupt local header of '${entry.name}'`);
    const start = at + 30 + this.u16(at + 26) + this.u16(at + 28);
    const end = start + entry.compressedSize;
    if (end > this.bytes.length) this.fail(`entry '${entry.name}' needs bytes up to ${end} but the file has ${this.bytes.length}: truncated`);
    const raw = this.bytes.subarray(start, end);
    let out: Uint8Array;
    if (entry.method === STORED) {
      if (entry.compressedSize !== entry.size) this.fail(`stored entry '${entry.name}' has ${entry.compressedSize} bytes but declares ${entry.size}`);
      out = raw;
    } else if (entry.method === DEFLATED) {
      // The central directory's size caps the output: inflating stops past it (a zip bomb stops there).
      out = await inflateRaw(raw, entry.size).catch((e: Error) => this.fail(`entry '${entry.name}' does not inflate: ${e.message}`));
      if (out.length !== entry.size) this.fail(`entry '${entry.name}' inflates to ${out.length} bytes, expected ${entry.size}`);
    } else {
      return this.fail(`entry '${entry.name}' uses compression method ${entry.method} (only stored and deflate are supported)`);
    }
    const native = inNode && hasNodeHost() ? nodeHost('a CRC check').crc32 : undefined;
    const crc = native ? native(out) : crc32(out);
    if (crc !== entry.crc32) this.fail(`entry '${entry.name}' fails its CRC check (crc32 ${hex(crc)}, the directory says ${hex(entry.crc32)}): the file is corrupt`);
    return out;
  }
}

const hex = (n: number) => n.toString(16).padStart(8, '0');

/** CRC-32 (IEEE, as zip uses), slicing by 8 bytes: about 1 GB/s. */
const CRC_TABLES = (() => {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) for (let k = 1; k < 8; k++) t[k * 256 + n] = (t[(k - 1) * 256 + n] >>> 8) ^ t[t[(k - 1) * 256 + n] & 0xff];
  return t;
})();

export function crc32(bytes: Uint8Array): number {
  const t = CRC_TABLES;
  let c = 0xffffffff;
  let i = 0;
  const n = bytes.length;
  for (; i + 8 <= n; i += 8) {
    const a = c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    c =
      t[7 * 256 + (a & 0xff)] ^ t[6 * 256 + ((a >>> 8) & 0xff)] ^ t[5 * 256 + ((a >>> 16) & 0xff)] ^ t[4 * 256 + (a >>> 24)] ^
      t[3 * 256 + bytes[i + 4]] ^ t[2 * 256 + bytes[i + 5]] ^ t[256 + bytes[i + 6]] ^ t[bytes[i + 7]];
  }
  for (; i < n; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Raw deflate, stopping with an error as soon as the output passes `maxBytes`. */
async function inflateRaw(raw: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  if (inNode) return nodeHost('inflating a zip entry').inflateRaw(raw, maxBytes);
  if (typeof DecompressionStream === 'undefined') throw new Error('this browser has no DecompressionStream');
  // Fed in small pieces: a browser inflates each written chunk in full before its output can be
  // read, so 4 KB in yields at most ~4 MB out (deflate's ratio is at most 1032:1) before the cap stops it.
  const stream = new DecompressionStream('deflate-raw');
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  const PIECE = 4096;
  let stop = false;
  const feed = (async () => {
    for (let at = 0; at < raw.length && !stop; at += PIECE) {
      await writer.ready;
      if (stop) break;
      writer.write(raw.subarray(at, at + PIECE) as Uint8Array<ArrayBuffer>).catch(() => {});
    }
    if (!stop) await writer.close().catch(() => {});
  })();
  const out = new Uint8Array(maxBytes);
  let at = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (at + value.length > maxBytes) throw new Error(`inflates to more than ${maxBytes} bytes`);
      out.set(value, at);
      at += value.length;
    }
  } finally {
    stop = true;
    reader.cancel().catch(() => {});
    writer.abort().catch(() => {});
    await feed.catch(() => {});
  }
  return out.subarray(0, at);
}
