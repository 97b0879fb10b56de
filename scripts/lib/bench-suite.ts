import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { ROOT } from "./local-stack.ts";
import { OFFLINE_ENV } from "./wrangler-dev.ts";

export interface SuiteFigures {
  wallSeconds: number;
  files: number;
  tests: number;
  passed: number;
  /** vitest's phases, summed over files: "import" is the fixed cost files pay before their tests. */
  importSeconds: number;
  testsSeconds: number;
  /** Import divided by the number of files. */
  perFileFixedSeconds: number;
  slowestFiles: { file: string; seconds: number }[];
}

interface JsonReport {
  numTotalTests: number;
  numPassedTests: number;
  testResults: { name: string; startTime: number; endTime: number }[];
}

/**
 * Runs the whole suite as `npm test` does (its own Postgres, fakes and workerd) and reads vitest's
 * summary: the JSON report for counts and per-file times, the printed "Duration" line for the
 * import/tests phases (the JSON report does not carry them).
 */
export async function measureSuite(): Promise<SuiteFigures> {
  const reportFile = path.join(ROOT, ".data", "bench-suite.json");
  const started = performance.now();
  const output = await run("npx", ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${reportFile}`]);
  const wallSeconds = (performance.now() - started) / 1000;
  const report = JSON.parse(await readFile(reportFile, "utf8")) as JsonReport;
  const summary = stripAnsi(output);
  const phase = (name: string) => seconds(summary.match(new RegExp(`${name} ([\\d.]+m?s)`))?.[1]);
  const files = report.testResults.length;
  const importSeconds = phase("import");
  return {
    wallSeconds: round(wallSeconds),
    files,
    tests: report.numTotalTests,
    passed: report.numPassedTests,
    importSeconds,
    testsSeconds: phase("tests"),
    perFileFixedSeconds: round(importSeconds / files),
    slowestFiles: report.testResults
      .map((result) => ({ file: path.relative(ROOT, result.name), seconds: round((result.endTime - result.startTime) / 1000) }))
      .sort((a, b) => b.seconds - a.seconds)
      .slice(0, 3),
  };
}

export function formatSuiteFigures(figures: SuiteFigures): string {
  return [
    `suite_wall_s ${figures.wallSeconds}`,
    `suite_files ${figures.files}`,
    `suite_tests ${figures.tests}`,
    `suite_tests_passed ${figures.passed}`,
    `suite_import_s ${figures.importSeconds}`,
    `suite_tests_phase_s ${figures.testsSeconds}`,
    `suite_per_file_fixed_s ${figures.perFileFixedSeconds}`,
    ...figures.slowestFiles.map((slow, index) => `suite_slowest_file_${index + 1} ${slow.file} ${slow.seconds}s`),
  ].join("\n");
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: { ...OFFLINE_ENV, FORCE_COLOR: "0" }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.resume();
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(output) : reject(new Error(`the suite failed (exit ${code}):\n${stripAnsi(output).slice(-2000)}`))));
  });
}

function stripAnsi(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes start with ESC.
  return text.replace(/\u001b\[[0-9;]*m/g, "");
}

/** "37.83s" or "744ms" in seconds. */
function seconds(text: string | undefined): number {
  if (!text) return Number.NaN;
  return text.endsWith("ms") ? round(Number.parseFloat(text) / 1000) : round(Number.parseFloat(text));
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
