/**
 * One-way data flow between the layers, read from the real import graph with ts-morph:
 *
 *   dsl → plan → render → build → cli, with toolchain beside build
 *
 * dsl imports no other layer; plan none of render/toolchain/build/cli; render neither toolchain nor
 * cli; and among dsl/plan/render/build/cli only toolchain/ may import execa (it is the only module
 * that runs processes).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Node, Project, SyntaxKind, type SourceFile } from 'ts-morph';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LAYERS = ['dsl', 'plan', 'render', 'toolchain', 'build', 'cli'] as const;
type Layer = (typeof LAYERS)[number];

/** Which layers each layer must not import. */
const FORBIDDEN: Record<Layer, readonly Layer[]> = {
  dsl: ['plan', 'render', 'toolchain', 'build', 'cli'],
  plan: ['render', 'toolchain', 'build', 'cli'],
  render: ['toolchain', 'cli'],
  toolchain: ['cli'],
  build: ['cli'],
  cli: [],
};
/** Packages only some layers may import. */
const PACKAGE_OWNERS: Record<string, readonly Layer[]> = { execa: ['toolchain'] };

interface Import {
  from: string; // file, relative to the project root
  fromLayer: Layer;
  specifier: string;
  /** The layer of a relative import, or undefined for a package / a file outside the layers. */
  toLayer?: Layer;
  packageName?: string;
}

function layerOf(file: string, root: string): Layer | undefined {
  const first = path.relative(root, file).split(path.sep)[0];
  return (LAYERS as readonly string[]).includes(first ?? '') ? (first as Layer) : undefined;
}

function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** Static imports, re-exports and dynamic import('…') calls with a literal specifier. */
function importsOf(sf: SourceFile, root: string): Import[] {
  const fromLayer = layerOf(sf.getFilePath(), root);
  if (!fromLayer) return [];
  const specifiers = [
    ...sf.getImportDeclarations().map((d) => d.getModuleSpecifierValue()),
    ...sf.getExportDeclarations().flatMap((d) => d.getModuleSpecifierValue() ?? []),
    ...sf
      .getDescendantsOfKind(SyntaxKind.CallExpression)
      .filter((call) => call.getExpression().getKind() === SyntaxKind.ImportKeyword)
      .flatMap((call) => {
        const arg = call.getArguments()[0];
        return arg && Node.isStringLiteral(arg) ? [arg.getLiteralValue()] : [];
      }),
  ];
  return specifiers.map((specifier) => {
    const from = path.relative(root, sf.getFilePath());
    if (specifier.startsWith('.')) {
      const target = path.resolve(path.dirname(sf.getFilePath()), specifier);
      return { from, fromLayer, specifier, toLayer: layerOf(target, root) };
    }
    return { from, fromLayer, specifier, packageName: packageOf(specifier) };
  });
}

function violations(imports: Import[]): string[] {
  const out: string[] = [];
  for (const i of imports) {
    if (i.toLayer && FORBIDDEN[i.fromLayer].includes(i.toLayer)) out.push(`${i.from} imports ${i.specifier} (${i.fromLayer} → ${i.toLayer})`);
    const owners = i.packageName ? PACKAGE_OWNERS[i.packageName] : undefined;
    if (owners && !owners.includes(i.fromLayer)) out.push(`${i.from} imports ${i.packageName} (only ${owners.join(', ')} may)`);
  }
  return out;
}

describe('layering', () => {
  const project = new Project({ tsConfigFilePath: path.join(ROOT, 'tsconfig.json'), skipAddingFilesFromTsConfig: false });
  const files = project.getSourceFiles().filter((sf) => layerOf(sf.getFilePath(), ROOT));
  const imports = files.flatMap((sf) => importsOf(sf, ROOT));

  it('sees the source files of every layer through the tsconfig', () => {
    const layers = new Set(files.map((f) => layerOf(f.getFilePath(), ROOT)));
    for (const l of LAYERS) expect(layers.has(l), `no files found in ${l}/`).toBe(true);
    expect(files.some((f) => f.getFilePath().endsWith('/toolchain/nvcc.ts'))).toBe(true);
    // and it really reads imports: the toolchain does import execa, the build does import the toolchain
    expect(imports.some((i) => i.fromLayer === 'toolchain' && i.packageName === 'execa')).toBe(true);
    expect(imports.some((i) => i.fromLayer === 'build' && i.toLayer === 'toolchain')).toBe(true);
  });

  it('has no import against the data flow and execa only in toolchain/', () => {
    expect(violations(imports)).toEqual([]);
  });

  for (const layer of LAYERS) {
    it(`${layer}/ imports nothing from ${FORBIDDEN[layer].join(', ') || '(no restriction)'}`, () => {
      const bad = imports.filter((i) => i.fromLayer === layer && i.toLayer && FORBIDDEN[layer].includes(i.toLayer));
      expect(bad.map((i) => `${i.from}: ${i.specifier}`)).toEqual([]);
    });
  }

  it('only toolchain/ imports execa', () => {
    const users = [...new Set(imports.filter((i) => i.packageName === 'execa').map((i) => i.fromLayer))];
    expect(users).toEqual(['toolchain']);
  });
});

describe('the checker itself', () => {
  // An in-memory project with deliberate violations, so a checker that finds nothing is noticed.
  const root = '/virtual';
  const project = new Project({ useInMemoryFileSystem: true });
  project.createSourceFile(`${root}/dsl/a.ts`, `import { planKernel } from '../plan/plan.js';\nexport const a = planKernel;\n`);
  project.createSourceFile(`${root}/plan/b.ts`, `export { render } from '../render/render.js';\n`);
  project.createSourceFile(`${root}/render/c.ts`, `export const load = () => import('../toolchain/nvcc.js');\n`);
  project.createSourceFile(`${root}/cli/d.ts`, `import { execa } from 'execa';\nexport const e = execa;\n`);
  project.createSourceFile(`${root}/build/ok.ts`, `import { x } from '../toolchain/nvcc.js';\nimport { y } from '../render/render.js';\nexport { x, y };\n`);
  const imports = project.getSourceFiles().flatMap((sf) => importsOf(sf, root));

  it('reports an import, a re-export and a dynamic import against the flow, and execa outside toolchain/', () => {
    expect(violations(imports).sort()).toEqual(
      [
        'cli/d.ts imports execa (only toolchain may)',
        'dsl/a.ts imports ../plan/plan.js (dsl → plan)',
        'plan/b.ts imports ../render/render.js (plan → render)',
        'render/c.ts imports ../toolchain/nvcc.js (render → toolchain)',
      ].sort(),
    );
  });
});
