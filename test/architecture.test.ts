// The shape of src/ (DESIGN.md, "Architecture"): one folder per concern, layered, no import
// cycles. Every import is read with the TypeScript parser: static, `export … from`,
// type-only, dynamic `import()`, `typeof import()` and `require()` of a relative path.
// A type-only import counts like any other: it is still a dependency of the source.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../src');

// Low → high. A file may import its own folder, and any unit of a lower rank; never a unit
// of its own rank or above. A unit is a top-level folder of src/ (with its subfolders) or a
// file at the root. Peers share a rank on purpose: neither may know the other.
const LAYERS: readonly (readonly string[])[] = [
  // Every layer throws these; they import nothing of the library.
  ['errors.ts'],
  // Pure helpers and checksums/decoders, peers.
  ['support/', 'codec/'],
  ['logging/'],
  // Options → a frozen, resolved LitestreamConfig.
  ['config/'],
  // Local database files (pidfile, restore, lineage, the engines use them).
  ['sqlite/'],
  // Version-independent mechanisms, peers: running a child (spawn, commands, the child's
  // config file, pidfile, owner, signals), and Node's own look at the replica (S3 transport,
  // signing, objects, failure classes).
  ['process/', 'replica/'],
  // The engines run litestream through process/ and read replica objects through replica/;
  // the lease needs neither engine nor version. Peers.
  ['engine/', 'lease/'],
  ['lineage/'],
  // Listings and status, which restore uses to find a database's backups.
  ['inspect/'],
  // Peers: a restore never supervises, a supervisor never restores.
  ['restore/', 'supervision/'],
  ['replication/'],
  // Both read a replication's status; neither knows the other.
  ['metrics/', 'alerts/'],
  ['litestream.ts'],
  ['adapters/'],
  ['cli/'],
  ['index.ts', 'fastify.ts', 'express.ts', 'cli.ts'],
];

const ROOT_FILES = ['index.ts', 'fastify.ts', 'express.ts', 'cli.ts', 'litestream.ts', 'errors.ts'];

// Known violations, none today: `from → to` (paths under src/), each with why and when it is
// fixed. An entry silences both the layering rule and the cycle check for that one import,
// and fails once the import is gone, so that the list only shrinks.
const PENDING: readonly { from: string; to: string; why: string }[] = [];

type Kind =
  | 'import'
  | 'import type'
  | 'export from'
  | 'export type from'
  | 'import()'
  | 'typeof import()'
  | 'require()';

interface Edge {
  from: string;
  to: string;
  kind: Kind;
  line: number;
}

function sourceFiles(dir: string, prefix = ''): string[] {
  const files: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) files.push(...sourceFiles(full, `${prefix}${name}/`));
    else if (/\.(m|c)?tsx?$/.test(name)) files.push(`${prefix}${name}`);
  }
  return files;
}

const files = sourceFiles(SRC);
const known = new Set(files);

/** `./x.js` from `a/b.ts` → `a/x.ts`; undefined when no file under src/ matches. */
function resolve(from: string, specifier: string): string | undefined {
  const joined = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  const stem = joined.replace(/\.(m|c)?js$/, '');
  const candidates = [joined, `${stem}.ts`, `${stem}.mts`, `${stem}.cts`, `${stem}.tsx`, `${joined}/index.ts`];
  return candidates.find((candidate) => known.has(candidate));
}

const unresolved: string[] = [];

