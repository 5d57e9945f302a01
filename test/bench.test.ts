import { describe, expect, it } from 'vitest';
import {
  checkRegistry,
  combineRounds,
  roundOrder,
  defaultOptions,
  formatTable,
  missingBaselines,
  parseBenchArgs,
  scratchDatabaseUrl,
  selectScenarios,
  summarize,
  UsageError,
  withRatios,
  type Measurement,
} from '../bench/lib.ts';
import { scenarios } from '../bench/scenarios.ts';

describe('bench arguments', () => {
  it('defaults to every result, 5 rounds of 5 s, 50 connections and a 2 s warm-up', () => {
    expect(parseBenchArgs([])).toEqual({ only: [], duration: 5, connections: 50, warmup: 2, rounds: 5, help: false });
    expect(defaultOptions).toMatchObject({ duration: 5, connections: 50, rounds: 5 });
  });

  it('reads every option, in either --name value or --name=value form', () => {
    expect(parseBenchArgs(['--only', 'me', '--duration=3', '--connections', '8', '--warmup', '0', '--rounds', '1'])).toEqual({
      only: ['me'],
      duration: 3,
      connections: 8,
      warmup: 0,
      rounds: 1,
      help: false,
    });
    expect(parseBenchArgs(['--duration', '2.5']).duration).toBe(2.5);
    expect(parseBenchArgs(['-h']).help).toBe(true);
  });

  it('takes several prefixes, repeated or comma-separated', () => {
    expect(parseBenchArgs(['--only', 'health,me', '--only', 'orders']).only).toEqual([
      'health',
      'me',
      'orders',
    ]);
  });

  it.each([
    [['--duration', '0']],
    [['--duration', 'ten']],
    [['--duration', '']],
    [['--connections', '2.5']],
    [['--connections', '0']],
    [['--warmup', '-1']],
    [['--rounds', '0']],
    [['--rounds', '1.5']],
    [['--only', '']],
    [['--only', 'me,']],
    [['--only']],
    [['--bogus']],
    [['me']],
  ])('rejects %j as a usage error', (argv) => {
    expect(() => parseBenchArgs(argv)).toThrow(UsageError);
  });
});

describe('bench selection', () => {
  const registry = [
    { name: 'health', baseline: null },
    { name: 'me', baseline: 'health' },
    { name: 'orders.list', baseline: 'health' },
    { name: 'orders.create', baseline: 'health' },
  ];

  it('runs everything without --only, and the results starting with a prefix with it, in registry order', () => {
    expect(selectScenarios(registry, []).map((s) => s.name)).toEqual([
      'health',
      'me',
      'orders.list',
      'orders.create',
    ]);
    expect(selectScenarios(registry, ['orders']).map((s) => s.name)).toEqual([
      'orders.list',
      'orders.create',
    ]);
    expect(selectScenarios(registry, ['me', 'health']).map((s) => s.name)).toEqual(['health', 'me']);
    expect(() => selectScenarios(registry, ['nope'])).toThrow(/matches no result.*health, me/);
  });

  it('names the baselines a selection leaves out', () => {
    expect(missingBaselines(selectScenarios(registry, ['orders']))).toEqual(['health']);
    expect(missingBaselines(selectScenarios(registry, ['health', 'orders']))).toEqual([]);
  });

  it('refuses duplicate names, unknown baselines and baselines that are not baselines', () => {
    expect(() => checkRegistry(registry)).not.toThrow();
    expect(() => checkRegistry([...registry, { name: 'me', baseline: null }])).toThrow(/twice/);
    expect(() => checkRegistry([{ name: 'me', baseline: 'health' }])).toThrow(/unknown baseline/);
    expect(() => checkRegistry([...registry, { name: 'deep', baseline: 'me' }])).toThrow(
      /not a baseline itself/,
    );
    expect(() => checkRegistry([{ name: 'Has Space', baseline: null }])).toThrow(/lower-case/);
  });

  it('keeps the shipped registry valid, with health as the baseline of me', () => {
    expect(() => checkRegistry(scenarios)).not.toThrow();
    expect(scenarios.map((s) => [s.name, s.baseline])).toEqual(
      expect.arrayContaining([
        ['health', null],
        ['me', 'health'],
      ]),
    );
  });
});

