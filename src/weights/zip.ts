// A minimal zip reader for torch.save archives: the central directory (zip64 too, for files over
// 4 GB), stored entries (what torch writes, data aligned to 64 bytes) and deflated ones (what a zip
// tool re-packing the archive writes), inflated with node:zlib in Node or DecompressionStream in
// the browser.
import { fileError } from './weight-file.ts';
import { inNode, nodeHost } from '../io/host.ts';

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
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array, private readonly source: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.readCentralDirectory();
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
      if (record + 56 > n || this.u32(record) !== ZIP64_EOCD_SIGNATURE) this.fail('zip64 end-of-central-directory record missing');
      count = this.u64(record + 32);
      directorySize = this.u64(record + 40);
      directoryOffset = this.u64(record + 48);
    }
    if (directoryOffset + directorySize > n) this.fail(`central directory at ${directoryOffset} runs past the end of the file (${n} bytes): truncated`);
    let at = directoryOffset;
    const decoder = new TextDecoder();
    for (let i = 0; i < count; i++) {
      if (at + 46 > n || this.u32(at) !== CENTRAL_SIGNATURE) this.fail(`corrupt central directory entry ${i}`);
      const nameLength = this.u16(at + 28);
      const extraLength = this.u16(at + 30);
      const commentLength = this.u16(at + 32);
      const entry: ZipEntry = {
        name: decoder.decode(this.bytes.subarray(at + 46, at + 46 + nameLength)),
        method: this.u16(at + 10),
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
      if (id === 1) {
        let field = at + 4;
        if (entry.size === 0xffffffff) (entry.size = this.u64(field)), (field += 8);
        if (entry.compressedSize === 0xffffffff) (entry.compressedSize = this.u64(field)), (field += 8);
        if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = this.u64(field);
      }
      at += 4 + size;
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
    if (entry.method === STORED) return raw;
    if (entry.method !== DEFLATED) this.fail(`entry '${entry.name}' uses compression method ${entry.method} (only stored and deflate are supported)`);
    const out = await inflateRaw(raw, entry.size).catch((e: Error) => this.fail(`entry '${entry.name}' does not inflate: ${e.message}`));
    if (out.length !== entry.size) this.fail(`entry '${entry.name}' inflates to ${out.length} bytes, expected ${entry.size}`);
    return out;
  }
}

async function inflateRaw(raw: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  if (inNode) return nodeHost('inflating a zip entry').inflateRaw(raw, maxBytes);
  if (typeof DecompressionStream === 'undefined') throw new Error('this browser has no DecompressionStream');
  const stream = new Blob([raw as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
