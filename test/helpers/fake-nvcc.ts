/**
 * A fake nvcc for fault and concurrency tests: a Node script (run by this Node) that answers
 * `--version` as a chosen CUDA release and "compiles" in milliseconds, writing what build() expects
 * (an object, the kept PTX and cubin, a `ptxas -v` report, the libraries), or fails the way asked:
 * exit with error messages naming the source, or die by a signal. Point sagegen at it with
 * SAGEGEN_NVCC, as a user would. Each invocation appends one JSON line to `log`.
 *
 * With FAKE_NVCC_BARRIER=<dir>:<n> in its environment, the archive step (the last nvcc run of a
 * build) waits until n processes have reached it, so that n concurrent builds publish their output
 * at the same moment.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface FakeNvccOptions {
  /** `--version` answers this release (default "13.0"). */
  release?: string;
  /** Milliseconds each compile takes (default 0). */
  delayMs?: number;
  /** Compiles of a source whose path contains this fail after the delay: `errorLines` error lines naming the source, exit 2. */
  failOn?: string;
  errorLines?: number;
  /** Compiles of a source whose path contains this are killed by SIGKILL after the delay. */
  killOn?: string;
  /** `--version` itself fails (exit 3). */
  brokenVersion?: boolean;
}

export interface FakeNvcc {
  file: string;
  log: string;
}

export interface Invocation {
  pid: number;
  args: string[];
  /** The `.cu` source of a variant compile, if this was one. */
  variant?: string;
  event: 'start' | 'end';
}

/** The script: kept as a string so that it runs without TypeScript, with its options baked in. */
const SCRIPT = String.raw`
const fs = require('node:fs');
const path = require('node:path');
const opts = JSON.parse(OPTIONS);
const args = process.argv.slice(2);
const log = (event, extra = {}) => fs.appendFileSync(opts.log, JSON.stringify({ pid: process.pid, event, args, ...extra }) + '\n');
// A minimal ELF64 little-endian header with no sections: what readers of objects and cubins check first.
const elf = (text) => {
  const header = Buffer.alloc(64);
  header.write('\x7fELF', 0, 'latin1');
  header[4] = 2;
  header[5] = 1;
  header[6] = 1;
  return Buffer.concat([header, Buffer.from(text)]);
};
const after = (flag) => args[args.indexOf(flag) + 1];
if (args[0] === '--version') {
  if (opts.brokenVersion) {
    process.stderr.write('fake nvcc: cannot start: libnvvm.so missing\n');
    process.exit(3);
  }
  console.log('nvcc: NVIDIA (R) Cuda compiler driver');
  console.log('Cuda compilation tools, release ' + opts.release + ', V' + opts.release + '.88');
  process.exit(0);
}
const source = args.includes('-c') ? after('-c') : undefined;
const variant = source && source.endsWith('.cu') ? path.basename(source, '.cu') : undefined;
log('start', { variant });
const finish = () => {
  if (variant && opts.killOn && source.includes(opts.killOn)) process.kill(process.pid, 'SIGKILL');
  if (variant && opts.failOn && source.includes(opts.failOn)) {
    for (let i = 1; i <= opts.errorLines; i++) process.stderr.write(source + '(' + (100 + i) + '): error: fake error number ' + i + '\n');
    log('end', { variant });
    process.exit(2);
  }
  const out = after('-o');
  if (variant) {
    const keep = args.find((a) => a.startsWith('--keep-dir=')).slice('--keep-dir='.length);
    const sm = /code=\[?(sm_\w+)/.exec(args.join(' '))[1];
    fs.writeFileSync(out, elf('fake object of ' + variant));
    fs.writeFileSync(path.join(keep, variant + '.ptx'), '.version 9.0\n.target ' + sm + '\n// fake PTX of ' + variant + '\n');
    fs.writeFileSync(path.join(keep, variant + '.' + sm + '.cubin'), elf('fake cubin of ' + variant));
    const mangled = '_ZN' + variant.length + variant + '15attentionKernelEv';
    process.stderr.write("ptxas info    : Compiling entry function '" + mangled + "' for '" + sm + "'\n");
    process.stderr.write('ptxas info    : Function properties for ' + mangled + '\n');
    process.stderr.write('    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n');
    process.stderr.write('ptxas info    : Used 128 registers, used 1 barriers, 0 bytes smem\n');
  } else if (args.includes('-c')) {
    fs.writeFileSync(out, elf('fake object of ' + path.basename(source)));
  } else if (args.includes('-shared') || args.includes('-lib')) {
    const objects = args.filter((a) => a.endsWith('.o')).map((o) => path.basename(o));
    fs.writeFileSync(out, (args.includes('-lib') ? '!<arch>\n' : '') + 'fake library of ' + objects.join(' ') + '\n');
  }
  log('end', { variant });
  // The last step of a build (the archive) waits at the barrier: the builds then finish together.
  if (args.includes('-lib') && process.env.FAKE_NVCC_BARRIER) {
    const [dir, parties] = process.env.FAKE_NVCC_BARRIER.split(':');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, String(process.pid)), '');
    const waitUntil = Date.now() + 60000;
    const poll = () => (fs.readdirSync(dir).length >= Number(parties) || Date.now() > waitUntil ? process.exit(0) : setTimeout(poll, 2));
    poll();
  }
};
setTimeout(finish, opts.delayMs);
`;

export function writeFakeNvcc(dir: string, options: FakeNvccOptions = {}): FakeNvcc {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'nvcc');
  const log = path.join(dir, 'invocations.jsonl');
  const baked = { release: '13.0', delayMs: 0, errorLines: 3, ...options, log };
  writeFileSync(file, `#!${process.execPath}\nconst OPTIONS = ${JSON.stringify(JSON.stringify(baked))};\n${SCRIPT}`);
  chmodSync(file, 0o755);
  writeFileSync(log, '');
  return { file, log };
}

export function invocations(fake: FakeNvcc): Invocation[] {
  return readFileSync(fake.log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Invocation);
}

/** The variants the fake compiled (started), in order. */
export const variantCompiles = (fake: FakeNvcc) => invocations(fake).filter((i) => i.event === 'start' && i.variant).map((i) => i.variant!);