function importsOf(file: string): Edge[] {
  const text = readFileSync(path.join(SRC, file), 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const edges: Edge[] = [];
  const add = (node: ts.Node, specifier: ts.Node | undefined, kind: Kind) => {
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    if (specifier === undefined || !ts.isStringLiteralLike(specifier)) {
      // A computed specifier cannot be checked: name the spot rather than skip it.
      if (kind === 'import()' || kind === 'require()') {
        unresolved.push(`src/${file}:${line}: ${kind} with a computed specifier cannot be checked`);
      }
      return;
    }
    const name = specifier.text;
    if (!name.startsWith('.')) return;
    const to = resolve(file, name);
    if (to === undefined) unresolved.push(`src/${file}:${line}: '${name}' matches no file under src/`);
    else edges.push({ from: file, to, kind, line });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      // Only `import type` is erased: under verbatimModuleSyntax, `import { type A }` still
      // loads the module.
      add(node, node.moduleSpecifier, node.importClause?.isTypeOnly ? 'import type' : 'import');
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined) {
      add(node, node.moduleSpecifier, node.isTypeOnly ? 'export type from' : 'export from');
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, 'import');
    } else if (ts.isImportTypeNode(node)) {
      const argument = node.argument;
      add(node, ts.isLiteralTypeNode(argument) ? argument.literal : undefined, 'typeof import()');
    } else if (ts.isCallExpression(node)) {
      if (node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node, node.arguments[0], 'import()');
      else if (ts.isIdentifier(node.expression) && node.expression.text === 'require') {
        // Only relative paths matter here; package names are skipped by add().
        const first = node.arguments[0];
        if (first !== undefined && ts.isStringLiteralLike(first)) add(node, first, 'require()');
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

const edges = files.flatMap(importsOf);
const pendingKey = (from: string, to: string) => `${from} → ${to}`;
const pending = new Set(PENDING.map((entry) => pendingKey(entry.from, entry.to)));
const checked = edges.filter((edge) => !pending.has(pendingKey(edge.from, edge.to)));

const unitOf = (file: string) => (file.includes('/') ? `${file.slice(0, file.indexOf('/'))}/` : file);
const rankOf = new Map(LAYERS.flatMap((units, rank) => units.map((unit) => [unit, rank] as const)));
const describeEdge = (edge: Edge) => `src/${edge.from}:${edge.line} → src/${edge.to} (${edge.kind})`;

/** Each import cycle once, as a shortest path round one strongly connected component. */
function cycles(graphEdges: readonly Edge[]): string[] {
  const next = new Map<string, Edge[]>();
  for (const edge of graphEdges) {
    const list = next.get(edge.from) ?? [];
    list.push(edge);
    next.set(edge.from, list);
  }
  // Tarjan's strongly connected components.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let counter = 0;
  const connect = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const { to } of next.get(node) ?? []) {
      if (!index.has(to)) {
        connect(to);
        low.set(node, Math.min(low.get(node) as number, low.get(to) as number));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node) as number, index.get(to) as number));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      components.push(component);
    }
  };
  for (const file of files) if (!index.has(file)) connect(file);

  const found: string[] = [];
  for (const component of components) {
    const members = new Set(component);
    const start = [...component].sort()[0] as string;
    const selfLoop = (next.get(start) ?? []).find((edge) => edge.to === start);
    if (component.length === 1 && selfLoop === undefined) continue;
    // Breadth-first from `start` back to itself, inside the component.
    const via = new Map<string, Edge>();
    const queue = [start];
    let closing: Edge | undefined = selfLoop;
    while (closing === undefined && queue.length > 0) {
      const node = queue.shift() as string;
      for (const edge of next.get(node) ?? []) {
        if (!members.has(edge.to)) continue;
        if (edge.to === start) {
          closing = edge;
          break;
        }
        if (!via.has(edge.to)) {
          via.set(edge.to, edge);
          queue.push(edge.to);
        }
      }
    }
    const cycle: Edge[] = closing === undefined ? [] : [closing];
    for (let node = closing?.from; node !== undefined && node !== start; ) {
      const edge = via.get(node) as Edge;
      cycle.unshift(edge);
      node = edge.from;
    }
    found.push(
      `cycle: ${cycle.map(describeEdge).join(', ')}` +
        (component.length > cycle.length ? ` (${component.length} files are tangled in all)` : ''),
    );
  }
  return found;
}

describe('the architecture of src/', () => {
  it('reads every import it finds', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(edges.length).toBeGreaterThan(200);
    // The engines load lazily: a dynamic import must be seen like a static one.
    expect(edges.some((edge) => edge.kind === 'import()')).toBe(true);
    expect(unresolved).toEqual([]);
  });

  it('has no import cycles', () => {
    expect(cycles(checked)).toEqual([]);
  });

  it('imports only downward: a lower layer never imports a higher one or a peer', () => {
    const violations: string[] = [];
    for (const unit of new Set(files.map(unitOf))) {
      if (!rankOf.has(unit)) violations.push(`src/${unit} has no place in LAYERS: give it a rank`);
    }
    for (const edge of checked) {
      const from = unitOf(edge.from);
      const to = unitOf(edge.to);
      const fromRank = rankOf.get(from);
      const toRank = rankOf.get(to);
      if (from === to || fromRank === undefined || toRank === undefined) continue;
      if (toRank > fromRank)
        violations.push(
          `${describeEdge(edge)}: ${from} (layer ${fromRank}) imports ${to} (layer ${toRank}), a higher layer`,
        );
      else if (toRank === fromRank)
        violations.push(`${describeEdge(edge)}: ${from} imports ${to}, a peer of the same layer`);
    }
    expect(violations).toEqual([]);
  });

  it('keeps only the entry points, the facade and the errors at the root of src/', () => {
    const strays = readdirSync(SRC)
      .filter((name) => !statSync(path.join(SRC, name)).isDirectory())
      .filter((name) => !ROOT_FILES.includes(name))
      .map((name) => `src/${name} is at the root of src/: only ${ROOT_FILES.join(', ')} belong there`);
    expect(strays).toEqual([]);
  });

  it('lets only src/engine/ import a release line (engine/v0_3, engine/v0_5)', () => {
    const violations = edges
      .filter((edge) => /^engine\/v\d+_\d+\//.test(edge.to) && !edge.from.startsWith('engine/'))
      .map((edge) => `${describeEdge(edge)}: only src/engine/ may import a release line's engine`);
    expect(violations).toEqual([]);
  });

  it('carries no pending exception whose import is gone', () => {
    const stale = PENDING.filter(
      (entry) => !edges.some((edge) => edge.from === entry.from && edge.to === entry.to),
    ).map((entry) => `PENDING ${pendingKey(entry.from, entry.to)} no longer happens: remove the entry`);
    expect(stale).toEqual([]);
  });
});