describe('bench results', () => {
  const m = (name: string, baseline: string | null, ops: number): Measurement => ({
    name,
    baseline,
    ops_per_s: ops,
    p50_ms: 2,
    p99_ms: 9,
  });

  it('divides each result by its baseline from the same run, and gives a baseline no ratio', () => {
    const results = withRatios([m('health', null, 20000), m('me', 'health', 5000), m('slow', 'health', 3)]);
    expect(results).toEqual([
      { name: 'health', ops_per_s: 20000, p50_ms: 2, p99_ms: 9, baseline: null, ratio: null },
      { name: 'me', ops_per_s: 5000, p50_ms: 2, p99_ms: 9, baseline: 'health', ratio: 0.25 },
      { name: 'slow', ops_per_s: 3, p50_ms: 2, p99_ms: 9, baseline: 'health', ratio: 0.00015 },
    ]);
    // The key order is the one latest.json documents.
    expect(Object.keys(results[0]!)).toEqual(['name', 'ops_per_s', 'p50_ms', 'p99_ms', 'baseline', 'ratio']);
  });

  it('combines interleaved rounds: medians of each figure, and the median of the per-round ratios', () => {
    const round = (base: number, app: number, cpu: number): Measurement[] => [
      m('raw', null, base),
      { ...m('app', 'raw', app), extra: { node_cpu_us_per_op: cpu } },
    ];
    // Round 2 is a slow spell of the machine: both sides drop, and the paired ratio stays put
    // where the ratio of medians would not (median app 800 / median raw 1000 = 0.8).
    const combined = combineRounds([round(1000, 900, 300), round(400, 360, 310), round(1100, 800, 500)]);
    expect(combined[0]).toMatchObject({ name: 'raw', ops_per_s: 1000, extra: { rounds_ops_per_s: '1000/400/1100' } });
    expect(combined[1]).toMatchObject({ name: 'app', ops_per_s: 800, extra: { node_cpu_us_per_op: 310, paired_ratio: 0.9, rounds_ratio: '0.900/0.900/0.727' } });
    const results = withRatios(combined);
    expect(results[1]).toMatchObject({ name: 'app', ratio: 0.9, rounds_ops_per_s: '900/360/800' });
    expect(results[1]).not.toHaveProperty('paired_ratio');
    // Odd rounds run the results in reverse, so neither side always follows the other.
    expect([0, 1, 2, 3].map((r) => roundOrder(3, r))).toEqual([[0, 1, 2], [2, 1, 0], [0, 1, 2], [2, 1, 0]]);
    // One round is the measurement itself; a result run once for the whole run stays as it was.
    const once = m('metering', null, 5000);
    expect(combineRounds([[once]])).toEqual([once]);
    expect(combineRounds([[once], [once], [once]])).toEqual([once]);
  });

  it('rounds ratios to three significant digits and leaves them null when the baseline was not measured', () => {
    expect(withRatios([m('health', null, 3000), m('me', 'health', 1000)])[1]!.ratio).toBe(0.333);
    expect(withRatios([m('me', 'health', 1000)])[0]!.ratio).toBeNull();
    expect(withRatios([m('health', null, 0), m('me', 'health', 1000)])[1]!.ratio).toBeNull();
  });

  it('counts completed requests over the measured seconds', () => {
    const summary = summarize('me', 'health', {
      duration: 10.01,
      requests: { total: 50050 },
      latency: { p50: 3, p99: 12 },
    });
    expect(summary).toEqual({ name: 'me', baseline: 'health', ops_per_s: 5000, p50_ms: 3, p99_ms: 12 });
  });

  it('prints an aligned Markdown table headed by the engine', () => {
    const table = formatTable({
      engine: 'postgres',
      results: withRatios([m('health', null, 16760.84), m('me', 'health', 230.7)]),
    });
    expect(table).toBe(
      [
        'engine: postgres',
        '',
        '| name   |   ops/s | p50 ms | p99 ms | baseline |  ratio |',
        '|--------|--------:|-------:|-------:|----------|-------:|',
        '| health | 16760.8 |      2 |      9 | -        |      - |',
        '| me     |   230.7 |      2 |      9 | health   | 0.0138 |',
      ].join('\n'),
    );
  });

  it('points the scratch database at the same server under another name', () => {
    expect(
      scratchDatabaseUrl('postgres://postgres:pw@127.0.0.1:5432/test?sslmode=disable', 'fanfare_bench_42'),
    ).toBe('postgres://postgres:pw@127.0.0.1:5432/fanfare_bench_42?sslmode=disable');
    expect(() => scratchDatabaseUrl('postgres://h/db', 'x; drop database test')).toThrow(/unsafe/);
  });
});
