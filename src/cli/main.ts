#!/usr/bin/env node
/**
 * The `effect-otp` command line: looks at a running node through its HTTP endpoint (the port of
 * `HEALTH_PORT`). `effect-otp status URL` (health, readiness and the node's view of the cluster),
 * `effect-otp nodes URL`, `effect-otp processes URL [--sort mailbox|busy] [--top N]`,
 * `effect-otp process URL PID`; readable tables by default, `--json` for scripts. When the node
 * cannot be reached, it says so on standard error and exits 1.
 *
 * @since 0.1.0
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { command } from "./internal/commands.ts"

command.pipe(Command.run({ version: "0.1.0" }), Effect.provide(NodeServices.layer), NodeRuntime.runMain)
