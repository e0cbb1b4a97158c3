/**
 * The `ALERTS_*` variables: one check, with one set of ranges, shared by `AlertManager.config`
 * (standalone use) and `NodeConfig.load` (a node's table). Unset (or blank) variables are left
 * undefined, so that the AlertManager's defaults apply; `sampleInterval` is in milliseconds.
 *
 * @internal
 */
import * as Env from "../../internal/envConfig.ts"
import type { AlertOptions } from "../AlertManager.ts"

/** The variables {@link check} reads, in the order of the table. */
export const names: ReadonlyArray<string> = [
  "ALERTS_ENABLED",
  "ALERTS_SENSITIVITY_MULTIPLIER",
  "ALERTS_MIN_SAMPLES",
  "ALERTS_COOLDOWN_MS",
  "ALERTS_SAMPLE_INTERVAL_MS"
]

/** A finite number greater than 0. */
const positiveNumber =
  (name: string) =>
  (value: string): Env.Checked<number> => {
    const n = Number(value)
    return value.trim() !== "" && Number.isFinite(n) && n > 0
      ? Env.ok(n)
      : Env.bad(name, `"${value}" is not a number > 0`)
  }

const unset = Env.ok(undefined)

/** Checks the `ALERTS_*` variables of `env`: the options they set, or every problem. */
export const check = (env: Env.Texts): Env.Checked<AlertOptions> => {
  const checked = Env.all({
    enabled: Env.read(env, "ALERTS_ENABLED", Env.boolean("ALERTS_ENABLED"), unset),
    sensitivityMultiplier: Env.read(
      env,
      "ALERTS_SENSITIVITY_MULTIPLIER",
      positiveNumber("ALERTS_SENSITIVITY_MULTIPLIER"),
      unset
    ),
    minSamples: Env.read(
      env,
      "ALERTS_MIN_SAMPLES",
      Env.integer("ALERTS_MIN_SAMPLES", 1, 1_000_000, "an integer from 1 to 1000000"),
      unset
    ),
    cooldownMs: Env.read(
      env,
      "ALERTS_COOLDOWN_MS",
      Env.integer("ALERTS_COOLDOWN_MS", 0, 86_400_000, "a number of milliseconds from 0 to 86400000"),
      unset
    ),
    sampleIntervalMs: Env.read(
      env,
      "ALERTS_SAMPLE_INTERVAL_MS",
      Env.integer("ALERTS_SAMPLE_INTERVAL_MS", 10, 3_600_000, "a number of milliseconds from 10 to 3600000"),
      unset
    )
  })
  if (!checked.ok) return checked
  const c = checked.value
  return Env.ok({
    enabled: c.enabled,
    sensitivityMultiplier: c.sensitivityMultiplier,
    minSamples: c.minSamples,
    cooldownMs: c.cooldownMs,
    sampleInterval: c.sampleIntervalMs
  })
}
