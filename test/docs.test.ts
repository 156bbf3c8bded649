import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, ENV } from '../src/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
const README = read('README.md');

/** The guide pages in docs/ (typedoc's output, docs/api/, is not among them). */
const guides = () =>
  readdirSync(path.join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`);
const exampleReadmes = () => readdirSync(path.join(ROOT, 'examples')).map((dir) => `examples/${dir}/README.md`);

/** The lines of the README section under `## title`, up to the next `## `. */
function section(title: string): string {
  const start = README.indexOf(`\n## ${title}\n`);
  expect(start, `README section "${title}"`).toBeGreaterThan(-1);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end === -1 ? undefined : end);
}

describe('README.md', () => {
  it('shows each example exactly as the file that the example tests run', () => {
    const blocks = [...README.matchAll(/<!-- example: (\S+) -->\n\n```js\n([\s\S]*?)```\n/g)];
    const shown = blocks.map(([, file]) => file);
    expect(shown).toEqual([
      'examples/fastify/server.mjs',
      'examples/express/server.mjs',
      'examples/plain-node/server.mjs',
    ]);
    for (const [, file, code] of blocks) expect(code, `${file} in README.md`).toBe(read(file as string));
  });

  it('lists every environment variable and default in the configuration table', () => {
    const rows = section('Configuration')
      .split('\n')
      .filter((line) => line.startsWith('| `'));
    const row = (option: string) => rows.find((line) => line.startsWith(`| \`${option}\``)) ?? '';
    // The environment-variable column names each variable once, the seed's six first and in order.
    const variables = rows.map((line) => /`(LITESTREAM_\w+)`/.exec(line.split('|')[2] ?? '')?.[1]).filter(Boolean);
    expect(variables.slice(0, 6)).toEqual(Object.values(ENV).slice(0, 6));
    expect([...variables].sort()).toEqual(Object.values(ENV).sort());
    expect(row('syncInterval')).toContain(`\`${DEFAULTS.syncInterval}\``);
    expect(row('retention')).toContain(`\`${DEFAULTS.retention}\``);
    expect(row('snapshotInterval')).toContain(`\`${DEFAULTS.snapshotInterval}\``);
    expect(row('replica.region')).toContain(`\`${DEFAULTS.region}\``);
    expect(row('shutdownTimeoutMs')).toContain(`\`${DEFAULTS.shutdownTimeoutMs}\``);
    expect(row('restore.retryForMs')).toContain(`\`${DEFAULTS.restore.retryForMs}\``);
    expect(row('restore.stallTimeoutMs')).toContain(`\`${DEFAULTS.restore.stallTimeoutMs}\``);
    expect(row('restore.integrityCheck')).toContain(`\`'${DEFAULTS.restore.integrityCheck}'\``);
    const { initialBackoffMs, maxBackoffMs, resetAfterMs } = DEFAULTS.supervisor;
    expect(row('supervisor.initialBackoffMs')).toContain(
      `\`${initialBackoffMs}\` / \`${maxBackoffMs}\` / \`${resetAfterMs}\``,
    );
    expect(row('supervisor.restartStalledAfterMs')).toContain(`\`${DEFAULTS.supervisor.restartStalledAfterMs}\``);
  });

  it('keeps the benchmark and reliability markers for the generated tables in docs/', () => {
    expect(read('docs/performance.md')).toMatch(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/);
    expect(read('docs/reliability.md')).toMatch(/<!-- reliability:start -->[\s\S]*<!-- reliability:end -->/);
  });

  it('lists every restore outcome in its outcomes table', () => {
    // The values of the RestoreOutcome union, read from the source so that a new one fails here.
    const union = /export type RestoreOutcome =([\s\S]*?);\n/.exec(read('src/restore/ensure-restored.ts'))?.[1] ?? '';
    const outcomes = [...union.matchAll(/\| '([\w-]+)'/g)].map(([, value]) => value);
    expect(outcomes).toEqual(['exists', 'restored', 'no-backup', 'disabled']);
    // The section's first table is the outcomes table (others follow it).
    const lines = section('How it works').split('\n');
    const start = lines.findIndex((line) => line.startsWith('| `outcome`'));
    const end = lines.findIndex((line, index) => index > start && !line.startsWith('|'));
    const table = lines
      .slice(start, end)
      .filter((line) => line.startsWith('| `'))
      .map((line) => /^\| `([\w-]+)`/.exec(line)?.[1])
      .filter((value) => value !== 'outcome');
    expect(table).toEqual(outcomes);
  });

  it('links every docs/ page from the README', () => {
    for (const page of readdirSync(path.join(ROOT, 'docs')).filter((name) => name.endsWith('.md'))) {
      expect(README, `docs/${page}`).toContain(`](docs/${page}`);
    }
  });

  it('describes behaviour in words users know (no internal brief, "the seed")', () => {
    const docs = ['README.md', 'CHANGELOG.md', ...guides(), ...exampleReadmes()];
    for (const doc of docs) expect(read(doc), doc).not.toMatch(/\bseed\b/i);
  });

  it('links only to files that exist', () => {
    const docs = ['README.md', ...guides(), ...exampleReadmes()];
    for (const doc of docs) {
      for (const [, target] of read(doc).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target as string)) continue;
        expect(existsSync(path.join(ROOT, path.dirname(doc), target as string)), `${doc} → ${target}`).toBe(true);
      }
    }
  });
});

