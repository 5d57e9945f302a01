import { parseArgs } from 'node:util';

/**
 * The runner's pure parts: options, selection, ratios and the table. Nothing here touches the
 * network or a database, so test/bench.test.ts can check it quickly.
 */

export interface BenchOptions {
  /** Name prefixes; a scenario runs when its name starts with any of them. Empty means all. */
  only: string[];
  /** Seconds measured per scenario. */
  duration: number;
  connections: number;
  /** Seconds of load before each measurement, not recorded. */
  warmup: number;
  /**
   * Measurements per result, interleaved: every selected result once, then all of them again.
   * A result and its baseline are measured side by side in each round, and the ratio is the
   * median of the rounds' ratios, so a slow spell of the machine (another tenant, a checkpoint,
   * autovacuum after the previous result) moves both sides of a ratio instead of one.
   */
  rounds: number;
  help: boolean;
}

export const defaultOptions: Readonly<BenchOptions> = Object.freeze({
  only: [],
  duration: 5,
  connections: 50,
  warmup: 2,
  rounds: 5,
  help: false,
});

export const usage = `usage: npm run bench -- [options]

  --only <prefix>        run only the results whose names start with <prefix>; repeat the option or
                         separate prefixes with commas to run several (e.g. --only health,me)
  --duration <seconds>   measured seconds per scenario and round (default ${defaultOptions.duration})
  --connections <n>      concurrent connections (default ${defaultOptions.connections})
  --warmup <seconds>     unrecorded load before each scenario's first round (default ${defaultOptions.warmup}; 0 skips it)
  --rounds <n>           measure every result n times, interleaved; figures are the rounds' medians and
                         a ratio is the median of the rounds' ratios (default ${defaultOptions.rounds})
  --help                 show this text

The app runs on DATABASE_URL's server in a scratch database that is dropped afterwards, or on an
embedded PGlite in a temporary directory when DATABASE_URL is unset.`;

export class UsageError extends Error {}

function numberOption(
  name: string,
  raw: string | undefined,
  fallback: number,
  opts: { integer?: boolean; min: number },
): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  const ok =
    raw.trim() !== '' &&
    Number.isFinite(value) &&
    value >= opts.min &&
    (!opts.integer || Number.isInteger(value));
  if (!ok) {
    const kind = opts.integer ? 'an integer' : 'a number';
    throw new UsageError(`--${name} must be ${kind} of at least ${opts.min}, got '${raw}'`);
  }
  return value;
}

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        only: { type: 'string', multiple: true },
        duration: { type: 'string' },
        connections: { type: 'string' },
        warmup: { type: 'string' },
        rounds: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const only = (values.only ?? []).flatMap((v) => v.split(',')).map((v) => v.trim());
  if (only.some((p) => p === '')) throw new UsageError('--only needs a non-empty name prefix');
  return {
    only,
    duration: numberOption('duration', values.duration, defaultOptions.duration, { min: 1 }),
    connections: numberOption('connections', values.connections, defaultOptions.connections, {
      integer: true,
      min: 1,
    }),
    warmup: numberOption('warmup', values.warmup, defaultOptions.warmup, { min: 0 }),
    rounds: numberOption('rounds', values.rounds, defaultOptions.rounds, { integer: true, min: 1 }),
    help: values.help ?? false,
  };
}

/** What the registry needs to know about a scenario to check and select it. */
export interface Named {
  name: string;
  baseline: string | null;
}

/** Throws on registry mistakes a new entry could make, before anything is started. */
export function checkRegistry(entries: readonly Named[]): void {
  const names = new Set<string>();
  for (const e of entries) {
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(e.name))
      {throw new Error(`scenario name '${e.name}' must be lower-case letters, digits, '.', '_' or '-'`);}
    if (names.has(e.name)) throw new Error(`scenario '${e.name}' is registered twice`);
    names.add(e.name);
  }
  for (const e of entries) {
    if (e.baseline === null) continue;
    const base = entries.find((b) => b.name === e.baseline);
    if (!base) throw new Error(`scenario '${e.name}' names an unknown baseline '${e.baseline}'`);
    // One level only: a ratio always compares with a result that is itself a baseline.
    if (base.baseline !== null)
      {throw new Error(`scenario '${e.name}' has baseline '${base.name}', which is not a baseline itself`);}
  }
}

export function selectScenarios<T extends Named>(entries: readonly T[], only: readonly string[]): T[] {
  if (only.length === 0) return [...entries];
  const chosen = entries.filter((e) => only.some((prefix) => e.name.startsWith(prefix)));
  if (chosen.length === 0) {
    throw new UsageError(
      `--only ${only.join(',')} matches no result; the results are: ${entries.map((e) => e.name).join(', ')}`,
    );
  }
  return chosen;
}

/** Baselines the selected scenarios compare with that the selection leaves out. */
export function missingBaselines(selected: readonly Named[]): string[] {
  const names = new Set(selected.map((s) => s.name));
  return [
    ...new Set(selected.flatMap((s) => (s.baseline !== null && !names.has(s.baseline) ? [s.baseline] : []))),
  ];
}

