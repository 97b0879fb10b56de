import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "./local-stack.ts";
import { OFFLINE_ENV } from "./wrangler-dev.ts";

/** A V8 CPU profile, as `wrangler check startup` writes it. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string } }[];
  samples: number[];
  timeDeltas: number[];
}

export interface StartupFigures {
  /** CPU spent evaluating the Worker's global scope (profile samples that are not idle), median of the runs. */
  cpuMs: number;
  runs: number[];
}

/**
 * The production Worker's start-up: `wrangler check startup` bundles it as `wrangler deploy` would
 * and profiles the global scope in a local workerd. Cloudflare limits this phase (about 1 s of CPU
 * at deploy), and every cold isolate pays it. Profiled `times` times; the median is reported.
 */
export function measureStartup(times = 3): StartupFigures {
  const runs: number[] = [];
  for (let i = 0; i < times; i++) {
    const outfile = path.join(ROOT, ".data", `startup-${i}.cpuprofile`);
    execFileSync("npx", ["wrangler", "check", "startup", "--outfile", outfile], { cwd: ROOT, env: OFFLINE_ENV, stdio: "ignore" });
    runs.push(busyMilliseconds(JSON.parse(readFileSync(outfile, "utf8")) as CpuProfile));
  }
  const sorted = [...runs].sort((a, b) => a - b);
  return { cpuMs: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN, runs };
}

function busyMilliseconds(profile: CpuProfile): number {
  const idle = new Set(profile.nodes.filter((node) => node.callFrame.functionName === "(idle)").map((node) => node.id));
  let busyMicros = 0;
  profile.samples.forEach((nodeId, index) => {
    if (!idle.has(nodeId)) busyMicros += profile.timeDeltas[index] ?? 0;
  });
  return Math.round(busyMicros / 100) / 10;
}

export function formatStartupFigures(figures: StartupFigures): string {
  return [`startup_global_scope_cpu_ms ${figures.cpuMs}`, `startup_global_scope_cpu_ms_runs ${figures.runs.join(",")}`].join("\n");
}