describe('examples/', () => {
  it('has a README in every example', () => {
    for (const dir of readdirSync(path.join(ROOT, 'examples'))) {
      expect(existsSync(path.join(ROOT, 'examples', dir, 'README.md')), dir).toBe(true);
    }
  });

  it('has a stateless Dockerfile whose copied files and command exist', () => {
    const lines = read('examples/docker/Dockerfile')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    const instructions = lines.map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest };
    });
    const stages = instructions.reduce<(typeof instructions)[]>((all, instruction) => {
      if (instruction.keyword === 'FROM') all.push([]);
      all.at(-1)?.push(instruction);
      return all;
    }, []);
    const final = stages.at(-1) ?? [];
    const of = (keyword: string) => final.filter((instruction) => instruction.keyword === keyword);

    expect(instructions.some((instruction) => instruction.keyword === 'VOLUME')).toBe(false);
    expect(of('STOPSIGNAL').map((instruction) => instruction.args.join(' '))).toEqual(['SIGTERM']);
    const user = of('USER').at(-1)?.args[0];
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    expect(of('RUN').some((instruction) => /\bnpm ci\b.*--omit=dev/.test(instruction.args.join(' ')))).toBe(true);
    expect(lines.join('\n')).not.toMatch(/--omit=optional|--no-optional/);

    // Every file copied from the build context exists; remember where the final stage puts them.
    const copied = new Map<string, string>();
    let workdir = '/';
    for (const stage of stages) {
      workdir = '/';
      for (const { keyword, args } of stage) {
        if (keyword === 'WORKDIR') workdir = path.posix.resolve(workdir, args[0] as string);
        if (keyword !== 'COPY' || args.some((arg) => arg.startsWith('--from'))) continue;
        const sources = args.filter((arg) => !arg.startsWith('--'));
        const destination = sources.pop() as string;
        for (const source of sources) {
          expect(existsSync(path.join(ROOT, source)), `COPY ${source}`).toBe(true);
          const target = destination.endsWith('/')
            ? path.posix.join(path.posix.resolve(workdir, destination), path.posix.basename(source))
            : path.posix.resolve(workdir, destination);
          if (stage === final) copied.set(target, source);
        }
      }
    }
    // The command runs a file the final stage copied, and that file exists in the repository.
    const cmd = JSON.parse(of('CMD').at(-1)?.args.join(' ') ?? '[]') as string[];
    expect(cmd[0]).toBe('node');
    const script = path.posix.resolve(workdir, cmd[1] as string);
    const source = copied.get(script);
    expect(source, `${script} is copied into the image`).toBeDefined();
    expect(existsSync(path.join(ROOT, source as string))).toBe(true);
  });
});
