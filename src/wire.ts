/**
 * effect-otp's wire format, for people who build their own transport or speak the cluster protocol
 * from elsewhere (`import { Frame, Framing, Codec, Channel, DistributionFrame, Gossip, Heartbeat }
 * from "effect-otp/wire"`).
 *
 * Everyday code does not need this module: `Distribution.layer` and the TCP and in-memory
 * transports of the main entry point put frames on the wire for you. A transport of your own
 * carries frame bodies between two nodes in order; each body is one MessagePack value (`Codec`),
 * and on a byte stream each body is preceded by its length (`Framing`). Control frames (`Frame`)
 * open and close a link; data frames are `[channel, payload]` pairs whose payload is encoded by
 * the channel's Schema (`Channel`); distribution uses one such channel (`DistributionFrame`), and
 * membership two more (`Gossip`, the member list, and `Heartbeat`, liveness and load).
 *
 * These modules follow the cluster protocol (versions `Frame.minProtocolVersion` to
 * `Frame.protocolVersion`): two nodes link at the highest version both speak and refuse each
 * other in the handshake when they have none in common; within a version frames only grow (see
 * `Frame` for the rules a newer release keeps).
 *
 * @example
 * ```ts
 * import { Codec, Frame, Framing } from "effect-otp/wire"
 *
 * const codec = Codec.make()
 * const body = codec.encode(["otp.dist", { hello: "world" }])
 * const received: Array<unknown> = []
 * const decoder = new Framing.FrameDecoder(Framing.defaultMaxFrameBytes, (frame) => {
 *   received.push(codec.decode(frame))
 * }, (error) => console.error(error))
 * decoder.push(Framing.encodeFrames([body], body.length))
 * console.log(received, Frame.protocolVersion) // [["otp.dist", { hello: "world" }]] 2
 * ```
 *
 * @since 0.1.0
 */

/** The frames of the link protocol (handshake, goodbye, data) and their Schemas. @since 0.1.0 */
export * as Frame from "./Transport/Frame.ts"

/** Length-prefixed framing of frame bodies on a byte stream. @since 0.1.0 */
export * as Framing from "./Transport/Framing.ts"

/** The MessagePack codec of frame bodies. @since 0.1.0 */
export * as Codec from "./Transport/Codec.ts"

/** Typed channels: how upper layers put their own frame kinds on the wire. @since 0.1.0 */
export * as Channel from "./Transport/Channel.ts"

/** The frames of distribution (remote send, call, cast, signals, links, monitors, spawn). @since 0.1.0 */
export * as DistributionFrame from "./Cluster/DistributionFrame.ts"

/** The gossip channel of membership: the member list nodes exchange. @since 0.1.0 */
export * as Gossip from "./Cluster/Gossip.ts"

/** The heartbeat channel of membership and its failure-detection rule. @since 0.1.0 */
export * as Heartbeat from "./Cluster/Heartbeat.ts"
