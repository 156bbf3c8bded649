// Ends the run with plain lines CI logs can read: which S3 servers and Litestream versions
// the files ran against, `tests: N passed, N failed`, and the reliability table when reliability
// scenarios ran (see test/reliability/).
import type { Reporter, TestModule } from 'vitest/node';
import type { ScenarioRow } from '../reliability/harness.js';
import { TOOLS } from '../tools/install.mjs';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: readonly TestModule[]): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const rows: ScenarioRow[] = [];
    const filesPerServer = new Map<string, number>();
    for (const module of testModules) {
      const provided = module.project.config.provide as { s3Kind?: string; litestreamFamily?: string };
      const server = `${provided.s3Kind ?? module.project.name}\0${provided.litestreamFamily ?? '0.3'}`;
      filesPerServer.set(server, (filesPerServer.get(server) ?? 0) + 1);
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
        const row = test.meta().reliability;
        if (row) rows.push(row);
      }
    }
    if (rows.length > 0) process.stdout.write(`\n${reliabilityTable(rows)}\n`);
    const label = (name: string) => {
      const tool = TOOLS[name as keyof typeof TOOLS];
      return tool ? `${tool.label} ${tool.version}` : name;
    };
    const servers = [...filesPerServer]
      .map(([key, files]) => {
        const [server = '', family] = key.split('\0');
        if (server === 'unit') return `unit tests, no S3 server or litestream (${files} files)`;
        const litestream = family === '0.5' ? label('litestream05') : 'Litestream v0.3.13';
        return `${label(server)} with ${litestream} (${files} files)`;
      })
      .join(', ');
    process.stdout.write(`\nS3 servers: ${servers}\n`);
    process.stdout.write(`\n${slowestFiles(testModules, 12)}\n`);
    const tail = skipped > 0 ? `, ${skipped} skipped` : '';
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed${tail}\n`);
  }
}

/**
 * The files that took longest, each with its project: where the suite's time goes, for the
 * CI log (the suite is kept under ten minutes).
 */
function slowestFiles(testModules: readonly TestModule[], count: number): string {
  const timed = testModules
    .map((module) => ({
      name: `${module.project.name} ${module.moduleId.replace(`${process.cwd()}/`, '')}`,
      ms: module.diagnostic().duration,
    }))
    .sort((a, b) => b.ms - a.ms);
  const total = timed.reduce((sum, file) => sum + file.ms, 0);
  const workers = testModules[0]?.project.globalConfig.maxWorkers;
  const lines = timed.slice(0, count).map((file) => `  ${(file.ms / 1000).toFixed(1).padStart(6)} s  ${file.name}`);
  return [`slowest files (of ${(total / 1000).toFixed(0)} s in all files, ${workers} at a time):`, ...lines].join('\n');
}

/** The reliability results as a markdown table, scenarios in order, secrets summed last. */
export function reliabilityTable(rows: readonly ScenarioRow[]): string {
  const sorted = [...rows].sort((a, b) => a.scenario.localeCompare(b.scenario, 'en', { numeric: true }));
  const checks = rows.reduce((sum, row) => sum + row.secretChecks, 0);
  const leaks = rows.reduce((sum, row) => sum + row.secretLeaks, 0);
  const lines = [
    '| scenario | trials | passed | worst loss window | nothing lost | notes |',
    '| --- | ---: | ---: | ---: | :---: | --- |',
    ...sorted.map(
      (row) =>
        `| ${row.scenario} | ${row.trials} | ${row.passed} | ${row.worstLossMs === undefined ? 'n/a' : `${row.worstLossMs} ms`} | ${row.nothingLost === undefined ? 'n/a' : row.nothingLost ? 'yes' : '**no**'} | ${row.notes ?? ''} |`,
    ),
    `| 9. Secrets (logs, errors, YAML, \`ps\`) across every scenario | ${checks} | ${checks - leaks} | n/a | n/a | texts and process lists searched for the secret key |`,
  ];
  return lines.join('\n');
}
