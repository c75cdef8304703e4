/**
 * What an object or library built by nvcc holds for the GPU: the entries of the fat binaries in its
 * `.nv_fatbin` ELF section (SASS for `sm_XX`, PTX for `compute_XX`). cuobjdump is not part of every
 * CUDA installation (CI has none), so the section is read here directly.
 *
 * The ELF reader is a few lines for the one thing needed (a section's bytes by name, ELF64
 * little-endian, which is what nvcc writes on x86-64 and aarch64 Linux); the npm ELF parsers are
 * unmaintained and bring far more than this.
 *
 * Fat binary layout (as nvcc 12/13 write it, and as the tests check against the specs built):
 *   header, 16 bytes: u32 magic 0xBA55ED50, u16 version, u16 header size, u64 size of the entries;
 *   entry: u16 kind (1 PTX, 2 ELF/SASS), u16 version, u32 entry header size, u64 payload size,
 *          … u32 sm number at offset 28 (89 for sm_89) … u64 flags at offset 40, where 0x100000
 *          marks arch-specific code (sm_90a); the payload follows the entry header.
 * A linked library's section holds several fat binaries one after another (8-byte aligned), one
 * per object that had device code, the CUDA runtime's own among them.
 */

const FATBIN_MAGIC = 0xba55ed50;
const KIND_PTX = 1;
const KIND_SASS = 2;
const FLAG_ARCH_SPECIFIC = 0x100000n;

export class FatbinError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FatbinError';
  }
}

export interface FatbinEntry {
  kind: 'sass' | 'ptx';
  /** `sm_89`, `sm_90a` for SASS; `compute_89` for PTX. */
  arch: string;
  /** The payload as stored (a cubin for SASS; PTX is usually compressed). */
  payload: Buffer;
}

/** The bytes of the named section of an ELF64 little-endian file, or undefined when it has none. */
export function elfSection(file: Buffer, name: string): Buffer | undefined {
  if (file.length < 64 || file.readUInt32BE(0) !== 0x7f454c46) throw new FatbinError('not an ELF file');
  if (file[4] !== 2 || file[5] !== 1) throw new FatbinError('only 64-bit little-endian ELF is read');
  const shoff = Number(file.readBigUInt64LE(0x28));
  const shentsize = file.readUInt16LE(0x3a);
  const shnum = file.readUInt16LE(0x3c);
  const shstrndx = file.readUInt16LE(0x3e);
  const header = (i: number) => {
    const o = shoff + i * shentsize;
    return { name: file.readUInt32LE(o), offset: Number(file.readBigUInt64LE(o + 0x18)), size: Number(file.readBigUInt64LE(o + 0x20)) };
  };
  const names = header(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const s = header(i);
    const start = names.offset + s.name;
    if (file.toString('latin1', start, file.indexOf(0, start)) === name) return file.subarray(s.offset, s.offset + s.size);
  }
  return undefined;
}

/** Every entry of every fat binary in `section` (the bytes of a `.nv_fatbin` section). */
export function fatbinEntries(section: Buffer): FatbinEntry[] {
  const entries: FatbinEntry[] = [];
  let p = 0;
  while (p + 16 <= section.length) {
    if (section.readUInt32LE(p) !== FATBIN_MAGIC) {
      p += 8; // padding between the fat binaries of several objects
      continue;
    }
    const headerSize = section.readUInt16LE(p + 6);
    const end = p + headerSize + Number(section.readBigUInt64LE(p + 8));
    if (end > section.length) throw new FatbinError(`fat binary at offset ${p} runs past the section (${end} > ${section.length})`);
    for (let q = p + headerSize; q < end; ) {
      const kind = section.readUInt16LE(q);
      const entryHeader = section.readUInt32LE(q + 4);
      const bytes = Number(section.readBigUInt64LE(q + 8));
      if (entryHeader < 48 || q + entryHeader + bytes > end) throw new FatbinError(`fat binary entry at offset ${q} is malformed (header ${entryHeader}, payload ${bytes} bytes)`);
      const sm = section.readUInt32LE(q + 28);
      const archSpecific = (section.readBigUInt64LE(q + 40) & FLAG_ARCH_SPECIFIC) !== 0n;
      const suffix = archSpecific ? 'a' : '';
      const payload = section.subarray(q + entryHeader, q + entryHeader + bytes);
      if (kind === KIND_SASS) entries.push({ kind: 'sass', arch: `sm_${sm}${suffix}`, payload });
      else if (kind === KIND_PTX) entries.push({ kind: 'ptx', arch: `compute_${sm}${suffix}`, payload });
      else throw new FatbinError(`fat binary entry at offset ${q} has unknown kind ${kind}`);
      q += entryHeader + bytes;
    }
    p = end;
  }
  return entries;
}

const smNumber = (arch: string) => Number(/\d+/.exec(arch)?.[0] ?? 0);

/** Arch names listed once, oldest first (sm_80 before sm_120; sm_90 before sm_90a). */
export function sortArchs(archs: Iterable<string>): string[] {
  return [...new Set(archs)].sort((a, b) => smNumber(a) - smNumber(b) || a.localeCompare(b));
}

/** The SASS and PTX targets an ELF object or library holds, each listed once, oldest arch first. */
export function fatbinTargets(file: Buffer): { sass: string[]; ptx: string[] } {
  const section = elfSection(file, '.nv_fatbin');
  const entries = section ? fatbinEntries(section) : [];
  const unique = (kind: FatbinEntry['kind']) => sortArchs(entries.filter((e) => e.kind === kind).map((e) => e.arch));
  return { sass: unique('sass'), ptx: unique('ptx') };
}