export interface Measurement {
  name: string;
  baseline: string | null;
  ops_per_s: number;
  p50_ms: number;
  p99_ms: number;
  /** A scenario's own figures beyond the common columns (metering's charges_per_s, say). */
  extra?: Record<string, number | string | boolean | null>;
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The order of the results in a round: as listed in even rounds, reversed in odd ones. A result
 * that runs right after its baseline in one round runs right before it in the next, so whatever
 * a load leaves behind (autovacuum, a checkpoint, a cache warmed or evicted) falls on both sides.
 */
export function roundOrder(count: number, round: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  return round % 2 === 1 ? order.reverse() : order;
}

/**
 * One result from its rounds (each round's results in the listed order, whatever order they ran
 * in): the median of each figure, the rounds' ops/s kept as `rounds_ops_per_s`, and for a result
 * with a baseline the median of the per-round ratios (`paired_ratio`), each round's result divided
 * by its baseline of the same round, all of them kept as `rounds_ratio`.
 */
export function combineRounds(rounds: readonly (readonly Measurement[])[]): Measurement[] {
  if (rounds.length === 1) return [...rounds[0]!];
  const first = rounds[0]!;
  return first.map((m, i) => {
    const all = rounds.map((r) => r[i]!);
    // A result measured once for the whole run (metering) appears in every round as itself.
    if (all.every((r) => r === m)) return m;
    const extra: Record<string, number | string | boolean | null> = {};
    for (const key of Object.keys(m.extra ?? {})) {
      const values = all.map((r) => r.extra?.[key]);
      extra[key] = values.every((v) => typeof v === 'number') ? round(median(values), 1) : (values.at(-1) ?? null);
    }
    extra.rounds_ops_per_s = all.map((r) => r.ops_per_s.toFixed(0)).join('/');
    if (m.baseline !== null) {
      const j = first.findIndex((b) => b.name === m.baseline);
      if (j >= 0) {
        const ratios = rounds.map((r) => (r[j]!.ops_per_s > 0 ? r[i]!.ops_per_s / r[j]!.ops_per_s : 0));
        extra.paired_ratio = Number(median(ratios).toPrecision(3));
        extra.rounds_ratio = ratios.map((r) => r.toFixed(3)).join('/');
      }
    }
    return {
      name: m.name,
      baseline: m.baseline,
      ops_per_s: round(median(all.map((r) => r.ops_per_s)), 1),
      p50_ms: round(median(all.map((r) => r.p50_ms)), 2),
      p99_ms: round(median(all.map((r) => r.p99_ms)), 2),
      extra,
    };
  });
}

export interface BenchResult extends Omit<Measurement, 'extra'> {
  ratio: number | null;
  [figure: string]: number | string | boolean | null;
}

export type Engine = 'pglite' | 'postgres';

export interface BenchReport {
  engine: Engine;
  results: BenchResult[];
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * Ratio of each result's throughput to its baseline's from the same run: the machine's speed
 * divides out, so ratios can be compared between machines and runs where raw ops/s cannot. A
 * baseline gets null, and so does a result whose baseline was not measured in this run.
 */
export function withRatios(measurements: readonly Measurement[]): BenchResult[] {
  const byName = new Map(measurements.map((m) => [m.name, m]));
  return measurements.map((m) => {
    const base = m.baseline === null ? undefined : byName.get(m.baseline);
    // Three significant digits rather than places: a slow path's ratio can be well under 0.001.
    const paired = m.extra?.paired_ratio;
    const ratio =
      base && typeof paired === 'number' ? paired : base && base.ops_per_s > 0 ? Number((m.ops_per_s / base.ops_per_s).toPrecision(3)) : null;
    const { paired_ratio: _paired, ...extra } = m.extra ?? {};
    return {
      name: m.name,
      ops_per_s: m.ops_per_s,
      p50_ms: m.p50_ms,
      p99_ms: m.p99_ms,
      baseline: m.baseline,
      ratio,
      ...extra,
    };
  });
}

/** The subset of autocannon's result the bench reads. */
export interface LoadSummary {
  duration: number;
  requests: { total: number };
  latency: { p50: number; p99: number };
}

export function summarize(name: string, baseline: string | null, r: LoadSummary): Measurement {
  // Completed requests over the measured window rather than the mean of per-second samples,
  // which would drop a partial last second.
  const ops = r.duration > 0 ? r.requests.total / r.duration : 0;
  return { name, baseline, ops_per_s: round(ops, 1), p50_ms: r.latency.p50, p99_ms: r.latency.p99 };
}

/** A Markdown table, so the terminal output can be pasted into bench/README.md as it is. */
export function formatTable(report: BenchReport): string {
  const header = ['name', 'ops/s', 'p50 ms', 'p99 ms', 'baseline', 'ratio'];
  const numeric = [false, true, true, true, false, true];
  const rows = report.results.map((r) => [
    r.name,
    r.ops_per_s.toFixed(1),
    String(r.p50_ms),
    String(r.p99_ms),
    r.baseline ?? '-',
    r.ratio === null ? '-' : r.ratio.toPrecision(3),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const cell = (text: string, i: number) =>
    numeric[i] ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
  const line = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (numeric[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  const common = new Set(['name', 'ops_per_s', 'p50_ms', 'p99_ms', 'baseline', 'ratio']);
  const extras = report.results.flatMap((r) => {
    const figures = Object.entries(r).filter(([k]) => !common.has(k));
    return figures.length ? [`${r.name}: ${figures.map(([k, v]) => `${k}=${String(v)}`).join(', ')}`] : [];
  });
  return [`engine: ${report.engine}`, '', line(header), rule, ...rows.map(line), ...(extras.length ? ['', ...extras] : [])].join('\n');
}

/** The scratch database's URL: same server and credentials as `base`, another database name. */
export function scratchDatabaseUrl(base: string, name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unsafe database name '${name}'`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

/** The value at quantile q (0..1) of ascending samples: nearest rank, as autocannon reports. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}
