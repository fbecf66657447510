// A subset of Python's pickle virtual machine: the opcodes that torch.save writes for state dicts and
// training checkpoints (protocols 2-5). Nothing is executed: a GLOBAL resolves through the caller's
// `findGlobal`, which returns a PyGlobal whose `call` builds a JS value, or throws for what it does
// not support. Python values map to JS as: dict -> Map, list/tuple -> Array, str -> string,
// int -> number (bigint beyond 2^53), float -> number, None -> null, bytes -> Uint8Array.
import { GraftError } from '../core/index.ts';

/** A Python global (module.name) and how to build a value from it (REDUCE / NEWOBJ). */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly call?: (args: unknown[]) => unknown,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An instance of a global we do not model (numpy scalars, argparse.Namespace, ...), kept opaque. */
export class PyObject {
  state: unknown = null;
  constructor(readonly type: PyGlobal, readonly args: unknown[]) {}
}

export interface UnpickleHooks {
  findGlobal(module: string, name: string): PyGlobal;
  persistentLoad(pid: unknown): unknown;
}

const MARK = Symbol('mark');

export function unpickle(bytes: Uint8Array, hooks: UnpickleHooks, source: string): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder();
  const latin1 = new TextDecoder('latin1');
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  let op = 0;
  let opAt = 0;

  const fail = (problem: string): never => {
    throw new GraftError(`${source}: ${problem} (pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${opAt})`);
  };
  const need = (n: number) => {
    if (pos + n > bytes.length) fail(`pickle data ends early: needed ${n} more bytes`);
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const i32 = () => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const u64 = () => (need(8), (pos += 8), Number(view.getBigUint64(pos - 8, true)));
  const take = (n: number) => (need(n), (pos += n), bytes.subarray(pos - n, pos));
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('pickle data ends inside a text line');
    const s = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = () => (stack.length ? stack.pop() : fail('pickle stack underflow'));
  const top = () => (stack.length ? stack[stack.length - 1] : fail('pickle stack underflow'));
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = marks.pop();
    if (!prev) fail('pickle MARK missing');
    stack = prev!;
    return items;
  };
  const littleEndianInt = (b: Uint8Array): number | bigint => {
    if (!b.length) return 0;
    // A weight file's integers are sizes and counters; a huge one is only a way to burn CPU.
    if (b.length > 32) fail(`integer of ${b.length} bytes is too large`);
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : fail(`APPEND(S) on a ${describe(v)}`));
  const callGlobal = (callable: unknown, args: unknown) => {
    if (!(callable instanceof PyGlobal)) return fail(`cannot call a ${describe(callable)}`);
    if (!Array.isArray(args)) return fail(`${callable.qualifiedName} called with a ${describe(args)} instead of an argument tuple`);
    return callable.call ? callable.call(args) : new PyObject(callable, args);
  };
  const setItems = (dict: unknown, items: unknown[]) => {
    if (!(dict instanceof Map)) fail(`SETITEM(S) on a ${describe(dict)}`);
    for (let i = 0; i + 1 < items.length; i += 2) (dict as Map<unknown, unknown>).set(key(items[i], fail), items[i + 1]);
  };

  for (;;) {
    opAt = pos;
    op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME: a length hint only
      case 0x2e: return pop(); // STOP '.'
      case 0x28: marks.push(stack); stack = []; break; // MARK '('
      case 0x29: stack.push([]); break; // EMPTY_TUPLE ')'
      case 0x5d: stack.push([]); break; // EMPTY_LIST ']'
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT '}'
      case 0x8f: stack.push(new Set()); break; // EMPTY_SET
      case 0x74: { const items = popMark(); stack.push(items); break; } // TUPLE 't' (popMark swaps `stack`: call it first)
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); stack.push([pop(), b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); stack.push([pop(), b, c]); break; } // TUPLE3
      case 0x6c: { const items = popMark(); stack.push(items); break; } // LIST 'l'
      case 0x64: { const d = new Map(); setItems(d, popMark()); stack.push(d); break; } // DICT 'd'
      case 0x61: { const v = pop(); list(top()).push(v); break; } // APPEND 'a'
      case 0x65: { const items = popMark(); const l = list(top()); for (const v of items) l.push(v); break; } // APPENDS 'e'
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM 's'
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS 'u'
      case 0x90: { const items = popMark(); const set = top(); if (!(set instanceof Set)) fail(`ADDITEMS on a ${describe(set)}`); for (const v of items) (set as Set<unknown>).add(v); break; } // ADDITEMS
      case 0x91: { const items = popMark(); stack.push(new Set(items)); break; } // FROZENSET
      case 0x4e: stack.push(null); break; // NONE 'N'
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4b: stack.push(u8()); break; // BININT1 'K'
      case 0x4d: stack.push(u16()); break; // BININT2 'M'
      case 0x4a: stack.push(i32()); break; // BININT 'J'
      case 0x8a: stack.push(littleEndianInt(take(u8()))); break; // LONG1
      case 0x8b: stack.push(littleEndianInt(take(u32()))); break; // LONG4
      case 0x49: { const s = line(); stack.push(s === '01' ? true : s === '00' ? false : Number(s)); break; } // INT 'I'
      case 0x4c: stack.push(Number(line().replace(/L$/, ''))); break; // LONG 'L'
      case 0x47: need(8); stack.push(view.getFloat64(pos, false)); pos += 8; break; // BINFLOAT 'G' (big-endian)
      case 0x46: stack.push(Number(line())); break; // FLOAT 'F'
      case 0x58: stack.push(text.decode(take(u32()))); break; // BINUNICODE 'X'
      case 0x8c: stack.push(text.decode(take(u8()))); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(text.decode(take(u64()))); break; // BINUNICODE8
      case 0x56: stack.push(line()); break; // UNICODE 'V' (raw-unicode-escape; ASCII in practice)
      case 0x54: stack.push(latin1.decode(take(u32()))); break; // BINSTRING 'T'
      case 0x55: stack.push(latin1.decode(take(u8()))); break; // SHORT_BINSTRING 'U'
      case 0x53: stack.push(line().replace(/^'(.*)'$|^"(.*)"$/, '$1$2')); break; // STRING 'S'
      case 0x42: stack.push(take(u32()).slice()); break; // BINBYTES 'B'
      case 0x43: stack.push(take(u8()).slice()); break; // SHORT_BINBYTES 'C'
      case 0x8e: stack.push(take(u64()).slice()); break; // BINBYTES8
      case 0x71: memo.set(u8(), top()); break; // BINPUT 'q'
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT 'r'
      case 0x70: memo.set(Number(line()), top()); break; // PUT 'p'
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: case 0x67: { // BINGET 'h', LONG_BINGET 'j', GET 'g'
        const index = op === 0x68 ? u8() : op === 0x6a ? u32() : Number(line());
        if (!memo.has(index)) fail(`memo entry ${index} is missing`);
        stack.push(memo.get(index));
        break;
      }
      case 0x30: pop(); break; // POP '0'
      case 0x31: popMark(); break; // POP_MARK '1'
      case 0x32: stack.push(top()); break; // DUP '2'
      case 0x63: { const module = line(); stack.push(hooks.findGlobal(module, line())); break; } // GLOBAL 'c'
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail(`STACK_GLOBAL needs two strings, got ${describe(module)} and ${describe(name)}`);
        stack.push(hooks.findGlobal(module as string, name as string));
        break;
      }
      case 0x52: { const args = pop(); stack.push(callGlobal(pop(), args)); break; } // REDUCE 'R'
      case 0x81: { const args = pop(); stack.push(callGlobal(pop(), args)); break; } // NEWOBJ
      case 0x92: { pop(); const args = pop(); stack.push(callGlobal(pop(), args)); break; } // NEWOBJ_EX (kwargs ignored)
      case 0x62: { // BUILD 'b': __setstate__; a dict's state (OrderedDict._metadata) carries nothing we need
        const state = pop();
        const obj = top();
        if (obj instanceof PyObject) obj.state = state;
        break;
      }
      case 0x51: stack.push(hooks.persistentLoad(pop())); break; // BINPERSID 'Q'
      case 0x50: stack.push(hooks.persistentLoad(line())); break; // PERSID 'P'
      default:
        fail(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}

/**
 * Dict keys: a state dict's keys are strings (checkpoints' optimizer state uses ints). Anything else
 * is refused by kind: nothing is ever serialised to build a key (a tuple DAG of depth 40 would take
 * minutes and gigabytes to stringify).
 */
function key(k: unknown, fail: (problem: string) => never): unknown {
  if (typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') return k;
  return fail(`dict key is a ${describe(k)}: a state dict's keys are strings or integers`);
}

export function describe(v: unknown): string {
  if (v instanceof PyObject) return `${v.type.qualifiedName} object`;
  if (v instanceof PyGlobal) return v.qualifiedName;
  if (v instanceof Map) return 'dict';
  if (Array.isArray(v)) return 'tuple/list';
  if (v instanceof Set) return 'set';
  if (v instanceof Uint8Array) return 'bytes';
  return v === null ? 'None' : typeof v;
}
