// How many runs a fast-check property makes: PTYB_FUZZ_RUNS (default 3000) scaled, always a whole number of at least 1.

const DEFAULT_RUNS = 3000;

/**
 * `PTYB_FUZZ_RUNS × scale`, rounded up. fast-check loops forever (synchronously: no test
 * timeout fires) when numRuns is not an integer, so every property's count comes from here
 * (test/unit/fuzz-runs.test.ts checks that none is computed by hand).
 */
export function fuzzRuns(scale = 1, env: string | undefined = process.env.PTYB_FUZZ_RUNS): number {
  const base = env === undefined || env === '' ? DEFAULT_RUNS : Number(env);
  if (!Number.isInteger(base) || base < 1) throw new Error(`PTYB_FUZZ_RUNS: expected a whole number of runs, at least 1, got "${env}"`);
  return Math.max(1, Math.ceil(base * scale));
}
