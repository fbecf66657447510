// Where checkpoints and other outputs are written (src/io/node/files.ts): stale temporary files of
// writers killed mid-write are removed on the next save, an unwritable special path fails once with
// the path named (Node's recursive mkdir never returns under /proc), and a folder given where a
// file is expected is named as a folder.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/index.ts';
import { fileSize, readFileWithProgress, removeStaleTemps, writeFileAtomic } from '../../src/io/node/files.ts';
import { readSource } from '../../src/io/source.ts';

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'graft-files-'));

/** A pid that is certainly not running: a child that has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

describe('atomic writes and their temporary files', () => {
  it("the next save removes a dead writer's temp files, keeps a live writer's and unrelated files", async () => {
    const dir = tempDir();
    const target = path.join(dir, 'ckpt.safetensors');
    const dead = path.join(dir, `.ckpt.safetensors.${deadPid()}.0123abcd.tmp`);
    const live = path.join(dir, `.ckpt.safetensors.${process.pid}.89abcdef.tmp`);
    const other = path.join(dir, '.notes.tmp');
    for (const f of [dead, live, other]) fs.writeFileSync(f, 'partial');
    await writeFileAtomic(target, 'new');
    expect(fs.readFileSync(target, 'utf8')).toBe('new');
    expect(fs.existsSync(dead)).toBe(false);
    expect(fs.existsSync(live)).toBe(true);
    expect(fs.existsSync(other)).toBe(true);
    fs.rmSync(dir, { recursive: true });
  });

  it('a temp file of a live pid older than 10 minutes is stale too (the pid may have been reused)', async () => {
    const dir = tempDir();
    const old = path.join(dir, `.x.bin.${process.ppid}.00000000.tmp`);
    fs.writeFileSync(old, 'partial');
    const past = new Date(Date.now() - 11 * 60 * 1000);
    fs.utimesSync(old, past, past);
    expect(await removeStaleTemps(path.join(dir, 'x.bin'))).toEqual([old]);
    fs.rmSync(dir, { recursive: true });
  });

  it('writing under /proc fails once, fast, naming the path (was: an endless loop)', async () => {
    const start = performance.now();
    const error = await writeFileAtomic('/proc/graft-test/sub/out.json', '{}').then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(GraftError);
    expect((error as Error).message).toMatch(/^graft: cannot write \/proc\/graft-test\/sub\/out\.json: cannot create the folder \/proc\/graft-test/);
    expect(performance.now() - start).toBeLessThan(2000);
  });

  it('writing where a parent is a file names it', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'file'), 'x');
    await expect(writeFileAtomic(path.join(dir, 'file', 'out.bin'), 'y')).rejects.toThrow(/cannot write .*file\/out\.bin: .*file is not a folder/);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('a folder where a file is expected', () => {
  it('is named as a folder (was: EISDIR without the path)', async () => {
    const dir = tempDir();
    await expect(readFileWithProgress(dir)).rejects.toThrow(new RegExp(`^graft: ${dir} is a folder, not a file$`));
    await expect(fileSize(dir)).rejects.toThrow(new RegExp(`^graft: ${dir} is a folder, not a file$`));
    await expect(readSource(dir)).rejects.toThrow(/is a folder, not a file/);
    fs.rmSync(dir, { recursive: true });
  });
});
