/**
 * The remote supervisor agent: a system GenServer registered on each node that opts in
 * (`RemoteSupervisor.layer`), which turns a child spec that crossed the wire (a behaviour's name and
 * its encoded start arguments) into a `ChildSpec.genServer` of the behaviour registered here, and
 * adds it to a local supervisor by name. Every other supervisor operation goes to the supervisor
 * itself (its requests are plain Schema values).
 *
 * @internal
 */
import { Context, Effect, Schema } from "effect"
import { NoProcess, RemoteDecodeError } from "../../Process/Errors.ts"
import * as GenServer from "../../Process/GenServer.ts"
import { Pid } from "../../Process/Pid.ts"
import * as Protocol from "../../Process/Protocol.ts"
import type { ProcessRuntime } from "../../Process/ProcessRuntime.ts"
import * as ChildSpec from "../../Supervisor/ChildSpec.ts"
import {
  ChildAlreadyPresent,
  ChildAlreadyStarted,
  ChildStartFailed,
  InvalidChildSpec
} from "../../Supervisor/Errors.ts"
import * as Supervisor from "../../Supervisor/Supervisor.ts"
import { type BehaviourRegistry, UnknownBehaviour } from "../BehaviourRegistry.ts"
import { describe } from "./protocolCodec.ts"

/** The name the agent is registered under on every node that runs it. */
export const agentName = "effect_otp_remote_supervisor"

/** A shutdown policy as it crosses the wire: a literal, or milliseconds. */
export const WireShutdown = Schema.Union([Schema.Literals(["brutal", "infinity"]), Schema.Number])

export const WireRestart = Schema.Literals(["permanent", "transient", "temporary"])

export const AgentProtocol = Protocol.make({
  StartChild: Protocol.call({
    payload: {
      supervisor: Schema.String,
      id: Schema.String,
      behaviour: Schema.String,
      args: Schema.Unknown,
      restart: Schema.optional(WireRestart),
      shutdown: Schema.optional(WireShutdown),
      name: Schema.optional(Schema.String)
    },
    success: Pid,
    error: Schema.Union([
      UnknownBehaviour,
      RemoteDecodeError,
      InvalidChildSpec,
      ChildAlreadyStarted,
      ChildAlreadyPresent,
      ChildStartFailed,
      NoProcess,
      GenServer.ServerExited
    ])
  })
})

type StartError =
  | UnknownBehaviour
  | RemoteDecodeError
  | InvalidChildSpec
  | ChildAlreadyStarted
  | ChildAlreadyPresent
  | ChildStartFailed
  | NoProcess
  | GenServer.ServerExited

/** The agent's behaviour, reading `registry` on its own node. */
export const agent = (registry: BehaviourRegistry["Service"], nodeName: string) =>
  GenServer.behaviour(AgentProtocol)({
    name: "remote_supervisor",
    init: () => Effect.succeed(undefined),
    handleCall: {
      StartChild: (request, state) => {
        const started = Effect.suspend((): Effect.Effect<Pid, StartError, ProcessRuntime> => {
          const registered = registry.get(request.behaviour)
          if (registered === undefined) {
            return Effect.fail(
              new UnknownBehaviour({
                node: nodeName,
                detail: `behaviour "${request.behaviour}" is not registered on ${nodeName}`
              })
            )
          }
          const decoded = Schema.decodeUnknownResult(registered.args)(request.args)
          if (decoded._tag === "Failure") {
            return Effect.fail(
              new RemoteDecodeError({
                node: nodeName,
                what: `start arguments of ${request.behaviour}`,
                detail: describe(decoded.failure)
              })
            )
          }
          const behaviour = registered.behaviour as GenServer.Behaviour<unknown, unknown, unknown, unknown>
          const spec = ChildSpec.genServer(request.id, behaviour, decoded.success, {
            restart: request.restart,
            shutdown: request.shutdown,
            ...(request.name === undefined ? {} : { name: request.name })
          })
          const add = Supervisor.startChild(request.supervisor, spec as ChildSpec.ChildSpec<ProcessRuntime>)
          // The child's start runs with the caller's context: the agent's, plus the services the
          // behaviour's registry entry was built with.
          return registered.services === undefined
            ? add
            : Effect.updateContext(add, (context: Context.Context<ProcessRuntime>) =>
                Context.merge(context, registered.services as Context.Context<never>)
              )
        })
        return Effect.map(started, (pid) => GenServer.reply(pid, state))
      }
    }
  })
